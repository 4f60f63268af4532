package proxy

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/internal/testkit"
)

// The tests in this file are a second red team against the origin
// exchange of issue 21 (originconn.go, originexchange.go, originresp.go):
// scripted origins writing exact bytes, through a real proxy. What they
// hold: bytes an origin sends that belong to no request are never read as
// the answer to another one; one misbehaving origin is bounded by its own
// limits; what reaches the shopper is well formed.

// secretAnswer is an answer nobody asked for: were it read as the answer
// to a later request, that request's shopper would get it.
const secretAnswer = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 14\r\n\r\nSECRET-of-cart"

// TestLateBytesOnAnIdleConnection: an origin sends bytes after an answer
// was whole and its connection went back to the pool — a second answer to
// the same request, the body of an answer to HEAD or of a 204 or 304, the
// rest of a body longer than its Content-Length, or bytes to no request at
// all. They sit in the pooled connection's receive buffer. The next
// request, whatever its method, must not take them for its answer: it is
// answered by the origin, on another connection, and the one that carried
// them is closed.
func TestLateBytesOnAnIdleConnection(t *testing.T) {
	cases := []struct {
		name   string
		method string // of the first request
		answer string // the answer to the first request
		late   string // written once the shopper has the answer
	}{
		{"a second answer", "GET", string(testkit.Response(200, "GET /a")), secretAnswer},
		{"a body after the answer to HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 14\r\n\r\n", secretAnswer},
		{"a body after 204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", secretAnswer},
		{"a body after 304 with a Content-Length", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 14\r\n\r\n", secretAnswer},
		{"a body longer than its Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok", "SECRET-of-cart" + secretAnswer},
		{"bytes after an interim and final answer", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + string(testkit.Response(200, "GET /a")), secretAnswer},
	}
	for _, tc := range cases {
		for _, next := range []string{"GET", "HEAD", "POST"} {
			t.Run(tc.name+"/then "+next, func(t *testing.T) {
				more, wrote := make(chan struct{}), make(chan struct{})
				o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
					x.KeepAlive = true
					if x.Request.URL.Path != "/a" {
						resp := testkit.Response(200, x.Request.Method+" "+x.Request.URL.Path)
						if x.Request.Method == "HEAD" {
							resp = resp[:len(resp)-len(x.Request.Method+" "+x.Request.URL.Path)]
						}
						x.Write(resp)
						return
					}
					x.Write([]byte(tc.answer))
					select {
					case <-more:
					case <-time.After(5 * time.Second):
						return
					}
					x.Write([]byte(tc.late))
					close(wrote)
				})
				p := startProxy(t, oneSite(o.URL()))
				resp, _ := p.do(t, tc.method, "shop.example", "/a")
				if resp.StatusCode >= 500 {
					t.Fatalf("first request: %d; want the origin's answer", resp.StatusCode)
				}
				close(more)
				<-wrote
				if !answeredOnce(t, p, o, next, "/b") {
					t.FailNow()
				}
				if n := o.Conns(); n != 2 {
					t.Errorf("origin connections: %d; want 2 (the one with late bytes closed)", n)
				}
				// Nothing of the late bytes was kept: /b's copy is the
				// origin's answer to /b.
				if next == "GET" {
					o.Set(testkit.Status(503))
					resp, body := p.get(t, "shop.example", "/b")
					if strings.Contains(body, "SECRET") {
						t.Errorf("GET /b after: %d %q", resp.StatusCode, body)
					}
				}
			})
		}
	}
}

