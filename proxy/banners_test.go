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

// TestHostSlotsFollowTheState: what a copy served stale reads of its site
// is in its host's slot (hostRef), and every host's slot follows the
// site's run-time part: a banner rendered for one host is stored in all of
// them, a new state clears it (to be rendered for the new one) and brings
// its maintenance rule, and a banner rendered for a run-time part that was
// replaced meanwhile is never stored over the new one's. A shop without a
// banner says so in its slots, and its copies carry none.
func TestHostSlotsFollowTheState(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	yaml := `
tls: {mode: off}
sites:
  - {name: shop, hosts: [a.example, b.example], origin: {urls: [` + o.URL() + `]}}
  - {name: plain, hosts: [plain.example], origin: {urls: [` + o.URL() + `]}, cache: {banner: false}}
`
	p := startProxy(t, yaml)
	for _, h := range []string{"a.example", "b.example", "plain.example"} {
		p.get(t, h, "/p")
	}
	testkit.WaitFor(t, 5*time.Second, "a copy of each host's page", func() bool { return p.cache.Stats().Entries == 3 })
	o.Refuse()
	p.Health("shop").SetForce(health.ForceFallback)
	p.Health("plain").SetForce(health.ForceFallback)
	slots := func() (a, b *hostRef, d *dynamic) {
		snap := p.snap.Load()
		return snap.hosts.Lookup([]byte("a.example")), snap.hosts.Lookup([]byte("b.example")), snap.states[snap.sites.Named("shop").Index].dyn.Load()
	}
	a, b, d := slots()
	if a.banner.Load() != nil || b.banner.Load() != nil {
		t.Fatal("a banner in the slots before any copy was served stale")
	}
	if resp, body := p.get(t, "a.example", "/p"); resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(body, "awning-banner") {
		t.Fatalf("a.example: served %q, banner shown %v; want stale with the banner", resp.Header.Get("Awning-Served"), strings.Contains(body, "awning-banner"))
	}
	if want := d.banner.get(); want == nil || a.banner.Load() != want || b.banner.Load() != want {
		t.Errorf("slots hold banners %p and %p after a.example's copy; want both %p", a.banner.Load(), b.banner.Load(), want)
	}

	// A new state: both slots follow it, its banner not yet rendered.
	if err := p.ApplyState("shop", SiteState{ForceFallback: true, Maintenance: &Maintenance{ReadOnly: true}}); err != nil {
		t.Fatal(err)
	}
	_, _, d2 := slots()
	for _, r := range []*hostRef{a, b} {
		if r.dyn.Load() != d2 || r.maint.Load() != d2.maint || d2.maint == nil || r.banner.Load() != nil {
			t.Errorf("a slot after a new state: run-time part %p (want %p), maintenance %p (want %p), banner %p (want none yet)",
				r.dyn.Load(), d2, r.maint.Load(), d2.maint, r.banner.Load())
		}
	}
	// The banner of the replaced run-time part, rendered late.
	p.publishBanner(a.st, d)
	if a.banner.Load() != nil || b.banner.Load() != nil {
		t.Error("a banner rendered for a replaced run-time part was stored over the new one's")
	}
	if err := p.ApplyState("shop", SiteState{ForceFallback: true}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := p.get(t, "b.example", "/p"); resp.Header.Get("Awning-Served") != "stale" {
		t.Fatalf("b.example: served %q; want stale", resp.Header.Get("Awning-Served"))
	}
	_, _, d3 := slots()
	if want := d3.banner.get(); a.maint.Load() != nil || a.banner.Load() != want || b.banner.Load() != want {
		t.Errorf("slots after maintenance ended and b.example's copy: maintenance %p, banners %p and %p; want none, %p", a.maint.Load(), a.banner.Load(), b.banner.Load(), want)
	}

	plain := p.snap.Load().hosts.Lookup([]byte("plain.example"))
	if plain.banner.Load() != noBanner {
		t.Errorf("the slot of a shop without a banner holds %p; want noBanner", plain.banner.Load())
	}
	if resp, body := p.get(t, "plain.example", "/p"); resp.Header.Get("Awning-Served") != "stale" || strings.Contains(body, "awning-banner") {
		t.Errorf("plain.example: served %q, banner shown %v; want stale without a banner", resp.Header.Get("Awning-Served"), strings.Contains(body, "awning-banner"))
	}
}
