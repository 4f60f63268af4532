package proxy

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
)

// flights collapses concurrent requests for one page into one origin
// request: the first becomes the leader and fetches, the others wait for its
// answer. It is what groupcache's singleflight does, with two things
// singleflight cannot give: the leader must know it leads (it alone owns the
// pooled request and response, and the health slot), and followers must get
// the answer only when it is a storable public copy of their own variant,
// else fetch for themselves. Safe for concurrent use.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight

	// solo lists pages whose answers turned out not to be shareable
	// (Set-Cookie, private, a type not kept): for a while their requests go
	// to the origin each on their own rather than queue behind a leader
	// whose answer they could not use (Varnish's hit-for-miss).
	solo     map[uint64]int64 // page hash → unix nanos until which it stays solo
	soloSeed maphash.Seed
}

// soloFor is how long a page whose answer could not be shared is not
// collapsed.
const soloFor = 30 * time.Second

// flight is one origin request that other requests may wait on.
type flight struct {
	done      chan struct{} // closed when res is set
	res       flightResult
	followers int // requests waiting on it; guarded by flights.mu until it leaves the map
}

// flightResult is what followers learn from the leader's fetch.
type flightResult struct {
	// copy is the answer as stored, when it was storable; followers whose
	// variant it is serve it as the origin's answer.
	copy *cache.Copy
	// failed: the origin failed (or the leader was not admitted); followers
	// serve the fallback.
	failed bool
	// status is the origin's status when it answered.
	status int
}

func newFlights() *flights {
	return &flights{m: map[string]*flight{}, solo: map[uint64]int64{}, soloSeed: maphash.MakeSeed()}
}

// join returns the flight for key and whether the caller leads it. A leader
// must call finish.
func (fs *flights) join(key []byte) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fl, ok := fs.m[string(key)]; ok {
		fl.followers++
		return fl, false
	}
	fl := &flight{done: make(chan struct{})}
	fs.m[string(key)] = fl
	return fl, true
}

// finish publishes the leader's result and ends the flight.
func (fs *flights) finish(key []byte, fl *flight, res flightResult) {
	fs.leave(key, fl)
	fl.publish(res)
}

// leave ends the flight for new requests and reports whether any follow
// it, so a leader builds a result only for someone. It must be followed by
// publish.
func (fs *flights) leave(key []byte, fl *flight) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.m[string(key)] == fl {
		delete(fs.m, string(key))
	}
	return fl.followers > 0
}

// publish hands res to the flight's followers.
func (fl *flight) publish(res flightResult) {
	fl.res = res
	close(fl.done)
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
	if len(fs.solo) > 100_000 {
		clear(fs.solo) // a bound, not a policy: it only costs some collapsing
	}
	fs.solo[h] = now.Add(soloFor).UnixNano()
}
