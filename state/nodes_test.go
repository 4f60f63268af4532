package state

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/redis/go-redis/v9"
)

func newFleet(t *testing.T, client redis.UniversalClient, clock *testkit.Clock, redisOK bool, sites int) *Fleet {
	t.Helper()
	f := NewFleet(FleetConfig{
		Redis: client,
		Self:  func() NodeInfo { return NodeInfo{Version: "test", Sites: sites, Redis: redisOK, StateVersion: 7} },
		Every: 50 * time.Millisecond,
		TTL:   300 * time.Millisecond,
		Log:   quiet(),
		Now:   clock.Now,
	})
	f.Start()
	return f
}

func listed(t *testing.T, f *Fleet) map[string]NodeInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	nodes, err := f.Nodes(ctx)
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	if len(nodes) == 0 || !nodes[0].Self || nodes[0].ID != f.ID() {
		t.Fatalf("Nodes()[0] = %+v; want this node first, marked self", nodes)
	}
	out := map[string]NodeInfo{}
	for _, n := range nodes {
		out[n.ID] = n
	}
	return out
}

// TestFleetAlone: without Redis, a node lists itself, alive, with the facts
// it gives.
func TestFleetAlone(t *testing.T) {
	f := newFleet(t, nil, testkit.NewClock(time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC)), false, 3)
	defer f.Close()
	got := listed(t, f)
	me := got[f.ID()]
	if len(got) != 1 || !me.Alive || me.Sites != 3 || me.Version != "test" || me.Redis || me.Host == "" {
		t.Fatalf("alone: got %+v; want only this node, alive, 3 sites, not on Redis", got)
	}
}

// TestFleetShared: nodes sharing a Redis see each other; a node that stops
// leaves the list; one whose heartbeat lapses is shown as not alive, and is
// forgotten after Forget.
func TestFleetShared(t *testing.T) {
	r := testkit.StartRedis(t)
	client := func() redis.UniversalClient {
		c, err := OpenRedis(r.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	clock := testkit.NewClock(time.Now())
	a := newFleet(t, client(), clock, true, 2)
	defer a.Close()
	b := newFleet(t, client(), clock, true, 2)
	c := newFleet(t, client(), clock, true, 2)

	testkit.WaitFor(t, 5*time.Second, "every node to see the other two", func() bool {
		for _, f := range []*Fleet{a, b, c} {
			got := listed(t, f)
			if len(got) != 3 {
				return false
			}
			for _, n := range got {
				if !n.Alive || !n.Redis || n.Sites != 2 || n.StateVersion != 7 {
					return false
				}
			}
		}
		return true
	})

	// b stops on purpose: it withdraws at once.
	b.Close()
	if got := listed(t, a); len(got) != 2 {
		t.Fatalf("after b closed, a lists %d nodes; want 2", len(got))
	}

	// c stops beating without withdrawing (a crash, or Redis cut off from
	// it): its heartbeat lapses and it is listed as not alive.
	c.cancel()
	c.wg.Wait()
	testkit.WaitFor(t, 5*time.Second, "c's heartbeat to lapse", func() bool {
		n, ok := listed(t, a)[c.ID()]
		return ok && !n.Alive
	})
	// Long after, it is forgotten.
	clock.Add(11 * time.Minute)
	if got := listed(t, a); len(got) != 1 {
		t.Fatalf("after Forget, a lists %v; want only itself", got)
	}
	ctx := context.Background()
	if n, _ := a.cfg.Redis.HLen(ctx, keyNodes).Result(); n != 1 {
		t.Errorf("the fleet hash holds %d nodes after tidying; want 1", n)
	}
}

// TestFleetRedisDown: a node whose Redis is down still lists itself, with
// the error.
func TestFleetRedisDown(t *testing.T) {
	r := testkit.StartRedis(t)
	c, err := OpenRedis(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := newFleet(t, c, testkit.NewClock(time.Now()), false, 1)
	defer f.Close()
	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	nodes, err := f.Nodes(ctx)
	if err == nil || len(nodes) != 1 || !nodes[0].Self {
		t.Fatalf("Nodes with Redis down = %+v, %v; want this node alone and an error", nodes, err)
	}
}

// TestFleetHeartbeatSurvivesPanic: a panic in the heartbeat (here, in what
// the node says of itself) is recovered and the heartbeat goes on.
func TestFleetHeartbeatSurvivesPanic(t *testing.T) {
	r := testkit.StartRedis(t)
	c, err := OpenRedis(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var calls atomic.Int32
	f := NewFleet(FleetConfig{
		Redis: c, Every: 20 * time.Millisecond, Log: quiet(),
		Self: func() NodeInfo {
			if calls.Add(1) == 1 {
				panic("first heartbeat")
			}
			return NodeInfo{Sites: 1}
		},
	})
	f.loop.MinBackoff = time.Millisecond
	f.Start()
	defer f.Close()
	testkit.WaitFor(t, 5*time.Second, "a heartbeat after the panic", func() bool { return !f.LastBeat().IsZero() })
	if f.loop.Panics() != 1 {
		t.Errorf("panics = %d; want 1", f.loop.Panics())
	}
}
