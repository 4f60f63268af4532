package admin

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

// consoleEnv is newEnv with a clock, for the console's sessions.
type consoleEnv struct {
	*env
	clock *testkit.Clock
	admin *Server
	host  string // the listener's host:port, as browsers send it in Origin
}

func consoleYAML(extra string) string {
	return `
tls: {mode: "off"}
trusted_proxies: [127.0.0.1]
admin:
  tokens:
    - {name: ops, sha256: "` + hash(opsToken) + `", sites: ["*"]}
    - {name: bakkerij, sha256: "` + hash(bakkerToken) + `", sites: [bakkerij]}
` + extra + `sites:
  - name: bakkerij
    hosts: [bakkerij.example]
    origin: {urls: ["http://127.0.0.1:1"]}
    page: {languages: [nl, en]}
  - name: winkel
    hosts: [winkel.example]
    origin: {urls: ["http://127.0.0.1:2"]}
    page: {languages: [de]}
`
}

func newConsoleEnv(t testing.TB, extraTokens string) *consoleEnv {
	t.Helper()
	return newConsoleEnvWith(t, extraTokens, nil)
}

// newConsoleEnvWith builds a consoleEnv whose sessions are kept in sessions
// (nil: this API's memory).
func newConsoleEnvWith(t testing.TB, extraTokens string, sessions func(now func() time.Time) *state.Sessions) *consoleEnv {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(consoleYAML(extraTokens)))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := sites.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	px, err := proxy.New(proxy.Options{Config: cfg, Sites: reg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	clock := testkit.NewClock(time.Now())
	store, err := state.NewStore(state.StoreConfig{Dir: t.TempDir(), Log: log, OnChange: func([]string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ss := state.NewSessions(state.SessionsConfig{Now: clock.Now, Log: log})
	if sessions != nil {
		ss = sessions(clock.Now)
	}
	a := New(Options{
		Config: cfg, Sites: reg, Store: store, Proxy: px, Log: log, Now: clock.Now,
		Sessions:   ss,
		SessionTTL: time.Hour,
		Console:    http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "console") }),
	})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &consoleEnv{env: &env{srv: srv, store: store, proxy: px}, clock: clock, admin: a, host: strings.TrimPrefix(srv.URL, "http://")}
}

// browser is what a browser on the console's own origin sends with a
// change: its Origin and Sec-Fetch-Site.
func (e *consoleEnv) browser() []string {
	return []string{"Origin", "http://" + e.host, "Sec-Fetch-Site", "same-origin"}
}

// signIn signs in with body and returns the cookie and the session view.
func (e *consoleEnv) signIn(t *testing.T, body string, header ...string) (*http.Cookie, SessionView, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/session", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v SessionView
	json.NewDecoder(resp.Body).Decode(&v)
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "awning-session") {
			return c, v, resp
		}
	}
	return nil, v, resp
}

