package proxy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// The tests in this file hold the origin connection pool and exchange that
// replaced fasthttp's HostClient (issue 21) to what a battle-tested client
// does: origins named every way, HTTPS, HTTP/1.0, bodies framed every way,
// large bodies both directions, keep-alive races, slow origins, pool
// exhaustion and reloads. Each asserts what a shopper gets.

// rawOrigin is a minimal origin on a listener the test chooses (an IPv6
// or a TLS one, which testkit.Origin does not offer): it reads requests
// and lets answer write exact bytes; answer returns whether the connection
// is kept for the next request.
type rawOrigin struct {
	connListener
	requests atomic.Int64
	hosts    []string // Host of each request (under mu)
	sni      []string // the server name each TLS connection asked for (under mu)
}

// connListener accepts on ln until the test ends and runs serve on each
// connection in a goroutine of its own, counting connections. The test's
// Cleanup runs stop (when set), closes the listener and every connection
// it accepted, and waits for every serve to return. mu guards open and
// whatever the embedding origin keeps beside it.
type connListener struct {
	ln    net.Listener
	conns atomic.Int64
	mu    sync.Mutex
	open  []net.Conn
	wg    sync.WaitGroup
}

func (l *connListener) start(t *testing.T, ln net.Listener, stop func(), serve func(net.Conn)) {
	l.ln = ln
	t.Cleanup(func() {
		if stop != nil {
			stop()
		}
		ln.Close()
		l.mu.Lock()
		for _, c := range l.open {
			c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.conns.Add(1)
			l.mu.Lock()
			l.open = append(l.open, c)
			l.mu.Unlock()
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				serve(c)
			}()
		}
	}()
}

func startRawOrigin(t *testing.T, ln net.Listener, answer func(req *http.Request, c net.Conn) bool) *rawOrigin {
	o := &rawOrigin{}
	o.start(t, ln, nil, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if tc, ok := c.(*tls.Conn); ok {
				o.mu.Lock()
				o.sni = append(o.sni, tc.ConnectionState().ServerName)
				o.mu.Unlock()
			}
			o.requests.Add(1)
			o.mu.Lock()
			o.hosts = append(o.hosts, req.Host)
			o.mu.Unlock()
			if !answer(req, c) {
				return
			}
		}
	})
	return o
}

func (o *rawOrigin) seen() (hosts, sni []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.hosts...), append([]string(nil), o.sni...)
}

func okAnswer(body string) func(*http.Request, net.Conn) bool {
	return func(req *http.Request, c net.Conn) bool {
		resp := testkit.Response(200, body)
		if req.Method == http.MethodHead {
			resp = resp[:len(resp)-len(body)]
		}
		c.Write(resp)
		return true
	}
}

// getOrigin asks the proxy for path on shop.example and fails the test
// unless the origin answered it with want.
func getOrigin(t *testing.T, p *testProxy, path, want string) {
	t.Helper()
	resp, body := p.get(t, "shop.example", path)
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || body != want {
		t.Fatalf("GET %s: %d %q %.200q; want 200 origin %q", path, resp.StatusCode, resp.Header.Get("Awning-Served"), body, want)
	}
}

// answeredOnce asks p for path with method and reports whether the answer
// is the echo origin o's own ("METHOD /path", nothing for HEAD) and o was
// asked once for path; each miss is an error of t.
func answeredOnce(t *testing.T, p *testProxy, o *testkit.Origin, method, path string) bool {
	t.Helper()
	resp, body := p.do(t, method, "shop.example", path)
	want := method + " " + path
	if method == "HEAD" {
		want = ""
	}
	ok := true
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || body != want {
		t.Errorf("%s %s: %d %q %.80q; want 200 origin %q", method, path, resp.StatusCode, resp.Header.Get("Awning-Served"), body, want)
		ok = false
	}
	if n := o.RequestsFor(path); n != 1 {
		t.Errorf("origin got %s %s %d times; want once", method, path, n)
	}
	return ok
}

func TestOriginClientOriginByHostname(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("by name"))
	_, port, _ := net.SplitHostPort(o.Addr())
	p := startProxy(t, oneSite("http://localhost:"+port))
	for range 3 {
		getOrigin(t, p, "/p", "by name")
	}
	if n := o.Conns(); n != 1 {
		t.Errorf("origin connections: %d; want 1, reused", n)
	}
}

