package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
)

// process is one awning serve process of a cluster test.
type process struct {
	name      string
	http, adm string
	logs      testkit.Buffer
	cmd       *exec.Cmd
}

const clusterToken = "awn_cluster_test_token_0123456789"

func startProcess(t *testing.T, bin, name, redisURL, origin string) *process {
	t.Helper()
	p := &process{name: name,
		http: fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
		adm:  fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))}
	sum := sha256.Sum256([]byte(clusterToken))
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen: {http: %q, admin: %q}
state: {redis: %q, dir: %q}
tls: {mode: "off"}
log: {format: text}
admin: {tokens: [{name: ops, sha256: %q, sites: ["*"]}]}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: [%q], health: {path: /, interval: 1s}}
    page: {languages: [nl, en]}
`, p.http, p.adm, redisURL, dir, hex.EncodeToString(sum[:]), origin)
	path := filepath.Join(dir, "awning.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	p.cmd = exec.Command(bin, "serve", "--config", path)
	p.cmd.Stderr = &p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", p.name, p.logs.String())
		}
	})
	testkit.WaitFor(t, 20*time.Second, name+" to be ready", func() bool {
		resp, err := http.Get("http://" + p.adm + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

// served returns Awning-Served for GET / on the process.
func (p *process) served() string {
	req, _ := http.NewRequest("GET", "http://"+p.http+"/", nil)
	req.Host = "shop.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get("Awning-Served")
}

// maintenance returns the maintenance mode the process's own store holds
// ("" for none), read through its admin API.
func (p *process) maintenance(t *testing.T) string {
	req, _ := http.NewRequest("GET", "http://"+p.adm+"/v1/sites/shop", nil)
	req.Header.Set("Authorization", "Bearer "+clusterToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	var v admin.SiteView
	json.NewDecoder(resp.Body).Decode(&v)
	if v.Maintenance == nil {
		return ""
	}
	return v.Maintenance.Mode
}

// TestThreeProcessesShareMaintenance: three awning processes and one real
// redis-server. Maintenance turned on through node 1 is served by nodes 2
// and 3; the pub/sub connections killed while maintenance is toggled twice
// in quick succession leave every node on the newest state; Redis restarted
// empty does not end the maintenance anywhere.
func TestThreeProcessesShareMaintenance(t *testing.T) {
	bin := binary(t)
	r := testkit.StartRedis(t)
	o := testkit.NewOrigin(t, testkit.Respond(200, "<h1>shop</h1>", "Content-Type: text/html"))
	nodes := []*process{
		startProcess(t, bin, "node1", r.URL(), o.URL()),
		startProcess(t, bin, "node2", r.URL(), o.URL()),
		startProcess(t, bin, "node3", r.URL(), o.URL()),
	}
	cli := func(args ...string) {
		t.Helper()
		args = append(args, "--admin", nodes[0].adm, "--token", clusterToken)
		if err := run(context.Background(), args, io.Discard, io.Discard); err != nil {
			t.Fatalf("awning %s: %v", strings.Join(args, " "), err)
		}
	}
	for _, n := range nodes {
		if got := n.served(); got != "origin" {
			t.Fatalf("%s before maintenance: %q", n.name, got)
		}
	}

	var took []time.Duration
	for round := 0; round < 5; round++ {
		cli("maintenance", "on", "--site", "shop")
		start := time.Now()
		for _, n := range nodes[1:] {
			for n.served() != "maintenance" {
				if time.Since(start) > 10*time.Second {
					t.Fatalf("%s did not serve maintenance within 10s", n.name)
				}
				time.Sleep(500 * time.Microsecond)
			}
		}
		took = append(took, time.Since(start))
		cli("maintenance", "off", "--site", "shop")
		for _, n := range nodes[1:] {
			testkit.WaitFor(t, 10*time.Second, n.name+" to serve the shop again", func() bool { return n.served() == "origin" })
		}
	}
	t.Logf("maintenance set through node 1's admin API was served by nodes 2 and 3 within %v of the CLI returning (polled every 0.5ms)", took)

	admin, _ := state.OpenRedis(r.URL())
	defer admin.Close()
	for round := 0; round < 2; round++ {
		if err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		cli("maintenance", "on", "--site", "shop", "--mode", "full", "--replace")
		cli("maintenance", "on", "--site", "shop", "--mode", "read-only", "--replace")
		for _, n := range nodes {
			testkit.WaitFor(t, 10*time.Second, n.name+" to converge on read-only", func() bool { return n.maintenance(t) == "read-only" })
		}
		cli("maintenance", "on", "--site", "shop", "--mode", "full", "--replace")
		for _, n := range nodes {
			testkit.WaitFor(t, 10*time.Second, n.name+" to converge on full", func() bool { return n.maintenance(t) == "full" })
		}
	}

	r.Restart()                 // empty: persistence is off
	time.Sleep(3 * time.Second) // several version checks
	for _, n := range nodes {
		if got := n.served(); got != "maintenance" {
			t.Errorf("%s after redis restarted empty: %q; want maintenance still", n.name, got)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "the nodes to write the state back to redis", func() bool {
		n, err := admin.Exists(context.Background(), "{awning-state}:scope:shop").Result()
		return err == nil && n == 1
	})
	late := startProcess(t, bin, "node4", r.URL(), o.URL())
	testkit.WaitFor(t, 10*time.Second, "a node started later to get the restored maintenance", func() bool { return late.served() == "maintenance" })
}
