package warm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		locs  []string
		index bool
		err   bool
	}{
		{"urlset", `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://shop.example/a</loc><lastmod>2026-01-01</lastmod></url><url><loc> https://shop.example/b?x=1&amp;y=2 </loc></url></urlset>`,
			[]string{"https://shop.example/a", " https://shop.example/b?x=1&y=2 "}, false, false},
		{"index", `<sitemapindex><sitemap><loc>https://shop.example/s1.xml</loc></sitemap></sitemapindex>`, []string{"https://shop.example/s1.xml"}, true, false},
		{"html", `<html><body>not a sitemap</body></html>`, nil, false, true},
		{"garbage", "\x00\x01 not xml at all <<", nil, false, true},
		{"image loc ignored", `<urlset><url><loc>https://shop.example/p</loc><image:image><image:loc>https://cdn.example/i.png</image:loc></image:image></url></urlset>`, []string{"https://shop.example/p"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			locs, index, err := parse([]byte(tt.body))
			if (err != nil) != tt.err || index != tt.index || strings.Join(locs, "|") != strings.Join(tt.locs, "|") {
				t.Errorf("parse = %q %v %v; want %q %v error %v", locs, index, err, tt.locs, tt.index, tt.err)
			}
		})
	}
}

// fakeSite serves sitemaps from a map and records warmed pages.
type fakeSite struct {
	mu     sync.Mutex
	files  map[string]string
	warmed []string
}

func (f *fakeSite) fetch(ctx context.Context, path string) ([]byte, error) {
	body, ok := f.files[path]
	if !ok {
		return nil, errors.New("status 404")
	}
	return []byte(body), nil
}

func (f *fakeSite) warm(ctx context.Context, host, path string, fresh time.Duration) Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.warmed = append(f.warmed, host+path)
	if strings.Contains(path, "cart") {
		return NotKept
	}
	return Stored
}

func TestRunFollowsIndexesAndStaysOnSite(t *testing.T) {
	f := &fakeSite{files: map[string]string{
		"/sitemap.xml": `<sitemapindex>
			<sitemap><loc>https://shop.example/products.xml</loc></sitemap>
			<sitemap><loc>https://SHOP.example./pages.xml</loc></sitemap>
			<sitemap><loc>https://evil.example/steal.xml</loc></sitemap>
			<sitemap><loc>https://shop.example/missing.xml</loc></sitemap></sitemapindex>`,
		"/products.xml": `<urlset><url><loc>https://shop.example/product/1</loc></url><url><loc>http://www.shop.example/product/2?color=red</loc></url>
			<url><loc>https://shop.example/product/1</loc></url><url><loc>https://other.example/product/3</loc></url><url><loc>ftp://shop.example/x</loc></url></urlset>`,
		"/pages.xml": `<urlset><url><loc>https://shop.example/</loc></url><url><loc>https://shop.example/cart</loc></url></urlset>`,
	}}
	w := New(Config{Site: "shop", Hosts: []string{"shop.example", "www.shop.example"}, Sitemap: "/sitemap.xml",
		Rate: 1000, Interval: time.Hour, Fetch: f.fetch, Warm: f.warm, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rep := w.Run(context.Background())
	sort.Strings(f.warmed)
	want := []string{"shop.example/", "shop.example/cart", "shop.example/product/1", "www.shop.example/product/2?color=red"}
	if strings.Join(f.warmed, " ") != strings.Join(want, " ") {
		t.Errorf("warmed %q; want %q", f.warmed, want)
	}
	if rep.URLs != 4 || rep.Stored != 3 || rep.NotKept != 1 || rep.Err == nil {
		t.Errorf("report %+v; want 4 pages, 3 stored, 1 not kept, and the missing sitemap reported", rep)
	}
	if st := w.Stats(); st.Runs != 1 || st.Stored != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestRunStopsOnClose(t *testing.T) {
	var pages strings.Builder
	pages.WriteString("<urlset>")
	for i := 0; i < 1000; i++ {
		pages.WriteString("<url><loc>https://shop.example/p" + string(rune('a'+i%26)) + "</loc></url>")
	}
	pages.WriteString("</urlset>")
	f := &fakeSite{files: map[string]string{"/sitemap.xml": pages.String()}}
	w := New(Config{Site: "shop", Hosts: []string{"shop.example"}, Sitemap: "/sitemap.xml", Rate: 20, Interval: time.Hour,
		Fetch: f.fetch, Warm: f.warm, FirstAfter: time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w.Start()
	deadline := time.Now().Add(10 * time.Second)
	for w.Stats().Stored == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	w.Close() // must return promptly: the crawl stops at its next page
	n := w.Stats().Stored
	time.Sleep(200 * time.Millisecond)
	if w.Stats().Stored != n {
		t.Error("pages were warmed after Close returned")
	}
}

// TestLoopSurvivesPanic: a crawl that panics is logged, the warmer reports
// itself unhealthy while its loop waits to restart, and the loop crawls
// again.
func TestLoopSurvivesPanic(t *testing.T) {
	f := &fakeSite{files: map[string]string{"/sitemap.xml": `<urlset><url><loc>https://shop.example/p</loc></url></urlset>`}}
	var calls atomic.Int64
	var sawDown atomic.Bool
	w := New(Config{Site: "shop", Hosts: []string{"shop.example"}, Sitemap: "/sitemap.xml", Rate: 1000, Interval: time.Millisecond,
		Fetch: f.fetch, FirstAfter: time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Warm: func(ctx context.Context, host, path string, fresh time.Duration) Outcome {
			if calls.Add(1) == 1 {
				panic("a bug met by one page")
			}
			return f.warm(ctx, host, path, fresh)
		}})
	w.Start()
	defer w.Close()
	testkit.WaitFor(t, 5*time.Second, "the panic", func() bool {
		st := w.Stats()
		if st.Panics == 1 && !st.Healthy {
			sawDown.Store(true)
		}
		return st.Panics == 1
	})
	testkit.WaitFor(t, 10*time.Second, "the loop to crawl again", func() bool { return w.Stats().Stored >= 1 })
	if !sawDown.Load() {
		t.Error("the warmer did not report itself unhealthy while its loop waited to restart")
	}
	if st := w.Stats(); !st.Healthy || st.Panics != 1 || st.Runs < 2 {
		t.Errorf("after the restart: %+v; want healthy, 1 panic, 2 runs or more", st)
	}
}
