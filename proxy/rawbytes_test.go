package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// Raw-byte rows: requests as an attacker writes them, an origin that logs
// every byte it reads, and checks on what the origin received and what
// later shoppers get. Each row is refused (400) or harmless: nothing of the
// attack reaches the origin, and nothing of it is served to anyone else.

// echoOrigin answers with a page that shows the request line, every
// header and the body it received: a careless origin that reflects what
// it is sent.
func echoOrigin() testkit.Behavior {
	return func(x *testkit.Exchange) {
		var b strings.Builder
		fmt.Fprintf(&b, "<html><body><p>%s %s</p>", x.Request.Method, x.Request.RequestURI)
		for k, v := range x.Request.Header {
			fmt.Fprintf(&b, "<p>%s: %s</p>", k, v)
		}
		fmt.Fprintf(&b, "<p>body: %s</p></body></html>", x.Body)
		x.Write(testkit.Response(200, b.String()))
		x.KeepAlive = true
	}
}

// sendRaw writes raw on a new connection and reads one answer.
func sendRaw(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	c := testkit.Dial(t, addr)
	defer c.Close()
	c.Send(raw)
	resp, body, err := c.ReadResponse("GET", 5*time.Second)
	if err != nil {
		t.Fatalf("no answer to %q: %v", raw, err)
	}
	return resp, string(body)
}

// refusedOrHarmless checks an answer to a request carrying a body on a GET:
// refused with 400 (the framing guard), or answered without being kept.
func refusedOrHarmless(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	switch {
	case resp.StatusCode == 400:
	case resp.StatusCode == 200 && strings.Contains(resp.Header.Get("Cache-Status"), "detail=request-body"):
	default:
		t.Errorf("%s: %d %q; want 400, or an answer not kept (detail=request-body)", what, resp.StatusCode, resp.Header.Get("Cache-Status"))
	}
}

func TestRawBytesGETBodies(t *testing.T) {
	o := testkit.NewOrigin(t, echoOrigin())
	p := startProxy(t, staleSite(o.URL()))

	// CL.0: a GET whose body is the start of another request. An origin
	// that ignores GET bodies would take it for the next request on the
	// pooled connection, and glue the next shopper's request onto
	// "X-Ignore: ".
	smuggled := "GET /attacker-chosen HTTP/1.1\r\nHost: shop.example\r\nX-Ignore: "
	resp, _ := sendRaw(t, p.addr, fmt.Sprintf("GET /cl0 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: %d\r\n\r\n%s", len(smuggled), smuggled))
	refusedOrHarmless(t, "CL.0", resp)
	_, victim := sendRaw(t, p.addr, "GET /victim HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	if !strings.Contains(victim, "<p>GET /victim</p>") {
		t.Errorf("the next shopper got another page: %.200q", victim)
	}

	// A fat GET: a form body on a GET.
	resp, body := sendRaw(t, p.addr, "GET /fat HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n\r\nx=CANARY")
	refusedOrHarmless(t, "fat GET", resp)
	if strings.Contains(body, "CANARY") {
		t.Errorf("the fat GET's body reached the origin: %.200q", body)
	}
	// The same, chunked.
	resp, _ = sendRaw(t, p.addr, "GET /fat-chunked HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nx=CANARY\r\n0\r\n\r\n")
	refusedOrHarmless(t, "chunked GET", resp)
	// A HEAD with a body.
	c := testkit.Dial(t, p.addr)
	c.Send("HEAD /head HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 8\r\n\r\nx=CANARY")
	if resp, _, err := c.ReadResponse("HEAD", 5*time.Second); err != nil {
		t.Fatal(err)
	} else if resp.StatusCode != 400 && resp.StatusCode != 200 {
		t.Errorf("HEAD with a body: %d", resp.StatusCode)
	}

	wire := o.Wire()
	for _, s := range []string{"attacker-chosen", "X-Ignore", "CANARY"} {
		if strings.Contains(wire, s) {
			t.Errorf("%q reached the origin:\n%s", s, wire)
		}
	}

	o.Refuse()
	_, body = p.get(t, "shop.example", "/victim")
	if !strings.Contains(body, "<p>GET /victim</p>") || strings.Contains(body, "attacker") {
		t.Errorf("the victim's copy in the outage: %.200q", body)
	}
	for _, path := range []string{"/cl0", "/fat", "/fat-chunked", "/head"} {
		resp, body := p.get(t, "shop.example", path)
		if resp.Header.Get("Awning-Served") != "outage" || strings.Contains(body, "CANARY") {
			t.Errorf("%s in the outage: %q; want no copy made from a request with a body", path, resp.Header.Get("Awning-Served"))
		}
	}
}

