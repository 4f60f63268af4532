package proxy

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// startFastOrigin serves body from a fasthttp server on loopback: an origin
// fast enough that the benchmark measures Awning, not the origin.
func startFastOrigin(b *testing.B, body []byte) string {
	return startFastOriginEncoded(b, body, "")
}

// startFastOriginEncoded is startFastOrigin for a body already in a content
// coding ("" for none).
func startFastOriginEncoded(b *testing.B, body []byte, encoding string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.Response.Header.Set("Cache-Control", "public, max-age=60")
		if encoding != "" {
			ctx.Response.Header.Set("Content-Encoding", encoding)
		}
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
	benchPassThrough(b, origin, nil)
}

// BenchmarkPassThroughGzip is BenchmarkPassThrough for an origin that sends
// the page gzip-compressed, as most do when asked (Awning asks for gzip).
// Each answer's gzip is checked to decode to its end; an answer identical
// to one already checked (this one, after the first) costs a hash of its
// body, not an inflate.
func BenchmarkPassThroughGzip(b *testing.B) {
	origin := startFastOriginEncoded(b, benchGzipPage(), "gzip")
	benchPassThrough(b, origin, nil)
}

// BenchmarkPassThroughGzipEveryAnswerNew is BenchmarkPassThroughGzip with
// the memory of checked bodies off: what a page that changes on every
// request (a token, a timestamp) costs, one inflate per answer.
func BenchmarkPassThroughGzipEveryAnswerNew(b *testing.B) {
	origin := startFastOriginEncoded(b, benchGzipPage(), "gzip")
	benchPassThrough(b, origin, func(s *Server) {
		for _, st := range s.snap.Load().states {
			for _, o := range st.pool.origins {
				o.check = nil
			}
		}
	})
}

func benchGzipPage() []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	for i := range 800 {
		fmt.Fprintf(w, "<p>product page %d</p>", i)
	}
	w.Close()
	return buf.Bytes()
}

func benchPassThrough(b *testing.B, origin string, tweak func(*Server)) {
	s, err := New(options(b, oneSite(origin)))
	if err != nil {
		b.Fatal(err)
	}
	if tweak != nil {
		tweak(s)
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