func TestOriginClientOriginByIPv6Literal(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatalf("no IPv6 loopback here: %v", err)
	}
	o := startRawOrigin(t, ln, okAnswer("over six"))
	p := startProxy(t, oneSite(`"http://`+ln.Addr().String()+`"`))
	for range 3 {
		getOrigin(t, p, "/p", "over six")
	}
	if n := o.conns.Load(); n != 1 {
		t.Errorf("origin connections: %d; want 1, reused", n)
	}
}

// startTrustingProxy starts a proxy from yaml whose https origins trust
// cert, as a public CA would be trusted: the name checked stays the one
// Awning chose. The roots are set before the server serves, so no
// request races the change.
func startTrustingProxy(t *testing.T, yaml string, cert *x509.Certificate) *testProxy {
	s, err := New(options(t, yaml))
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	s.mu.Lock()
	for _, o := range s.origins.byKey {
		if o.conns.tls != nil {
			c := o.conns.tls.Clone()
			c.RootCAs = roots
			o.conns.tls = c
		}
	}
	s.mu.Unlock()
	return serveProxy(t, s)
}

// TestOriginClientHTTPSOrigin: an https origin named by address gets the
// host_header as SNI (its certificate is for that name), the Host it
// asked for, and one connection for several requests.
func TestOriginClientHTTPSOrigin(t *testing.T) {
	ln, cert := tlsOriginListener(t)
	o := startRawOrigin(t, ln, okAnswer("secure"))
	p := startTrustingProxy(t, oneSite("https://"+ln.Addr().String(), "host_header: example.com"), cert)
	for range 3 {
		getOrigin(t, p, "/p", "secure")
	}
	if n := o.conns.Load(); n != 1 {
		t.Errorf("origin connections: %d; want 1, reused", n)
	}
	hosts, sni := o.seen()
	for i := range hosts {
		if hosts[i] != "example.com" || sni[i] != "example.com" {
			t.Errorf("request %d: Host %q, SNI %q; want example.com for both", i, hosts[i], sni[i])
		}
	}
}

// TestOriginClientHTTPSHostHeaderWithPort: a host_header with a port (an
// origin on a non-default port that wants it in Host) is sent as Host
// whole, and its name alone as SNI and as the name the certificate must
// hold: a port is no part of a server name (RFC 6066 §3).
func TestOriginClientHTTPSHostHeaderWithPort(t *testing.T) {
	ln, cert := tlsOriginListener(t)
	o := startRawOrigin(t, ln, okAnswer("secure"))
	p := startTrustingProxy(t, oneSite("https://"+ln.Addr().String(), `host_header: "example.com:8443"`), cert)
	getOrigin(t, p, "/p", "secure")
	hosts, sni := o.seen()
	if len(hosts) != 1 || hosts[0] != "example.com:8443" || sni[0] != "example.com" {
		t.Errorf("Host %q, SNI %q; want example.com:8443 and example.com", hosts, sni)
	}
}

// TestOriginClientHTTPSOriginWrongName: a certificate not valid for the name
// is a failure (the outage page), never a page relayed.
func TestOriginClientHTTPSOriginWrongName(t *testing.T) {
	ln, cert := tlsOriginListener(t)
	o := startRawOrigin(t, ln, okAnswer("secure"))
	p := startTrustingProxy(t, oneSite("https://"+ln.Addr().String(), "host_header: shop.invalid"), cert)
	resp, body := p.get(t, "shop.example", "/p")
	if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" || strings.Contains(body, "secure") {
		t.Fatalf("got %d %q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	if n := o.requests.Load(); n != 0 {
		t.Errorf("origin got %d requests over a connection whose certificate did not match", n)
	}
}

