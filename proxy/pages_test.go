package proxy

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/demoshop"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/valyala/fasthttp"
)

// brandedSite is a config with one site "shop" in front of origin, with a
// logo (written to a temporary directory) and three languages.
func brandedSite(t testing.TB, origin string) string {
	t.Helper()
	logo := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logo, demoshop.Logo(), 0o644); err != nil {
		t.Fatal(err)
	}
	return `
tls: {mode: off}
sites:
  - name: shop
    hosts: [shop.example]
    api_paths: [/api/]
    origin: {urls: [` + origin + `], timeout: 2s, connect_timeout: 500ms}
    page:
      brand: "Bakkerij de Vries"
      languages: [nl, en, de]
      color: "#b5651d"
      logo: ` + logo + `
      retry_after: 45s
  - name: other
    hosts: [other.example]
    origin: {urls: [` + origin + `]}
`
}

func TestOutagePageHeadersAndLanguages(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	o.Refuse()
	p := startProxy(t, brandedSite(t, o.URL()))
	tests := []struct {
		accept, wantCL, wantLang string
	}{
		{"", "nl, en, de", "nl"},
		{"en-US,en;q=0.9", "en, nl, de", "en"},
		{"fr-FR,fr;q=0.9,de;q=0.5,en;q=0.4", "de, nl, en", "de"},
		{"*", "nl, en, de", "nl"},
		{"garbage;;q=x", "nl, en, de", "nl"},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			resp, body := p.get(t, "shop.example", "/product/1?colour=red", "Accept-Language", tt.accept)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status %d; want 503", resp.StatusCode)
			}
			want := map[string]string{
				"Awning-Served":          "outage",
				"Cache-Control":          "no-store",
				"Retry-After":            "45",
				"Content-Language":       tt.wantCL,
				"Content-Type":           "text/html; charset=utf-8",
				"Vary":                   "Accept, Accept-Language, Accept-Encoding",
				"X-Robots-Tag":           "noindex",
				"X-Content-Type-Options": "nosniff",
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'; script-src 'sha256-") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			if !strings.Contains(body, `<html lang="`+tt.wantLang+`">`) || !strings.Contains(body, `<meta name="robots" content="noindex">`) {
				t.Errorf("page is not the %s-first page: %.300q", tt.wantLang, body)
			}
		})
	}

	resp, js := p.get(t, "shop.example", "/api/cart", "Accept-Language", "en")
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Retry-After") != "45" ||
		!strings.HasPrefix(js, `{"error":"outage","retry_after":45,"message":{"nl":`) {
		t.Errorf("API client: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), js)
	}
}

func TestOutagePageHEAD(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	o.Refuse()
	p := startProxy(t, brandedSite(t, o.URL()))
	_, body := p.get(t, "shop.example", "/", "Accept-Language", "en")
	raw := testkit.Dial(t, p.addr)
	raw.Send("HEAD / HTTP/1.1\r\nHost: shop.example\r\nAccept-Language: en\r\n\r\n")
	resp, b, err := raw.ReadResponse("HEAD", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || len(b) != 0 || resp.ContentLength != int64(len(body)) || resp.Header.Get("Awning-Served") != "outage" {
		t.Errorf("HEAD: %d, %d body bytes, Content-Length %d; want 503, none, %d", resp.StatusCode, len(b), resp.ContentLength, len(body))
	}
	raw.Send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	if _, b, err = raw.ReadResponse("GET", 5*time.Second); err != nil || !bytes.Contains(b, []byte("</html>")) {
		t.Errorf("GET after HEAD on the same connection: %d bytes, %v", len(b), err)
	}
}

func TestLogoServedByAwning(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	p := startProxy(t, brandedSite(t, o.URL()))
	set := p.snap.Load().states[0].dyn.Load().pages.get().set
	if set.Logo == nil {
		t.Fatal("no logo rendered")
	}
	resp, body := p.get(t, "shop.example", set.Logo.Path)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || body != string(demoshop.Logo()) {
		t.Errorf("logo: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("logo Cache-Control = %q", got)
	}
	for _, tt := range []struct{ host, path string }{
		{"other.example", set.Logo.Path},                                       // not that site's logo
		{"shop.example", strings.Replace(set.Logo.Path, "shop-", "shop-0", 1)}, // another hash
		{"shop.example", strings.TrimSuffix(set.Logo.Path, ".png") + ".jpg"},   // another type
		{"shop.example", "/.well-known/awning/logo/"},
	} {
		if resp, _ := p.get(t, tt.host, tt.path); resp.StatusCode != 404 {
			t.Errorf("%s%s: %d; want 404", tt.host, tt.path, resp.StatusCode)
		}
	}
	if n := o.Requests(); n != 0 {
		t.Errorf("%d requests reached the origin; want none", n)
	}
}

func TestPageErrorsArePositioned(t *testing.T) {
	yaml := strings.Replace(oneSite("http://127.0.0.1:1"), "languages: [nl, en]", "languages: [nl, tlh]", 1)
	_, err := New(options(t, yaml))
	var errs config.Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), `test.yaml:8:28: sites[0].page.languages[1]: no translations for "tlh"`) {
		t.Errorf("New = %v; want the unknown language positioned", err)
	}
}

