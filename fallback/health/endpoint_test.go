package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// platform is n sites "s0".."s(n-1)" on hosts s<i>.example, every one with
// the same origin URL and health config, on one Prober.
func platform(t *testing.T, n int, health string, tr Transport) (*Prober, []*Site, *testkit.Clock) {
	t.Helper()
	c := newClock()
	p := newProber(t, c)
	oc := originConfig(t, "      health: "+health+"\n")
	oc.URLs = oc.URLs[:1] // one origin: 127.0.0.1:1
	out := make([]*Site, n)
	for i := range out {
		out[i] = newSiteOn(t, p, fmt.Sprintf("s%d", i), fmt.Sprintf("s%d.example", i), oc, c, nil, tr)
	}
	return p, out, c
}

// TestSitesShareOneEndpoint: a thousand sites on one origin make one
// endpoint and one probe per round; when its probes fail, every site is
// down; when it rises, every site is back.
func TestSitesShareOneEndpoint(t *testing.T) {
	tr := newScripted(map[string]int{host1: 200})
	p, ss, _ := platform(t, 1000, "{path: /healthz, rise: 1, fall: 1}", tr)
	if n := p.Stats().Endpoints; n != 1 {
		t.Fatalf("%d endpoints for 1000 sites on one origin; want 1", n)
	}
	ss[0].probeAll()
	if n := tr.calls.Load(); n != 1 {
		t.Errorf("one round sent %d probes; want 1", n)
	}
	tr.set(host1, 503, nil)
	ss[0].probeAll()
	for i, s := range ss {
		if s.Open() || s.Admit() != Tripped {
			t.Fatalf("site %d open with its endpoint down", i)
		}
	}
	tr.set(host1, 200, nil)
	ss[0].probeAll()
	for i, s := range ss {
		if !s.Open() {
			t.Fatalf("site %d closed after its endpoint rose", i)
		}
	}
	if n := tr.calls.Load(); n != 3 {
		t.Errorf("3 rounds sent %d probes; want 3", n)
	}
}

// TestOneBrokenShopFallsBackAlone: one shop's own failures put only that
// shop down; its recovery probe (HEAD / with its own host) runs only while
// the endpoint answers, and brings it back once the shop answers.
func TestOneBrokenShopFallsBackAlone(t *testing.T) {
	tr := newScripted(map[string]int{host1: 200, "s7.example": 500})
	_, ss, _ := platform(t, 50, "{path: /healthz, rise: 2, fall: 2}", tr)
	for i := 0; i < 3; i++ {
		ss[7].Report(0, Result{Failed: true, Reason: "status 500"})
	}
	for i, s := range ss {
		if s.Open() != (i != 7) {
			t.Fatalf("site %d open = %v; want only s7 closed", i, s.Open())
		}
	}
	ss[0].probeAll()
	if got := strings.Join(tr.log(), "; "); got != "GET /healthz "+host1+"; HEAD / s7.example" {
		t.Errorf("round sent %q; want the endpoint's probe and s7's own", got)
	}
	if st := ss[7].Stats(); st.Origins[0].Endpoint != Up || st.Origins[0].Passive != Down {
		t.Errorf("s7 origin = %+v; want endpoint up, passive down", st.Origins[0])
	}
	tr.set("s7.example", 200, nil)
	ss[0].probeAll()
	ss[0].probeAll()
	if !ss[7].Open() {
		t.Error("s7 still closed after rise good recovery probes")
	}
	before := tr.calls.Load()
	ss[0].probeAll()
	if n := tr.calls.Load() - before; n != 1 {
		t.Errorf("with every shop up a round sent %d probes; want 1", n)
	}
}

// TestPlatformDownCostsOneProbe: with every shop down by its own answers
// and the platform down too, a round is one probe: shops' recovery probes
// wait until the endpoint answers, and its rise brings every shop back.
func TestPlatformDownCostsOneProbe(t *testing.T) {
	tr := newScripted(map[string]int{host1: 502})
	_, ss, _ := platform(t, 200, "{rise: 1, fall: 2}", tr) // no path: probes only while down
	for _, s := range ss {
		for i := 0; i < 3; i++ {
			s.Report(0, Result{Failed: true, Reason: "status 502"})
		}
	}
	for r := 0; r < 3; r++ {
		ss[0].probeAll()
	}
	if n := tr.calls.Load(); n != 3 {
		t.Fatalf("3 rounds with the platform down sent %d probes; want 3", n)
	}
	tr.set(host1, 200, nil)
	ss[0].probeAll()
	for i, s := range ss {
		if !s.Open() {
			t.Fatalf("site %d closed after the platform came back", i)
		}
	}
	if n := tr.calls.Load(); n != 4 {
		t.Errorf("%d probes; want 4 (the platform's rise clears every shop's verdict)", n)
	}
}

