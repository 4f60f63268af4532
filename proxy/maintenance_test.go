package proxy

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/pages"
)

func twoSites(a, b string) string {
	return `
tls: {mode: off}
sites:
  - name: shop
    hosts: [shop.example]
    api_paths: [/api/]
    page: {languages: [nl, en]}
    origin: {urls: [` + a + `], timeout: 2s, fallback_after: 300ms}
  - name: other
    hosts: [other.example]
    page: {languages: [en]}
    origin: {urls: [` + b + `], timeout: 2s}
`
}

func TestFullMaintenance(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, staleSite(o.URL()))
	if err := p.ApplyState("shop", SiteState{Maintenance: &Maintenance{}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ method, path, accept string }{
		{"GET", "/product/1", ""}, {"POST", "/checkout", ""}, {"GET", "/api/products", "application/json"},
	} {
		resp, body := p.do(t, tt.method, "shop.example", tt.path, "Accept", tt.accept)
		if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "maintenance" || resp.Header.Get("Retry-After") == "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: %d %q retry %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Awning-Served"), resp.Header.Get("Retry-After"))
		}
		if tt.accept != "" && !strings.Contains(body, `"error":"maintenance"`) {
			t.Errorf("API client got %q", body)
		}
	}
	if o.Requests() != 0 {
		t.Errorf("the origin got %d requests during full maintenance", o.Requests())
	}
	if _, body := p.get(t, "shop.example", "/.well-known/awning/health"); body != `{"open":false}` {
		t.Errorf("health during maintenance: %s", body)
	}
	p.ApplyState("shop", SiteState{})
	if resp, _ := p.get(t, "shop.example", "/product/1"); resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("after maintenance: %q", resp.Header.Get("Awning-Served"))
	}
}

// TestScheduledWindow: a window with a start and an end begins and ends by
// itself, and Retry-After counts down to the end (injected clock).
func TestScheduledWindow(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC))
	o := testkit.NewOrigin(t, htmlPage(productPage))
	opt := options(t, staleSite(o.URL()))
	opt.Now = clk.Now
	p := startProxyWith(t, opt)
	start, end := clk.Now().Add(time.Hour), clk.Now().Add(3*time.Hour)
	win := &pages.Window{Start: start, End: end}
	p.ApplyState("shop", SiteState{Maintenance: &Maintenance{Start: start, End: end}, Pages: pages.State{Window: win}})

	served := func() string {
		resp, _ := p.get(t, "shop.example", "/product/1")
		return resp.Header.Get("Awning-Served")
	}
	if got := served(); got != "origin" {
		t.Fatalf("before the window: %q", got)
	}
	clk.Add(time.Hour)
	resp, body := p.get(t, "shop.example", "/product/1", "Accept-Language", "en")
	if resp.Header.Get("Awning-Served") != "maintenance" {
		t.Fatalf("at the start: %q", resp.Header.Get("Awning-Served"))
	}
	if got := resp.Header.Get("Retry-After"); got != strconv.Itoa(2*3600) {
		t.Errorf("Retry-After = %q; want the 7200 s left", got)
	}
	if !strings.Contains(body, "16:00") && !strings.Contains(body, "15:00") {
		t.Errorf("the page does not show the end: %.300s", body)
	}
	clk.Add(90 * time.Minute)
	resp, _ = p.get(t, "shop.example", "/api/x", "Accept", "application/json")
	if resp.Header.Get("Retry-After") != strconv.Itoa(30*60) {
		t.Errorf("Retry-After later = %q; want 1800", resp.Header.Get("Retry-After"))
	}
	clk.Add(time.Hour)
	if got := served(); got != "origin" {
		t.Errorf("after the end: %q; want the shop back by itself", got)
	}
}

// TestReadOnlyMaintenance: browsing goes on from copies, without touching
// the origin; cart, checkout, other methods and pages without a copy get
// the maintenance page.
func TestReadOnlyMaintenance(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, staleSite(o.URL()))
	p.get(t, "shop.example", "/product/1")
	p.get(t, "shop.example", "/cart")
	n := o.Requests()
	p.ApplyState("shop", SiteState{Maintenance: &Maintenance{ReadOnly: true}})
	resp, body := p.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "Desem waldkorn")
	for _, tt := range []struct{ method, path string }{{"GET", "/cart"}, {"GET", "/checkout/pay"}, {"POST", "/product/1"}, {"GET", "/product/2"}} {
		if resp, _ := p.do(t, tt.method, "shop.example", tt.path); resp.Header.Get("Awning-Served") != "maintenance" {
			t.Errorf("%s %s in read-only: %q; want maintenance", tt.method, tt.path, resp.Header.Get("Awning-Served"))
		}
	}
	if o.Requests() != n {
		t.Errorf("the origin got %d requests in read-only maintenance", o.Requests()-n)
	}
}

