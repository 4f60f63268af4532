package testkit

import (
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ClusterNodeTimeout is the cluster-node-timeout of a test Cluster: a
// master is failed, and its replica elected, a few seconds after it dies;
// shorter makes a loaded machine fail masters that are only slow.
const ClusterNodeTimeout = 2 * time.Second

// Cluster is a Redis Cluster on loopback: three masters with one replica
// each, from Debian's redis-server, each node with its own directory and
// cluster bus port, persistence off (a restarted node rejoins from its
// nodes.conf, empty). It runs with cluster-require-full-coverage no and
// cluster-allow-reads-when-down yes, as docs/operations.md asks.
type Cluster struct {
	t     testing.TB
	Nodes []*RedisNode
}

// StartCluster starts six nodes, joins them with `redis-cli --cluster
// create … --cluster-replicas 1` and waits until every node sees the
// cluster ok and every replica is in sync.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	needTools(t, "redis-server", "redis-cli")
	c := &Cluster{t: t}
	for i := 0; i < 6; i++ {
		n := newRedisNode(t, "redis-server")
		n.args = []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(n.Port), "--save", "", "--appendonly", "no",
			"--dir", n.Dir, "--protected-mode", "no", "--loglevel", "warning",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(FreePort(t)),
			"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
			"--cluster-require-full-coverage", "no", "--cluster-allow-reads-when-down", "yes",
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}
		n.Start()
		c.Nodes = append(c.Nodes, n)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	var out bytes.Buffer
	cmd := exec.Command("redis-cli", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("testkit: redis-cli --cluster create: %v\n%s", err, out.String())
	}
	c.WaitHealthy(t, 30*time.Second)
	return c
}

// URL is the redis+cluster:// URL naming every node.
func (c *Cluster) URL() string {
	u, sep := "redis+cluster://"+c.Nodes[0].Addr, "?"
	for _, n := range c.Nodes[1:] {
		u, sep = u+sep+"addr="+n.Addr, "&"
	}
	return u
}

// ClusterNode is one line of CLUSTER NODES.
type ClusterNode struct {
	ID, Addr, MasterID string
	Master, Failed     bool
	Slots              [][2]int
}

// Topology returns CLUSTER NODES as a running node sees it.
func (c *Cluster) Topology() ([]ClusterNode, error) {
	var lastErr error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		text, err := n.String("CLUSTER", "NODES")
		if err != nil {
			lastErr = err
			continue
		}
		return parseClusterNodes(text), nil
	}
	return nil, fmt.Errorf("testkit: no cluster node answered: %v", lastErr)
}

func parseClusterNodes(text string) []ClusterNode {
	var out []ClusterNode
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		cn := ClusterNode{ID: f[0], Addr: addr, MasterID: f[3],
			Master: strings.Contains(f[2], "master"), Failed: strings.Contains(f[2], "fail")}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue // a slot being migrated
			}
			a, b, ok := strings.Cut(r, "-")
			lo, _ := strconv.Atoi(a)
			hi := lo
			if ok {
				hi, _ = strconv.Atoi(b)
			}
			cn.Slots = append(cn.Slots, [2]int{lo, hi})
		}
		out = append(out, cn)
	}
	return out
}

// Node returns the node at addr, nil if there is none.
func (c *Cluster) Node(addr string) *RedisNode {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// KeySlot returns the cluster slot of key (CLUSTER KEYSLOT).
func (c *Cluster) KeySlot(key string) int {
	c.t.Helper()
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		v, err := n.Do("CLUSTER", "KEYSLOT", key)
		if err == nil {
			return int(v.(int64))
		}
	}
	c.t.Fatal("testkit: no cluster node answered CLUSTER KEYSLOT")
	return -1
}

// MasterOf returns the node serving slot as master, and its replicas, as
// the cluster sees them now.
func (c *Cluster) MasterOf(slot int) (master *RedisNode, replicas []*RedisNode) {
	c.t.Helper()
	nodes, err := c.Topology()
	if err != nil {
		c.t.Fatal(err)
	}
	var id string
	for _, n := range nodes {
		for _, r := range n.Slots {
			if n.Master && !n.Failed && slot >= r[0] && slot <= r[1] {
				master, id = c.Node(n.Addr), n.ID
			}
		}
	}
	if master == nil {
		return nil, nil
	}
	for _, n := range nodes {
		if n.MasterID == id {
			replicas = append(replicas, c.Node(n.Addr))
		}
	}
	return master, replicas
}

// MasterAddrOf returns the address of the live master serving slot ("" for
// none), without failing the test: for polling from other goroutines.
func (c *Cluster) MasterAddrOf(slot int) (string, error) {
	nodes, err := c.Topology()
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		for _, r := range n.Slots {
			if n.Master && !n.Failed && slot >= r[0] && slot <= r[1] {
				return n.Addr, nil
			}
		}
	}
	return "", nil
}

// Masters returns the nodes that serve slots as masters now.
func (c *Cluster) Masters() []*RedisNode {
	c.t.Helper()
	nodes, err := c.Topology()
	if err != nil {
		c.t.Fatal(err)
	}
	var out []*RedisNode
	for _, n := range nodes {
		if n.Master && !n.Failed && len(n.Slots) > 0 {
			out = append(out, c.Node(n.Addr))
		}
	}
	return out
}

// WaitHealthy waits until every running node reports cluster_state:ok with
// all 16384 slots served, every master serving slots has a replica in
// sync, and the running nodes agree on who serves which slot.
func (c *Cluster) WaitHealthy(t testing.TB, d time.Duration) {
	t.Helper()
	WaitFor(t, d, "the cluster to be healthy (all slots served, replicas in sync)", func() bool {
		return c.healthy(true)
	})
}

// WaitServed waits until every running node reports all slots served by a
// live master (replicas may be missing).
func (c *Cluster) WaitServed(t testing.TB, d time.Duration) {
	t.Helper()
	WaitFor(t, d, "the cluster to serve every slot", func() bool { return c.healthy(false) })
}

func (c *Cluster) healthy(replicas bool) bool {
	var view string
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		info, err := n.String("CLUSTER", "INFO")
		if err != nil || !strings.Contains(info, "cluster_state:ok\r\n") || !strings.Contains(info, "cluster_slots_ok:16384\r\n") {
			return false
		}
		text, err := n.String("CLUSTER", "NODES")
		if err != nil {
			return false
		}
		nodes := parseClusterNodes(text)
		var owners []string
		for _, cn := range nodes {
			if cn.Master && len(cn.Slots) > 0 {
				if cn.Failed {
					return false
				}
				owners = append(owners, fmt.Sprint(cn.Addr, cn.Slots))
			}
		}
		sort.Strings(owners)
		v := strings.Join(owners, ";")
		if view != "" && v != view {
			return false
		}
		view = v
		if replicas && n.Running() {
			if role, _ := n.Info("replication", "role"); role == "slave" {
				if link, _ := n.Info("replication", "master_link_status"); link != "up" {
					return false
				}
			}
		}
	}
	if !replicas {
		return view != ""
	}
	nodes, err := c.Topology()
	if err != nil {
		return false
	}
	for _, m := range nodes {
		if !m.Master || len(m.Slots) == 0 {
			continue
		}
		ok := false
		for _, r := range nodes {
			if r.MasterID == m.ID && !r.Failed && c.Node(r.Addr) != nil && c.Node(r.Addr).Running() {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
