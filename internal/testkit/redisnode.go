package testkit

import (
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisNode is one redis-server or redis-sentinel process of a Sentinel set
// or a Cluster, on a loopback port of its own with a directory of its own.
// Kill, Pause, Resume and Start act on its PID, so a test can crash it, hang
// it and bring it back (empty: persistence is off; a cluster node keeps its
// nodes.conf and rejoins). The test's Cleanup stops it. It is safe for
// concurrent use.
type RedisNode struct {
	t    testing.TB
	Addr string
	Port int
	Dir  string
	bin  string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *Buffer
	done chan struct{}
}

// needTools fails the test (never skips it) when a Debian tool is missing:
// `make test` installs them (scripts/install-test-deps.sh).
func needTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("testkit: %s is not installed; run `make test` (scripts/install-test-deps.sh installs it) or apt-get install redis-server redis-sentinel", tool)
		}
	}
}

func newRedisNode(t testing.TB, bin string, args ...string) *RedisNode {
	t.Helper()
	port := FreePort(t)
	n := &RedisNode{t: t, Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: t.TempDir(), bin: bin, args: args}
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() {
			t.Logf("%s on %s logged:\n%s", bin, n.Addr, n.Log())
		}
	})
	return n
}

// Start starts the process (again) with its arguments plus extra, and
// waits until it answers PING.
func (n *RedisNode) Start(extra ...string) {
	n.t.Helper()
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		n.t.Fatalf("testkit: %s already runs", n.Addr)
	}
	args := append(append([]string(nil), n.args...), extra...)
	cmd := exec.Command(n.bin, args...)
	cmd.Dir = n.Dir
	dieWithTest(cmd)
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		n.t.Fatalf("testkit: start %s: %v", n.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	n.cmd, n.out, n.done = cmd, out, done
	n.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := RedisDo(n.Addr, time.Second, "PING"); err == nil {
			return
		}
		select {
		case <-done:
			n.t.Fatalf("testkit: %s on %s exited at start:\n%s", n.bin, n.Addr, out.String())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("testkit: %s on %s did not answer PING within 10s:\n%s", n.bin, n.Addr, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill sends SIGKILL (a crash, not a shutdown) and waits for the process
// to end. A node that does not run is left alone.
func (n *RedisNode) Kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	killGroup(cmd, syscall.SIGCONT) // a paused process dies too
	killGroup(cmd, syscall.SIGKILL)
	<-done
	// Its forked children (a save for a replica) are gone too, though not
	// waited for: the port is free once the last of them has exited.
	waitPortFree(n.Addr)
}

// Pause stops the process (SIGSTOP): it hangs, its connections stay open.
func (n *RedisNode) Pause() { n.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (n *RedisNode) Resume() { n.signal(syscall.SIGCONT) }

func (n *RedisNode) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		n.cmd.Process.Signal(sig)
	}
}

// Running reports whether the process was started and not killed.
func (n *RedisNode) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// PID returns the process id, 0 when it does not run.
func (n *RedisNode) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Log returns what the process wrote.
func (n *RedisNode) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.out == nil {
		return ""
	}
	return n.out.String()
}

// Do sends one command to the node (RedisDo).
func (n *RedisNode) Do(args ...string) (any, error) { return RedisDo(n.Addr, 0, args...) }

// String is Do for a command whose reply is a string.
func (n *RedisNode) String(args ...string) (string, error) { return RedisString(n.Addr, args...) }

// Info returns one field of one INFO section.
func (n *RedisNode) Info(section, field string) (string, error) {
	return InfoField(n.Addr, section, field)
}

// WaitReplicated waits until replica has taken everything master had
// taken when it was called, so that a failover to it keeps it.
func WaitReplicated(t testing.TB, master, replica *RedisNode) {
	t.Helper()
	v, err := master.Info("replication", "master_repl_offset")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.ParseInt(v, 10, 64)
	WaitFor(t, 10*time.Second, "the replica to catch up with its master", func() bool {
		v, _ := replica.Info("replication", "slave_repl_offset")
		got, err := strconv.ParseInt(v, 10, 64)
		return err == nil && got >= want
	})
}
