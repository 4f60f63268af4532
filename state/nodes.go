package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/awningproxy/awning/internal/supervisor"
	"github.com/redis/go-redis/v9"
)

// Redis keys of the fleet, under the state's hash tag so that one Cluster
// slot holds them and a pipeline over them is one round trip.
const (
	keyNodes     = "{awning-state}:nodes"       // hash: node ID → NodeInfo JSON, the last each said
	keyNodeAlive = "{awning-state}:node-alive:" // + ID: a heartbeat with a TTL
)

// NodeInfo is what a node says of itself in the shared state, for the
// console's view of the fleet.
type NodeInfo struct {
	// ID names this run of the node: its host name and a random suffix,
	// new at every start.
	ID string `json:"id"`
	// Host is the machine's host name.
	Host    string `json:"host"`
	Version string `json:"version,omitempty"`
	// Started is when the node started; Seen is its last heartbeat.
	Started time.Time `json:"started"`
	Seen    time.Time `json:"seen"`
	// Admin are the addresses of its admin listener.
	Admin []string `json:"admin,omitempty"`
	// Sites is how many sites its configuration has.
	Sites int `json:"sites"`
	// Redis says whether the node reaches Redis, as it last said. A node
	// that loses Redis cannot say so through Redis: the others see its
	// heartbeat lapse (Alive false) instead.
	Redis bool `json:"redis"`
	// StateVersion is the newest shared state version the node has
	// applied: nodes that agree show the same number.
	StateVersion int64 `json:"state_version"`

	// Self marks the node that answered; Alive is false once its heartbeat
	// lapsed (it stopped, crashed or lost Redis). Set when read.
	Self  bool `json:"self"`
	Alive bool `json:"alive"`
}

// FleetConfig builds a Fleet.
type FleetConfig struct {
	// Redis is where nodes announce themselves; nil for a node alone.
	Redis redis.UniversalClient
	// Self returns this node's facts (everything but ID, Host, Started and
	// Seen, which the Fleet fills). Required.
	Self func() NodeInfo
	// Every is how often a node announces itself. Default 5s.
	Every time.Duration
	// TTL is how long an announcement counts as alive. Default 3×Every, so
	// two lost heartbeats in a row do not make a node look gone.
	TTL time.Duration
	// Forget is how long a node whose heartbeat lapsed is still listed.
	// Default 10 minutes.
	Forget time.Duration
	// Log receives the loop's errors. Default slog.Default().
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Fleet announces this node in the shared state and lists the nodes that
// announced themselves: a heartbeat key with a TTL per node (alive while it
// exists) and one hash with what each node last said (kept for Forget after
// the heartbeat lapsed, so a node that went away is shown as gone rather
// than silently missing). Without Redis it knows only this node.
//
// A Fleet is safe for concurrent use. Start runs its loop; Close stops it
// and withdraws the node's announcement.
type Fleet struct {
	cfg     FleetConfig
	id      string
	host    string
	started time.Time

	mu      sync.Mutex
	last    time.Time       // the last heartbeat written
	running bool            // Start ran: Close withdraws the announcement
	loop    supervisor.Loop // restarts the heartbeat after a panic

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewFleet builds a Fleet for this node.
func NewFleet(cfg FleetConfig) *Fleet {
	if cfg.Every <= 0 {
		cfg.Every = 5 * time.Second
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 3 * cfg.Every
	}
	if cfg.Forget <= 0 {
		cfg.Forget = 10 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Self == nil {
		cfg.Self = func() NodeInfo { return NodeInfo{} }
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "awning"
	}
	var b [4]byte
	rand.Read(b[:])
	f := &Fleet{cfg: cfg, id: host + "-" + hex.EncodeToString(b[:]), host: host, started: cfg.Now().UTC()}
	f.loop = supervisor.Loop{Name: "fleet heartbeat", Log: cfg.Log}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f
}

// ID returns this node's ID.
func (f *Fleet) ID() string { return f.id }

// self is this node's announcement as of now.
func (f *Fleet) self() NodeInfo {
	n := f.cfg.Self()
	n.ID, n.Host, n.Started, n.Seen = f.id, f.host, f.started, f.cfg.Now().UTC()
	return n
}

// Start announces the node at once and then every Every. Without Redis it
// does nothing.
func (f *Fleet) Start() {
	if f.cfg.Redis == nil {
		return
	}
	f.mu.Lock()
	f.running = true
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.loop.Run(f.ctx, f.beatEvery)
	}()
}

// Close stops the loop and withdraws the node: a node that stops on
// purpose leaves the list at once rather than showing as lost.
func (f *Fleet) Close() {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	running := f.running
	f.running = false
	f.mu.Unlock()
	if !running {
		return // never announced (check-config builds a node and opens no socket)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := f.cfg.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, keyNodeAlive+f.id)
		p.HDel(ctx, keyNodes, f.id)
		return nil
	}); err != nil {
		f.cfg.Log.Warn("node not withdrawn from the fleet list; it will show as lost", "err", err)
	}
}

// beatEvery announces the node now and every Every until ctx ends.
func (f *Fleet) beatEvery(ctx context.Context) {
	t := time.NewTicker(f.cfg.Every)
	defer t.Stop()
	for {
		f.beat()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beat writes the heartbeat and the node's facts in one transaction.
func (f *Fleet) beat() {
	ctx, cancel := context.WithTimeout(f.ctx, f.cfg.Every)
	defer cancel()
	n := f.self()
	data, _ := json.Marshal(n)
	_, err := f.cfg.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, keyNodeAlive+f.id, n.Seen.UnixMilli(), f.cfg.TTL)
		p.HSet(ctx, keyNodes, f.id, data)
		return nil
	})
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			f.cfg.Log.Debug("fleet heartbeat not written", "err", err)
		}
		return
	}
	f.mu.Lock()
	f.last = n.Seen
	f.mu.Unlock()
}

