package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
)

// Tenant isolation of the admin plane, tried against real nodes: a
// merchant's token or console session reaches its own sites' branding
// and status and nothing else — not another merchant's site, however the
// path is spelt, nor the platform's operations — and what ends a token's
// reach (revocation, the site deleted and registered again for someone
// else) ends it on every node, for bearer calls and console sessions
// alike.

const (
	isoMerchantA = "merchant-a-token-for-isolation-tests-0123456789"
)

// isoConfig is a node with three sites, a, ab (a prefix of it) and b, an
// ops token and a file token for merchant a, and the console on a
// listener of its own. redis may be "".
func isoConfig(t *testing.T, origin, redis string) string {
	st := "state: {dir: \"" + t.TempDir() + "\"}\n"
	if redis != "" {
		st = "state: {dir: \"" + t.TempDir() + "\", redis: \"" + redis + "\"}\n"
	}
	return st + `listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0", console: "127.0.0.1:0"}
tls: {mode: "off"}
admin:
  tokens:
    - {name: ops, sha256: "` + sum(apiOps) + `", sites: ["*"]}
    - {name: merchant-a, sha256: "` + sum(isoMerchantA) + `", sites: [a]}
sites:
  - {name: a, hosts: [a.example], origin: {urls: ["` + origin + `"]}, page: {languages: [en, nl]}}
  - {name: ab, hosts: [ab.example], origin: {urls: ["` + origin + `"]}, page: {languages: [en]}}
  - {name: b, hosts: [b.example], origin: {urls: ["` + origin + `"]}, page: {languages: [en]}}
`
}

// isoClient sends raw paths (no cleaning, escapes kept) and follows no
// redirect, so that a redirect is seen as what it is.
var isoClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// isoCall is one admin call: bearer token or console session.
type isoCall struct {
	addr    string
	token   string       // bearer token, or ""
	cookie  *http.Cookie // console session, or nil
	csrf    string
	browser bool     // send the console's own Origin and Sec-Fetch-Site
	header  []string // name, value pairs set last (over the ones above)
}

func (c isoCall) do(t *testing.T, method, rawPath, ctype string, body []byte) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+c.addr+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque = "//" + c.addr + path // sent as is
	req.URL.RawQuery = query
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.cookie != nil {
		req.AddCookie(&http.Cookie{Name: c.cookie.Name, Value: c.cookie.Value})
	}
	if c.csrf != "" {
		req.Header.Set("X-Awning-CSRF", c.csrf)
	}
	if c.browser {
		req.Header.Set("Origin", "http://"+c.addr)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Set(c.header[i], c.header[i+1])
	}
	resp, err := isoClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// newToken has ops (c) issue a token named name for one site and returns
// it.
func (c isoCall) newToken(t *testing.T, name, site string) string {
	t.Helper()
	code, resp, _ := c.do(t, "POST", "/v1/tokens", "application/json", []byte(`{"name": "`+name+`", "sites": ["`+site+`"]}`))
	var v struct{ Token string }
	json.Unmarshal([]byte(resp), &v)
	if code != 201 || v.Token == "" {
		t.Fatalf("POST /v1/tokens for %s: %d %s", name, code, resp)
	}
	return v.Token
}