// as calls the API with a session cookie (and, when csrf is not empty,
// the CSRF header), plus header pairs.
func (e *consoleEnv) as(t *testing.T, cookie *http.Cookie, csrf, method, path, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader([]byte(body)))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSessionCookie: signing in sets a cookie a script cannot read, that no
// other site's request carries, with an expiry; Secure (and __Host-) when
// the console is reached over HTTPS through a trusted proxy.
func TestSessionCookie(t *testing.T) {
	e := newConsoleEnv(t, "")
	c, v, resp := e.signIn(t, `{"token": "`+opsToken+`"}`, e.browser()...)
	if resp.StatusCode != 201 || c == nil {
		t.Fatalf("sign-in: %d, cookie %v; want 201 and a cookie", resp.StatusCode, c)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 3600 || c.Secure || c.Name != cookiePlain {
		t.Errorf("cookie %+v; want HttpOnly, SameSite=Strict, Path=/, Max-Age=3600, not Secure over plain HTTP", c)
	}
	if v.Role != "ops" || v.Name != "ops" || v.CSRF == "" || v.Expires == nil || v.Expires.Sub(e.clock.Now()).Round(time.Second) != time.Hour {
		t.Errorf("session view %+v; want ops, a CSRF secret, expiring in an hour", v)
	}
	if strings.Contains(c.Value, opsToken) || len(c.Value) < 40 {
		t.Errorf("cookie value %q: want a long random ID, not the token", c.Value)
	}

	// Over HTTPS behind a trusted proxy: Secure, __Host- prefixed.
	c, _, _ = e.signIn(t, `{"token": "`+opsToken+`"}`, "X-Forwarded-Proto", "https")
	if c == nil || !c.Secure || c.Name != cookieSecure {
		t.Errorf("cookie over HTTPS: %+v; want Secure, named %s", c, cookieSecure)
	}
	if st, _ := e.as(t, c, "", "GET", "/v1/session", ""); st != 200 {
		t.Errorf("the __Host- cookie is not accepted: %d", st)
	}
}

// TestSessionRefusals: the session layer's "no" in every form.
func TestSessionRefusals(t *testing.T) {
	e := newConsoleEnv(t, "")
	ops, opsView, _ := e.signIn(t, `{"token": "`+opsToken+`"}`, e.browser()...)
	merchant, mView, _ := e.signIn(t, `{"token": "`+bakkerToken+`"}`, e.browser()...)
	if mView.Role != "merchant" || len(mView.Sites) != 1 || mView.Sites[0] != "bakkerij" {
		t.Fatalf("merchant view %+v; want a merchant of bakkerij", mView)
	}
	maint := `{"enabled": true, "mode": "read-only"}`
	tests := []struct {
		name               string
		cookie             *http.Cookie
		csrf, method, path string
		body               string
		header             []string
		want               int
	}{
		{"wrong token", nil, "", "POST", "/v1/session", `{"token": "` + unknownToken + `"}`, e.browser(), 401},
		{"token and code", nil, "", "POST", "/v1/session", `{"token": "a", "code": "b"}`, e.browser(), 400},
		{"sign-in from another site", nil, "", "POST", "/v1/session", `{"token": "` + opsToken + `"}`, []string{"Origin", "https://evil.example"}, 403},
		{"forged cookie", &http.Cookie{Name: cookiePlain, Value: "forged-forged-forged-forged-forged-forged"}, "", "GET", "/v1/sites", "", nil, 401},
		{"merchant on an ops route", merchant, mView.CSRF, "PUT", "/v1/sites/bakkerij/maintenance", maint, e.browser(), 403},
		{"merchant on global maintenance", merchant, mView.CSRF, "PUT", "/v1/maintenance", maint, e.browser(), 403},
		{"merchant on the audit log", merchant, "", "GET", "/v1/audit", "", nil, 403},
		{"merchant on the nodes", merchant, "", "GET", "/v1/nodes", "", nil, 403},
		{"merchant on another shop", merchant, "", "GET", "/v1/sites/winkel", "", nil, 404},
		{"merchant on another shop's page", merchant, mView.CSRF, "PUT", "/v1/sites/winkel/page", `{"brand": "x"}`, e.browser(), 404},
		{"change without the CSRF header", ops, "", "PUT", "/v1/sites/bakkerij/maintenance", maint, e.browser(), 403},
		{"change with a wrong CSRF header", ops, "not-the-secret", "PUT", "/v1/sites/bakkerij/maintenance", maint, e.browser(), 403},
		{"change with another session's CSRF", ops, mView.CSRF, "PUT", "/v1/sites/bakkerij/maintenance", maint, e.browser(), 403},
		{"change from another site", ops, opsView.CSRF, "PUT", "/v1/sites/bakkerij/maintenance", maint, []string{"Origin", "https://evil.example"}, 403},
		{"change from a sibling site", ops, opsView.CSRF, "PUT", "/v1/sites/bakkerij/maintenance", maint, []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"change with no origin at all", ops, opsView.CSRF, "PUT", "/v1/sites/bakkerij/maintenance", maint, nil, 403},
		{"sign-out without the CSRF header", ops, "", "DELETE", "/v1/session", "", e.browser(), 403},
	}
	before := e.store.Version()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.as(t, tt.cookie, tt.csrf, tt.method, tt.path, tt.body, tt.header...)
			if st != tt.want || !strings.Contains(body, `"error"`) {
				t.Errorf("%s %s: %d %s; want %d with an error", tt.method, tt.path, st, strings.TrimSpace(body), tt.want)
			}
		})
	}
	if v := e.store.Version(); v != before {
		t.Errorf("state version %d after refused calls; want %d", v, before)
	}

	// The same calls, done right, pass: the refusals above were for what
	// they named.
	if st, body := e.as(t, ops, opsView.CSRF, "PUT", "/v1/sites/bakkerij/maintenance", maint, e.browser()...); st != 200 {
		t.Errorf("ops change from the console: %d %s", st, body)
	}
	if st, body := e.as(t, merchant, mView.CSRF, "PUT", "/v1/sites/bakkerij/page", `{"color": "#336699"}`, "Origin", "http://"+e.host); st != 200 {
		t.Errorf("merchant change from the console: %d %s", st, body)
	}
	// Bearer calls are unchanged: no CSRF header needed.
	if st, _ := e.call(t, opsToken, "DELETE", "/v1/sites/bakkerij/maintenance", "", nil); st != 200 {
		t.Errorf("bearer change: %d", st)
	}
}

