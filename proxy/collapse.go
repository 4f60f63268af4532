package proxy

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
)

// flights collapses concurrent requests for one page into one origin
// request: the first request of a flight leads and asks the origin, the
// others (followers) wait for what it kept. Only equals collapse: requests
// whose keys are storable (anonymous, no tracking parameter, no body, not
// let through maintenance) and equal. What a follower gets is the copy the
// leader stored or found unchanged, and only when it is the follower's own
// variant; otherwise it asks the origin alone. So a follower never gets an
// answer that was not storable for it, and a personal answer is never
// shared.
//
// It is Awning's own rather than golang.org/x/sync/singleflight, because
// the request path needs three things singleflight cannot give without a
// goroutine per flight: the leader runs the exchange in its own handler
// and may hand it to the background when fallback_after passes (the flight
// goes on until the copy is refreshed); followers stop waiting on their
// own terms (at fallback_after when they have a copy, when the origin is
// declared down) without a timer each, because the leader tells them when
// fallback_after passed (slow); and a flight without followers allocates
// nothing. Every flight ends: the leader's handler ends it in a deferred
// call (or hands it, with its fetch, to a background refresh or the store
// worker, which end it in theirs), so a leader that fails or panics never
// strands its page; a panic ends it failed (errPanicked), and followers
// get the fallback.
//
// It is safe for concurrent use.
type flights struct {
	seed maphash.Seed
	pool sync.Pool // *flight

	mu sync.Mutex
	m  map[uint64]*flight // by hash of the page's key; the key itself is compared
	// solo lists pages whose answers turned out not to be shareable
	// (Set-Cookie, private, a type not kept): for a while their requests go
	// to the origin each on their own rather than queue behind a leader
	// whose answer they could not use (Varnish's hit-for-miss).
	solo map[uint64]int64 // page hash → unix nanos until which it stays solo

	// joined counts the requests inside a flight now, leaders and
	// followers: what tests wait on to know a flight has its followers.
	joined atomic.Int64
}

// flight is one page's origin request and the requests waiting on it.
// Fields are guarded by flights.mu, except cp and err, which the leader
// writes before done is closed and followers read after.
type flight struct {
	hash uint64
	key  []byte
	// done and slow are made when the first follower joins, so that a
	// flight nobody follows (most of them) costs no allocation. done is
	// closed when the flight ends; slow when the leader passed
	// fallback_after.
	done, slow chan struct{}
	isSlow     bool
	ended      bool
	followers  int // followers still holding the flight
	cp         *cache.Copy
	err        error
}

// soloFor is how long a page whose answer could not be shared is not
// collapsed.
const soloFor = 30 * time.Second

// maxSolo bounds the solo map: a bound, not a policy (clearing it only
// costs some collapsing).
const maxSolo = 100_000

func newFlights() *flights {
	return &flights{seed: maphash.MakeSeed(), m: map[uint64]*flight{}, solo: map[uint64]int64{}}
}

// join returns the flight for key: a new one that the caller leads, or
// the one in progress, which the caller follows (and must leave). It
// returns nil when the page is solo now (or, rarely, another page's flight
// holds the slot): the caller asks alone.
func (fs *flights) join(key []byte, now time.Time) (fl *flight, leader bool) {
	h := maphash.Bytes(fs.seed, key)
	fs.mu.Lock()
	if len(fs.solo) > 0 {
		if until, ok := fs.solo[h]; ok {
			if now.UnixNano() <= until {
				fs.mu.Unlock()
				return nil, false
			}
			delete(fs.solo, h)
		}
	}
	if fl = fs.m[h]; fl != nil {
		if !bytes.Equal(fl.key, key) {
			fs.mu.Unlock()
			return nil, false
		}
		if fl.done == nil {
			fl.done, fl.slow = make(chan struct{}), make(chan struct{})
			if fl.isSlow {
				close(fl.slow)
			}
		}
		fl.followers++
		fs.mu.Unlock()
		fs.joined.Add(1)
		return fl, false
	}
	if v := fs.pool.Get(); v != nil {
		fl = v.(*flight)
	} else {
		fl = &flight{}
	}
	fl.hash, fl.key = h, append(fl.key[:0], key...)
	fs.m[h] = fl
	fs.mu.Unlock()
	fs.joined.Add(1)
	return fl, true
}

// slowed tells fl's followers that its leader passed fallback_after:
// those with a copy stop waiting.
func (fs *flights) slowed(fl *flight) {
	fs.mu.Lock()
	if !fl.isSlow {
		fl.isSlow = true
		if fl.slow != nil {
			close(fl.slow)
		}
	}
	fs.mu.Unlock()
}

// detach stops fl from taking new followers: its exchange is over, and a
// request that comes now asks anew (finding the copy, if one is being
// stored, in the cache). Those already waiting still get end's result.
func (fs *flights) detach(fl *flight) {
	fs.mu.Lock()
	if fs.m[fl.hash] == fl {
		delete(fs.m, fl.hash)
	}
	fs.mu.Unlock()
}

// end ends fl with its result: the copy its leader stored or validated,
// or nil with err when the leader got no answer its followers may have
// (or nil, nil when the answer was not shareable).
func (fs *flights) end(fl *flight, cp *cache.Copy, err error) {
	fl.cp, fl.err = cp, err
	fs.mu.Lock()
	if fs.m[fl.hash] == fl {
		delete(fs.m, fl.hash)
	}
	fl.ended = true
	if fl.done != nil {
		close(fl.done)
	}
	free := fl.followers == 0
	fs.mu.Unlock()
	fs.joined.Add(-1)
	if free {
		fs.recycle(fl)
	}
}

// wait waits, as a follower, for fl to end, for its leader to pass
// fallback_after when the follower has a copy to serve instead (slowed),
// or for the origin to be declared down (released). It leaves fl.
func (fs *flights) wait(fl *flight, hasCopy bool, down <-chan struct{}) (cp *cache.Copy, slowed, released bool, err error) {
	var slow <-chan struct{}
	if hasCopy {
		slow = fl.slow
	}
	select {
	case <-fl.done:
		cp, err = fl.cp, fl.err
	case <-slow:
		slowed = true
	case <-down:
		released = true
	}
	fs.mu.Lock()
	fl.followers--
	free := fl.ended && fl.followers == 0
	fs.mu.Unlock()
	fs.joined.Add(-1)
	if free {
		fs.recycle(fl)
	}
	return cp, slowed, released, err
}

func (fs *flights) recycle(fl *flight) {
	fl.done, fl.slow, fl.cp, fl.err = nil, nil, nil, nil
	fl.isSlow, fl.ended, fl.followers = false, false, 0
	fs.pool.Put(fl)
}

// markSolo stops collapsing key's requests for soloFor.
func (fs *flights) markSolo(key []byte, now time.Time) {
	h := maphash.Bytes(fs.seed, key)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.solo) >= maxSolo {
		clear(fs.solo)
	}
	fs.solo[h] = now.Add(soloFor).UnixNano()
}
