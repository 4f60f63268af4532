package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/awningproxy/awning/admin"
)

// Phases of a node, for the listeners check.
const (
	phaseStarting int32 = iota
	phaseServing
	phaseDraining
)

// dirProbeEvery bounds how often /readyz writes its probe file in the
// state directory, however often load balancers ask.
const dirProbeEvery = 10 * time.Second

// dirProbe caches the outcome of checkStateDir.
type dirProbe struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

func (p *dirProbe) check(n *Node) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at.IsZero() || time.Since(p.at) >= dirProbeEvery {
		p.err, p.at = checkStateDir(n.Config(), false), time.Now()
	}
	return p.err
}

// checks reports the node's dependencies for GET /readyz. The
// configuration in force and open listeners are required; the state
// directory, Redis and the certificate store are reported only, because
// the node serves shoppers without them (from memory) and every node would
// fail them at once: taking them all out of the load balancer would close
// every shop.
func (n *Node) checks(ctx context.Context) map[string]admin.Check {
	cfg := n.Config()
	out := map[string]admin.Check{}

	c := admin.Check{OK: true, Required: true,
		Detail: fmt.Sprintf("%s, loaded %s, %d sites", n.path, time.Unix(0, n.loadedAt.Load()).UTC().Format(time.RFC3339), n.reg.Load().Len())}
	if e := n.reloadErr.Load(); e != nil {
		c.Error = "the last reload failed; the configuration loaded before keeps serving: " + *e
	}
	out["config"] = c

	c = admin.Check{Required: true}
	switch n.phase.Load() {
	case phaseStarting:
		c.Error = "not open yet"
	case phaseServing:
		c.OK = true
		a := n.Addrs()
		c.Detail = "http " + strings.Join(a.HTTP, " ")
		if len(a.HTTPS) > 0 {
			c.Detail += ", https " + strings.Join(a.HTTPS, " ")
		}
		c.Detail += ", admin " + strings.Join(a.Admin, " ")
	case phaseDraining:
		c.Error = "draining: the node is stopping"
	}
	out["listeners"] = c

	dirs := stateDirs(cfg)
	err := n.dirProbe.check(n)
	c = admin.Check{OK: err == nil, Detail: dirs[0]}
	if err != nil {
		c.Error = err.Error()
	}
	out["state_dir"] = c

	if n.redis != nil {
		c = admin.Check{Detail: "shared state, copies and certificates; without it the node serves from memory"}
		if err := n.redis.Ping(ctx).Err(); err != nil {
			c.Error = err.Error()
		} else {
			c.OK = true
		}
		out["redis"] = c

		c = admin.Check{OK: n.state.Stats().Syncing, Detail: "the loop that follows the shared state in redis"}
		if !c.OK {
			c.Error = "not running: restarting after a panic (see the log); this node may miss changes until it runs"
		}
		out["state_sync"] = c
	}

	if n.certs != nil {
		c = admin.Check{OK: err == nil, Detail: "tls.mode " + cfg.TLS.Mode + ", store " + dirs[1]}
		if n.store != nil {
			c.Detail += " (a copy of what is in redis)"
		}
		if err != nil {
			c.Error = err.Error()
		}
		out["certificates"] = c
	}
	return out
}

// reset forgets the cached outcome, for tests.
func (p *dirProbe) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at = time.Time{}
}
