package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// The canary matrix: a personal page (one a session cookie unlocks) must
// never reach an anonymous request, live or stale, whatever the platform's
// session cookie is called, whatever path trick asks for it, whether the
// two requests overlap (collapsing) or not, and in either tier.

// platformSessions are session cookies of shop platforms Awning has never
// been told about: the personal page is unlocked by any of them. %s is the
// canary value. Every row also carries analytics and consent cookies,
// which must not make a personal request look anonymous.
var platformSessions = []struct{ platform, cookie string }{
	{"PHP", "PHPSESSID=%s"},
	{"PHP, comma-separated", "theme=dark, PHPSESSID=%s"},
	{"Java", "JSESSIONID=%s"},
	{"Node", "connect.sid=s%%3A%s"},
	{"Laravel", "XSRF-TOKEN=x; laravel_session=%s"},
	{"Django", "csrftoken=x; sessionid=%s"},
	{"Rails", "_shop_session=%s"},
	{"ASP.NET", "ASP.NET_SessionId=%s"},
	{"Magento", "frontend=%s"},
	{"Shopware", "sw-context-token=%s"},
	{"PrestaShop", "PrestaShop-9f2c1d0e8b7a=%s"},
	{"CMS comment author", "comment_author_9f2c1d0e=%s"},
	{"CMS protected page", "wp-postpass_9f2c1d0e=%s"},
}

// deceptionPaths are web cache deception paths: the origin serves the page
// its prefix names (path info, path parameters, an encoded ;, # or ?),
// while the path looks like a static asset.
var deceptionPaths = []string{
	"/account.php/x.css",
	"/account;x.css",
	"/account%3Bx.css",
	"/account%23x.css",
	"/account%3Fx.css",
	"/account/.well-known/x.png",
}

// canaryGates lets the origin hold a personal request until the anonymous
// request for the same path reached it too: proof that the two were not
// collapsed into one origin request. Held requests give up after a while,
// so a proxy that does collapse them fails the test instead of hanging it.
type canaryGates struct {
	mu    sync.Mutex
	gates map[string]chan struct{}
}

func (g *canaryGates) gate(path string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates == nil {
		g.gates = map[string]chan struct{}{}
	}
	c, ok := g.gates[path]
	if !ok {
		c = make(chan struct{})
		g.gates[path] = c
	}
	return c
}

// canaryPlatform is an origin that renders a page for whoever its
// session cookie names (any cookie outside analytics and consent counts as
// one here), marks nothing private, sets no cookie, and types the answer
// after the path's extension: the worst origin for a cache.
func canaryPlatform(g *canaryGates) testkit.Behavior {
	return func(x *testkit.Exchange) {
		r := x.Request
		ctype := "text/html; charset=utf-8"
		switch {
		case strings.HasSuffix(r.RequestURI, ".css"):
			ctype = "text/css"
		case strings.HasSuffix(r.RequestURI, ".png"):
			ctype = "image/png"
		}
		body := "<p>sign in to see your account</p>"
		if c := r.Header.Get("Cookie"); strings.Contains(c, "CANARY-") {
			i := strings.Index(c, "CANARY-")
			body = "<p>account of " + c[i:i+len("CANARY-")+8] + ": name, e-mail, orders</p>"
			if strings.Contains(r.RequestURI, "/held") {
				select {
				case <-g.gate(r.URL.EscapedPath()):
				case <-time.After(3 * time.Second):
				}
			}
		} else if strings.Contains(r.RequestURI, "/held") {
			close(g.gate(r.URL.EscapedPath()))
		}
		x.Write(testkit.Response(200, body, "Content-Type: "+ctype))
		x.KeepAlive = true
	}
}

// canaryCell is one row of the matrix: a platform's session cookie, a
// deception path, and whether the personal and anonymous requests overlap.
type canaryCell struct {
	path, cookie, canary string
	held                 bool
}

func canaryCells() []canaryCell {
	var cells []canaryCell
	n := 0
	for _, held := range []bool{false, true} {
		for _, ps := range platformSessions {
			for _, dp := range deceptionPaths {
				n++
				canary := fmt.Sprintf("CANARY-%08d", n)
				prefix := fmt.Sprintf("/c%d", n)
				if held {
					prefix += "/held"
				}
				cells = append(cells, canaryCell{
					path:   prefix + dp,
					cookie: "_ga=GA1.2.3; CookieConsent=yes; " + fmt.Sprintf(ps.cookie, canary) + "; _fbp=fb.1",
					canary: canary,
					held:   held,
				})
			}
		}
	}
	return cells
}

