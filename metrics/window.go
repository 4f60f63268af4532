package metrics

import (
	"sync"
	"time"

	"github.com/awningproxy/awning/proxy"
)

// fallbackWindow remembers, per site, how many answers went to shoppers
// and how many of them came from the fallback (a copy or the outage page),
// as they stood at samples taken every sampleEvery over the last
// windowLength. A scrape subtracts the oldest sample from the live counters:
// the share of fallback answers over the last minute, which Prometheus
// could compute with rate() only if every dashboard and alert wrote the
// same query. The request path pays nothing for it.
//
// It is safe for concurrent use.
type fallbackWindow struct {
	mu      sync.Mutex
	samples []sample // oldest first
}

type sample struct {
	at    time.Time
	sites map[string]answerCounts
}

// answerCounts are the answers a site gave shoppers: those the origin
// could have given (origin, stale, outage, unconfirmed) and those of them
// that came from the fallback. Maintenance is left out (ops chose it, and
// copies served in read-only maintenance count as maintenance), and so are
// Awning's own paths (the outage page polls one every few seconds).
type answerCounts struct{ total, fallback uint64 }

const (
	windowLength = time.Minute
	sampleEvery  = 5 * time.Second
)

func countsOf(s *proxy.SiteStats) answerCounts {
	fb := s.Served[proxy.OutcomeStale] + s.Served[proxy.OutcomeOutage] + s.Served[proxy.OutcomeUnconfirmed]
	return answerCounts{total: s.Served[proxy.OutcomeOrigin] + fb, fallback: fb}
}

// add records the counters as they are at now and forgets samples older
// than the window.
func (w *fallbackWindow) add(now time.Time, st *proxy.Stats) {
	sm := sample{at: now, sites: make(map[string]answerCounts, len(st.Sites))}
	for i := range st.Sites {
		sm.sites[st.Sites[i].Name] = countsOf(&st.Sites[i])
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples = append(w.samples, sm)
	drop := 0
	for drop < len(w.samples)-1 && now.Sub(w.samples[drop].at) > windowLength {
		drop++
	}
	w.samples = w.samples[drop:]
}

// ratio returns the share of site's answers since the oldest sample that
// came from the fallback, 0 when there were none. A site the oldest sample
// does not know (added by a reload since) counts from zero.
func (w *fallbackWindow) ratio(s *proxy.SiteStats) float64 {
	now := countsOf(s)
	var base answerCounts
	w.mu.Lock()
	if len(w.samples) > 0 {
		base = w.samples[0].sites[s.Name]
	}
	w.mu.Unlock()
	if now.total < base.total || now.fallback < base.fallback {
		base = answerCounts{} // counters restarted (the site was removed and added again)
	}
	total := now.total - base.total
	if total == 0 {
		return 0
	}
	return float64(now.fallback-base.fallback) / float64(total)
}
