package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/gunzip"
	"github.com/awningproxy/awning/internal/testkit"
)

// An answer's parts, as an origin writes them.
func head(status string, lines ...string) string {
	return "HTTP/1.1 " + status + "\r\n" + strings.Join(append(lines, ""), "\r\n") + "\r\n"
}

func withLength(h string, body []byte) string {
	return h[:len(h)-2] + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + string(body)
}

// untrustedVector is one row of TestUntrustedOrigin: what an origin writes
// for GET /p, and what the shopper, the cache and the origin's connections
// must see.
type untrustedVector struct {
	name   string
	answer string // exact bytes; the origin then keeps the connection open
	seed   bool   // a good copy of /p exists first
	accept string // the shopper's Accept-Encoding ("" sends none)

	status int
	served string // Awning-Served
	body   string // the shopper's body contains it
	stored string // what GET /p serves stale afterwards: "seed", "answer" or "" (the outage page)
	reused bool   // the origin connection serves the next request
	reason string // the refusal counted, "" for none
}

const evil = "EVIL"

func untrustedVectors() []untrustedVector {
	page := "<html><body><h1>Verse desem</h1>" + strings.Repeat("<p>brood</p>", 200) + "</body></html>"
	gz := testkit.Gzip(page)
	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-8] ^= 0xff
	htmlGzip := head("200 OK", "Content-Type: text/html", "Content-Encoding: gzip")
	html := head("200 OK", "Content-Type: text/html")
	return []untrustedVector{
		// Decompression.
		{name: "gzip bomb", seed: true, answer: withLength(htmlGzip, testkit.GzipBomb(64)),
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reused: true, reason: "gzip-too-large"},
		{name: "gzip bomb, client takes gzip", seed: true, accept: "gzip", answer: withLength(htmlGzip, testkit.GzipBomb(64)),
			status: 200, served: "stale", body: "", stored: "seed", reused: true, reason: "gzip-too-large"},
		{name: "gzip bomb, no copy", answer: withLength(htmlGzip, testkit.GzipBomb(64)),
			status: 503, served: "outage", reused: true, reason: "gzip-too-large"},
		{name: "corrupt gzip", seed: true, answer: withLength(htmlGzip, []byte("NOTGZIP!!!")),
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reused: true, reason: "bad-gzip"},
		{name: "corrupt gzip, client takes gzip", seed: true, accept: "gzip", answer: withLength(htmlGzip, []byte("NOTGZIP!!!")),
			status: 200, served: "stale", stored: "seed", reused: true, reason: "bad-gzip"},
		{name: "corrupt gzip, no copy", answer: withLength(htmlGzip, []byte("NOTGZIP!!!")),
			status: 503, served: "outage", reused: true, reason: "bad-gzip"},
		{name: "truncated gzip", seed: true, answer: withLength(htmlGzip, gz[:len(gz)/2]),
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reused: true, reason: "bad-gzip"},
		{name: "gzip with a bad CRC", seed: true, answer: withLength(htmlGzip, badCRC),
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reused: true, reason: "bad-gzip"},
		{name: "gzip with trailing garbage", seed: true, answer: withLength(htmlGzip, append(bytes.Clone(gz), evil...)),
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reused: true, reason: "bad-gzip"},
		{name: "good gzip, client without gzip", answer: withLength(htmlGzip, gz),
			status: 200, served: "origin", body: "Verse desem", stored: "answer", reused: true},
		{name: "good gzip, client takes gzip", accept: "gzip", answer: withLength(htmlGzip, gz),
			status: 200, served: "origin", stored: "answer", reused: true},

		// Framing.
		{name: "CL with TE", seed: true, answer: html[:len(html)-2] + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "framing"},
		{name: "CL with TE, no copy", answer: html[:len(html)-2] + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n",
			status: 503, served: "outage", reason: "framing"},
		{name: "TE with CL", seed: true, answer: html[:len(html)-2] + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "framing"},
		{name: "duplicate CL", seed: true, answer: html[:len(html)-2] + "Content-Length: 4\r\nContent-Length: 2\r\n\r\nEVIL",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "framing"},
		{name: "invalid CL", seed: true, answer: html[:len(html)-2] + "Content-Length: 4x\r\n\r\nEVIL",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "framing"},
		{name: "TE not chunked", seed: true, answer: html[:len(html)-2] + "Transfer-Encoding: identity\r\n\r\nEVIL",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "framing"},
		{name: "bad chunk size", seed: true, answer: html[:len(html)-2] + "Transfer-Encoding: chunked\r\n\r\n4x\r\nEVIL\r\n0\r\n\r\n",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "framing"},
		{name: "bytes after a complete answer", seed: true, answer: withLength(html, []byte(evil)) + "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "extra-bytes"},
		{name: "bytes after a complete answer, no copy", answer: withLength(html, []byte(evil)) + "\r\n",
			status: 503, served: "outage", reason: "extra-bytes"},
		{name: "bare LF", seed: true, answer: "HTTP/1.1 200 OK\nContent-Type: text/html\nContent-Length: 4\n\nEVIL",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "malformed"},
		{name: "space before colon", seed: true, answer: html[:len(html)-2] + "Content-Length : 4\r\n\r\nEVIL",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "malformed"},

		// Tunnels and interim answers.
		{name: "101 Switching Protocols", seed: true, answer: head("101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade") + "\x81\x04EVIL",
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "upgrade"},
		{name: "101, no copy", answer: head("101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"),
			status: 503, served: "outage", reason: "upgrade"},
		{name: "102 Processing", seed: true, answer: head("102 Processing") + withLength(html, []byte(evil)),
			status: 200, served: "stale", body: "Desem waldkorn", stored: "seed", reason: "interim"},
		{name: "100 then 200", answer: head("100 Continue") + withLength(html, []byte("<p>Verse desem</p>")),
			status: 200, served: "origin", body: "Verse desem", stored: "answer", reused: true},
		{name: "103 then 200", answer: head("103 Early Hints", "Link: </a.css>; rel=preload") + withLength(html, []byte("<p>Verse desem</p>")),
			status: 200, served: "origin", body: "Verse desem", stored: "answer", reused: true},
		{name: "chunked with a trailer", answer: html[:len(html)-2] + "Transfer-Encoding: chunked\r\n\r\n12\r\n<p>Verse desem</p>\r\n0\r\nX-T: 1\r\n\r\n",
			status: 200, served: "origin", body: "Verse desem", stored: "answer", reused: true},
	}
}