// isoSignIn signs in to the console at addr with token and returns the
// session's cookie and CSRF secret.
func isoSignIn(t *testing.T, addr, token string) isoCall {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/session", strings.NewReader(`{"token": "`+token+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://"+addr)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := isoClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ CSRF string }
	json.NewDecoder(resp.Body).Decode(&v)
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "awning-session") && c.Value != "" {
			return isoCall{addr: addr, cookie: c, csrf: v.CSRF, browser: true}
		}
	}
	t.Fatalf("sign-in at %s: %d, no session cookie", addr, resp.StatusCode)
	return isoCall{}
}

// TestMerchantReachesNoOtherTenant: merchant a, by bearer token on the
// admin listener and by console session on the console listener, tries
// every route on site b and on the platform, and every spelling of b it
// can think of. Each is refused (403 or 404, never a redirect to b, never
// a 2xx), the state of b and of the platform is what it was, and nothing
// is in the audit log but what ops did.
func TestMerchantReachesNoOtherTenant(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, isoConfig(t, o.URL(), ""))
	ops := isoCall{addr: n.Addrs().Admin[0], token: apiOps}
	// Something of b's that a merchant might want to read or undo.
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/v1/sites/b/page", `{"brand": "B secret brand"}`},
		{"PUT", "/v1/sites/b/maintenance", `{"enabled": true, "bypass_secret": "b-bypass-secret-value-0123"}`},
		{"POST", "/v1/sites/b/updates", `{"message": {"en": "b is down"}}`},
	} {
		if code, resp, _ := ops.do(t, c.method, c.path, "application/json", []byte(c.body)); code >= 300 {
			t.Fatalf("ops %s %s: %d %s", c.method, c.path, code, resp)
		}
	}
	code, resp, _ := ops.do(t, "POST", "/v1/tokens", "application/json", []byte(`{"name": "merchant-ab", "sites": ["ab"]}`))
	if code != 201 {
		t.Fatalf("token for ab: %d %s", code, resp)
	}
	var updates []struct{ ID string }
	_, resp, _ = ops.do(t, "GET", "/v1/sites/b/updates", "", nil)
	json.Unmarshal([]byte(resp), &updates)
	if len(updates) != 1 {
		t.Fatalf("b's updates: %s", resp)
	}
	bUpdate := updates[0].ID
	versions := func() map[string]state.Version {
		return map[string]state.Version{"b": n.state.VersionOf("b"), "ab": n.state.VersionOf("ab"), state.Global: n.state.VersionOf(state.Global),
			"token:merchant-ab": n.state.VersionOf("token:merchant-ab"), "token:x": n.state.VersionOf("token:x"), "c": n.state.VersionOf("c")}
	}
	before := versions()

	png := []byte("\x89PNG\r\n\x1a\n")
	page := []byte(`{"brand": "pwned"}`)
	maint := []byte(`{"enabled": false}`)
	update := []byte(`{"message": {"en": "pwned"}}`)
	site := []byte(`{"hosts": ["c.example"], "origin": {"urls": ["` + o.URL() + `"]}}`)
	routes := []struct {
		method, path, ctype string
		body                []byte
	}{
		{"GET", "/v1/sites/b", "", nil},
		{"PUT", "/v1/sites/b", "application/json", site},
		{"DELETE", "/v1/sites/b", "", nil},
		{"GET", "/v1/sites/b/maintenance", "", nil},
		{"PUT", "/v1/sites/b/maintenance", "application/json", maint},
		{"DELETE", "/v1/sites/b/maintenance", "", nil},
		{"GET", "/v1/sites/b/updates", "", nil},
		{"POST", "/v1/sites/b/updates", "application/json", update},
		{"DELETE", "/v1/sites/b/updates/" + bUpdate, "", nil},
		{"GET", "/v1/sites/b/page", "", nil},
		{"PUT", "/v1/sites/b/page", "application/json", page},
		{"DELETE", "/v1/sites/b/page", "", nil},
		{"PUT", "/v1/sites/b/page/logo", "image/png", png},
		{"DELETE", "/v1/sites/b/page/logo", "", nil},
		{"GET", "/v1/sites/b/page/preview?mode=maintenance", "", nil},
		{"GET", "/v1/sites/b/page/preview?draft=1", "", nil},
		{"PUT", "/v1/sites/b/page/draft", "application/json", page},
		{"GET", "/v1/sites/b/page/config", "", nil},
		{"GET", "/v1/sites/b/incidents", "", nil},
		{"PUT", "/v1/sites/b/fallback", "", nil},
		{"DELETE", "/v1/sites/b/fallback", "", nil},
		{"GET", "/v1/maintenance", "", nil},
		{"PUT", "/v1/maintenance", "application/json", maint},
		{"DELETE", "/v1/maintenance", "", nil},
		{"GET", "/v1/updates", "", nil},
		{"POST", "/v1/updates", "application/json", update},
		{"DELETE", "/v1/updates/" + bUpdate, "", nil},
		{"GET", "/v1/audit", "", nil},
		{"GET", "/v1/nodes", "", nil},
		{"GET", "/v1/tokens", "", nil},
		{"POST", "/v1/tokens", "application/json", []byte(`{"name": "x", "sites": ["a"]}`)},
		{"POST", "/v1/tokens", "application/json", []byte(`{"name": "x", "sites": ["*"]}`)},
		{"POST", "/v1/tokens", "application/json", []byte(`{"name": "x", "sites": ["a", "b"]}`)},
		{"DELETE", "/v1/tokens/merchant-ab", "", nil},
		{"DELETE", "/v1/tokens/ops", "", nil},
		{"PUT", "/v1/sites/c", "application/json", site}, // a new site: ops only
		// Other spellings of b.
		{"GET", "/v1/sites/a/../b/page", "", nil},
		{"PUT", "/v1/sites/a/../b/page", "application/json", page},
		{"GET", "/v1/sites/a/%2e%2e/b/page", "", nil},
		{"PUT", "/v1/sites/a/%2e%2e/b/page", "application/json", page},
		{"GET", "/v1/sites/a%2F..%2Fb/page", "", nil},
		{"PUT", "/v1/sites/a%2F..%2Fb/page", "application/json", page},
		{"GET", "/v1/sites/%2e%2e/sites/b/page", "", nil},
		{"GET", "/v1/sites/a/page/../../b/page", "", nil},
		{"GET", "/v1/sites/./b/page", "", nil},
		{"GET", "//v1/sites/b/page", "", nil},
		{"GET", "/v1/sites/b/page/", "", nil},
		{"PUT", "/v1/sites/b/page/", "application/json", page},
		{"GET", "/v1/sites/b/", "", nil},
		{"GET", "/v1/sites/B/page", "", nil},
		{"PUT", "/v1/sites/B/page", "application/json", page},
		{"GET", "/v1/sites/%62/page", "", nil}, // "b", escaped
		{"PUT", "/v1/sites/%62/page", "application/json", page},
		{"GET", "/v1/sites/%EF%BD%82/page", "", nil}, // "ｂ", full width
		{"GET", "/v1/sites/b%00/page", "", nil},
		{"GET", "/v1/sites/a%00b/page", "", nil},
		{"GET", "/v1/sites/ab/page", "", nil}, // a is a prefix of ab
		{"PUT", "/v1/sites/ab/page", "application/json", page},
		{"GET", "/v1/sites/a,b/page", "", nil},
		{"GET", "/v1/sites/*/page", "", nil},
		{"GET", "/v1/sites/%2A/page", "", nil},
		{"PUT", "/v1/sites/*/page", "application/json", page},
		{"GET", "/v1/sites//page", "", nil},
		{"PUT", "/v1/sites//page", "application/json", page},
		{"GET", "/v1/sites/b%2Fpage", "", nil},
		{"GET", "/v1/sites/b;a/page", "", nil},
		{"GET", "/v1/sites/b/page?site=a", "", nil},
	}

	bearer := isoCall{addr: n.Addrs().Admin[0], token: isoMerchantA}
	session := isoSignIn(t, n.Addrs().Console[0], isoMerchantA)
	for _, who := range []struct {
		name string
		call isoCall
	}{{"bearer", bearer}, {"console session", session}} {
		for _, rt := range routes {
			code, resp, h := who.call.do(t, rt.method, rt.path, rt.ctype, rt.body)
			if code != 403 && code != 404 && code != 405 {
				t.Errorf("%s: %s %s: %d %.200s; want 403 or 404", who.name, rt.method, rt.path, code, resp)
			}
			if loc := h.Get("Location"); loc != "" {
				t.Errorf("%s: %s %s: redirected to %s; want a refusal", who.name, rt.method, rt.path, loc)
			}
			for _, secret := range []string{"B secret brand", "b-bypass-secret-value", "b is down", "b.example", "merchant-ab"} {
				if strings.Contains(resp, secret) {
					t.Errorf("%s: %s %s: the answer shows %q: %.300s", who.name, rt.method, rt.path, secret, resp)
				}
			}
		}
		// The lists a merchant may read show its own site only, however
		// they are searched, filtered or paged.
		for _, path := range []string{"/v1/sites", "/v1/overview", "/v1/overview?q=b", "/v1/overview?q=example", "/v1/overview?per_page=500",
			"/v1/overview?page=2&per_page=1", "/v1/overview?sort=state&state=maintenance,open,down,degraded,forced,scheduled,read-only"} {
			code, resp, _ := who.call.do(t, "GET", path, "", nil)
			if code != 200 || strings.Contains(resp, "b.example") || strings.Contains(resp, "ab.example") || strings.Contains(resp, `"b"`) {
				t.Errorf("%s: GET %s: %d %.300s; want a's site alone", who.name, path, code, resp)
			}
		}
		// Its own site it does reach: the refusals above are not a
		// broken token.
		if code, resp, _ := who.call.do(t, "GET", "/v1/sites/a/page", "", nil); code != 200 {
			t.Fatalf("%s: its own site: %d %s", who.name, code, resp)
		}
	}

	if after := versions(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("state changed by a merchant: before %v, after %v", before, after)
	}
	if n.reg.Load().Named("c") != nil {
		t.Error("a merchant registered a site")
	}
	_, log, _ := ops.do(t, "GET", "/v1/audit?n=1000", "", nil)
	var entries []state.AuditEntry
	json.Unmarshal([]byte(log), &entries)
	for _, e := range entries {
		if e.Who == "merchant-a" && e.Action != "POST /v1/session" {
			t.Errorf("audit: merchant-a did %s %s", e.Action, e.Detail)
		}
	}
	if code, resp, _ := ops.do(t, "GET", "/v1/sites/b/page", "", nil); code != 200 || !strings.Contains(resp, "B secret brand") {
		t.Errorf("b's page after the merchant's tries: %d %s", code, resp)
	}
}

// TestTokensCannotBeWidened: what ops may put in a token is checked —
// no pattern reaches sites by name ("a*" is no site), no name of the
// config file's tokens is taken — and a merchant cannot issue or widen
// one.
func TestTokensCannotBeWidened(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, isoConfig(t, o.URL(), ""))
	ops := isoCall{addr: n.Addrs().Admin[0], token: apiOps}
	for _, body := range []string{
		`{"name": "wild", "sites": ["a*"]}`, `{"name": "wild", "sites": ["*a"]}`, `{"name": "wild", "sites": ["A"]}`,
		`{"name": "wild", "sites": [""]}`, `{"name": "wild", "sites": ["a", "nosuch"]}`, `{"name": "wild", "sites": ["ａ"]}`,
		`{"name": "merchant-a", "sites": ["b"]}`, `{"name": "ops", "sites": ["a"]}`, `{"name": "", "sites": ["a"]}`,
		`{"name": "token:x", "sites": ["a"]}`, `{"name": "../ops", "sites": ["a"]}`,
	} {
		if code, resp, _ := ops.do(t, "POST", "/v1/tokens", "application/json", []byte(body)); code != 400 && code != 409 {
			t.Errorf("POST /v1/tokens %s: %d %s; want 400 or 409", body, code, resp)
		}
	}
	if code, resp, _ := ops.do(t, "DELETE", "/v1/tokens/merchant-a", "", nil); code != 409 {
		t.Errorf("revoking a file token through the API: %d %s; want 409", code, resp)
	}
	if names := n.state.Names(); strings.Contains(strings.Join(names, " "), "token:") {
		t.Errorf("tokens stored after refused calls: %v", names)
	}
}

// TestSiteRecreatedForAnotherMerchant: a site registered through the API,
// given to merchant 1 (a token, a console session on the other node),
// deleted and registered again under the same name for merchant 2: merchant
// 1's token and session reach nothing of it, on either node, while
// merchant 2's do.
func TestSiteRecreatedForAnotherMerchant(t *testing.T) {
	r := testkit.StartRedis(t)
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n1, _, _ := startNode(t, isoConfig(t, o.URL(), r.URL()))
	n2, _, _ := startNode(t, isoConfig(t, o.URL(), r.URL()))
	ops := isoCall{addr: n1.Addrs().Admin[0], token: apiOps}
	// Merchant 1's origin goes down while the site is theirs: an incident
	// naming it.
	o1 := testkit.NewOrigin(t, testkit.OK("one"))
	site1 := []byte(`{"hosts": ["shop.example"], "origin": {"urls": ["` + o1.URL() + `"], "health": {"path": "/", "interval": "100ms", "timeout": "100ms", "rise": 1, "fall": 1}}}`)
	site := []byte(`{"hosts": ["shop.example"], "origin": {"urls": ["` + o.URL() + `"]}}`)
	onBoth := func(what string, ok func(n *Node) bool) {
		t.Helper()
		for _, n := range []*Node{n1, n2} {
			testkit.WaitFor(t, 10*time.Second, what, func() bool { return ok(n) })
		}
	}

	if code, resp, _ := ops.do(t, "PUT", "/v1/sites/shop", "application/json", site1); code != 201 {
		t.Fatalf("PUT site: %d %s", code, resp)
	}
	onBoth("the site on both nodes", func(n *Node) bool { return n.reg.Load().Named("shop") != nil })
	o1.Refuse()
	for _, n := range []*Node{n1, n2} {
		opsThere := isoCall{addr: n.Addrs().Admin[0], token: apiOps}
		testkit.WaitFor(t, 10*time.Second, "an incident of merchant 1's origin", func() bool {
			_, resp, _ := opsThere.do(t, "GET", "/v1/sites/shop/incidents", "", nil)
			return strings.Contains(resp, o1.URL())
		})
	}
	tok1 := ops.newToken(t, "merchant-1", "shop")
	first := isoCall{addr: n2.Addrs().Admin[0], token: tok1}
	testkit.WaitFor(t, 10*time.Second, "merchant 1's token on node 2", func() bool {
		code, _, _ := first.do(t, "GET", "/v1/sites/shop", "", nil)
		return code == 200
	})
	firstSession := isoSignIn(t, n2.Addrs().Console[0], tok1)
	if code, resp, _ := firstSession.do(t, "PUT", "/v1/sites/shop/page", "application/json", []byte(`{"brand": "Merchant One"}`)); code != 200 {
		t.Fatalf("merchant 1 brands its shop: %d %s", code, resp)
	}

	if code, resp, _ := ops.do(t, "DELETE", "/v1/sites/shop", "", nil); code != 200 {
		t.Fatalf("DELETE site: %d %s", code, resp)
	}
	onBoth("the site gone from both nodes", func(n *Node) bool { return n.reg.Load().Named("shop") == nil })
	if code, resp, _ := ops.do(t, "PUT", "/v1/sites/shop", "application/json", site); code != 201 {
		t.Fatalf("PUT site again: %d %s", code, resp)
	}
	onBoth("the new site on both nodes", func(n *Node) bool { return n.reg.Load().Named("shop") != nil })
	tok2 := ops.newToken(t, "merchant-2", "shop")
	second := isoCall{addr: n2.Addrs().Admin[0], token: tok2}
	testkit.WaitFor(t, 10*time.Second, "merchant 2's token on node 2", func() bool {
		code, _, _ := second.do(t, "GET", "/v1/sites/shop", "", nil)
		return code == 200
	})

	for _, who := range []struct {
		name string
		call isoCall
	}{
		{"merchant 1's token on node 1", isoCall{addr: n1.Addrs().Admin[0], token: tok1}},
		{"merchant 1's token on node 2", first},
		{"merchant 1's console session", firstSession},
	} {
		for _, rt := range []struct{ method, path, body string }{
			{"GET", "/v1/sites/shop", ""}, {"GET", "/v1/sites/shop/page", ""},
			{"PUT", "/v1/sites/shop/page", `{"brand": "Merchant One again"}`},
			{"GET", "/v1/sites/shop/page/preview", ""},
		} {
			ctype := ""
			if rt.body != "" {
				ctype = "application/json"
			}
			if code, resp, _ := who.call.do(t, rt.method, rt.path, ctype, []byte(rt.body)); code < 400 {
				t.Errorf("%s: %s %s: %d %.200s; want it refused: the site is another merchant's now", who.name, rt.method, rt.path, code, resp)
			}
		}
		if code, resp, _ := who.call.do(t, "GET", "/v1/sites", "", nil); code == 200 && strings.Contains(resp, "shop.example") {
			t.Errorf("%s: GET /v1/sites lists the new shop: %.300s", who.name, resp)
		}
	}
	if code, resp, _ := second.do(t, "PUT", "/v1/sites/shop/page", "application/json", []byte(`{"brand": "Merchant Two"}`)); code != 200 {
		t.Errorf("merchant 2 on its shop: %d %s", code, resp)
	}
	for _, n := range []*Node{n1, n2} {
		m2 := isoCall{addr: n.Addrs().Admin[0], token: tok2}
		for _, path := range []string{"/v1/sites/shop/incidents", "/v1/sites/shop", "/v1/sites/shop/page", "/v1/overview"} {
			if code, resp, _ := m2.do(t, "GET", path, "", nil); code != 200 || strings.Contains(resp, o1.URL()) || strings.Contains(resp, "Merchant One") {
				t.Errorf("merchant 2: GET %s: %d %.400s; want nothing of merchant 1's (its origin, its brand)", path, code, resp)
			}
		}
	}
}

// TestRevocationReachesEveryNode: a token revoked through node 1 stops
// working on node 2, for bearer calls and for the console session made
// with it there, within the shared state's propagation time; the time it
// took is logged.
func TestRevocationReachesEveryNode(t *testing.T) {
	r := testkit.StartRedis(t)
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n1, _, _ := startNode(t, isoConfig(t, o.URL(), r.URL()))
	n2, _, _ := startNode(t, isoConfig(t, o.URL(), r.URL()))
	ops := isoCall{addr: n1.Addrs().Admin[0], token: apiOps}
	token := ops.newToken(t, "m", "a")
	bearer := isoCall{addr: n2.Addrs().Admin[0], token: token}
	testkit.WaitFor(t, 10*time.Second, "the token on node 2", func() bool {
		code, _, _ := bearer.do(t, "GET", "/v1/sites/a", "", nil)
		return code == 200
	})
	session := isoSignIn(t, n2.Addrs().Console[0], token)
	if code, _, _ := session.do(t, "GET", "/v1/sites/a", "", nil); code != 200 {
		t.Fatalf("the session on node 2: %d", code)
	}
	if code, resp, _ := ops.do(t, "DELETE", "/v1/tokens/m", "", nil); code != 200 {
		t.Fatalf("revoke: %d %s", code, resp)
	}
	took := testkit.WaitFor(t, 5*time.Second, "node 2 to refuse the revoked token", func() bool {
		c1, _, _ := bearer.do(t, "GET", "/v1/sites/a", "", nil)
		c2, _, _ := session.do(t, "GET", "/v1/sites/a", "", nil)
		return c1 == 401 && c2 == 401
	})
	t.Logf("node 2 refused the revoked token and its session %v after the revocation", took)
	if code, _, _ := session.do(t, "PUT", "/v1/sites/a/page", "application/json", []byte(`{"brand": "late"}`)); code != 401 {
		t.Errorf("a change through the revoked token's session: %d; want 401", code)
	}
	// Its name can be given again; the old token stays dead.
	if code, resp, _ := ops.do(t, "POST", "/v1/tokens", "application/json", []byte(`{"name": "m", "sites": ["a"]}`)); code != 201 {
		t.Fatalf("a new token of the same name: %d %s", code, resp)
	}
	old := isoCall{addr: n1.Addrs().Admin[0], token: token}
	if code, _, _ := old.do(t, "GET", "/v1/sites/a", "", nil); code != 401 {
		t.Errorf("the old token after its name was given again: %d; want 401", code)
	}
}

// TestConsoleListenerForMerchants: listen.console offers the console and
// the API it calls, not the node's probes and metrics; a merchant's
// session there reaches no ops action; a change made with the cookie must
// come from the console itself (CSRF); signing out ends the session on
// the server, not only in the browser; a cookie set before sign-in is
// never the session's (fixation).
func TestConsoleListenerForMerchants(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, isoConfig(t, o.URL(), ""))
	addr := n.Addrs().Console[0]
	anon := isoCall{addr: addr}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if code, _, _ := anon.do(t, "GET", path, "", nil); code != 404 {
			t.Errorf("GET %s on listen.console: %d; want 404", path, code)
		}
		opsThere := isoCall{addr: addr, token: apiOps}
		if code, _, _ := opsThere.do(t, "GET", path, "", nil); code != 404 {
			t.Errorf("GET %s on listen.console with the ops token: %d; want 404", path, code)
		}
	}
	code, _, h := anon.do(t, "GET", "/ui/", "", nil)
	csp := h.Get("Content-Security-Policy")
	if code != 200 || !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") ||
		strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("GET /ui/: %d, CSP %q; want a strict CSP that no page may frame", code, csp)
	}

	// Fixation: a cookie planted before sign-in is not the session.
	planted := &http.Cookie{Name: "awning-session", Value: "planted-by-an-attacker-0123456789"}
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/session", strings.NewReader(`{"token": "`+isoMerchantA+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://"+addr)
	req.AddCookie(planted)
	resp, err := isoClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var got *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "awning-session" {
			got = c
		}
	}
	if got == nil || got.Value == planted.Value || !got.HttpOnly || got.SameSite != http.SameSiteStrictMode || got.Secure || got.MaxAge <= 0 {
		t.Fatalf("sign-in cookie %+v; want a new ID, HttpOnly, SameSite=Strict, an expiry (not Secure over plain HTTP)", got)
	}
	plantedCall := isoCall{addr: addr, cookie: planted}
	if code, _, _ := plantedCall.do(t, "GET", "/v1/sites/a", "", nil); code != 401 {
		t.Errorf("the planted cookie after sign-in: %d; want 401", code)
	}

	m := isoSignIn(t, addr, isoMerchantA)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/audit"}, {"GET", "/v1/tokens"}, {"GET", "/v1/nodes"}, {"PUT", "/v1/maintenance"}, {"POST", "/v1/updates"},
		{"PUT", "/v1/sites/a/maintenance"}, {"POST", "/v1/sites/a/updates"}, {"PUT", "/v1/sites/a/fallback"}, {"PUT", "/v1/sites/a"},
		{"DELETE", "/v1/sites/a"}, {"POST", "/v1/tokens"},
	} {
		if code, resp, _ := m.do(t, rt.method, rt.path, "application/json", []byte(`{"enabled": true, "message": {"en": "x"}, "name": "x", "sites": ["a"]}`)); code != 403 {
			t.Errorf("merchant session: %s %s: %d %.200s; want 403", rt.method, rt.path, code, resp)
		}
	}

	// CSRF: each of these is what another site could make a browser
	// send; none changes the page.
	page := []byte(`{"brand": "csrf"}`)
	noCSRF := m
	noCSRF.csrf = ""
	noOrigin := m
	noOrigin.browser = false
	for _, tt := range []struct {
		name   string
		call   isoCall
		ctype  string
		header []string
	}{
		{"no CSRF header", noCSRF, "application/json", nil},
		{"form post", noCSRF, "application/x-www-form-urlencoded", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"text/plain JSON, cross-site", noCSRF, "text/plain", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"text/plain JSON with the secret", m, "text/plain", nil},
		{"foreign Origin", m, "application/json", []string{"Origin", "https://evil.example"}},
		{"null Origin", m, "application/json", []string{"Origin", "null"}},
		{"same-site, other origin", m, "application/json", []string{"Sec-Fetch-Site", "same-site"}},
		{"no Origin, no Sec-Fetch-Site", noOrigin, "application/json", nil},
		{"wrong secret", isoCall{addr: addr, cookie: m.cookie, csrf: "x" + m.csrf, browser: true}, "application/json", nil},
	} {
		call := tt.call
		call.header = tt.header
		if code, resp, _ := call.do(t, "PUT", "/v1/sites/a/page", tt.ctype, page); code < 400 {
			t.Errorf("%s: %d %s; want it refused", tt.name, code, resp)
		}
	}
	if _, resp, _ := m.do(t, "GET", "/v1/sites/a/page", "", nil); strings.Contains(resp, "csrf") {
		t.Errorf("a forged request changed the page: %s", resp)
	}

	// Sign-out ends the session on the server: the same cookie, sent
	// again, is refused.
	if code, _, _ := m.do(t, "DELETE", "/v1/session", "", nil); code != 200 {
		t.Fatalf("sign-out: %d", code)
	}
	if code, _, _ := m.do(t, "GET", "/v1/sites/a", "", nil); code != 401 {
		t.Errorf("the cookie after sign-out: %d; want 401", code)
	}
	if code, _, _ := m.do(t, "PUT", "/v1/sites/a/page", "application/json", page); code != 401 {
		t.Errorf("a change with the cookie after sign-out: %d; want 401", code)
	}
}

