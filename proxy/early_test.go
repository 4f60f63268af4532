package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/valyala/fasthttp"
)

// The tests in this file hold early answers (originearly.go): an origin that
// answers before it has read the whole request, and then closes, resets,
// keeps the connection open without reading, or reads on slowly. Origins
// here are raw listeners that write exact bytes; uploads are large enough
// (8 MB) that the body cannot sit in the sockets' buffers.

// earlyOrigin answers a GET with 200 "fresh" and keeps the connection, and
// any other request, once its head is read, with what early does: answer
// before the body, then close, reset, or hold. It counts connections.
type earlyOrigin struct {
	connListener
	quit chan struct{}
}

// earlyFn acts on a connection whose request head (and maybe part of its
// body) was read; body reads the rest of the body as sent.
type earlyFn func(c net.Conn, body io.Reader, quit <-chan struct{})

func startEarlyOrigin(t *testing.T, early earlyFn) *earlyOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startEarlyOriginOn(t, ln, early)
}

// startEarlyOriginOn serves early on ln (a TLS listener for an https
// origin).
func startEarlyOriginOn(t *testing.T, ln net.Listener, early earlyFn) *earlyOrigin {
	t.Helper()
	o := &earlyOrigin{quit: make(chan struct{})}
	o.start(t, ln, func() { close(o.quit) }, func(c net.Conn) { o.serve(c, early) })
	return o
}

func (o *earlyOrigin) serve(c net.Conn, early earlyFn) {
	defer c.Close()
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		for end < 0 {
			n, err := c.Read(tmp)
			if err != nil {
				return
			}
			buf = append(buf, tmp[:n]...)
			end = bytes.Index(buf, []byte("\r\n\r\n"))
		}
		if !bytes.HasPrefix(buf, []byte("GET ")) {
			early(c, io.MultiReader(bytes.NewReader(buf[end+4:]), c), o.quit)
			return
		}
		buf = buf[end+4:]
		c.Write(testkit.Response(200, "fresh"))
	}
}

// Ways an origin goes on after its early answer.

// thenClose closes at once, with the body unread: the kernel resets.
func thenClose(answer string) earlyFn {
	return func(c net.Conn, _ io.Reader, _ <-chan struct{}) {
		c.Write([]byte(answer))
	}
}

// tcpOf is the TCP connection under c.
func tcpOf(c net.Conn) *net.TCPConn {
	if tc, ok := c.(*tls.Conn); ok {
		return tc.NetConn().(*net.TCPConn)
	}
	return c.(*net.TCPConn)
}

// thenLinger0 resets on purpose (SO_LINGER 0), as servers that abort do.
func thenLinger0(answer string) earlyFn {
	return func(c net.Conn, _ io.Reader, _ <-chan struct{}) {
		c.Write([]byte(answer))
		tcpOf(c).SetLinger(0)
	}
}

// thenHold keeps the connection open without reading until the test ends.
func thenHold(answer string) earlyFn {
	return func(c net.Conn, _ io.Reader, quit <-chan struct{}) {
		c.Write([]byte(answer))
		<-quit
	}
}

// thenFinHold sends its FIN but neither reads nor closes.
func thenFinHold(answer string) earlyFn {
	return func(c net.Conn, _ io.Reader, quit <-chan struct{}) {
		c.Write([]byte(answer))
		tcpOf(c).CloseWrite()
		<-quit
	}
}

// thenReadSlowly reads on, 4 KB at a time with a pause, until Awning
// closes: an origin that drains what it will not use.
func thenReadSlowly(answer string) earlyFn {
	return func(c net.Conn, _ io.Reader, quit <-chan struct{}) {
		c.Write([]byte(answer))
		buf := make([]byte, 4096)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}
}

func answer413() string {
	body := "<h1>Too large</h1>"
	return "HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nConnection: close\r\n\r\n" + body
}

// sizedReader hides a reader's length from Go's client.
type sizedReader struct{ io.Reader }