// TestUntrustedOrigin is the varnishtest-style table of issue 14: a scripted
// origin writes exact bytes, a raw client asks, and each row says what the
// shopper got, what was stored, and whether the origin connection was used
// again (connections counted at the origin).
func TestUntrustedOrigin(t *testing.T) {
	for _, v := range untrustedVectors() {
		t.Run(v.name, func(t *testing.T) { checkUntrustedVector(t, v) })
	}
}

// checkUntrustedVector runs one row of an untrusted-origin table.
func checkUntrustedVector(t *testing.T, v untrustedVector) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, "limits: {response_body: 1MiB}\ncache: {max_object: 512KiB}\n"+staleSite(o.URL()))
	if v.seed {
		if resp, _ := p.get(t, "shop.example", "/p"); !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
			t.Fatalf("seeding: %q; want stored", resp.Header.Get("Cache-Status"))
		}
	}
	answer := []byte(v.answer)
	o.Set(func(x *testkit.Exchange) {
		x.KeepAlive = true
		if x.Request.URL.Path == "/p" {
			x.Write(answer)
			return
		}
		x.Write(testkit.Response(200, "next"))
	})
	before := p.Stats().Sites[0].OriginRefused

	c := testkit.Dial(t, p.addr)
	req := "GET /p HTTP/1.1\r\nHost: shop.example\r\n"
	if v.accept != "" {
		req += "Accept-Encoding: " + v.accept + "\r\n"
	}
	c.Send(req + "\r\n")
	resp, body, err := c.ReadResponse("GET", 5*time.Second)
	if err != nil {
		t.Fatalf("shopper: %v", err)
	}
	if resp.StatusCode != v.status || resp.Header.Get("Awning-Served") != v.served {
		t.Errorf("shopper got %d %q; want %d %q", resp.StatusCode, resp.Header.Get("Awning-Served"), v.status, v.served)
	}
	if v.accept == "" && resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("shopper without gzip got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	if !bytes.Contains(body, []byte(v.body)) || bytes.Contains(body, []byte(evil)) {
		t.Errorf("shopper's body %.200q; want %q and nothing of the refused answer", body, v.body)
	}
	// The shopper's connection still speaks HTTP (no tunnel).
	c.Send("GET /next HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	if resp, body, err := c.ReadResponse("GET", 5*time.Second); err != nil || string(body) != "next" {
		t.Errorf("next request on the shopper's connection: %v %q %v", resp, body, err)
	}

	after := p.Stats().Sites[0].OriginRefused
	for _, r := range RefusalReasons() {
		want := before[r]
		if r == v.reason {
			want++
		}
		if after[r] != want {
			t.Errorf("refused %s: %d; want %d", r, after[r], want)
		}
	}

	// Reuse: /p took the one connection there was (the seed's, or a
	// new one), and the /next request above went to the origin after
	// it: on the same connection exactly when /p's was kept.
	want := int64(2)
	if v.reused {
		want = 1
	}
	if o.Conns() != want {
		t.Errorf("origin connections: %d; want %d (the connection reused: %v)", o.Conns(), want, v.reused)
	}

	// Stored: with the origin gone, /p is served from the copy.
	o.Refuse()
	resp, stale := p.get(t, "shop.example", "/p")
	switch v.stored {
	case "seed":
		if resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(stale, "Desem waldkorn") {
			t.Errorf("stored: %q %.100q; want the seed copy", resp.Header.Get("Awning-Served"), stale)
		}
	case "answer":
		if resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(stale, "Verse desem") {
			t.Errorf("stored: %q %.100q; want the origin's answer", resp.Header.Get("Awning-Served"), stale)
		}
	default:
		if resp.Header.Get("Awning-Served") != "outage" {
			t.Errorf("stored: %q %.100q; want no copy", resp.Header.Get("Awning-Served"), stale)
		}
	}
}