// TestMerchantTextsAreInert: what a merchant writes into its page — brand,
// contact, messages, reassurance, colour, status link — is refused when it
// cannot be what the field says, and rendered as text otherwise, in the
// preview the console frames and on the shop's own outage page.
func TestMerchantTextsAreInert(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, isoConfig(t, o.URL(), ""))
	m := isoCall{addr: n.Addrs().Admin[0], token: isoMerchantA}
	for _, body := range []string{
		`{"color": "red;}</style><script>alert(1)</script>"}`,
		`{"color": "#fff;background:url(javascript:alert(1))"}`,
		`{"color": "expression(alert(1))"}`,
		`{"status_url": "javascript:alert(1)"}`,
		`{"status_url": "data:text/html,<script>alert(1)</script>"}`,
		`{"status_url": "http://status.example"}`,
		`{"languages": ["en\"><script>"]}`,
		`{"timezone": "Europe/Amsterdam\"><script>"}`,
	} {
		if code, resp, _ := m.do(t, "PUT", "/v1/sites/a/page", "application/json", []byte(body)); code != 400 {
			t.Errorf("PUT page %s: %d %s; want 400", body, code, resp)
		}
	}
	const xss = `<script>alert(1)</script><img src=x onerror=alert(1)>"'` + "`"
	body, _ := json.Marshal(map[string]any{
		"brand": xss, "contact": "support@a.example", "color": "#b5651d",
		"message":     map[string]string{"en": xss, "nl": xss},
		"reassurance": map[string][]string{"en": {xss}},
	})
	if code, resp, _ := m.do(t, "PUT", "/v1/sites/a/page", "application/json", body); code != 200 {
		t.Fatalf("PUT page with markup as text: %d %s", code, resp)
	}
	code, preview, h := m.do(t, "GET", "/v1/sites/a/page/preview?mode=outage&lang=en", "", nil)
	if code != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("preview: %d, CSP %q; want a sandboxed page", code, h.Get("Content-Security-Policy"))
	}
	req, _ := http.NewRequest("GET", "http://"+n.Addrs().HTTP[0]+"/", nil)
	req.Host = "a.example"
	o.Refuse()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	shop, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for name, page := range map[string]string{"preview": preview, "outage page": string(shop)} {
		if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") || strings.Contains(page, "onerror=alert") && !strings.Contains(page, "&lt;img") {
			t.Errorf("%s holds the merchant's markup as markup: %s", name, page)
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s does not show the brand as text: %.2000s", name, page)
		}
	}
	// The console shows these only through textContent; its own page
	// carries no inline script a merchant's text could land in.
	_, ui, h := (isoCall{addr: n.Addrs().Admin[0]}).do(t, "GET", "/ui/", "", nil)
	if strings.Contains(ui, "<script>") && !strings.Contains(h.Get("Content-Security-Policy"), "require-trusted-types-for 'script'") {
		t.Errorf("console page: inline script without Trusted Types: %s", ui)
	}
}

