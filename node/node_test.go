package node

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/testkit"
)

func siteConfig(origin string) string {
	return `listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0"}
tls: {mode: "off"}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["` + origin + `"]}
`
}

// startNode writes yaml to a file and runs a node from it until the test
// ends.
func startNode(t *testing.T, yaml string) (*Node, string, *testkit.Buffer) {
	t.Helper()
	n, path, logs, _ := runNode(t, yaml)
	return n, path, logs
}

func get(t *testing.T, addr, host string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestReloadKeepsOldConfigOnBadFile(t *testing.T) {
	a := testkit.NewOrigin(t, testkit.Respond(200, "a"))
	b := testkit.NewOrigin(t, testkit.Respond(200, "b"))
	n, path, logs := startNode(t, siteConfig(a.URL()))
	addr := n.Addrs().HTTP[0]
	if got := get(t, addr, "shop.example"); got != "a" {
		t.Fatalf("before reload: %q", got)
	}

	bad := strings.Replace(siteConfig(b.URL()), "origin:", "orign:", 1)
	os.WriteFile(path, []byte(bad), 0o600)
	err := n.Reload()
	var errs config.Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), `awning.yaml:6:5: sites[0].orign: unknown key "orign"`) {
		t.Fatalf("Reload error = %v; want the positioned unknown-key error", err)
	}
	if got := get(t, addr, "shop.example"); got != "a" {
		t.Errorf("after a bad reload: %q; want the old config still serving", got)
	}
	if !strings.Contains(logs.String(), "config reload failed; still serving the previous configuration") {
		t.Errorf("bad reload not logged: %s", logs.String())
	}

	os.WriteFile(path, []byte(siteConfig(b.URL())), 0o600)
	if err := n.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := get(t, addr, "shop.example"); got != "b" {
		t.Errorf("after a good reload: %q; want b", got)
	}
}

func TestAdminProbes(t *testing.T) {
	a := testkit.NewOrigin(t, testkit.OK("a"))
	n, _, _ := startNode(t, siteConfig(a.URL()))
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + n.Addrs().Admin[0] + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d; want 200", p, resp.StatusCode)
		}
	}
}

func TestCheckReportsComponentErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(strings.Replace(siteConfig("http://127.0.0.1:1"), "[shop.example]", "[shop.example, SHOP.example.]", 1)), 0o600)
	_, err := Check(path)
	if err == nil || !strings.Contains(err.Error(), `c.yaml:5:27: sites[0].hosts[1]: "SHOP.example." is already listed at sites[0].hosts[0]`) {
		t.Errorf("Check = %v; want the duplicate host positioned", err)
	}
}

// TestTwoNodesShareCopiesThroughRedis runs two nodes from config files with
// the same state.redis: a page stored through node A is served stale by
// node B, which never saw it, once the origin dies.
func TestTwoNodesShareCopiesThroughRedis(t *testing.T) {
	r := testkit.StartRedis(t)
	o := testkit.NewOrigin(t, testkit.Respond(200, "<h1>Desem waldkorn</h1>", "Content-Type: text/html"))
	cfg := "state: {redis: \"" + r.URL() + "\"}\n" + siteConfig(o.URL())
	a, _, _ := startNode(t, cfg)
	b, _, _ := startNode(t, cfg)
	if got := get(t, a.Addrs().HTTP[0], "shop.example"); !strings.Contains(got, "Desem") {
		t.Fatalf("node a: %q", got)
	}
	testkit.WaitFor(t, 10*time.Second, "node a to write its copy to redis", func() bool { return a.cache.Stats().RedisWrites > 0 })
	o.Refuse()
	req, _ := http.NewRequest(http.MethodGet, "http://"+b.Addrs().HTTP[0]+"/", nil)
	req.Host = "shop.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(string(body), "Desem waldkorn") {
		t.Errorf("node b: %q %.100q; want node a's copy, stale", resp.Header.Get("Awning-Served"), body)
	}
}

// TestStartAndReloadReportEveryProblem: a file with a decoding problem (an
// unknown key) and problems only the components find (a host name, a page
// language) is refused at start and at reload with all of them, as
// check-config reports them, not the decoder's alone.
func TestStartAndReloadReportEveryProblem(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Respond(200, "a"))
	bad := strings.Replace(siteConfig(o.URL()), "hosts: [shop.example]", "hosts: [shop.example, \"bad host\"]\n    page: {languages: [nl, xx]}\n    orign: {}", 1)
	want := []string{`sites[0].orign: unknown key "orign"`, `sites[0].hosts[1]: "bad host" is not a valid host name`, `sites[0].page.languages[1]: no translations for "xx"`}

	path := filepath.Join(t.TempDir(), "awning.yaml")
	os.WriteFile(path, []byte(bad), 0o600)
	_, err := New(Options{ConfigPath: path, LogOutput: io.Discard})
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("New: %v\nwant it to say %s", err, w)
		}
	}

	n, path, _ := startNode(t, siteConfig(o.URL()))
	os.WriteFile(path, []byte(bad), 0o600)
	err = n.Reload()
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Reload: %v\nwant it to say %s", err, w)
		}
	}
}