// TestOriginClientHTTP10CloseDelimited: an HTTP/1.0 origin that ends its body
// by closing is relayed whole and stored; its connection is not reused.
func TestOriginClientHTTP10CloseDelimited(t *testing.T) {
	page := "<html><body>" + strings.Repeat("<p>oud brood</p>", 4000) + "</body></html>" // > one read
	o := testkit.NewOrigin(t, testkit.Raw([]byte("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n"+page)))
	p := startProxy(t, staleSite(o.URL()))
	resp, body := p.get(t, "shop.example", "/p")
	if resp.StatusCode != 200 || body != page || resp.Header.Get("Awning-Served") != "origin" {
		t.Fatalf("got %d %q, %d bytes; want 200 origin with the %d bytes", resp.StatusCode, resp.Header.Get("Awning-Served"), len(body), len(page))
	}
	if !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
		t.Errorf("Cache-Status %q; want stored", resp.Header.Get("Cache-Status"))
	}
	getCount := o.Conns()
	o.Set(testkit.OK("next"))
	getOrigin(t, p, "/q", "next")
	if o.Conns() != getCount+1 {
		t.Errorf("an HTTP/1.0 connection was reused")
	}
	o.Refuse()
	resp, stale := p.get(t, "shop.example", "/p")
	if resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(stale, strings.Repeat("<p>oud brood</p>", 4000)) {
		t.Errorf("copy: %q, %d bytes; want the whole page", resp.Header.Get("Awning-Served"), len(stale))
	}
}

// TestOriginClientCloseDelimitedReset: a close-delimited body cut by a reset is
// a failure: the shopper never gets part of it, and nothing is stored.
func TestOriginClientCloseDelimitedReset(t *testing.T) {
	page := strings.Repeat("<p>brood</p>", 2000)
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page[:len(page)/2]))
		// The bytes leave before the reset; the proxy may read them or not.
		x.Wait(20 * time.Millisecond)
		testkit.Reset(x)
	})
	p := startProxy(t, staleSite(o.URL()))
	resp, body := p.get(t, "shop.example", "/p")
	if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" || strings.Contains(body, "<p>brood</p>") {
		t.Fatalf("got %d %q %.100q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"), body)
	}
	o.Refuse()
	if resp, _ := p.get(t, "shop.example", "/p"); resp.Header.Get("Awning-Served") != "outage" {
		t.Errorf("a reset answer was stored: %q", resp.Header.Get("Awning-Served"))
	}
}

// TestOriginClientClosedMidBody: Content-Length larger than what the origin
// sends before closing: the shopper gets the copy it had, or the outage
// page, never a truncated 200; nothing truncated is stored.
func TestOriginClientClosedMidBody(t *testing.T) {
	big := strings.Repeat("<p>desem</p>", 100_000) // 1.2 MB: many reads
	for _, seed := range []bool{false, true} {
		t.Run(fmt.Sprintf("copy=%v", seed), func(t *testing.T) {
			o := testkit.NewOrigin(t, htmlPage(productPage))
			p := startProxy(t, staleSite(o.URL()))
			if seed {
				if resp, _ := p.get(t, "shop.example", "/p"); !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
					t.Fatalf("seed not stored: %q", resp.Header.Get("Cache-Status"))
				}
			}
			o.Set(testkit.Truncated(big))
			resp, body := p.get(t, "shop.example", "/p")
			if seed {
				assertStale(t, resp, body, "Desem waldkorn")
			} else if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" {
				t.Fatalf("got %d %q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"))
			}
			if strings.Contains(body, "<p>desem</p>") {
				t.Errorf("the shopper got part of the truncated answer")
			}
			o.Refuse()
			resp, body = p.get(t, "shop.example", "/p")
			if seed {
				assertStale(t, resp, body, "Desem waldkorn")
			} else if resp.Header.Get("Awning-Served") != "outage" {
				t.Errorf("a truncated answer was stored: %q", resp.Header.Get("Awning-Served"))
			}
		})
	}
}

