package supervisor

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestRestartsAfterPanic: a body that panics is run again after the
// backoff, the loop reports itself down meanwhile, and Run returns once
// the context ends.
func TestRestartsAfterPanic(t *testing.T) {
	l := &Loop{Name: "test", Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MinBackoff: 200 * time.Millisecond, MaxBackoff: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int64
	release := make(chan struct{})
	down := make(chan bool, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, func(ctx context.Context) {
			switch runs.Add(1) {
			case 1, 2:
				panic("boom")
			case 3:
				<-release
			}
			<-ctx.Done()
		})
	}()
	testkit.WaitFor(t, 5*time.Second, "the first panic", func() bool { return l.Panics() >= 1 })
	// Between a panic and the restart the loop is down; the wait is the
	// backoff, so it is seen down at least once before the third run.
	testkit.WaitFor(t, 5*time.Second, "the loop reported down", func() bool {
		if !l.Healthy() && runs.Load() < 3 {
			select {
			case down <- true:
			default:
			}
		}
		return runs.Load() >= 3
	})
	if len(down) == 0 {
		t.Error("the loop never reported itself down while waiting to restart")
	}
	if !l.Healthy() || l.Panics() != 2 {
		t.Errorf("after the restart: healthy %v, panics %d; want true, 2", l.Healthy(), l.Panics())
	}
	close(release)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the context ended")
	}
}

// TestStopsDuringBackoff: ending the context while a panicked body waits
// to restart ends Run at once.
func TestStopsDuringBackoff(t *testing.T) {
	l := &Loop{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MinBackoff: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx, func(context.Context) { panic("boom") })
	}()
	testkit.WaitFor(t, 5*time.Second, "the panic", func() bool { return l.Panics() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run waited out its backoff after the context ended")
	}
	if l.Healthy() {
		t.Error("a loop that panicked and never restarted reports healthy")
	}
}
