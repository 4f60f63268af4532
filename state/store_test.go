package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/pages"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newStore starts a Store in dir, sharing redisURL ("" for none).
func newStore(t *testing.T, dir, redisURL string) *Store {
	t.Helper()
	cfg := StoreConfig{Dir: dir, Log: quiet(), CheckEvery: 100 * time.Millisecond}
	if redisURL != "" {
		c, err := OpenRedis(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cfg.Redis = c
	}
	s, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func maintenanceOn(mode string) func(*Scope) error {
	return func(sc *Scope) error {
		sc.Maintenance = &Maintenance{Enabled: true, Mode: mode}
		return nil
	}
}

func maintenanceOff(sc *Scope) error {
	sc.Maintenance = nil
	return nil
}

func inMaintenance(s *Store, site, mode string) bool {
	m := s.Scope(site).Maintenance
	return m != nil && m.Enabled && m.Mode == mode
}

func TestLocalStoreKeepsStateInSnapshot(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var changed []string
	s, err := NewStore(StoreConfig{Dir: dir, Log: quiet(), OnChange: func(names []string) {
		mu.Lock()
		changed = append(changed, names...)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Change(context.Background(), "bakkerij", maintenanceOn("full")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Change(context.Background(), Global, func(sc *Scope) error {
		sc.Updates = append(sc.Updates, pages.Update{ID: "u1", Message: map[string]string{"en": "working on it"}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bad := errors.New("refused")
	if _, err := s.Change(context.Background(), "bakkerij", func(sc *Scope) error { sc.Maintenance = nil; return bad }); err != bad {
		t.Fatalf("a refused change: %v", err)
	}
	if !inMaintenance(s, "bakkerij", "full") {
		t.Fatal("a refused change changed the state")
	}
	mu.Lock()
	if fmt.Sprint(changed) != "[bakkerij ]" {
		t.Errorf("OnChange got %q; want bakkerij then the global scope", changed)
	}
	mu.Unlock()

	again, err := NewStore(StoreConfig{Dir: dir, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if !inMaintenance(again, "bakkerij", "full") || len(again.Scope(Global).Updates) != 1 {
		t.Errorf("a restarted node lost the state: %+v", again.Scope("bakkerij"))
	}
	for _, name := range []string{"bakkerij", Global} {
		if got, want := again.VersionOf(name), s.VersionOf(name); got != want || got.Stamp.IsZero() {
			t.Errorf("version of %q after restart = %+v; want %+v", name, got, want)
		}
	}
	if s.VersionOf(Global).Compare(s.VersionOf("bakkerij")) <= 0 {
		t.Errorf("the later change has the older version: %+v then %+v", s.VersionOf("bakkerij"), s.VersionOf(Global))
	}
}

// TestSharedStoreConverges: a change through one node reaches the others
// through pub/sub, and concurrent changes through two nodes to one scope
// are both kept (compare-and-set, no lost update).
func TestSharedStoreConverges(t *testing.T) {
	r := testkit.StartRedis(t)
	a := newStore(t, t.TempDir(), r.URL())
	b := newStore(t, t.TempDir(), r.URL())
	c := newStore(t, t.TempDir(), r.URL())
	testkit.WaitFor(t, 10*time.Second, "the stores to subscribe", func() bool { return b.Stats().RedisOK && c.Stats().RedisOK })

	if _, err := a.Change(context.Background(), "bakkerij", maintenanceOn("full")); err != nil {
		t.Fatal(err)
	}
	d := testkit.WaitFor(t, 10*time.Second, "b and c to see the maintenance", func() bool {
		return inMaintenance(b, "bakkerij", "full") && inMaintenance(c, "bakkerij", "full")
	})
	t.Logf("propagated to two other stores in %s", d)

	var wg sync.WaitGroup
	for i, s := range []*Store{a, b, c} {
		for j := 0; j < 5; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Change(context.Background(), "bakkerij", func(sc *Scope) error {
					sc.Updates = append(sc.Updates, pages.Update{ID: fmt.Sprintf("n%d-%d", i, j)})
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	for _, s := range []*Store{a, b, c} {
		testkit.WaitFor(t, 10*time.Second, "all 15 updates everywhere", func() bool { return len(s.Scope("bakkerij").Updates) == 15 })
	}
}

// TestPubSubKilledWhileToggling: the pub/sub connection is killed while
// maintenance is toggled twice in quick succession; every node still ends
// on the newest state (resync after resubscribing, and version checks).
func TestPubSubKilledWhileToggling(t *testing.T) {
	r := testkit.StartRedis(t)
	a := newStore(t, t.TempDir(), r.URL())
	b := newStore(t, t.TempDir(), r.URL())
	c := newStore(t, t.TempDir(), r.URL())
	testkit.WaitFor(t, 10*time.Second, "subscriptions", func() bool { return b.Stats().RedisOK && c.Stats().RedisOK })
	admin, _ := OpenRedis(r.URL())
	defer admin.Close()
	for round := 0; round < 3; round++ {
		if err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		a.Change(context.Background(), "bakkerij", maintenanceOn("full"))
		a.Change(context.Background(), "bakkerij", maintenanceOn("read-only"))
		for _, s := range []*Store{b, c} {
			testkit.WaitFor(t, 10*time.Second, "convergence on read-only", func() bool { return inMaintenance(s, "bakkerij", "read-only") })
		}
		a.Change(context.Background(), "bakkerij", maintenanceOff)
		for _, s := range []*Store{b, c} {
			testkit.WaitFor(t, 10*time.Second, "convergence on off", func() bool { return s.Scope("bakkerij").Maintenance == nil })
		}
	}
}

// TestRedisRestartedEmpty: Redis comes back with nothing; the nodes keep
// their maintenance and write it back, so a node that joins later sees it.
func TestRedisRestartedEmpty(t *testing.T) {
	r := testkit.StartRedis(t)
	a := newStore(t, t.TempDir(), r.URL())
	b := newStore(t, t.TempDir(), r.URL())
	if _, err := a.Change(context.Background(), "bakkerij", maintenanceOn("full")); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "b to see it", func() bool { return inMaintenance(b, "bakkerij", "full") })
	r.Restart() // empty: persistence is off
	testkit.WaitFor(t, 10*time.Second, "the state to be restored", func() bool { return a.Stats().Restores+b.Stats().Restores >= 1 })
	if !inMaintenance(a, "bakkerij", "full") || !inMaintenance(b, "bakkerij", "full") {
		t.Fatal("an empty redis ended the maintenance")
	}
	late := newStore(t, t.TempDir(), r.URL())
	testkit.WaitFor(t, 10*time.Second, "a new node to get the restored state", func() bool { return inMaintenance(late, "bakkerij", "full") })
}

// TestRedisDownRefusesChanges: with Redis down, a change is refused (no
// node applies it), the last state stays, and a node restarted meanwhile
// starts from its snapshot.
func TestRedisDownRefusesChanges(t *testing.T) {
	r := testkit.StartRedis(t)
	dir := t.TempDir()
	a := newStore(t, dir, r.URL())
	a.Change(context.Background(), "bakkerij", maintenanceOn("full"))
	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := a.Change(ctx, "bakkerij", maintenanceOff)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("change with redis down: %v; want ErrUnavailable (nothing was sent)", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("change with redis down: %v; want the cause (connection refused) kept in the chain", err)
	}
	if !inMaintenance(a, "bakkerij", "full") {
		t.Error("a refused change was applied")
	}
	a.Close()
	restarted := newStore(t, dir, r.URL())
	if !inMaintenance(restarted, "bakkerij", "full") {
		t.Error("a node restarted while redis is down forgot the maintenance")
	}
}

func TestAuditLog(t *testing.T) {
	r := testkit.StartRedis(t)
	a := newStore(t, t.TempDir(), r.URL())
	b := newStore(t, t.TempDir(), r.URL())
	a.Audit(context.Background(), AuditEntry{Time: time.Now(), Who: "ops", From: "127.0.0.1", Action: "PUT /v1/maintenance", Scope: Global})
	b.Audit(context.Background(), AuditEntry{Time: time.Now(), Who: "bakkerij", From: "127.0.0.1", Action: "PUT /v1/sites/bakkerij/page", Scope: "bakkerij"})
	got, err := a.AuditLog(context.Background(), 10)
	if err != nil || len(got) != 2 || got[0].Who != "bakkerij" || got[1].Scope != "*" {
		t.Errorf("audit log = %+v, %v; want both nodes' entries, newest first", got, err)
	}
}

func TestMaintenanceActiveAt(t *testing.T) {
	t0 := time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC)
	start, end := t0.Add(time.Hour), t0.Add(2*time.Hour)
	m := &Maintenance{Enabled: true, Start: &start, End: &end}
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{{t0, false}, {start, true}, {start.Add(time.Minute), true}, {end, false}, {end.Add(time.Hour), false}} {
		if got := m.ActiveAt(tt.at); got != tt.want {
			t.Errorf("ActiveAt(%s) = %v; want %v", tt.at.Format(time.Kitchen), got, tt.want)
		}
	}
	if (&Maintenance{Enabled: false}).ActiveAt(t0) || (*Maintenance)(nil).ActiveAt(t0) {
		t.Error("disabled maintenance is active")
	}
}

// TestSyncLoopSurvivesPanics: a panic in the sync loop (here from OnChange,
// on a change heard from another node) is recovered and logged, the store
// reports itself unhealthy while the loop restarts with a growing pause,
// and once the cause is gone the loop runs again and the node has the
// change, announced to OnChange.
func TestSyncLoopSurvivesPanics(t *testing.T) {
	r := testkit.StartRedis(t)
	a := newStore(t, t.TempDir(), r.URL())
	client, err := OpenRedis(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	var broken atomic.Bool
	var mu sync.Mutex
	var told []string
	logs := &testkit.Buffer{}
	b, err := NewStore(StoreConfig{Redis: client, Dir: t.TempDir(), CheckEvery: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(logs, nil)),
		OnChange: func(names []string) {
			if broken.Load() {
				panic("proxy refused the state")
			}
			mu.Lock()
			told = append(told, names...)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(b.Close)
	testkit.WaitFor(t, 10*time.Second, "b to follow redis", func() bool { return b.Healthy() == nil })

	broken.Store(true)
	if _, err := a.Change(context.Background(), "bakkerij", maintenanceOn("full")); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "b to report itself unhealthy", func() bool { return b.Healthy() != nil })
	testkit.WaitFor(t, 10*time.Second, "the loop to restart and fail again", func() bool { return b.Stats().Panics >= 2 })
	if !strings.Contains(logs.String(), "panicked; restarting it") || !strings.Contains(logs.String(), "state sync") ||
		!strings.Contains(logs.String(), "proxy refused the state") {
		t.Errorf("the panic was not logged:\n%s", logs.String())
	}

	broken.Store(false)
	testkit.WaitFor(t, 10*time.Second, "b to be healthy again", func() bool { return b.Healthy() == nil && b.Stats().Syncing })
	if !inMaintenance(b, "bakkerij", "full") {
		t.Error("b lost the change heard while its loop panicked")
	}
	testkit.WaitFor(t, 10*time.Second, "OnChange to hear of bakkerij", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(told, "bakkerij")
	})
	if _, err := a.Change(context.Background(), "bakkerij", maintenanceOff); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "b to follow later changes", func() bool { return b.Scope("bakkerij").Maintenance == nil })
}