// TestOriginClientChunkedTrailers: a chunked body in several chunks, with
// extensions and trailer fields, is relayed and stored de-chunked, and the
// connection is reused.
func TestOriginClientChunkedTrailers(t *testing.T) {
	parts := []string{"<html><body>", strings.Repeat("x", 40_000), "<h1>Verse desem</h1>", "</body></html>"}
	var raw strings.Builder
	raw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n")
	for i, part := range parts {
		fmt.Fprintf(&raw, "%x", len(part))
		if i == 1 {
			raw.WriteString(";name=value")
		}
		raw.WriteString("\r\n" + part + "\r\n")
	}
	raw.WriteString("0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n")
	answer := []byte(raw.String())
	want := strings.Join(parts, "")
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) { x.Write(answer); x.KeepAlive = true })
	p := startProxy(t, staleSite(o.URL()))
	for range 2 {
		resp, body := p.get(t, "shop.example", "/p")
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("got %d, %d bytes; want 200, %d bytes", resp.StatusCode, len(body), len(want))
		}
	}
	if n := o.Conns(); n != 1 {
		t.Errorf("origin connections: %d; want 1", n)
	}
	o.Refuse()
	resp, body := p.get(t, "shop.example", "/p")
	assertStale(t, resp, body, "Verse desem")
	if strings.Contains(body, "X-Checksum") || strings.Contains(body, "\r\n0\r\n") {
		t.Errorf("chunk framing or trailers in the copy")
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOriginClientLargeAnswer: a 12 MB answer passes through intact, with
// Content-Length and chunked framing.
func TestOriginClientLargeAnswer(t *testing.T) {
	blob := randomBytes(t, 12<<20)
	sum := sha256.Sum256(blob)
	chunked := func() []byte {
		var b bytes.Buffer
		b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		for rest := blob; len(rest) > 0; {
			n := min(len(rest), 1<<20-7)
			fmt.Fprintf(&b, "%x\r\n", n)
			b.Write(rest[:n])
			b.WriteString("\r\n")
			rest = rest[n:]
		}
		b.WriteString("0\r\n\r\n")
		return b.Bytes()
	}()
	withCL := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "+strconv.Itoa(len(blob))+"\r\n\r\n"), blob...)
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.KeepAlive = true
		if strings.HasPrefix(x.Request.URL.Path, "/chunked") {
			x.Write(chunked)
			return
		}
		x.Write(withCL)
	})
	p := startProxy(t, oneSite(o.URL()))
	for _, path := range []string{"/length", "/chunked", "/length"} {
		resp, body := p.get(t, "shop.example", path)
		if resp.StatusCode != 200 || len(body) != len(blob) || sha256.Sum256([]byte(body)) != sum {
			t.Fatalf("%s: %d, %d bytes; want 200 and the %d bytes intact", path, resp.StatusCode, len(body), len(blob))
		}
	}
	if n := o.Conns(); n != 1 {
		t.Errorf("origin connections: %d; want 1", n)
	}
}

// TestOriginClientAnswerOverLimit: an answer larger than limits.response_body
// is refused whole: the shopper gets the outage page (or a copy), never a
// part of it, and the next request is served.
func TestOriginClientAnswerOverLimit(t *testing.T) {
	blob := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.KeepAlive = true
		switch x.Request.URL.Path {
		case "/length":
			x.Write(append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "+strconv.Itoa(len(blob))+"\r\n\r\n"), blob...))
		case "/chunked":
			x.Write([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(blob), blob)))
		case "/close":
			x.KeepAlive = false
			x.Write(append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"), blob...))
		default:
			x.Write(testkit.Response(200, "small"))
		}
	})
	p := startProxy(t, "limits: {response_body: 4MiB}\ncache: {max_object: 1MiB}\n"+oneSite(o.URL()))
	for _, path := range []string{"/length", "/chunked", "/close"} {
		resp, body := p.get(t, "shop.example", path)
		if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" || strings.Contains(body, "0123456789abcdef") {
			t.Errorf("%s: %d %q, %d bytes; want the outage page", path, resp.StatusCode, resp.Header.Get("Awning-Served"), len(body))
		}
		getOrigin(t, p, "/small", "small")
	}
}

// TestOriginClientLargeUpload: a several-megabyte POST reaches the origin
// byte for byte, once.
func TestOriginClientLargeUpload(t *testing.T) {
	blob := randomBytes(t, 6<<20)
	o := testkit.NewOrigin(t, testkit.OK("thanks"))
	p := startProxy(t, oneSite(o.URL()))
	req, _ := http.NewRequest("POST", "http://"+p.addr+"/upload", bytes.NewReader(blob))
	req.Host = "shop.example"
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "thanks" {
		t.Fatalf("got %d %q; want 200 thanks", resp.StatusCode, body)
	}
	got := o.Received()
	if len(got) != 1 || got[0].Method != "POST" || !bytes.Equal(got[0].Body, blob) {
		t.Fatalf("origin got %d requests; want one POST with the %d bytes intact", len(got), len(blob))
	}
}