// TestHostileRelayHygiene: what an origin writes that could split the
// shopper's response, smuggle a field into it or confuse the framing
// between Awning and its origins: each is refused (the shopper gets the
// copy, nothing is stored, the connection is closed), or relayed as what
// it is when it is harmless (a status line without a reason, HTTP/1.0).
// The rows run through TestUntrustedOrigin's harness (untrusted_test.go).
func TestHostileRelayHygiene(t *testing.T) {
	html := head("200 OK", "Content-Type: text/html")
	good := []byte("<p>Verse desem</p>")
	refused := func(name, answer, reason string) untrustedVector {
		return untrustedVector{name: name, seed: true, answer: answer, status: 200, served: "stale",
			body: "Desem waldkorn", stored: "seed", reason: reason}
	}
	vectors := []untrustedVector{
		refused("CR in a value", withLength(head("200 OK", "Content-Type: text/html", "X-A: a\rSet-Cookie: EVIL=1"), good), "malformed"),
		refused("LF in a value", withLength(head("200 OK", "Content-Type: text/html", "X-A: a\nSet-Cookie: EVIL=1"), good), "malformed"),
		// A head that ends early leaves a body framed by the close, which
		// this origin never sends: the exchange times out, nothing stored.
		refused("CRLF CRLF in a value, kept alive", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-A: a\r\n\r\nEVIL\r\nContent-Length: 4\r\n\r\nEVIL", ""),
		refused("NUL in a value", withLength(head("200 OK", "Content-Type: text/html", "X-A: a\x00EVIL"), good), "malformed"),
		refused("obs-fold", withLength(head("200 OK", "Content-Type: text/html", "X-A: a", " Set-Cookie: EVIL=1"), good), "malformed"),
		refused("obs-fold with a tab", withLength(head("200 OK", "Content-Type: text/html", "X-A: a", "\tEVIL"), good), "malformed"),
		refused("a space in a name", withLength(head("200 OK", "Content-Type: text/html", "Set Cookie: EVIL=1"), good), "malformed"),
		refused("a name ending in a space", withLength(head("200 OK", "Content-Type: text/html", "Set-Cookie : EVIL=1"), good), "malformed"),
		refused("a name with a slash", withLength(head("200 OK", "Content-Type: text/html", "X/EVIL: 1"), good), "malformed"),
		refused("a line without a colon", withLength(head("200 OK", "Content-Type: text/html", "EVIL"), good), "malformed"),
		refused("two Content-Lengths that differ", html[:len(html)-2]+"Content-Length: 18\r\nContent-Length: 4\r\n\r\n<p>Verse desem</p>", "framing"),
		refused("Transfer-Encoding gzip", html[:len(html)-2]+"Transfer-Encoding: gzip\r\n\r\nEVIL", "framing"),
		refused("Transfer-Encoding chunked, gzip", html[:len(html)-2]+"Transfer-Encoding: chunked, gzip\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n", "framing"),
		refused("Transfer-Encoding chunked twice", html[:len(html)-2]+"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n", "framing"),
		refused("status 000", withLength(head("000 Nothing", "Content-Type: text/html"), []byte(evil)), "malformed"),
		refused("status 999", withLength(head("999 Beyond", "Content-Type: text/html"), []byte(evil)), "malformed"),
		refused("status 1xx as the final answer", head("150 Final", "Content-Type: text/html")+evil, "interim"),
		refused("status of two digits", withLength(head("20 OK", "Content-Type: text/html"), []byte(evil)), "malformed"),
		refused("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00", "malformed"),
		refused("HTTP/2 SETTINGS frame", "\x00\x00\x00\x04\x00\x00\x00\x00\x00EVIL", "malformed"),
		refused("HTTP/0.9 (a body without a head)", "<html>EVIL</html>\r\n\r\n", "malformed"),
		refused("HTTP/1.1 in lower case", withLength("http/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", []byte(evil)), "malformed"),
		{name: "status line without a reason", answer: withLength("HTTP/1.1 200\r\nContent-Type: text/html\r\n\r\n", good),
			status: 200, served: "origin", body: "Verse desem", stored: "answer", reused: true},
		{name: "HTTP/1.0 with keep-alive", answer: withLength("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Type: text/html\r\n\r\n", good),
			status: 200, served: "origin", body: "Verse desem", stored: "answer"},
		{name: "Connection: close", answer: withLength(head("200 OK", "Content-Type: text/html", "Connection: close"), good),
			status: 200, served: "origin", body: "Verse desem", stored: "answer"},
		{name: "Set-Cookie on an anonymous page", seed: true, answer: withLength(head("200 OK", "Content-Type: text/html", "Set-Cookie: session=for-this-shopper"), good),
			status: 200, served: "origin", body: "Verse desem", stored: "seed", reused: true},
		{name: "gzip, gzip to a client that takes gzip", seed: true, accept: "gzip",
			answer: withLength(head("200 OK", "Content-Type: text/html", "Content-Encoding: gzip, gzip"), testkit.Gzip(string(testkit.Gzip(string(good))))),
			status: 200, served: "origin", stored: "seed", reused: true},
	}
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) { checkUntrustedVector(t, v) })
	}
}

