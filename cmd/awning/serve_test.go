package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// unprivileged is who the start-up tests run awning as: the test's own user,
// or nobody when the tests run as root (root may bind any port and write
// any directory, so the refusals under test would not happen).
type unprivileged struct {
	cred *syscall.Credential // nil: the test's own user
	dir  string              // a directory that user can read
}

func asUnprivileged(t *testing.T) unprivileged {
	t.Helper()
	// t.TempDir's parents are private to the test's user; nobody needs to
	// reach the binary and the config.
	dir, err := os.MkdirTemp("", "awning-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	u := unprivileged{dir: dir}
	if os.Getuid() != 0 {
		return u
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root, the test needs the user nobody to drop privileges: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	u.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return u
}

// ownDir makes a directory the unprivileged user owns.
func (u unprivileged) ownDir(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(u.dir, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if u.cred != nil {
		if err := os.Chown(d, int(u.cred.Uid), int(u.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// serveFails runs `awning serve` with the config yaml as u and returns its
// stderr, failing unless it exits with status 1 within 2s.
func (u unprivileged) serveFails(t *testing.T, yaml string) string {
	t.Helper()
	src := binary(t)
	bin := filepath.Join(u.dir, "awning")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(u.dir, "awning.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr, stdout testkit.Buffer
	cmd := exec.Command(bin, "serve", "--config", path)
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	cmd.Env = append(os.Environ(), "STATE_DIRECTORY=")
	if u.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.cred}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("exit: %v; want status 1\nstderr: %s", err, stderr.String())
		}
	case <-time.After(2 * time.Second):
		cmd.Process.Kill()
		<-errc
		t.Fatalf("awning serve still running after 2s; it must fail at once\nstderr: %s", stderr.String())
	}
	if stdout.String() != "" {
		t.Errorf("stdout: %q; want the failure on stderr only", stdout.String())
	}
	return stderr.String()
}

// serveConfig is a config listening on http (HTTPS off unless tlsMode
// says otherwise) with state in stateDir.
func serveConfig(http, stateDir, tlsMode string) string {
	return "listen: {http: \"" + http + "\", https: \"127.0.0.1:0\", admin: \"127.0.0.1:0\"}\n" +
		"tls: {mode: \"" + tlsMode + "\"}\nstate: {dir: \"" + stateDir + "\"}\n" +
		"sites:\n  - name: shop\n    hosts: [shop.example]\n    origin: {urls: [\"http://127.0.0.1:1\"]}\n"
}

// wantOneLine checks that stderr is the one line of the failure, with each
// of want in it.
func wantOneLine(t *testing.T, stderr string, want ...string) {
	t.Helper()
	if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
		t.Errorf("stderr has %d lines; want one:\n%s", n+1, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
}

// TestServeFailsFastOnTakenPort: a port another process holds (without
// SO_REUSEPORT, as nginx or a second service would) ends serve at once.
func TestServeFailsFastOnTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u := asUnprivileged(t)
	got := u.serveFails(t, serveConfig(ln.Addr().String(), u.ownDir(t, "state"), "off"))
	wantOneLine(t, got, "awning: ", "listen.http", ln.Addr().String(), "already in use")
}

// TestServeFailsFastOnPrivilegedPort is the README's minimal config run by
// a user who may not bind ports below 1024.
func TestServeFailsFastOnPrivilegedPort(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		t.Fatalf("reading which ports are privileged: %v", err)
	}
	start, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if start == 0 {
		// Every user may bind every port here: make the usual 1024 the
		// bound for the test's duration, or say loudly why it cannot run.
		const sysctl = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
		if err := os.WriteFile(sysctl, []byte("1024"), 0o644); err != nil {
			t.Fatalf("net.ipv4.ip_unprivileged_port_start is 0 (no port is forbidden) and cannot be set to 1024 for this test: %v", err)
		}
		t.Cleanup(func() { os.WriteFile(sysctl, b, 0o644) })
		start = 1024
	}
	port := min(80, start-1)
	u := asUnprivileged(t)
	got := u.serveFails(t, serveConfig("127.0.0.1:"+strconv.Itoa(port), u.ownDir(t, "state"), "off"))
	wantOneLine(t, got, "listen.http", "permission denied", "CAP_NET_BIND_SERVICE")
}

// TestServeFailsFastOnUnwritableStateDir: a state directory the user
// cannot create, one it cannot write, and one whose snapshot (left by a
// run as root) it cannot read end serve before it listens, naming
// state.dir.
func TestServeFailsFastOnUnwritableStateDir(t *testing.T) {
	u := asUnprivileged(t)
	locked := filepath.Join(u.dir, "locked") // owned by the test's user, read-only to everyone
	if err := os.Mkdir(locked, 0o555); err != nil {
		t.Fatal(err)
	}
	owned := u.ownDir(t, "owned")
	snapshot := filepath.Join(owned, "state.json") // the test's user's, unreadable to the one running awning
	if err := os.WriteFile(snapshot, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A certificate store with a key the user cannot read.
	certs := u.ownDir(t, "certs")
	u.ownDir(t, "certs/local-ca")
	caKey := filepath.Join(certs, "local-ca", "ca.key")
	if err := os.WriteFile(caKey, []byte("-----BEGIN EC PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if u.cred == nil {
		os.Chmod(snapshot, 0)
		os.Chmod(caKey, 0)
		t.Cleanup(func() { os.Chmod(locked, 0o755) })
	}
	tests := []struct{ name, dir, tls, want string }{
		{"create", filepath.Join(locked, "state"), "off", "cannot create " + filepath.Join(locked, "state")},
		{"write", locked, "off", "cannot write in " + locked},
		{"snapshot", owned, "off", "cannot read " + snapshot},
		{"certificates", certs, "self-signed", "cannot read " + caKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := u.serveFails(t, serveConfig("127.0.0.1:0", tt.dir, tt.tls))
			wantOneLine(t, got, "state.dir", tt.want, "permission denied")
		})
	}
}

// TestServeSocketActivation passes awning the sockets it serves on, as
// systemd does for a .socket unit: the process needs no privilege to bind,
// and the configured addresses are not used (listen.http here is a port
// another process holds).
func TestServeSocketActivation(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Respond(200, "from the origin"))
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var files []*os.File
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		ln.Close() // the socket lives on in f
		files = append(files, f)
	}
	u := asUnprivileged(t)
	cfg := strings.Replace(serveConfig(held.Addr().String(), u.ownDir(t, "state"), "off"), "http://127.0.0.1:1", o.URL(), 1)
	path := filepath.Join(u.dir, "awning.yaml")
	os.WriteFile(path, []byte(cfg), 0o644)
	bin := filepath.Join(u.dir, "awning")
	data, _ := os.ReadFile(binary(t))
	os.WriteFile(bin, data, 0o755)

	var logs testkit.Buffer
	// systemd sets LISTEN_PID to the pid of the process it execs; a shell
	// that execs awning keeps its pid.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=http:admin exec "$0" serve --config "$1"`, bin, path)
	cmd.ExtraFiles = files
	cmd.Stderr = &logs
	if u.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.cred}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	}()
	testkit.WaitFor(t, 10*time.Second, "the admin API on the passed socket to say ready", func() bool {
		resp, err := http.Get("http://" + addrs[1] + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	req, _ := http.NewRequest("GET", "http://"+addrs[0]+"/", nil)
	req.Host = "shop.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "from the origin" || resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("through the passed http socket: %q %q", resp.Header.Get("Awning-Served"), body)
	}
	if !strings.Contains(logs.String(), "serving on a socket from systemd") {
		t.Errorf("the log does not say where the sockets came from:\n%s", logs.String())
	}
}