// TestOriginClientExpectContinue: a shopper that waits for 100 Continue before
// its body gets it, and the origin gets the body without the expectation.
func TestOriginClientExpectContinue(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ordered"))
	p := startProxy(t, oneSite(o.URL()))
	c := testkit.Dial(t, p.addr)
	body := strings.Repeat("a=b&", 1000)
	c.Send("POST /order HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nExpect: 100-continue\r\n\r\n")
	resp, _, err := c.ReadResponse("POST", 3*time.Second)
	if err != nil || resp.StatusCode != 100 {
		t.Fatalf("before the body: %v %v; want 100 Continue", resp, err)
	}
	c.Send(body)
	resp, got, err := c.ReadResponse("POST", 3*time.Second)
	if err != nil || resp.StatusCode != 200 || string(got) != "ordered" {
		t.Fatalf("after the body: %v %q %v; want 200 ordered", resp, got, err)
	}
	r := o.Last()
	if string(r.Body) != body || r.Header.Get("Expect") != "" {
		t.Errorf("origin got %d bytes, Expect %q; want the %d bytes and no Expect", len(r.Body), r.Header.Get("Expect"), len(body))
	}
}

// TestOriginClientNoBodyStatuses: 204 and 304 (even one announcing a
// Content-Length, as nginx does) end at their head: relayed at once, and
// the connection reused.
func TestOriginClientNoBodyStatuses(t *testing.T) {
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.KeepAlive = true
		switch x.Request.URL.Path {
		case "/204":
			x.Write([]byte("HTTP/1.1 204 No Content\r\n\r\n"))
		case "/304":
			x.Write([]byte("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 1234\r\n\r\n"))
		default:
			x.Write(testkit.Response(200, "next"))
		}
	})
	p := startProxy(t, oneSite(o.URL()))
	resp, body := p.get(t, "shop.example", "/204")
	if resp.StatusCode != 204 || body != "" || resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("204: got %d %q %q", resp.StatusCode, resp.Header.Get("Awning-Served"), body)
	}
	resp, body = p.get(t, "shop.example", "/304", "If-None-Match", `"v1"`)
	if resp.StatusCode != 304 || body != "" || resp.Header.Get("ETag") != `"v1"` {
		t.Errorf("304: got %d ETag %q %q", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	if got := o.Last().Header.Get("If-None-Match"); got != `"v1"` {
		t.Errorf("origin got If-None-Match %q", got)
	}
	getOrigin(t, p, "/next", "next")
	if n := o.Conns(); n != 1 {
		t.Errorf("origin connections: %d; want 1", n)
	}
}

// TestOriginClientHead: the answer to a HEAD keeps its Content-Length, has no
// body, and leaves the connection reusable.
func TestOriginClientHead(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK(strings.Repeat("x", 5000)))
	p := startProxy(t, oneSite(o.URL()))
	c := testkit.Dial(t, p.addr)
	for range 2 {
		c.Send("HEAD /p HTTP/1.1\r\nHost: shop.example\r\n\r\n")
		resp, body, err := c.ReadResponse("HEAD", 3*time.Second)
		if err != nil || resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Length") != "5000" {
			t.Fatalf("HEAD: %v %v, Content-Length %q; want 200 with 5000", resp, err, resp.Header.Get("Content-Length"))
		}
	}
	c.Send("GET /p HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	if resp, body, err := c.ReadResponse("GET", 3*time.Second); err != nil || len(body) != 5000 {
		t.Fatalf("GET after HEAD: %v %d bytes %v", resp, len(body), err)
	}
	if n := o.Conns(); n != 1 {
		t.Errorf("origin connections: %d; want 1", n)
	}
}

// TestOriginClientKeepAliveTimeout: the origin closes its idle connections
// (its keep-alive timeout). The next GET is still answered by the origin,
// and so is a POST, which reaches the origin exactly once.
func TestOriginClientKeepAliveTimeout(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Echo())
	p := startProxy(t, oneSite(o.URL()))
	idleClosed := func() {
		t.Helper()
		testkit.WaitFor(t, 2*time.Second, "an idle origin connection", func() bool { return o.Idle() > 0 })
		o.CloseIdle()
	}
	getOrigin(t, p, "/a", "GET /a")
	idleClosed()
	getOrigin(t, p, "/b", "GET /b")
	idleClosed()
	resp, body := p.do(t, "POST", "shop.example", "/order")
	if resp.StatusCode != 200 || body != "POST /order" {
		t.Fatalf("POST after the idle connection closed: %d %q; want the origin's answer", resp.StatusCode, body)
	}
	if n := o.RequestsFor("/order"); n != 1 {
		t.Errorf("origin got the POST %d times; want once", n)
	}
}

