package redisstore

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
	"github.com/awningproxy/awning/tls/tickets"
)

// TestOnClusterThroughFailovers runs the certificate store and the session
// ticket keys (tls/tickets, tested here to start one Cluster for both) on a
// real Redis Cluster: their multi-key scripts are valid there (every key
// under one hash tag), and both go on working, with what they stored, after
// a CLUSTER FAILOVER and after the master holding them is killed.
func TestOnClusterThroughFailovers(t *testing.T) {
	c := testkit.StartCluster(t)
	rdb, err := state.OpenRedis(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s, err := New(rdb, Options{LockTTL: 3 * time.Second, LockPoll: 50 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k, err := tickets.New(tickets.Options{Redis: rdb, Rotate: time.Hour, Refresh: time.Minute, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Not ctxT's 10s: the whole test takes longer than that on a loaded
	// machine, and every call after it would fail on the spent context.
	ctx := t.Context()

	// works checks what both keep in Redis, through whatever failed before.
	stored := map[string]string{}
	round := 0
	works := func(what string) {
		t.Helper()
		round++
		name := "certificates/ca/shop" + string(rune('a'+round)) + ".example/cert.crt"
		testkit.WaitFor(t, 15*time.Second, what+": a certificate to be stored", func() bool {
			return s.Store(ctx, name, []byte(name)) == nil
		})
		stored[name] = name
		// Right after a failover a read may time out while the slot map is
		// reloaded (under load, past the store's 1s timeout): wait for an
		// answer, then hold it to what was stored. A key that is gone is an
		// answer too.
		for name, want := range stored {
			var got []byte
			var err error
			testkit.WaitFor(t, 15*time.Second, what+": an answer to Load("+name+")", func() bool {
				got, err = s.Load(ctx, name)
				return err == nil || errors.Is(err, fs.ErrNotExist)
			})
			if err != nil || string(got) != want {
				t.Errorf("%s: Load(%q) = %q, %v; want what was stored before", what, name, got, err)
			}
		}
		var list []string
		var err error
		testkit.WaitFor(t, 15*time.Second, what+": an answer to List", func() bool {
			list, err = s.List(ctx, "certificates", true)
			return err == nil
		})
		for name := range stored {
			if !slices.Contains(list, name) {
				t.Errorf("%s: List = %v, %v; misses %s", what, list, err, name)
			}
		}
		testkit.WaitFor(t, 15*time.Second, what+": the issuance lock taken", func() bool {
			lockCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return s.Lock(lockCtx, "issue-"+name) == nil
		})
		testkit.WaitFor(t, 15*time.Second, what+": the issuance lock released", func() bool {
			return s.Unlock(ctx, "issue-"+name) == nil
		})
		var syncErr error
		if !testkit.Poll(15*time.Second, func() bool { syncErr = k.Sync(ctx); return syncErr == nil }) {
			t.Fatalf("%s: ticket keys did not sync within 15s: %v", what, syncErr)
		}
		if st := k.Stats(); st.Keys != 1 || st.Rotations != 1 {
			t.Errorf("%s: ticket keys %+v; want the one key made at first, kept", what, st)
		}
	}
	works("a healthy cluster")

	certSlot := c.KeySlot(DefaultPrefix + "/index")
	m, reps := c.MasterOf(certSlot)
	testkit.WaitReplicated(t, m, reps[0])
	if _, err := reps[0].Do("CLUSTER", "FAILOVER"); err != nil {
		t.Fatal(err)
	}
	works("CLUSTER FAILOVER")

	// One master at a time: a replica is elected by a majority of masters.
	for _, key := range []string{DefaultPrefix + "/index", tickets.DefaultKey} {
		c.WaitHealthy(t, 30*time.Second)
		m, reps := c.MasterOf(c.KeySlot(key))
		testkit.WaitReplicated(t, m, reps[0])
		m.Kill()
		// The replica's promotion takes node-timeout and an election: a few
		// seconds, far more on a machine as loaded as CI's whole suite
		// makes it. What is tested is that both work once it is done.
		c.WaitServed(t, 60*time.Second)
		works("the master holding " + key + " killed")
		m.Start()
	}
	c.WaitHealthy(t, 30*time.Second)
}
