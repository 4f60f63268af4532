package proxy

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// heldOrigin answers requests for paths under /held only once release is
// closed, and everything else at once.
func heldOrigin(release <-chan struct{}, b testkit.Behavior) testkit.Behavior {
	return func(x *testkit.Exchange) {
		if strings.HasPrefix(x.Request.URL.Path, "/held") {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		b(x)
	}
}

// concurrently sends n GETs for path and returns their answers once all
// came back, failing the test if any did not within limit.
func concurrently(t *testing.T, p *testProxy, n int, path string, limit time.Duration, header ...string) []*http.Response {
	t.Helper()
	type result struct {
		resp *http.Response
		err  error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			resp, _, err := rawGet(p.addr, "shop.example", path, header...)
			results <- result{resp, err}
		}()
	}
	var out []*http.Response
	deadline := time.After(limit)
	for range n {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("GET %s: %v", path, r.err)
			}
			out = append(out, r.resp)
		case <-deadline:
			t.Fatalf("GET %s: %d of %d answers within %s: requests hang", path, len(out), n, limit)
		}
	}
	return out
}

// TestFlightLeaderPanic: a panic in the leader of a collapsed request (here
// in the storing rules, on a nil policy: a stand-in for any bug) fails the
// flight: the leader and its followers get the fallback at once, the panic
// is counted, and the page is not stranded: the next request for it goes to
// the origin.
func TestFlightLeaderPanic(t *testing.T) {
	release := make(chan struct{})
	o := testkit.NewOrigin(t, heldOrigin(release, testkit.Respond(404, "<p>no such product</p>")))
	p := startProxy(t, staleSite(o.URL()))
	st := p.snap.Load().states[0]
	saved := st.policy
	st.policy = nil // Policy.Check of a 404 on nil panics

	const n = 5
	go func() {
		testkit.WaitFor(t, 10*time.Second, "five requests in one flight", func() bool { return p.flights.joined.Load() == n })
		close(release)
	}()
	answers := concurrently(t, p, n, "/held/product", 10*time.Second)
	collapsed := 0
	for _, resp := range answers {
		if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" {
			t.Errorf("after the leader's panic: %d %q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
		if strings.Contains(resp.Header.Get("Cache-Status"), "detail=collapsed") {
			collapsed++
		}
	}
	if collapsed != n-1 {
		t.Errorf("%d followers saw the flight fail; want %d", collapsed, n-1)
	}
	if got := o.RequestsFor("/held/product"); got != 1 {
		t.Errorf("the origin got %d requests for one flight; want 1", got)
	}
	if got := p.Stats().Panics; got != 1 {
		t.Errorf("panics counted: %d; want 1", got)
	}

	st.policy = saved
	resp, body := p.get(t, "shop.example", "/held/product")
	if resp.StatusCode != 404 || !strings.Contains(body, "no such product") || resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("after the panic: %d %q; want the origin's answer", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	if got := o.RequestsFor("/held/product"); got != 2 {
		t.Errorf("the origin got %d requests; want the page's flight to have ended", got)
	}
}

// TestFollowersGiveUp: when the origin hangs, a flight's followers do not
// wait longer than the origin timeout, copy or not.
func TestFollowersGiveUp(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Hang())
	p := startProxy(t, strings.Replace(oneSite(o.URL(), "fallback_after: 200ms"), "timeout: 2s", "timeout: 500ms", 1))
	start := time.Now()
	for _, resp := range concurrently(t, p, 4, "/product/1", 5*time.Second) {
		if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" {
			t.Errorf("hanging origin: %d %q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
	}
	if took := time.Since(start); took > 500*time.Millisecond+2*time.Second {
		t.Errorf("answers took %s; want about the origin timeout (500ms), plus slack", took)
	}
}

// TestCollapseOnlyBetweenEquals: two requests for one URL overlap at a slow
// origin. They share its answer only when both are anonymous; a personal
// request (a session cookie of a platform Awning has never heard of, or any
// cookie off the anonymous list) neither gives its answer to an anonymous
// one nor gets the anonymous one's. A header Awning drops (X-Host) never
// reaches the origin, so it cannot make an answer others share.
func TestCollapseOnlyBetweenEquals(t *testing.T) {
	for _, tt := range []struct {
		name           string
		first, second  []string
		originRequests int
	}{
		{"session cookie first", []string{"Cookie", "JSESSIONID=SECRETUSER"}, nil, 2},
		{"session cookie second", nil, []string{"Cookie", "JSESSIONID=SECRETUSER"}, 2},
		{"currency cookie first", []string{"Cookie", "currency=SECRETUSD"}, nil, 2},
		{"authorization first", []string{"Authorization", "Bearer SECRETTOKEN"}, nil, 2},
		{"dropped header first", []string{"X-Host", "SECRET.example"}, nil, 1},
		{"analytics cookies only", []string{"Cookie", "_ga=GA1.2.3; CookieConsent=yes"}, nil, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			o := testkit.NewOrigin(t, heldOrigin(release, func(x *testkit.Exchange) {
				who := "anonymous"
				for _, h := range []string{"Cookie", "Authorization", "X-Host"} {
					if v := x.Request.Header.Get(h); strings.Contains(v, "SECRET") {
						who = v
					}
				}
				x.Write(testkit.Response(200, "<p>page for "+who+"</p>"))
				x.KeepAlive = true
			}))
			p := startProxy(t, staleSite(o.URL()))
			type answer struct {
				resp *http.Response
				body string
				err  error
			}
			first := make(chan answer, 1)
			go func() {
				resp, body, err := rawGet(p.addr, "shop.example", "/held/account", tt.first...)
				first <- answer{resp, body, err}
			}()
			testkit.WaitFor(t, 5*time.Second, "the first request at the origin", func() bool { return o.Requests() == 1 })
			second := make(chan answer, 1)
			go func() {
				resp, body, err := rawGet(p.addr, "shop.example", "/held/account", tt.second...)
				second <- answer{resp, body, err}
			}()
			// The second request either reaches the origin too, or (for
			// equals) joins the first one's flight.
			testkit.WaitFor(t, 5*time.Second, "the second request at the origin or in the flight", func() bool {
				return o.Requests() == 2 || p.flights.joined.Load() == 2
			})
			close(release)
			a, b := <-first, <-second
			if a.err != nil || b.err != nil {
				t.Fatal(a.err, b.err)
			}
			for i, ans := range []answer{a, b} {
				header := [][]string{tt.first, tt.second}[i]
				mine := len(header) > 0 && strings.Contains(header[1], "SECRET") && tt.originRequests == 2
				if strings.Contains(ans.body, "SECRET") != mine {
					t.Errorf("request %d (%q) got %q", i+1, header, ans.body)
				}
			}
			if got := int(o.Requests()); got != tt.originRequests {
				t.Errorf("the origin got %d requests; want %d", got, tt.originRequests)
			}
			if tt.originRequests == 1 && !strings.Contains(b.resp.Header.Get("Cache-Status"), "collapsed") {
				t.Errorf("equals were not collapsed: %q", b.resp.Header.Get("Cache-Status"))
			}
		})
	}
}

// TestBypassAnswersArePrivate: what a shopper let through maintenance gets
// shows a shop closed to everyone else: no cache between Awning and the
// shopper may keep it, whatever the origin said.
func TestBypassAnswersArePrivate(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Respond(200, productPage, "Cache-Control: public, max-age=600"))
	p := startProxy(t, staleSite(o.URL()))
	p.get(t, "shop.example", "/product/1") // a copy, made before maintenance
	p.ApplyState("shop", SiteState{Maintenance: &Maintenance{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	resp, _ := p.get(t, "shop.example", "/product/1")
	if resp.Header.Get("Awning-Served") != "origin" || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Errorf("bypass, origin: %q Cache-Control %q; want private, no-store", resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Control"))
	}
	o.Refuse()
	resp, _ = p.get(t, "shop.example", "/product/1")
	if resp.Header.Get("Awning-Served") != "stale" || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Errorf("bypass, stale: %q Cache-Control %q; want private, no-store", resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Control"))
	}
	resp, _ = p.get(t, "shop.example", "/product/2")
	if resp.Header.Get("Awning-Served") != "outage" || resp.Header.Get("Cache-Control") != "private, no-store" {
		t.Errorf("bypass, outage: %q Cache-Control %q; want private, no-store", resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Control"))
	}
	p.ApplyState("shop", SiteState{})
	if resp, _ := p.get(t, "shop.example", "/product/1"); resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("without maintenance: Cache-Control %q; want the stale copy's no-store", resp.Header.Get("Cache-Control"))
	}
}
