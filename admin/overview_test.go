package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

// newManySites is an API over n sites named shop0000…, each with its own
// host; the merchant token reaches shop0001 and shop0002.
func newManySites(t testing.TB, n int) *consoleEnv {
	t.Helper()
	var b strings.Builder
	b.WriteString(`tls: {mode: "off"}
admin:
  tokens:
    - {name: ops, sha256: "` + hash(opsToken) + `", sites: ["*"]}
    - {name: two, sha256: "` + hash(bakkerToken) + `", sites: [shop0001, shop0002]}
sites:
`)
	for i := range n {
		fmt.Fprintf(&b, "  - {name: shop%04d, hosts: [shop%04d.example], origin: {urls: [\"http://127.0.0.1:1\"]}, page: {languages: [en]}}\n", i, i)
	}
	cfg, err := config.Parse("many.yaml", []byte(b.String()))
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
	a := New(Options{Config: cfg, Sites: reg, Store: store, Proxy: px, Log: log, Now: clock.Now})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &consoleEnv{env: &env{srv: srv, store: store, proxy: px}, clock: clock, admin: a, host: strings.TrimPrefix(srv.URL, "http://")}
}

func (e *consoleEnv) overview(t *testing.T, token, query string) (int, Overview, string) {
	t.Helper()
	st, body := e.call(t, token, "GET", "/v1/overview"+query, "", nil)
	var o Overview
	json.Unmarshal([]byte(body), &o)
	return st, o, body
}

func names(o Overview) string {
	var n []string
	for _, s := range o.Sites {
		n = append(n, s.Name)
	}
	return strings.Join(n, " ")
}

// TestOverview: search, filter by state, paging and sorting happen on the
// server; states are what shoppers get; a merchant's overview holds only
// its own sites.
func TestOverview(t *testing.T) {
	e := newManySites(t, 120)
	e.call(t, opsToken, "PUT", "/v1/sites/shop0003/maintenance", "application/json", []byte(`{"enabled": true}`))
	e.call(t, opsToken, "PUT", "/v1/sites/shop0004/maintenance", "application/json", []byte(`{"enabled": true, "mode": "read-only"}`))
	e.call(t, opsToken, "PUT", "/v1/sites/shop0005/fallback", "", nil)
	start := e.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	e.call(t, opsToken, "PUT", "/v1/sites/shop0006/maintenance", "application/json", []byte(`{"enabled": true, "start": "`+start+`"}`))

	tests := []struct {
		name, query           string
		status                int
		total, matched, pages int
		first                 string // names on the page, space-separated
	}{
		{"first page", "", 200, 120, 120, 3, ""},
		{"second page of 50", "?page=2", 200, 120, 120, 3, ""},
		{"search by name", "?q=SHOP011", 200, 120, 10, 1, "shop0110 shop0111 shop0112 shop0113 shop0114 shop0115 shop0116 shop0117 shop0118 shop0119"},
		{"search by host", "?q=shop0042.example", 200, 120, 1, 1, "shop0042"},
		{"filter maintenance", "?state=maintenance,read-only", 200, 120, 2, 1, "shop0003 shop0004"},
		{"filter forced", "?state=forced", 200, 120, 1, 1, "shop0005"},
		{"filter scheduled", "?state=scheduled", 200, 120, 1, 1, "shop0006"},
		{"small pages", "?per_page=2&page=3", 200, 120, 120, 60, "shop0004 shop0005"},
		{"by state", "?sort=state&per_page=4", 200, 120, 120, 30, "shop0003 shop0004 shop0005 shop0006"},
		{"past the last page", "?page=9", 200, 120, 120, 3, ""},
		{"bad state", "?state=broken", 400, 0, 0, 0, ""},
		{"bad page", "?page=0", 400, 0, 0, 0, ""},
		{"bad per_page", "?per_page=100000", 400, 0, 0, 0, ""},
		{"bad sort", "?sort=random", 400, 0, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, o, body := e.overview(t, opsToken, tt.query)
			if st != tt.status {
				t.Fatalf("status %d %s; want %d", st, body, tt.status)
			}
			if st != 200 {
				return
			}
			if o.Total != tt.total || o.Matched != tt.matched || o.Pages != tt.pages {
				t.Errorf("total %d matched %d pages %d; want %d %d %d", o.Total, o.Matched, o.Pages, tt.total, tt.matched, tt.pages)
			}
			if tt.first != "" && names(o) != tt.first {
				t.Errorf("sites %q; want %q", names(o), tt.first)
			}
		})
	}

	_, o, _ := e.overview(t, opsToken, "?per_page=500")
	if len(o.Sites) != 120 || o.Sites[0].Name != "shop0000" {
		t.Fatalf("per_page=500: %d sites from %q", len(o.Sites), o.Sites[0].Name)
	}
	want := map[string]string{"shop0003": "maintenance", "shop0004": "read-only", "shop0005": "forced", "shop0006": "scheduled", "shop0007": "open"}
	for _, s := range o.Sites {
		if w, ok := want[s.Name]; ok && s.State != w {
			t.Errorf("%s: state %q; want %q", s.Name, s.State, w)
		}
	}
	if o.States["maintenance"] != 1 || o.States["read-only"] != 1 || o.States["forced"] != 1 || o.States["scheduled"] != 1 || o.States["open"] != 116 {
		t.Errorf("states %v", o.States)
	}

	// A merchant sees its own two sites and nothing of the rest, not even
	// how many there are.
	st, o, body := e.overview(t, bakkerToken, "?q=shop")
	if st != 200 || o.Total != 2 || names(o) != "shop0001 shop0002" {
		t.Errorf("merchant overview: %d %s", st, body)
	}
}

