package health

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/config"
)

// Config builds a Site.
type Config struct {
	// Site is the site's name, for logs and events.
	Site string
	// Origins are the site's origin URLs, in config order.
	Origins []string
	// Origin is the site's origin config (health, slow_after, max_inflight,
	// slow_start).
	Origin *config.Origin
	// Force is the config override (force_fallback): nil lets health
	// decide.
	Force *bool
	// Prober runs the active probes; the site's origins join its endpoints.
	// Nil: passive detection only, and nothing brings an origin that went
	// down back (tests).
	Prober *Prober
	// Transports send probes to each origin, by index in Origins. Required
	// with Prober.
	Transports []Transport
	// ProbeHost is the Host header of the site's own recovery probes
	// (origin.host_header, else the site's first host): what a shopper's
	// request would send.
	ProbeHost string
	// FailurePage reports whether a probe answer's body is a platform's
	// error page (failure markers): such a probe fails whatever its
	// status. Optional. Sites share an endpoint only with the same
	// origin.failure_markers (EndpointKey), so the first site's serves all.
	FailurePage func(body []byte) bool
	// OnDown is called each time the site's origin is declared down (see
	// Site.Down), after the waiters on Down are released: the proxy cuts
	// its exchanges in progress short with it. It must not block.
	// Optional.
	OnDown func()
	// Notify receives each state change. Optional.
	Notify Notifier
	// Log receives one line per state change. Default slog.Default().
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Circuit, when set, is kept equal to what Closed answers now
	// (Admitted, Forced or Tripped), for a caller that reads it in memory
	// of its own that it reads anyway: on a node with thousands of shops
	// the site's health is then not read for a request the circuit keeps
	// from the origin. Reading it counts nothing (Closed counts the
	// request as short-circuited); it may lag a change by the time the
	// change takes.
	Circuit *atomic.Int32
	// CircuitOwner is what Circuit is part of: the Site keeps it
	// reachable, so that memory reused once the owner is collected is
	// never written by a late publish.
	CircuitOwner any
}

// Admission is Site.Admit's verdict on one request.
type Admission int

const (
	// Admitted: contact the origin, then call Site.Done.
	Admitted Admission = iota
	// Tripped: every origin is down; serve the fallback.
	Tripped
	// Forced: ops forced the fallback on; serve it.
	Forced
	// Overloaded: max_inflight requests are at the origin; serve the
	// fallback rather than queue.
	Overloaded
)

func (a Admission) String() string {
	return [...]string{"admitted", "tripped", "forced", "overloaded"}[a]
}

// Force values for Site.SetForce.
const (
	ForceAuto     int32 = iota // health decides
	ForceFallback              // never contact the origin
	ForceOrigin                // always contact the origin
)

// Site is the health of one site's origins. It is safe for concurrent use.
// It owns no goroutine: its origins' endpoints are probed by the Prober.
// Close leaves the endpoints.
type Site struct {
	// What every request reads (Closed) first: on a node with thousands
	// of shops each request is for another one, and this is the one line
	// of its health it fetches.
	force          atomic.Int32
	tripped        atomic.Bool
	shortCircuited atomic.Uint64

	name      string
	origins   []*originState
	p         params
	onDown    func()
	circuit   *atomic.Int32 // Config.Circuit; nil for none
	owner     any           // Config.CircuitOwner, kept reachable
	pubMu     sync.Mutex    // one publish at a time: the last one sees every change
	notify    Notifier
	log       *slog.Logger
	now       func() time.Time
	prober    *Prober
	probeHost string

	maxInflight int64
	slowStart   time.Duration
	inflight    atomic.Int64
	rampFrom    atomic.Int64 // unix nanos the site came back; 0 when not ramping
	closed      atomic.Bool

	transitions  atomic.Uint64
	trips        atomic.Uint64
	overflow     atomic.Uint64
	probesOK     atomic.Uint64 // the site's own recovery probes
	probesFailed atomic.Uint64

	down  downSignal    // closed at each trip (down.go)
	downs atomic.Uint64 // times down fired
	hang  hangWatch     // hang.go
}