// TestSetCookieReachesOnlyItsShopper: an origin that starts a session on an
// anonymous page (Set-Cookie on a GET without cookies) while other
// anonymous shoppers ask for the same page at the same moment. Each
// shopper gets the session cookie the origin made for their own request,
// or none; no two get the same one; the answer is never stored.
func TestSetCookieReachesOnlyItsShopper(t *testing.T) {
	release := make(chan struct{})
	var issued atomic.Int64
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.KeepAlive = true
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		n := issued.Add(1)
		x.Write(testkit.Response(200, fmt.Sprintf("<p>basket %d</p>", n), "Content-Type: text/html",
			fmt.Sprintf("Set-Cookie: session=%d; Path=/; HttpOnly", n)))
	})
	p := startProxy(t, strings.Replace(staleSite(o.URL()), "timeout: 2s", "timeout: 10s", 1))
	// The shoppers' client may dial a connection it ends up not using;
	// closed here, it does not hold the proxy's shutdown.
	t.Cleanup(client.CloseIdleConnections)
	const shoppers = 4
	type answer struct {
		cookie, body string
		err          error
	}
	answers := make(chan answer, shoppers)
	for range shoppers {
		go func() {
			resp, body, err := rawGet(p.addr, "shop.example", "/basket")
			if err != nil {
				answers <- answer{err: err}
				return
			}
			answers <- answer{cookie: resp.Header.Get("Set-Cookie"), body: body}
		}()
	}
	testkit.WaitFor(t, 5*time.Second, "every shopper at the origin or in a flight", func() bool {
		return o.Requests()+p.flights.joined.Load() >= shoppers
	})
	close(release)
	seen := map[string]bool{}
	for range shoppers {
		a := <-answers
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.cookie == "" {
			continue
		}
		if seen[a.cookie] {
			t.Errorf("two shoppers got Set-Cookie %q", a.cookie)
		}
		seen[a.cookie] = true
		// The cookie came with the answer it was made with.
		n := strings.TrimSuffix(strings.TrimPrefix(a.cookie, "session="), "; Path=/; HttpOnly")
		if a.body != "<p>basket "+n+"</p>" {
			t.Errorf("Set-Cookie %q came with %q", a.cookie, a.body)
		}
	}
	o.Refuse()
	resp, body := p.get(t, "shop.example", "/basket")
	if resp.Header.Get("Awning-Served") != "outage" || resp.Header.Get("Set-Cookie") != "" || strings.Contains(body, "basket") {
		t.Errorf("after: %q Set-Cookie %q %.80q; want nothing stored", resp.Header.Get("Awning-Served"), resp.Header.Get("Set-Cookie"), body)
	}
}

