package testkit

import (
	"sync"
	"testing"
	"time"
)

// WaitFor polls cond until it holds and returns how long that took,
// failing the test after d. Tests assert on states and counters; d only
// bounds a hang and is never a measurement. Polls start 1ms apart, so a
// quick change is seen within a millisecond or two, and back off to 50ms,
// so a slow condition (an HTTP request, a browser) is not hammered.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
	return time.Since(start)
}

// Poll calls cond, at growing intervals up to 50ms, until it holds or d
// has passed, and reports whether it held: for a test that says more than
// WaitFor's message when it did not.
func Poll(d time.Duration, cond func() bool) bool {
	start := time.Now()
	pause := time.Millisecond
	for !cond() {
		if time.Since(start) > d {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
	return true
}

// Clock is a settable clock for code that takes a Now func, so tests move
// time (an hour-long outage, a maintenance window) without waiting. Safe
// for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
