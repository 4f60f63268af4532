package node

import (
	"context"
	"log/slog"
	"runtime/debug"
	"slices"
	"time"

	"github.com/awningproxy/awning/state"
)

// windowPhase is where a maintenance window stands at a moment.
type windowPhase int

const (
	windowNone windowPhase = iota
	windowScheduled
	windowActive
	windowEnded
)

func phaseOf(m *state.Maintenance, now time.Time) windowPhase {
	switch {
	case m == nil || !m.Enabled:
		return windowNone
	case m.ActiveAt(now):
		return windowActive
	case m.Start != nil && now.Before(*m.Start):
		return windowScheduled
	}
	return windowEnded
}

// windowLog logs when a maintenance window starts and when it ends, once
// each on each node, so that the log of any node tells when a shop was
// closed. The proxy decides per request whether a window is in force, which
// is no place to log; windowLog wakes at the next start or end instead, and
// when the shared state changes (a window set, replaced, or turned off).
type windowLog struct {
	log    *slog.Logger
	now    func() time.Time
	scopes func() map[string]*state.Maintenance // every scope's window; "" is every site's
	wake   chan struct{}
	last   map[string]windowPhase // what was logged, per scope; nil before the first look
}

func newWindowLog(log *slog.Logger, scopes func() map[string]*state.Maintenance) *windowLog {
	return &windowLog{log: log, now: time.Now, scopes: scopes, wake: make(chan struct{}, 1)}
}

// changed tells the loop to look again; it never blocks.
func (w *windowLog) changed() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run looks at the windows until ctx ends.
func (w *windowLog) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := w.safeLook()
		wait := time.Hour // a change wakes it sooner
		if !next.IsZero() {
			wait = max(next.Sub(w.now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// safeLook is look, surviving a panic: the loop goes on.
func (w *windowLog) safeLook() (next time.Time) {
	defer func() {
		if v := recover(); v != nil {
			w.log.Error("maintenance window log panicked", "panic", v, "stack", string(debug.Stack()))
			next = w.now().Add(time.Minute)
		}
	}()
	return w.look()
}

// look logs each window that started or ended since the last look and
// returns when the next start or end is due (zero for none).
func (w *windowLog) look() time.Time {
	now := w.now()
	windows := w.scopes()
	first := w.last == nil
	if first {
		w.last = map[string]windowPhase{}
	}
	var next time.Time
	soonest := func(t *time.Time) {
		if t != nil && t.After(now) && (next.IsZero() || t.Before(next)) {
			next = *t
		}
	}
	names := make([]string, 0, len(windows)+len(w.last))
	for name := range windows {
		names = append(names, name)
	}
	for name := range w.last {
		if _, ok := windows[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		m := windows[name]
		was, is := w.last[name], phaseOf(m, now)
		if m != nil {
			soonest(m.Start)
			soonest(m.End)
		}
		scope := name
		if scope == state.Global {
			scope = "*" // every site, as the audit log names it
		}
		switch {
		case is == windowActive && was != windowActive:
			msg := "maintenance window started"
			if first {
				msg = "maintenance window in force" // it started before this node
			}
			w.log.Info(msg, windowAttrs(scope, m)...)
		case was == windowActive && is != windowActive:
			why := "its end passed"
			switch is {
			case windowNone:
				why = "turned off"
			case windowScheduled:
				why = "replaced by a later window"
			}
			w.log.Info("maintenance window ended", append(windowAttrs(scope, m), "why", why)...)
		}
		if is == windowNone {
			delete(w.last, name)
		} else {
			w.last[name] = is
		}
	}
	return next
}

func windowAttrs(scope string, m *state.Maintenance) []any {
	attrs := []any{"scope", scope}
	if m == nil {
		return attrs
	}
	attrs = append(attrs, "mode", m.Mode)
	if m.Start != nil {
		attrs = append(attrs, "start", m.Start.UTC())
	}
	if m.End != nil {
		attrs = append(attrs, "end", m.End.UTC())
	}
	return append(attrs, "by", m.By)
}