// TestOneOriginBoundedByItsLimits: an origin that sends without end — 1xx
// answers, header fields, a giant line, chunks, extensions, trailers, a
// body framed by a close that never comes — or trickles its answer is cut
// off by limits.response_header, limits.response_body or origin.timeout:
// the shopper gets the outage page (there is no copy), and the origin's
// connection is closed (the origin's writes fail). What each stops at is
// told in Cache-Status.
func TestOneOriginBoundedByItsLimits(t *testing.T) {
	line := func(s string) func(i int) string { return func(int) string { return s } }
	cases := []struct {
		name   string
		head   string             // written once
		repeat func(i int) string // then written again and again, until a write fails
		reason string             // in the outage page's Cache-Status; alternatives split by |
		pace   time.Duration      // a trickle: one repeat per tick of this (0: as fast as the socket takes)
	}{
		{"endless 103", "", line("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"), "header-too-large", 0},
		{"endless 100", "", line("HTTP/1.1 100 Continue\r\n\r\n"), "header-too-large", 0},
		{"endless header fields", "HTTP/1.1 200 OK\r\n", line("X-A: b\r\n"), "header-too-large", 0},
		{"one endless field", "HTTP/1.1 200 OK\r\nX-A: ", line(strings.Repeat("a", 4096)), "header-too-large", 0},
		{"one endless field name", "HTTP/1.1 200 OK\r\n", line(strings.Repeat("a", 4096)), "header-too-large", 0},
		{"an endless status line", "HTTP/1.1 200 ", line(strings.Repeat("O", 4096)), "header-too-large", 0},
		{"endless 1-byte chunks", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n", line(strings.Repeat("1\r\na\r\n", 1000)), "too-large", 0},
		{"an endless chunk extension", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n1;", line(strings.Repeat("e", 4096)), "too-large", 0},
		{"endless trailers", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n", line("X-T: " + strings.Repeat("t", 4000) + "\r\n"), "too-large", 0},
		{"an endless body framed by the close", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", line(strings.Repeat("b", 4096)), "too-large", 0},
		// health's hang_after is origin.timeout here: either may come first
		{"a trickled head", "HTTP/1.1 200 OK\r\nX-A: ", line("a"), "timeout|origin-down", 20 * time.Millisecond},
		{"a trickled body", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n", line("b"), "timeout|origin-down", 20 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ended atomic.Int64
			o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
				if x.Request.URL.Path != "/p" {
					x.Write(testkit.Response(200, "ok")) // a health probe
					return
				}
				defer ended.Add(1)
				x.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := x.Conn.Write([]byte(tc.head)); err != nil {
					return
				}
				var tick <-chan time.Time
				if tc.pace > 0 {
					ticker := time.NewTicker(tc.pace)
					defer ticker.Stop()
					tick = ticker.C
				}
				for i := 0; ; i++ {
					if tick != nil {
						<-tick
					}
					if _, err := x.Conn.Write([]byte(tc.repeat(i))); err != nil {
						return
					}
				}
			})
			p := startProxy(t, "limits: {response_body: 1MiB}\ncache: {max_object: 512KiB}\n"+
				strings.Replace(oneSite(o.URL()), "timeout: 2s", "timeout: 1s", 1))
			resp, body := p.get(t, "shop.example", "/p")
			told := false
			for _, r := range strings.Split(tc.reason, "|") {
				told = told || strings.Contains(resp.Header.Get("Cache-Status"), "detail="+r)
			}
			if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" || !told {
				t.Errorf("shopper got %d %q %q %.80q; want the outage page, for %s", resp.StatusCode,
					resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"), body, tc.reason)
			}
			testkit.WaitFor(t, 5*time.Second, "the origin's connection closed by Awning", func() bool { return ended.Load() == 1 })
			if n := o.RequestsFor("/p"); n != 1 {
				t.Errorf("origin got /p %d times; want once", n)
			}
		})
	}
}

// TestHangingOriginLeavesOtherShopsAlone: one shop's origin accepts
// connections and never answers, while a hundred of its shoppers ask at
// once; another shop on the same node goes on being served by its own
// origin, every request of it, meanwhile. With max_inflight the hanging
// origin never holds more than that many requests; without, its shoppers
// are bounded by max_conns and connect_timeout, and by origin.timeout.
func TestHangingOriginLeavesOtherShopsAlone(t *testing.T) {
	for _, cap := range []string{"max_inflight: 8", "max_conns: 16"} {
		t.Run(cap, func(t *testing.T) {
			bad := testkit.NewOrigin(t, testkit.Hang())
			good := testkit.NewOrigin(t, testkit.Echo())
			p := startProxy(t, `
tls: {mode: off}
sites:
  - name: bad
    hosts: [bad.example]
    origin: {urls: [`+bad.URL()+`], timeout: 1s, connect_timeout: 500ms, `+cap+`}
  - name: good
    hosts: [good.example]
    origin: {urls: [`+good.URL()+`], timeout: 5s}
`)
			t.Cleanup(client.CloseIdleConnections)
			const flood = 100
			var wg sync.WaitGroup
			var outage atomic.Int64
			for i := range flood {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, _, err := rawGet(p.addr, "bad.example", fmt.Sprintf("/p/%d", i)) // pages of their own: no collapsing
					if err == nil && resp.Header.Get("Awning-Served") == "outage" {
						outage.Add(1)
					}
				}()
			}
			// While the bad origin holds what it may, the good shop's
			// shoppers are answered by their origin, every one.
			testkit.WaitFor(t, 5*time.Second, "the bad origin holding requests", func() bool { return bad.Requests() >= 8 })
			const asks = 50
			for i := range asks {
				resp, body, err := rawGet(p.addr, "good.example", fmt.Sprintf("/g/%d", i))
				if err != nil || resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || body != fmt.Sprintf("GET /g/%d", i) {
					t.Fatalf("good shop, request %d while the bad origin hangs: %s", i, summary(resp, []byte(body), err))
				}
			}
			if n := good.RequestsFor("/g/"); n != asks {
				t.Errorf("good origin got %d requests; want %d", n, asks)
			}
			wg.Wait()
			if outage.Load() != flood {
				t.Errorf("bad shop: %d of %d shoppers got the outage page", outage.Load(), flood)
			}
			if m := bad.MaxInflight(); cap == "max_inflight: 8" && m > 8 {
				t.Errorf("bad origin held %d requests at once; want at most max_inflight 8", m)
			}
			if m := bad.MaxInflight(); m > 16 {
				t.Errorf("bad origin held %d requests at once; want at most max_conns 16", m)
			}
		})
	}
}

