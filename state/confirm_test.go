package state

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/pages"
	"github.com/redis/go-redis/v9"
)

// TestReconfirmOnlyWhereTheChangeIs is the failover that lost acknowledged
// writes: a change written to the old master after its replica was
// promoted, whose confirmation was interrupted, read back from the old
// master (it is there), then confirmed on the new one, which never had it
// but confirms its own writes. The change must be found missing there, and
// made again, never answered as done.
func TestReconfirmOnlyWhereTheChangeIs(t *testing.T) {
	oldMaster, newMaster := testkit.StartRedis(t), testkit.StartRedis(t)
	clientTo := func(addr string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		return c
	}
	toOld, toNew := clientTo(oldMaster.Addr), clientTo(newMaster.Addr)
	s, err := NewStore(StoreConfig{Dir: t.TempDir(), Log: quiet(), Redis: toOld})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	update := func(msg string) func(*Scope) error {
		return func(sc *Scope) error {
			sc.Updates = append([]pages.Update{{ID: msg, Message: map[string]string{"en": msg}}}, sc.Updates...)
			return nil
		}
	}
	if _, err := s.Change(ctx, "shop", update("before the failover")); err != nil {
		t.Fatal(err)
	}

	// The new master was the old one's replica: it holds everything up to
	// the promotion.
	if err := toOld.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(oldMaster.Addr)
	if err := toNew.ReplicaOf(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the replica to hold the state", func() bool {
		n, _ := toNew.Exists(ctx, keyEpoch, keyPrefix+"shop").Result()
		return n == 2
	})
	if err := toNew.ReplicaOf(ctx, "no", "one").Err(); err != nil {
		t.Fatal(err)
	}

	// Written to the old master after the promotion.
	if _, err := s.Change(ctx, "shop", update("after the promotion")); err != nil {
		t.Fatal(err)
	}
	chain, err := toOld.HGet(ctx, keyPrefix+"shop", fieldChain).Result()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Fields(chain)[0]
	epoch := s.currentEpoch()

	held, found, ok, err := s.reconfirm(ctx, "shop", id, epoch)
	if err != nil || !found || !ok || !held.includes(id) {
		t.Fatalf("on the master that holds it: found %v, confirmed %v, err %v; want found and confirmed", found, ok, err)
	}

	s.redis = toNew // the client now follows the new master
	if _, found, ok, err := s.reconfirm(ctx, "shop", id, epoch); err != nil || found || ok {
		t.Fatalf("on the new master, which never had the change: found %v, confirmed %v, err %v; want not found", found, ok, err)
	}
	if _, found, _, err := s.reconfirm(ctx, "shop", id, "another-epoch"); err != errNewEpoch || found {
		t.Fatalf("in another generation of the state: found %v, err %v; want errNewEpoch", found, err)
	}

	// Through Change: the next change on the new master holds what it has,
	// and is based on it (the lost change is the writer's to make again).
	sc, err := s.Change(ctx, "shop", update("on the new master"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, u := range sc.Updates {
		msgs = append(msgs, u.Message["en"])
	}
	if want := "on the new master,before the failover"; strings.Join(msgs, ",") != want {
		t.Errorf("scope on the new master holds %q; want %q", msgs, want)
	}
}
