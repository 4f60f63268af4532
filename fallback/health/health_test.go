package health

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/testkit"
)

// events records notifications.
type events struct {
	mu sync.Mutex
	ev []Event
}

func (e *events) Notify(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ev = append(e.ev, ev)
}

func (e *events) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.ev...)
}

// originConfig returns defaults-filled origin config with changes applied.
func originConfig(t *testing.T, yaml string) *config.Origin {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(`
sites:
  - name: shop
    hosts: [shop.example]
    origin:
      urls: ["http://127.0.0.1:1", "http://127.0.0.1:2"]
`+yaml))
	if err != nil {
		t.Fatal(err)
	}
	return &cfg.Sites[0].Origin
}

func newClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
}

func newSite(t *testing.T, oc *config.Origin, c *testkit.Clock, ev *events, tr Transport) *Site {
	t.Helper()
	return newSiteOn(t, nil, "shop", "shop.example", oc, c, ev, tr)
}

// newSiteOn builds a site whose origins are probed through p (a Prober
// made for the test when nil and tr is set).
func newSiteOn(t *testing.T, p *Prober, name, host string, oc *config.Origin, c *testkit.Clock, ev *events, tr Transport) *Site {
	t.Helper()
	cfg := Config{
		Site: name, Origins: oc.URLs, Origin: oc, ProbeHost: host,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now,
	}
	if tr != nil {
		if p == nil {
			p = newProber(t, c)
		}
		cfg.Prober = p
		for range oc.URLs {
			cfg.Transports = append(cfg.Transports, tr)
		}
	}
	if ev != nil {
		cfg.Notify = ev
	}
	s := New(cfg, nil)
	t.Cleanup(s.Close)
	return s
}

// newProber returns a Prober that is not started: tests run rounds with
// probeAll, one at a time.
func newProber(t *testing.T, c *testkit.Clock) *Prober {
	p := NewProber(ProberConfig{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now})
	t.Cleanup(p.Close)
	return p
}

// probeAll runs one round of every endpoint of s's origins that needs
// one, as the scheduler would at their due time.
func (s *Site) probeAll() {
	seen := map[*Endpoint]bool{}
	for _, o := range s.origins {
		if o.ep != nil && !seen[o.ep] {
			seen[o.ep] = true
			if o.ep.needsRound() {
				o.ep.round(context.Background())
			}
		}
	}
}

var fail = Result{Failed: true, Reason: "refused"}

func TestPassiveConsecutiveFailuresTrip(t *testing.T) {
	c, ev := newClock(), &events{}
	s := newSite(t, originConfig(t, ""), c, ev, nil)
	for i := 0; i < 2; i++ {
		s.Report(0, fail)
	}
	if got := s.Pick(0, 0); got != 0 {
		t.Fatalf("after 2 failures Pick = %d; want origin 0 still used", got)
	}
	s.Report(0, fail) // the third in a row
	if got := s.Pick(0, 0); got != 1 {
		t.Errorf("after 3 failures Pick = %d; want origin 1", got)
	}
	if !s.Open() || s.Admit() != Admitted {
		t.Fatal("site closed with one origin up")
	}
	s.Done()
	for i := 0; i < 3; i++ {
		s.Report(1, Result{Failed: true, Reason: "timeout"})
	}
	if s.Open() {
		t.Error("site open with every origin down")
	}
	if got := s.Admit(); got != Tripped {
		t.Errorf("Admit = %v; want tripped", got)
	}
	if got := s.Pick(0, 0); got != -1 {
		t.Errorf("Pick = %d; want -1", got)
	}
	st := s.Stats()
	if st.ShortCircuited != 1 || !st.Tripped || st.Transitions != 2 || st.Trips != 1 {
		t.Errorf("stats = %+v", st)
	}
	got := ev.all()
	if len(got) != 2 || got[0].State != "down" || got[0].Origin != "http://127.0.0.1:1" || !got[0].SiteOpen ||
		got[1].SiteOpen || got[1].Reason != "timeout" || got[1].Previous != "up" {
		t.Errorf("events = %+v", got)
	}
}