// TestOriginClientClosedBeforeAnswer: the origin reads a request on a reused
// connection and closes it without answering (the race a keep-alive
// timeout loses). A GET is sent again on a new connection and answered; a
// POST is never sent twice: the shopper is told it may have gone through.
func TestOriginClientClosedBeforeAnswer(t *testing.T) {
	var dropped atomic.Int64
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		if strings.HasPrefix(x.Request.URL.Path, "/drop") && dropped.Add(1) == 1 {
			return // close without a byte
		}
		testkit.Echo()(x)
	})
	p := startProxy(t, oneSite(o.URL()))
	getOrigin(t, p, "/warm", "GET /warm")
	getOrigin(t, p, "/drop/get", "GET /drop/get")
	if n := o.RequestsFor("/drop/get"); n != 2 {
		t.Errorf("origin got the GET %d times; want twice (sent again once)", n)
	}

	dropped.Store(0)
	testkit.WaitFor(t, 2*time.Second, "an idle origin connection", func() bool { return o.Idle() > 0 })
	resp, body := p.do(t, "POST", "shop.example", "/drop/order")
	if resp.StatusCode != 504 || resp.Header.Get("Awning-Served") != "unconfirmed" {
		t.Errorf("POST: %d %q %.100q; want 504 unconfirmed", resp.StatusCode, resp.Header.Get("Awning-Served"), body)
	}
	if n := o.RequestsFor("/drop/order"); n != 1 {
		t.Errorf("origin got the POST %d times; want once", n)
	}
}

// TestOriginClientDripBeyondTimeout: an origin that drips its body a byte at a
// time is cut at origin.timeout, and the shopper gets the outage page
// then, not when the drip ends.
func TestOriginClientDripBeyondTimeout(t *testing.T) {
	const n = 200
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"))
		for range n {
			if !x.Wait(25 * time.Millisecond) { // 5 s in all
				return
			}
			x.Write([]byte("x"))
		}
	})
	p := startProxy(t, strings.Replace(oneSite(o.URL()), "timeout: 2s", "timeout: 800ms", 1))
	start := time.Now()
	resp, body := p.get(t, "shop.example", "/p")
	took := time.Since(start)
	if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" || strings.Contains(body, "xxxx") {
		t.Errorf("got %d %q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	if took > 3*time.Second {
		t.Errorf("answered after %v; want about origin.timeout (800ms), the drip takes 5s", took)
	}
}

// TestOriginClientManyConcurrent: far more concurrent requests than max_conns
// are all answered by the origin, on at most max_conns connections.
func TestOriginClientManyConcurrent(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Slow(5*time.Millisecond, testkit.Echo()))
	p := startProxy(t, oneSite(o.URL(), "max_conns: 3"))
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body, err := getFrom(p, "/c/"+strconv.Itoa(i))
			if err != nil {
				errs <- err.Error()
				return
			}
			if want := "GET /c/" + strconv.Itoa(i); resp.StatusCode != 200 || string(body) != want {
				errs <- fmt.Sprintf("%d %q %q; want %q", resp.StatusCode, resp.Header.Get("Awning-Served"), body, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if c := o.MaxInflight(); c > 3 {
		t.Errorf("origin saw %d requests at once; want at most max_conns 3", c)
	}
}

// TestOriginClientReloadInFlight: the site's origin URL changes while requests
// wait on the old origin, some for a free connection. Every one of them is
// answered by an origin, none gets the outage page, and requests after the
// reload reach the new origin.
func TestOriginClientReloadInFlight(t *testing.T) {
	gate := make(chan struct{})
	oldO := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		select {
		case <-gate:
		case <-time.After(3 * time.Second):
		}
		testkit.Echo()(x)
	})
	newO := testkit.NewOrigin(t, testkit.OK("new"))
	p := startProxy(t, oneSite(oldO.URL(), "max_conns: 2"))
	const n = 6
	results := make(chan string, n)
	for i := range n {
		go func() {
			results <- summary(getFrom(p, "/r/"+strconv.Itoa(i)))
		}()
	}
	testkit.WaitFor(t, 2*time.Second, "two requests at the old origin", func() bool { return oldO.Requests() == 2 })
	if err := p.Update(options(t, oneSite(newO.URL(), "max_conns: 2"))); err != nil {
		t.Fatal(err)
	}
	close(gate)
	for range n {
		if r := <-results; !strings.HasPrefix(r, "200 origin ") {
			t.Errorf("a request in flight during the reload got %q; want an origin's answer", r)
		}
	}
	getOrigin(t, p, "/after", "new")
}