// TestSessionExpiry: a session ends at its expiry, whatever the cookie says.
func TestSessionExpiry(t *testing.T) {
	e := newConsoleEnv(t, "")
	c, _, _ := e.signIn(t, `{"token": "`+opsToken+`"}`, e.browser()...)
	e.clock.Add(59 * time.Minute)
	if st, _ := e.as(t, c, "", "GET", "/v1/sites", ""); st != 200 {
		t.Fatalf("before expiry: %d; want 200", st)
	}
	e.clock.Add(2 * time.Minute)
	if st, body := e.as(t, c, "", "GET", "/v1/sites", ""); st != 401 || !strings.Contains(body, "sign in again") {
		t.Fatalf("after expiry: %d %s; want 401 asking to sign in again", st, body)
	}
}

// TestSignOut: signing out ends the session on the server (the cookie, if
// kept, no longer works) and tells the browser to drop it.
func TestSignOut(t *testing.T) {
	e := newConsoleEnv(t, "")
	c, v, _ := e.signIn(t, `{"token": "`+bakkerToken+`"}`, e.browser()...)
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/v1/session", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	req.Header.Set(csrfHeader, v.CSRF)
	req.Header.Set("Origin", "http://"+e.host)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cleared := false
	for _, k := range resp.Cookies() {
		cleared = cleared || (k.Name == c.Name && k.MaxAge < 0 && k.Value == "")
	}
	if resp.StatusCode != 200 || !cleared {
		t.Fatalf("sign-out: %d, cookies %v; want 200 and the cookie cleared", resp.StatusCode, resp.Cookies())
	}
	if st, _ := e.as(t, c, "", "GET", "/v1/sites/bakkerij", ""); st != 401 {
		t.Fatalf("the old cookie after sign-out: %d; want 401", st)
	}
	if st, body := e.as(t, c, "", "GET", "/v1/session", ""); st != 200 || !strings.Contains(body, `"signed_in": false`) {
		t.Fatalf("GET /v1/session after sign-out: %d %s; want 200 saying signed out", st, body)
	}
}

