package testkit

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SentinelMaster is the master name a Sentinel set monitors.
const SentinelMaster = "awning"

// Sentinel timings: short, so a test's failover takes seconds, but not so
// short that a loaded machine (the race detector on two shared cores) makes
// the sentinels see a busy master as down. A master is down after
// SentinelDownAfter without answers; a failover that stalls is
// abandoned after SentinelFailoverTimeout, and the sentinels do not start
// another failover of the same master on their own within twice that of
// the last one (SENTINEL FAILOVER is not held back).
const (
	SentinelDownAfter       = 2 * time.Second
	SentinelFailoverTimeout = 3 * time.Second
)

// Sentinel is a Redis Sentinel set on loopback: a master, one replica and
// three sentinels (quorum two), from Debian's redis-server and
// redis-sentinel, persistence off. Data lists the two data servers; which
// of them is the master changes with failovers (MasterAddr says).
type Sentinel struct {
	t         testing.TB
	Data      []*RedisNode
	Sentinels []*RedisNode
}

// StartSentinel starts the set and waits until the replica is in sync and
// every sentinel knows the replica and the other sentinels.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	needTools(t, "redis-server", "redis-sentinel")
	s := &Sentinel{t: t}
	for i := 0; i < 2; i++ {
		n := newRedisNode(t, "redis-server")
		n.args = []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(n.Port), "--save", "", "--appendonly", "no",
			"--dir", n.Dir, "--protected-mode", "no", "--loglevel", "warning",
			"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}
		s.Data = append(s.Data, n)
	}
	master, replica := s.Data[0], s.Data[1]
	master.Start()
	replica.Start("--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	for i := 0; i < 3; i++ {
		n := newRedisNode(t, "redis-sentinel")
		conf := filepath.Join(n.Dir, "sentinel.conf")
		text := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
dir %s
loglevel warning
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
sentinel parallel-syncs %s 1
`, n.Port, n.Dir, SentinelMaster, master.Port, SentinelMaster, SentinelDownAfter.Milliseconds(),
			SentinelMaster, SentinelFailoverTimeout.Milliseconds(), SentinelMaster)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		n.args = []string{conf}
		n.Start()
		s.Sentinels = append(s.Sentinels, n)
	}
	s.WaitHealthy(t, 30*time.Second)
	return s
}

// URL is the redis+sentinel:// URL naming every sentinel.
func (s *Sentinel) URL() string {
	u := "redis+sentinel://" + s.Sentinels[0].Addr + "?master_name=" + SentinelMaster
	for _, n := range s.Sentinels[1:] {
		u += "&addr=" + n.Addr
	}
	return u
}

// MasterAddr returns the master's address in the newest configuration the
// running sentinels know.
func (s *Sentinel) MasterAddr() (string, error) {
	best, addr := int64(-1), ""
	var lastErr error
	for _, n := range s.Sentinels {
		if !n.Running() {
			continue
		}
		v, err := n.Do("SENTINEL", "MASTER", SentinelMaster)
		if err != nil {
			lastErr = err
			continue
		}
		m := pairs(v)
		epoch, _ := strconv.ParseInt(m["config-epoch"], 10, 64)
		if epoch > best {
			best, addr = epoch, net.JoinHostPort(m["ip"], m["port"])
		}
	}
	if addr == "" {
		return "", fmt.Errorf("testkit: no sentinel answered: %v", lastErr)
	}
	return addr, nil
}

// Node returns the data server at addr, nil if there is none.
func (s *Sentinel) Node(addr string) *RedisNode {
	for _, n := range s.Data {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// Master returns the data server the sentinels name master.
func (s *Sentinel) Master() *RedisNode {
	s.t.Helper()
	addr, err := s.MasterAddr()
	if err != nil {
		s.t.Fatal(err)
	}
	return s.Node(addr)
}

// Other returns the data server that is not n.
func (s *Sentinel) Other(n *RedisNode) *RedisNode {
	if s.Data[0] == n {
		return s.Data[1]
	}
	return s.Data[0]
}

// Failover asks a sentinel for a failover (SENTINEL FAILOVER): the replica
// is promoted without agreement, and the old master keeps running as a
// master until the sentinels turn it into a replica, some seconds later.
// A failover the sentinels still finish (INPROG) is waited for, up to
// twice SentinelFailoverTimeout.
func (s *Sentinel) Failover() error {
	deadline := time.Now().Add(2 * SentinelFailoverTimeout)
	for {
		_, err := s.Sentinels[0].Do("SENTINEL", "FAILOVER", SentinelMaster)
		if err == nil || !strings.HasPrefix(err.Error(), "INPROG") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitMasterNot waits until the sentinels name a master other than addr,
// and returns it.
func (s *Sentinel) WaitMasterNot(t testing.TB, addr string, d time.Duration) string {
	t.Helper()
	var now string
	WaitFor(t, d, "the sentinels to name a master other than "+addr, func() bool {
		now, _ = s.MasterAddr()
		return now != "" && now != addr
	})
	return now
}

// WaitHealthy waits until the master has its replica online and in sync
// and every sentinel knows the master, the replica and the two other
// sentinels: the set can fail over again.
func (s *Sentinel) WaitHealthy(t testing.TB, d time.Duration) {
	t.Helper()
	WaitFor(t, d, "the sentinel set to be healthy (replica in sync, sentinels agreed)", func() bool {
		addr, err := s.MasterAddr()
		if err != nil {
			return false
		}
		master := s.Node(addr)
		if master == nil || !master.Running() {
			return false
		}
		if role, _ := master.Info("replication", "role"); role != "master" {
			return false
		}
		replica := s.Other(master)
		if link, _ := replica.Info("replication", "master_link_status"); link != "up" {
			return false
		}
		if host, _ := replica.Info("replication", "master_port"); host != strconv.Itoa(master.Port) {
			return false
		}
		for _, sn := range s.Sentinels {
			m, err := sn.Do("SENTINEL", "MASTER", SentinelMaster)
			if err != nil {
				return false
			}
			mm := pairs(m)
			if net.JoinHostPort(mm["ip"], mm["port"]) != addr || strings.Contains(mm["flags"], "down") ||
				strings.Contains(mm["flags"], "failover") || mm["num-other-sentinels"] != "2" {
				return false
			}
			reps, err := sn.Do("SENTINEL", "REPLICAS", SentinelMaster)
			if err != nil {
				return false
			}
			ok := false
			for _, r := range reps.([]any) {
				rm := pairs(r)
				if rm["port"] == strconv.Itoa(replica.Port) && !strings.Contains(rm["flags"], "down") &&
					!strings.Contains(rm["flags"], "disconnected") && rm["role-reported"] == "slave" && rm["master-link-status"] == "ok" {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		return true
	})
}

// RestartAsReplica starts a killed data server again as a replica of the
// current master, as an operator would bring a crashed server back.
func (s *Sentinel) RestartAsReplica(t testing.TB, n *RedisNode) {
	t.Helper()
	addr, err := s.MasterAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	n.Start("--replicaof", "127.0.0.1", port)
}
