package sites

import (
	"hash/maphash"
	"math/bits"
	"unsafe"

	"github.com/awningproxy/awning/internal/prefetch"
)

// Table maps hosts to a per-site value of the caller's (a proxy's site
// state), for the request path. A node with thousands of sites serves a
// different shop on nearly every request, so what the lookup touches is
// cold memory each time: Registry's map is a hash, a probe of a control
// group, the key's bytes elsewhere, the *Site, then the caller's slice by
// Index and its element. A Table is open-addressed: an array of the hosts'
// hashes, 8 bytes each (a probe sequence reads one or two lines of it, and
// the whole array of a node with 20,000 hosts is 256 KB), and beside it an
// array of slots, each with the value and the host's name itself (up to
// 47 bytes). A lookup hashes the canonical host and starts fetching the
// host's home slot at once, while it probes the hashes: most hosts are in
// their home slot (about 70% in a table two thirds full), so the two trips
// to memory overlap. It compares the name's bytes in the slot whose hash
// matches (a hash collision is a miss, never another shop) and returns
// the value.
//
// The value is kept in the slot itself, beside the name, so that what the
// caller reads first of a site comes with the lookup: the caller sizes it
// so that a slot is whole cache lines (SlotSize).
//
// A Table's hosts are fixed once built; its values are the caller's to
// change in place (with atomics: lookups read them concurrently). Its zero
// value is empty.
type Table[V any] struct {
	seed   maphash.Seed
	hashes []uint64 // of each slot's host; 0 for an empty slot (a hash of 0 is stored as 1)
	slots  []tableSlot[V]
	mask   uint64
	// long are the hosts longer than a slot holds, by slot index.
	long map[uint64]string
}

// tableSlot is the value and 48 bytes: whole cache lines for a value of
// 16, 80, 144 … bytes, as the slots are laid out (a large array starts on
// a page).
type tableSlot[V any] struct {
	val V
	// n is the host's length when it is in name; longHost when it is
	// in Table.long.
	n    uint8
	name [inlineHost]byte
}

// SlotSize is the size of a Table[V]'s slot: V and 48 bytes of host name.
// A caller sizes V so that a slot is whole cache lines (V of 16, 80, 144 …
// bytes).
func SlotSize[V any]() uintptr { return unsafe.Sizeof(tableSlot[V]{}) }

const (
	inlineHost = 47
	longHost   = 255
)

// NewTable builds the table of r's hosts. set fills in the value of a
// host of a site, once for each host; a site it returns false for (for
// its first host) is left out: Lookup finds none of its hosts.
func NewTable[V any](r *Registry, set func(*Site, *V) bool) *Table[V] {
	n := 0
	for _, s := range r.sites {
		n += len(s.Hosts)
	}
	// At most two thirds full: with linear probing a hit reads 1.5
	// hashes on average.
	size := 1 << bits.Len(uint(max(n+n/2, 1)))
	t := &Table[V]{seed: maphash.MakeSeed(), hashes: make([]uint64, size), slots: make([]tableSlot[V], size), mask: uint64(size - 1)}
	for _, s := range r.sites {
		for _, h := range s.Hosts {
			hash := t.hash(h)
			i := hash & t.mask
			for t.hashes[i] != 0 {
				i = (i + 1) & t.mask
			}
			slot := &t.slots[i]
			if !set(s, &slot.val) {
				break // left out (the site's first host: nothing was taken)
			}
			t.hashes[i] = hash
			if len(h) <= inlineHost {
				slot.n = uint8(copy(slot.name[:], h))
				continue
			}
			slot.n = longHost
			if t.long == nil {
				t.long = map[uint64]string{}
			}
			t.long[i] = h
		}
	}
	return t
}

func (t *Table[V]) hash(host string) uint64 {
	if h := maphash.String(t.seed, host); h != 0 {
		return h
	}
	return 1
}

// Lookup returns the value of the site serving host, a raw Host header or
// SNI name, in its slot, or nil when host is invalid or unknown. It does
// not allocate.
func (t *Table[V]) Lookup(host []byte) *V {
	if len(t.slots) == 0 {
		return nil
	}
	var buf [MaxHostLen + 8]byte
	c, ok := AppendCanonical(buf[:0], host)
	if !ok {
		return nil
	}
	hash := maphash.Bytes(t.seed, c)
	if hash == 0 {
		hash = 1
	}
	i := hash & t.mask
	// Most hosts are in their home slot: fetch its lines while the hash is
	// compared, not after.
	home := unsafe.Pointer(&t.slots[i])
	for off := uintptr(0); off < unsafe.Sizeof(t.slots[0]); off += 64 {
		prefetch.Line(unsafe.Add(home, off))
	}
	for ; ; i = (i + 1) & t.mask {
		switch t.hashes[i] {
		case 0:
			return nil
		case hash:
		default:
			continue
		}
		s := &t.slots[i]
		if s.n == longHost {
			if t.long[i] == string(c) {
				return &s.val
			}
		} else if string(s.name[:s.n]) == string(c) {
			return &s.val
		}
	}
}
