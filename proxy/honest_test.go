package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
)

// siteTimeout is oneSite with the origin timeout set to timeout.
func siteTimeout(origin, timeout string, extra ...string) string {
	return strings.Replace(oneSite(origin, extra...), "timeout: 2s", "timeout: "+timeout, 1)
}

// post sends a form POST through the proxy.
func (p *testProxy) post(t testing.TB, host, path, form string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+p.addr+path, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestPostToHungOriginIsUnconfirmed: an order sent to an origin that never
// answers waits write_timeout (not the page timeout), is sent exactly once,
// and gets the unconfirmed page: 504, it may have gone through, do not pay
// again, contact the shop. Writes do not count towards hang_after.
func TestPostToHungOriginIsUnconfirmed(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Hang())
	p := startProxy(t, siteTimeout(o.URL(), "500ms", "write_timeout: 1500ms",
		"health: {hang_after: 100ms}"))
	start := time.Now()
	resp, body := p.post(t, "shop.example", "/checkout", "order=BDV-1001&pay=ideal", "Accept-Language", "en")
	elapsed := time.Since(start)

	if resp.StatusCode != 504 || resp.Header.Get("Awning-Served") != "unconfirmed" {
		t.Fatalf("got %d %q; want 504 unconfirmed", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	if elapsed < 1500*time.Millisecond {
		t.Errorf("answered after %s; want at least write_timeout (1.5s), not the page timeout (500ms)", elapsed)
	}
	if n := o.RequestsFor("/checkout"); n != 1 {
		t.Errorf("the origin received the order %d times; want exactly once", n)
	}
	for _, want := range []string{"We couldn’t confirm your order", "It may well have.", "Please don’t order or pay again yet", `href="/">Back to the shop</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "http-equiv=\"refresh\"") {
		t.Error("the unconfirmed page moves by itself: a reload would send the order again")
	}
	if got := resp.Header.Get("Retry-After"); got != "" {
		t.Errorf("Retry-After %q: an order that may have gone through must not invite a retry", got)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("headers: %v", resp.Header)
	}
	st := p.Stats().Sites[0]
	if st.Served[OutcomeUnconfirmed] != 1 {
		t.Errorf("unconfirmed counted %d times; want 1", st.Served[OutcomeUnconfirmed])
	}
	if st.Health.Hangs != 0 || !st.Health.Open {
		t.Errorf("a slow order declared the origin down (hangs %d, open %v)", st.Health.Hangs, st.Health.Open)
	}

	// API clients get JSON, without retry_after.
	resp, body = p.post(t, "shop.example", "/api/orders", "{}", "Accept", "application/json")
	if resp.StatusCode != 504 || !strings.HasPrefix(body, `{"error":"unconfirmed","message":{"nl":`) || strings.Contains(body, "retry_after") {
		t.Errorf("API: %d %s", resp.StatusCode, body)
	}
}

// TestPostOutcomes: only an order that went out is unconfirmed; one
// refused before anything was sent keeps the outage page, as the answer to
// a form: its return script goes back to the page the form was on.
func TestPostOutcomes(t *testing.T) {
	for _, tt := range []struct {
		name   string
		origin func(*testkit.Origin, *testProxy)
		status int
		served string
	}{
		{"refused", func(o *testkit.Origin, _ *testProxy) { o.Refuse() }, 503, "outage"},
		{"circuit open", func(_ *testkit.Origin, p *testProxy) { p.Health("shop").SetForce(health.ForceFallback) }, 503, "outage"},
		{"reset after the request", func(o *testkit.Origin, _ *testProxy) { o.Set(testkit.ResetOnRequest()) }, 504, "unconfirmed"},
		{"502", func(o *testkit.Origin, _ *testProxy) { o.Set(testkit.Status(502)) }, 504, "unconfirmed"},
		{"answered", func(*testkit.Origin, *testProxy) {}, 303, "origin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, testkit.Respond(303, "", "Location: /cart"))
			p := startProxy(t, siteTimeout(o.URL(), "500ms", "write_timeout: 1s"))
			tt.origin(o, p)
			resp, body := p.post(t, "shop.example", "/cart/add", "id=3&qty=1")
			if resp.StatusCode != tt.status || resp.Header.Get("Awning-Served") != tt.served {
				t.Fatalf("got %d %q; want %d %s", resp.StatusCode, resp.Header.Get("Awning-Served"), tt.status, tt.served)
			}
			if tt.served == "outage" {
				if !strings.Contains(body, `<meta name="awning-return" content="form">`) || strings.Contains(body, `http-equiv="refresh"`) {
					t.Errorf("the outage page answering a form is the browsing one: %.2000s", body)
				}
			}
		})
	}
}

// waiters asks for n pages no one visited (no copy) at once and returns,
// through the channel, when each answer came and what it was.
type answered struct {
	at         time.Time
	status     int
	served, cs string
	err        error
}

func waiters(p *testProxy, n int) <-chan answered {
	out := make(chan answered, n)
	for i := range n {
		go func() {
			req, _ := http.NewRequest("GET", "http://"+p.addr+"/never/visited/"+string(rune('a'+i)), nil)
			req.Host = "shop.example"
			resp, err := client.Do(req)
			a := answered{at: time.Now(), err: err}
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				a.status, a.served, a.cs = resp.StatusCode, resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status")
			}
			out <- a
		}()
	}
	return out
}

// checkReleased asserts that every waiter got the outage page because the
// origin was declared down (detail=origin-down), within 100ms of the
// moment health marked it down (the origin's Since, set before waiters are
// released).
func checkReleased(t *testing.T, p *testProxy, got <-chan answered, n int) (declared time.Time) {
	t.Helper()
	var last time.Time
	for range n {
		a := <-got
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.status != 503 || a.served != "outage" || !strings.Contains(a.cs, "detail=origin-down") {
			t.Errorf("waiter got %d %q %q; want the outage page, released by the origin going down", a.status, a.served, a.cs)
		}
		if a.at.After(last) {
			last = a.at
		}
	}
	h := p.Stats().Sites[0].Health
	if !h.Tripped {
		t.Fatal("the waiters were answered but the circuit did not trip")
	}
	declared = h.Origins[0].Since
	if worst := last.Sub(declared); worst > 100*time.Millisecond {
		t.Errorf("the last waiter was answered %s after the origin was declared down; want within 100ms", worst)
	} else {
		t.Logf("the last waiter was answered %s after the origin was declared down", worst)
	}
	return declared
}

// TestWaitersReleasedWhenOriginDeclaredDown: shoppers waiting for pages
// without a copy get the outage page as soon as probes declare the origin
// down, not when the origin timeout (10s) runs out.
func TestWaitersReleasedWhenOriginDeclaredDown(t *testing.T) {
	var broken atomic.Bool
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		if x.Request.URL.Path == "/healthz" && !broken.Load() {
			x.Write(testkit.Response(200, "ok"))
			x.KeepAlive = true
			return
		}
		testkit.Hang()(x)
	})
	p := startProxy(t, siteTimeout(o.URL(), "10s", "fallback_after: 3s",
		"health: {path: /healthz, interval: 100ms, timeout: 50ms, fall: 2, hang_after: 10s}"))
	t.Cleanup(o.Close) // before the proxy's: releases the fetches still waiting

	const n = 4
	got := waiters(p, n)
	testkit.WaitFor(t, 5*time.Second, "the shoppers to wait on the origin", func() bool { return o.RequestsFor("/never/visited/") == n })
	broken.Store(true) // now the probes hang too
	checkReleased(t, p, got, n)
	if h := p.Stats().Sites[0].Health; h.Downs != 1 || !h.Tripped || h.Hangs != 0 {
		t.Errorf("health: downs %d tripped %v hangs %d; want released once, by the probes", h.Downs, h.Tripped, h.Hangs)
	}
}

// TestHungOriginKnownDownWithoutProbes: with no health path, an origin that
// accepts requests and never answers is declared down hang_after after the
// first one waits, and the shoppers waiting without a copy get the outage
// page then.
func TestHungOriginKnownDownWithoutProbes(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Hang())
	p := startProxy(t, siteTimeout(o.URL(), "10s", "health: {hang_after: 300ms}"))
	t.Cleanup(o.Close) // before the proxy's: releases the fetches still waiting

	start := time.Now()
	got := waiters(p, 2)
	declared := checkReleased(t, p, got, 2)
	h := p.Stats().Sites[0].Health
	if h.Hangs != 1 || !h.Tripped || h.Origins[0].State != health.Down || !strings.HasPrefix(h.Origins[0].Reason, "no answer for ") {
		t.Errorf("health: hangs %d tripped %v origin %+v; want declared down by hang_after", h.Hangs, h.Tripped, h.Origins[0])
	}
	if d := declared.Sub(start); d < 300*time.Millisecond {
		t.Errorf("declared down %s after the first request; want no sooner than hang_after", d)
	}
	// Known down: the next shopper is not sent to the origin at all.
	before := o.Requests()
	resp, _ := p.get(t, "shop.example", "/another/page")
	if resp.Header.Get("Awning-Served") != "outage" || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=tripped") || o.Requests() != before {
		t.Errorf("after the trip: %q %q, origin asked %d more", resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"), o.Requests()-before)
	}
}

// TestSlowOriginIsNotHung: exchanges that end, however slowly, keep the
// origin up: hang_after judges silence, not slowness.
func TestSlowOriginIsNotHung(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Slow(150*time.Millisecond, testkit.OK("<p>slow</p>")))
	p := startProxy(t, siteTimeout(o.URL(), "2s", "health: {hang_after: 200ms}"))
	// Rounds of two requests at once, each answered after 150ms: never
	// 200ms without an answer.
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", "http://"+p.addr+"/slow/"+string(rune('a'+2*round+i)), nil)
				req.Host = "shop.example"
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
	}
	if h := p.Stats().Sites[0].Health; h.Hangs != 0 || !h.Open {
		t.Errorf("a slow but answering origin was declared hung: hangs %d open %v", h.Hangs, h.Open)
	}
	if got := p.Stats().Sites[0].Served[OutcomeOrigin]; got != 6 {
		t.Errorf("%d origin answers; want 6", got)
	}
}
