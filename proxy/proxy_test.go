package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/internal/testkit"
)

func TestRouting(t *testing.T) {
	shop := testkit.NewOrigin(t, testkit.Respond(200, "shop"))
	other := testkit.NewOrigin(t, testkit.Respond(200, "other"))
	p := startProxy(t, `
tls: {mode: off}
sites:
  - name: shop
    hosts: [shop.example, Bäckerei.example]
    origin: {urls: [`+shop.URL()+`]}
  - name: other
    hosts: [other.example, "::1"]
    origin: {urls: [`+other.URL()+`]}
`)
	tests := []struct {
		host   string
		status int
		served string
		body   string
	}{
		{"shop.example", 200, "origin", "shop"},
		{"SHOP.Example", 200, "origin", "shop"},
		{"shop.example:8080", 200, "origin", "shop"},
		{"shop.example.", 200, "origin", "shop"},
		{"shop.example.:443", 200, "origin", "shop"},
		{"xn--bckerei-5wa.example", 200, "origin", "shop"},
		{"other.example", 200, "origin", "other"},
		{"[::1]:8080", 200, "origin", "other"},
		{"unknown.example", 421, "misdirected", ""},
		{"shop.example.evil", 421, "misdirected", ""},
		{"evil.shop.example", 421, "misdirected", ""},
		{"shop.example..", 421, "misdirected", ""},
		{"127.0.0.1", 421, "misdirected", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			resp, body := p.get(t, tt.host, "/")
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d; want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Awning-Served"); got != tt.served {
				t.Errorf("Awning-Served = %q; want %q", got, tt.served)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("body = %q; want %q", body, tt.body)
			}
		})
	}
}

func TestUnknownHostNeverReachesAnOrigin(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	p := startProxy(t, oneSite(o.URL()))
	for _, host := range []string{"unknown.example", "shop.example.attacker", "localhost"} {
		resp, body := p.get(t, host, "/product/1")
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("%s: status = %d; want 421", host, resp.StatusCode)
		}
		if strings.Contains(strings.ToLower(body), "shop") {
			t.Errorf("%s: the 421 page names a shop: %q", host, body)
		}
	}
	if n := o.Conns(); n != 0 {
		t.Errorf("origin saw %d connections for unknown hosts; want 0", n)
	}
}

func TestForwardedHeaders(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	p := startProxy(t, oneSite(o.URL()))

	t.Run("untrusted peer", func(t *testing.T) {
		p.get(t, "Shop.Example:8080", "/p",
			"X-Forwarded-For", "203.0.113.66",
			"X-Forwarded-Proto", "https",
			"X-Forwarded-Host", "evil.example",
			"X-Real-IP", "203.0.113.66",
			"Forwarded", "for=203.0.113.66;proto=https",
			"True-Client-IP", "203.0.113.66",
			"X-Original-URL", "/admin",
			"X-Rewrite-URL", "/admin",
			"X-HTTP-Method-Override", "DELETE",
		)
		h := o.Last().Header
		want := map[string]string{
			"X-Forwarded-For":   "127.0.0.1",
			"X-Forwarded-Proto": "http",
			"X-Forwarded-Host":  "shop.example",
			"X-Real-Ip":         "127.0.0.1",
		}
		for k, v := range want {
			if got := h.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s = %q; want [%q]", k, got, v)
			}
		}
		for _, k := range []string{"Forwarded", "True-Client-Ip", "X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override"} {
			if got := h.Get(k); got != "" {
				t.Errorf("%s reached the origin: %q", k, got)
			}
		}
		if got := o.Last().Host; got != "shop.example" {
			t.Errorf("Host = %q; want the canonical shop host %q", got, "shop.example")
		}
	})
}

func TestTrustedProxyChain(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	p := startProxy(t, strings.Replace(oneSite(o.URL()), "trusted_proxies: [10.9.9.9]", "trusted_proxies: [127.0.0.1, 10.0.0.0/8]", 1))
	p.get(t, "shop.example", "/", "X-Forwarded-For", "198.51.100.7, 203.0.113.5, 10.1.2.3", "X-Forwarded-Proto", "https")
	h := o.Last().Header
	if got, want := h.Get("X-Forwarded-For"), "198.51.100.7, 203.0.113.5, 10.1.2.3, 127.0.0.1"; got != want {
		t.Errorf("X-Forwarded-For = %q; want %q", got, want)
	}
	if got, want := h.Get("X-Real-Ip"), "203.0.113.5"; got != want {
		t.Errorf("X-Real-IP = %q; want the rightmost untrusted entry %q", got, want)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q; want the trusted proxy's https", got)
	}
}