// postUpload POSTs blob to path through p, with Content-Length or chunked,
// and returns what came back and how long it took.
func postUpload(t *testing.T, p *testProxy, path string, blob []byte, chunked bool) (*http.Response, string, time.Duration) {
	t.Helper()
	var body io.Reader = bytes.NewReader(blob)
	if chunked {
		body = sizedReader{body}
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.example"
	req.Header.Set("Content-Type", "application/octet-stream")
	if chunked {
		req.ContentLength, req.TransferEncoding = -1, []string{"chunked"}
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("POST %s: read body: %v", path, err)
	}
	return resp, string(got), time.Since(start)
}

// earlySite is the site of these tests: write_timeout 4s, so that an
// answer within it was not a timeout's.
func earlySite(origin string) string {
	return siteTimeout(origin, "4s", "write_timeout: 4s")
}

// TestEarlyAnswers: an origin that answers an upload before reading it gets
// its answer to the shopper, however it goes on, for bodies sent with a
// Content-Length and chunked; the origin connection is not reused; the
// answer is counted and not refused. An early answer that is not whole or
// not well framed is what a failed write was before: the unconfirmed 504.
func TestEarlyAnswers(t *testing.T) {
	blob := randomBytes(t, 8<<20)
	chunked401 := "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"shop\"\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nlogin\r\n6\r\n first\r\n0\r\n\r\n"
	for _, tt := range []struct {
		name    string
		origin  earlyFn
		status  int
		served  string
		body    string
		header  [2]string // a header the shopper must get
		early   uint64    // OriginEarly after the POST
		framing uint64    // OriginRefused["framing"] after the POST
	}{
		{name: "413 then close", origin: thenClose(answer413()), status: 413, served: "origin", body: "<h1>Too large</h1>", early: 1},
		{name: "413 then reset (linger 0)", origin: thenLinger0(answer413()), status: 413, served: "origin", body: "<h1>Too large</h1>", early: 1},
		{name: "413 then hold without reading", origin: thenHold(answer413()), status: 413, served: "origin", body: "<h1>Too large</h1>", early: 1},
		{name: "413 then FIN without reading", origin: thenFinHold(answer413()), status: 413, served: "origin", body: "<h1>Too large</h1>", early: 1},
		{name: "413 then read slowly", origin: thenReadSlowly(answer413()), status: 413, served: "origin", body: "<h1>Too large</h1>", early: 1},
		{name: "401 chunked then close", origin: thenClose(chunked401), status: 401, served: "origin", body: "login first",
			header: [2]string{"WWW-Authenticate", `Basic realm="shop"`}, early: 1},
		{name: "303 to login then reset", origin: thenLinger0("HTTP/1.1 303 See Other\r\nLocation: /login\r\nContent-Length: 0\r\n\r\n"),
			status: 303, served: "origin", header: [2]string{"Location", "/login"}, early: 1},
		{name: "403 close-delimited then FIN", origin: thenFinHold("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno uploads"),
			status: 403, served: "origin", body: "no uploads", early: 1},
		{name: "400 then hold", origin: thenHold("HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad"), status: 400, served: "origin", body: "bad", early: 1},
		{name: "417 after 100 Continue then close", origin: thenClose("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n"),
			status: 417, served: "origin", early: 1},
		{name: "badly framed then close", origin: thenClose("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nlarge\r\n0\r\n\r\n"),
			status: 504, served: "unconfirmed", framing: 1},
		{name: "badly framed then hold", origin: thenHold("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nlarge"),
			status: 504, served: "unconfirmed", framing: 1},
		{name: "truncated then reset", origin: thenLinger0("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 100\r\n\r\ntoo"),
			status: 504, served: "unconfirmed"},
		{name: "nothing then reset", origin: thenLinger0(""), status: 504, served: "unconfirmed"},
	} {
		for _, chunked := range []bool{false, true} {
			name := tt.name + "/content-length"
			if chunked {
				name = tt.name + "/chunked"
			}
			t.Run(name, func(t *testing.T) {
				o := startEarlyOrigin(t, tt.origin)
				p := startProxy(t, earlySite("http://"+o.ln.Addr().String()))
				resp, body, took := postUpload(t, p, "/upload", blob, chunked)
				if resp.StatusCode != tt.status || resp.Header.Get("Awning-Served") != tt.served {
					t.Fatalf("got %d %q after %v; want %d %s", resp.StatusCode, resp.Header.Get("Awning-Served"), took, tt.status, tt.served)
				}
				if tt.served == "origin" && body != tt.body {
					t.Errorf("body %q; want %q", body, tt.body)
				}
				if k := tt.header[0]; k != "" && resp.Header.Get(k) != tt.header[1] {
					t.Errorf("%s %q; want %q", k, resp.Header.Get(k), tt.header[1])
				}
				if took >= 4*time.Second {
					t.Errorf("answered after %v: the write waited for write_timeout (4s)", took)
				}
				st := p.Stats().Sites[0]
				if st.OriginEarly != tt.early || st.OriginRefused["framing"] != tt.framing {
					t.Errorf("early answers %d, refused for framing %d; want %d and %d", st.OriginEarly, st.OriginRefused["framing"], tt.early, tt.framing)
				}
				// The next request goes on a new origin connection: the one
				// that carried the early answer is never reused.
				getOrigin(t, p, "/after", "fresh")
				if n := o.conns.Load(); n != 2 {
					t.Errorf("origin connections: %d; want 2 (the early answer's not reused)", n)
				}
			})
		}
	}
}

// TestEarlyAnswersHTTPS: the same over TLS, where the watcher reads
// through crypto/tls while the body is written.
func TestEarlyAnswersHTTPS(t *testing.T) {
	blob := randomBytes(t, 8<<20)
	for _, tt := range []struct {
		name   string
		origin earlyFn
	}{
		{"413 then close", thenClose(answer413())},
		{"413 then reset", thenLinger0(answer413())},
		{"413 then hold without reading", thenHold(answer413())},
		{"413 then read slowly", thenReadSlowly(answer413())},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, cert := tlsOriginListener(t)
			o := startEarlyOriginOn(t, ln, tt.origin)
			p := startTrustingProxy(t, earlySite("https://"+ln.Addr().String()), cert)
			resp, body, took := postUpload(t, p, "/upload", blob, false)
			if resp.StatusCode != 413 || resp.Header.Get("Awning-Served") != "origin" || body != "<h1>Too large</h1>" {
				t.Fatalf("got %d %q %.100q after %v; want 413 origin", resp.StatusCode, resp.Header.Get("Awning-Served"), body, took)
			}
			if took >= 4*time.Second {
				t.Errorf("answered after %v: the write waited for write_timeout (4s)", took)
			}
			getOrigin(t, p, "/after", "fresh")
			if n := o.conns.Load(); n != 2 {
				t.Errorf("origin connections: %d; want 2 (the early answer's not reused)", n)
			}
		})
	}
}

