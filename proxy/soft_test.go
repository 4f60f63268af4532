package proxy

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
)

// wpDatabaseError is WordPress's database error page, which some setups
// answer with 200.
const wpDatabaseError = `<!DOCTYPE html><html dir="ltr"><head><meta charset="utf-8"><title>Database Error</title></head>` +
	`<body id="error-page"><div class="wp-die-message"><h1>Error establishing a database connection</h1></div></body></html>`

// TestFailureMarkerNeverReplacesACopy: a 200 that is a platform's error
// page is a failure: the shopper gets the copy (or the outage page), the
// error page is not stored (not_stored reason failure-marker), and passive
// health counts it, so that enough of them put the origin down.
func TestFailureMarkerNeverReplacesACopy(t *testing.T) {
	for _, tt := range []struct {
		name, page string
		gzip       bool
	}{
		{"built-in", wpDatabaseError, false},
		{"built-in gzipped", wpDatabaseError, true},
		{"the site's own", `<html><head><title>Bakkerij</title></head><body><div id="db-down">We zijn zo terug</div></body></html>`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, htmlPage(productPage))
			p := startProxy(t, staleSite(o.URL(), `failure_markers: ['<div id="db-down">']`, "health: {passive_failures: 4}"))
			if resp, _ := p.get(t, "shop.example", "/product/1"); !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
				t.Fatalf("first answer not stored: %q", resp.Header.Get("Cache-Status"))
			}
			if tt.gzip {
				o.Set(gzipOrigin(tt.page))
			} else {
				o.Set(htmlPage(tt.page))
			}
			for i := range 3 {
				resp, body := p.get(t, "shop.example", "/product/1", "Accept-Encoding", "identity")
				assertStale(t, resp, body, "Desem waldkorn")
				if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=failure-marker") {
					t.Errorf("answer %d: Cache-Status %q; want detail=failure-marker", i, cs)
				}
			}
			// The fourth in a row puts the origin down by its answers (and
			// may release this very request: either way, the copy).
			resp, body := p.get(t, "shop.example", "/product/1")
			assertStale(t, resp, body, "Desem waldkorn")
			// A page without a copy gets the outage page, not the error page.
			resp, body = p.get(t, "shop.example", "/product/2")
			if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" || strings.Contains(body, "Error establishing") {
				t.Errorf("no copy: %d %q", resp.StatusCode, resp.Header.Get("Awning-Served"))
			}
			if n := p.Cache().Stats().NotStored[cache.FailureMarker]; n < 3 {
				t.Errorf("not_stored{reason=failure-marker} = %d; want every error page counted", n)
			}
			if h := p.Stats().Sites[0].Health; !h.Tripped || !strings.Contains(h.Origins[0].Reason, "failure-marker") {
				t.Errorf("health after 4 error pages: tripped %v, reason %q", h.Tripped, h.Origins[0].Reason)
			}
			// The copy is still the good page.
			p.Health("shop").SetForce(health.ForceFallback)
			if resp, body := p.get(t, "shop.example", "/product/1"); resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(body, "Desem waldkorn") {
				t.Errorf("the copy was replaced: %q %.200s", resp.Header.Get("Awning-Served"), body)
			}
		})
	}
}

// TestProbeFailsOnFailureMarker: a health path that answers 200 with the
// platform's error page is no sign of health.
func TestProbeFailsOnFailureMarker(t *testing.T) {
	var dbDown atomic.Bool
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		page := "<html><head><title>ok</title></head><body>ok</body></html>"
		if dbDown.Load() {
			page = wpDatabaseError
		}
		x.Write(testkit.Response(200, page, "Content-Type: text/html"))
		x.KeepAlive = true
	})
	p := startProxy(t, oneSite(o.URL(), "health: {path: /healthz, interval: 100ms, timeout: 100ms, fall: 2}"))
	testkit.WaitFor(t, 5*time.Second, "a probe to pass", func() bool { return p.Stats().Sites[0].Health.ProbesOK > 0 })
	dbDown.Store(true)
	testkit.WaitFor(t, 5*time.Second, "the probes to put the origin down", func() bool { return p.Stats().Sites[0].Health.Tripped })
	if r := p.Stats().Sites[0].Health.Origins[0].Reason; r != "probe: failure marker" {
		t.Errorf("reason %q; want the failure marker", r)
	}
}

// TestShrunkPageDoesNotReplaceItsCopy: a 200 HTML page a tenth the size of
// its copy goes to the shopper but is not stored over the copy.
func TestShrunkPageDoesNotReplaceItsCopy(t *testing.T) {
	big := `<!doctype html><html><head><title>Desem</title></head><body>` + strings.Repeat("<p>Desem waldkorn, 36 uur gerezen.</p>", 200) + `</body></html>`
	o := testkit.NewOrigin(t, htmlPage(big))
	p := startProxy(t, staleSite(o.URL(), "health: {passive_failures: 1000}"))
	p.get(t, "shop.example", "/product/1")
	o.Set(htmlPage(`<html><body>Oops</body></html>`))
	resp, body := p.get(t, "shop.example", "/product/1")
	if resp.Header.Get("Awning-Served") != "origin" || body != `<html><body>Oops</body></html>` || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=shrunk") {
		t.Errorf("got %q %q %.60q", resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"), body)
	}
	if n := p.Cache().Stats().NotStored[cache.Shrunk]; n != 1 {
		t.Errorf("not_stored{reason=shrunk} = %d; want 1", n)
	}
	p.Health("shop").SetForce(health.ForceFallback)
	if _, body := p.get(t, "shop.example", "/product/1"); !strings.Contains(body, "36 uur gerezen") {
		t.Error("the copy was replaced by the shrunk page")
	}
}

// TestPostAnsweredWithErrorPageIsUnconfirmed: an order answered 200 with
// the platform's error page went out and was not confirmed.
func TestPostAnsweredWithErrorPageIsUnconfirmed(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(wpDatabaseError))
	p := startProxy(t, oneSite(o.URL()))
	resp, body := p.post(t, "shop.example", "/checkout", "pay=1")
	if resp.StatusCode != 504 || resp.Header.Get("Awning-Served") != "unconfirmed" || strings.Contains(body, "Error establishing") {
		t.Errorf("got %d %q", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
}
