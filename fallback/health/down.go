package health

import (
	"sync"
	"sync/atomic"
)

// downSignal tells the requests waiting on a site's origin that it was
// just declared down: each takes the current channel before it looks at
// the circuit (Site.Down), and every channel taken so far is closed at
// once when the circuit trips or ops force the fallback. So a shopper
// waiting for a page without a copy gets the outage page at that moment,
// not when the origin timeout runs out. The zero value is not ready; init
// it.
type downSignal struct {
	mu sync.Mutex // serializes fire
	ch atomic.Pointer[chan struct{}]
}

func (d *downSignal) init() {
	ch := make(chan struct{})
	d.ch.Store(&ch)
}

// wait returns the channel the next fire closes. It does not allocate.
func (d *downSignal) wait() <-chan struct{} { return *d.ch.Load() }

// fire closes the channel every waiter holds and starts a new one.
func (d *downSignal) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := make(chan struct{})
	close(*d.ch.Swap(&ch))
}

// Down returns a channel that is closed when the site's origin is next
// declared down: its circuit trips (every origin down), or ops force the
// fallback. A request that will wait on the origin takes it before it asks
// Closed or Admit, so that a trip in between is not missed, and selects on
// it while it waits. It does not allocate.
func (s *Site) Down() <-chan struct{} { return s.down.wait() }

// downFired releases the requests waiting on the origin, and counts it
// (Stats.Downs).
func (s *Site) downFired() {
	s.downs.Add(1)
	s.down.fire()
}
