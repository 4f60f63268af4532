package proxy

import (
	"crypto/tls"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// Parity of the request guard and cache safety (issues 13 and 14) over
// HTTP/2 and HTTP/3: the rules HTTP/1.1's are proved on with raw bytes
// (rawbytes_test.go, untrusted_test.go), proved here with raw frames —
// repeated cookie fields, a host field beside :authority, a body on a GET,
// a content-length the DATA disagrees with, names HTTP/1.1 cannot carry —
// against a real tls/listener, Go's HTTP/2 server, quic-go's HTTP/3 server
// and a loopback origin that logs every byte it reads.

// parityYAML: shop (two hosts, copies kept) and other (for 421s), a small
// request body limit for 413 and the default 16 KiB for headers.
func parityYAML(shop, other string) string {
	return `
tls: {mode: self-signed}
limits: {request_body: 1KiB}
sites:
  - name: shop
    hosts: [shop.example, www.shop.example]
    page: {languages: [nl, en]}
    origin: {urls: [` + shop + `], timeout: 2s, fallback_after: 300ms}
  - name: other
    hosts: [other.example]
    origin: {urls: [` + other + `], timeout: 2s}
`
}

func startParity(t *testing.T, shop testkit.Behavior) (*tlsProxy, *testkit.Origin) {
	t.Helper()
	o := testkit.NewOrigin(t, shop)
	other := testkit.NewOrigin(t, testkit.OK("other shop"))
	p := startTLSProxy(t, options(t, parityYAML(o.URL(), other.URL())), true, "shop.example", "www.shop.example", "other.example")
	return p, o
}

var bridgedProtocols = []string{"h2", "h3"}

// manyFields is n fields x-h<i> of size bytes each.
func manyFields(n, size int) []string {
	var f []string
	for i := range n {
		f = append(f, fmt.Sprintf("x-h%d", i), strings.Repeat("v", size))
	}
	return f
}

// guardRow is one request and what must become of it. want is "refused"
// (a 4xx, or the stream or connection reset; either way nothing reaches
// the origin), a status the answer must have with nothing reaching the
// origin ("405", "413", "421"), or "forwarded", when check then says what
// the origin must (not) have received.
type guardRow struct {
	name string
	req  func(path string) []rawField
	data []string
	want string
	// h1: HTTP/1.1 written as the same bytes (h1Request) must come to the
	// same: refused, or forwarded.
	h1    bool
	check func(t *testing.T, wire string, a rawAnswer)
}

func get(extra ...string) func(string) []rawField {
	return func(path string) []rawField { return rawRequest("GET", "shop.example", path, extra...) }
}

func method(m, authority string, extra ...string) func(string) []rawField {
	return func(path string) []rawField { return rawRequest(m, authority, path, extra...) }
}

func fields(f ...rawField) func(string) []rawField {
	return func(string) []rawField { return f }
}

// noneOf fails when the origin's bytes contain any of bad.
func noneOf(bad ...string) func(t *testing.T, wire string, a rawAnswer) {
	return func(t *testing.T, wire string, a rawAnswer) {
		t.Helper()
		for _, b := range bad {
			if strings.Contains(strings.ToLower(wire), strings.ToLower(b)) {
				t.Errorf("%q reached the origin:\n%s", b, wire)
			}
		}
	}
}

// originHost fails unless the origin was sent Host: shop.example.
func originHost(t *testing.T, wire string, a rawAnswer) {
	t.Helper()
	if !strings.Contains(wire, "\r\nHost: shop.example\r\n") || !strings.Contains(wire, "\r\nX-Forwarded-Host: shop.example\r\n") {
		t.Errorf("the origin was not sent the canonical host:\n%s", wire)
	}
	if a.header.Get("Awning-Served") != "origin" {
		t.Errorf("Awning-Served %q; want origin", a.header.Get("Awning-Served"))
	}
}

func guardRows() []guardRow {
	return []guardRow{
		// :authority and host.
		{name: "userinfo in :authority", req: method("GET", "other.example@shop.example"), want: "refused", h1: true},
		{name: "host field differs from :authority", req: get("host", "other.example"), want: "refused"},
		{name: "host field names an unknown host", req: get("host", "evil.example"), want: "refused"},
		{name: "upper case :authority with a trailing dot", req: method("GET", "SHOP.EXAMPLE."), want: "forwarded", h1: true, check: originHost},
		{name: ":authority with a port", req: method("GET", "shop.example:8443"), want: "forwarded", h1: true, check: originHost},
		{name: "host field only", req: func(path string) []rawField {
			return []rawField{{":method", "GET"}, {":scheme", "https"}, {":path", path}, {"host", "shop.example"}}
		}, want: "forwarded", check: originHost},
		{name: "unknown :authority", req: method("GET", "evil.example"), want: "421", h1: true},
		{name: "another shop on the connection", req: method("GET", "other.example"), want: "421"},
		{name: "absolute-form :path naming another host of the shop", req: fields(rawField{":method", "GET"}, rawField{":scheme", "https"},
			rawField{":authority", "shop.example"}, rawField{":path", "https://www.shop.example/x"}), want: "refused"},
		{name: "absolute-form :path naming another shop", req: fields(rawField{":method", "GET"}, rawField{":scheme", "https"},
			rawField{":authority", "shop.example"}, rawField{":path", "https://other.example/x"}), want: "refused"},
		{name: ":path without a slash", req: fields(rawField{":method", "GET"}, rawField{":scheme", "https"},
			rawField{":authority", "shop.example"}, rawField{":path", "x"}), want: "refused"},

		// Bodies.
		{name: "GET with DATA", req: get(), data: []string{"x=CANARY"}, want: "refused", h1: true},
		{name: "GET with content-length and DATA", req: get("content-length", "8"), data: []string{"x=CANARY"}, want: "refused", h1: true},
		{name: "GET with content-length and no DATA", req: get("content-length", "8"), want: "refused"},
		{name: "HEAD with DATA", req: method("HEAD", "shop.example"), data: []string{"x=CANARY"}, want: "refused", h1: true},
		{name: "GET with content-length 0 and an empty DATA", req: get("content-length", "0"), data: []string{""}, want: "forwarded",
			check: func(t *testing.T, wire string, a rawAnswer) {
				if strings.Contains(wire, "Content-Length") {
					t.Errorf("a GET reached the origin with a length:\n%s", wire)
				}
			}},
		{name: "POST content-length under the DATA", req: method("POST", "shop.example", "content-length", "3"), data: []string{"x=CANARY"}, want: "refused"},
		{name: "POST content-length over the DATA", req: method("POST", "shop.example", "content-length", "30"), data: []string{"x=CANARY"}, want: "refused"},
		{name: "POST over limits.request_body", req: method("POST", "shop.example"), data: []string{strings.Repeat("CANARY", 200)}, want: "413", h1: true},

		{name: ":path with a space", req: func(path string) []rawField {
			return rawRequest("GET", "shop.example", path+" HTTP/1.1")
		}, want: "refused", h1: true},

		// Methods.
		{name: "get (lower case) with DATA", req: method("get", "shop.example"), data: []string{"x=CANARY"}, want: "refused", h1: true},
		{name: "Head with DATA", req: method("Head", "shop.example"), data: []string{"x=CANARY"}, want: "refused", h1: true},
		{name: "trace (lower case)", req: method("trace", "shop.example"), want: "405", h1: true},
		{name: "connect (lower case) with a path", req: method("connect", "shop.example"), want: "405", h1: true},
		{name: "CONNECT", req: fields(rawField{":method", "CONNECT"}, rawField{":authority", "shop.example:443"}), want: "405"},
		{name: "extended CONNECT", req: fields(rawField{":method", "CONNECT"}, rawField{":protocol", "websocket"},
			rawField{":scheme", "https"}, rawField{":authority", "shop.example"}, rawField{":path", "/ws"}), want: "refused"},
		{name: "TRACE", req: method("TRACE", "shop.example"), want: "405", h1: true},
		{name: "TRACK", req: method("TRACK", "shop.example"), want: "405", h1: true},

		// Header names and values.
		{name: "transfer_encoding", req: method("POST", "shop.example", "transfer_encoding", "chunked"), data: []string{"x=1"}, want: "refused", h1: true},
		{name: "content_length", req: method("POST", "shop.example", "content_length", "0"), data: []string{"x=1"}, want: "refused", h1: true},
		{name: "unkeyed headers", req: get(
			"x_forwarded_host", "evil1.example", "x-forwarded-host", "evil2.example", "forwarded", "host=evil3.example",
			"x-middleware-subrequest", "middleware:evil4", "x-host", "evil5.example", "x-original-url", "/evil6",
			"x-forwarded-for", "203.0.113.7", "x-real-ip", "203.0.113.8", "x-http-method-override", "EVIL9",
			"awning-served", "evil10"),
			want: "forwarded", h1: true, check: func(t *testing.T, wire string, a rawAnswer) {
				noneOf("evil", "203.0.113", "x-middleware", "x-host", "x-original", "forwarded: ", "method-override")(t, wire, a)
				if strings.Count(wire, "X-Forwarded-Host: ") != 1 || strings.Count(wire, "X-Forwarded-For: 127.0.0.1\r\n") != 1 {
					t.Errorf("want Awning's own X-Forwarded-Host and -For once each:\n%s", wire)
				}
				if !strings.Contains(a.header.Get("Cache-Status"), "stored") {
					t.Errorf("Cache-Status %q; want stored: nothing unkeyed reached the origin", a.header.Get("Cache-Status"))
				}
			}},
		{name: "whitespace around a value", req: get("x-pad", " \tpadded\t "), want: "forwarded", h1: true,
			check: func(t *testing.T, wire string, a rawAnswer) {
				if !strings.Contains(wire, "\r\nX-Pad: padded\r\n") {
					t.Errorf("the origin did not get the value as HTTP/1.1 carries it:\n%s", wire)
				}
			}},
		{name: "te: trailers", req: get("te", "trailers"), want: "forwarded", check: noneOf("\nte:")},
		{name: "te: gzip", req: get("te", "gzip"), want: "refused"},
		{name: "connection", req: get("connection", "x-secret", "x-secret", "1"), want: "refused"},
		{name: "upgrade", req: get("upgrade", "websocket"), want: "refused"},
		{name: "keep-alive", req: get("keep-alive", "1"), want: "refused"},
		{name: "proxy-connection", req: get("proxy-connection", "keep-alive"), want: "refused"},
		{name: "transfer-encoding", req: method("POST", "shop.example", "transfer-encoding", "chunked"), data: []string{"x=1"}, want: "refused"},
		{name: "upper case name", req: get("X-Foo", "1"), want: "refused"},
		{name: "NUL in a value", req: get("x-foo", "a\x00b"), want: "refused"},
		{name: "CRLF in a value", req: get("x-foo", "a\r\nX-Injected: 1"), want: "refused"},
		{name: "LF in a value", req: get("x-foo", "a\nX-Injected: 1"), want: "refused"},
		{name: "obs-fold in a value", req: get("x-foo", "a\r\n b"), want: "refused"},
		{name: "space in a name", req: get("x foo", "1"), want: "refused"},
		{name: "headers over limits.request_header", req: get(manyFields(300, 100)...), want: "refused", h1: true},
		{name: "one field over limits.request_header", req: get("x-big", strings.Repeat("a", 32<<10)), want: "refused", h1: true},
		{name: "headers under limits.request_header", req: get(manyFields(100, 100)...), want: "forwarded", h1: true,
			check: func(t *testing.T, wire string, a rawAnswer) {
				if strings.Count(wire, "\r\nX-H") != 100 {
					t.Errorf("the origin got %d of 100 fields", strings.Count(wire, "\r\nX-H"))
				}
			}},
		{name: "trailer announcing what the key reads", req: get("trailer", "x-requested-with, accept-language",
			"x-requested-with", "XMLHttpRequest", "accept-language", "en"), want: "forwarded",
			check: func(t *testing.T, wire string, a rawAnswer) {
				if strings.Count(wire, "\r\nX-Requested-With: XMLHttpRequest\r\n") != 1 || strings.Count(wire, "\r\nAccept-Language: en\r\n") != 1 {
					t.Errorf("the origin was not sent what the key read:\n%s", wire)
				}
				if !strings.Contains(a.header.Get("Cache-Status"), "detail=partial-request") {
					t.Errorf("Cache-Status %q; want a partial rendering, not stored", a.header.Get("Cache-Status"))
				}
			}},
	}
}

// TestBridgedRequestGuard: every refusal of HTTP/1.1's guard holds over
// HTTP/2 and HTTP/3, checked on what the shopper got and on every byte the
// origin read; where HTTP/1.1 can carry the same request, it comes to the
// same.
func TestBridgedRequestGuard(t *testing.T) {
	p, o := startParity(t, echoOrigin())
	for i, row := range guardRows() {
		protos := bridgedProtocols
		if row.h1 {
			protos = allProtocols
		}
		for _, proto := range protos {
			path := fmt.Sprintf("/g%d-%s", i, strings.ReplaceAll(proto, "/", ""))
			before := len(o.Wire())
			a := rawSend(t, p, proto, "shop.example", row.req(path), row.data...)
			wire := o.Wire()[before:]
			what := proto + " " + row.name
			switch row.want {
			case "forwarded":
				if a.status != 200 || !strings.Contains(wire, " "+path+" HTTP/1.1\r\n") {
					t.Errorf("%s: %s; want forwarded to the origin. Origin read:\n%s", what, a, wire)
					continue
				}
				row.check(t, wire, a)
			case "refused":
				if !a.refused() {
					t.Errorf("%s: %s; want refused", what, a)
				}
			default:
				if fmt.Sprint(a.status) != row.want {
					t.Errorf("%s: %s; want %s", what, a, row.want)
				}
			}
			if row.want != "forwarded" && wire != "" {
				t.Errorf("%s: the origin read:\n%s", what, wire)
			}
		}
	}
	// Nothing refused left a copy: in the outage, every path that was
	// refused or carried a body gets the outage page.
	o.Refuse()
	c := p.client(t, "http/1.1")
	for i, row := range guardRows() {
		if row.want == "forwarded" {
			continue
		}
		for _, proto := range bridgedProtocols {
			resp, body := fetchTLS(t, c, "GET", "shop.example", fmt.Sprintf("/g%d-%s", i, proto))
			if resp.Header.Get("Awning-Served") != "outage" || strings.Contains(body, "CANARY") {
				t.Errorf("%s %s in the outage: %q; want the outage page, no copy", proto, row.name, resp.Header.Get("Awning-Served"))
			}
		}
	}
}

// personalOrigin renders an account page for whoever a cookie or
// credentials name (a CANARY- token), marks nothing private, and holds a
// personal request for a /held path until the anonymous request for the
// same path reached it too (canaryGates): were the two collapsed, the
// anonymous one would wait on the personal one's answer.
func personalOrigin(g *canaryGates, personal *atomic.Int64) testkit.Behavior {
	return func(x *testkit.Exchange) {
		r := x.Request
		creds := strings.Join(r.Header.Values("Cookie"), "|") + strings.Join(r.Header.Values("Authorization"), "|")
		body := "<p>sign in to see your account</p>"
		if i := strings.Index(creds, "CANARY-"); i >= 0 {
			personal.Add(1)
			body = "<p>account of " + creds[i:] + ": name, e-mail, orders</p>"
			if strings.Contains(r.RequestURI, "/held") {
				select {
				case <-g.gate(r.URL.EscapedPath()):
				case <-time.After(3 * time.Second):
				}
			}
		} else if strings.Contains(r.RequestURI, "/held") {
			close(g.gate(r.URL.EscapedPath()))
		}
		x.Write(testkit.Response(200, body, "Content-Type: text/html; charset=utf-8"))
		x.KeepAlive = true
	}
}

// TestBridgedCredentialsArePersonal: h2 and h3 let a client split cookie
// into several fields (RFC 9113 §8.2.3, RFC 9114 §4.2.1). A request whose
// fields together carry a session (or authorization) is personal exactly
// as one HTTP/1.1 Cookie header would be: forwarded with one Cookie header
// joined by "; ", never stored, never collapsed with an anonymous request,
// never served to another shopper, live or stale.
func TestBridgedCredentialsArePersonal(t *testing.T) {
	g := &canaryGates{}
	var personal atomic.Int64
	p, o := startParity(t, personalOrigin(g, &personal))
	h1 := p.client(t, "http/1.1")
	type cell struct {
		name   string
		extra  []string // the personal request's fields
		cookie string   // the one Cookie header the origin must get; "" for none
	}
	cells := []cell{
		{"session crumb after an analytics crumb", []string{"cookie", "_ga=GA1.2.3", "cookie", "PHPSESSID=CANARY-1"}, "_ga=GA1.2.3; PHPSESSID=CANARY-1"},
		{"session crumb first", []string{"cookie", "JSESSIONID=CANARY-2", "cookie", "_gid=1", "cookie", "_fbp=fb.1"}, "JSESSIONID=CANARY-2; _gid=1; _fbp=fb.1"},
		{"comma inside a crumb", []string{"cookie", "theme=dark, laravel_session=CANARY-3", "cookie", "_ga=1"}, "theme=dark, laravel_session=CANARY-3; _ga=1"},
		{"authorization", []string{"authorization", "Bearer CANARY-4"}, ""},
	}
	var paths []string
	for _, proto := range bridgedProtocols {
		for i, c := range cells {
			for _, held := range []bool{false, true} {
				path := fmt.Sprintf("/p%d-%s", i, proto)
				if held {
					path += "/held"
				}
				paths = append(paths, path)
				t.Run(proto+"/"+c.name+map[bool]string{true: "/overlapping"}[held], func(t *testing.T) {
					got := make(chan rawAnswer, 1)
					errc := make(chan error, 1)
					send := func() {
						a, err := rawSendErr(p, proto, "shop.example", rawRequest("GET", "shop.example", path, c.extra...))
						got <- a
						errc <- err
					}
					n := personal.Load()
					if held {
						go send()
						testkit.WaitFor(t, 5*time.Second, "the personal request at the origin", func() bool { return personal.Load() > n })
					}
					// The anonymous shopper, over HTTP/1.1.
					resp, body := fetchTLS(t, h1, "GET", "shop.example", path)
					if strings.Contains(body, "CANARY") {
						t.Fatalf("the anonymous shopper got the personal page: %q %q", resp.Header.Get("Cache-Status"), body)
					}
					if resp.Header.Get("Awning-Served") != "origin" || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
						t.Errorf("anonymous: %q %q; want the origin's answer, stored", resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"))
					}
					if !held {
						send()
					}
					a, err := <-got, <-errc
					if err != nil {
						t.Fatal(err)
					}
					if !strings.Contains(string(a.body), "CANARY") || !strings.Contains(a.header.Get("Cache-Status"), "detail=personal-request") {
						t.Errorf("personal: %s %q; want its own page, not stored", a, a.body)
					}
					var mine *testkit.Received
					for _, r := range o.Received() {
						if r.RequestURI == path && strings.Contains(r.Header.Get("Cookie")+r.Header.Get("Authorization"), "CANARY") {
							mine = &r
						}
					}
					if mine == nil {
						t.Fatal("the personal request never reached the origin")
					}
					if c.cookie != "" && !slices.Equal(mine.Header.Values("Cookie"), []string{c.cookie}) {
						t.Errorf("the origin got Cookie %q; want one field %q", mine.Header.Values("Cookie"), c.cookie)
					}
				})
			}
		}
	}
	// An anonymous split cookie is anonymous: the control.
	a := rawSend(t, p, "h2", "shop.example", rawRequest("GET", "shop.example", "/anon", "cookie", "_ga=1", "cookie", "_gid=2"))
	if !strings.Contains(a.header.Get("Cache-Status"), "stored") {
		t.Errorf("analytics crumbs only: %s; want stored", a)
	}

	o.Refuse()
	for _, path := range paths {
		for _, proto := range allProtocols {
			a := rawSend(t, p, proto, "shop.example", rawRequest("GET", "shop.example", path))
			if strings.Contains(string(a.body), "CANARY") || a.header.Get("Awning-Served") != "stale" {
				t.Errorf("%s %s in the outage: %s %q; want the anonymous copy", proto, path, a, a.body)
			}
		}
	}
}

// TestBridgedCopiesMatchHTTP1: the same request over HTTP/1.1, HTTP/2 and
// HTTP/3 reaches the origin as the same header fields, and keys the same
// copy: one made from an h2 or h3 request answers an HTTP/1.1 shopper and
// the reverse, byte for byte, and an unkeyed header sent over any of them
// never shows in the copy another protocol's shopper gets.
func TestBridgedCopiesMatchHTTP1(t *testing.T) {
	p, o := startParity(t, echoOrigin())
	evil := []string{"x-forwarded-host", "evil1.example", "x_forwarded_host", "evil2.example",
		"x-middleware-subrequest", "evil3", "forwarded", "host=evil4.example", "x-original-url", "/evil5", "user-agent", "parity", "x-pad", "  padded "}
	lines := func(wire string) []string {
		_, head, _ := strings.Cut(wire, "\r\n") // the request line differs by path
		ls := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
		slices.Sort(ls) // net/http's and quic-go's maps have no order
		return ls
	}
	var want []string
	bodies := map[string]string{}
	for _, proto := range allProtocols {
		path := "/k-" + strings.ReplaceAll(proto, "/", "")
		before := len(o.Wire())
		a := rawSend(t, p, proto, "shop.example", rawRequest("GET", "SHOP.EXAMPLE.", path, evil...))
		wire := o.Wire()[before:]
		if a.status != 200 || !strings.Contains(a.header.Get("Cache-Status"), "stored") || strings.Contains(string(a.body), "evil") {
			t.Fatalf("%s: %s %q; want the origin's page, stored", proto, a, a.body)
		}
		bodies[path] = string(a.body)
		got := lines(wire)
		if want == nil {
			want = got
		} else if !slices.Equal(got, want) {
			t.Errorf("%s: the origin got\n%q\nover HTTP/1.1\n%q", proto, got, want)
		}
	}
	// In the outage every protocol's shopper gets each copy, the same
	// bytes, with nothing an unkeyed header changed.
	o.Refuse()
	for path := range bodies {
		var first string
		for _, proto := range allProtocols {
			a := rawSend(t, p, proto, "shop.example", rawRequest("GET", "shop.example", path))
			if a.header.Get("Awning-Served") != "stale" || !strings.Contains(string(a.body), "<p>GET "+path+"</p>") || strings.Contains(string(a.body), "evil") {
				t.Errorf("%s %s in the outage: %s %.200q", proto, path, a, a.body)
			}
			if first == "" {
				first = string(a.body)
			} else if string(a.body) != first {
				t.Errorf("%s %s in the outage: another body than over HTTP/1.1", proto, path)
			}
		}
	}
}

// TestBridgeIgnoresTrailerField: a request's trailer field is hop-by-hop
// and never forwarded, and the bridge never hands it to fasthttp: a
// fasthttp header that announces trailers moves the values of the names it
// lists out of what is forwarded but not out of what the key reads, so the
// origin would render without the Accept-Language the copy is keyed on.
// Go's and quic-go's servers strip the field today; a request built by
// hand (another server, a later version) must not depend on that.
func TestBridgeIgnoresTrailerField(t *testing.T) {
	o := testkit.NewOrigin(t, echoOrigin())
	// The bridge of a Server that serves nothing: the pipeline runs on
	// the test's goroutine.
	s, err := New(options(t, parityYAML(o.URL(), o.URL())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	r := httptest.NewRequest("GET", "https://shop.example/trailer", nil)
	r.RequestURI = "/trailer" // as the HTTP/2 server sets it: :path
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
	r.RemoteAddr = "192.0.2.1:4242"
	r.TLS = &tls.ConnectionState{ServerName: "shop.example", NegotiatedProtocol: "h2"}
	r.Header["Trailer"] = []string{"Accept-Language, X-Requested-With"}
	r.Header.Set("Accept-Language", "en")
	r.Header.Set("X-Requested-With", "XMLHttpRequest")
	w := httptest.NewRecorder()
	s.bridge.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("status %d; want 200", w.Code)
	}
	got := o.Last()
	if got.Header.Get("Accept-Language") != "en" || got.Header.Get("X-Requested-With") != "XMLHttpRequest" || got.Header.Get("Trailer") != "" {
		t.Errorf("the origin got Accept-Language %q, X-Requested-With %q, Trailer %q; want what the key read, and no Trailer",
			got.Header.Get("Accept-Language"), got.Header.Get("X-Requested-With"), got.Header.Get("Trailer"))
	}
}

// TestCurlGuardParity: the same rules with a real client, Debian's curl,
// over HTTP/2 and HTTP/1.1 from one listener: session cookies given as two
// fields (curl sends each -H as its own field), a body on a GET, TRACE, an
// underscore framing header, unkeyed headers, and a Host naming another
// shop (curl makes it :authority).
func TestCurlGuardParity(t *testing.T) {
	curl := tool(t, "curl")
	p, o := startParity(t, echoOrigin())
	cafile := p.ca.CertPath()
	_, port, _ := strings.Cut(p.addr, ":")
	rows := []struct {
		name   string
		args   []string
		status string
		check  func(t *testing.T, head, wire string)
	}{
		{"two cookie fields", []string{"-H", "Cookie: _ga=1", "-H", "Cookie: PHPSESSID=CANARY-c1"}, "200", func(t *testing.T, head, wire string) {
			if !strings.Contains(wire, "\r\nCookie: _ga=1; PHPSESSID=CANARY-c1\r\n") || strings.Count(wire, "Cookie: ") != 1 {
				t.Errorf("the origin did not get one Cookie field:\n%s", wire)
			}
			if !strings.Contains(strings.ToLower(head), "detail=personal-request") {
				t.Errorf("want personal, not stored:\n%s", head)
			}
		}},
		{"GET with a body", []string{"-X", "GET", "--data", "x=CANARY"}, "400", nil},
		{"TRACE", []string{"-X", "TRACE"}, "405", nil},
		{"Transfer_Encoding", []string{"-H", "Transfer_Encoding: chunked", "--data", "x=1"}, "400", nil},
		{"unkeyed headers", []string{"-H", "X_Forwarded_Host: evil1", "-H", "X-Forwarded-Host: evil2", "-H", "x-middleware-subrequest: evil3", "-H", "Forwarded: host=evil4"}, "200",
			func(t *testing.T, head, wire string) {
				if strings.Contains(wire, "evil") || !strings.Contains(strings.ToLower(head), "stored") {
					t.Errorf("an unkeyed header reached the origin, or the answer was not kept:\n%s\n%s", head, wire)
				}
			}},
	}
	for i, row := range rows {
		for _, flag := range []string{"--http2", "--http1.1"} {
			url := fmt.Sprintf("https://shop.example:%s/curl%d%s", port, i, strings.ReplaceAll(flag, "-", ""))
			before := len(o.Wire())
			args := append([]string{"-sS", flag, "--cacert", cafile, "--resolve", "shop.example:" + port + ":127.0.0.1", "-D", "-", "-o", "/dev/null"}, row.args...)
			out, err := exec.Command(curl, append(args, url)...).CombinedOutput()
			if err != nil {
				t.Fatalf("curl %s %s: %v\n%s", flag, row.name, err, out)
			}
			head := strings.ReplaceAll(string(out), "\r\n", "\n")
			wire := o.Wire()[before:]
			status, _, _ := strings.Cut(head, "\n")
			if f := strings.Fields(status); len(f) < 2 || f[1] != row.status {
				t.Errorf("curl %s %s: %q; want %s", flag, row.name, status, row.status)
				continue
			}
			wantProto := map[string]string{"--http2": "HTTP/2 ", "--http1.1": "HTTP/1.1 "}[flag]
			if !strings.HasPrefix(status, wantProto) {
				t.Errorf("curl %s: %q", flag, status)
			}
			if row.check != nil {
				row.check(t, head, wire)
			} else if wire != "" {
				t.Errorf("curl %s %s: the origin read:\n%s", flag, row.name, wire)
			}
		}
	}
}