// corkListener accepts TLS connections whose writes can be held and then
// sent in one write: two TLS records, of two answers, that reach Awning in
// one TCP segment, so that its TLS client reads both from the socket while
// the first answer is all it asked for.
type corkListener struct {
	net.Listener
	cfg   *tls.Config
	mu    sync.Mutex
	hold  bool
	conns []*corkConn
}

type corkConn struct {
	net.Conn
	l   *corkListener
	buf []byte
}

func (l *corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &corkConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns = append(l.conns, cc)
	l.mu.Unlock()
	return tls.Server(cc, l.cfg), nil
}

func (c *corkConn) Write(b []byte) (int, error) {
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	if c.l.hold {
		c.buf = append(c.buf, b...)
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// cork holds every connection's writes until uncork sends each one's in
// one write.
func (l *corkListener) cork() { l.mu.Lock(); l.hold = true; l.mu.Unlock() }

func (l *corkListener) uncork() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hold = false
	for _, c := range l.conns {
		if len(c.buf) > 0 {
			c.Conn.Write(c.buf)
			c.buf = nil
		}
	}
}

// TestLateBytesHeldByTLS: an https origin sends a second answer right
// behind the first, in a TLS record of its own. Awning's TLS client reads
// both records from the socket and hands out the first; the second waits
// inside the TLS connection, where a look at the socket cannot see it. It
// must not be read as the answer to the next request.
func TestLateBytesHeldByTLS(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	srv.Close()
	ln := &corkListener{Listener: raw, cfg: &tls.Config{Certificates: srv.TLS.Certificates}}
	o := startRawOrigin(t, ln, func(req *http.Request, c net.Conn) bool {
		if req.URL.Path != "/a" {
			c.Write(testkit.Response(200, req.Method+" "+req.URL.Path))
			return true
		}
		ln.cork()
		c.Write(testkit.Response(200, "GET /a"))
		c.Write([]byte(secretAnswer))
		ln.uncork()
		return true
	})
	p := startTrustingProxy(t, oneSite("https://"+raw.Addr().String(), "host_header: example.com"), srv.Certificate())
	getOrigin(t, p, "/a", "GET /a")
	resp, body := p.get(t, "shop.example", "/b")
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || body != "GET /b" {
		t.Fatalf("GET /b: %d %q %.80q; want 200 origin %q", resp.StatusCode, resp.Header.Get("Awning-Served"), body, "GET /b")
	}
	if n := o.conns.Load(); n != 2 {
		t.Errorf("origin connections: %d; want 2 (the one with the second answer closed)", n)
	}
}

// TestExchangeResetClosesAHeldConnection: an exchange released while it
// still holds a connection (a panic between taking it and giving it back)
// closes it: otherwise it stays open and counted against max_conns for
// good, and enough such exchanges leave a site's origin without
// connections.
func TestExchangeResetClosesAHeldConnection(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("x"))
	p := newOriginConns(o.Addr(), nil, time.Second, 1)
	c, _, err := p.get(false, time.Now().Add(time.Second), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := &exchange{c: c}
	x.reset()
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	if x.c != nil || open != 0 {
		t.Fatalf("after reset: connection %v, %d open; want none", x.c, open)
	}
	// The one connection max_conns allows is free again.
	c, _, err = p.get(false, time.Now().Add(time.Second), nil, nil)
	if err != nil {
		t.Fatalf("next exchange: %v", err)
	}
	p.discard(c)
}

// TestMemoryFollowsWhatTheOriginSent: an origin that announces a body at
// the limit (Content-Length: 8000000 under limits.response_body 8MiB) and
// sends ten bytes of it makes Awning hold memory for what it sent, not for
// what it claimed: otherwise a few hundred such answers at once take a
// node's memory for a handful of bytes each.
func TestMemoryFollowsWhatTheOriginSent(t *testing.T) {
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 8000000\r\n\r\n0123456789"))
	})
	p := startProxy(t, "limits: {response_body: 8MiB}\ncache: {max_object: 1MiB}\n"+
		oneSite(o.URL(), "health: {passive_failures: 1000, min_requests: 1000}"))
	t.Cleanup(client.CloseIdleConnections)
	const shoppers = 16
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for i := range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _, err := rawGet(p.addr, "shop.example", fmt.Sprintf("/big/%d", i))
			if err != nil || resp.Header.Get("Awning-Served") != "outage" {
				t.Errorf("shopper %d: %s; want the outage page", i, summary(resp, nil, err))
			}
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	n := o.RequestsFor("/big/")
	if n != shoppers {
		t.Fatalf("origin got %d requests; want %d", n, shoppers)
	}
	// Claimed: 16 × 8 MB = 128 MB. Sent: 160 bytes. Before room followed
	// what came, this allocated 110-125 MB.
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(n)*8e6/2 {
		t.Errorf("allocated %d MB for %d answers of 10 bytes that claimed 8 MB each; want well under what they claimed", got>>20, n)
	}
}