// requestVectors are the shopper side of issue 14: each is refused before
// any of it reaches an origin, and its connection closed. A good request
// pipelined before the bad one may be served (POST /a).
var requestVectors = []struct {
	name   string
	raw    string
	status int
}{
	{"CONNECT", "CONNECT shop.example:80 HTTP/1.1\r\nHost: shop.example:80\r\n\r\n", http.StatusMethodNotAllowed},
	{"Host with userinfo", "GET /p HTTP/1.1\r\nHost: other.example@shop.example\r\n\r\n", http.StatusBadRequest},
	{"Host with a space", "GET /p HTTP/1.1\r\nHost: shop.example other\r\n\r\n", http.StatusBadRequest},
	{"Transfer_Encoding with CL", "POST /p HTTP/1.1\r\nHost: shop.example\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", http.StatusBadRequest},
	{"bare LF after a chunked body", "POST /a HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET /p HTTP/1.1\nHost: shop.example\r\n\r\n", http.StatusBadRequest},
	{"GET with a body", "GET /p HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\n\r\nEVIL", http.StatusBadRequest},
	{"GET chunked", "GET /p HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n", http.StatusBadRequest},
	{"HEAD with a body", "HEAD /p HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\n\r\nEVIL", http.StatusBadRequest},
}

func TestUntrustedShopperRequests(t *testing.T) {
	for _, v := range requestVectors {
		t.Run(v.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, testkit.Echo())
			p := startProxy(t, oneSite(o.URL()))
			c := testkit.Dial(t, p.addr)
			c.Send(v.raw)
			var last *http.Response
			for {
				resp, _, err := c.ReadResponse("GET", 3*time.Second)
				if err != nil {
					break
				}
				if last = resp; resp.StatusCode != 200 {
					break
				}
			}
			if last == nil || last.StatusCode != v.status {
				t.Fatalf("last answer %v; want %d", last, v.status)
			}
			if !c.Closed(2 * time.Second) {
				t.Error("connection left open")
			}
			for _, r := range o.Received() {
				if r.RequestURI != "/a" || bytes.Contains(r.Body, []byte(evil)) {
					t.Errorf("origin got %s %s %q", r.Method, r.RequestURI, r.Body)
				}
			}
		})
	}
}