// TestEarlyAnswerWhileReading: an origin that answers 200 as it reads the
// upload (one that echoes it back, chunk by chunk) gets the whole body:
// a success is no reason to stop sending, and the answer is relayed whole.
func TestEarlyAnswerWhileReading(t *testing.T) {
	blob := randomBytes(t, 8<<20)
	echo := func(c net.Conn, body io.Reader, _ <-chan struct{}) {
		// The head was read; the body is what Content-Length says.
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"))
		buf := make([]byte, 64<<10)
		for left := len(blob); left > 0; {
			n, err := body.Read(buf[:min(len(buf), left)])
			if n > 0 {
				c.Write([]byte(strconv.FormatInt(int64(n), 16) + "\r\n"))
				c.Write(buf[:n])
				c.Write([]byte("\r\n"))
				left -= n
			}
			if err != nil {
				return
			}
		}
		c.Write([]byte("0\r\n\r\n"))
	}
	o := startEarlyOrigin(t, echo)
	p := startProxy(t, earlySite("http://"+o.ln.Addr().String())+"limits: {response_body: 32MiB}\n")
	resp, body, took := postUpload(t, p, "/echo", blob, false)
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || body != string(blob) {
		t.Fatalf("got %d %q, %d bytes (equal: %v) after %v; want 200 origin and the upload back", resp.StatusCode,
			resp.Header.Get("Awning-Served"), len(body), body == string(blob), took)
	}
}

