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

// originState is what is known of one origin URL. All fields are guarded by
// mu: Report is called on every request, but for one origin at a time and
// for nanoseconds, so a mutex beats juggling atomics.
type originState struct {
	url string
	cur atomic.Int32 // state, readable without mu on the request path

	mu          sync.Mutex
	state       State
	reason      string
	since       time.Time
	probeOK     int // probe successes in a row
	probeFail   int // probe failures in a row
	passiveFail int // live failures in a row
	window      []bucket
}

// params are the thresholds of one site, from config.
type params struct {
	rise, fall      int
	passiveFailures int
	errorRatio      float64
	minRequests     int
	slowAfter       time.Duration
}

// record adds a live answer to the window and returns the window's totals.
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

// transition is a state change, reported outside the lock.
type transition struct {
	from, to State
	reason   string
}

// passive applies a live answer and returns the state change it caused.
func (o *originState) passive(p *params, now time.Time, r Result) (transition, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	slow := !r.Failed && r.Latency > p.slowAfter
	total, failed, nSlow := o.recordLocked(now, r.Failed, slow)
	if r.Failed {
		o.passiveFail++
	} else {
		o.passiveFail = 0
	}
	from := o.state
	switch {
	case from == Down:
		// Only probes bring an origin back: a stray live answer (from the
		// force-off override) proves little.
		return transition{}, false
	case r.Failed && (r.Fatal || o.passiveFail >= p.passiveFailures):
		return o.setLocked(Down, r.Reason, now), true
	case r.Failed && total >= uint32(p.minRequests) && float64(failed) >= p.errorRatio*float64(total):
		return o.setLocked(Down, "error ratio: "+r.Reason, now), true
	case from == Up && total >= uint32(p.minRequests) && nSlow*2 > total:
		return o.setLocked(Degraded, "slower than slow_after", now), true
	case from == Degraded && nSlow*5 < total:
		return o.setLocked(Up, "fast again", now), true
	}
	return transition{}, false
}

// probe applies a probe result and returns the state change it caused.
func (o *originState) probe(p *params, now time.Time, r Result) (transition, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.Failed {
		o.probeOK = 0
		o.probeFail++
		if o.state != Down && o.probeFail >= p.fall {
			return o.setLocked(Down, "probe: "+r.Reason, now), true
		}
		return transition{}, false
	}
	o.probeFail = 0
	o.probeOK++
	if o.state == Down && o.probeOK >= p.rise {
		o.passiveFail = 0
		clear(o.window) // old failures must not trip it again at once
		return o.setLocked(Up, "probe succeeded", now), true
	}
	return transition{}, false
}

func (o *originState) setLocked(to State, reason string, now time.Time) transition {
	t := transition{from: o.state, to: to, reason: reason}
	o.state, o.reason, o.since = to, reason, now
	o.cur.Store(int32(to))
	if to == Down {
		o.probeOK = 0
	}
	return t
}

func (o *originState) get() (State, string, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.state, o.reason, o.since
}