// TestOriginClientConnectionClose: an answer with Connection: close is relayed
// and its connection not used again, even though the origin left it open.
func TestOriginClientConnectionClose(t *testing.T) {
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.KeepAlive = true // the origin does not close it: Awning must
		x.Write(testkit.Response(200, "bye "+x.Request.URL.Path, "Connection: close"))
	})
	p := startProxy(t, oneSite(o.URL()))
	getOrigin(t, p, "/a", "bye /a")
	getOrigin(t, p, "/b", "bye /b")
	if n := o.Conns(); n != 2 {
		t.Errorf("origin connections: %d; want 2 (none reused after Connection: close)", n)
	}
	testkit.WaitFor(t, 2*time.Second, "Awning closing the connections", func() bool { return o.Idle() == 0 })
}

// originWaits is how many exchanges wait for a free connection to p's
// one origin.
func originWaits(p *testProxy) int {
	p.Server.mu.Lock()
	defer p.Server.mu.Unlock()
	n := 0
	for _, o := range p.Server.origins.byKey {
		o.conns.mu.Lock()
		n += o.conns.waits
		o.conns.mu.Unlock()
	}
	return n
}

// TestOriginClientFreedConnsWakeEveryWaiter: when max_conns connections are
// freed at once, as many waiting requests get them: none waits on while a
// connection sits idle, to time out at connect_timeout.
func TestOriginClientFreedConnsWakeEveryWaiter(t *testing.T) {
	first, then := make(chan struct{}), make(chan struct{})
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		gate := first
		if strings.HasPrefix(x.Request.URL.Path, "/then") {
			gate = then
		}
		select {
		case <-gate:
		case <-time.After(3 * time.Second):
		}
		testkit.Echo()(x)
	})
	p := startProxy(t, strings.Replace(oneSite(o.URL(), "max_conns: 2"), "timeout: 2s", "timeout: 5s", 1))
	results := make(chan string, 4)
	get := func(path string) { results <- summary(getFrom(p, path)) }
	go get("/first/1")
	go get("/first/2")
	testkit.WaitFor(t, 2*time.Second, "two requests at the origin", func() bool { return o.Requests() == 2 })
	go get("/then/1")
	go get("/then/2")
	testkit.WaitFor(t, 2*time.Second, "two requests waiting for a connection", func() bool { return originWaits(p) == 2 })
	// Both connections are freed at once; the two waiting requests are
	// then held at the origin, so that neither frees a connection for the
	// other: each must have been woken by its own.
	close(first)
	testkit.WaitFor(t, 2*time.Second, "the waiting requests at the origin", func() bool { return o.RequestsFor("/then") == 2 })
	close(then)
	for range 4 {
		if r := <-results; !strings.HasPrefix(r, "200 origin ") {
			t.Errorf("got %q; want an origin's answer", r)
		}
	}
}

// TestOriginClientIdle408: some origins (HAProxy's timeout http-request, some
// Node.js and Apache set-ups) write "408 Request Timeout" on a kept-alive
// connection when they close it idle. That answer is to no request: the
// next GET, or POST, must be answered by the origin on a fresh
// connection, as Go's net/http transport does, not get the 408; the POST
// reaches the origin once.
func TestOriginClientIdle408(t *testing.T) {
	for _, method := range []string{"GET", "HEAD", "POST"} {
		t.Run(method, func(t *testing.T) {
			idle := make(chan struct{})
			var timedOut atomic.Bool
			o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
				body := x.Request.Method + " " + x.Request.URL.Path
				resp := testkit.Response(200, body)
				if x.Request.Method == "HEAD" {
					resp = resp[:len(resp)-len(body)]
				}
				x.Write(resp)
				if x.Request.URL.Path != "/a" {
					x.KeepAlive = true
					return
				}
				select {
				case <-idle:
				case <-time.After(3 * time.Second):
				}
				x.Write([]byte("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\ntimed out"))
				timedOut.Store(true)
			})
			p := startProxy(t, oneSite(o.URL()))
			getOrigin(t, p, "/a", "GET /a")
			close(idle)
			testkit.WaitFor(t, 2*time.Second, "the origin timing the connection out", timedOut.Load)
			answeredOnce(t, p, o, method, "/b")
		})
	}
}