// TestAdminInputBounds: what the admin plane takes is bounded — a huge
// body, a deeply nested one — and a client guessing tokens is slowed
// down; none of it changes anything.
func TestAdminInputBounds(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, isoConfig(t, o.URL(), ""))
	m := isoCall{addr: n.Addrs().Admin[0], token: isoMerchantA}
	before := n.state.VersionOf("a")
	huge := []byte(`{"brand": "` + strings.Repeat("x", 8<<20) + `"}`)
	if code, resp, _ := m.do(t, "PUT", "/v1/sites/a/page", "application/json", huge); code != 413 {
		t.Errorf("8 MB page body: %d %.200s; want 413", code, resp)
	}
	if code, resp, _ := m.do(t, "PUT", "/v1/sites/a/page/draft", "application/json", huge); code != 413 {
		t.Errorf("8 MB draft body: %d %.200s; want 413", code, resp)
	}
	if code, resp, _ := m.do(t, "PUT", "/v1/sites/a/page/logo", "image/png", huge); code != 413 {
		t.Errorf("8 MB logo: %d %.200s; want 413", code, resp)
	}
	deep := []byte(strings.Repeat(`{"message":`, 20000) + `{}` + strings.Repeat(`}`, 20000))
	if code, resp, _ := m.do(t, "PUT", "/v1/sites/a/page", "application/json", deep); code != 400 && code != 413 {
		t.Errorf("deep JSON: %d %.200s; want 400 or 413", code, resp)
	}
	deepArr := []byte(`{"message": {"en": "x"}, "reassurance": {"en": ` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + `}}`)
	if code, resp, _ := m.do(t, "PUT", "/v1/sites/a/page", "application/json", deepArr); code != 400 && code != 413 {
		t.Errorf("deep JSON array: %d %.200s; want 400 or 413", code, resp)
	}
	if after := n.state.VersionOf("a"); after != before {
		t.Errorf("state of a changed by refused bodies: %v → %v", before, after)
	}
	// A merchant registering sites in a loop: every one refused.
	for i := range 20 {
		body := fmt.Sprintf(`{"hosts": ["s%d.example"], "origin": {"urls": [%q]}}`, i, o.URL())
		if code, _, _ := m.do(t, "PUT", fmt.Sprintf("/v1/sites/s%d", i), "application/json", []byte(body)); code != 403 {
			t.Fatalf("merchant PUT site %d: %d; want 403", i, code)
		}
	}
	if n.reg.Load().Len() != 3 {
		t.Errorf("sites: %d; want the file's 3", n.reg.Load().Len())
	}
	// Guessing: after a burst of wrong tokens the client is answered 429
	// before its token is looked at — even a good one.
	guess := isoCall{addr: n.Addrs().Admin[0]}
	var last int
	for i := range 30 {
		guess.token = fmt.Sprintf("guess-%d-%s", i, url.PathEscape(isoMerchantA))
		if last, _, _ = guess.do(t, "GET", "/v1/sites", "", nil); last == 429 {
			break
		}
	}
	if last != 429 {
		t.Errorf("30 wrong tokens: last answer %d; want 429", last)
	}
	if code, _, _ := m.do(t, "GET", "/v1/sites/a", "", nil); code != 429 {
		t.Errorf("a good token from a client that was guessing: %d; want 429", code)
	}
}

