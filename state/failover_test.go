package state

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/pages"
	"github.com/redis/go-redis/v9"
)

// writerFleet is three stores sharing one Redis topology, with writers that keep
// changing the state through all three while a drill breaks Redis.
type writerFleet struct {
	t      *testing.T
	url    string
	stores []*Store
	admin  redis.UniversalClient // the test's own client, to read what Redis holds

	mu       sync.Mutex
	acked    map[string][]string // scope → update IDs acknowledged, in order
	attempts map[string][]string // scope → every update ID tried, in order
	first    time.Time           // the first acknowledged write after mark
	mark     time.Time
	fails    int
}

func newWriterFleet(t *testing.T, url string) *writerFleet {
	f := &writerFleet{t: t, url: url, acked: map[string][]string{}, attempts: map[string][]string{}}
	for range 3 {
		f.stores = append(f.stores, newStore(t, t.TempDir(), url))
	}
	var err error
	if f.admin, err = OpenRedis(url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.admin.Close() })
	testkit.WaitFor(t, 20*time.Second, "the stores to follow redis", func() bool {
		for _, s := range f.stores {
			if !s.Stats().RedisOK {
				return false
			}
		}
		return true
	})
	return f
}

// write posts one incident update to scope through store i, as the admin
// API does, and records it when acknowledged.
func (f *writerFleet) write(ctx context.Context, i int, scope string) error {
	id := newID(4)
	f.mu.Lock()
	f.attempts[scope] = append(f.attempts[scope], id)
	f.mu.Unlock()
	_, err := f.stores[i].ChangeAudited(ctx, scope, AuditEntry{Time: time.Now(), Who: "drill", Action: "POST updates", Detail: "update " + id},
		func(sc *Scope) error {
			sc.Updates = append([]pages.Update{{ID: id}}, sc.Updates...)
			if len(sc.Updates) > MaxUpdates {
				sc.Updates = sc.Updates[:MaxUpdates]
			}
			return nil
		})
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.fails++
		return err
	}
	f.acked[scope] = append(f.acked[scope], id)
	if !f.mark.IsZero() && f.first.IsZero() {
		f.first = time.Now()
	}
	return nil
}

// writers runs one sequential writer per store (store i writes scope
// "shop<i>") until stop is closed.
func (f *writerFleet) writers(stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range f.stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pace := time.NewTicker(20 * time.Millisecond) // about 50 writes a second each
			defer pace.Stop()
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				f.write(ctx, i, fmt.Sprintf("shop%d", i))
				cancel()
				select {
				case <-stop:
					return
				case <-pace.C:
				}
			}
		}()
	}
	return &wg
}

// converged reports whether every store holds exactly what Redis holds.
func (f *writerFleet) converged() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	want, err := RemoteVersions(ctx, f.admin)
	if err != nil || len(want) == 0 {
		return false
	}
	for _, s := range f.stores {
		s.mu.Lock()
		same := len(s.scopes) == len(want)
		for name, v := range want {
			if s.scopes[name].Version != v {
				same = false
			}
		}
		s.mu.Unlock()
		if !same {
			return false
		}
	}
	return true
}

// check asserts that no acknowledged update is lost (the newest MaxUpdates
// of each scope are in the state, in order) and that the audit stream
// holds every acknowledged update.
func (f *writerFleet) check() {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	ctx := context.Background()
	msgs, err := f.admin.XRange(ctx, keyAudit, "-", "+").Result()
	if err != nil {
		f.t.Fatal(err)
	}
	audited := map[string]bool{}
	for _, m := range msgs {
		var e AuditEntry
		json.Unmarshal([]byte(m.Values["entry"].(string)), &e)
		audited[strings.TrimPrefix(e.Detail, "update ")] = true
	}
	for scope, ids := range f.acked {
		got := f.stores[0].Scope(scope).Updates
		var have []string
		for _, u := range got {
			have = append(have, u.ID)
		}
		// The state keeps the newest MaxUpdates; an acknowledged update
		// may be missing only when the oldest one kept was tried after it
		// (writes that failed may have landed all the same).
		order := f.attempts[scope]
		oldest := len(order)
		for _, id := range have {
			if i := slices.Index(order, id); i < 0 {
				f.t.Errorf("scope %s: the state holds update %s, which was never written", scope, id)
			} else {
				oldest = min(oldest, i)
			}
		}
		for _, id := range ids {
			if !slices.Contains(have, id) && slices.Index(order, id) > oldest {
				f.t.Errorf("scope %s: acknowledged update %s is lost (state holds %v)", scope, id, have)
			}
		}
		for _, id := range ids {
			if !audited[id] {
				f.t.Errorf("scope %s: acknowledged update %s is not in the audit stream", scope, id)
			}
		}
	}
}

func (f *writerFleet) drill(name string, breakIt func()) {
	f.t.Helper()
	stop := make(chan struct{})
	wg := f.writers(stop)
	tried := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		sum := 0
		for _, a := range f.attempts {
			sum += len(a)
		}
		return sum
	}
	testkit.WaitFor(f.t, 10*time.Second, name+": writes under way before the failure", func() bool { return tried() >= 2*len(f.stores) })
	f.mu.Lock()
	f.mark, f.first = time.Now(), time.Time{}
	f.mu.Unlock()
	breakIt()
	testkit.WaitFor(f.t, 20*time.Second, name+": a write to be acknowledged after the failure", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return !f.first.IsZero()
	})
	after := tried()
	testkit.WaitFor(f.t, 20*time.Second, name+": writes going on after the failure", func() bool { return tried() >= after+5*len(f.stores) })
	close(stop)
	wg.Wait()
	took := testkit.WaitFor(f.t, 20*time.Second, name+": every store to converge on redis", f.converged)
	f.mu.Lock()
	f.t.Logf("%s: first acknowledged write %s after the failure took effect; converged %s after the writers stopped; %d writes failed",
		name, f.first.Sub(f.mark), took, f.fails)
	f.fails = 0
	f.mu.Unlock()
	f.check()
}

// TestStoreDrillsSentinel: SENTINEL FAILOVER while three stores write. The
// old master stays a master for seconds after the sentinels chose another:
// writes that reach it then must not be acknowledged, writes after the
// switch must be, and every store must end on what the new master holds
// (node/fleet_drills_test.go runs every drill with whole nodes).
func TestStoreDrillsSentinel(t *testing.T) {
	s := testkit.StartSentinel(t)
	f := newWriterFleet(t, s.URL())
	f.drill("SENTINEL FAILOVER", func() {
		old := s.Master().Addr
		if err := s.Failover(); err != nil {
			t.Fatal(err)
		}
		s.WaitMasterNot(t, old, 30*time.Second)
	})
}

// TestStoreDrillsCluster: the master holding the state is killed while
// three stores write; its replica takes over.
func TestStoreDrillsCluster(t *testing.T) {
	c := testkit.StartCluster(t)
	f := newWriterFleet(t, c.URL())
	slot := c.KeySlot(keyScopes)
	f.drill("SIGKILL master", func() {
		m, _ := c.MasterOf(slot)
		m.Kill()
		testkit.WaitFor(t, 30*time.Second, "a replica to take over", func() bool { n, _ := c.MasterOf(slot); return n != nil && n != m })
	})
}
