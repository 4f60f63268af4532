package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

// Tokens of the test config.
const (
	opsToken     = "ops-token-0123456789abcdef"
	bakkerToken  = "bakkerij-token-0123456789"
	winkelToken  = "winkel-token-0123456789ab"
	unknownToken = "nobody-has-this-token-0000"
)

func hash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

type env struct {
	srv   *httptest.Server
	store *state.Store
	proxy *proxy.Server
	cfg   *config.Config
	reg   *sites.Registry
	admin *Server
	now   atomic.Int64 // the API's clock, unix nanos; 0 for the real one
}

// forgetGuesses forgets the failed authentications counted so far: for
// tests of the access rules, which fail on purpose more often than a
// client may.
func (e *env) forgetGuesses() {
	l := &e.admin.guesses
	l.mu.Lock()
	l.clients.m = nil
	l.mu.Unlock()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	yaml := `
tls: {mode: "off"}
admin:
  tokens:
    - {name: ops, sha256: "` + hash(opsToken) + `", sites: ["*"]}
    - {name: bakkerij, sha256: "` + hash(bakkerToken) + `", sites: [bakkerij]}
    - {name: winkel, sha256: "` + hash(winkelToken) + `", sites: [winkel]}
sites:
  - name: bakkerij
    hosts: [bakkerij.example]
    origin: {urls: ["http://127.0.0.1:1"]}
    page: {languages: [nl, en], brand: "Bakkerij de Vries", contact: "info@bakkerij.example", logo: "logo.png"}
  - name: winkel
    hosts: [winkel.example]
    origin: {urls: ["http://127.0.0.1:2"]}
    page: {languages: [de], timezone: Europe/Berlin}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "logo.png"), testPNG(t, 64, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "test.yaml"), []byte(yaml))
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
	e := &env{proxy: px, cfg: cfg, reg: reg}
	e.store, err = state.NewStore(state.StoreConfig{Dir: t.TempDir(), Log: log, OnChange: func([]string) {}})
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Config: cfg, Sites: reg, Store: e.store, Proxy: px, Log: log, Now: func() time.Time {
		if n := e.now.Load(); n != 0 {
			return time.Unix(0, n)
		}
		return time.Now()
	}})
	e.admin = a
	e.srv = httptest.NewServer(a)
	t.Cleanup(e.srv.Close)
	return e
}

// call sends an API request and returns status and body.
func (e *env) call(t testing.TB, token, method, path, ctype string, body []byte, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
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

func testPNG(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{181, 101, 29, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// TestRouteAccess: every route, called by no token, a wrong token, another
// merchant, the site's own merchant and ops.
func TestRouteAccess(t *testing.T) {
	e := newEnv(t)
	for _, scope := range []string{"bakkerij", state.Global} {
		e.store.Change(context.Background(), scope, func(sc *state.Scope) error {
			sc.Updates = []pages.Update{{ID: "known", Time: time.Now(), Message: map[string]string{"nl": "x"}}}
			return nil
		})
	}
	maint := []byte(`{"enabled": true, "mode": "read-only"}`)
	update := []byte(`{"message": {"nl": "We werken eraan", "en": "Working on it"}}`)
	globalUpdate := []byte(`{"message": {"en": "Working on it"}}`)
	page := []byte(`{"brand": "Bakkerij de Vries", "color": "#b5651d"}`)
	logo := testPNG(t, 64, 64)
	const (
		ok        = 200
		created   = 201
		forbidden = 403
		hidden    = 404
	)
	tests := []struct {
		method, path string
		ctype        string
		body         []byte
		other, own   int // statuses for another merchant and the site's own merchant
		ops          int
	}{
		{"GET", "/v1/sites", "", nil, ok, ok, ok},
		{"GET", "/v1/sites/bakkerij", "", nil, hidden, ok, ok},
		{"GET", "/v1/sites/bakkerij/maintenance", "", nil, hidden, forbidden, ok},
		{"PUT", "/v1/sites/bakkerij/maintenance", "application/json", maint, hidden, forbidden, ok},
		{"DELETE", "/v1/sites/bakkerij/maintenance", "", nil, hidden, forbidden, ok},
		{"GET", "/v1/maintenance", "", nil, forbidden, forbidden, ok},
		{"PUT", "/v1/maintenance", "application/json", maint, forbidden, forbidden, ok},
		{"DELETE", "/v1/maintenance", "", nil, forbidden, forbidden, ok},
		{"GET", "/v1/sites/bakkerij/updates", "", nil, hidden, forbidden, ok},
		{"POST", "/v1/sites/bakkerij/updates", "application/json", update, hidden, forbidden, created},
		{"DELETE", "/v1/sites/bakkerij/updates/known", "", nil, hidden, forbidden, ok},
		{"GET", "/v1/updates", "", nil, forbidden, forbidden, ok},
		{"POST", "/v1/updates", "application/json", globalUpdate, forbidden, forbidden, created},
		{"DELETE", "/v1/updates/known", "", nil, forbidden, forbidden, ok},
		{"GET", "/v1/sites/bakkerij/page", "", nil, hidden, ok, ok},
		{"PUT", "/v1/sites/bakkerij/page", "application/json", page, hidden, ok, ok},
		{"PUT", "/v1/sites/bakkerij/page/logo", "image/png", logo, hidden, ok, ok},
		{"GET", "/v1/sites/bakkerij/page/preview?mode=maintenance&lang=en", "", nil, hidden, ok, ok},
		{"DELETE", "/v1/sites/bakkerij/page/logo", "", nil, hidden, ok, ok},
		{"DELETE", "/v1/sites/bakkerij/page", "", nil, hidden, ok, ok},
		{"PUT", "/v1/sites/bakkerij/fallback", "", nil, hidden, forbidden, ok},
		{"DELETE", "/v1/sites/bakkerij/fallback", "", nil, hidden, forbidden, ok},
		{"GET", "/v1/audit", "", nil, forbidden, forbidden, ok},
		{"GET", "/v1/sites/nosuchsite", "", nil, hidden, hidden, hidden},
		{"PUT", "/v1/sites/newsite", "application/json", []byte(`{"hosts": ["new.example"], "origin": {"urls": ["http://127.0.0.1:3"]}}`), forbidden, forbidden, created},
		{"DELETE", "/v1/sites/newsite", "", nil, forbidden, forbidden, ok},
		{"GET", "/v1/tokens", "", nil, forbidden, forbidden, ok},
		{"POST", "/v1/tokens", "application/json", []byte(`{"name": "t1", "sites": ["bakkerij"]}`), forbidden, forbidden, created},
		{"DELETE", "/v1/tokens/t1", "", nil, forbidden, forbidden, ok},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			e.forgetGuesses()
			for _, caller := range []struct {
				name, token string
				want        int
			}{
				{"no token", "", 401},
				{"wrong token", unknownToken, 401},
				{"other merchant", winkelToken, tt.other},
				{"own merchant", bakkerToken, tt.own},
				{"ops", opsToken, tt.ops},
			} {
				status, body := e.call(t, caller.token, tt.method, tt.path, tt.ctype, tt.body)
				if status != caller.want {
					t.Errorf("%s: status %d; want %d (%s)", caller.name, status, caller.want, strings.TrimSpace(body))
				}
				if status >= 400 && !strings.Contains(body, `"error"`) {
					t.Errorf("%s: error without a JSON error body: %s", caller.name, body)
				}
			}
		})
	}
}

func TestMerchantSeesOnlyOwnSites(t *testing.T) {
	e := newEnv(t)
	e.call(t, opsToken, "PUT", "/v1/sites/bakkerij/maintenance", "application/json",
		[]byte(`{"enabled": true, "bypass_secret": "a-very-secret-bypass-value", "allow": ["10.0.0.0/8"]}`))
	_, body := e.call(t, bakkerToken, "GET", "/v1/sites", "", nil)
	var got []SiteView
	json.Unmarshal([]byte(body), &got)
	if len(got) != 1 || got[0].Name != "bakkerij" {
		t.Fatalf("merchant sees %+v; want only bakkerij", got)
	}
	if m := got[0].Maintenance; m == nil || !m.Active || m.BypassSecret != "" || m.Allow != nil {
		t.Errorf("merchant's view of maintenance: %+v; want active, without the bypass secret and allow list", m)
	}
	_, body = e.call(t, opsToken, "GET", "/v1/sites/bakkerij", "", nil)
	if !strings.Contains(body, "a-very-secret-bypass-value") {
		t.Error("ops do not see the bypass secret")
	}
}

// TestBadBodiesChangeNothing: every malformed call gets a 4xx that says why,
// and the state is exactly what it was.
func TestBadBodiesChangeNothing(t *testing.T) {
	e := newEnv(t)
	before := e.store.Version()
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`)
	huge := testPNG(t, 2000, 2000) // far over 200 KB uncompressed... make sure
	if len(huge) < 256<<10 {
		huge = append(huge, make([]byte, 300<<10)...)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name, method, path, ctype string
		body                      string
		status                    int
		says                      string
	}{
		{"unknown field", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "mod": "full"}`, 400, `unknown field "mod"`},
		{"wrong type", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": "yes"}`, 400, "enabled"},
		{"missing enabled", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"mode": "full"}`, 400, `"enabled" is required`},
		{"two values", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true} {"enabled": false}`, 400, "more than one"},
		{"trailing garbage", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true} x`, 400, "bad JSON"},
		{"empty body", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", ``, 400, "empty"},
		{"form body", "PUT", "/v1/sites/bakkerij/maintenance", "application/x-www-form-urlencoded", `enabled=true`, 415, "application/json"},
		{"bad mode", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "mode": "partial"}`, 400, "mode"},
		{"end before start", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "start": "` + future + `", "end": "` + past + `"}`, 400, "end"},
		{"end in the past", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "end": "` + past + `"}`, 400, "in the past"},
		{"bad time", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "end": "tomorrow"}`, 400, "end"},
		{"bad allow", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "allow": ["10.0.0.0/99"]}`, 400, "allow[0]"},
		{"short secret", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "bypass_secret": "abc"}`, 400, "bypass_secret"},
		{"secret with a slash", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "bypass_secret": "abcdefgh/ijklmnopq"}`, 400, "bypass_secret"},
		{"language of another site", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "message": {"de": "Wartung"}}`, 400, "message.de"},
		{"unknown language", "PUT", "/v1/maintenance", "application/json", `{"enabled": true, "message": {"xx": "?"}}`, 400, "message.xx"},
		{"long message", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "message": {"nl": "` + strings.Repeat("a", 700) + `"}}`, 400, "message.nl"},
		{"too large", "PUT", "/v1/sites/bakkerij/maintenance", "application/json", `{"enabled": true, "message": {"nl": "` + strings.Repeat("a", 70<<10) + `"}}`, 413, "larger than"},
		{"update without message", "POST", "/v1/sites/bakkerij/updates", "application/json", `{}`, 400, "message"},
		{"update ended already", "POST", "/v1/sites/bakkerij/updates", "application/json", `{"message": {"nl": "x"}, "expires": "` + past + `"}`, 400, "expires"},
		{"update with a bad end", "POST", "/v1/sites/bakkerij/updates", "application/json", `{"message": {"nl": "x"}, "expires": "tomorrow"}`, 400, "expires"},
		{"update ending in a year", "POST", "/v1/sites/bakkerij/updates", "application/json", `{"message": {"nl": "x"}, "expires": "8760h"}`, 400, "expires"},
		{"bad colour", "PUT", "/v1/sites/bakkerij/page", "application/json", `{"color": "red"}`, 400, "color"},
		{"http status page", "PUT", "/v1/sites/bakkerij/page", "application/json", `{"status_url": "http://status.example"}`, 400, "status_url"},
		{"javascript contact", "PUT", "/v1/sites/bakkerij/page", "application/json", `{"contact": "javascript:alert(1)"}`, 400, "contact"},
		{"svg logo", "PUT", "/v1/sites/bakkerij/page/logo", "image/svg+xml", string(svg), 415, "SVG"},
		{"svg logo disguised", "PUT", "/v1/sites/bakkerij/page/logo", "image/png", string(svg), 400, "logo"},
		{"huge logo", "PUT", "/v1/sites/bakkerij/page/logo", "image/png", string(huge), 413, "larger than"},
		{"bad preview mode", "GET", "/v1/sites/bakkerij/page/preview?mode=party", "", "", 400, "mode"},
		{"retract unknown update", "DELETE", "/v1/sites/bakkerij/updates/nope", "", "", 404, "no update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call(t, opsToken, tt.method, tt.path, tt.ctype, []byte(tt.body))
			var msg struct{ Error string }
			json.Unmarshal([]byte(body), &msg)
			if status != tt.status || !strings.Contains(msg.Error, tt.says) {
				t.Errorf("status %d %s; want %d saying %q", status, strings.TrimSpace(body), tt.status, tt.says)
			}
		})
	}
	if v := e.store.Version(); v != before {
		t.Errorf("state version %d after bad calls; want %d (nothing changed)", v, before)
	}
}

