package cache

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
)

// TestRedisClusterShardFails shares copies through a real Redis Cluster:
// a dead shard makes only its own copies unavailable (the others are read
// and written on), and a shard whose master fails over serves its copies
// again once its replica is promoted.
func TestRedisClusterShardFails(t *testing.T) {
	c := testkit.StartCluster(t)
	client, err := state.OpenRedis(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	mk := func() *Cache {
		cc := New(Config{Memory: 1 << 20, Redis: client, Retention: time.Hour, RedisRefresh: time.Minute, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		cc.Start()
		t.Cleanup(cc.Close)
		return cc
	}
	writer, reader := mk(), mk()
	p := policy()

	// pages stores n pages through writer and groups them by the master
	// that holds each.
	type stored struct {
		k   Key
		uri string
	}
	byShard := map[*testkit.RedisNode][]stored{}
	pages := func(prefix string, n int) {
		t.Helper()
		done := func() uint64 { st := writer.Stats(); return st.RedisWrites + st.RedisDropped + st.RedisWriteErrors }
		before := done()
		for i := 0; i < n; i++ {
			uri := fmt.Sprintf("/%s/%d", prefix, i)
			req := request(uri)
			k := keys().Build(nil, req)
			cp, _ := p.Build(&k, req, response(200, "text/html", page), time.Now())
			writer.Store(&k, cp)
			m, _ := c.MasterOf(c.KeySlot(RedisKey(&k)))
			byShard[m] = append(byShard[m], stored{k, uri})
		}
		testkit.WaitFor(t, 15*time.Second, "the copies to be written (or dropped for a dead shard)", func() bool { return done() >= before+uint64(n) })
	}
	served := func(s stored) bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return reader.LookupRemote(ctx, &s.k, request(s.uri)) != nil
	}
	pages("a", 60)
	if len(byShard) != 3 {
		t.Fatalf("60 pages landed on %d shards; want all 3", len(byShard))
	}

	// A master without a replica dies: only its copies are gone.
	var dead *testkit.RedisNode
	for m := range byShard {
		dead = m
		break
	}
	_, reps := c.MasterOf(c.KeySlot(RedisKey(&byShard[dead][0].k)))
	reps[0].Kill()
	dead.Kill()
	deadPages := byShard[dead]
	served(deadPages[0]) // the first read finds the shard down
	testkit.WaitFor(t, 10*time.Second, "the reader to mark the shard down", func() bool { return reader.Stats().RedisShardsDown == 1 })
	for m, ss := range byShard {
		for _, s := range ss {
			if got := served(s); got != (m != dead) {
				t.Errorf("page %s on %s (dead: %v) served from redis: %v", s.uri, m.Addr, m == dead, got)
			}
		}
	}
	pages("b", 30) // writes to the live shards go on
	for m, ss := range byShard {
		if m != dead && !served(ss[len(ss)-1]) {
			t.Errorf("a page written to live shard %s while another was down is not served", m.Addr)
		}
	}
	dead.Start()
	reps[0].Start()
	c.WaitHealthy(t, 30*time.Second)
	testkit.WaitFor(t, 10*time.Second, "the shard to be found back", func() bool { return reader.Stats().RedisShardsDown == 0 })

	// A master with a replica dies: its copies come back with the replica.
	byShard = map[*testkit.RedisNode][]stored{}
	pages("c", 30)
	var victim *testkit.RedisNode
	for m := range byShard {
		victim = m
		break
	}
	mine := byShard[victim]
	victim.Kill()
	// go-redis alone would wait up to a minute for its periodic slot map
	// reload; the bound says the reload came with the failure.
	took := testkit.WaitFor(t, 15*time.Second, "the failed-over shard's copies to be served", func() bool {
		for _, s := range mine {
			if !served(s) {
				return false
			}
		}
		return true
	})
	t.Logf("copies on the shard whose master was killed were served again %s after the kill", took)
}