// New builds the health of a site and joins its origins to their
// endpoints (cfg.Prober). prev, the same site's health before a config
// reload (or nil), passes on what the site knew of origins whose URL did
// not change, so a reload neither forgets an outage nor invents one; the
// endpoints' own state survives as long as some site uses them.
func New(cfg Config, prev *Site) *Site {
	o := cfg.Origin
	s := &Site{
		name: cfg.Site,
		p: params{
			rise:            o.Health.Rise,
			passiveFailures: o.Health.PassiveFailures,
			errorRatio:      o.Health.ErrorRatio,
			minRequests:     o.Health.MinRequests,
			slowAfter:       o.SlowAfter.D(),
		},
		onDown:      cfg.OnDown,
		circuit:     cfg.Circuit,
		owner:       cfg.CircuitOwner,
		notify:      cfg.Notify,
		log:         cfg.Log,
		now:         cfg.Now,
		prober:      cfg.Prober,
		probeHost:   cfg.ProbeHost,
		maxInflight: int64(o.MaxInflight),
		slowStart:   o.SlowStart.D(),
	}
	s.down.init()
	s.hang.site, s.hang.after = s, o.Health.HangAfter.D()
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case cfg.Force == nil:
	case *cfg.Force:
		s.force.Store(ForceFallback)
	default:
		s.force.Store(ForceOrigin)
	}
	windowSecs := int(o.Health.Window.D() / time.Second)
	now := s.now()
	s.origins = make([]*originState, len(cfg.Origins))
	for i, u := range cfg.Origins {
		org := &originState{site: s, i: i, url: u, since: now, passiveAt: now, window: make([]bucket, windowSecs)}
		if prev != nil {
			for _, po := range prev.origins {
				if po.url == u {
					org.carry(po)
				}
			}
		}
		s.origins[i] = org
	}
	if s.prober != nil {
		for i, org := range s.origins {
			org.ep = s.prober.acquire(KeyFor(org.url, o), cfg.Transports[i], cfg.FailurePage)
			org.ep.subscribe(org)
			if org.passiveDown() {
				org.ep.passiveFell(org)
			}
			// A site joining an endpoint known down is down with it; that
			// is no news to announce.
			org.endpointChanged(now)
		}
	}
	s.tripped.Store(s.allDown())
	s.publish()
	return s
}

// circuitNow is Closed without counting.
func (s *Site) circuitNow() Admission {
	switch s.force.Load() {
	case ForceFallback:
		return Forced
	case ForceAuto:
		if s.tripped.Load() {
			return Tripped
		}
	}
	return Admitted
}

// publish stores what Closed answers now in Config.Circuit. Each change is
// made before its publish takes the lock, so the last publish of
// concurrent changes sees them all.
func (s *Site) publish() {
	if s.circuit == nil {
		return
	}
	s.pubMu.Lock()
	s.circuit.Store(int32(s.circuitNow()))
	s.pubMu.Unlock()
}

// Name is the site's name.
func (s *Site) Name() string { return s.name }

// Close leaves the site's endpoints (the last site to leave one stops its
// probes) and stops the hang watch. Safe to call more than once.
func (s *Site) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.hang.close()
	for _, o := range s.origins {
		if o.ep != nil {
			o.ep.unsubscribe(o)
			s.prober.release(o.ep)
		}
	}
}

// Closed reports whether the origin must not be contacted at all now:
// Forced or Tripped (counted as short-circuited), else Admitted. Unlike
// Admit it takes no in-flight slot: requests that will wait on another
// request's fetch check it first.
func (s *Site) Closed() Admission {
	a := s.circuitNow()
	if a != Admitted {
		s.shortCircuited.Add(1)
	}
	return a
}

// Admit decides whether a request may go to the origin. When it returns
// Admitted, the caller must call Done once the exchange is over.
func (s *Site) Admit() Admission {
	if a := s.Closed(); a != Admitted {
		return a
	}
	limit := s.limit()
	if limit <= 0 {
		s.inflight.Add(1)
		return Admitted
	}
	for {
		n := s.inflight.Load()
		if n >= limit {
			s.overflow.Add(1)
			return Overloaded
		}
		if s.inflight.CompareAndSwap(n, n+1) {
			return Admitted
		}
	}
}

// Done ends an admitted request.
func (s *Site) Done() { s.inflight.Add(-1) }

// limit is the in-flight cap now: max_inflight, ramped up linearly from 1
// over slow_start after the site came back. 0 means no cap.
func (s *Site) limit() int64 {
	if s.maxInflight == 0 {
		return 0
	}
	rf := s.rampFrom.Load()
	if rf == 0 {
		return s.maxInflight
	}
	elapsed := s.now().UnixNano() - rf
	if elapsed >= int64(s.slowStart) || elapsed < 0 {
		s.rampFrom.CompareAndSwap(rf, 0)
		return s.maxInflight
	}
	return max(1, s.maxInflight*elapsed/int64(s.slowStart))
}

// Open reports whether shoppers can reach the shop's origin now: not forced
// to the fallback, and not every origin down. It is what
// /.well-known/awning/health answers.
func (s *Site) Open() bool { return s.circuitNow() == Admitted }

// Pick returns the index of the origin to try next for a request whose
// turn starts at start and which already tried the origins in tried (bit i
// for origin i): origins up come first, round robin; degraded ones when
// none is up; down ones only when ops forced traffic to the origin. It
// returns -1 when none is left.
func (s *Site) Pick(start uint32, tried uint64) int {
	n := uint32(len(s.origins))
	forceOrigin := s.force.Load() == ForceOrigin
	for _, want := range [...]State{Up, Degraded, Down} {
		if want == Down && !forceOrigin {
			break
		}
		for i := uint32(0); i < n; i++ {
			idx := (start + i) % n
			if tried&(1<<idx) == 0 && State(s.origins[idx].cur.Load()) == want {
				return int(idx)
			}
		}
	}
	return -1
}

