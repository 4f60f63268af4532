package state

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/pages"
)

// TestFlushMergesNewestBack: Redis is flushed while two nodes hold
// different versions of a scope (one missed the last change). Whichever
// merges first, Redis and both nodes end on the newest version, and the
// audit stream holds every entry again, in order.
func TestFlushMergesNewestBack(t *testing.T) {
	for _, newerFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "older merges first", true: "newer merges first"}[newerFirst], func(t *testing.T) {
			r := testkit.StartRedis(t)
			ctx := context.Background()
			// Two stores that do not run their loops: the test decides when
			// each one checks Redis.
			mk := func() *Store {
				c, err := OpenRedis(r.URL())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				s, err := NewStore(StoreConfig{Redis: c, Dir: t.TempDir(), Log: quiet()})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			a, b := mk(), mk()
			for i, s := range []*Store{a, b, a} {
				if _, err := s.ChangeAudited(ctx, "bakkerij", AuditEntry{Who: "ops", Detail: string(rune('1' + i))}, func(sc *Scope) error {
					sc.Updates = append(sc.Updates, pages.Update{ID: string(rune('a' + i))})
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			// b never heard a's last change, a never read b's audit entry:
			// whichever merges first, the other has something to add, an
			// older audit entry among it (the stream is rebuilt in order).
			older, newer := b, a
			if got := len(newer.Scope("bakkerij").Updates); got != 3 {
				t.Fatalf("a holds %d updates; want 3", got)
			}
			if _, err := a.Change(ctx, "bakkerij", func(sc *Scope) error { sc.ForceFallback = true; return nil }); err != nil {
				t.Fatal(err)
			}
			if older.Scope("bakkerij").ForceFallback {
				t.Fatal("b heard a's last change; the test needs it not to")
			}
			want := newer.VersionOf("bakkerij")

			c, _ := OpenRedis(r.URL())
			defer c.Close()
			if err := c.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			first, second := older, newer
			if newerFirst {
				first, second = newer, older
			}
			first.check()
			second.check()
			first.check()
			remote, err := RemoteVersions(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if remote["bakkerij"] != want {
				t.Errorf("redis holds %+v after the merges; want the newest %+v", remote["bakkerij"], want)
			}
			for name, s := range map[string]*Store{"older": older, "newer": newer} {
				if got := s.VersionOf("bakkerij"); got != want || !s.Scope("bakkerij").ForceFallback {
					t.Errorf("the %s node holds %+v; want the newest %+v", name, got, want)
				}
			}
			log, err := a.AuditLog(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			var details string
			for _, e := range log {
				details += e.Detail
			}
			if details != "321" {
				t.Errorf("audit stream after the flush holds %q (newest first); want every change, in order: 321", details)
			}
		})
	}
}

// TestReadsStateOfOlderAwning: a snapshot and a Redis written by Awning
// before stamps (versions from a shared counter) are read, and a change on
// top of them is newer than both.
func TestReadsStateOfOlderAwning(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	c, _ := OpenRedis(r.URL())
	defer c.Close()
	data, _ := json.Marshal(Scope{Maintenance: &Maintenance{Enabled: true}})
	if err := c.HSet(ctx, keyPrefix+"bakkerij", "data", data, "version", 7).Err(); err != nil {
		t.Fatal(err)
	}
	c.SAdd(ctx, keyScopes, "bakkerij")
	c.Set(ctx, "{awning-state}:version", 7, 0)
	dir := t.TempDir()
	old := `{"counter": 9, "scopes": {"*": {"version": 9, "data": {"updates": [{"id": "u1", "time": "2026-01-01T00:00:00Z", "message": {"en": "x"}}]}}}}`
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, dir, r.URL())
	testkit.WaitFor(t, 10*time.Second, "the node to merge its old snapshot into redis", func() bool {
		return len(s.Scope(Global).Updates) == 1 && inMaintenance(s, "bakkerij", "")
	})
	if v := s.VersionOf("bakkerij"); v.Stamp != (Stamp{Seq: 7}) {
		t.Errorf("version read from an older redis = %+v; want the counter 7 as 0-7", v)
	}
	if _, err := s.Change(ctx, "bakkerij", maintenanceOff); err != nil {
		t.Fatal(err)
	}
	if v := s.VersionOf("bakkerij"); v.Stamp.Compare(Stamp{Seq: 9}) <= 0 {
		t.Errorf("a change on top of old state got version %+v; want one newer than every old one", v)
	}
}

// TestRedisRestartedFromOlderSave: Redis saved to disk, took a change, and
// restarted from the older save (its epoch intact). The nodes notice the
// restart and write the newer change back, rather than adopt the past.
func TestRedisRestartedFromOlderSave(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	a := newStore(t, t.TempDir(), r.URL())
	b := newStore(t, t.TempDir(), r.URL())
	if _, err := a.Change(ctx, "bakkerij", maintenanceOn("full")); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "b to see it", func() bool { return inMaintenance(b, "bakkerij", "full") })
	c, _ := OpenRedis(r.URL())
	defer c.Close()
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Change(ctx, "bakkerij", maintenanceOn("read-only")); err != nil {
		t.Fatal(err)
	}
	want := a.VersionOf("bakkerij")
	testkit.WaitFor(t, 10*time.Second, "b to see the change after the save", func() bool { return b.VersionOf("bakkerij") == want })
	r.Restart() // loads the save, which misses the last change
	testkit.WaitFor(t, 15*time.Second, "the nodes to write the last change back", func() bool {
		v, err := RemoteVersions(ctx, c)
		return err == nil && v["bakkerij"] == want
	})
	time.Sleep(300 * time.Millisecond) // a few checks more: nobody goes back
	for name, s := range map[string]*Store{"a": a, "b": b} {
		if !inMaintenance(s, "bakkerij", "read-only") || s.VersionOf("bakkerij") != want {
			t.Errorf("node %s went back to the older save: %+v", name, s.VersionOf("bakkerij"))
		}
	}
}
