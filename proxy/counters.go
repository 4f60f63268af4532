package proxy

import (
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/fallback/warm"
)

// Outcome is what answered a shopper's request: one of the Awning-Served
// values of a site's answers, or Awning itself on its own paths. Requests
// are counted by site and outcome; requests for no site (misdirected,
// refused) are counted by the Server.
type Outcome uint8

const (
	// OutcomeOrigin: the origin's answer, relayed (Awning-Served: origin).
	OutcomeOrigin Outcome = iota
	// OutcomeStale: a last known good copy (Awning-Served: stale).
	OutcomeStale
	// OutcomeOutage: the outage page or JSON (Awning-Served: outage).
	OutcomeOutage
	// OutcomeMaintenance: the maintenance page or JSON (Awning-Served:
	// maintenance), and the copies browsing is answered from in read-only
	// maintenance (Awning-Served: stale, with the maintenance banner):
	// planned work, counted apart from the fallback so that it never looks
	// like an outage.
	OutcomeMaintenance
	// OutcomeUnconfirmed: a request other than GET or HEAD was sent and the
	// origin never confirmed it (Awning-Served: unconfirmed).
	OutcomeUnconfirmed
	// OutcomeOwn: Awning's own paths under /.well-known/awning/ (the health
	// poll of the outage page, the logo) and ACME challenges, which never
	// reach an origin.
	OutcomeOwn
	// OutcomeRedirect: plain HTTP redirected to HTTPS (Awning-Served:
	// redirect).
	OutcomeRedirect
	// NumOutcomes is the number of outcomes, for arrays indexed by Outcome.
	NumOutcomes
)

var outcomeNames = [NumOutcomes]string{"origin", "stale", "outage", "maintenance", "unconfirmed", "own", "redirect"}

// String returns the outcome as metrics label it.
func (o Outcome) String() string { return outcomeNames[o] }

// siteCounters are what the request path counts for one site. They are
// kept across config reloads (like health), so a reload does not reset a
// counter; every update is one atomic add, without a lookup or an
// allocation: answers in the Server's servedTable (every answer counts
// one, and a node's sites count side by side there), the origin's in
// memory the site owns.
type siteCounters struct {
	served   servedSlot // answers by outcome, in the Server's servedTable
	latency  latencyHistogram
	refusals refusalCounts // origin answers refused (originresp.go)
	early    atomic.Uint64 // origin answers that came before the whole request (originearly.go)
}

// latencyBounds are the upper bounds of the origin latency histogram. The
// usual Prometheus bounds, plus 2s and 3s: the defaults of slow_after and
// fallback_after, so a dashboard shows how many answers crossed them.
var latencyBounds = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// latencyHistogram counts origin exchanges by duration. An observation is
// a short scan of constant bounds and two atomic adds; Stats adds up the
// buckets when metrics are scraped. Count and sum are read without a common
// lock, so a scrape racing an observation may see one without the other;
// the next scrape is exact again.
type latencyHistogram struct {
	buckets  [len(latencyBounds) + 1]atomic.Uint64 // the last one is +Inf
	sumNanos atomic.Uint64
}

func (h *latencyHistogram) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNanos.Add(uint64(d))
}

// LatencyStats is a snapshot of a latency histogram.
type LatencyStats struct {
	// Buckets are cumulative, as Prometheus counts them: Counts[i] exchanges
	// took at most Bounds[i] seconds.
	Bounds []float64
	Counts []uint64
	// Count and Sum (seconds) are over every exchange.
	Count uint64
	Sum   float64
}

func (h *latencyHistogram) stats() LatencyStats {
	s := LatencyStats{Bounds: make([]float64, len(latencyBounds)), Counts: make([]uint64, len(latencyBounds))}
	for i, b := range latencyBounds {
		s.Count += h.buckets[i].Load()
		s.Bounds[i] = b.Seconds()
		s.Counts[i] = s.Count
	}
	s.Count += h.buckets[len(latencyBounds)].Load()
	s.Sum = time.Duration(h.sumNanos.Load()).Seconds()
	return s
}

