package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
				resp, body := p.do(t, next, "shop.example", "/b")
				want := next + " /b"
				if next == "HEAD" {
					want = ""
				}
				if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || body != want {
					t.Fatalf("%s /b: %d %q %.80q; want 200 origin %q", next, resp.StatusCode, resp.Header.Get("Awning-Served"), body, want)
				}
				if n := o.RequestsFor("/b"); n != 1 {
					t.Errorf("origin got /b %d times; want once", n)
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

var _ = http.MethodGet
