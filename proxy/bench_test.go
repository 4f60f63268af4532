package proxy

import (
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// startFastOrigin serves body from a fasthttp server on loopback: an origin
// fast enough that the benchmark measures Awning, not the origin.
func startFastOrigin(b *testing.B, body []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.Response.Header.Set("Cache-Control", "public, max-age=60")
		ctx.SetBody(body)
	}}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// BenchmarkPassThrough measures the request path for a healthy origin:
// routing, building the outbound request, the round trip to a loopback
// origin, and relaying a 16 KB page. allocs/op counts Awning's and
// fasthttp's client allocations per request.
func BenchmarkPassThrough(b *testing.B) {
	origin := startFastOrigin(b, []byte(strings.Repeat("<p>product page</p>", 800)))
	s, err := New(options(b, oneSite(origin)))
	if err != nil {
		b.Fatal(err)
	}
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI("/product/1?utm_source=newsletter")
	req.Header.SetHost("Shop.Example")
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Accept-Encoding", "gzip, br")
	req.Header.Set("User-Agent", "Mozilla/5.0 (benchmark)")
	req.Header.Set("Cookie", "consent=1; _ga=GA1.2.3")
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242}
	var ctx fasthttp.RequestCtx
	h := s.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Init(&req, remote, nil)
		h(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("status %d", ctx.Response.StatusCode())
		}
		ctx.Response.Reset()
	}
}

// BenchmarkDirectBaseline is the same round trip without Awning: a bare
// fasthttp client fetching the page from the same origin. PassThrough divided
// by this is Awning's cost as a ratio, which stays meaningful on noisy,
// shared machines where absolute times do not.
func BenchmarkDirectBaseline(b *testing.B) {
	origin := startFastOrigin(b, []byte(strings.Repeat("<p>product page</p>", 800)))
	hc := &fasthttp.HostClient{Addr: strings.TrimPrefix(origin, "http://")}
	var req fasthttp.Request
	var resp fasthttp.Response
	req.SetRequestURI(origin + "/product/1?utm_source=newsletter")
	req.Header.Set("Accept-Encoding", "gzip, br")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := hc.Do(&req, &resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("%v %d", err, resp.StatusCode())
		}
	}
}