func TestHopByHopHeaders(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Respond(200, "ok",
		"Connection: X-Resp-Hop", "X-Resp-Hop: secret", "Keep-Alive: timeout=5",
		"Proxy-Authenticate: Basic", "X-End-To-End: kept", "Set-Cookie: a=1", "Set-Cookie: b=2"))
	p := startProxy(t, oneSite(o.URL()))

	resp, _ := p.get(t, "shop.example", "/",
		"Connection", "X-Req-Hop, keep-alive",
		"X-Req-Hop", "secret",
		"Keep-Alive", "timeout=5",
		"TE", "trailers",
		"Proxy-Authorization", "Basic c2VjcmV0",
		"Upgrade", "websocket",
		"X-End-To-End", "kept",
	)
	h := o.Last().Header
	for _, k := range []string{"X-Req-Hop", "Keep-Alive", "Te", "Proxy-Authorization", "Upgrade"} {
		if got := h.Get(k); got != "" {
			t.Errorf("request header %s reached the origin: %q", k, got)
		}
	}
	if got := h.Get("Connection"); got != "" && !strings.EqualFold(got, "keep-alive") {
		t.Errorf("origin got Connection: %q", got)
	}
	if got := h.Get("X-End-To-End"); got != "kept" {
		t.Errorf("end-to-end request header lost: %q", got)
	}
	for _, k := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate"} {
		if got := resp.Header.Get(k); got != "" {
			t.Errorf("response header %s reached the shopper: %q", k, got)
		}
	}
	if got := resp.Header.Get("X-End-To-End"); got != "kept" {
		t.Errorf("end-to-end response header lost: %q", got)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Errorf("Set-Cookie = %q; want both cookies", got)
	}
	if resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("Awning-Served = %q; want origin", resp.Header.Get("Awning-Served"))
	}
}

func TestPathAndQueryPassedExactly(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Echo())
	p := startProxy(t, oneSite(o.URL()))
	for _, uri := range []string{
		"/product/1?utm_source=x&gclid=y",
		"/a/../b/%2F/c//d?q=%C3%A9&q=2",
		"/search?q=a+b&empty=&flag",
	} {
		raw := testkit.Dial(t, p.addr)
		raw.Send("GET " + uri + " HTTP/1.1\r\nHost: shop.example\r\n\r\n")
		resp, _, err := raw.ReadResponse("GET", 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", uri, resp.StatusCode)
		}
		if got := o.Last().RequestURI; got != uri {
			t.Errorf("origin got %q; want %q", got, uri)
		}
	}
}

func TestHostHeaderOverride(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	p := startProxy(t, oneSite(o.URL(), "host_header: shop.cdn-provider.example"))
	p.get(t, "www.shop.example", "/")
	if got := o.Last().Host; got != "shop.cdn-provider.example" {
		t.Errorf("Host = %q; want the configured host_header", got)
	}
	if got := o.Last().Header.Get("X-Forwarded-Host"); got != "www.shop.example" {
		t.Errorf("X-Forwarded-Host = %q; want the shopper's host", got)
	}
}

func TestHeadKeepsContentLength(t *testing.T) {
	body := strings.Repeat("x", 1234)
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		if x.Request.Method == http.MethodHead {
			x.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n"))
		} else {
			x.Write(testkit.Response(200, body))
		}
		x.KeepAlive = true
	})
	p := startProxy(t, oneSite(o.URL()))
	raw := testkit.Dial(t, p.addr)
	raw.Send("HEAD / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	resp, b, err := raw.ReadResponse("HEAD", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != 1234 || len(b) != 0 {
		t.Errorf("HEAD: Content-Length %d, %d body bytes; want 1234 and none", resp.ContentLength, len(b))
	}
	// The connection must still be in sync: a GET on it gets the full body.
	raw.Send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	_, b, err = raw.ReadResponse("GET", 5*time.Second)
	if err != nil || len(b) != 1234 {
		t.Errorf("GET after HEAD: %d bytes, %v", len(b), err)
	}
}

