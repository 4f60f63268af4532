package node

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one GET /metrics from a node's admin listener, parsed.
type scrape map[string]*dto.MetricFamily

func scrapeNode(t *testing.T, n *Node) scrape {
	t.Helper()
	resp, err := http.Get("http://" + n.Addrs().Admin[0] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// value returns the value of the series of name with exactly the given
// labels (name=value pairs); a histogram's is its count. ok is false when
// there is no such series.
func (s scrape) value(name string, labels ...string) (v float64, ok bool) {
	mf := s[name]
	if mf == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range mf.Metric {
		if len(m.Label) != len(want) {
			continue
		}
		match := true
		for _, l := range m.Label {
			if w, ok := want[l.GetName()]; !ok || w != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// check is one expectation on a scrape: the series' value compared with
// want by op ("==", ">=", ">").
type check struct {
	name   string
	labels []string
	op     string
	want   float64
}

func (s scrape) check(t *testing.T, phase string, checks []check) {
	t.Helper()
	for _, c := range checks {
		got, ok := s.value(c.name, c.labels...)
		if !ok {
			t.Errorf("%s: %s%v: no such series", phase, c.name, c.labels)
			continue
		}
		pass := false
		switch c.op {
		case "==":
			pass = got == c.want
		case ">=":
			pass = got >= c.want
		case ">":
			pass = got > c.want
		}
		if !pass {
			t.Errorf("%s: %s%v: got %v; want %s %v", phase, c.name, c.labels, got, c.op, c.want)
		}
	}
}

// documentedMetrics returns every metric name docs/metrics.md lists in its
// tables.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(awning_[a-z_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	if len(names) < 40 {
		t.Fatalf("docs/metrics.md lists %d metrics; the table format changed?", len(names))
	}
	return names
}

// scenarioOrigin is a shop: a product page that may be kept, an account
// page that may not (Set-Cookie), a sitemap and a health path.
func scenarioOrigin(x *testkit.Exchange) {
	switch x.Request.URL.Path {
	case "/healthz":
		x.Write(testkit.Response(200, "ok", "Content-Type: text/plain"))
	case "/sitemap.xml":
		x.Write(testkit.Response(200, `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`+
			`<url><loc>https://shop.example/product/2</loc></url></urlset>`, "Content-Type: application/xml"))
	case "/account":
		x.Write(testkit.Response(200, "<h1>Your account</h1>", "Set-Cookie: session=abc"))
	default:
		x.Write(testkit.Response(200, "<h1>Desem waldkorn</h1>"))
	}
	x.KeepAlive = true
}

// TestMetricsScenario runs a node (HTTPS from a local CA, Redis, a webhook,
// sitemap warming) through a healthy shop, its origin going down,
// maintenance (full, then read-only) and Redis going away, and checks after
// each that /metrics says so; and that
// every metric docs/metrics.md documents is exposed, and nothing it does
// not.
func TestMetricsScenario(t *testing.T) {
	r := testkit.StartRedis(t)
	o := testkit.NewOrigin(t, scenarioOrigin)
	var hooks atomic.Int64
	hook := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		hooks.Add(1)
		x.Write(testkit.Response(204, ""))
	})
	dir := t.TempDir()
	n, _, _ := startNode(t, `listen: {http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0"}
state: {redis: "`+r.URL()+`", dir: "`+dir+`"}
tls: {mode: self-signed}
notify: {webhook: "`+hook.URL()+`/hook"}
sites:
  - name: shop
    hosts: [shop.example]
    origin:
      urls: ["`+o.URL()+`"]
      fallback_after: 500ms
      max_inflight: 50
      health: {path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}
    cache:
      warm: {sitemap: /sitemap.xml, rate: 50}
`)
	client := httpsClient(n.Addrs().HTTPS[0], caPool(t, filepath.Join(dir, "local-ca", "ca.crt")), nil)
	get := func(host, path, wantServed string) {
		t.Helper()
		resp, _ := httpsGet(t, client, host, path)
		if got := resp.Header.Get("Awning-Served"); got != wantServed {
			t.Fatalf("GET %s%s: Awning-Served %q; want %q", host, path, got, wantServed)
		}
	}
	seen := map[string]bool{}
	remember := func(s scrape) scrape {
		for name := range s {
			seen[name] = true
		}
		return s
	}

	// Healthy: the shop answers; a page is kept, an account page is not;
	// warming keeps what the sitemap lists; copies reach Redis.
	// The first crawl would start 10s after the node: run one now.
	if rep := n.proxy.Warmer("shop").Run(context.Background()); rep.Stored != 1 {
		t.Fatalf("warming: %+v; want /product/2 stored", rep)
	}
	for range 3 {
		get("shop.example", "/product/1", "origin")
	}
	get("shop.example", "/account", "origin")
	get("shop.example", "/.well-known/awning/health", "")
	if _, err := client.Get("https://nobody.example/"); err == nil {
		t.Fatal("a handshake for a host no site has succeeded")
	}
	for host, want := range map[string]string{"shop.example": "redirect", "nobody.example": "misdirected"} {
		plain, err := http.DefaultTransport.RoundTrip(mustRequest(t, "http://"+n.Addrs().HTTP[0]+"/product/1", host))
		if err != nil {
			t.Fatal(err)
		}
		plain.Body.Close()
		if got := plain.Header.Get("Awning-Served"); got != want {
			t.Fatalf("plain HTTP for %s: Awning-Served %q; want %q", host, got, want)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "copies written to redis", func() bool { return n.cache.Stats().RedisWrites >= 2 })
	testkit.WaitFor(t, 10*time.Second, "a probe", func() bool { return n.proxy.Health("shop").Stats().ProbesOK >= 1 })
	// The client sees the refused handshake's alert before the server has
	// counted it: wait for the count, not for the client.
	testkit.WaitFor(t, 10*time.Second, "the refused handshake counted", func() bool {
		hs := n.HandshakeStats()
		return hs.Failed >= 1 && hs.InProgress == 0
	})

	s := remember(scrapeNode(t, n))
	s.check(t, "healthy", []check{
		{"awning_state_redis_up", nil, "==", 1},
		{"awning_state_sync_up", nil, "==", 1},
		{"awning_redis_shards_down", nil, "==", 0},
		{"awning_state_unconfirmed_writes_total", nil, "==", 0},
		{"awning_requests_total", []string{"site", "shop", "outcome", "origin"}, "==", 4},
		{"awning_requests_total", []string{"site", "shop", "outcome", "own"}, "==", 1},
		{"awning_requests_total", []string{"site", "shop", "outcome", "redirect"}, "==", 1},
		{"awning_requests_total", []string{"site", "shop", "outcome", "stale"}, "==", 0},
		{"awning_requests_total", []string{"site", "shop", "outcome", "maintenance"}, "==", 0},
		{"awning_requests_total", []string{"site", "", "outcome", "misdirected"}, "==", 1},
		{"awning_requests_in_flight", nil, "==", 0},
		{"awning_origin_request_duration_seconds", []string{"site", "shop"}, ">=", 5}, // 4 shoppers + warming
		{"awning_site_open", []string{"site", "shop"}, "==", 1},
		{"awning_site_circuit_tripped", []string{"site", "shop"}, "==", 0},
		{"awning_site_serving_fallback", []string{"site", "shop"}, "==", 0},
		{"awning_site_fallback_ratio", []string{"site", "shop"}, "==", 0},
		{"awning_site_maintenance", []string{"site", "shop", "mode", "full"}, "==", 0},
		{"awning_origin_state", []string{"site", "shop", "origin", o.URL(), "state", "up"}, "==", 1},
		{"awning_origin_in_flight_limit", []string{"site", "shop"}, "==", 50},
		{"awning_health_probes_total", []string{"site", "shop", "result", "ok"}, ">=", 1},
		{"awning_cache_stored_total", nil, "==", 2}, // /product/1 and, by warming, /product/2
		{"awning_cache_entries", nil, "==", 2},
		{"awning_cache_memory_bytes", nil, ">", 0},
		{"awning_cache_not_stored_total", []string{"reason", "set-cookie"}, "==", 1},
		{"awning_cache_redis_writes_total", []string{"result", "ok"}, ">=", 2},
		{"awning_redis_up", nil, "==", 1},
		{"awning_redis_command_duration_seconds", nil, ">=", 2},
		{"awning_warm_runs_total", []string{"site", "shop"}, ">=", 1},
		{"awning_warm_pages_total", []string{"site", "shop", "result", "stored"}, ">=", 1},
		{"awning_warm_sitemap_urls", []string{"site", "shop"}, "==", 1},
		{"awning_tls_handshakes_total", []string{"result", "full"}, ">=", 5},
		{"awning_tls_handshakes_total", []string{"result", "failed"}, "==", 1},
		{"awning_tls_refused_total", []string{"reason", "unknown-host"}, "==", 1},
		{"awning_tls_handshakes_in_progress", nil, "==", 0},
		{"awning_tls_certificates_issued_total", []string{"kind", "new"}, ">=", 1},
		{"awning_tls_certificate_expiry_timestamp_seconds", []string{"site", "shop"}, ">", float64(time.Now().Add(24 * time.Hour).Unix())},
		{"awning_acme_errors_total", nil, "==", 0},
		{"awning_build_info", []string{"version", "(devel)", "go_version", runtime.Version()}, "==", 1},
		{"awning_config_reloads_total", []string{"result", "ok"}, "==", 0},
		{"awning_config_last_load_timestamp_seconds", nil, ">", float64(time.Now().Add(-time.Minute).Unix())},
	})

	// The origin goes down: probes see it within one interval and the
	// circuit trips; the kept page is served stale, an unknown one gets
	// the outage page; the webhook hears of it.
	o.Refuse()
	testkit.WaitFor(t, 10*time.Second, "the circuit to trip", func() bool { return n.proxy.Health("shop").Stats().Tripped })
	get("shop.example", "/product/1", "stale")
	get("shop.example", "/product/2", "stale")
	get("shop.example", "/never-seen", "outage")
	testkit.WaitFor(t, 10*time.Second, "the webhook to be told", func() bool { return hooks.Load() >= 1 })
	testkit.WaitFor(t, 10*time.Second, "the webhook to count its delivery", func() bool { sent, _, _ := n.webhook.Counts(); return sent >= 1 })

	s = remember(scrapeNode(t, n))
	s.check(t, "origin down", []check{
		{"awning_requests_total", []string{"site", "shop", "outcome", "stale"}, "==", 2},
		{"awning_requests_total", []string{"site", "shop", "outcome", "outage"}, "==", 1},
		{"awning_site_open", []string{"site", "shop"}, "==", 0},
		{"awning_site_circuit_tripped", []string{"site", "shop"}, "==", 1},
		{"awning_site_circuit_trips_total", []string{"site", "shop"}, "==", 1},
		{"awning_site_serving_fallback", []string{"site", "shop"}, "==", 1},
		{"awning_site_fallback_ratio", []string{"site", "shop"}, "==", 3.0 / 7}, // 3 of 4 origin + 3 fallback
		{"awning_origin_state", []string{"site", "shop", "origin", o.URL(), "state", "down"}, "==", 1},
		{"awning_origin_state", []string{"site", "shop", "origin", o.URL(), "state", "up"}, "==", 0},
		{"awning_origin_transitions_total", []string{"site", "shop"}, "==", 1},
		{"awning_origin_short_circuited_total", []string{"site", "shop"}, ">=", 3},
		{"awning_health_probes_total", []string{"site", "shop", "result", "failed"}, ">=", 1},
		{"awning_webhook_events_total", []string{"result", "sent"}, ">=", 1},
		{"awning_cache_lookups_total", []string{"result", "hit"}, ">=", 2},
	})

	// Maintenance: ops close the shop, then open it for browsing only.
	setMaintenance := func(m *state.Maintenance) {
		t.Helper()
		if _, err := n.state.Change(context.Background(), "shop", func(sc *state.Scope) error { sc.Maintenance = m; return nil }); err != nil {
			t.Fatal(err)
		}
		want := ""
		if m != nil {
			want = m.Mode
		}
		testkit.WaitFor(t, 10*time.Second, "maintenance "+want+" in force", func() bool { return n.proxy.Stats().Sites[0].Maintenance == want })
	}
	setMaintenance(&state.Maintenance{Enabled: true, Mode: "full"})
	get("shop.example", "/product/1", "maintenance")
	s = remember(scrapeNode(t, n))
	s.check(t, "maintenance", []check{
		{"awning_site_maintenance", []string{"site", "shop", "mode", "full"}, "==", 1},
		{"awning_site_maintenance", []string{"site", "shop", "mode", "read-only"}, "==", 0},
		{"awning_requests_total", []string{"site", "shop", "outcome", "maintenance"}, "==", 1},
		{"awning_site_fallback_ratio", []string{"site", "shop"}, "==", 3.0 / 7}, // maintenance is not the fallback
		// The origin is still down, but the work is planned: the alert on
		// serving_fallback must not page anyone.
		{"awning_site_serving_fallback", []string{"site", "shop"}, "==", 0},
	})
	setMaintenance(&state.Maintenance{Enabled: true, Mode: "read-only"})
	get("shop.example", "/product/1", "stale")  // browsing from the copy, with the maintenance banner
	get("shop.example", "/cart", "maintenance") // never a copy: closed
	s = remember(scrapeNode(t, n))
	s.check(t, "read-only maintenance", []check{
		{"awning_site_maintenance", []string{"site", "shop", "mode", "full"}, "==", 0},
		{"awning_site_maintenance", []string{"site", "shop", "mode", "read-only"}, "==", 1},
		// Copies browsed in planned work count as maintenance, apart from
		// the fallback: the ratio and the alert do not move.
		{"awning_requests_total", []string{"site", "shop", "outcome", "maintenance"}, "==", 3},
		{"awning_requests_total", []string{"site", "shop", "outcome", "stale"}, "==", 2},
		{"awning_site_fallback_ratio", []string{"site", "shop"}, "==", 3.0 / 7},
		{"awning_site_serving_fallback", []string{"site", "shop"}, "==", 0},
	})
	setMaintenance(nil)

	// Redis goes away: a page nobody has seen is looked for there and the
	// failure shows; shoppers are still answered.
	r.Stop()
	get("shop.example", "/never-seen-either", "outage")
	testkit.WaitFor(t, 10*time.Second, "the redis tier to notice", func() bool { return !n.cache.Stats().RedisHealthy })
	testkit.WaitFor(t, 10*time.Second, "the state store to notice", func() bool { return !n.state.Stats().RedisOK })
	s = remember(scrapeNode(t, n))
	s.check(t, "redis lost", []check{
		{"awning_redis_up", nil, "==", 0},
		{"awning_redis_shards_down", nil, "==", 1},
		{"awning_state_redis_up", nil, "==", 0},
		{"awning_state_sync_up", nil, "==", 1},
		{"awning_redis_command_errors_total", nil, ">=", 1},
		{"awning_cache_redis_reads_total", []string{"result", "error"}, ">=", 1},
	})

	// Every documented metric was exposed, and nothing undocumented.
	documented := map[string]bool{}
	for _, name := range documentedMetrics(t) {
		documented[name] = true
		if !seen[name] {
			t.Errorf("%s is documented in docs/metrics.md but was never exposed", name)
		}
	}
	var undocumented []string
	for name := range seen {
		if strings.HasPrefix(name, "awning_") && !documented[name] {
			undocumented = append(undocumented, name)
		}
	}
	sort.Strings(undocumented)
	for _, name := range undocumented {
		t.Errorf("%s is exposed but not documented in docs/metrics.md", name)
	}
}

func mustRequest(t *testing.T, url, host string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	return req
}
