package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/awningproxy/awning/internal/testkit"
)

// Red-team rows (review A): what a later shopper gets after an attacker's
// request or a hostile origin's answer. They talk to the proxy only through
// raw bytes, an origin that writes exact bytes, and what shoppers get
// afterwards, so they hold whatever shape the request path takes.

// rtGet sends one request of raw head lines (after the request line) on
// a new connection and returns the answer.
func rtGet(t *testing.T, addr, path string, lines ...string) (*http.Response, string) {
	t.Helper()
	raw := "GET " + path + " HTTP/1.1\r\nHost: shop.example\r\n"
	for _, l := range lines {
		raw += l + "\r\n"
	}
	return sendRaw(t, addr, raw+"\r\n")
}

// langOrigin renders a page in the language it negotiates from every
// Accept-Language line it received, as most platforms read them (lines
// joined with ", ", as RFC 9110 §5.3 says they may be): the highest q wins,
// and only an exact tag of the shop's languages counts ("nl-BE" is not

// "nl" to it). It says so in Vary and Content-Language.
func langOrigin() testkit.Behavior {
	return func(x *testkit.Exchange) {
		lang, bestQ := "en", -1.0
		for _, item := range strings.Split(strings.Join(x.Request.Header.Values("Accept-Language"), ", "), ",") {
			tag, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			q := 1.0
			if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				q, _ = strconv.ParseFloat(v, 64)
			}
			if (tag == "nl" || tag == "en") && q > bestQ {
				lang, bestQ = tag, q
			}
		}
		x.Write(testkit.Response(200, "<html><body><p>LANG="+lang+"</p></body></html>", "Vary: Accept-Language", "Content-Language: "+lang))
		x.KeepAlive = true
	}
}

// TestRedteamLanguageVariantIsWhatOriginRendered: a copy that varies on
// Accept-Language is kept under the language Awning negotiated; the origin
// must have rendered that language, not what it made of the raw header.
// Otherwise an attacker's Accept-Language (a second line, a regional tag
// the origin does not know) plants one language's page as another's copy,
// and in the outage every shopper of that language gets it.
func TestRedteamLanguageVariantIsWhatOriginRendered(t *testing.T) {
	for _, tt := range []struct {
		name   string
		attack []string // the attacker's Accept-Language lines
	}{
		{"second line", []string{"Accept-Language: en;q=0.1", "Accept-Language: nl"}},
		{"regional tag", []string{"Accept-Language: nl-BE"}},
		{"regional tag, english", []string{"Accept-Language: en-GB, nl;q=0.5"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, langOrigin())
			p := startProxy(t, staleSite(o.URL()))
			resp, body := rtGet(t, p.addr, "/lang", tt.attack...)
			if resp.StatusCode != 200 {
				t.Fatalf("attack: %d %.200q", resp.StatusCode, body)
			}
			// Shoppers of both languages fill in their copies where the
			// attack left none.
			for _, lang := range []string{"nl", "en"} {
				rtGet(t, p.addr, "/lang", "Accept-Language: "+lang)
			}
			o.Refuse()
			for _, lang := range []string{"nl", "en"} {
				resp, body := rtGet(t, p.addr, "/lang", "Accept-Language: "+lang)
				if resp.Header.Get("Awning-Served") != "stale" {
					t.Fatalf("%s shopper in the outage: %q; want its copy", lang, resp.Header.Get("Awning-Served"))
				}
				if !strings.Contains(body, "LANG="+lang) {
					i := strings.Index(body, "LANG=")
					t.Errorf("%s shopper in the outage got another language's page: %q", lang, body[i:min(len(body), i+7)])
				}
			}
		})
	}
}

// TestRedteamVaryOnRepeatedHeader: an answer that varies on a request
// header is kept under that header's value; a request that carries the
// header twice names two values, and the origin may have rendered either
// (Go and Rack take the last, PHP the joined list). Such an answer must
// not become the copy for the first value.
func TestRedteamVaryOnRepeatedHeader(t *testing.T) {
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		vs := x.Request.Header.Values("X-Device")
		dev := "desktop"
		if len(vs) > 0 {
			dev = vs[len(vs)-1]
		}
		x.Write(testkit.Response(200, "<p>DEVICE="+dev+"</p>", "Vary: X-Device"))
		x.KeepAlive = true
	})
	p := startProxy(t, staleSite(o.URL()))
	rtGet(t, p.addr, "/dev", "X-Device: desktop", "X-Device: mobile")
	rtGet(t, p.addr, "/dev", "X-Device: desktop")
	o.Refuse()
	resp, body := rtGet(t, p.addr, "/dev", "X-Device: desktop")
	if resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(body, "DEVICE=desktop") {
		t.Errorf("desktop shopper in the outage: %q, mobile page %v; want the desktop copy", resp.Header.Get("Awning-Served"), strings.Contains(body, "DEVICE=mobile"))
	}
}

