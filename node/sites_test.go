package node

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

const apiOps = "ops-token-for-site-tests-0123"

func sum(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// opsTokens is the admin: section with one ops token, apiOps.
var opsTokens = "admin: {tokens: [{name: ops, sha256: \"" + sum(apiOps) + "\", sites: [\"*\"]}]}\n"

// api calls a node's admin API with token and returns status and body.
func api(t *testing.T, n *Node, token, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+n.Addrs().Admin[0]+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// plainGet sends GET / for host to a node's plain listener.
func plainGet(t *testing.T, n *Node, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.Addrs().HTTP[0]+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSitesThroughAPI on one node without Redis: a site put through the
// API is served at once, without a reload; a bad body names the field and
// changes nothing; a name or host of the file is refused both ways (the
// API refuses it, and a reload that takes an API site's host is refused);
// a restart keeps the site (the node's snapshot); DELETE removes it.
func TestSitesThroughAPI(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("from the origin"))
	stateDir := t.TempDir()
	yaml := "state: {dir: \"" + stateDir + "\"}\n" + opsTokens + siteConfig(o.URL())
	n, path, _, stop := runNode(t, yaml)

	body := `{"hosts": ["new.example", "www.new.example"], "origin": {"urls": ["` + o.URL() + `"]}, "page": {"languages": ["nl", "en"]}}`
	if code, resp := api(t, n, apiOps, "PUT", "/v1/sites/newshop", body); code != http.StatusCreated || !strings.Contains(resp, `"source": "api"`) {
		t.Fatalf("PUT: %d %s; want 201 and the site", code, resp)
	}
	if code, got := plainGet(t, n, "www.new.example"); code != 200 || got != "from the origin" {
		t.Errorf("new site: %d %q; want its origin, without a reload", code, got)
	}
	if n.reloads.Load() != 0 {
		t.Error("the node reloaded; want the site added without")
	}

	for _, tt := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"bad field", "/v1/sites/newshop", `{"hosts": ["new.example"], "origin": {"urls": ["ftp://x"], "timeout": "soon"}}`, 400,
			`origin.urls[0]: want a http or https URL, got \"ftp://x\"; origin.timeout: invalid duration \"soon\"`},
		{"unknown key", "/v1/sites/other", `{"hosts": ["other.example"], "origin": {"urls": ["http://x"]}, "colour": "#fff"}`, 400,
			`colour: unknown key \"colour\" (did you mean \"color\"?)`},
		{"bad host", "/v1/sites/other", `{"hosts": ["bad host"], "origin": {"urls": ["http://x"]}}`, 400, `hosts[0]: \"bad host\" is not a valid host name`},
		{"unknown language", "/v1/sites/other", `{"hosts": ["other.example"], "origin": {"urls": ["http://x"]}, "page": {"languages": ["tlh"]}}`, 400,
			`page.languages[0]: no translations for \"tlh\"`},
		{"logo path", "/v1/sites/other", `{"hosts": ["other.example"], "origin": {"urls": ["http://x"]}, "page": {"logo": "/etc/passwd"}}`, 400,
			`page.logo: a file path cannot reach every node`},
		{"name differs", "/v1/sites/other", `{"name": "third", "hosts": ["other.example"], "origin": {"urls": ["http://x"]}}`, 400,
			`name: \"third\" differs from the site in the path, \"other\"`},
		{"file's name", "/v1/sites/shop", `{"hosts": ["other.example"], "origin": {"urls": ["http://x"]}}`, 409,
			`name: \"shop\" is a site of the config file; change it there`},
		{"file's host", "/v1/sites/other", `{"hosts": ["other.example", "SHOP.example."], "origin": {"urls": ["http://x"]}}`, 409,
			`hosts[1]: \"shop.example\" belongs to site \"shop\" (in the config file)`},
		{"not JSON", "/v1/sites/other", `hosts: [other.example]`, 400, `the body is not valid JSON`},
		// The file's checks and the components' at once, as check-config.
		{"every problem", "/v1/sites/other", `{"hosts": ["bad host"], "origin": {"urls": ["ftp://x"]}, "page": {"languages": ["tlh"]}}`, 400,
			`origin.urls[0]: want a http or https URL, got \"ftp://x\"; page.languages[0]: no translations for \"tlh\"; ` +
				`pages speak da, de, en, es, fr, it, nl, pl, sv; hosts[0]: \"bad host\" is not a valid host name`},
	} {
		code, resp := api(t, n, apiOps, "PUT", tt.path, tt.body)
		if code != tt.status || !strings.Contains(resp, tt.want) {
			t.Errorf("%s: %d %s; want %d naming %s", tt.name, code, resp, tt.status, tt.want)
		}
	}
	if code, got := plainGet(t, n, "new.example"); code != 200 || got != "from the origin" {
		t.Errorf("after the bad bodies: %d %q; want the site unchanged", code, got)
	}
	if code, _ := plainGet(t, n, "other.example"); code != http.StatusMisdirectedRequest {
		t.Errorf("other.example: %d; want 421, nothing registered", code)
	}
	if code, resp := api(t, n, "", "PUT", "/v1/sites/x", body); code != 401 {
		t.Errorf("without a token: %d %s", code, resp)
	}

	// The file may not take what the API has.
	os.WriteFile(path, []byte(yaml+"  - name: taker\n    hosts: [WWW.new.example]\n    origin: {urls: [\""+o.URL()+"\"]}\n"), 0o600)
	if err := n.Reload(); err == nil || !strings.Contains(err.Error(), `sites[1].hosts[0]: "www.new.example" belongs to site "newshop", registered through the admin API; remove it there first`) {
		t.Errorf("reload taking an API site's host: %v", err)
	}
	os.WriteFile(path, []byte(yaml), 0o600)

	stop()
	n, _, _, stop = runNode(t, yaml)
	if code, got := plainGet(t, n, "new.example"); code != 200 || got != "from the origin" {
		t.Errorf("after a restart: %d %q; want the site kept", code, got)
	}
	code, list := api(t, n, apiOps, "GET", "/v1/sites", "")
	if code != 200 || !strings.Contains(list, `"name": "newshop"`) || !strings.Contains(list, `"source": "config"`) {
		t.Errorf("GET /v1/sites: %d %s", code, list)
	}
	if code, resp := api(t, n, apiOps, "DELETE", "/v1/sites/shop", ""); code != 409 {
		t.Errorf("DELETE a file site: %d %s; want 409", code, resp)
	}
	if code, resp := api(t, n, apiOps, "DELETE", "/v1/sites/newshop", ""); code != 200 {
		t.Fatalf("DELETE: %d %s", code, resp)
	}
	if code, _ := plainGet(t, n, "new.example"); code != http.StatusMisdirectedRequest {
		t.Errorf("after DELETE: %d; want 421", code)
	}
	if code, resp := api(t, n, apiOps, "DELETE", "/v1/sites/newshop", ""); code != 404 {
		t.Errorf("DELETE again: %d %s; want 404", code, resp)
	}
	stop()
}

