package proxy

import (
	"fmt"
	"testing"
)

// TestPagesRenderedOnFirstNeed: a node with many sites renders no page at
// start; an outage renders that site's pages once, and a run-time change
// drops them (the next need renders the new state).
func TestPagesRenderedOnFirstNeed(t *testing.T) {
	p := startProxy(t, manySites(200, "http://127.0.0.1:1", "{}"))
	if st := p.pageCache.stats(); st.Sites != 0 || st.Renders != 0 {
		t.Fatalf("after start: %+v; want nothing rendered", st)
	}
	for i := 0; i < 3; i++ {
		if resp, _ := p.get(t, "s5.example", "/"); resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" {
			t.Fatalf("request %d: %d %q; want the outage page", i, resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
	}
	if st := p.pageCache.stats(); st.Sites != 1 || st.Renders != 1 || st.Bytes <= 0 {
		t.Errorf("after 3 outage pages of one site: %+v; want one rendering", st)
	}
	if err := p.ApplyState("s5", SiteState{Maintenance: &Maintenance{}}); err != nil {
		t.Fatal(err)
	}
	if st := p.pageCache.stats(); st.Sites != 0 || st.Bytes != 0 {
		t.Errorf("after a state change: %+v; want the old rendering dropped", st)
	}
	if resp, _ := p.get(t, "s5.example", "/"); resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "maintenance" {
		t.Errorf("maintenance: %d %q", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
}

// TestPageCacheBounded: with room for a few sites' pages, serving many
// sites keeps the rendered bytes within the budget; a site served again
// after eviction renders again and is served the same bytes.
func TestPageCacheBounded(t *testing.T) {
	p := startProxy(t, manySites(50, "http://127.0.0.1:1", "{}"))
	_, first := p.get(t, "s0.example", "/")
	one := p.pageCache.stats().Bytes
	p.pageCache.resize(3 * one)
	for i := 0; i < 50; i++ {
		p.get(t, fmt.Sprintf("s%d.example", i), "/")
		if st := p.pageCache.stats(); st.Bytes > 3*one+one/2 {
			t.Fatalf("after %d sites: %d bytes rendered; want at most about %d", i+1, st.Bytes, 3*one)
		}
	}
	st := p.pageCache.stats()
	if st.Evictions < 40 || st.Sites > 4 {
		t.Errorf("stats %+v; want most sites evicted", st)
	}
	_, again := p.get(t, "s0.example", "/")
	if again != first {
		t.Error("a page rendered again differs from the first rendering")
	}
}

// TestPageCacheKeepsServedPages: the clock gives a page served since the
// hand last passed a second chance, so a site in a long outage keeps its
// rendering while others come and go.
func TestPageCacheKeepsServedPages(t *testing.T) {
	p := startProxy(t, manySites(30, "http://127.0.0.1:1", "{}"))
	p.get(t, "s0.example", "/")
	one := p.pageCache.stats().Bytes
	p.pageCache.resize(4 * one)
	hot := p.snap.Load().states[0].dyn.Load()
	for i := 1; i < 30; i++ {
		p.get(t, "s0.example", "/") // the site in a long outage
		p.get(t, fmt.Sprintf("s%d.example", i), "/")
	}
	if hot.pages.cur.Load() == nil {
		t.Error("the page served all along was evicted")
	}
}
