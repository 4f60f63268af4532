package health

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// hangWatch declares a site's origins down when its exchanges wait
// hang_after and not one exchange with the origin ended meanwhile: an
// origin that accepts connections and never answers (a hung database) is
// known down then, without waiting for origin timeouts to pile up into
// passive_failures, and without a probe path. While exchanges end, however
// slowly, the origin answers, and slowness is for slow_after to judge.
//
// Only browsing counts (Site.Begin and End around GET and HEAD exchanges):
// an order may wait on a payment provider for longer, and write_timeout is
// there for it.
//
// One timer per site, armed by the first exchange that finds it idle;
// Begin and End are a few atomic operations. It measures real time, like
// the network deadlines it stands beside.
type hangWatch struct {
	after    time.Duration
	site     *Site
	busy     atomic.Int64 // watched exchanges going on
	progress atomic.Int64 // unix nanos: the last end of one, or the start of one when none was going
	armed    atomic.Bool

	mu     sync.Mutex
	timer  *time.Timer
	closed bool

	declared atomic.Uint64 // times it declared the origin down
}

// Begin starts a watched exchange (a GET or HEAD) with the site's origin;
// End must follow.
func (s *Site) Begin() {
	h := &s.hang
	if h.after <= 0 {
		return
	}
	if h.busy.Add(1) == 1 {
		h.progress.Store(time.Now().UnixNano())
	}
	if !h.armed.Load() {
		h.arm(h.after)
	}
}

// End ends a watched exchange, whatever came of it.
func (s *Site) End() {
	h := &s.hang
	if h.after <= 0 {
		return
	}
	h.progress.Store(time.Now().UnixNano())
	h.busy.Add(-1)
}

func (h *hangWatch) arm(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || !h.armed.CompareAndSwap(false, true) {
		return
	}
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.check)
	} else {
		h.timer.Reset(d)
	}
}

// check runs when the timer fires: it declares the origin down when
// exchanges have waited hang_after with none ending, and otherwise sleeps
// until the oldest wait could reach it.
func (h *hangWatch) check() {
	defer func() {
		if v := recover(); v != nil {
			h.site.log.Error("hang watch panicked", "site", h.site.name, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	h.armed.Store(false)
	if h.busy.Load() <= 0 {
		return // idle: the next exchange arms it again
	}
	quiet := time.Duration(time.Now().UnixNano() - h.progress.Load())
	if quiet < h.after {
		h.arm(h.after - quiet)
		return
	}
	h.declared.Add(1)
	reason := "no answer for " + quiet.Truncate(time.Millisecond).String()
	for i := range h.site.origins {
		h.site.Report(i, Result{Failed: true, Reason: reason, Fatal: true})
	}
	// Stay watchful: should the origin be forced back into use, the next
	// quiet spell is measured from now.
	h.progress.Store(time.Now().UnixNano())
	h.arm(h.after)
}

func (h *hangWatch) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
	}
}