// TestHeaderBombNotKept: the room an answer of thousands of header fields
// needed is not kept in the pooled exchange for every request after.
func TestHeaderBombNotKept(t *testing.T) {
	x := &exchange{fields: make([]cache.Field, 8000)}
	x.reset()
	if cap(x.fields) > keptFields {
		t.Errorf("fields kept room for %d after reset; want at most %d", cap(x.fields), keptFields)
	}
	x.fields = make([]cache.Field, 0, 40)
	x.reset()
	if cap(x.fields) != 40 {
		t.Errorf("fields kept room for %d after reset; want the 40 an ordinary page needs", cap(x.fields))
	}
}

// TestLateBytesCloseOnlyTheirConnection: bytes waiting on one idle
// connection put that one out of step, not the others: the request goes
// on the next idle connection, and the origin (shared, perhaps, by every
// shop of a platform) is not made to take new connections for it.
func TestLateBytesCloseOnlyTheirConnection(t *testing.T) {
	answerX, answerA, more, wrote := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		x.KeepAlive = true
		gate := answerX
		if x.Request.URL.Path == "/a" {
			gate = answerA
		}
		select {
		case <-gate:
		case <-time.After(5 * time.Second):
		}
		x.Write(testkit.Response(200, x.Request.Method+" "+x.Request.URL.Path))
		if x.Request.URL.Path != "/a" {
			return
		}
		select {
		case <-more:
		case <-time.After(5 * time.Second):
			return
		}
		x.Write([]byte(secretAnswer))
		close(wrote)
	})
	p := startProxy(t, oneSite(o.URL()))
	t.Cleanup(client.CloseIdleConnections)
	got := make(chan string, 2)
	for _, path := range []string{"/x", "/a"} {
		go func() { got <- summary(getFrom(p, path)) }()
	}
	testkit.WaitFor(t, 5*time.Second, "both requests at the origin, on two connections", func() bool { return o.Requests() == 2 })
	close(answerX) // /x's connection goes idle first
	if r := <-got; r != "200 origin GET /x" {
		t.Fatalf("GET /x: %s", r)
	}
	close(answerA) // then /a's: the most recently used, taken first
	if r := <-got; r != "200 origin GET /a" {
		t.Fatalf("GET /a: %s", r)
	}
	close(more)
	<-wrote
	getOrigin(t, p, "/b", "GET /b")
	if n := o.Conns(); n != 2 {
		t.Errorf("origin connections: %d; want 2 (/b on /x's idle connection)", n)
	}
}

// TestTrickleWithACopy: an origin that trickles its head or its body, a
// byte at a time, while a copy of the page exists: the shopper gets the
// copy at fallback_after, the refresh that goes on in the background ends
// at origin.timeout with the origin's connection closed, and the copy is
// still the one that was there.
func TestTrickleWithACopy(t *testing.T) {
	for name, start := range map[string]string{
		"head": "HTTP/1.1 200 OK\r\nX-A: ",
		"body": "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			var ended atomic.Int64
			o := testkit.NewOrigin(t, htmlPage(productPage))
			p := startProxy(t, strings.Replace(staleSite(o.URL()), "timeout: 2s", "timeout: 1s", 1))
			if resp, _ := p.get(t, "shop.example", "/p"); !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
				t.Fatalf("seeding: %q; want stored", resp.Header.Get("Cache-Status"))
			}
			o.Set(func(x *testkit.Exchange) {
				defer ended.Add(1)
				x.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				x.Write([]byte(start))
				for x.Wait(20 * time.Millisecond) { // the origin's pace
					if _, err := x.Conn.Write([]byte("a")); err != nil {
						return
					}
				}
			})
			resp, body := p.get(t, "shop.example", "/p")
			assertStale(t, resp, body, "Desem waldkorn")
			testkit.WaitFor(t, 5*time.Second, "the origin's connection closed by Awning", func() bool { return ended.Load() == 1 })
			o.Refuse()
			resp, body = p.get(t, "shop.example", "/p")
			assertStale(t, resp, body, "Desem waldkorn")
		})
	}
}
