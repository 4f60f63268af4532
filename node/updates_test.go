package node

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/state"
)

// fakeKeeper is an updateKeeper over an in-memory state and a health view
// the test sets: every decision is a function of the clock it is given.
type fakeKeeper struct {
	*updateKeeper
	mu      sync.Mutex
	scopes  map[string]state.Scope
	quiet   map[string]bool
	applied []string
	changes int
}

func newFakeKeeper(sites ...string) *fakeKeeper {
	f := &fakeKeeper{scopes: map[string]state.Scope{}, quiet: map[string]bool{}}
	f.updateKeeper = &updateKeeper{
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		sites:   func() []string { return sites },
		scope:   func(name string) state.Scope { f.mu.Lock(); defer f.mu.Unlock(); return f.scopes[name] },
		quietAt: func(site string, _ time.Time) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.quiet[site] },
		change: func(_ context.Context, name string, _ []string, fn func(*state.Scope) error) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			sc := f.scopes[name]
			sc.Updates = append([]pages.Update(nil), sc.Updates...)
			if err := fn(&sc); err != nil {
				return err
			}
			f.scopes[name] = sc
			f.changes++
			return nil
		},
		apply: func(names []string) { f.applied = append(f.applied, names...) },
		wake:  make(chan struct{}, 1),
		quiet: map[string]time.Time{},
	}
	return f
}

func (f *fakeKeeper) post(scope, id string, at time.Time, expires time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sc := f.scopes[scope]
	sc.Updates = append(sc.Updates, pages.Update{ID: id, Time: at, Expires: expires, Message: map[string]string{"en": id}})
	f.scopes[scope] = sc
}

func (f *fakeKeeper) setQuiet(site string, q bool) {
	f.mu.Lock()
	f.quiet[site] = q
	f.mu.Unlock()
}

// live reports whether update id of scope is shown at now.
func (f *fakeKeeper) live(scope, id string, now time.Time) bool {
	for _, u := range f.scope(scope).Updates {
		if u.ID == id {
			return u.LiveAt(now)
		}
	}
	return false
}

var t0 = time.Date(2025, 1, 14, 12, 0, 0, 0, time.UTC)

// TestUpdateWithExpiresEnds: an update ops gave an end is hidden from
// then on, and the pages are rendered again at that moment (nothing in the
// state changes, so nothing else would).
func TestUpdateWithExpiresEnds(t *testing.T) {
	f := newFakeKeeper("shop")
	f.post("shop", "u1", t0, t0.Add(10*time.Minute))
	f.setQuiet("shop", false) // the outage goes on
	if next := f.look(context.Background(), t0); !next.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("next wake %s; want at the update's end", next)
	}
	f.look(context.Background(), t0.Add(9*time.Minute))
	if len(f.applied) != 0 {
		t.Fatalf("rendered again before the end: %v", f.applied)
	}
	f.look(context.Background(), t0.Add(10*time.Minute))
	if len(f.applied) != 1 || f.applied[0] != "shop" {
		t.Errorf("rendered again %v; want shop once, at the end", f.applied)
	}
	st := siteState(state.Scope{}, f.scope("shop"), t0.Add(10*time.Minute))
	if len(st.Pages.Updates) != 0 {
		t.Errorf("the pages still show %v", st.Pages.Updates)
	}
	if st := siteState(state.Scope{}, f.scope("shop"), t0.Add(5*time.Minute)); len(st.Pages.Updates) != 1 {
		t.Error("the update was hidden before its end")
	}
}

// TestUpdatesRetractedAnHourAfterTheSiteIsBack: by default, an hour after
// the origin is back and maintenance is over; a flap starts the hour
// again; an update posted once the site is back lasts an hour from then.
func TestUpdatesRetractedAnHourAfterTheSiteIsBack(t *testing.T) {
	ctx := context.Background()
	f := newFakeKeeper("shop")
	f.post("shop", "during", t0, time.Time{})
	f.look(ctx, t0) // down
	f.setQuiet("shop", true)
	back := t0.Add(30 * time.Minute)
	f.look(ctx, back)
	f.setQuiet("shop", false) // it flaps
	f.look(ctx, back.Add(10*time.Minute))
	f.setQuiet("shop", true)
	again := back.Add(20 * time.Minute)
	if next := f.look(ctx, again); !next.Equal(again.Add(RetractAfter)) {
		t.Errorf("next wake %s; want an hour after the site was back for good", next)
	}
	f.look(ctx, back.Add(RetractAfter)) // an hour after the first return: the flap reset it
	if !f.live("shop", "during", back.Add(RetractAfter)) {
		t.Fatal("retracted an hour after a return the outage interrupted")
	}
	f.post("shop", "after", again.Add(50*time.Minute), time.Time{}) // "all is well again"
	f.look(ctx, again.Add(RetractAfter))
	if f.live("shop", "during", again.Add(RetractAfter)) {
		t.Error("not retracted an hour after the site was back")
	}
	if !f.live("shop", "after", again.Add(RetractAfter)) {
		t.Error("an update posted after the return was retracted before its own hour")
	}
	f.look(ctx, again.Add(50*time.Minute+RetractAfter))
	if f.live("shop", "after", again.Add(50*time.Minute+RetractAfter)) {
		t.Error("an update posted after the return lasted more than an hour")
	}
	// Written to the shared state, once: another node finds it done.
	changes := f.changes
	f.look(ctx, again.Add(3*time.Hour))
	if f.changes != changes {
		t.Errorf("retracted again: %d changes; want %d", f.changes, changes)
	}
}

// TestGlobalUpdatesWaitForEverySite: an update for every site ends an hour
// after the last site is back.
func TestGlobalUpdatesWaitForEverySite(t *testing.T) {
	ctx := context.Background()
	f := newFakeKeeper("a", "b")
	f.post(state.Global, "g", t0, time.Time{})
	f.setQuiet("a", true)
	f.look(ctx, t0)
	f.look(ctx, t0.Add(2*time.Hour))
	if !f.live(state.Global, "g", t0.Add(2*time.Hour)) {
		t.Fatal("retracted while site b is still down")
	}
	f.setQuiet("b", true)
	f.look(ctx, t0.Add(3*time.Hour))
	f.look(ctx, t0.Add(4*time.Hour))
	if f.live(state.Global, "g", t0.Add(4*time.Hour)) {
		t.Error("not retracted an hour after the last site was back")
	}
}