// TestReadOnlyMaintenanceIsPlanned: copies browsed in read-only maintenance
// carry the maintenance banner, with its message and end, not the outage
// one, and count as maintenance, not as the fallback.
func TestReadOnlyMaintenanceIsPlanned(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, staleSite(o.URL()))
	p.get(t, "shop.example", "/product/1")
	end := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Minute)
	p.ApplyState("shop", SiteState{
		Maintenance: &Maintenance{ReadOnly: true, End: end},
		Pages:       pages.State{Window: &pages.Window{Mode: pages.ReadOnly, End: end, Message: map[string]string{"en": "We are moving to a new warehouse."}}},
	})
	resp, body := p.get(t, "shop.example", "/product/1", "Accept-Language", "en")
	assertStale(t, resp, body, "Desem waldkorn")
	for _, want := range []string{"<strong>Planned maintenance</strong>", "We are moving to a new warehouse.", `<time datetime="` + end.Format(time.RFC3339) + `">`} {
		if !strings.Contains(body, want) {
			t.Errorf("the copy's banner lacks %q", want)
		}
	}
	if strings.Contains(body, "Temporary disruption") {
		t.Error("planned work says temporary disruption")
	}
	st := p.Stats().Sites[0]
	if st.Served[OutcomeStale] != 0 || st.Served[OutcomeMaintenance] != 1 {
		t.Errorf("counted stale %d, maintenance %d; want the copy counted as maintenance", st.Served[OutcomeStale], st.Served[OutcomeMaintenance])
	}
}

