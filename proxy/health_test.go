package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
)

// TestBlackholedOriginTripsCircuit: an origin that accepts and never
// answers is found down by probes after exactly `fall` failed probes (at
// most fall × interval + timeout), after which shoppers get the fallback
// without a single request reaching the origin; when it heals, traffic
// returns after `rise` good probes.
func TestBlackholedOriginTripsCircuit(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Hang())
	p := startProxy(t, oneSite(o.URL(), "health: {path: /healthz, interval: 100ms, timeout: 50ms, rise: 2, fall: 2}"))
	h := p.Health("shop")

	testkit.WaitFor(t, 10*time.Second, "the circuit to trip", func() bool { return h.Stats().Tripped })
	if st := h.Stats(); st.ProbesFailed != 2 {
		t.Errorf("tripped after %d failed probes; want fall = 2", st.ProbesFailed)
	}
	if _, body := p.get(t, "shop.example", "/.well-known/awning/health"); body != `{"open":false}` {
		t.Errorf("health = %s; want closed", body)
	}

	before := o.RequestsFor("/product")
	for i := 0; i < 20; i++ {
		resp, _ := p.get(t, "shop.example", "/product/1")
		if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" {
			t.Fatalf("request %d: %d %q; want the outage page", i, resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
	}
	if n := o.RequestsFor("/product") - before; n != 0 {
		t.Errorf("%d shopper requests reached a tripped origin; want 0", n)
	}
	// As metrics read it: the requests the site's copy of the circuit
	// kept from the origin are counted by the proxy, not by its health.
	if n := p.Stats().Sites[0].Health.ShortCircuited; n < 20 {
		t.Errorf("short-circuited %d; want 20", n)
	}

	okBefore := h.Stats().ProbesOK
	o.Set(testkit.OK("back"))
	testkit.WaitFor(t, 10*time.Second, "the site to open", func() bool { return h.Open() })
	if n := h.Stats().ProbesOK - okBefore; n > 3 {
		t.Errorf("opened after %d good probes; want rise = 2 (one more for polling)", n)
	}
	if resp, body := p.get(t, "shop.example", "/product/1"); resp.StatusCode != 200 || body != "back" {
		t.Errorf("after healing: %d %q", resp.StatusCode, body)
	}
}

// TestPassiveDetectionWithoutProbes: with no health.path, failed live
// answers trip the circuit, and recovery probes (HEAD /) bring it back.
func TestPassiveDetectionWithoutProbes(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Status(502))
	p := startProxy(t, oneSite(o.URL(), "health: {interval: 100ms, timeout: 50ms, rise: 1}"))
	h := p.Health("shop")
	for i := 0; i < 3; i++ {
		p.get(t, "shop.example", "/product/1")
	}
	if !h.Stats().Tripped {
		t.Fatal("3 failed answers in a row did not trip the circuit")
	}
	n := o.RequestsFor("/product")
	p.get(t, "shop.example", "/product/1")
	if o.RequestsFor("/product") != n {
		t.Error("a tripped origin got a shopper request")
	}
	o.Set(testkit.OK("back"))
	testkit.WaitFor(t, 10*time.Second, "recovery probes to open the site", func() bool { return h.Open() })
	var heads int
	for _, r := range o.Received() {
		if r.Method == "HEAD" && r.RequestURI == "/" {
			heads++
		}
	}
	if heads == 0 {
		t.Error("no HEAD / recovery probe reached the origin")
	}
}

// TestOneOfTwoOriginsDown: whichever way one origin fails, no shopper
// request fails.
func TestOneOfTwoOriginsDown(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    testkit.Behavior
		down bool
	}{
		{"refusing", nil, true},
		{"502", testkit.Status(502), false},
		{"reset", testkit.ResetOnRequest(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := testkit.NewOrigin(t, testkit.Respond(200, "a"))
			b := testkit.NewOrigin(t, tt.b)
			if tt.down {
				b.Refuse()
			}
			p := startProxy(t, oneSite(a.URL()+", "+b.URL()))
			for i := 0; i < 30; i++ {
				method := http.MethodGet
				if i%3 == 2 && tt.down {
					method = http.MethodPost // POST moves on only when nothing was sent
				}
				resp, body := p.do(t, method, "shop.example", "/product/1")
				if resp.StatusCode != 200 || body != "a" {
					t.Fatalf("request %d (%s): %d %q; want 200 from a", i, method, resp.StatusCode, body)
				}
			}
			if st := p.Health("shop").Stats(); st.Origins[1].State != health.Down {
				t.Errorf("origin b is %v; want down", st.Origins[1].State)
			}
		})
	}
}

func TestPostNotRetriedOnAnotherOriginAfterSending(t *testing.T) {
	a := testkit.NewOrigin(t, testkit.Respond(200, "a"))
	b := testkit.NewOrigin(t, testkit.Status(502))
	p := startProxy(t, oneSite(b.URL()+", "+a.URL()))
	for i := 0; i < 2; i++ {
		p.do(t, http.MethodPost, "shop.example", "/checkout")
	}
	if got := a.RequestsFor("/checkout") + b.RequestsFor("/checkout"); got != 2 {
		t.Errorf("origins saw %d checkouts for 2 POSTs; a POST that reached an origin must never be sent again", got)
	}
}