// TestRawBytesUnkeyedHeaders: every header that could change a page
// without changing its key, in every spelling, is dropped before the
// origin: what the origin renders, and so every copy, is the same as
// without it.
func TestRawBytesUnkeyedHeaders(t *testing.T) {
	o := testkit.NewOrigin(t, echoOrigin())
	p := startProxy(t, staleSite(o.URL()))
	rows := []string{
		"X-Host: evil1.example",
		"X_Forwarded_Host: evil2.example",
		"X-Forwarded-Host: evil3.example",
		"x-forwarded-host: evil4.example",
		"X-Forwarded-Server: evil5.example",
		"X-Forwarded-Prefix: /evil6",
		"X-Forwarded-Port: 6667",
		"X-Forwarded-Proto: evil8",
		"X-Forwarded-Scheme: evil9",
		"X_Forwarded_Proto: evil10",
		"Forwarded: host=evil11.example;proto=https",
		"x-middleware-subrequest: middleware:middleware:evil12",
		"X-Middleware-Prefetch: evil13",
		"X-Original-URL: /evil14",
		"X_Original_URL: /evil15",
		"X-Original-Host: evil16.example",
		"X-Rewrite-URL: /evil17",
		"X-HTTP-Method-Override: EVIL18",
		"X-HTTP-Method: EVIL19",
		"X-Method-Override: EVIL20",
		"X_HTTP_Method_Override: EVIL21",
		"X-Now-Route-Matches: evil22",
		"X-Invoke-Path: /evil23",
		"X-Http-Host-Override: evil24.example",
		"X-Envoy-Original-Path: /evil25",
		"Awning-Served: evil26",
		"X-Real-IP: 203.0.113.27",
		"True-Client-IP: 203.0.113.28",
	}
	for i, h := range rows {
		path := fmt.Sprintf("/h%d", i)
		resp, body := sendRaw(t, p.addr, "GET "+path+" HTTP/1.1\r\nHost: shop.example\r\n"+h+"\r\n\r\n")
		value := strings.TrimSpace(strings.SplitN(h, ":", 2)[1])
		if strings.Contains(body, value) {
			t.Errorf("%q changed the page: %.300q", h, body)
		}
		if resp.Header.Get("Awning-Served") != "origin" || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
			t.Errorf("%q: %q %q; want the origin's answer, stored (the header never reached it)", h, resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"))
		}
	}
	wire := strings.ToLower(o.Wire())
	for _, h := range rows {
		name := strings.ToLower(strings.SplitN(h, ":", 2)[0])
		value := strings.ToLower(strings.TrimSpace(strings.SplitN(h, ":", 2)[1]))
		if strings.Contains(wire, value) {
			t.Errorf("the value of %q reached the origin", h)
		}
		switch name {
		case "x-forwarded-host", "x-forwarded-proto", "x-real-ip":
			// Awning sends its own.
		default:
			if strings.Contains(wire, "\n"+name+":") {
				t.Errorf("%q reached the origin", name)
			}
		}
	}
	if strings.Contains(wire, "evil") {
		t.Errorf("an attack value reached the origin:\n%s", wire)
	}
	for _, line := range strings.Split(wire, "\r\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && strings.Contains(name, "_") {
			t.Errorf("a header spelled with an underscore reached the origin: %q", line)
		}
	}

	o.Refuse()
	for i := range rows {
		resp, body := p.get(t, "shop.example", fmt.Sprintf("/h%d", i))
		if resp.Header.Get("Awning-Served") != "stale" || strings.Contains(strings.ToLower(body), "evil") {
			t.Errorf("/h%d in the outage: %q %.200q", i, resp.Header.Get("Awning-Served"), body)
		}
	}
}

// TestRawBytesHostInKey: www redirects to the apex and the 301 is kept; in
// the outage each host gets its own copy, so the apex never redirects to
// itself.
func TestRawBytesHostInKey(t *testing.T) {
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		if x.Request.Host == "www.multi.test" {
			x.Write(testkit.Response(301, "", "Location: https://multi.test"+x.Request.RequestURI))
		} else {
			x.Write(testkit.Response(200, "<p>apex page "+x.Request.RequestURI+"</p>"))
		}
		x.KeepAlive = true
	})
	p := startProxy(t, `
tls: {mode: off}
sites:
  - name: multi
    hosts: [multi.test, www.multi.test]
    cache: {statuses: [301]}
    origin: {urls: [`+o.URL()+`], timeout: 2s, fallback_after: 300ms}
`)
	for _, host := range []string{"www.multi.test", "multi.test"} {
		resp, _ := sendRaw(t, p.addr, "GET /hk HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		if !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
			t.Fatalf("%s: %d %q; want the answer stored", host, resp.StatusCode, resp.Header.Get("Cache-Status"))
		}
	}
	if hosts := o.Wire(); !strings.Contains(hosts, "Host: www.multi.test\r\n") || !strings.Contains(hosts, "Host: multi.test\r\n") {
		t.Fatalf("the origin did not see both hosts:\n%s", hosts)
	}
	o.Refuse()
	resp, body := sendRaw(t, p.addr, "GET /hk HTTP/1.1\r\nHost: MULTI.test.:80\r\n\r\n")
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(body, "apex page /hk") {
		t.Errorf("apex in the outage: %d %q %q; want its own page, not the www redirect", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, _ = sendRaw(t, p.addr, "GET /hk HTTP/1.1\r\nHost: www.multi.test\r\n\r\n")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://multi.test/hk" {
		t.Errorf("www in the outage: %d %q; want the kept redirect to the apex", resp.StatusCode, resp.Header.Get("Location"))
	}
}
