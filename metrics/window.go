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
	at     time.Time
	sites  *siteIndex     // shared by consecutive samples of the same sites
	counts []answerCounts // by sites.pos
}

// siteIndex maps site names to positions in a sample's counts. A node with
// 50,000 sites keeps a dozen samples: one index for them all, and 16 bytes
// per site per sample.
type siteIndex struct {
	names []string
	pos   map[string]int
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

func countsOf(s *proxy.SiteStats) answerCounts { return countsOfServed(&s.Served) }

func countsOfServed(served *[proxy.NumOutcomes]uint64) answerCounts {
	fb := served[proxy.OutcomeStale] + served[proxy.OutcomeOutage] + served[proxy.OutcomeUnconfirmed]
	return answerCounts{total: served[proxy.OutcomeOrigin] + fb, fallback: fb}
}

// siteCounter is what the window samples: proxy.Server.
type siteCounter interface {
	SiteCounts(fn func(site string, served *[proxy.NumOutcomes]uint64))
}

// add records the counters as they are at now and forgets samples older
// than the window.
func (w *fallbackWindow) add(now time.Time, sc siteCounter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var last *siteIndex
	if n := len(w.samples); n > 0 {
		last = w.samples[n-1].sites
	}
	idx := last
	var names []string // only when the sites differ from the last sample's
	sm := sample{at: now}
	if last != nil {
		sm.counts = make([]answerCounts, 0, len(last.names))
	}
	i := 0
	sc.SiteCounts(func(site string, served *[proxy.NumOutcomes]uint64) {
		if names == nil && (last == nil || i >= len(last.names) || last.names[i] != site) {
			names = make([]string, i, max(i+1, len(sm.counts)))
			if last != nil {
				copy(names, last.names[:i])
			}
		}
		if names != nil {
			names = append(names, site)
		}
		sm.counts = append(sm.counts, countsOfServed(served))
		i++
	})
	switch {
	case names != nil:
	case last == nil:
		names = []string{} // no site at all
	case i != len(last.names):
		names = last.names[:i:i] // fewer sites than last: a prefix of them
	}
	if names != nil {
		idx = &siteIndex{names: names, pos: make(map[string]int, len(names))}
		for j, name := range names {
			idx.pos[name] = j
		}
	}
	sm.sites = idx
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
		if i, ok := w.samples[0].sites.pos[s.Name]; ok {
			base = w.samples[0].counts[i]
		}
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