func TestPassiveSuccessResetsRun(t *testing.T) {
	c := newClock()
	s := newSite(t, originConfig(t, "      health: {error_ratio: 1}\n"), c, nil, nil)
	for i := 0; i < 10; i++ {
		s.Report(0, fail)
		s.Report(0, fail)
		s.Report(0, Result{})
	}
	if st := s.Stats(); st.Origins[0].State != Up {
		t.Errorf("state = %v after failures never 3 in a row; want up", st.Origins[0].State)
	}
}

func TestErrorRatioTrips(t *testing.T) {
	c := newClock()
	s := newSite(t, originConfig(t, "      health: {passive_failures: 100, error_ratio: 0.5, min_requests: 10, window: 10s}\n"), c, nil, nil)
	for i := 0; i < 9; i++ { // alternate: never more than 1 failure in a row
		if i%2 == 0 {
			s.Report(0, fail)
		} else {
			s.Report(0, Result{})
		}
	}
	if st := s.Stats(); st.Origins[0].State != Up {
		t.Fatalf("tripped below min_requests: %v", st.Origins[0].State)
	}
	s.Report(0, Result{})
	s.Report(0, fail) // 11 answers, 6 failed
	if st := s.Stats(); st.Origins[0].State != Down || st.Origins[0].Reason != "error ratio: refused" {
		t.Errorf("state = %v (%s); want down by error ratio", st.Origins[0].State, st.Origins[0].Reason)
	}
}

func TestErrorRatioForgetsOldWindow(t *testing.T) {
	c := newClock()
	s := newSite(t, originConfig(t, "      health: {passive_failures: 100, min_requests: 4, window: 5s}\n"), c, nil, nil)
	s.Report(0, fail)
	s.Report(0, fail) // below min_requests: no verdict yet
	c.Add(10 * time.Second)
	s.Report(0, Result{})
	s.Report(0, Result{})
	s.Report(0, Result{})
	s.Report(0, fail) // 1 of 4 failed; with the old window it would be 3 of 6
	if st := s.Stats(); st.Origins[0].State != Up {
		t.Errorf("old failures counted after the window passed: %v", st.Origins[0].State)
	}
}

func TestSlowAnswersDegrade(t *testing.T) {
	c := newClock()
	s := newSite(t, originConfig(t, "      slow_after: 1s\n      health: {min_requests: 4}\n"), c, nil, nil)
	slow := Result{Latency: 2 * time.Second}
	for i := 0; i < 5; i++ {
		s.Report(0, slow)
	}
	if st := s.Stats(); st.Origins[0].State != Degraded {
		t.Fatalf("state = %v; want degraded", st.Origins[0].State)
	}
	if got := s.Pick(0, 0); got != 1 {
		t.Errorf("Pick = %d; want the fast origin 1 first", got)
	}
	if got := s.Pick(0, 1<<1); got != 0 {
		t.Errorf("Pick after trying 1 = %d; want the degraded origin 0", got)
	}
	if !s.Open() {
		t.Error("a degraded site must stay open")
	}
	c.Add(20 * time.Second) // a fresh window
	for i := 0; i < 10; i++ {
		s.Report(0, Result{Latency: 10 * time.Millisecond})
	}
	if st := s.Stats(); st.Origins[0].State != Up {
		t.Errorf("state = %v after fast answers; want up", st.Origins[0].State)
	}
}

// scriptedProbe answers probes from a settable outcome per Host header
// (the endpoint's probes use the origin URL's host, 127.0.0.1:1 or
// 127.0.0.1:2; a site's own recovery probes its host).
type scriptedProbe struct {
	mu     sync.Mutex
	status map[string]int
	err    map[string]error
	calls  atomic.Int64
	sent   []string // "METHOD path host"
}

func newScripted(status map[string]int) *scriptedProbe {
	return &scriptedProbe{status: status, err: map[string]error{}}
}

func (p *scriptedProbe) set(host string, status int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status[host], p.err[host] = status, err
}

func (p *scriptedProbe) Probe(ctx context.Context, method, path, host string) (int, []byte, error) {
	p.calls.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, method+" "+path+" "+host)
	return p.status[host], []byte("ok"), p.err[host]
}

func (p *scriptedProbe) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.sent...)
}