// TestMaxInflightCapsOrigin: ten times the cap in concurrent shoppers; the
// origin never sees more than the cap, and the rest are answered at once.
func TestMaxInflightCapsOrigin(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Slow(300*time.Millisecond, testkit.OK("slow page")))
	p := startProxy(t, oneSite(o.URL(), "max_inflight: 5"))
	var ok, fallback atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := p.get(t, "shop.example", "/product/1")
			switch resp.Header.Get("Awning-Served") {
			case "origin":
				ok.Add(1)
			case "outage":
				fallback.Add(1)
			}
		}()
	}
	wg.Wait()
	if m := o.MaxInflight(); m > 5 {
		t.Errorf("origin saw %d requests at once; want at most max_inflight 5", m)
	}
	st := p.Health("shop").Stats()
	if ok.Load()+fallback.Load() != 50 || int64(st.Overflow) != fallback.Load() || ok.Load() < 5 {
		t.Errorf("origin %d, fallback %d, overflow counter %d", ok.Load(), fallback.Load(), st.Overflow)
	}
}

// TestSlowStartAfterRecovery: once the site comes back, the in-flight cap
// starts at 1 and ramps to max_inflight over slow_start; the origin never
// sees more than the cap of the moment. The clock is injected.
func TestSlowStartAfterRecovery(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	o := testkit.NewOrigin(t, testkit.Status(503))
	opt := options(t, oneSite(o.URL(), "max_inflight: 8", "slow_start: 100s", "health: {interval: 200ms, timeout: 150ms, rise: 1}"))
	opt.Now = clk.Now
	p := startProxyWith(t, opt)
	h := p.Health("shop")
	for i := 0; i < 3; i++ {
		p.get(t, "shop.example", "/")
	}
	if !h.Stats().Tripped {
		t.Fatal("not tripped")
	}
	o.Set(testkit.Slow(100*time.Millisecond, testkit.OK("ok")))
	testkit.WaitFor(t, 10*time.Second, "recovery", func() bool { return h.Open() })

	burst := func() {
		o.ResetMaxInflight()
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); p.get(t, "shop.example", "/product/1") }()
		}
		wg.Wait()
	}
	for _, step := range []struct {
		advance time.Duration
		cap     int64
	}{{0, 1}, {50 * time.Second, 4}, {60 * time.Second, 8}} {
		clk.Add(step.advance)
		if got := h.Stats().Limit; got != step.cap {
			t.Errorf("+%s: limit %d; want %d", step.advance, got, step.cap)
		}
		burst()
		if m := o.MaxInflight(); m > step.cap {
			t.Errorf("+%s: origin saw %d at once; want at most %d", step.advance, m, step.cap)
		}
	}
}

func TestForceFallbackConfig(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("page"))
	p := startProxy(t, strings.Replace(oneSite(o.URL()), "    api_paths:", "    force_fallback: true\n    api_paths:", 1))
	resp, _ := p.get(t, "shop.example", "/product/1")
	if resp.StatusCode != 503 || o.Requests() != 0 {
		t.Errorf("forced fallback: %d, origin saw %d requests", resp.StatusCode, o.Requests())
	}
	if _, body := p.get(t, "shop.example", "/.well-known/awning/health"); body != `{"open":false}` {
		t.Errorf("health under forced fallback = %s", body)
	}
	p.Health("shop").SetForce(health.ForceAuto)
	if resp, _ := p.get(t, "shop.example", "/product/1"); resp.StatusCode != 200 {
		t.Errorf("released: %d", resp.StatusCode)
	}
}

// TestWebhookOnePerTransition: an origin going down and coming back gives
// exactly two notifications, with site, origin, state and reason.
func TestWebhookOnePerTransition(t *testing.T) {
	var mu sync.Mutex
	var got []health.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e health.Event
		json.NewDecoder(r.Body).Decode(&e)
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	defer hook.Close()
	wh := health.NewWebhook(hook.URL, discardLogger())
	wh.Start()
	o := testkit.NewOrigin(t, testkit.Status(500))
	opt := options(t, oneSite(o.URL(), "health: {interval: 100ms, timeout: 50ms, rise: 1}"))
	opt.Notifier = wh
	p := startProxyWith(t, opt)
	for i := 0; i < 10; i++ { // three trip it; the rest are short-circuited
		p.get(t, "shop.example", "/")
	}
	o.Set(testkit.OK("ok"))
	testkit.WaitFor(t, 10*time.Second, "recovery", func() bool { return p.Health("shop").Open() })
	wh.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d notifications: %+v; want 2", len(got), got)
	}
	down, up := got[0], got[1]
	if down.Site != "shop" || down.Origin != o.URL() || down.State != "down" || down.Reason != "status 500" || down.SiteOpen {
		t.Errorf("down event = %+v", down)
	}
	if up.State != "up" || up.Previous != "down" || !up.SiteOpen {
		t.Errorf("up event = %+v", up)
	}
}
