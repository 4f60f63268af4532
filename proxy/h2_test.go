package proxy

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/valyala/fasthttp"
)

// protocolSites: shop (a healthy origin), down (an origin that served one
// page and then fails) and other (for coalescing), all with HSTS.
func protocolSites(shop, down, other string) string {
	return `
tls: {mode: self-signed}
limits: {request_body: 64KiB}
sites:
  - name: shop
    hosts: [shop.example]
    page: {languages: [nl, en]}
    hsts: {max_age: 1d}
    origin: {urls: [` + shop + `], timeout: 2s}
  - name: down
    hosts: [down.example]
    page: {languages: [nl, en]}
    hsts: {max_age: 1d}
    origin: {urls: [` + down + `], timeout: 2s, fallback_after: 300ms}
  - name: other
    hosts: [other.example]
    origin: {urls: [` + other + `], timeout: 2s}
`
}

var allProtocols = []string{"http/1.1", "h2", "h3"}

// TestContractOverEveryProtocol runs what DESIGN.md's contract promises
// shoppers over HTTP/1.1, HTTP/2 and HTTP/3 on one node: the same answers
// with the same headers, whichever protocol the browser picked.
func TestContractOverEveryProtocol(t *testing.T) {
	shop := testkit.NewOrigin(t, testkit.Respond(200, productPage,
		"Content-Type: text/html; charset=utf-8", "Connection: X-Private", "X-Private: 1", "Keep-Alive: timeout=5", "Set-Cookie: a=1", "Set-Cookie: b=2"))
	down := testkit.NewOrigin(t, htmlPage(productPage))
	other := testkit.NewOrigin(t, testkit.OK("other shop"))
	p := startTLSProxy(t, options(t, protocolSites(shop.URL(), down.URL(), other.URL())), true, "shop.example", "down.example", "other.example")
	clients := map[string]*http.Client{}
	for _, proto := range allProtocols {
		clients[proto] = p.client(t, proto)
	}
	// A copy of down's page, then its origin fails for good.
	if resp, _ := fetchTLS(t, clients["h2"], "GET", "down.example", "/product/1"); resp.Header.Get("Awning-Served") != "origin" {
		t.Fatalf("priming the copy: %q", resp.Header.Get("Awning-Served"))
	}
	down.Set(testkit.Status(500))

	hsts := func(t *testing.T, resp *http.Response) {
		t.Helper()
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=86400" {
			t.Errorf("Strict-Transport-Security = %q; want max-age=86400", got)
		}
	}
	cases := []struct {
		name   string
		protos []string // default: all
		run    func(t *testing.T, c *http.Client, proto string)
	}{
		{"origin answer", nil, func(t *testing.T, c *http.Client, proto string) {
			resp, body := fetchTLS(t, c, "GET", "shop.example", "/product/1?x=1", "Accept-Language", "nl")
			if resp.StatusCode != 200 || body != productPage || resp.Header.Get("Awning-Served") != "origin" {
				t.Fatalf("got %d %q %.60q; want the origin's page", resp.StatusCode, resp.Header.Get("Awning-Served"), body)
			}
			hsts(t, resp)
			for _, h := range []string{"Connection", "Keep-Alive", "X-Private", "Transfer-Encoding", "Upgrade"} {
				if v, ok := resp.Header[h]; ok {
					t.Errorf("the shopper got hop-by-hop header %s: %q", h, v)
				}
			}
			if got := resp.Header.Values("Set-Cookie"); !slices.Equal(got, []string{"a=1", "b=2"}) {
				t.Errorf("Set-Cookie = %q; want both of the origin's", got)
			}
			if got := resp.Header.Get("Alt-Svc"); !strings.HasPrefix(got, `h3=":`) {
				t.Errorf("Alt-Svc = %q; want HTTP/3 advertised", got)
			}
			r := shop.Last()
			if r.Header.Get("X-Forwarded-Proto") != "https" || r.Header.Get("X-Real-IP") != "127.0.0.1" || r.Host != "shop.example" || r.RequestURI != "/product/1?x=1" {
				t.Errorf("origin got Host %q %q X-Forwarded-Proto %q X-Real-IP %q", r.Host, r.RequestURI, r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Real-IP"))
			}
			if r.Header.Get("Accept-Language") != "nl" || r.Header.Get("Te") != "" || r.Header.Get("Connection") == "keep-alive, te" {
				t.Errorf("origin got Accept-Language %q TE %q", r.Header.Get("Accept-Language"), r.Header.Get("Te"))
			}
		}},
		{"HEAD", nil, func(t *testing.T, c *http.Client, proto string) {
			resp, body := fetchTLS(t, c, "HEAD", "shop.example", "/product/1")
			if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(productPage)) {
				t.Errorf("HEAD: %d, %d body bytes, Content-Length %d; want 200, none, %d", resp.StatusCode, len(body), resp.ContentLength, len(productPage))
			}
		}},
		{"POST body reaches the origin", nil, func(t *testing.T, c *http.Client, proto string) {
			form := "qty=2&sku=desem-" + proto
			req, _ := http.NewRequest("POST", "https://shop.example/cart", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			r := shop.Last()
			if resp.Header.Get("Awning-Served") != "origin" || r.Method != "POST" || string(r.Body) != form || r.Header.Get("Content-Length") != strconv.Itoa(len(form)) {
				t.Errorf("origin got %s %q (Content-Length %q); want POST %q", r.Method, r.Body, r.Header.Get("Content-Length"), form)
			}
		}},
		{"stale copy", nil, func(t *testing.T, c *http.Client, proto string) {
			resp, body := fetchTLS(t, c, "GET", "down.example", "/product/1")
			assertStale(t, resp, body, "Desem waldkorn")
			hsts(t, resp)
		}},
		{"outage page", nil, func(t *testing.T, c *http.Client, proto string) {
			resp, body := fetchTLS(t, c, "GET", "down.example", "/product/nocopy", "Accept-Language", "en")
			if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" || resp.Header.Get("Retry-After") == "" ||
				resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Language") == "" {
				t.Errorf("got %d %q Retry-After %q Cache-Control %q Content-Language %q", resp.StatusCode, resp.Header.Get("Awning-Served"),
					resp.Header.Get("Retry-After"), resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Language"))
			}
			if !strings.Contains(body, `<meta name="robots" content="noindex">`) {
				t.Errorf("outage page without noindex: %.200q", body)
			}
			if !strings.HasPrefix(resp.Header.Get("Cache-Status"), "Awning; ") {
				t.Errorf("Cache-Status = %q", resp.Header.Get("Cache-Status"))
			}
			hsts(t, resp)
		}},
		{"maintenance and bypass", nil, func(t *testing.T, c *http.Client, proto string) {
			p.ApplyState("shop", SiteState{Maintenance: &Maintenance{BypassSecret: "correct-horse-battery-staple"}})
			defer p.ApplyState("shop", SiteState{})
			resp, body := fetchTLS(t, c, "GET", "shop.example", "/product/1")
			if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "maintenance" || resp.Header.Get("Retry-After") == "" ||
				resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(body, "noindex") {
				t.Errorf("maintenance: %d %q Retry-After %q", resp.StatusCode, resp.Header.Get("Awning-Served"), resp.Header.Get("Retry-After"))
			}
			resp, _ = fetchTLS(t, c, "GET", "shop.example", "/.well-known/awning/bypass/correct-horse-battery-staple?to=/product/1")
			if resp.StatusCode != 303 || len(resp.Cookies()) != 1 {
				t.Fatalf("bypass path: %d %v", resp.StatusCode, resp.Cookies())
			}
			cookie := resp.Cookies()[0]
			resp, _ = fetchTLS(t, c, "GET", "shop.example", "/product/1", "Cookie", cookie.Name+"="+cookie.Value+"; consent=1")
			if resp.Header.Get("Awning-Served") != "origin" || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=bypass") {
				t.Errorf("with the bypass cookie: %q %q; want the origin, not kept", resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"))
			}
			if got := shop.Last().Header.Get("Cookie"); got != "consent=1" {
				t.Errorf("origin got Cookie %q; want the shopper's without Awning's", got)
			}
		}},
		{"unknown host", nil, func(t *testing.T, c *http.Client, proto string) {
			// SNI shop.example, Host (or :authority) a name no site has.
			req, _ := http.NewRequest("GET", "https://shop.example/", nil)
			req.Host = "unknown.example"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 421 || resp.Header.Get("Awning-Served") != "misdirected" {
				t.Errorf("got %d %q; want 421 misdirected", resp.StatusCode, resp.Header.Get("Awning-Served"))
			}
		}},
		{"another shop on the connection", []string{"h2", "h3"}, func(t *testing.T, c *http.Client, proto string) {
			// A browser may reuse a connection for any name its
			// certificate covers; with one certificate per shop that is
			// a bug or an attack, and gets 421 (no coalescing).
			if resp, _ := fetchTLS(t, c, "GET", "shop.example", "/"); resp.StatusCode != 200 {
				t.Fatalf("own host: %d", resp.StatusCode)
			}
			before := other.Requests()
			req, _ := http.NewRequest("GET", "https://shop.example/", nil)
			req.Host = "other.example"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 421 || resp.Header.Get("Awning-Served") != "misdirected" || other.Requests() != before {
				t.Errorf("got %d %q, other's origin asked %d times; want 421 and no origin request", resp.StatusCode, resp.Header.Get("Awning-Served"), other.Requests()-before)
			}
		}},
		{"request body over the limit", []string{"h2", "h3"}, func(t *testing.T, c *http.Client, proto string) {
			before := shop.Requests()
			req, _ := http.NewRequest("POST", "https://shop.example/cart", bytes.NewReader(make([]byte, 65<<10)))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 413 || shop.Requests() != before {
				t.Errorf("got %d, origin asked %d times; want 413 and none", resp.StatusCode, shop.Requests()-before)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, proto := range allProtocols {
				if tc.protos != nil && !slices.Contains(tc.protos, proto) {
					continue
				}
				t.Run(proto, func(t *testing.T) {
					tc.run(t, clients[proto], proto)
				})
			}
		})
	}
	// Every protocol was what the clients asked for, and counted as such.
	for _, proto := range allProtocols {
		resp, _ := fetchTLS(t, clients[proto], "GET", "shop.example", "/")
		if got := protoOf(resp); got != proto {
			t.Errorf("a %s client was answered over %s", proto, got)
		}
	}
	st := p.ProtocolStats()
	for i, s := range st {
		if s.Requests < uint64(len(cases)) {
			t.Errorf("%s requests = %d; want at least %d", Protocol(i), s.Requests, len(cases))
		}
	}
}

// TestAccessLogNamesProtocol: each access log line says which HTTP version
// the request came in.
func TestAccessLogNamesProtocol(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	var logs testkit.Buffer
	opt := options(t, "log: {access: true}\n"+protocolSites(o.URL(), o.URL(), o.URL()))
	opt.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	p := startTLSProxy(t, opt, true, "shop.example")
	for _, proto := range allProtocols {
		fetchTLS(t, p.client(t, proto), "GET", "shop.example", "/p")
	}
	for _, want := range []string{"proto=HTTP/1.1", "proto=HTTP/2.0", "proto=HTTP/3.0"} {
		testkit.WaitFor(t, 5*time.Second, want+" in the access log", func() bool { return strings.Contains(logs.String(), want) })
	}
}

// discardWriter is an http.ResponseWriter that keeps nothing, for
// measuring the bridge without an HTTP/2 server around it.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// bridgedOutage returns a Server whose site's origin is down (refused),
// a request for a page without a copy, and a writer.
func bridgedOutage(tb testing.TB) (*bridge, *http.Request, *discardWriter) {
	tb.Helper()
	o := testkit.NewOrigin(tb, testkit.OK("x"))
	o.Refuse()
	s, err := New(options(tb, protocolSites(o.URL(), o.URL(), o.URL())))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	s.Health("down").SetForce(health.ForceFallback)
	r, _ := http.NewRequest("GET", "https://down.example/product/nocopy", nil)
	r.RequestURI = "/product/nocopy"
	r.Proto, r.ProtoMajor = "HTTP/2.0", 2
	r.RemoteAddr = "192.0.2.1:4242"
	r.TLS = &tls.ConnectionState{ServerName: "down.example", NegotiatedProtocol: "h2"}
	r.Header.Set("Accept-Encoding", "gzip")
	r.Header.Set("Accept-Language", "nl-NL,nl;q=0.9,en;q=0.8")
	r.Header.Set("User-Agent", "Mozilla/5.0")
	bc := requestConn(r)
	r = r.WithContext(connContext(r.Context(), bc))
	return s.bridge, r, &discardWriter{h: http.Header{}}
}

// TestBridgeAllocs: handing an outage page through the bridge allocates
// nothing of Awning's: the context is reused, and header names and values
// come from the intern table. (The pool is left out: under the race
// detector sync.Pool drops items on purpose.)
func TestBridgeAllocs(t *testing.T) {
	b, r, w := bridgedOutage(t)
	x, bc := new(bridgeCtx), r.Context().Value(connKey{}).(*bridgeConn)
	b.serve(x, bc, w, r)
	if w.status != 503 || w.h.Get("Awning-Served") != "outage" || w.n == 0 {
		t.Fatalf("got %d %q, %d bytes; want the outage page", w.status, w.h.Get("Awning-Served"), w.n)
	}
	n := testing.AllocsPerRun(200, func() {
		clear(w.h)
		b.serve(x, bc, w, r)
	})
	if n > 0 {
		t.Errorf("the bridge allocates %v times per outage page; want 0", n)
	}
}

// BenchmarkBridgeOutage measures the bridge and the pipeline for the
// outage page, without an HTTP/2 server: what Awning adds to Go's.
func BenchmarkBridgeOutage(b *testing.B) {
	br, r, w := bridgedOutage(b)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		br.ServeHTTP(w, r)
	}
}

// BenchmarkHTTP1Handler compares, on a stale hit, the pipeline alone with
// the HTTP/1.1 server's handler as the bridge's presence made it (a count
// by protocol and the Alt-Svc check around the same pipeline): what
// HTTP/2 support costs HTTP/1.1 per request.
func BenchmarkHTTP1Handler(b *testing.B) {
	s, ctx := staleHitServer(b)
	for _, bc := range []struct {
		name string
		h    func(*fasthttp.RequestCtx)
	}{{"pipeline", s.handle}, {"served", s.handleServe}} {
		b.Run(bc.name, func(b *testing.B) {
			// CPU time of this thread, besides wall time: the machines
			// are shared, and other load stretches wall time far more.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			bc.h(ctx)
			b.ReportAllocs()
			start := threadCPU()
			for b.Loop() {
				ctx.Response.Reset()
				bc.h(ctx)
			}
			b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
