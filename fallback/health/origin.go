package health

import (
	"sync"
	"sync/atomic"
	"time"
)

// State is what is known of one origin.
type State int32

const (
	// Up: the origin answers.
	Up State = iota
	// Degraded: the origin answers, but most answers are slower than
	// slow_after. It is used only when no origin is up.
	Degraded
	// Down: the origin fails; it gets no shopper traffic until probes see
	// it rise.
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Degraded:
		return "degraded"
	case Down:
		return "down"
	}
	return "unknown"
}

// Result is the outcome of one exchange with an origin.
type Result struct {
	// Failed: refused, reset, timed out, malformed, or a 5xx/52x status.
	Failed bool
	// Reason names the failure ("timeout", "refused", "status 502").
	Reason string
	// Latency is how long the exchange took.
	Latency time.Duration
	// Fatal: the failure alone puts the origin down, whatever
	// passive_failures says (exchanges waited hang_after unanswered).
	Fatal bool
}

// bucket counts live answers in one second of the sliding window.
type bucket struct {
	sec                 int64
	total, failed, slow uint32
}

// originState is what one site knows of one of its origin URLs: its own
// passive signal (the site's live answers, and its own recovery probes),
// and the shared active signal of the endpoint the URL is probed through.
// Its effective state is Down when either says down, else the passive
// state (Up or Degraded).
//
// Fields under mu are guarded by it: Report is called on every request,
// but for one origin at a time and for nanoseconds, so a mutex beats
// juggling atomics. Lock order: an endpoint's mu is never held while
// taking an originState's.
type originState struct {
	site *Site
	i    int // index in site.origins
	url  string
	ep   *Endpoint // nil without a Prober: passive only
	cur  atomic.Int32

	mu          sync.Mutex
	passive     State  // from live answers and the site's own recovery probes
	passiveWhy  string // why passive is what it is
	passiveAt   time.Time
	eff         State // the effective state, as last announced
	reason      string
	since       time.Time
	probeOK     int // the site's own recovery probes that succeeded in a row
	passiveFail int // live failures in a row
	window      []bucket
}

// params are the thresholds of one site, from config.
type params struct {
	rise            int
	passiveFailures int
	errorRatio      float64
	minRequests     int
	slowAfter       time.Duration
}

// recordLocked adds a live answer to the window and returns the window's
// totals.
func (o *originState) recordLocked(now time.Time, failed, slow bool) (total, nFailed, nSlow uint32) {
	sec := now.Unix()
	b := &o.window[sec%int64(len(o.window))]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	b.total++
	if failed {
		b.failed++
	}
	if slow {
		b.slow++
	}
	oldest := sec - int64(len(o.window)) + 1
	for i := range o.window {
		if w := &o.window[i]; w.sec >= oldest {
			total += w.total
			nFailed += w.failed
			nSlow += w.slow
		}
	}
	return total, nFailed, nSlow
}

// transition is a change of an origin's effective state, reported outside
// the lock.
type transition struct {
	from, to State
	reason   string
	shared   bool // caused by the shared endpoint, not the site's own signal
}

// passiveReport applies a live answer and returns the change of effective
// state it caused, and whether the passive state fell to Down (the
// endpoint then runs this site's recovery probes).
func (o *originState) passiveReport(p *params, now time.Time, r Result) (t transition, changed, fell bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	slow := !r.Failed && r.Latency > p.slowAfter
	total, failed, nSlow := o.recordLocked(now, r.Failed, slow)
	if r.Failed {
		o.passiveFail++
	} else {
		o.passiveFail = 0
	}
	switch from := o.passive; {
	case from == Down:
		// Only probes bring an origin back: a stray live answer (from the
		// force-off override) proves little.
		return transition{}, false, false
	case r.Failed && (r.Fatal || o.passiveFail >= p.passiveFailures):
		o.setPassiveLocked(Down, r.Reason, now)
		fell = true
	case r.Failed && total >= uint32(p.minRequests) && float64(failed) >= p.errorRatio*float64(total):
		o.setPassiveLocked(Down, "error ratio: "+r.Reason, now)
		fell = true
	case from == Up && total >= uint32(p.minRequests) && nSlow*2 > total:
		o.setPassiveLocked(Degraded, "slower than slow_after", now)
	case from == Degraded && nSlow*5 < total:
		o.setPassiveLocked(Up, "fast again", now)
	default:
		return transition{}, false, false
	}
	t, changed = o.settleLocked(now, false)
	return t, changed, fell
}

// recoveryProbe applies the result of one of the site's own recovery
// probes (sent while its passive state is Down): rise successes in a row
// bring it back up.
func (o *originState) recoveryProbe(p *params, now time.Time, r Result) (transition, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.passive != Down {
		return transition{}, false
	}
	if r.Failed {
		o.probeOK = 0
		return transition{}, false
	}
	o.probeOK++
	if o.probeOK < p.rise {
		return transition{}, false
	}
	o.clearPassiveLocked("probe succeeded", now)
	return o.settleLocked(now, false)
}

// endpointRose clears the passive state after the shared endpoint came
// back: the outage that put this site's origin down was most likely the
// platform's, and a shop still broken trips again on its own answers.
func (o *originState) endpointRose(now time.Time) (transition, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.passive == Down {
		o.clearPassiveLocked("probe succeeded", now)
	}
	return o.settleLocked(now, true)
}

// endpointChanged recomputes the effective state after the shared
// endpoint changed.
func (o *originState) endpointChanged(now time.Time) (transition, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.settleLocked(now, true)
}

func (o *originState) setPassiveLocked(to State, why string, now time.Time) {
	o.passive, o.passiveWhy, o.passiveAt = to, why, now
	if to == Down {
		o.probeOK = 0
	}
}

func (o *originState) clearPassiveLocked(why string, now time.Time) {
	o.setPassiveLocked(Up, why, now)
	o.passiveFail, o.probeOK = 0, 0
	clear(o.window) // old failures must not trip it again at once
}

// settleLocked computes the effective state from the endpoint's and the
// passive one, and returns the change, if any.
func (o *originState) settleLocked(now time.Time, shared bool) (transition, bool) {
	to, why := o.passive, o.passiveWhy
	if o.ep != nil {
		if st, epWhy := o.ep.verdict(); st == Down {
			to, why = Down, epWhy
			shared = true
		}
	}
	if to == o.eff {
		return transition{}, false
	}
	t := transition{from: o.eff, to: to, reason: why, shared: shared}
	o.eff, o.reason, o.since = to, why, now
	o.cur.Store(int32(to))
	return t, true
}

// carry takes over what prev (the same URL before a reload) knew.
func (o *originState) carry(prev *originState) {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	o.passive, o.passiveWhy, o.passiveAt = prev.passive, prev.passiveWhy, prev.passiveAt
	o.eff, o.reason, o.since = prev.eff, prev.reason, prev.since
	o.cur.Store(int32(o.eff))
}

func (o *originState) get() (State, string, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.eff, o.reason, o.since
}

func (o *originState) passiveDown() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.passive == Down
}
