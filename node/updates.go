package node

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/state"
)

// RetractAfter is how long after a site's origin is back and its
// maintenance is over its incident updates end, unless ops set their own
// end (expires): an update about last night's outage has no place on the
// next one's page.
const RetractAfter = time.Hour

// quietLook is how often the keeper looks whether sites with updates are
// quiet (origin open, no maintenance): the retraction is an hour away, so
// half a minute more or less does not matter.
const quietLook = 30 * time.Second

// updateKeeper ends incident updates. An update with an end (expires) is
// not shown past it: the pages are rendered again at that moment (the
// state did not change, so nothing else would). An update without one is
// retracted by default once its site has been quiet (its origin open, no
// maintenance in force) for RetractAfter, counted from when it was posted
// if that is later: the keeper sets its end to that moment in the shared
// state, so that every node, the admin API and `awning update list` agree.
// Updates for every site (the global scope) end when every site has been
// quiet that long. Every node runs one; the first to retract an update
// writes it, the others find it done.
//
// What is quiet is this node's view of health; a node that sees an origin
// flap starts counting again, so an update is never retracted while its
// incident goes on.
type updateKeeper struct {
	log     *slog.Logger
	now     func() time.Time
	sites   func() []string
	scope   func(name string) state.Scope
	quietAt func(site string, now time.Time) bool // origin open and no maintenance in force
	change  func(ctx context.Context, name string, ids []string, fn func(*state.Scope) error) error
	apply   func(names []string) // render the named scopes' sites again

	wake  chan struct{}
	quiet map[string]time.Time // since when each watched site has been quiet
	last  time.Time            // the previous look
}

// errNothingToRetract aborts a state change that finds its work done.
var errNothingToRetract = errors.New("node: no update to retract")

func (n *Node) newUpdateKeeper() *updateKeeper {
	return &updateKeeper{
		log: n.log,
		now: time.Now,
		sites: func() []string {
			reg := n.reg.Load()
			if reg == nil {
				return nil
			}
			var out []string
			for _, s := range reg.All() {
				out = append(out, s.Name)
			}
			return out
		},
		scope: n.state.Scope,
		quietAt: func(site string, now time.Time) bool {
			h := n.proxy.Health(site)
			if h == nil || !h.Open() {
				return false
			}
			global, own := n.state.Scope(state.Global), n.state.Scope(site)
			return !own.Maintenance.ActiveAt(now) && !global.Maintenance.ActiveAt(now)
		},
		change: func(ctx context.Context, name string, ids []string, fn func(*state.Scope) error) error {
			// Audited as Awning's own change, beside ops' posting them.
			host, _ := os.Hostname()
			_, err := n.state.ChangeAudited(ctx, name, state.AuditEntry{
				Time: time.Now().UTC(), Who: "awning", From: host,
				Action: "retract updates", Detail: "ended an hour after the site was back: " + strings.Join(ids, ", "),
			}, fn)
			return err
		},
		apply: n.applyState,
		wake:  make(chan struct{}, 1),
		quiet: map[string]time.Time{},
	}
}

// changed tells the keeper to look again (the state changed); it never
// blocks.
func (k *updateKeeper) changed() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// run looks after the updates until ctx ends.
func (k *updateKeeper) run(ctx context.Context) {
	timer := time.NewTimer(quietLook)
	defer timer.Stop()
	for {
		next := k.safeLook(ctx)
		wait := quietLook
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(k.now()), 0))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-k.wake:
		case <-timer.C:
		}
	}
}

// safeLook is look, surviving a panic: the loop goes on.
func (k *updateKeeper) safeLook(ctx context.Context) (next time.Time) {
	defer func() {
		if v := recover(); v != nil {
			k.log.Error("incident update keeper panicked", "panic", v, "stack", string(debug.Stack()))
			next = time.Time{}
		}
	}()
	return k.look(ctx, k.now())
}

// look retracts the updates due at now, renders again the sites whose
// updates ended since the last look, and returns the next end it knows of
// (zero for none).
func (k *updateKeeper) look(ctx context.Context, now time.Time) time.Time {
	since := k.last
	k.last = now
	var next time.Time
	soonest := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	global := k.scope(state.Global)
	all := k.sites()
	watched := map[string]bool{}
	for _, name := range all {
		if len(global.Updates) > 0 || len(k.scope(name).Updates) > 0 {
			watched[name] = true
		}
	}
	for name := range k.quiet {
		if !watched[name] {
			delete(k.quiet, name)
		}
	}
	for name := range watched {
		switch q := k.quietAt(name, now); {
		case !q:
			delete(k.quiet, name)
		case k.quiet[name].IsZero():
			k.quiet[name] = now
		}
	}

	var rerender []string
	for _, name := range append(slices.Clone(all), state.Global) {
		sc := global
		if name != state.Global {
			if !watched[name] {
				continue
			}
			sc = k.scope(name)
		}
		quietSince, quiet := k.quietSince(name, all)
		var due []string
		for _, u := range sc.Updates {
			switch {
			case !u.Expires.IsZero():
				if u.Expires.After(since) && !u.Expires.After(now) && !since.IsZero() {
					rerender = append(rerender, name) // ended since the last look
				}
				soonest(u.Expires)
			case quiet:
				end := maxTime(quietSince, u.Time).Add(RetractAfter)
				if !end.After(now) {
					due = append(due, u.ID)
				} else {
					soonest(end)
				}
			}
		}
		if len(due) > 0 {
			k.retract(ctx, name, due, now)
		}
	}
	if len(rerender) > 0 {
		k.apply(rerender)
	}
	return next
}

// quietSince returns since when the scope's sites have all been quiet: the
// site's own, or for the global scope the latest of every site's.
func (k *updateKeeper) quietSince(name string, all []string) (time.Time, bool) {
	if name != state.Global {
		t, ok := k.quiet[name]
		return t, ok
	}
	var latest time.Time
	for _, s := range all {
		t, ok := k.quiet[s]
		if !ok {
			return time.Time{}, false
		}
		latest = maxTime(latest, t)
	}
	return latest, len(all) > 0
}

// retract ends the updates ids of scope name at now, in the shared state:
// the change renders them away on every node.
func (k *updateKeeper) retract(ctx context.Context, name string, ids []string, now time.Time) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := k.change(cctx, name, ids, func(sc *state.Scope) error {
		n := 0
		for i := range sc.Updates {
			if u := &sc.Updates[i]; u.Expires.IsZero() && slices.Contains(ids, u.ID) {
				u.Expires = now.UTC().Truncate(time.Second)
				n++
			}
		}
		if n == 0 {
			return errNothingToRetract // another node was first
		}
		return nil
	})
	switch {
	case err == nil:
		k.log.Info("incident updates retracted: the site has been back for an hour", "scope", scopeName(name), "updates", ids)
	case !errors.Is(err, errNothingToRetract):
		// The shared state cannot be written now (Redis away): the next
		// look tries again.
		k.log.Warn("incident updates not retracted yet", "scope", scopeName(name), "err", err)
	}
}

func scopeName(name string) string {
	if name == state.Global {
		return "every site"
	}
	return name
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// liveUpdates returns the updates shown at now: those that have not
// expired.
func liveUpdates(us []pages.Update, now time.Time) []pages.Update {
	out := make([]pages.Update, 0, len(us))
	for _, u := range us {
		if u.LiveAt(now) {
			out = append(out, u)
		}
	}
	return out
}