func TestCrossSiteRefused(t *testing.T) {
	e := newEnv(t)
	for _, h := range [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
	} {
		status, _ := e.call(t, opsToken, "PUT", "/v1/maintenance", "application/json", []byte(`{"enabled": true}`), h...)
		if status != 403 {
			t.Errorf("%s: %s → %d; want 403", h[0], h[1], status)
		}
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	if status, _ := e.call(t, opsToken, "GET", "/v1/sites", "", nil, "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin"); status != 200 {
		t.Errorf("same-origin call refused: %d", status)
	}
}

func TestChangesAreAudited(t *testing.T) {
	e := newEnv(t)
	e.call(t, opsToken, "PUT", "/v1/sites/bakkerij/maintenance", "application/json", []byte(`{"enabled": true}`))
	e.call(t, bakkerToken, "PUT", "/v1/sites/bakkerij/page", "application/json", []byte(`{"brand": "De Vries"}`))
	_, body := e.call(t, opsToken, "GET", "/v1/audit", "", nil)
	var log []state.AuditEntry
	json.Unmarshal([]byte(body), &log)
	if len(log) != 2 || log[0].Who != "bakkerij" || log[1].Who != "ops" || log[1].Action != "PUT /v1/sites/bakkerij/maintenance" || log[1].From == "" {
		t.Errorf("audit = %+v", log)
	}
}

func FuzzMaintenanceBody(f *testing.F) {
	f.Add([]byte(`{"enabled": true, "mode": "read-only", "message": {"nl": "x"}, "end": "2030-01-01T00:00:00Z", "allow": ["10.0.0.0/8"], "bypass_secret": "0123456789abcdef"}`))
	f.Add([]byte(`{"enabled": false}`))
	f.Add([]byte(`{"enabled": true, "start": "2030-01-01T00:00:00Z", "end": "2029-01-01T00:00:00Z"}`))
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("PUT", "/v1/maintenance", bytes.NewReader(data))
		var b maintenanceBody
		if err := decodeJSON(&call{w: rec, r: req}, &b); err != nil {
			return
		}
		m, err := b.toState(now, []string{"nl", "en"})
		if err != nil {
			return
		}
		// What is accepted is well-formed.
		if m.Mode != "full" && m.Mode != "read-only" {
			t.Fatalf("accepted mode %q", m.Mode)
		}
		if m.Start != nil && m.End != nil && !m.End.After(*m.Start) {
			t.Fatal("accepted an end before the start")
		}
		for _, a := range m.Allow {
			if _, err := config.ParsePrefix(a); err != nil {
				t.Fatalf("accepted allow %q", a)
			}
		}
		for l := range m.Message {
			if l != "nl" && l != "en" {
				t.Fatalf("accepted language %q", l)
			}
		}
	})
}