// hostTransport is one transport per origin URL, each answering for its
// own address only (the scripted statuses are by Host header).
const (
	host1 = "127.0.0.1:1"
	host2 = "127.0.0.1:2"
)

func TestProbesRiseAndFall(t *testing.T) {
	c, ev := newClock(), &events{}
	p := newScripted(map[string]int{host1: 200, host2: 200})
	s := newSite(t, originConfig(t, "      health: {path: /healthz, rise: 3, fall: 2}\n"), c, ev, p)
	p.set(host1, 503, nil)
	s.probeAll()
	if st := s.Stats(); st.Origins[0].State != Up {
		t.Fatal("down after one failed probe; fall is 2")
	}
	s.probeAll()
	if st := s.Stats(); st.Origins[0].State != Down || st.Origins[0].Reason != "probe: status 503" {
		t.Fatalf("origin 0 = %v %q; want down", st.Origins[0].State, st.Origins[0].Reason)
	}
	p.set(host1, 200, nil)
	for i := 1; i <= 3; i++ {
		s.probeAll()
		want := Down
		if i == 3 {
			want = Up
		}
		if st := s.Stats(); st.Origins[0].State != want {
			t.Fatalf("after %d good probes: %v; want %v (rise 3)", i, st.Origins[0].State, want)
		}
	}
	if n := len(ev.all()); n != 2 {
		t.Errorf("%d events; want down and up", n)
	}
	for _, sent := range p.log() {
		if sent != "GET /healthz "+host1 && sent != "GET /healthz "+host2 {
			t.Errorf("probe sent %q; want GET /healthz with the origin URL's host", sent)
		}
	}
}

func TestProbeExpectations(t *testing.T) {
	c := newClock()
	p := newScripted(map[string]int{host1: 200, host2: 200})
	s := newSite(t, originConfig(t, "      health: {path: /h, fall: 1, expect_status: [204], expect_body: healthy}\n"), c, nil, p)
	s.probeAll()
	st := s.Stats()
	if st.Origins[0].State != Down || st.Origins[0].Reason != "probe: status 200" {
		t.Errorf("200 when 204 expected: %v %q", st.Origins[0].State, st.Origins[0].Reason)
	}
}

// TestRecoveryProbesOnlyWhileDown: without health.path, nothing is probed
// while every origin is up; once the site's own answers put an origin
// down, the endpoint is probed with HEAD / (the URL's host), and, since it
// answers, the site's own recovery probe (HEAD / with the site's host)
// brings the origin back.
func TestRecoveryProbesOnlyWhileDown(t *testing.T) {
	c := newClock()
	p := newScripted(map[string]int{host1: 404, host2: 404, "shop.example": 404}) // alive: a recovery probe asks only for a sane answer
	s := newSite(t, originConfig(t, "      health: {rise: 1}\n"), c, nil, p)
	s.probeAll()
	if n := p.calls.Load(); n != 0 {
		t.Fatalf("%d probes with every origin up and no health.path; want 0", n)
	}
	for i := 0; i < 3; i++ {
		s.Report(0, fail)
	}
	s.probeAll()
	if got, want := p.log(), []string{"HEAD / " + host1, "HEAD / shop.example"}; !slices.Equal(got, want) {
		t.Errorf("probes = %q; want %q", got, want)
	}
	if st := s.Stats(); st.Origins[0].State != Up {
		t.Errorf("state after a sane recovery probe = %v; want up", st.Origins[0].State)
	}
}

func TestMaxInflightAndSlowStart(t *testing.T) {
	c := newClock()
	p := newScripted(map[string]int{host1: 200, host2: 200})
	s := newSite(t, originConfig(t, "      max_inflight: 10\n      slow_start: 100s\n      health: {path: /h, rise: 1, fall: 1}\n"), c, nil, p)
	admitN := func() int {
		n := 0
		for s.Admit() == Admitted {
			n++
		}
		for i := 0; i < n; i++ {
			s.Done()
		}
		return n
	}
	if got := admitN(); got != 10 {
		t.Fatalf("admitted %d; want max_inflight 10", got)
	}
	if st := s.Stats(); st.Overflow != 1 {
		t.Errorf("overflow = %d; want 1", st.Overflow)
	}
	p.set(host1, 500, nil)
	p.set(host2, 500, nil)
	s.probeAll()
	if s.Admit() != Tripped {
		t.Fatal("not tripped with both origins down")
	}
	p.set(host1, 200, nil)
	s.probeAll() // the site comes back: the ramp starts at 1
	if got := admitN(); got != 1 {
		t.Errorf("admitted %d right after recovery; want 1", got)
	}
	c.Add(50 * time.Second)
	if got := admitN(); got != 5 {
		t.Errorf("admitted %d halfway through slow start; want 5", got)
	}
	c.Add(60 * time.Second)
	if got := admitN(); got != 10 {
		t.Errorf("admitted %d after slow start; want 10", got)
	}
}