func TestOriginFailuresGetTheOutagePage(t *testing.T) {
	body := strings.Repeat("<p>product</p>", 100)
	tests := []struct {
		name     string
		behavior testkit.Behavior
		refuse   bool
	}{
		{"refused", nil, true},
		{"500", testkit.Status(500), false},
		{"502", testkit.Status(502), false},
		{"503", testkit.Status(503), false},
		{"504", testkit.Status(504), false},
		{"522", testkit.Status(522), false},
		{"truncated", testkit.Truncated(body), false},
		{"reset mid-body", testkit.ResetMidBody(body), false},
		{"wrong length", testkit.WrongLength(body), false},
		{"chunked truncated", testkit.ChunkedTruncated(body), false},
		{"reset on request", testkit.ResetOnRequest(), false},
		{"garbage", testkit.Raw([]byte("HELLO\r\n\r\n")), false},
		{"slow first byte", testkit.Slow(3*time.Second, testkit.OK("late")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, tt.behavior)
			if tt.refuse {
				o.Refuse()
			}
			p := startProxy(t, oneSite(o.URL(), "first_byte_timeout: 300ms"))
			resp, page := p.get(t, "shop.example", "/product/1")
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status = %d; want 503", resp.StatusCode)
			}
			if got := resp.Header.Get("Awning-Served"); got != "outage" {
				t.Errorf("Awning-Served = %q; want outage", got)
			}
			for k, want := range map[string]string{"Cache-Control": "no-store", "Content-Language": "nl, en", "Retry-After": "30"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q; want %q", k, got, want)
				}
			}
			if !strings.Contains(page, `lang="nl"`) || !strings.Contains(page, `lang="en"`) || !strings.Contains(page, `name="robots" content="noindex"`) {
				t.Errorf("outage page is not the bilingual noindex page: %.200q", page)
			}

			resp, js := p.get(t, "shop.example", "/api/products")
			if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(js, `"error":"outage"`) {
				t.Errorf("API path: %d %q %q; want a JSON 503", resp.StatusCode, resp.Header.Get("Content-Type"), js)
			}
		})
	}
}