// FuzzMutatingRoutes sends arbitrary bodies to every route that changes
// state: each call either succeeds or is refused with a 4xx that changes
// nothing, never a 5xx.
func FuzzMutatingRoutes(f *testing.F) {
	f.Add(uint8(0), []byte(`{"enabled": true, "mode": "read-only"}`))
	f.Add(uint8(2), []byte(`{"message": {"nl": "x"}}`))
	f.Add(uint8(3), []byte(`{"brand": "X", "color": "#fff", "reassurance": {"nl": ["a"]}}`))
	f.Add(uint8(4), testPNG(f, 32, 32))
	f.Add(uint8(5), []byte(`{"hosts": ["new.example"], "origin": {"urls": ["http://127.0.0.1:3"], "health": {"path": "/h"}}}`))
	f.Add(uint8(6), []byte(`{"name": "t1", "sites": ["bakkerij"]}`))
	routes := []struct{ method, path, ctype string }{
		{"PUT", "/v1/sites/bakkerij/maintenance", "application/json"},
		{"PUT", "/v1/maintenance", "application/json"},
		{"POST", "/v1/sites/bakkerij/updates", "application/json"},
		{"PUT", "/v1/sites/bakkerij/page", "application/json"},
		{"PUT", "/v1/sites/bakkerij/page/logo", "image/png"},
		{"PUT", "/v1/sites/newsite", "application/json"},
		{"POST", "/v1/tokens", "application/json"},
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := routes[int(route)%len(routes)]
		before := e.store.Version()
		status, msg := e.call(t, opsToken, r.method, r.path, r.ctype, body)
		switch {
		case status >= 500:
			t.Fatalf("%s %s: %d %s", r.method, r.path, status, msg)
		case status >= 400 && e.store.Version() != before:
			t.Fatalf("%s %s refused with %d but changed the state", r.method, r.path, status)
		}
	})
}

// TestUpdateExpires: an update takes an end, as a duration or a time, and
// the list says which updates are live.
func TestUpdateExpires(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	for _, expires := range []string{"90m", at.Format(time.RFC3339)} {
		status, body := e.call(t, opsToken, "POST", "/v1/sites/bakkerij/updates", "application/json",
			[]byte(`{"message": {"nl": "Kort bericht"}, "expires": "`+expires+`"}`))
		var u pages.Update
		json.Unmarshal([]byte(body), &u)
		if status != 201 || u.Expires.IsZero() || u.Expires.Before(time.Now().Add(89*time.Minute)) {
			t.Errorf("expires %s: %d %s", expires, status, body)
		}
	}
	e.call(t, opsToken, "POST", "/v1/sites/bakkerij/updates", "application/json", []byte(`{"message": {"nl": "Zonder einde"}}`))
	_, body := e.call(t, opsToken, "GET", "/v1/sites/bakkerij/updates", "", nil)
	var list []struct {
		pages.Update
		Live bool `json:"live"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 3 {
		t.Fatalf("list: %v %s", err, body)
	}
	for _, u := range list {
		if !u.Live {
			t.Errorf("%s not live: %s", u.ID, body)
		}
	}
}
