package node

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/testkit"
)

// TestListenErrorsNameTheKey: each way the kernel refuses a listener ends
// in one line that names the key to change. (A privileged port as a
// non-root user is tested on the real binary, cmd/awning's
// TestServeFailsFastOnPrivilegedPort.)
func TestListenErrorsNameTheKey(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cfg, err := config.Parse("awning.yaml", []byte(siteConfig("http://127.0.0.1:1")))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, addr string
		want      []string
	}{
		{"listen.http", held.Addr().String(), []string{"awning.yaml:1:", "listen.http: cannot listen on", "already in use", "set listen.http to a free port"}},
		{"listen.admin", "192.0.2.1:9090", []string{"listen.admin", "this host has no such address"}},
		{"listen.https", "nonsense", []string{"listen.https", "missing port", "check listen.https"}},
	}
	for _, tt := range tests {
		lns, err := listenOn(cfg, tt.key, tt.addr, false)
		if err == nil {
			closeAll(lns)
			t.Errorf("%s %s: listened; want an error", tt.key, tt.addr)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: %q spans lines", tt.key, msg)
		}
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s %s: %q lacks %q", tt.key, tt.addr, msg, w)
			}
		}
	}
}

// TestStateDirChecked: New refuses a state directory it cannot use, even
// as root (a file where the directory should be), naming state.dir; the
// start-up tests of cmd/awning cover permissions as a non-root user.
func TestStateDirChecked(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "local-ca"), []byte("x"), 0o600)
	for name, yaml := range map[string]string{
		"state.dir":    "state: {dir: \"" + blocker + "/state\"}\n" + siteConfig("http://127.0.0.1:1"),
		"certificates": "state: {dir: \"" + dir + "\"}\n" + strings.Replace(siteConfig("http://127.0.0.1:1"), `mode: "off"`, `mode: self-signed`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "awning.yaml")
			os.WriteFile(path, []byte(yaml), 0o600)
			_, err := New(Options{ConfigPath: path})
			if err == nil || !strings.Contains(err.Error(), "state.dir: cannot create") || !strings.Contains(err.Error(), "not a directory") {
				t.Errorf("New = %v; want state.dir named, and why", err)
			}
		})
	}
}

// TestCheckLeavesStateDirAlone: check-config runs where the config is
// written (a laptop, CI), not where it will run: it makes no directory.
func TestCheckLeavesStateDirAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(t.TempDir(), "awning.yaml")
	os.WriteFile(path, []byte("state: {dir: \""+dir+"\"}\n"+siteConfig("http://127.0.0.1:1")), 0o600)
	if _, err := Check(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("check-config made %s (stat: %v)", dir, err)
	}
}

// TestReadyzReportsEachDependency: /readyz names each dependency; Redis
// and the state directory failing are reported without taking the node out
// of the load balancer. (That a drain does is cmd/awning's
// TestSIGTERMDrainsUnderLoad.)
func TestReadyzReportsEachDependency(t *testing.T) {
	r := testkit.StartRedis(t)
	o := testkit.NewOrigin(t, testkit.OK("a"))
	dir := t.TempDir()
	yaml := strings.Replace(selfSignedConfig(o.URL(), dir, ""), "state: {", "state: {redis: \""+r.URL()+"\", ", 1)
	n, _, _ := startNode(t, yaml)
	url := "http://" + n.Addrs().Admin[0] + "/readyz"
	type readyz struct {
		Ready  bool
		Checks map[string]struct {
			OK       bool
			Required bool
			Detail   string
			Error    string
		}
	}
	get := func() (int, readyz) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v readyz
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, v
	}
	code, v := get()
	if code != 200 || !v.Ready {
		t.Errorf("all well: %d %+v; want 200, ready", code, v)
	}
	for name, required := range map[string]bool{"config": true, "listeners": true, "state_dir": false, "redis": false, "certificates": false} {
		c, ok := v.Checks[name]
		if !ok || !c.OK || c.Required != required || c.Detail == "" {
			t.Errorf("check %s = %+v (present %v); want ok, required %v, with a detail", name, c, ok, required)
		}
	}

	r.Stop()
	os.RemoveAll(dir)
	os.WriteFile(dir, []byte("not a directory"), 0o600)
	n.dirProbe.reset()
	code, v = get()
	if code != 200 || !v.Ready {
		t.Errorf("redis and state dir failing: %d, ready %v; want 200: the node serves on from memory", code, v.Ready)
	}
	for _, name := range []string{"redis", "state_dir", "certificates"} {
		if c := v.Checks[name]; c.OK || c.Error == "" {
			t.Errorf("check %s = %+v; want failed, saying why", name, c)
		}
	}
	if !strings.Contains(v.Checks["state_dir"].Error, "state.dir") {
		t.Errorf("state_dir error %q does not name state.dir", v.Checks["state_dir"].Error)
	}
	os.Remove(dir)
}
