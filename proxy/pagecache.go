package proxy

import (
	"container/list"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/awningproxy/awning/pages"
)

// A site's outage and maintenance pages are rendered when a shopper first
// needs one (an outage, maintenance, the logo those pages link to), not
// when the configuration or the run-time state is loaded: a node with
// 50,000 shops renders and keeps the pages of the few that are down, and
// starts without rendering any. What is rendered stays in a pageCache
// bounded in bytes (cache.pages); when it is full, the pages least
// recently served give way (the CLOCK algorithm: a served page is marked,
// the hand passes marked pages once, unmarking them, and takes the first
// unmarked one). An evicted site renders again on its next need. A cache
// hit is an atomic load and no allocation.

// lazyPages is one site's pages as of one run-time state: rendered on
// first use, dropped by the pageCache when room is needed.
type lazyPages struct {
	site  *pages.Site
	state pages.State
	maint bool // render the maintenance answers too
	cache *pageCache

	cur  atomic.Pointer[renderedPages]
	used atomic.Bool // served since the clock hand last passed
	mu   sync.Mutex  // one render at a time

	elem *list.Element // in cache.ring while rendered; guarded by cache.mu
	gone bool          // replaced: never enter the cache again; guarded by cache.mu
}

// renderedPages are a site's pages, ready to write.
type renderedPages struct {
	set         *pages.Set
	outage      pageAnswers
	unconfirmed pageAnswers // an order sent that the origin never answered
	maintenance pageAnswers // zero unless the state has maintenance
	logo        *answer     // nil without a logo
	logoPath    []byte
	size        int64 // bytes held, for the cache's budget
}

// get returns the site's pages, rendering them when they are not (or no
// longer) in the cache.
func (l *lazyPages) get() *renderedPages {
	if r := l.cur.Load(); r != nil {
		if !l.used.Load() {
			l.used.Store(true)
		}
		return r
	}
	return l.render()
}

func (l *lazyPages) render() *renderedPages {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.cur.Load(); r != nil {
		return r // rendered while we waited
	}
	set, err := pages.Render(l.site, l.state, pages.Options{})
	if err != nil {
		// Only a custom template can fail, and it was tried with sample
		// data when loaded; should it fail on real data, shoppers get the
		// built-in design rather than nothing.
		l.cache.log.Error("page template failed; serving the built-in design", "site", l.site.Name, "err", err)
		plain := *l.site
		plain.Template = nil
		if set, err = pages.Render(&plain, l.state, pages.Options{}); err != nil {
			panic(err) // the built-in design renders for every checked input
		}
	}
	r := &renderedPages{set: set, outage: newPageAnswers(set.Outage, vOutage), unconfirmed: newPageAnswers(set.Unconfirmed, vUnconfirmed)}
	r.size = r.outage.bytes() + r.unconfirmed.bytes()
	if l.maint {
		r.maintenance = newPageAnswers(set.Maintenance, vMaintenance)
		r.size += r.maintenance.bytes()
	}
	if set.Logo != nil {
		r.logo, r.logoPath = logoAnswer(set.Logo), []byte(set.Logo.Path)
		r.size += int64(len(set.Logo.Path)) // the image is the state's, not ours
	}
	l.used.Store(true)
	l.cur.Store(r)
	l.cache.add(l, r.size)
	return r
}

// bytes is how much memory the answers hold.
func (a *pageAnswers) bytes() int64 {
	var n int64
	for _, h := range a.html {
		n += int64(len(h.body) + len(h.gzip) + 256)
	}
	if a.json != nil {
		n += int64(len(a.json.body) + 256)
	}
	return n
}

// pageCache bounds the memory of rendered pages across every site. It is
// safe for concurrent use.
type pageCache struct {
	log    *slog.Logger
	mu     sync.Mutex
	budget int64
	bytes  int64
	ring   list.List // of *lazyPages
	hand   *list.Element

	renders, evictions atomic.Uint64
}

func newPageCache(budget int64, log *slog.Logger) *pageCache {
	c := &pageCache{budget: budget, log: log}
	c.ring.Init()
	return c
}

// resize sets the budget (cache.pages, on reload); what no longer fits is
// evicted at the next render.
func (c *pageCache) resize(budget int64) {
	c.mu.Lock()
	c.budget = budget
	c.mu.Unlock()
}

// add takes in l's fresh rendering of size bytes and evicts others until
// the budget holds (never l itself: it is about to be served).
func (c *pageCache) add(l *lazyPages, size int64) {
	c.renders.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.gone {
		l.cur.Store(nil) // replaced while rendering: keep nothing
		return
	}
	if l.elem == nil {
		l.elem = c.ring.PushBack(l)
	}
	c.bytes += size
	for c.bytes > c.budget && c.ring.Len() > 1 {
		e := c.hand
		if e == nil {
			e = c.ring.Front()
		}
		next := e.Next()
		if next == nil {
			next = c.ring.Front()
		}
		v := e.Value.(*lazyPages)
		switch {
		case v == l:
		case v.used.Load():
			v.used.Store(false) // a second chance
		default:
			c.evictLocked(v)
			c.evictions.Add(1)
		}
		c.hand = next
		if c.hand == e { // the ring emptied down to l
			c.hand = nil
		}
	}
}

// drop forgets l for good: its state was replaced (a reload, a run-time
// change), so its pages will not be served again.
func (c *pageCache) drop(l *lazyPages) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l.gone = true
	if l.elem != nil {
		c.evictLocked(l)
	}
}

func (c *pageCache) evictLocked(l *lazyPages) {
	if r := l.cur.Swap(nil); r != nil {
		c.bytes -= r.size
	}
	if c.hand == l.elem {
		c.hand = l.elem.Next()
	}
	c.ring.Remove(l.elem)
	l.elem = nil
}

// PageCacheStats says what the rendered pages cost.
type PageCacheStats struct {
	// Sites is how many sites' pages are rendered now, in Bytes.
	Sites int
	Bytes int64
	// Renders and Evictions count since start.
	Renders, Evictions uint64
}

func (c *pageCache) stats() PageCacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return PageCacheStats{Sites: c.ring.Len(), Bytes: c.bytes, Renders: c.renders.Load(), Evictions: c.evictions.Load()}
}
