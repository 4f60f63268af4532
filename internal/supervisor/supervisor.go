// Package supervisor keeps a component's background loop running through
// a panic: it recovers the panic, logs it with its stack, reports the loop
// down, and runs the loop's body again after a backoff that doubles up to a
// bound. The component that owns the loop starts and stops it (Run returns
// when its context ends) and reports Healthy with its own health, so a node
// never claims a loop works while it waits to restart.
//
// It owns no goroutine: Run runs in the caller's.
package supervisor

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Defaults for Loop's backoff.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// Loop runs one background loop's body and restarts it after a panic. Its
// zero value works (with the default backoff and slog.Default); set the
// fields before Run. It is safe for concurrent use: Healthy and Panics may
// be read while Run runs.
type Loop struct {
	// Name says which loop it is in logs.
	Name string
	// Log receives one error per panic, with the stack. Default
	// slog.Default().
	Log *slog.Logger
	// MinBackoff is the wait before the first restart; it doubles with
	// each panic, up to MaxBackoff, and starts over once the body ran
	// longer than MaxBackoff without one. Defaults DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration

	panics atomic.Uint64
	down   atomic.Bool
}

// Run runs body until it returns, restarting it after each panic, and
// returns when body returns or ctx ends (body must return once ctx ends).
func (l *Loop) Run(ctx context.Context, body func(ctx context.Context)) {
	minB, maxB := l.MinBackoff, l.MaxBackoff
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB < minB {
		maxB = max(DefaultMaxBackoff, minB)
	}
	backoff := minB
	for {
		start := time.Now()
		if !l.runOnce(ctx, body) {
			return
		}
		if time.Since(start) > maxB {
			backoff = minB // a long healthy run before this panic: start over
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxB)
	}
}

// runOnce runs body once and reports whether it panicked.
func (l *Loop) runOnce(ctx context.Context, body func(ctx context.Context)) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			l.down.Store(true) // before the count: whoever sees the panic counted sees the loop down
			l.panics.Add(1)
			log := l.Log
			if log == nil {
				log = slog.Default()
			}
			log.Error("background loop panicked; restarting it", "loop", l.Name, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	l.down.Store(false)
	body(ctx)
	return false
}

// Healthy reports whether the loop is not waiting to restart after a
// panic.
func (l *Loop) Healthy() bool { return !l.down.Load() }

// Panics counts the panics recovered so far.
func (l *Loop) Panics() uint64 { return l.panics.Load() }
