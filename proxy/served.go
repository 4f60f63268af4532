package proxy

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// servedChunkSites is how many sites one chunk of the served table counts.
const servedChunkSites = 1024

// servedChunk counts the answers of up to servedChunkSites sites, outcome
// by outcome: the stale answers of a thousand sites are 8 KB side by side.
type servedChunk [NumOutcomes + 1][servedChunkSites]atomic.Uint64

// shortCircuitedRow counts the requests the circuit kept from the origin
// that the site's health did not count (siteState.circuit): added to
// health.Stats.ShortCircuited.
const shortCircuitedRow = NumOutcomes

// servedTable holds every site's answers by outcome. Each site has a slot
// for as long as its counters live (they are carried over reloads); a
// request adds one to its site's slot.
//
// Why not a counter in each site's own memory: on a node with thousands of
// shops, each request is for another shop, and a counter of its own is one
// more line of memory to fetch from far away for every answer. Here the
// counters of one outcome for all sites fit in the processor's cache (80 KB
// for 10,000 sites), and an add touches memory that stays there. Sites
// whose slots share a line may contend when several cores count them at
// once, as one busy site's counter always did.
type servedTable struct {
	mu     sync.Mutex
	chunks []*servedChunk // only grows; a chunk, once made, stays
	free   []uint32       // slots of counters collected, zeroed
	next   uint32         // the first slot never handed out
}

// servedSlot is where a site's answers are counted.
type servedSlot struct {
	chunk *servedChunk
	i     uint32 // index into chunk
}

// answered counts an answer of the site: one atomic add on memory its
// state's first line points to.
func (st *siteState) answered(o Outcome) { st.served[o][st.slot].Add(1) }

// shortCircuited counts a request the circuit kept from the origin.
func (st *siteState) shortCircuited() { st.served[shortCircuitedRow][st.slot].Add(1) }

func (s servedSlot) shortCircuited() uint64 { return s.chunk[shortCircuitedRow][s.i].Load() }

func (s servedSlot) loadAll(out *[NumOutcomes]uint64) {
	for o := range out {
		out[o] = s.chunk[o][s.i].Load()
	}
}

// take gives c a slot, counting from zero, and returns it to the table
// once c is collected: no request can count on it any more by then (every
// request holds its site's state, which holds c).
func (t *servedTable) take(c *siteCounters) {
	t.mu.Lock()
	var n uint32
	if k := len(t.free); k > 0 {
		n, t.free = t.free[k-1], t.free[:k-1]
	} else {
		n = t.next
		t.next++
		if int(n/servedChunkSites) == len(t.chunks) {
			t.chunks = append(t.chunks, new(servedChunk))
		}
	}
	c.served = servedSlot{chunk: t.chunks[n/servedChunkSites], i: n % servedChunkSites}
	t.mu.Unlock()
	runtime.AddCleanup(c, t.release, n)
}

// release zeroes slot n and makes it free.
func (t *servedTable) release(n uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	chunk := t.chunks[n/servedChunkSites]
	for o := range chunk {
		chunk[o][n%servedChunkSites].Store(0)
	}
	t.free = append(t.free, n)
}

// inUse returns how many slots are held: for tests.
func (t *servedTable) inUse() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.next) - len(t.free)
}