// outageCtx builds a request for the outage benchmarks and tests.
func outageCtx() (*fasthttp.Request, net.Addr) {
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI("/product/1?utm_source=newsletter")
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7")
	req.Header.Set("User-Agent", "Mozilla/5.0 (benchmark)")
	return &req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242}
}

// TestServeOutageAllocatesNothing holds the outage answer to the hot-path
// rule: negotiating the language and writing the pre-rendered page
// allocates nothing per request.
func TestServeOutageAllocatesNothing(t *testing.T) {
	s, err := New(options(t, brandedSite(t, "http://127.0.0.1:1")))
	if err != nil {
		t.Fatal(err)
	}
	st := s.snap.Load().states[0]
	req, remote := outageCtx()
	var ctx fasthttp.RequestCtx
	ctx.Init(req, remote, nil)
	s.serveOutage(&ctx, st) // warm the response's header buffers
	n := testing.AllocsPerRun(200, func() {
		ctx.Response.Reset()
		s.serveOutage(&ctx, st)
	})
	if n != 0 {
		t.Errorf("serveOutage allocates %v times per request; want 0", n)
	}
	if got := string(ctx.Response.Header.Peek("Content-Language")); got != "de, nl, en" {
		t.Errorf("Content-Language = %q; want de first", got)
	}
}

// BenchmarkOutagePage measures answering with the outage page once Awning
// knows the origin failed: language negotiation, headers and the
// pre-rendered body.
func BenchmarkOutagePage(b *testing.B) {
	s, err := New(options(b, brandedSite(b, "http://127.0.0.1:1")))
	if err != nil {
		b.Fatal(err)
	}
	st := s.snap.Load().states[0]
	req, remote := outageCtx()
	var ctx fasthttp.RequestCtx
	ctx.Init(req, remote, nil) // once: Init itself allocates, and the server does not call it per request
	s.serveOutage(&ctx, st)    // the pages are rendered on first need, once
	ctx.Response.Reset()
	b.ReportAllocs()
	for b.Loop() {
		s.serveOutage(&ctx, st)
		if ctx.Response.StatusCode() != 503 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
		ctx.Response.Reset()
	}
	b.ReportMetric(float64(len(st.dyn.Load().pages.get().outage.html[0].body)), "page-bytes")
}

// BenchmarkOutageRefusedOrigin is the whole request path for a shop whose
// origin refuses connections: routing, the failed connection attempt
// (until origin health lets Awning skip it), and the outage page.
func BenchmarkOutageRefusedOrigin(b *testing.B) {
	o := testkit.NewOrigin(b, nil)
	o.Refuse()
	s, err := New(options(b, brandedSite(b, o.URL())))
	if err != nil {
		b.Fatal(err)
	}
	req, remote := outageCtx()
	var ctx fasthttp.RequestCtx
	h := s.Handler()
	b.ReportAllocs()
	for b.Loop() {
		ctx.Init(req, remote, nil)
		h(&ctx)
		if ctx.Response.StatusCode() != 503 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
		ctx.Response.Reset()
	}
}

// TestOutagePageGzip: a client that takes gzip gets the page compressed
// (compressed once, when the page was rendered), one that does not gets it
// plain, and both are the same page.
func TestOutagePageGzip(t *testing.T) {
	o := testkit.NewOrigin(t, nil)
	o.Refuse()
	p := startProxy(t, brandedSite(t, o.URL()))
	fetch := func(ae string) (*http.Response, []byte) {
		raw := testkit.Dial(t, p.addr)
		req := "GET /product/1 HTTP/1.1\r\nHost: shop.example\r\nAccept-Language: en\r\n"
		if ae != "" {
			req += "Accept-Encoding: " + ae + "\r\n"
		}
		raw.Send(req + "\r\n")
		resp, body, err := raw.ReadResponse("GET", 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	plainResp, plain := fetch("")
	gzResp, gz := fetch("gzip, deflate, br")
	if got := plainResp.Header.Get("Content-Encoding"); got != "" {
		t.Errorf("without Accept-Encoding: Content-Encoding %q", got)
	}
	if got := gzResp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("with Accept-Encoding gzip: Content-Encoding %q; want gzip", got)
	}
	for _, r := range []*http.Response{plainResp, gzResp} {
		if r.StatusCode != 503 || r.Header.Get("Vary") != "Accept, Accept-Language, Accept-Encoding" {
			t.Errorf("status %d, Vary %q", r.StatusCode, r.Header.Get("Vary"))
		}
	}
	unzipped, err := fasthttp.AppendGunzipBytes(nil, gz)
	if err != nil || !bytes.Equal(unzipped, plain) {
		t.Errorf("gzip form is not the page (%v): %d bytes unzipped, %d plain", err, len(unzipped), len(plain))
	}
	if len(gz)*2 > len(plain) {
		t.Errorf("gzip form %d bytes for a %d-byte page", len(gz), len(plain))
	}
}