// TestGuardOverTLS: for an https origin the guard reads the answers above
// TLS (the dialer does the handshake), so it refuses bad framing there too
// and good connections are still reused.
func TestGuardOverTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS() // for its certificate
	srv.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: srv.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.URL.Path == "/bad" {
						c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
						continue
					}
					c.Write(testkit.Response(200, "good"))
				}
			}()
		}
	}()

	cfg := parseConfig(t, oneSite("https://"+ln.Addr().String()))
	o, err := newOrigin(cfg.Sites[0].Origin.URLs[0], &cfg.Sites[0].Origin, poolOptions{responseBody: 1 << 20, responseHeader: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	o.conns.tls = &tls.Config{RootCAs: roots, ServerName: "example.com", MinVersion: tls.VersionTLS12}
	exchange := func(path string) (string, error) {
		var x exchange
		x.reset()
		x.req = []byte("GET " + path + " HTTP/1.1\r\nHost: example.com\r\n\r\n")
		x.idempotent = true
		x.total = time.Now().Add(2 * time.Second)
		err := o.roundTrip(&x)
		if err == nil {
			err = o.checkAnswer(&x.ans)
		}
		return string(x.ans.Body), err
	}
	for range 2 {
		if body, err := exchange("/good"); err != nil || body != "good" {
			t.Fatalf("good answer over TLS: %q %v", body, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for two good answers; want 1", n)
	}
	if _, err := exchange("/bad"); !errors.Is(err, errRespCLandTE) {
		t.Fatalf("bad answer over TLS: %v; want %v", err, errRespCLandTE)
	}
	if body, err := exchange("/good"); err != nil || body != "good" {
		t.Fatalf("good answer after the bad one: %q %v", body, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections; want 2 (the bad answer's closed)", n)
	}
}

// TestRefusalsLoggedOncePerMinute: a broken origin refused on every request
// writes one log line a minute, which counts the ones it stands for.
func TestRefusalsLoggedOncePerMinute(t *testing.T) {
	var buf testkit.Buffer
	o := &origin{url: "http://10.0.0.5", log: slog.New(slog.NewTextHandler(&buf, nil))}
	counts := &refusalCounts{}
	for range 100 {
		o.refused("shop", counts, refusedFraming, errRespCLandTE)
	}
	if n := strings.Count(buf.String(), "refused an origin's answer"); n != 1 {
		t.Fatalf("%d log lines for 100 refusals; want 1:\n%s", n, buf.String())
	}
	if got := counts[refusedFraming].Load(); got != 100 {
		t.Errorf("counted %d; want 100", got)
	}
	o.lastLog.Add(-int64(refusalLogEvery)) // a minute later
	o.refused("shop", counts, refusedBadGzip, errGzipCorrupt)
	if !strings.Contains(buf.String(), "refused_since_last_log=100") || !strings.Contains(buf.String(), "reason=bad-gzip") {
		t.Errorf("second line does not count the 99 unlogged ones and this one:\n%s", buf.String())
	}
}

// FuzzOriginAnswer sends a GET through a node to an origin that writes the
// fuzzed bytes and closes. Whatever they are, the shopper gets an answer
// (the origin's, relayed, or the outage page) in bounded time, the node
// does not panic, and a copy it kept serves exactly what was relayed.
func FuzzOriginAnswer(f *testing.F) {
	for _, v := range untrustedVectors() {
		if len(v.answer) < 4<<10 {
			f.Add([]byte(v.answer), v.accept != "")
		}
	}
	for _, a := range answers {
		f.Add([]byte(a.raw), false)
	}
	f.Add([]byte(withLength(head("200 OK", "Content-Type: text/html", "Content-Encoding: gzip"), testkit.Gzip("<p>hallo</p>"))), false)
	f.Add([]byte(withLength(head("404 Not Found", "Content-Type: text/html"), []byte("<p>weg</p>"))), true)

	var answer atomic.Pointer[[]byte]
	var failNext atomic.Bool
	o := testkit.NewOrigin(f, func(x *testkit.Exchange) {
		if failNext.Load() {
			x.Write(testkit.Response(500, "down"))
			return
		}
		x.Write(*answer.Load())
	})
	p := startProxy(f, staleSite(o.URL())+"    cache: {banner: false, statuses: [301, 404, 410]}\n")
	fuzzClient := &http.Client{
		Timeout:       10 * time.Second, // the origin's timeout is 2s: more is a hang
		Transport:     &http.Transport{DisableCompression: true, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(t *testing.T, path string, gzip bool) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", "http://"+p.addr+path, nil)
		req.Host = "shop.example"
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := fuzzClient.Do(req)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("no answer: %v", err)
			}
			return nil, nil // the connection closed: allowed
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, nil
		}
		if resp.Header.Get("Content-Encoding") == "gzip" {
			if body, err = gunzip.Append(nil, body, 64<<20); err != nil {
				t.Fatalf("relayed gzip that does not decode: %v", err)
			}
		}
		return resp, body
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, in []byte, gzip bool) {
		in = bytes.Clone(in)
		answer.Store(&in)
		failNext.Store(false)
		path := fmt.Sprintf("/f/%d", n.Add(1))
		resp, body := get(t, path, gzip)
		if p.Stats().Panics != 0 {
			t.Fatal("the node panicked")
		}
		if resp == nil {
			return
		}
		served := resp.Header.Get("Awning-Served")
		switch served {
		case "origin", "outage":
		default:
			t.Fatalf("Awning-Served %q; want origin or outage (there is no copy)", served)
		}
		if served != "origin" || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
			return
		}
		failNext.Store(true)
		again, stale := get(t, path, gzip)
		if again == nil || again.Header.Get("Awning-Served") != "stale" {
			t.Fatalf("a stored copy was not served when the origin failed: %v", again)
		}
		if again.StatusCode != resp.StatusCode || again.Header.Get("Content-Type") != resp.Header.Get("Content-Type") || !bytes.Equal(stale, body) {
			t.Fatalf("copy %d %q %q differs from what was relayed: %d %q %q", again.StatusCode,
				again.Header.Get("Content-Type"), stale, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})
}

// TestHeadBodyIsServedOnAFreshConnectionAfter: a body after the answer to
// a HEAD does not fail the HEAD (shoppers and HEAD / recovery probes get
// the answer), but the connection it came on is never used again.
func TestHeadBodyIsServedOnAFreshConnectionAfter(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, staleSite(o.URL()))
	o.Set(func(x *testkit.Exchange) {
		x.KeepAlive = true
		if x.Request.Method == http.MethodHead {
			x.Write([]byte(withLength(head("200 OK", "Content-Type: text/html"), []byte(evil))))
			return
		}
		x.Write(testkit.Response(200, "next"))
	})
	c := testkit.Dial(t, p.addr)
	c.Send("HEAD /p HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	resp, _, err := c.ReadResponse("HEAD", 5*time.Second)
	if err != nil {
		t.Fatalf("shopper: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("HEAD got %d %q; want 200 origin", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	c.Send("GET /next HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	if resp, body, err := c.ReadResponse("GET", 5*time.Second); err != nil || string(body) != "next" {
		t.Fatalf("next request: %v %q %v", resp, body, err)
	}
	if got := o.Conns(); got != 2 {
		t.Errorf("origin connections: %d; want 2 (the HEAD's connection dropped)", got)
	}
	for r, n := range p.Stats().Sites[0].OriginRefused {
		if n != 0 {
			t.Errorf("refused %v: %d; want none", r, n)
		}
	}
}