// TestOverviewAnswers: answers are counted from the oldest sample of the
// last five minutes.
func TestOverviewAnswers(t *testing.T) {
	e := newManySites(t, 3)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.proxy.Serve(ln)
	t.Cleanup(func() { e.proxy.Shutdown(context.Background()) })
	// Shoppers of shop0001 through the real request path: the origin
	// refuses (127.0.0.1:1), so they get the outage page.
	get := func() {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/x", nil)
		req.Host = "shop0001.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	e.admin.sample() // the window starts here
	for range 3 {
		get()
	}
	_, o, _ := e.overview(t, opsToken, "?q=shop0001")
	if got := o.Sites[0].Answers["outage"] + o.Sites[0].Answers["stale"]; got != 3 {
		t.Fatalf("answers %v; want 3 fallback answers", o.Sites[0].Answers)
	}
	// Five minutes on, with samples along the way, the old answers have
	// left the window.
	for range 11 {
		e.clock.Add(recentEvery)
		e.admin.sample()
	}
	get()
	_, o, _ = e.overview(t, opsToken, "?q=shop0001")
	if got := o.Sites[0].Answers["outage"] + o.Sites[0].Answers["stale"]; got != 1 {
		t.Fatalf("answers after five minutes %v; want only the newest one", o.Sites[0].Answers)
	}
	if age := e.clock.Now().Sub(o.Since); age > recentWindow+recentEvery || age < recentWindow-recentEvery {
		t.Errorf("answers counted since %s ago; want about %s", age, recentWindow)
	}
}

// TestIncidentsAndNodes: the node hands the API its origin events; ops see
// the fleet.
func TestIncidentsAndNodes(t *testing.T) {
	e := newConsoleEnv(t, "")
	at := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
	e.admin.Notify(health.Event{Site: "bakkerij", Origin: "http://127.0.0.1:1", State: "down", Previous: "up", Reason: "connection refused", Time: at})
	e.admin.Notify(health.Event{Site: "bakkerij", Origin: "http://127.0.0.1:1", State: "up", Previous: "down", Time: at.Add(time.Minute), SiteOpen: true})
	e.admin.Notify(health.Event{Site: "winkel", Origin: "http://127.0.0.1:2", State: "down", Previous: "up", Time: at})
	st, body := e.call(t, bakkerToken, "GET", "/v1/sites/bakkerij/incidents", "", nil)
	var got []Incident
	json.Unmarshal([]byte(body), &got)
	if st != 200 || len(got) != 2 || got[0].State != "up" || got[1].Reason != "connection refused" {
		t.Fatalf("incidents: %d %s; want bakkerij's two, newest first", st, body)
	}
	if st, _ := e.call(t, bakkerToken, "GET", "/v1/sites/winkel/incidents", "", nil); st != 404 {
		t.Errorf("a merchant reading another shop's incidents: %d; want 404", st)
	}
	st, body = e.call(t, opsToken, "GET", "/v1/nodes", "", nil)
	if st != 200 || !strings.Contains(body, `"nodes"`) {
		t.Errorf("nodes: %d %s", st, body)
	}
}

// BenchmarkOverview is one GET /v1/overview over 10,000 sites: every site's
// state computed for the filter's counts, one page of fifty answered.
func BenchmarkOverview(b *testing.B) {
	e := newManySites(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		st, body := e.call(b, opsToken, "GET", "/v1/overview?state=open&page=3", "", nil)
		if st != 200 || !strings.Contains(body, `"matched": 10000`) {
			b.Fatalf("%d %.200s", st, body)
		}
	}
}