func TestForceOverrides(t *testing.T) {
	c := newClock()
	on, off := true, false
	oc := originConfig(t, "")

	s := New(Config{Site: "shop", Origins: oc.URLs, Origin: oc, Force: &on, Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil)
	if s.Admit() != Forced || s.Open() {
		t.Error("force_fallback: true must refuse origin traffic and report closed")
	}
	s = New(Config{Site: "shop", Origins: oc.URLs, Origin: oc, Force: &off, Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil)
	for i := 0; i < 3; i++ {
		s.Report(0, fail)
		s.Report(1, fail)
	}
	if s.Admit() != Admitted || !s.Open() || s.Pick(0, 0) < 0 {
		t.Error("force_fallback: false must keep sending traffic to down origins")
	}
	s.Done()
	s.SetForce(ForceAuto)
	if s.Admit() != Tripped {
		t.Error("back to auto: want tripped")
	}
}

func TestReloadCarriesStateByURL(t *testing.T) {
	c := newClock()
	oc := originConfig(t, "")
	s := newSite(t, oc, c, nil, nil)
	for i := 0; i < 3; i++ {
		s.Report(0, fail)
	}
	oc2 := *oc
	oc2.URLs = []string{"http://127.0.0.1:9", oc.URLs[0]}
	s2 := New(Config{Site: "shop", Origins: oc2.URLs, Origin: &oc2, Now: c.Now}, s)
	st := s2.Stats()
	if st.Origins[0].State != Up || st.Origins[1].State != Down {
		t.Errorf("after reload: %v, %v; want the new origin up and the known-down one still down", st.Origins[0].State, st.Origins[1].State)
	}
}

func TestWebhookDeliversEachEventOnceWithRetries(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway) // the first try fails
			return
		}
		var e Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("bad delivery: %v %q", err, r.Header.Get("Content-Type"))
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	defer srv.Close()
	w := NewWebhook(srv.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.backoff = time.Millisecond
	w.Start()
	w.Notify(Event{Site: "shop", Origin: "http://a", State: "down", Reason: "refused"})
	w.Notify(Event{Site: "shop", Origin: "http://a", State: "up"})
	w.Close() // delivers what is queued
	sent, failed, dropped := w.Counts()
	if sent != 2 || failed != 0 || dropped != 0 {
		t.Errorf("sent %d failed %d dropped %d; want 2 0 0", sent, failed, dropped)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].State != "down" || got[0].Reason != "refused" || got[1].State != "up" {
		t.Errorf("received %+v", got)
	}
}

func TestWebhookNeverBlocks(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	w := NewWebhook(srv.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.client.Timeout = 50 * time.Millisecond
	w.backoff = time.Millisecond
	w.Start()
	defer w.Close()
	defer close(block) // before Close: let the queued deliveries through
	done := make(chan struct{})
	go func() {
		for range cap(w.queue) + 100 {
			w.Notify(Event{Site: "shop", State: "down"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked behind a hanging webhook")
	}
	if _, _, dropped := w.Counts(); dropped == 0 {
		t.Error("a full queue dropped nothing")
	}
}

func TestProbeErrorsAreFailures(t *testing.T) {
	c := newClock()
	p := newScripted(map[string]int{})
	p.set(host1, 0, errors.New("timeout"))
	s := newSite(t, originConfig(t, "      health: {path: /h, fall: 1}\n"), c, nil, p)
	s.probeAll()
	if st := s.Stats(); st.Origins[0].State != Down || st.ProbesFailed == 0 {
		t.Errorf("a probe error did not count: %+v", st)
	}
}