// rawGet is a GET for use off the test's goroutine: it returns an error
// instead of failing the test.
func rawGet(addr, host, path string, header ...string) (*http.Response, string, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Host = host
	req.URL.Opaque = path // the path exactly as written: %3B, %23 and %3F stay encoded
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func TestCanaryMatrix(t *testing.T) {
	for _, tier := range []string{"memory", "redis"} {
		t.Run(tier, func(t *testing.T) {
			t.Parallel()
			g := &canaryGates{}
			o := testkit.NewOrigin(t, canaryPlatform(g))
			yaml := staleSite(o.URL())
			var live, stale []*testProxy
			if tier == "memory" {
				p := startProxy(t, yaml)
				live, stale = []*testProxy{p}, []*testProxy{p}
			} else {
				a, b, _ := sharedProxies(t, yaml)
				live, stale = []*testProxy{a}, []*testProxy{a, b} // b reads every copy from Redis
			}
			p := live[0]
			cells := canaryCells()
			for _, c := range cells {
				runCanaryCell(t, p, o, c)
			}
			if tier == "redis" {
				testkit.WaitFor(t, 20*time.Second, "the anonymous copies in redis", func() bool {
					return int(p.Cache().Stats().RedisWrites) >= len(cells)
				})
			}

			o.Refuse()
			for _, node := range stale {
				for _, c := range cells {
					resp, body, err := rawGet(node.addr, "shop.example", c.path)
					if err != nil {
						t.Fatalf("%s in the outage: %v", c.path, err)
					}
					if strings.Contains(body, "CANARY") {
						t.Fatalf("%s: a personal page reached an anonymous shopper in the outage: %q", c.path, body)
					}
					// The control: the anonymous answer was kept, so the
					// absence of the canary is not the absence of copies.
					if resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(body, "sign in") {
						t.Errorf("%s in the outage: %q %q; want the anonymous copy", c.path, resp.Header.Get("Awning-Served"), body)
					}
					// A personal request may get the anonymous copy too:
					// never its own page, and never another's.
					resp, body, err = rawGet(node.addr, "shop.example", c.path, "Cookie", c.cookie)
					if err != nil || strings.Contains(body, "CANARY") || resp.Header.Get("Awning-Served") != "stale" {
						t.Fatalf("%s, personal, in the outage: %v %.200q", c.path, err, body)
					}
				}
			}
			st := p.Cache().Stats()
			if got := st.NotStored["personal-request"]; got != uint64(len(cells)) {
				t.Errorf("%d personal answers not stored; want %d", got, len(cells))
			}
		})
	}
}

// runCanaryCell sends the cell's personal request and an anonymous one for
// the same path. Apart, the anonymous one goes first, so that a personal
// answer kept by mistake would replace its copy and show in the outage.
// Overlapping, the personal one goes first and is held at the origin until
// the anonymous one reached the origin too: were they collapsed, the
// anonymous one would wait on the personal one's answer.
func runCanaryCell(t *testing.T, p *testProxy, o *testkit.Origin, c canaryCell) {
	t.Helper()
	type result struct {
		resp *http.Response
		body string
		err  error
	}
	personal := make(chan result, 1)
	sendPersonal := func() {
		resp, body, err := rawGet(p.addr, "shop.example", c.path, "Cookie", c.cookie)
		personal <- result{resp, body, err}
	}
	if c.held {
		go sendPersonal()
		testkit.WaitFor(t, 5*time.Second, "the personal request at the origin", func() bool { return o.RequestsFor(c.path) >= 1 })
	}
	resp, body, err := rawGet(p.addr, "shop.example", c.path)
	if err != nil {
		t.Fatalf("%s anonymous: %v", c.path, err)
	}
	if strings.Contains(body, "CANARY") {
		t.Fatalf("%s: the anonymous shopper got the personal page (held %v): %q %q", c.path, c.held, resp.Header.Get("Cache-Status"), body)
	}
	if resp.Header.Get("Awning-Served") != "origin" || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
		t.Errorf("%s anonymous: %q %q; want the origin's answer, stored", c.path, resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"))
	}
	if !c.held {
		sendPersonal()
	}
	r := <-personal
	if r.err != nil {
		t.Fatalf("%s personal: %v", c.path, r.err)
	}
	if !strings.Contains(r.body, c.canary) {
		t.Fatalf("%s personal: %.200q; want its own page", c.path, r.body)
	}
	if cs := r.resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=personal-request") {
		t.Errorf("%s personal: Cache-Status %q; want not stored, personal", c.path, cs)
	}
}