// Nodes lists the fleet: every node that announced itself within Forget,
// this one first and the others by host name. This node is always listed,
// with what it knows of itself now; when Redis cannot be read, it is the
// only one and err says why.
func (f *Fleet) Nodes(ctx context.Context) ([]NodeInfo, error) {
	me := f.self()
	me.Self, me.Alive = true, true
	if f.cfg.Redis == nil {
		return []NodeInfo{me}, nil
	}
	all, err := f.cfg.Redis.HGetAll(ctx, keyNodes).Result()
	if err != nil {
		return []NodeInfo{me}, err
	}
	var others []NodeInfo
	for id, data := range all {
		if id == f.id {
			continue
		}
		var n NodeInfo
		if json.Unmarshal([]byte(data), &n) != nil {
			continue
		}
		others = append(others, n)
	}
	cmds := make([]*redis.IntCmd, len(others))
	if len(others) > 0 {
		_, err = f.cfg.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range others {
				cmds[i] = p.Exists(ctx, keyNodeAlive+n.ID)
			}
			return nil
		})
		if err != nil {
			return []NodeInfo{me}, err
		}
	}
	out := []NodeInfo{me}
	var gone []string
	now := f.cfg.Now()
	for i, n := range others {
		n.Alive = cmds[i].Val() == 1
		if !n.Alive && now.Sub(n.Seen) > f.cfg.Forget {
			gone = append(gone, n.ID)
			continue
		}
		out = append(out, n)
	}
	if len(gone) > 0 {
		// Whoever lists the fleet tidies it: no loop of its own for this.
		if err := f.cfg.Redis.HDel(ctx, keyNodes, gone...).Err(); err != nil {
			f.cfg.Log.Debug("forgotten nodes not removed", "err", err)
		}
	}
	rest := out[1:]
	sort.Slice(rest, func(i, j int) bool {
		if rest[i].Host != rest[j].Host {
			return rest[i].Host < rest[j].Host
		}
		return rest[i].ID < rest[j].ID
	})
	return out, nil
}

// LastBeat returns when this node last wrote its heartbeat; zero before the
// first (or without Redis).
func (f *Fleet) LastBeat() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}
