package testkit

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a real redis-server started for one test on a free loopback
// port, with persistence off. It is stopped by the test's Cleanup.
type Redis struct {
	t    testing.TB
	Addr string
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartRedis starts redis-server. It fails the test, never skips it, when
// redis-server is not installed: `make test` installs it.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("testkit: redis-server is not installed; run `make test` (it installs it) or apt-get install redis-server")
	}
	r := &Redis{t: t, Addr: net.JoinHostPort("127.0.0.1", fmt.Sprint(FreePort(t))), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return "redis://" + r.Addr }

func (r *Redis) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.Addr)
	cmd := exec.Command("redis-server",
		"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--protected-mode", "no", "--loglevel", "warning")
	dieWithTest(cmd)
	var out bytes.Buffer // shown only when the server fails to start
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testkit: start redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r.ping() == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("testkit: redis-server on %s did not answer PING within 10s:\n%s", r.Addr, out.String())
}

// ping sends PING over a raw connection, so testkit needs no Redis client.
func (r *Redis) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// Stop kills the server (SIGKILL: a crash, not a shutdown) and waits for it.
// The server's data is lost, as persistence is off.
func (r *Redis) Stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	killGroup(cmd, syscall.SIGKILL)
	cmd.Wait()
	waitPortFree(r.Addr)
}

// Restart starts the server again on the same port, empty.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Stop()
	r.start()
}