// TestSignInLink: a bearer caller makes a one-time link for its own token;
// it signs in once, as that token, within 15 minutes.
func TestSignInLink(t *testing.T) {
	e := newConsoleEnv(t, "")
	link := func() string {
		st, body := e.call(t, bakkerToken, "POST", "/v1/session/link", "", nil)
		var l struct{ Code, Path string }
		json.Unmarshal([]byte(body), &l)
		if st != 201 || l.Code == "" || l.Path != "/ui/#code="+l.Code {
			t.Fatalf("link: %d %s", st, body)
		}
		return l.Code
	}
	code := link()
	c, v, resp := e.signIn(t, `{"code": "`+code+`"}`, e.browser()...)
	if resp.StatusCode != 201 || c == nil || v.Name != "bakkerij" || v.Role != "merchant" {
		t.Fatalf("sign-in by link: %d %+v; want the merchant bakkerij", resp.StatusCode, v)
	}
	if _, _, resp := e.signIn(t, `{"code": "`+code+`"}`, e.browser()...); resp.StatusCode != 401 {
		t.Fatalf("the link's second use: %d; want 401", resp.StatusCode)
	}
	code = link()
	e.clock.Add(16 * time.Minute)
	if _, _, resp := e.signIn(t, `{"code": "`+code+`"}`, e.browser()...); resp.StatusCode != 401 {
		t.Fatalf("a link after 16 minutes: %d; want 401", resp.StatusCode)
	}
}

// TestSessionEndsWithItsToken: removing a token from the config ends the
// sessions signed in with it at once.
func TestSessionEndsWithItsToken(t *testing.T) {
	e := newConsoleEnv(t, "")
	c, _, _ := e.signIn(t, `{"token": "`+bakkerToken+`"}`, e.browser()...)
	cfg, err := config.Parse("test.yaml", []byte(strings.Replace(consoleYAML(""), `    - {name: bakkerij, sha256: "`+hash(bakkerToken)+`", sites: [bakkerij]}`+"\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := sites.New(cfg)
	e.admin.Update(cfg, reg)
	if st, _ := e.as(t, c, "", "GET", "/v1/sites", ""); st != 401 {
		t.Fatalf("session of a removed token: %d; want 401", st)
	}
}

// TestConsoleServed: the console's files at /ui/, and / sends there.
func TestConsoleServed(t *testing.T) {
	e := newConsoleEnv(t, "")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d → %q; want 302 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if st, body := e.as(t, nil, "", "GET", "/ui/", ""); st != 200 || body != "console" {
		t.Errorf("GET /ui/: %d %q", st, body)
	}
	ch := httptest.NewServer(e.admin.ConsoleHandler())
	defer ch.Close()
	for path, want := range map[string]int{"/metrics": 404, "/readyz": 404, "/ui/": 200, "/v1/sites": 401} {
		resp, err := http.Get(ch.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("console listener GET %s: %d; want %d", path, resp.StatusCode, want)
		}
	}
}

// TestSessionAcrossNodes: with the sessions in Redis, a browser signed in
// through one node is accepted by another (a load balancer may send it
// anywhere), and signing out through that one ends it on the first.
func TestSessionAcrossNodes(t *testing.T) {
	r := testkit.StartRedis(t)
	shared := func(now func() time.Time) *state.Sessions {
		c, err := state.OpenRedis(r.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return state.NewSessions(state.SessionsConfig{Redis: c, Now: now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	a, b := newConsoleEnvWith(t, "", shared), newConsoleEnvWith(t, "", shared)
	c, v, _ := a.signIn(t, `{"token": "`+opsToken+`"}`, a.browser()...)
	if st, body := b.as(t, c, "", "GET", "/v1/session", ""); st != 200 || !strings.Contains(body, `"name": "ops"`) {
		t.Fatalf("node b, with node a's cookie: %d %s", st, body)
	}
	if st, body := b.as(t, c, v.CSRF, "PUT", "/v1/sites/bakkerij/fallback", "", b.browser()...); st != 200 {
		t.Fatalf("node b, a change with node a's session: %d %s", st, body)
	}
	if st, _ := b.as(t, c, v.CSRF, "DELETE", "/v1/session", "", b.browser()...); st != 200 {
		t.Fatalf("sign-out through node b: %d", st)
	}
	if st, _ := a.as(t, c, "", "GET", "/v1/sites", ""); st != 401 {
		t.Fatalf("node a after signing out through node b: %d; want 401", st)
	}
}