// Stats is a snapshot of the Server's counters, for metrics and tests.
type Stats struct {
	// InFlight is the number of shopper requests being handled now.
	InFlight int64
	// AnswersMemory is what origin answers hold now beyond their first MiB,
	// bounded by limits.answers_memory (AnswersMemoryMax).
	AnswersMemory, AnswersMemoryMax int64
	// OpenConns is the number of shopper connections open now.
	OpenConns int64
	// Misdirected counts requests for hosts no site claims (421).
	Misdirected uint64
	// Refused counts requests refused before routing: ambiguous framing,
	// a head or body over the limits, a read timeout.
	Refused uint64
	// Panics counts requests whose handling panicked: recovered, answered
	// 503, logged with a stack. Any is a bug to report.
	Panics uint64
	// Sites are the sites of the configuration in force, in config order.
	Sites []SiteStats
}

// SiteStats is what the Server knows of one site.
type SiteStats struct {
	Name string
	// Served counts answers by outcome.
	Served [NumOutcomes]uint64
	// OriginLatency is the duration of exchanges with the site's origins
	// (shoppers' requests and sitemap warming; not probes), for answers and
	// timeouts: a refused connection has no latency worth showing.
	OriginLatency LatencyStats
	// OriginRefused counts origin answers Awning refused, by reason
	// (docs/origins.md); see RefusalReasons.
	OriginRefused map[string]uint64
	// OriginEarly counts origin answers relayed that came before the origin
	// had the whole request (a 413 to an upload, a 401 to a POST):
	// originearly.go.
	OriginEarly uint64
	Health      health.Stats
	// Warm is nil for a site without sitemap warming.
	Warm *warm.Stats
	// Maintenance is the maintenance in force now: MaintenanceFull,
	// MaintenanceReadOnly, or "" for none (or a window not yet begun or
	// already over).
	Maintenance string
}

// Maintenance modes, as SiteStats reports them.
const (
	MaintenanceFull     = "full"
	MaintenanceReadOnly = "read-only"
)

// Stats returns a snapshot of the counters of the configuration in force.
func (s *Server) Stats() Stats {
	snap := s.snap.Load()
	conns := max(0, s.http.GetOpenConnectionsCount())
	if s.plain != nil {
		conns += max(0, s.plain.http.GetOpenConnectionsCount())
	}
	st := Stats{
		InFlight:      s.inflight.Load(),
		AnswersMemory: s.answers.held.Load(), AnswersMemoryMax: s.answers.max.Load(),
		OpenConns:   int64(conns),
		Misdirected: s.misdirected.Load(),
		Refused:     s.refused.Load(),
		Panics:      s.panics.Load(),
		Sites:       make([]SiteStats, 0, len(snap.states)),
	}
	for _, ss := range snap.states {
		x := SiteStats{Name: ss.site.Name, OriginLatency: ss.count.latency.stats(), Health: ss.health.Stats()}
		x.Health.ShortCircuited += ss.count.served.loadAll(&x.Served)
		x.OriginRefused = ss.count.refusals.stats()
		x.OriginEarly = ss.count.early.Load()
		if ss.warmer != nil {
			w := ss.warmer.Stats()
			x.Warm = &w
		}
		if m := s.maintenanceNow(ss.dyn.Load()); m != nil {
			x.Maintenance = MaintenanceFull
			if m.readOnly {
				x.Maintenance = MaintenanceReadOnly
			}
		}
		st.Sites = append(st.Sites, x)
	}
	return st
}

// SiteOf returns the name of the site that serves host in the configuration
// in force, or "" when none does: for metrics that learn of a host name
// (a certificate) and report it by site.
func (s *Server) SiteOf(host string) string {
	if site := s.snap.Load().sites.Lookup([]byte(host)); site != nil {
		return site.Name
	}
	return ""
}