// TestSignInsPerTokenBounded: a merchant signing in without end cannot
// fill the node's session store (pushing out everyone else's sessions) or
// its memory with drafts: a token opens a bounded number of sessions, and
// all of them share one draft per site; ops still sign in.
func TestSignInsPerTokenBounded(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, isoConfig(t, o.URL(), ""))
	addr := n.Addrs().Console[0]
	signIn := func(token string) (int, http.Header) {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/session", strings.NewReader(`{"token": "`+token+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://"+addr)
		resp, err := isoClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	first := isoSignIn(t, addr, isoMerchantA)
	var code int
	var h http.Header
	signedIn := 1
	for range 100 {
		if code, h = signIn(isoMerchantA); code != 201 {
			break
		}
		signedIn++
	}
	if code != 429 || h.Get("Retry-After") == "" || signedIn > 30 {
		t.Errorf("after %d sign-ins with one token: %d, Retry-After %q; want 429 with Retry-After within 30", signedIn, code, h.Get("Retry-After"))
	}
	t.Logf("one token opened %d sessions, then was refused", signedIn)
	if code, _ := signIn(apiOps); code != 201 {
		t.Errorf("ops signing in meanwhile: %d; want 201", code)
	}
	if code, resp, _ := first.do(t, "GET", "/v1/sites/a", "", nil); code != 200 {
		t.Errorf("the merchant's first session after the flood: %d %s", code, resp)
	}
	// Drafts: one per token and site, whichever session wrote it.
	if code, resp, _ := first.do(t, "PUT", "/v1/sites/a/page/draft", "application/json", []byte(`{"brand": "Draft of session one"}`)); code != 200 {
		t.Fatalf("draft: %d %s", code, resp)
	}
	bearer := isoCall{addr: n.Addrs().Admin[0], token: isoMerchantA}
	if code, resp, _ := bearer.do(t, "GET", "/v1/sites/a/page/preview?draft=1", "", nil); code != 200 || !strings.Contains(resp, "Draft of session one") {
		t.Errorf("the token's draft seen by another of its callers: %d %.300s; want the one draft", code, resp)
	}
}

// TestTokenNameInFileAndAPI: ops create a token through the API, then a
// reload brings a token of the same name in the config file. The API's
// token can still be revoked (the file's stays), rather than living on
// out of reach of DELETE /v1/tokens/{name}.
func TestTokenNameInFileAndAPI(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	yaml := isoConfig(t, o.URL(), "")
	n, path, _ := startNode(t, yaml)
	ops := isoCall{addr: n.Addrs().Admin[0], token: apiOps}
	token := ops.newToken(t, "dup", "b")
	const fileToken = "file-token-named-dup-0123456789abcdef"
	yaml = strings.Replace(yaml, "  tokens:\n", "  tokens:\n    - {name: dup, sha256: \""+sum(fileToken)+"\", sites: [a]}\n", 1)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	apiTok := isoCall{addr: n.Addrs().Admin[0], token: token}
	fileTok := isoCall{addr: n.Addrs().Admin[0], token: fileToken}
	if code, _, _ := apiTok.do(t, "GET", "/v1/sites/b", "", nil); code != 200 {
		t.Fatalf("the API's token after the reload: %d", code)
	}
	if code, resp, _ := ops.do(t, "DELETE", "/v1/tokens/dup", "", nil); code != 200 {
		t.Errorf("DELETE /v1/tokens/dup: %d %s; want the API's token revoked", code, resp)
	}
	if code, _, _ := apiTok.do(t, "GET", "/v1/sites/b", "", nil); code != 401 {
		t.Errorf("the API's token after its revocation: %d; want 401", code)
	}
	if code, _, _ := fileTok.do(t, "GET", "/v1/sites/a", "", nil); code != 200 {
		t.Errorf("the file's token of the same name: %d; want it kept", code)
	}
	if code, resp, _ := ops.do(t, "DELETE", "/v1/tokens/dup", "", nil); code != 409 {
		t.Errorf("DELETE again (only the file's left): %d %s; want 409", code, resp)
	}
}

// TestMerchantCannotFlushTheAuditLog: the audit log keeps the newest
// entries (1,000 on a node without Redis, 10,000 in Redis); a merchant
// saving its page in a loop is slowed down (429 with Retry-After) long
// before it could push ops' entries out. Its previews (drafts, which
// change nothing) are not limited.
func TestMerchantCannotFlushTheAuditLog(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, isoConfig(t, o.URL(), ""))
	ops := isoCall{addr: n.Addrs().Admin[0], token: apiOps}
	if code, resp, _ := ops.do(t, "PUT", "/v1/sites/b/fallback", "", nil); code != 200 {
		t.Fatalf("ops: %d %s", code, resp)
	}
	m := isoCall{addr: n.Addrs().Admin[0], token: isoMerchantA}
	saved, limited := 0, 0
	var retry string
	for i := range 1100 {
		code, resp, h := m.do(t, "PUT", "/v1/sites/a/page", "application/json", []byte(fmt.Sprintf(`{"brand": "Brand %d"}`, i)))
		switch code {
		case 200:
			saved++
		case 429:
			limited++
			retry = h.Get("Retry-After")
		default:
			t.Fatalf("PUT page %d: %d %s", i, code, resp)
		}
	}
	t.Logf("1100 saves: %d done, %d refused (Retry-After %s)", saved, limited, retry)
	if limited == 0 || retry == "" {
		t.Errorf("1100 saves in a row: none refused; want 429 with Retry-After")
	}
	_, log, _ := ops.do(t, "GET", "/v1/audit?n=10000", "", nil)
	if !strings.Contains(log, `"PUT /v1/sites/b/fallback"`) {
		t.Errorf("ops' change is gone from the audit log after a merchant's saves (%d bytes of log)", len(log))
	}
	for i := range 100 {
		if code, resp, _ := m.do(t, "PUT", "/v1/sites/a/page/draft", "application/json", []byte(fmt.Sprintf(`{"brand": "Draft %d"}`, i))); code != 200 {
			t.Fatalf("draft %d while saves are limited: %d %s; want drafts unlimited", i, code, resp)
		}
	}
	if code, resp, _ := ops.do(t, "PUT", "/v1/sites/a/page", "application/json", []byte(`{"brand": "ops"}`)); code != 200 {
		t.Errorf("ops changing the page while the merchant is limited: %d %s", code, resp)
	}
}

// TestSignInLinksBounded: one-time sign-in links are kept like sessions
// until used or expired; a merchant making them in a loop is refused as
// one signing in in a loop is.
func TestSignInLinksBounded(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, isoConfig(t, o.URL(), ""))
	m := isoCall{addr: n.Addrs().Admin[0], token: isoMerchantA}
	made, code := 0, 0
	var h http.Header
	for range 100 {
		if code, _, h = m.do(t, "POST", "/v1/session/link", "", nil); code != 201 {
			break
		}
		made++
	}
	if code != 429 || h.Get("Retry-After") == "" || made > 30 {
		t.Errorf("after %d sign-in links: %d, Retry-After %q; want 429 with Retry-After within 30", made, code, h.Get("Retry-After"))
	}
	opsCall := isoCall{addr: n.Addrs().Admin[0], token: apiOps}
	if code, resp, _ := opsCall.do(t, "POST", "/v1/session/link", "", nil); code != 201 {
		t.Errorf("ops making a link meanwhile: %d %s", code, resp)
	}
}