func TestNonFailureStatusesPassThrough(t *testing.T) {
	for _, code := range []int{200, 201, 204, 301, 304, 400, 401, 403, 404, 410, 429, 501} {
		o := testkit.NewOrigin(t, testkit.Status(code))
		p := startProxy(t, oneSite(o.URL()))
		resp, _ := p.get(t, "shop.example", "/")
		if resp.StatusCode != code || resp.Header.Get("Awning-Served") != "origin" {
			t.Errorf("origin %d: got %d served %q; want it relayed", code, resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
	}
}

func TestBalancingAndFailover(t *testing.T) {
	a := testkit.NewOrigin(t, testkit.Respond(200, "a"))
	b := testkit.NewOrigin(t, testkit.Respond(200, "b"))
	p := startProxy(t, oneSite(a.URL()+", "+b.URL()))
	seen := map[string]int{}
	for range 10 {
		_, body := p.get(t, "shop.example", "/")
		seen[body]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("requests per origin = %v; want both used", seen)
	}

	b.Refuse()
	for i := range 10 {
		resp, body := p.do(t, http.MethodPost, "shop.example", "/checkout")
		if resp.StatusCode != 200 || body != "a" {
			t.Fatalf("request %d with one origin refusing: %d %q; want 200 from a", i, resp.StatusCode, body)
		}
	}
}

func TestRequestBodyLimit(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	p := startProxy(t, "limits: {request_body: 4KiB}\n"+oneSite(o.URL()))

	raw := testkit.Dial(t, p.addr)
	raw.Send("POST /checkout HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("a", 5000))
	resp, _, err := raw.ReadResponse("POST", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d; want 413", resp.StatusCode)
	}
	if !raw.Closed(2 * time.Second) {
		t.Error("connection left open after 413")
	}
	if n := o.Requests(); n != 0 {
		t.Errorf("origin saw %d requests; want 0", n)
	}

	raw = testkit.Dial(t, p.addr)
	raw.Send("POST /checkout HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4000\r\n\r\n" + strings.Repeat("a", 4000))
	if resp, _, err := raw.ReadResponse("POST", 5*time.Second); err != nil || resp.StatusCode != 200 {
		t.Errorf("body under the limit: %v %v; want 200", resp, err)
	}
	if got := len(o.Last().Body); got != 4000 {
		t.Errorf("origin got %d body bytes; want 4000", got)
	}
}

func TestResponseBodyLimit(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK(strings.Repeat("x", 100<<10)))
	p := startProxy(t, "limits: {response_body: 64KiB}\n"+oneSite(o.URL()))
	resp, _ := p.get(t, "shop.example", "/big")
	if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" {
		t.Errorf("oversized answer: %d %q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
}

func TestRequestHeaderLimit(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	p := startProxy(t, "limits: {request_header: 4KiB}\n"+oneSite(o.URL()))
	raw := testkit.Dial(t, p.addr)
	raw.Send("GET / HTTP/1.1\r\nHost: shop.example\r\nCookie: " + strings.Repeat("a", 8000) + "\r\n\r\n")
	resp, _, err := raw.ReadResponse("GET", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status = %d; want 431", resp.StatusCode)
	}
	if o.Requests() != 0 {
		t.Error("oversized request reached the origin")
	}
}

func TestUpdateSwapsRouting(t *testing.T) {
	a := testkit.NewOrigin(t, testkit.Respond(200, "a"))
	b := testkit.NewOrigin(t, testkit.Respond(200, "b"))
	p := startProxy(t, oneSite(a.URL()))
	if _, body := p.get(t, "shop.example", "/"); body != "a" {
		t.Fatalf("before update: %q", body)
	}
	if err := p.Update(options(t, oneSite(b.URL()))); err != nil {
		t.Fatal(err)
	}
	if _, body := p.get(t, "shop.example", "/"); body != "b" {
		t.Errorf("after update: %q; want b", body)
	}
}

func TestHealthPathAnsweredByAwning(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	p := startProxy(t, oneSite(o.URL()))
	resp, body := p.get(t, "shop.example", "/.well-known/awning/health")
	if resp.StatusCode != 200 || body != `{"open":true}` || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("health: %d %q %q", resp.StatusCode, body, resp.Header.Get("Cache-Control"))
	}
	if o.Requests() != 0 {
		t.Error("health path reached the origin")
	}
}

// TestPanicAnswersTheOutagePage: a bug met by one request is contained: a
// GET whose request panicked gets the site's outage page (branded,
// Retry-After, detail=internal-error, no-store), an order the neutral 503
// (it may have reached the origin), and the node serves on.
func TestPanicAnswersTheOutagePage(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	p := startProxy(t, oneSite(o.URL()))
	snap := p.snap.Load()
	st := snap.states[0]
	ref := snap.hosts.Lookup([]byte("shop.example"))
	saved := ref.rules
	ref.rules = &cache.KeyPolicy{} // Build without rules panics: a stand-in for any bug
	p.snap.Store(snap)
	// The test changes the site's state only between requests: after the
	// handler's last act, its in-flight count going back to 0.
	ended := func() {
		testkit.WaitFor(t, 5*time.Second, "the handler to end", func() bool { return p.inflight.Load() == 0 })
	}
	resp, body := p.get(t, "shop.example", "/product/1?colour=red") // the query's rules are read
	ended()
	if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(resp.Header.Get("Cache-Status"), "detail=internal-error") || !strings.Contains(body, "<html") {
		t.Errorf("GET that panicked: %d %q %q %q %q; want the outage page, no-store", resp.StatusCode, resp.Header.Get("Awning-Served"),
			resp.Header.Get("Retry-After"), resp.Header.Get("Cache-Status"), resp.Header.Get("Cache-Control"))
	}
	if got := p.Stats(); got.Panics != 1 || got.InFlight != 0 {
		t.Errorf("stats after a panic: panics %d, in flight %d; want 1 and 0", got.Panics, got.InFlight)
	}
	ref.rules = saved
	savedServed := st.served
	st.served = servedSlot{} // counting the order's answer panics
	p.snap.Store(snap)
	r, _ := p.post(t, "shop.example", "/checkout", "x=1")
	ended()
	if r.StatusCode != 503 || r.Header.Get("Awning-Served") == "outage" {
		t.Errorf("POST that panicked: %d %q; want the neutral 503", r.StatusCode, r.Header.Get("Awning-Served"))
	}
	st.served = savedServed
	p.snap.Store(snap)
	if got := p.Stats().Panics; got != 2 {
		t.Errorf("%d panics counted; want 2", got)
	}
	if resp, body := p.get(t, "shop.example", "/product/1"); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("after the panics: %d %q; want the node still serving", resp.StatusCode, body)
	}
}