// TestDifferentProbesAreDifferentEndpoints: the Host header, the path and
// the verdict settings are part of an endpoint's identity.
func TestDifferentProbesAreDifferentEndpoints(t *testing.T) {
	c := newClock()
	p := newProber(t, c)
	tr := newScripted(map[string]int{})
	for i, extra := range []string{
		"{path: /healthz}", "{path: /healthz}", "{path: /other}", "{path: /healthz, host: shop.example}",
		"{path: /healthz, fall: 5}",
	} {
		oc := originConfig(t, "      health: "+extra+"\n")
		oc.URLs = oc.URLs[:1]
		newSiteOn(t, p, fmt.Sprintf("s%d", i), "x.example", oc, c, nil, tr)
	}
	if n := p.Stats().Endpoints; n != 4 {
		t.Errorf("%d endpoints; want 4", n)
	}
}

// TestEndpointOutlivesReload: a reload's new site joins the endpoint before
// the old one leaves, so the endpoint keeps its state; the last site to
// leave removes it.
func TestEndpointOutlivesReload(t *testing.T) {
	c := newClock()
	p := newProber(t, c)
	tr := newScripted(map[string]int{host1: 503})
	oc := originConfig(t, "      health: {path: /h, fall: 1}\n")
	oc.URLs = oc.URLs[:1]
	cfg := Config{Site: "shop", Origins: oc.URLs, Origin: oc, Prober: p, Transports: []Transport{tr}, Now: c.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	old := New(cfg, nil)
	old.probeAll()
	if old.Open() {
		t.Fatal("open with its endpoint down")
	}
	next := New(cfg, old)
	old.Close()
	if next.Open() || p.Stats().Endpoints != 1 {
		t.Errorf("after reload: open %v, %d endpoints; want closed, 1", next.Open(), p.Stats().Endpoints)
	}
	next.Close()
	if n := p.Stats().Endpoints; n != 0 {
		t.Errorf("%d endpoints after every site left; want 0", n)
	}
}

// TestProberSchedulesOneRoundPerInterval runs the real scheduler: many
// sites, one probe per interval.
func TestProberSchedulesOneRoundPerInterval(t *testing.T) {
	tr := newScripted(map[string]int{host1: 200})
	p, _, _ := platform(t, 500, "{path: /healthz, interval: 100ms, timeout: 50ms}", tr)
	start := time.Now()
	p.Start()
	testkit.WaitFor(t, 10*time.Second, "ten probes", func() bool { return tr.calls.Load() >= 10 })
	elapsed := time.Since(start)
	if per := elapsed / time.Duration(tr.calls.Load()); per < 80*time.Millisecond {
		t.Errorf("one probe every %v for 500 sites; want one per 100ms interval", per)
	}
}

// panicTransport panics on its first probe.
type panicTransport struct{ n atomic.Int64 }

func (p *panicTransport) Probe(ctx context.Context, method, path, host string) (int, []byte, error) {
	if p.n.Add(1) == 1 {
		panic("probe bug")
	}
	return 200, nil, nil
}

// TestProberSurvivesPanics: a panic in a probe is a failed probe; a panic
// in the scheduler stops probes only until it restarts (Healthy is false
// meanwhile), and probing goes on.
func TestProberSurvivesPanics(t *testing.T) {
	tr := &panicTransport{}
	c := newClock()
	p := NewProber(ProberConfig{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now})
	var ticks atomic.Int64
	p.tick = func() {
		if ticks.Add(1) == 3 {
			panic("scheduler bug")
		}
	}
	oc := originConfig(t, "      health: {path: /h, interval: 100ms, timeout: 50ms, fall: 1, rise: 1}\n")
	oc.URLs = oc.URLs[:1]
	s := New(Config{Site: "shop", Origins: oc.URLs, Origin: oc, Prober: p, Transports: []Transport{tr}, Now: c.Now}, nil)
	defer s.Close()
	p.Start()
	defer p.Close()
	testkit.WaitFor(t, 10*time.Second, "the scheduler to panic", func() bool { return p.Stats().Panics == 1 })
	if p.Healthy() {
		t.Error("Healthy while the scheduler waits to restart")
	}
	testkit.WaitFor(t, 10*time.Second, "the prober to be healthy again", p.Healthy)
	n := tr.n.Load()
	testkit.WaitFor(t, 10*time.Second, "probes after the restart", func() bool { return tr.n.Load() >= n+3 })
	testkit.WaitFor(t, 10*time.Second, "the site to be up after the panicked probe", s.Open)
	if st := s.Stats(); st.ProbesFailed < 1 {
		t.Errorf("the panicked probe was not counted as failed: %+v", st)
	}
}

// panicNotifier panics on its first event.
type panicNotifier struct{ n atomic.Int64 }

func (p *panicNotifier) Notify(Event) {
	if p.n.Add(1) == 1 {
		panic("notifier bug")
	}
}

// flipTransport fails its probes until healed.
type flipTransport struct{ healed atomic.Bool }

func (f *flipTransport) Probe(ctx context.Context, method, path, host string) (int, []byte, error) {
	if f.healed.Load() {
		return 200, nil, nil
	}
	return 0, nil, errors.New("refused")
}

// TestProbeRoundSurvivesPanics: a panic while a round applies its verdict
// (here in the notifier told of the change) is logged and counted, the
// process lives on, and the next rounds go on: the site comes back up.
func TestProbeRoundSurvivesPanics(t *testing.T) {
	tr := &flipTransport{}
	n := &panicNotifier{}
	c := newClock()
	p := NewProber(ProberConfig{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now})
	oc := originConfig(t, "      health: {path: /h, interval: 100ms, timeout: 50ms, fall: 1, rise: 1}\n")
	oc.URLs = oc.URLs[:1]
	s := New(Config{Site: "shop", Origins: oc.URLs, Origin: oc, Prober: p, Transports: []Transport{tr}, Notify: n, Now: c.Now}, nil)
	defer s.Close()
	p.Start()
	defer p.Close()
	testkit.WaitFor(t, 10*time.Second, "the round that tells the notifier to panic", func() bool { return p.Stats().Panics == 1 })
	tr.healed.Store(true)
	testkit.WaitFor(t, 10*time.Second, "the site up again after the panicked round", s.Open)
	if n.n.Load() < 2 {
		t.Errorf("the notifier heard %d events; want the down and the up", n.n.Load())
	}
}

// TestCircuitFollowsClosed: Config.Circuit holds what Closed answers
// through every change (the ops override, a shop failing alone, its
// endpoint going down and coming back), and reading it counts nothing.
func TestCircuitFollowsClosed(t *testing.T) {
	tr := newScripted(map[string]int{host1: 200, "s1.example": 500})
	c := newClock()
	p := newProber(t, c)
	oc := originConfig(t, "      health: {path: /healthz, rise: 1, fall: 1}\n")
	oc.URLs = oc.URLs[:1]
	var circuits [2]atomic.Int32
	var ss [2]*Site
	for i := range ss {
		circuits[i].Store(-1)
		ss[i] = New(Config{
			Site: fmt.Sprintf("s%d", i), Origins: oc.URLs, Origin: oc, ProbeHost: fmt.Sprintf("s%d.example", i),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: c.Now,
			Prober: p, Transports: []Transport{tr}, Circuit: &circuits[i],
		}, nil)
		t.Cleanup(ss[i].Close)
	}
	expect := func(when string, want ...Admission) {
		t.Helper()
		for i, s := range ss {
			if got := Admission(circuits[i].Load()); got != want[i] || got != s.circuitNow() {
				t.Errorf("%s: s%d circuit %v; want %v (Closed: %v)", when, i, got, want[i], s.circuitNow())
			}
		}
	}
	expect("new", Admitted, Admitted)
	ss[0].SetForce(ForceFallback)
	expect("s0 forced to the fallback", Forced, Admitted)
	ss[0].SetForce(ForceOrigin)
	expect("s0 forced to the origin", Admitted, Admitted)
	ss[0].SetForce(ForceAuto)
	for range 3 {
		ss[1].Report(0, Result{Failed: true, Reason: "status 500"})
	}
	expect("s1 failing alone", Admitted, Tripped)
	tr.set(host1, 503, nil)
	ss[0].probeAll()
	expect("the endpoint down", Tripped, Tripped)
	tr.set(host1, 200, nil)
	tr.set("s1.example", 200, nil)
	for i := 0; i < 5 && circuits[1].Load() != int32(Admitted); i++ {
		ss[0].probeAll()
	}
	expect("the endpoint and s1 back", Admitted, Admitted)
	for i, s := range ss {
		if n := s.Stats().ShortCircuited; n != 0 {
			t.Errorf("s%d: %d requests counted short-circuited; reading the circuit counts none", i, n)
		}
	}
}