// TestTokensThroughAPI: ops create a merchant token (shown once), it
// reaches its site only, the list never shows a hash, revoking it ends it,
// and file tokens keep working.
func TestTokensThroughAPI(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _, _ := runNode(t, "state: {dir: \""+t.TempDir()+"\"}\n"+opsTokens+siteConfig(o.URL()))
	code, resp := api(t, n, apiOps, "POST", "/v1/tokens", `{"name": "shop-merchant", "sites": ["shop"]}`)
	var created struct{ Name, Token string }
	json.Unmarshal([]byte(resp), &created)
	if code != 201 || created.Name != "shop-merchant" || !strings.HasPrefix(created.Token, "awn_") {
		t.Fatalf("POST /v1/tokens: %d %s", code, resp)
	}
	if code, _ := api(t, n, created.Token, "GET", "/v1/sites/shop", ""); code != 200 {
		t.Errorf("the new token on its site: %d", code)
	}
	if code, _ := api(t, n, created.Token, "POST", "/v1/tokens", `{"name": "x", "sites": ["*"]}`); code != 403 {
		t.Errorf("a merchant token creating tokens: %d; want 403", code)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"name": "shop-merchant", "sites": ["shop"]}`, `exists; revoke it first`},
		{`{"name": "ops", "sites": ["shop"]}`, `is in the config file`},
		{`{"name": "x", "sites": ["nowhere"]}`, `sites[0]: no site is named \"nowhere\"`},
		{`{"name": "x y", "sites": []}`, `name: want 1 to 64 letters`},
		{`{"name": "x", "sites": ["shop"], "admin": true}`, `unknown field`},
	} {
		if code, resp := api(t, n, apiOps, "POST", "/v1/tokens", tt.body); code < 400 || !strings.Contains(resp, tt.want) {
			t.Errorf("POST %s: %d %s; want an error naming %s", tt.body, code, resp, tt.want)
		}
	}
	code, list := api(t, n, apiOps, "GET", "/v1/tokens", "")
	if code != 200 || !strings.Contains(list, `"shop-merchant"`) || !strings.Contains(list, `"source": "config"`) ||
		strings.Contains(list, sum(created.Token)) || strings.Contains(list, created.Token) || strings.Contains(list, "sha256") {
		t.Errorf("GET /v1/tokens: %d %s; want names and sites, never a token or hash", code, list)
	}
	if code, resp := api(t, n, apiOps, "DELETE", "/v1/tokens/ops", ""); code != 409 {
		t.Errorf("revoking a file token: %d %s; want 409", code, resp)
	}
	if code, resp := api(t, n, apiOps, "DELETE", "/v1/tokens/shop-merchant", ""); code != 200 {
		t.Fatalf("DELETE: %d %s", code, resp)
	}
	if code, _ := api(t, n, created.Token, "GET", "/v1/sites/shop", ""); code != 401 {
		t.Errorf("a revoked token: %d; want 401", code)
	}
}

