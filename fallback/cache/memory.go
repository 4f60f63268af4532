package cache

import (
	"bytes"
	"hash/maphash"
	"math"
	"slices"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/valyala/fasthttp"
)

// maxVariants bounds the variants kept per page (answers that Vary on a
// request header); the oldest goes first.
const maxVariants = 4

// entry is everything stored for one primary key: the variants of one page.
// Its fields are guarded by the owning memory's mutex; the Copies it holds
// are immutable.
type entry struct {
	primary  []byte
	variants []*Copy
	size     int64
}

// memory is the in-memory tier: an LRU of entries bounded by bytes, not by
// count, since one product page weighs what a hundred icons do. It is not
// safe for concurrent use: Cache holds the lock, together with the byte
// count and counters (the groupcache shape: lru inside cache).
//
// Entries are found by a seeded 64-bit hash of the primary key, so a lookup
// hashes the key bytes in place instead of building a string; the full key
// is compared on every hit, so a collision is a miss, never a wrong page.
type memory struct {
	lru   *simplelru.LRU[uint64, *entry]
	seed  maphash.Seed
	bytes int64
	max   int64
}

func newMemory(max int64) *memory {
	lru, _ := simplelru.NewLRU[uint64, *entry](math.MaxInt32, nil) // bounded by bytes below
	return &memory{lru: lru, seed: maphash.MakeSeed(), max: max}
}

func (m *memory) hash(primary []byte) uint64 { return maphash.Bytes(m.seed, primary) }

// get returns the entry for primary and marks it recently used.
func (m *memory) get(primary []byte) *entry {
	e, ok := m.lru.Get(m.hash(primary))
	if !ok || !bytes.Equal(e.primary, primary) {
		return nil
	}
	return e
}

// variant returns the entry for k and its copy for req (nil when none
// matches), marking the entry recently used.
func (m *memory) variant(k *Key, req *fasthttp.Request) (*entry, *Copy) {
	e := m.get(k.Primary)
	if e == nil {
		return nil, nil
	}
	for _, v := range e.variants {
		if v.matches(req, k.Lang) {
			return e, v
		}
	}
	return e, nil
}

// copySize is what a copy costs in memory: its bodies and headers.
func copySize(c *Copy) int64 {
	n := int64(len(c.Body) + len(c.ContentType) + 256)
	for _, h := range c.Header {
		n += int64(len(h[0]) + len(h[1]))
	}
	return n
}

// put stores c as a variant of primary, replacing the variant with the same
// Vary values, and evicts least recently used entries until the tier fits.
// It returns the copy c replaced (or nil) and the entries evicted, which the
// caller handles outside the lock.
func (m *memory) put(primary []byte, c *Copy) (replaced *Copy, evicted []*entry) {
	h := m.hash(primary)
	e, ok := m.lru.Get(h)
	if ok && !bytes.Equal(e.primary, primary) {
		m.remove(h, e) // a hash collision: the newer page wins the slot
		ok = false
	}
	if !ok {
		e = &entry{primary: append([]byte(nil), primary...)}
		m.lru.Add(h, e)
	}
	if len(e.variants) > 0 && !slices.Equal(e.variants[0].Vary, c.Vary) {
		for _, v := range e.variants { // the page now varies differently: start over
			m.bytes -= copySize(v)
			e.size -= copySize(v)
		}
		e.variants = e.variants[:0]
	}
	size := copySize(c)
	for i, v := range e.variants {
		if slices.Equal(v.VaryValues, c.VaryValues) {
			replaced = v
			e.variants[i] = c
			m.bytes += size - copySize(v)
			e.size += size - copySize(v)
			return replaced, m.evict()
		}
	}
	if len(e.variants) == maxVariants {
		m.bytes -= copySize(e.variants[0])
		e.size -= copySize(e.variants[0])
		e.variants = append(e.variants[:0], e.variants[1:]...)
	}
	e.variants = append(e.variants, c)
	m.bytes += size
	e.size += size
	return nil, m.evict()
}

// evict drops least recently used entries until the tier fits max.
func (m *memory) evict() (evicted []*entry) {
	for m.bytes > m.max {
		_, e, ok := m.lru.RemoveOldest()
		if !ok {
			break
		}
		m.bytes -= e.size
		evicted = append(evicted, e)
	}
	return evicted
}

func (m *memory) remove(h uint64, e *entry) {
	m.lru.Remove(h)
	m.bytes -= e.size
}

// drop removes the variant c of primary (an expired copy).
func (m *memory) drop(primary []byte, c *Copy) {
	h := m.hash(primary)
	e := m.get(primary)
	if e == nil {
		return
	}
	for i, v := range e.variants {
		if v == c {
			e.variants = append(e.variants[:i], e.variants[i+1:]...)
			m.bytes -= copySize(c)
			e.size -= copySize(c)
			break
		}
	}
	if len(e.variants) == 0 {
		m.remove(h, e)
	}
}