// Report feeds the outcome of a live exchange with origin i.
func (s *Site) Report(i int, r Result) {
	o := s.origins[i]
	t, changed, fell := o.passiveReport(&s.p, s.now(), r)
	if fell && o.ep != nil {
		o.ep.passiveFell(o)
	}
	if changed {
		s.changed(i, t)
	}
}

// SetForce sets the ops override: ForceAuto, ForceFallback or ForceOrigin.
// Forcing the fallback releases the requests waiting on the origin (Down).
func (s *Site) SetForce(f int32) {
	old := s.force.Swap(f)
	s.publish()
	if f == ForceFallback && old != ForceFallback {
		s.downFired()
	}
}

func (s *Site) allDown() bool {
	for _, o := range s.origins {
		if State(o.cur.Load()) != Down {
			return false
		}
	}
	return true
}

// changed logs and announces a state change of origin i, and trips or
// resets the site's circuit. A change the shared endpoint caused is logged
// once by the Prober for all its sites; here only at debug.
func (s *Site) changed(i int, t transition) {
	s.transitions.Add(1)
	wasTripped := s.tripped.Load()
	nowTripped := s.allDown()
	s.tripped.Store(nowTripped)
	s.publish()
	if nowTripped && !wasTripped {
		s.trips.Add(1)
		s.downFired()
	}
	if wasTripped && !nowTripped && s.slowStart > 0 && s.maxInflight > 0 {
		s.rampFrom.Store(s.now().UnixNano())
	}
	o := s.origins[i]
	attrs := []any{"site", s.name, "origin", o.url, "from", t.from.String(), "reason", t.reason}
	switch {
	case t.shared:
		s.log.Debug("origin "+t.to.String()+" (its endpoint changed)", attrs...)
	case t.to == Down && nowTripped:
		s.log.Error("origin down; every origin of the site is down, serving the fallback", attrs...)
	case t.to == Down:
		s.log.Warn("origin down; other origins take its traffic", attrs...)
	case t.to == Degraded:
		s.log.Warn("origin degraded: answers slower than slow_after", attrs...)
	default:
		s.log.Info("origin "+t.to.String(), attrs...)
	}
	if s.notify != nil {
		s.notify.Notify(Event{
			Site: s.name, Origin: o.url, State: t.to.String(), Previous: t.from.String(),
			Reason: t.reason, Time: s.now().UTC(), SiteOpen: !nowTripped,
		})
	}
}

// Stats is a snapshot of a site's health, for metrics and tests.
type Stats struct {
	Open           bool
	Tripped        bool
	Inflight       int64
	Limit          int64  // the in-flight cap now; 0 for none
	Transitions    uint64 // origin state changes
	Trips          uint64 // times the circuit tripped: every origin down
	ShortCircuited uint64 // requests answered without contacting the origin
	Overflow       uint64 // requests over the in-flight cap
	// ProbesOK and ProbesFailed count the probes that informed the site:
	// those of its origins' shared endpoints (the same counts for every
	// site on an endpoint) and its own recovery probes.
	ProbesOK     uint64
	ProbesFailed uint64
	// Downs counts the times waiting requests were released because the
	// origin was declared down (a trip, or the fallback forced); Hangs the
	// times hang_after declared it down.
	Downs, Hangs uint64
	Origins      []OriginStats
}

// OriginStats is what is known of one origin.
type OriginStats struct {
	URL    string
	State  State // effective: Down when the endpoint or the site's own answers say so
	Reason string
	Since  time.Time
	// Endpoint is the state of the origin's shared endpoint (Up without a
	// Prober); Passive the site's own verdict from its answers.
	Endpoint, Passive State
}

// Stats returns a snapshot of the site's health.
func (s *Site) Stats() Stats {
	st := Stats{
		Open:           s.Open(),
		Tripped:        s.tripped.Load(),
		Inflight:       s.inflight.Load(),
		Limit:          s.limit(),
		Transitions:    s.transitions.Load(),
		Trips:          s.trips.Load(),
		ShortCircuited: s.shortCircuited.Load(),
		Overflow:       s.overflow.Load(),
		ProbesOK:       s.probesOK.Load(),
		ProbesFailed:   s.probesFailed.Load(),
		Downs:          s.downs.Load(),
		Hangs:          s.hang.declared.Load(),
	}
	var seen []*Endpoint // a site has a few origins: no map
	for _, o := range s.origins {
		state, reason, since := o.get()
		os := OriginStats{URL: o.url, State: state, Reason: reason, Since: since}
		o.mu.Lock()
		os.Passive = o.passive
		o.mu.Unlock()
		if o.ep != nil {
			os.Endpoint, _ = o.ep.verdict()
			if !slices.Contains(seen, o.ep) {
				seen = append(seen, o.ep)
				st.ProbesOK += o.ep.probesOK.Load()
				st.ProbesFailed += o.ep.probesFailed.Load()
			}
		}
		st.Origins = append(st.Origins, os)
	}
	return st
}