// TestSiteThroughAPIServedByAnotherNode: two nodes on one real Redis; a
// site put through node A's API is served by node B without a reload,
// over HTTPS with a certificate Pebble issues on demand at B's first
// handshake; a bad body changes nothing on either node; a restart of B
// with Redis gone keeps the site (its snapshot).
func TestSiteThroughAPIServedByAnotherNode(t *testing.T) {
	e := newACMEEnv(t)
	r := testkit.StartRedis(t)
	config := func(spec nodeSpec) string {
		return strings.Replace(e.config(t, spec), "sites:\n", opsTokens+"sites:\n", 1)
	}
	a, _, _, _ := runNode(t, config(nodeSpec{redis: r.URL(), hosts: []string{"file.awning.test"}}))
	stateB := t.TempDir()
	specB := nodeSpec{httpPort: testkit.FreePort(t), tlsPort: testkit.FreePort(t), state: stateB, redis: r.URL(), hosts: []string{"file.awning.test"}}
	b, _, _, stopB := runNode(t, config(specB))

	body := fmt.Sprintf(`{"hosts": ["api.awning.test"], "origin": {"urls": [%q]}}`, e.origin.URL())
	if code, resp := api(t, a, apiOps, "PUT", "/v1/sites/apishop", body); code != 201 {
		t.Fatalf("PUT on node A: %d %s", code, resp)
	}
	took := testkit.WaitFor(t, 10*time.Second, "node B to know the site", func() bool { return b.reg.Load().Named("apishop") != nil })
	t.Logf("the site reached node B in %v", took)
	e.waitCert(t, b.Addrs().HTTPS[0], "api.awning.test")
	resp, got := httpsGet(t, httpsClient(b.Addrs().HTTPS[0], e.ca.Roots(), nil), "api.awning.test", "/")
	if resp.StatusCode != 200 || got != "shop" || resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("node B, HTTPS: %d %q %q; want the origin", resp.StatusCode, got, resp.Header.Get("Awning-Served"))
	}
	if orders := e.ca.OrdersFor("api.awning.test"); len(orders) != 1 {
		t.Errorf("orders for the new host: %v; want one", orderNames(orders))
	}
	if b.reloads.Load() != 0 || a.reloads.Load() != 0 {
		t.Error("a node reloaded; want the site added without")
	}

	bad := fmt.Sprintf(`{"hosts": ["bad.awning.test"], "origin": {"urls": [%q], "health": {"interval": "1ms"}}}`, e.origin.URL())
	code, resp2 := api(t, a, apiOps, "PUT", "/v1/sites/apishop", bad)
	if code != 400 || !strings.Contains(resp2, "origin.health.interval: must be at least 100ms") {
		t.Errorf("bad body: %d %s; want 400 naming origin.health.interval", code, resp2)
	}
	for _, n := range []*Node{a, b} {
		if s := n.reg.Load().Named("apishop"); s == nil || s.Hosts[0] != "api.awning.test" {
			t.Errorf("after the bad body a node has %+v; want the site unchanged", s)
		}
	}

	stopB()
	r.Stop()
	b2, _, _, _ := runNode(t, config(specB))
	resp, got = httpsGet(t, httpsClient(b2.Addrs().HTTPS[0], e.ca.Roots(), nil), "api.awning.test", "/")
	if resp.StatusCode != 200 || got != "shop" {
		t.Errorf("node B restarted with Redis down: %d %q; want the site kept, with its certificate", resp.StatusCode, got)
	}
}