// TestRedteamPartialRenderings: frameworks answer an XHR, pjax, htmx or
// Turbo request for a page's URL with a fragment of it (no layout), and
// rarely say so in Vary. Such an answer must not become the page's copy.
func TestRedteamPartialRenderings(t *testing.T) {
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		body := "<html><body><nav>LAYOUT</nav><p>FULL PAGE</p></body></html>"
		for _, h := range []string{"X-Requested-With", "X-Pjax", "Hx-Request", "Turbo-Frame", "X-Up-Target", "X-Inertia"} {
			if x.Request.Header.Get(h) != "" {
				body = "<p>FRAGMENT for " + h + "</p>"
			}
		}
		x.Write(testkit.Response(200, body))
		x.KeepAlive = true
	})
	p := startProxy(t, staleSite(o.URL()))
	rows := []string{"X-Requested-With: XMLHttpRequest", "X-PJAX: true", "HX-Request: true", "Turbo-Frame: main", "X-Up-Target: .content", "X-Inertia: true"}
	for i, h := range rows {
		path := "/partial" + strconv.Itoa(i)
		resp, body := rtGet(t, p.addr, path, h)
		if !strings.Contains(body, "FRAGMENT") {
			t.Fatalf("%s: the origin did not see it: %.100q", h, body)
		}
		if strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
			t.Errorf("%s: the fragment was stored: %q", h, resp.Header.Get("Cache-Status"))
		}
	}
	o.Refuse()
	for i, h := range rows {
		resp, body := rtGet(t, p.addr, "/partial"+strconv.Itoa(i))
		if strings.Contains(body, "FRAGMENT") {
			t.Errorf("after %q, shoppers in the outage get the fragment: %q", h, resp.Header.Get("Awning-Served"))
		}
	}
}

// TestRedteamStatusOutOfRange: HTTP status codes are 100 to 599 (RFC 9110
// §15); anything else is a broken answer, a failure, never relayed.
func TestRedteamStatusOutOfRange(t *testing.T) {
	for _, status := range []string{"600", "999", "099", "000"} {
		t.Run(status, func(t *testing.T) {
			o := testkit.NewOrigin(t, testkit.Raw([]byte("HTTP/1.1 "+status+" Odd\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\nODD-STATE")))
			p := startProxy(t, staleSite(o.URL()))
			resp, body := rtGet(t, p.addr, "/odd")
			if resp.Header.Get("Awning-Served") != "outage" || resp.StatusCode != 503 || strings.Contains(body, "ODD-STATE") {
				t.Errorf("got %d %q %.60q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"), body)
			}
		})
	}
}

// TestRedteamOriginHeaders: what an origin's answer may not carry to a
// shopper, live or from its copy.
func TestRedteamOriginHeaders(t *testing.T) {
	const page = "<html><body>PAGE</body></html>"
	for _, tt := range []struct {
		name, path string
		header     []string
		liveAbsent []string // response headers the live answer must not carry
		copyAbsent []string // response headers the stale copy must not carry
		notStored  bool     // the answer must not become a copy
	}{
		{name: "Alt-Svc sends browsers around Awning", path: "/altsvc",
			header:     []string{`Alt-Svc: h2="origin-direct.example:443"; ma=2592000`},
			liveAbsent: []string{"Alt-Svc"}, copyAbsent: []string{"Alt-Svc"}},
		{name: "a header the origin's Connection names is hop-by-hop", path: "/conn",
			header:     []string{"Connection: X-Backend-Token", "X-Backend-Token: SECRET"},
			liveAbsent: []string{"X-Backend-Token"}, copyAbsent: []string{"X-Backend-Token"}},
		{name: "Clear-Site-Data is an instruction for one answer", path: "/csd",
			header:     []string{`Clear-Site-Data: "cookies", "storage"`},
			copyAbsent: []string{"Clear-Site-Data"}},
		{name: "Set-Cookie2 sets a cookie", path: "/sc2",
			header: []string{"Set-Cookie2: sid=SECRET; Version=1"}, notStored: true},
		{name: "Surrogate-Control no-store speaks to Awning", path: "/surrogate",
			header: []string{"Surrogate-Control: no-store"}, notStored: true},
		{name: "CDN-Cache-Control private speaks to Awning", path: "/cdncc",
			header: []string{"CDN-Cache-Control: private"}, notStored: true},
		{name: "CDN-Cache-Control no-store speaks to Awning", path: "/cdncc2",
			header: []string{"Cache-Control: public, max-age=60", "CDN-Cache-Control: no-store"}, notStored: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, testkit.Respond(200, page, tt.header...))
			p := startProxy(t, staleSite(o.URL()))
			resp, _ := rtGet(t, p.addr, tt.path)
			if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" {
				t.Fatalf("live: %d %q", resp.StatusCode, resp.Header.Get("Awning-Served"))
			}
			for _, h := range tt.liveAbsent {
				if v := resp.Header.Get(h); v != "" {
					t.Errorf("live answer carries %s: %q", h, v)
				}
			}
			stored := strings.Contains(resp.Header.Get("Cache-Status"), "stored")
			if tt.notStored && stored {
				t.Errorf("answer stored: %q", resp.Header.Get("Cache-Status"))
			}
			if !tt.notStored && !stored {
				t.Fatalf("answer not stored: %q", resp.Header.Get("Cache-Status"))
			}
			o.Refuse()
			resp, body := rtGet(t, p.addr, tt.path)
			switch served := resp.Header.Get("Awning-Served"); {
			case tt.notStored && served != "outage":
				t.Errorf("in the outage: %q %.80q; want the outage page, no copy", served, body)
			case !tt.notStored && served != "stale":
				t.Errorf("in the outage: %q; want the copy", served)
			}
			for _, h := range tt.copyAbsent {
				if v := resp.Header.Get(h); v != "" {
					t.Errorf("copy carries %s: %q", h, v)
				}
			}
		})
	}
}
