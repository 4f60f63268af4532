package proxy

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/prefetch"
)

// servedChunkSites is how many sites one chunk of the served table counts.
const servedChunkSites = 1024

// servedChunk counts the answers of up to servedChunkSites sites, row by
// row: the answers of each outcome, then those of each outcome the site's
// circuit kept from the origin (notAskedRow + outcome), so that such an
// answer is one add. A row of a thousand sites is 8 KB side by side.
//
// Beside the counts is each site's circuit: what its health's Closed
// answers (health.Config.Circuit), 4 KB for a thousand sites, so that a
// request the circuit keeps from the origin reads it from memory that
// stays in the processor's cache, not from the site's state.
type servedChunk struct {
	rows    [2 * NumOutcomes][servedChunkSites]atomic.Uint64
	circuit [servedChunkSites]atomic.Int32
}

// notAskedRow is where the rows of answers the circuit kept from the
// origin begin: Served counts them with their outcome, and health's
// short-circuited count adds them up.
const notAskedRow = NumOutcomes

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

// servedSlot is where a site's answers are counted, and its circuit
// kept.
type servedSlot struct {
	chunk *servedChunk
	i     uint32 // index into chunk
}

// answered counts an answer of the site: one atomic add.
func (s servedSlot) answered(o Outcome) { s.chunk.rows[o][s.i].Add(1) }

// answeredNotAsked counts an answer given without asking the origin when
// notAsked: the circuit kept the request from it. One add either way (an
// answer's count is one more line of memory per request on a node with
// thousands of shops, where it is seldom in cache).
func (s servedSlot) answeredNotAsked(o Outcome, notAsked bool) { s.counter(o, notAsked).Add(1) }

// prefetch starts fetching the counter answeredNotAsked(o, notAsked)
// will add to, for a request that knows early what its answer will be.
func (s servedSlot) prefetch(o Outcome, notAsked bool) {
	prefetch.Line(unsafe.Pointer(s.counter(o, notAsked)))
}

// counter is the count of answers of outcome o, given without asking the
// origin when notAsked.
func (s servedSlot) counter(o Outcome, notAsked bool) *atomic.Uint64 {
	if notAsked {
		o += notAskedRow
	}
	return &s.chunk.rows[o][s.i]
}

// circuit is what the site's health.Closed answers now (Config.Circuit).
func (s servedSlot) circuit() health.Admission { return health.Admission(s.chunk.circuit[s.i].Load()) }

// loadAll reads the site's answers by outcome, and returns how many of
// them the circuit kept from the origin.
func (s servedSlot) loadAll(out *[NumOutcomes]uint64) (notAsked uint64) {
	for o := range out {
		n := s.chunk.rows[int(notAskedRow)+o][s.i].Load()
		out[o] = s.chunk.rows[o][s.i].Load() + n
		notAsked += n
	}
	return notAsked
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
	chunk, i := t.chunks[n/servedChunkSites], n%servedChunkSites
	for o := range chunk.rows {
		chunk.rows[o][i].Store(0)
	}
	chunk.circuit[i].Store(0)
	t.free = append(t.free, n)
}

// inUse returns how many slots are held: for tests.
func (t *servedTable) inUse() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.next) - len(t.free)
}