func TestBypassByAddress(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, staleSite(o.URL()))
	p.ApplyState("shop", SiteState{Maintenance: &Maintenance{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	resp, _ := p.get(t, "shop.example", "/product/1", "X-Forwarded-For", "198.51.100.1")
	if resp.Header.Get("Awning-Served") != "origin" {
		t.Fatalf("allowed address: %q; want the shop", resp.Header.Get("Awning-Served"))
	}
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=bypass") {
		t.Errorf("a bypassed answer was kept: Cache-Status %q", cs)
	}
	p.ApplyState("shop", SiteState{Maintenance: &Maintenance{Allow: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}})
	// A client-sent X-Forwarded-For is not believed from an untrusted peer.
	if resp, _ := p.get(t, "shop.example", "/product/1", "X-Forwarded-For", "203.0.113.9"); resp.Header.Get("Awning-Served") != "maintenance" {
		t.Errorf("spoofed address let through: %q", resp.Header.Get("Awning-Served"))
	}
}

// TestBypassCookie: the secret path sets a signed cookie that lets its
// holder through; it cannot be forged, moved to another site, or used
// after it expires; answers under it are not stored; the origin never sees
// it.
func TestBypassCookie(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC))
	a := testkit.NewOrigin(t, htmlPage(productPage))
	b := testkit.NewOrigin(t, htmlPage(productPage))
	opt := options(t, twoSites(a.URL(), b.URL()))
	opt.Now = clk.Now
	p := startProxyWith(t, opt)
	m := &Maintenance{BypassSecret: "correct-horse-battery-staple"}
	p.ApplyState("shop", SiteState{Maintenance: m})
	p.ApplyState("other", SiteState{Maintenance: m}) // the same secret on purpose

	if resp, _ := p.get(t, "shop.example", "/.well-known/awning/bypass/wrong-secret"); resp.StatusCode != 404 || len(resp.Cookies()) != 0 {
		t.Errorf("wrong secret: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp, _ := p.get(t, "shop.example", "/.well-known/awning/bypass/correct-horse-battery-staple?to=/product/1")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/product/1" || len(resp.Cookies()) != 1 {
		t.Fatalf("bypass path: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie attributes: %+v", c)
	}
	if resp, _ := p.get(t, "shop.example", "/.well-known/awning/bypass/correct-horse-battery-staple?to=//evil.example"); resp.Header.Get("Location") != "/" {
		t.Errorf("open redirect: %q", resp.Header.Get("Location"))
	}

	with := func(host, value string) string {
		resp, _ := p.get(t, host, "/product/1", "Cookie", "awning_bypass="+value+"; consent=1")
		return resp.Header.Get("Awning-Served")
	}
	if got := with("shop.example", c.Value); got != "origin" {
		t.Fatalf("valid cookie: %q; want the shop", got)
	}
	if got := a.Last().Header.Get("Cookie"); strings.Contains(got, "awning_bypass") || !strings.Contains(got, "consent=1") {
		t.Errorf("origin got Cookie %q; want the shopper's cookies without Awning's", got)
	}
	if resp, _ := p.get(t, "shop.example", "/product/1", "Cookie", "awning_bypass="+c.Value); !strings.Contains(resp.Header.Get("Cache-Status"), "detail=bypass") {
		t.Errorf("a bypassed answer was kept: %q", resp.Header.Get("Cache-Status"))
	}
	if got := with("other.example", c.Value); got != "maintenance" {
		t.Errorf("cookie moved to another site: %q", got)
	}
	exp, mac, _ := strings.Cut(c.Value, ".")
	later, _ := strconv.ParseInt(exp, 10, 64)
	forged := strconv.FormatInt(later+86400, 10) + "." + mac
	if got := with("shop.example", forged); got != "maintenance" {
		t.Errorf("cookie with a forged expiry: %q", got)
	}
	if got := with("shop.example", exp+"."+strings.Repeat("A", len(mac))); got != "maintenance" {
		t.Errorf("cookie with a forged signature: %q", got)
	}
	if got := with("shop.example", url.QueryEscape("garbage")); got != "maintenance" {
		t.Errorf("garbage cookie: %q", got)
	}
	clk.Add(13 * time.Hour)
	if got := with("shop.example", c.Value); got != "maintenance" {
		t.Errorf("expired cookie: %q", got)
	}
	p.ApplyState("shop", SiteState{Maintenance: &Maintenance{BypassSecret: "a-new-secret-after-a-leak"}})
	clk.Add(-13 * time.Hour)
	if got := with("shop.example", c.Value); got != "maintenance" {
		t.Errorf("cookie outlived its secret: %q", got)
	}
}

func TestStateSurvivesReload(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, staleSite(o.URL()))
	p.ApplyState("shop", SiteState{Maintenance: &Maintenance{}, ForceFallback: true})
	if err := p.Update(options(t, staleSite(o.URL(), "slow_after: 1s"))); err != nil {
		t.Fatal(err)
	}
	if resp, _ := p.get(t, "shop.example", "/"); resp.Header.Get("Awning-Served") != "maintenance" {
		t.Errorf("after a reload: %q; want maintenance still", resp.Header.Get("Awning-Served"))
	}
	if p.Health("shop").Open() {
		t.Error("the forced fallback did not survive the reload")
	}
}

// TestOwnCookiesNeverReachOrigin: Awning's own cookies — the maintenance
// bypass and the console's session, which a browser sends to a shop whose
// host name the console is served on (local and demo setups) — are taken
// out of what the origin receives; the shopper's other cookies are kept.
func TestOwnCookiesNeverReachOrigin(t *testing.T) {
	a := testkit.NewOrigin(t, testkit.OK("shop"))
	p := startProxyWith(t, options(t, oneSite(a.URL())))
	for _, cookie := range []string{
		"awning-session=ops-session; theme=dark",
		"theme=dark; __Host-awning-session=ops-session",
		"awning_bypass=x; awning-session=ops-session; theme=dark; __Host-awning-session=ops-session",
	} {
		if resp, _ := p.get(t, "shop.example", "/product/1", "Cookie", cookie); resp.Header.Get("Awning-Served") != "origin" {
			t.Fatalf("%q: served %q", cookie, resp.Header.Get("Awning-Served"))
		}
		if got := a.Last().Header.Get("Cookie"); got != "theme=dark" {
			t.Errorf("Cookie %q reached the origin as %q; want only theme=dark", cookie, got)
		}
	}
	p.get(t, "shop.example", "/product/1", "Cookie", "awning-session=ops-session")
	if got, ok := a.Last().Header["Cookie"]; ok {
		t.Errorf("only a console session: the origin got Cookie %q; want none", got)
	}
}