// TestOriginClientHTTPSIdleClosed: an https origin that closes a kept-alive
// connection (close_notify, then FIN) after its answer: the next GET and
// POST are answered on a new connection, and the POST reaches the origin
// once.
func TestOriginClientHTTPSIdleClosed(t *testing.T) {
	ln, cert := tlsOriginListener(t)
	var closed atomic.Int64
	var posts atomic.Int64
	o := startRawOrigin(t, ln, func(req *http.Request, c net.Conn) bool {
		if req.Method == "POST" {
			posts.Add(1)
		}
		c.Write(testkit.Response(200, req.Method+" "+req.URL.Path))
		c.Close() // the origin's keep-alive timeout, at once
		closed.Add(1)
		return false
	})
	p := startTrustingProxy(t, oneSite("https://"+ln.Addr().String(), "host_header: example.com"), cert)
	for i, method := range []string{"GET", "POST", "GET", "POST"} {
		resp, body := p.do(t, method, "shop.example", "/x")
		if resp.StatusCode != 200 || body != method+" /x" {
			t.Fatalf("request %d, %s: %d %q %.60q; want the origin's answer", i, method, resp.StatusCode, resp.Header.Get("Awning-Served"), body)
		}
		testkit.WaitFor(t, 2*time.Second, "the origin closing the connection", func() bool { return closed.Load() == int64(i+1) })
	}
	if n := posts.Load(); n != 2 {
		t.Errorf("origin got %d POSTs; want 2", n)
	}
	if n := o.requests.Load(); n != 4 {
		t.Errorf("origin got %d requests; want 4", n)
	}
}

// TestOriginClientUploadToStalledOrigin: an origin that accepts a large POST
// but never reads it (its window fills) is cut at write_timeout: the
// shopper is told the order may have gone through, without waiting on.
func TestOriginClientUploadToStalledOrigin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // never read
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	yaml := strings.Replace(oneSite("http://"+ln.Addr().String(), "write_timeout: 1s"), "timeout: 2s", "timeout: 1s", 1)
	p := startProxy(t, yaml)
	blob := randomBytes(t, 8<<20)
	req, _ := http.NewRequest("POST", "http://"+p.addr+"/upload", bytes.NewReader(blob))
	req.Host = "shop.example"
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 504 || resp.Header.Get("Awning-Served") != "unconfirmed" {
		t.Errorf("got %d %q; want 504 unconfirmed", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("answered after %v; want about write_timeout (1s)", took)
	}
}

// TestOriginClientHeadOfGzipAnswer: a HEAD from a client that takes no
// gzip gets the head its GET would get: no Content-Encoding: gzip (Awning
// asked the origin for gzip, not the client), and no compressed length.
func TestOriginClientHeadOfGzipAnswer(t *testing.T) {
	page := "<html><body>" + strings.Repeat("vers brood ", 200) + "</body></html>"
	o := testkit.NewOrigin(t, testkit.Respond(200, string(testkit.Gzip(page)), "Content-Encoding: gzip", "Vary: Accept-Encoding"))
	p := startProxy(t, oneSite(o.URL()))
	resp, _ := p.do(t, "HEAD", "shop.example", "/p", "Accept-Encoding", "identity")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("HEAD without gzip: %d Content-Encoding %q; want 200 and none", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	if cl := resp.Header.Get("Content-Length"); cl == strconv.Itoa(len(testkit.Gzip(page))) {
		t.Errorf("HEAD without gzip: Content-Length %s is the compressed length", cl)
	}
	resp, _ = p.do(t, "HEAD", "shop.example", "/p", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("HEAD with gzip: Content-Encoding %q; want gzip", resp.Header.Get("Content-Encoding"))
	}
}

// tlsOriginListener listens on 127.0.0.1 with httptest's certificate (for
// example.com and 127.0.0.1), for https origins; cert is what to trust.
func tlsOriginListener(t *testing.T) (net.Listener, *x509.Certificate) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	srv.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: srv.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	return ln, srv.Certificate()
}

// getFrom GETs path of shop.example through p; safe on any goroutine (it
// reports errors rather than failing the test).
func getFrom(p *testProxy, path string) (*http.Response, []byte, error) {
	req, _ := http.NewRequest("GET", "http://"+p.addr+path, nil)
	req.Host = "shop.example"
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

// summary says what getFrom got in one line: status, Awning-Served and the
// body's start, or the error.
func summary(resp *http.Response, body []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d %s %.40s", resp.StatusCode, resp.Header.Get("Awning-Served"), body)
}
