package proxy

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// flights collapses concurrent requests for one page into one origin
// request, with golang.org/x/sync/singleflight: the first request of a
// flight leads and fetches, the others wait for its result. Only equals
// collapse: requests whose keys are storable (anonymous, no tracking
// parameter, no body, not let through maintenance) and equal. What a
// follower gets is the copy the leader stored, and only when it is the
// follower's own variant; otherwise it fetches alone. So a follower never
// gets an answer that was not storable for it, and a personal answer is
// never shared.
//
// Every flight runs in Group.Do inside the goroutine of a fetch (fetch.go),
// so the handler waiting on that fetch gives up on its own timer (the
// origin timeout, or fallback_after when a copy can answer) however long a
// flight takes. singleflight ends a flight in a defer, so a leader that
// fails or panics never strands its page; the leader's function recovers
// its own panic, so followers get a failure, not the panic.
//
// It is safe for concurrent use.
type flights struct {
	group singleflight.Group
	// joined counts the requests inside a flight now, leaders and
	// followers: what tests wait on to know a flight has its followers.
	joined atomic.Int64

	// solo lists pages whose answers turned out not to be shareable
	// (Set-Cookie, private, a type not kept): for a while their requests go
	// to the origin each on their own rather than queue behind a leader
	// whose answer they could not use (Varnish's hit-for-miss).
	mu       sync.Mutex
	solo     map[uint64]int64 // page hash → unix nanos until which it stays solo
	soloSeed maphash.Seed
}

// soloFor is how long a page whose answer could not be shared is not
// collapsed.
const soloFor = 30 * time.Second

// maxSolo bounds the solo map: a bound, not a policy (clearing it only
// costs some collapsing).
const maxSolo = 100_000

func newFlights() *flights {
	return &flights{solo: map[uint64]int64{}, soloSeed: maphash.MakeSeed()}
}

// isSolo reports whether key's requests should not be collapsed now.
func (fs *flights) isSolo(key []byte, now time.Time) bool {
	h := maphash.Bytes(fs.soloSeed, key)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	until, ok := fs.solo[h]
	if ok && now.UnixNano() > until {
		delete(fs.solo, h)
		return false
	}
	return ok
}

// markSolo stops collapsing key's requests for soloFor.
func (fs *flights) markSolo(key []byte, now time.Time) {
	h := maphash.Bytes(fs.soloSeed, key)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.solo) >= maxSolo {
		clear(fs.solo)
	}
	fs.solo[h] = now.Add(soloFor).UnixNano()
}
