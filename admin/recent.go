package admin

import (
	"sync"
	"time"

	"github.com/awningproxy/awning/proxy"
)

// The console's "answers in the last minutes": counters sampled every
// recentEvery and kept for recentWindow; a reading subtracts the oldest
// sample from the live counters. Sampling a few times a minute keeps ten
// samples of 10,000 sites under half a megabyte each, and costs the
// request path nothing.
const (
	recentEvery  = 30 * time.Second
	recentWindow = 5 * time.Minute
)

// counts are a site's answers by outcome.
type counts [proxy.NumOutcomes]uint64

// recentAnswers is the sample ring. Safe for concurrent use.
type recentAnswers struct {
	mu      sync.Mutex
	samples []answerSample // oldest first
}

type answerSample struct {
	at    time.Time
	index map[string]int // site name → position in counts; shared while the sites stay the same
	names []string
	count []counts
}

// add records the counters as they are at now and forgets samples older
// than the window (keeping the one that spans it).
func (r *recentAnswers) add(now time.Time, st *proxy.Stats) {
	sm := answerSample{at: now, names: make([]string, len(st.Sites)), count: make([]counts, len(st.Sites))}
	for i := range st.Sites {
		sm.names[i] = st.Sites[i].Name
		sm.count[i] = st.Sites[i].Served
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.samples); n > 0 && sameNames(r.samples[n-1].names, sm.names) {
		sm.index, sm.names = r.samples[n-1].index, r.samples[n-1].names
	} else {
		sm.index = make(map[string]int, len(sm.names))
		for i, name := range sm.names {
			sm.index[name] = i
		}
	}
	r.samples = append(r.samples, sm)
	drop := 0
	for drop < len(r.samples)-1 && now.Sub(r.samples[drop+1].at) >= recentWindow {
		drop++
	}
	r.samples = r.samples[drop:]
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// base returns the oldest sample's time and a function giving a site's
// counters in it; ok is false before the first sample.
func (r *recentAnswers) base() (at time.Time, of func(site string) counts, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == 0 {
		return time.Time{}, nil, false
	}
	sm := r.samples[0]
	return sm.at, func(site string) counts {
		if i, ok := sm.index[site]; ok {
			return sm.count[i]
		}
		return counts{} // a site added since counts from zero
	}, true
}

// since returns now minus base, or now itself when a counter went back
// (the site was removed and added again).
func since(now, base counts) counts {
	for o := range now {
		if now[o] < base[o] {
			return now
		}
	}
	var d counts
	for o := range now {
		d[o] = now[o] - base[o]
	}
	return d
}