// TestEarlyAnswerNotAFailure: early answers tell health the origin works (a
// 413 is an origin at work): many in a row leave the origin up and the
// circuit closed.
func TestEarlyAnswerNotAFailure(t *testing.T) {
	o := startEarlyOrigin(t, thenClose(answer413()))
	p := startProxy(t, earlySite("http://"+o.ln.Addr().String()))
	blob := randomBytes(t, 4<<20)
	for i := range 4 {
		if resp, _, _ := postUpload(t, p, "/upload", blob, i%2 == 1); resp.StatusCode != 413 {
			t.Fatalf("upload %d: %d %q; want 413 origin", i, resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
	}
	st := p.Stats().Sites[0]
	h := st.Health
	if !h.Open || h.Transitions != 0 || h.Origins[0].Passive != health.Up {
		t.Errorf("after 4 early 413s: open %v, transitions %d, passive %v; want open, 0, up", h.Open, h.Transitions, h.Origins[0].Passive)
	}
	if st.OriginEarly != 4 || st.Served[OutcomeOrigin] != 4 || st.Served[OutcomeUnconfirmed] != 0 {
		t.Errorf("early %d, origin %d, unconfirmed %d; want 4, 4, 0", st.OriginEarly, st.Served[OutcomeOrigin], st.Served[OutcomeUnconfirmed])
	}
}

// TestEarlyAnswerShopperConnectionKept: the shopper's connection carries
// its next request after an early answer, pipelined right behind the
// upload: fasthttp read the whole body before the exchange began, so the
// connection stands at a request boundary (no desync), whatever the origin
// did with the body.
func TestEarlyAnswerShopperConnectionKept(t *testing.T) {
	o := startEarlyOrigin(t, thenClose(answer413()))
	p := startProxy(t, earlySite("http://"+o.ln.Addr().String()))
	blob := strings.Repeat("x", 6<<20)
	for _, framing := range []string{"content-length", "chunked"} {
		t.Run(framing, func(t *testing.T) {
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var req strings.Builder
			req.WriteString("POST /upload HTTP/1.1\r\nHost: shop.example\r\n")
			if framing == "chunked" {
				req.WriteString("Transfer-Encoding: chunked\r\n\r\n")
				for rest := blob; len(rest) > 0; {
					n := min(len(rest), 1<<20)
					req.WriteString(strconv.FormatInt(int64(n), 16) + "\r\n" + rest[:n] + "\r\n")
					rest = rest[n:]
				}
				req.WriteString("0\r\n\r\n")
			} else {
				req.WriteString("Content-Length: " + strconv.Itoa(len(blob)) + "\r\n\r\n" + blob)
			}
			req.WriteString("GET /next HTTP/1.1\r\nHost: shop.example\r\n\r\n")
			c.SetDeadline(time.Now().Add(10 * time.Second))
			wrote := make(chan error, 1)
			go func() { // the proxy may answer while the test still writes
				_, err := io.WriteString(c, req.String())
				wrote <- err
			}()
			br := bufio.NewReader(c)
			for _, want := range []struct {
				method string
				status int
				body   string
			}{{"POST", 413, "<h1>Too large</h1>"}, {"GET", 200, "fresh"}} {
				resp, err := http.ReadResponse(br, &http.Request{Method: want.method})
				if err != nil {
					t.Fatalf("%s: %v; want %d", want.method, err, want.status)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != want.status || string(body) != want.body {
					t.Fatalf("%s on the same connection: %d %.100q %v; want %d %q", want.method, resp.StatusCode, body, err, want.status, want.body)
				}
			}
			if err := <-wrote; err != nil {
				t.Errorf("writing the requests: %v", err)
			}
		})
	}
}

// TestEarlyAnswerToCurl: curl uploading a file with --data-binary gets the
// origin's 413, not a 504.
func TestEarlyAnswerToCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl is needed (scripts/install-test-deps.sh): %v", err)
	}
	o := startEarlyOrigin(t, thenClose(answer413()))
	p := startProxy(t, earlySite("http://"+o.ln.Addr().String()))
	file := filepath.Join(t.TempDir(), "bigfile")
	if err := os.WriteFile(file, randomBytes(t, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "-H", "Host: shop.example",
		"-o", "/dev/null", "-w", "%{http_code} %header{awning-served}",
		"--data-binary", "@"+file, "http://"+p.addr+"/upload").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "413 origin" {
		t.Errorf("curl got %q; want \"413 origin\"", got)
	}
}

// BenchmarkPassThroughPost measures an order's way through the handler to
// a loopback origin that reads the body and answers: a 2 KB form, which
// goes out in one write and starts no watcher, and a 4 MB upload, which
// the socket cannot take at once and is written with the watcher on.
func BenchmarkPassThroughPost(b *testing.B) {
	for _, size := range []int{2 << 10, 4 << 20} {
		b.Run(strconv.Itoa(size>>10)+"KB", func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &fasthttp.Server{MaxRequestBodySize: 8 << 20, Handler: func(ctx *fasthttp.RequestCtx) {
				ctx.SetBodyString("ordered")
			}}
			go srv.Serve(ln)
			b.Cleanup(func() { srv.Shutdown() })
			s, err := New(options(b, oneSite("http://"+ln.Addr().String())))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.Close)
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI("/checkout")
			req.Header.SetHost("shop.example")
			req.Header.SetContentType("application/x-www-form-urlencoded")
			req.SetBody(bytes.Repeat([]byte("a"), size))
			remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242}
			var ctx fasthttp.RequestCtx
			h := s.Handler()
			b.SetBytes(int64(size))
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
		})
	}
}
