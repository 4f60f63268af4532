package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/pages"
)

// TestSitesShareTheirBanner: shops with the same languages, zone and words
// share one stale banner; a shop with words of its own gets its own, and
// only it shows them; a reload keeps the shared banner (and so the stale
// forms the copies built for it).
func TestSitesShareTheirBanner(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	yaml := `
tls: {mode: off}
sites:
  - {name: a, hosts: [a.example], page: {languages: [nl, en]}, origin: {urls: [` + o.URL() + `]}}
  - {name: b, hosts: [b.example], page: {languages: [nl, en]}, origin: {urls: [` + o.URL() + `]}}
  - name: c
    hosts: [c.example]
    page: {languages: [nl, en]}
    origin: {urls: [` + o.URL() + `]}
    cache: {banner_text: {nl: "Bel ons gerust."}}
`
	p := startProxy(t, yaml)
	names := []string{"a", "b", "c"}
	for _, n := range names {
		if resp, _ := p.get(t, n+".example", "/p"); resp.Header.Get("Awning-Served") != "origin" {
			t.Fatalf("%s: served %q", n, resp.Header.Get("Awning-Served"))
		}
	}
	testkit.WaitFor(t, 5*time.Second, "a copy of each shop's page", func() bool { return p.cache.Stats().Entries == 3 })
	o.Refuse()
	banners := func() map[string]*pages.Banner {
		t.Helper()
		out := map[string]*pages.Banner{}
		for _, n := range names {
			p.Health(n).SetForce(health.ForceFallback)
			resp, body := p.get(t, n+".example", "/p")
			if resp.Header.Get("Awning-Served") != "stale" {
				t.Fatalf("%s: served %q; want stale", n, resp.Header.Get("Awning-Served"))
			}
			if own := strings.Contains(body, "Bel ons gerust."); own != (n == "c") {
				t.Errorf("%s: the merchant's words of c shown: %v", n, own)
			}
			snap := p.snap.Load()
			out[n] = snap.states[snap.sites.Named(n).Index].dyn.Load().banner.get()
		}
		return out
	}
	before := banners()
	if before["a"] != before["b"] || before["a"] == before["c"] {
		t.Fatalf("banners a %p, b %p, c %p; want a and b one, c its own", before["a"], before["b"], before["c"])
	}
	if n := p.banners.len(); n != 2 {
		t.Errorf("%d banners held; want 2", n)
	}
	if err := p.Update(options(t, yaml)); err != nil {
		t.Fatal(err)
	}
	after := banners()
	for _, n := range names {
		if after[n] != before[n] {
			t.Errorf("%s: a reload with the same settings gave another banner", n)
		}
	}
}
