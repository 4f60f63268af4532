package node

import (
	"strconv"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestFleetOnSentinel runs the drills on a Sentinel set (master, replica,
// three sentinels): pub/sub connections killed twice in a row, FLUSHALL,
// the master SIGKILLed, a master without a replica killed, SENTINEL
// FAILOVER. See fleet_test.go for what every drill asserts.
func TestFleetOnSentinel(t *testing.T) {
	s := testkit.StartSentinel(t)
	f := startFleet(t, s.URL(), func(string) int { return 0 }, 1)
	f.steady = func() {
		s.WaitHealthy(t, 60*time.Second)
		m := s.Master()
		testkit.WaitReplicated(t, m, s.Other(m))
	}
	// newMaster reports whether the sentinels name a master other than old.
	newMaster := func(old *string) func() bool {
		return func() bool {
			a, _ := s.MasterAddr()
			return a != "" && a != *old
		}
	}
	n := rounds(t)
	for range n {
		f.drill(drillSpec{name: "sentinel: pub/sub killed twice", shard: -1,
			breakIt: func() time.Time { return pubsubKills(t, s.Master()) }})

		f.drill(drillSpec{name: "sentinel: FLUSHALL", shard: -2,
			breakIt: func() time.Time {
				t0 := time.Now()
				if _, err := s.Master().Do("FLUSHALL"); err != nil {
					t.Fatal(err)
				}
				return t0
			},
			repair: f.seed})

		var killed *testkit.RedisNode
		var killedAddr string
		f.drill(drillSpec{name: "sentinel: master SIGKILLed", shard: 0, copies: true,
			breakIt: func() time.Time {
				killed = s.Master()
				killedAddr = killed.Addr
				killed.Kill()
				return time.Now()
			},
			switched: newMaster(&killedAddr),
			repair: func() {
				s.RestartAsReplica(t, killed)
				s.WaitHealthy(t, 30*time.Second)
			}})

		var master *testkit.RedisNode
		f.drill(drillSpec{name: "sentinel: master without a replica killed", shard: -2,
			breakIt: func() time.Time {
				master = s.Master()
				s.Other(master).Kill()
				master.Kill()
				return time.Now()
			},
			during: func() {
				f.awaitWriteErrors("writes failing while it is down", 2) // shoppers are served meanwhile
				master.Start()                                           // back empty: the nodes write their state back
			},
			repair: func() {
				s.Other(master).Start("--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
				s.WaitHealthy(t, 30*time.Second)
				f.seed()
			}})

		var old string
		f.drill(drillSpec{name: "sentinel: SENTINEL FAILOVER", shard: 0, copies: true,
			breakIt: func() time.Time {
				old = s.Master().Addr
				t0 := time.Now()
				if err := s.Failover(); err != nil {
					t.Fatal(err)
				}
				return t0
			},
			// The old master turns replica some seconds later: the next
			// drill's steady waits for it.
			switched: newMaster(&old)})
	}
	f.report()
}

// TestFleetOnCluster runs the drills on a Cluster (three masters, three
// replicas): pub/sub connections killed twice in a row, FLUSHALL, CLUSTER
// FAILOVER and SIGKILL of the master holding the state, and a master
// without a replica killed (another shard: the state's writes must not
// fail, and the other shards' copies must be served throughout).
func TestFleetOnCluster(t *testing.T) {
	c := testkit.StartCluster(t)
	// redis-cli --cluster create gives the three masters these slot ranges;
	// failovers move whole ranges, so a range is a shard.
	first := []int{0, 5461, 10923}
	shardOfSlot := func(slot int) int {
		switch {
		case slot < first[1]:
			return 0
		case slot < first[2]:
			return 1
		}
		return 2
	}
	f := startFleet(t, c.URL(), func(key string) int { return shardOfSlot(c.KeySlot(key)) }, 3)
	stateSlot := c.KeySlot("{awning-state}:scopes")
	stateShard := shardOfSlot(stateSlot)
	f.steady = func() {
		c.WaitHealthy(t, 60*time.Second)
		for _, slot := range first {
			m, reps := c.MasterOf(slot)
			testkit.WaitReplicated(t, m, reps[0])
		}
	}
	n := rounds(t)
	for range n {
		f.drill(drillSpec{name: "cluster: pub/sub killed twice", shard: -1,
			breakIt: func() time.Time {
				var running []*testkit.RedisNode
				for _, n := range c.Nodes {
					if n.Running() {
						running = append(running, n)
					}
				}
				return pubsubKills(t, running...)
			}})

		f.drill(drillSpec{name: "cluster: FLUSHALL", shard: -2,
			breakIt: func() time.Time {
				t0 := time.Now()
				for _, m := range c.Masters() {
					if _, err := m.Do("FLUSHALL"); err != nil {
						t.Fatal(err)
					}
				}
				return t0
			},
			repair: f.seed})

		f.drill(drillSpec{name: "cluster: CLUSTER FAILOVER", shard: stateShard, copies: true,
			breakIt: func() time.Time {
				m, reps := c.MasterOf(stateSlot)
				testkit.WaitReplicated(t, m, reps[0])
				t0 := time.Now()
				if _, err := reps[0].Do("CLUSTER", "FAILOVER"); err != nil {
					t.Fatal(err)
				}
				return t0
			},
			repair: func() { c.WaitHealthy(t, 30*time.Second) }})

		var killed *testkit.RedisNode
		f.drill(drillSpec{name: "cluster: master SIGKILLed", shard: stateShard, copies: true,
			breakIt: func() time.Time {
				killed, _ = c.MasterOf(stateSlot)
				killed.Kill()
				return time.Now()
			},
			switched: func() bool {
				addr, err := c.MasterAddrOf(stateSlot)
				return err == nil && addr != "" && addr != killed.Addr
			},
			repair: func() {
				killed.Start()
				c.WaitHealthy(t, 30*time.Second)
			}})

		other := (stateShard + 1) % 3
		var master, replica *testkit.RedisNode
		f.drill(drillSpec{name: "cluster: master without a replica killed", shard: other, writesGoOn: true,
			breakIt: func() time.Time {
				var reps []*testkit.RedisNode
				master, reps = c.MasterOf(first[other])
				replica = reps[0]
				replica.Kill()
				master.Kill()
				return time.Now()
			},
			during: func() { f.awaitWrites("writes while its copies are missing", 5) }, // the rest works
			repair: func() {
				master.Start()
				replica.Start()
				c.WaitHealthy(t, 30*time.Second)
				f.seed()
			}})
	}
	f.report()
}
