package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/console"
	"github.com/awningproxy/awning/internal/testkit/chrome"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
	"github.com/chromedp/chromedp"
)

// fleetAPI serves the admin API and the console for n sites, some in
// maintenance and some forced, on console.localhost:port.
func fleetAPI(b *testing.B, n int) (ui string, api string) {
	b.Helper()
	var y strings.Builder
	y.WriteString("tls: {mode: \"off\"}\nadmin:\n  tokens:\n    - {name: ops, sha256: \"" + sum(opsToken) + "\", sites: [\"*\"]}\nsites:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - {name: shop%05d, hosts: [shop%05d.example], origin: {urls: [\"http://127.0.0.1:9\"]}, page: {languages: [nl, en]}}\n", i, i)
	}
	cfg, err := config.Parse("fleet.yaml", []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	reg, err := sites.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	px, err := proxy.New(proxy.Options{Config: cfg, Sites: reg, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(px.Close)
	store, err := state.NewStore(state.StoreConfig{Dir: b.TempDir(), Log: log})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 97 {
		store.Change(context.Background(), fmt.Sprintf("shop%05d", i), func(sc *state.Scope) error {
			sc.Maintenance = &state.Maintenance{Enabled: true, Mode: "read-only"}
			return nil
		})
	}
	for i := 13; i < n; i += 211 {
		store.Change(context.Background(), fmt.Sprintf("shop%05d", i), func(sc *state.Scope) error {
			sc.ForceFallback = true
			return nil
		})
	}
	h, err := console.New(console.Options{PageLanguages: pages.Languages()})
	if err != nil {
		b.Fatal(err)
	}
	a := admin.New(admin.Options{Config: cfg, Sites: reg, Store: store, Proxy: px, Log: log, Console: h})
	a.Start()
	b.Cleanup(a.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	b.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "http://console.localhost:" + port, srv.URL
}

// firstRows opens the overview in a signed-in browser and returns the time
// from navigation start to the first rows painted, as the page measured it
// (performance.mark "awning-rows-painted"): the median of five loads.
func firstRows(b *testing.B, br *chrome.Browser, ui string) time.Duration {
	b.Helper()
	var times []time.Duration
	for i := range 5 {
		// A new document each time (a URL differing only in its fragment
		// would not load one).
		br.Open(b, fmt.Sprintf("%s/ui/?load=%d#/sites", ui, i))
		br.WaitTrue(b, "the first rows", `performance.getEntriesByName("awning-rows-painted").length > 0`)
		ms := chrome.Eval[float64](b, br, `performance.getEntriesByName("awning-rows-painted")[0].startTime`)
		if rows := chrome.Eval[int](b, br, `document.querySelectorAll("table.sites tbody tr").length`); rows != 50 {
			b.Fatalf("%d rows on the first screen; want 50", rows)
		}
		times = append(times, time.Duration(ms*float64(time.Millisecond)))
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// BenchmarkConsoleOverview measures, in Chromium, how long the overview
// takes from navigation start to its first rows painted, with 100 sites and
// with 10,000: the browser gets one page of fifty rows either way, and the
// server searches, filters and pages. It fails when 10,000 sites take
// 300 ms or more, and reports the ratio to 100 sites.
func BenchmarkConsoleOverview(b *testing.B) {
	b.ReportAllocs()
	got := map[int]time.Duration{}
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			ui, api := fleetAPI(b, n)
			req, _ := http.NewRequest("POST", api+"/v1/session/link", nil)
			req.Header.Set("Authorization", "Bearer "+opsToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var link struct{ Path string }
			json.NewDecoder(resp.Body).Decode(&link)
			resp.Body.Close()
			br := chrome.New(b, "console.localhost")
			br.Language(b, "en")
			br.Do(b, "desktop", chromedp.EmulateViewport(1280, 900))
			br.Open(b, ui+link.Path)
			br.WaitTrue(b, "signed in", `document.querySelectorAll("table.sites tbody tr").length > 0`)
			b.ResetTimer()
			var d time.Duration
			for range b.N {
				d = firstRows(b, br, ui)
			}
			b.StopTimer()
			got[n] = d
			b.ReportMetric(float64(d.Microseconds())/1000, "ms/first-rows")
			if n == 10_000 {
				if d >= 300*time.Millisecond {
					b.Fatalf("the overview of %d sites took %s to its first rows; want under 300ms", n, d)
				}
				if total := chrome.Eval[string](b, br, `document.querySelector(".lede").textContent`); !strings.HasPrefix(total, "10,000 sites") {
					b.Fatalf("overview says %q; want 10,000 sites", total)
				}
				shotWindow(b, br, "console-overview-10000.png")
			}
			br.CheckOnly(b, strings.TrimPrefix(ui, "http://"))
			br.CheckQuiet(b, nil)
		})
	}
	if got[100] > 0 && got[10_000] > 0 {
		b.Logf("first rows: %s with 100 sites, %s with 10,000 (ratio %.2f)", got[100], got[10_000], float64(got[10_000])/float64(got[100]))
	}
}
