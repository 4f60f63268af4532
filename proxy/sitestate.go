package proxy

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/pages"
)

// SiteState is what ops and merchants changed at run time for one site,
// as the proxy applies it (the state package keeps it and the node turns it
// into this): what the pages show, the maintenance rule, the ops override.
// Its zero value is "nothing changed".
type SiteState struct {
	// Pages is what the outage and maintenance pages show beyond the
	// configuration: branding, incident updates, the maintenance window.
	Pages pages.State
	// Maintenance is the maintenance rule; nil for none.
	Maintenance *Maintenance
	// ForceFallback: ops declared the origin down. When false, the config's
	// force_fallback applies.
	ForceFallback bool
}

// dynamic is a site's run-time part of the request path: swapped whole
// when the state or the configuration changes. Its pages are rendered on
// first use (pagecache.go).
//
// What a copy served stale needs of it (the maintenance rule, the banner)
// the request reads from its host's slot (hostRef), where it is copied.
type dynamic struct {
	maint *maintRule // nil without maintenance
	// banner is put on pages served from copies; its get is nil without
	// cache.banner.
	banner lazyBanner
	pages  lazyPages
}

// slotBanner is hostRef.banner for d: its banner for copies served
// stale once rendered, noBanner for none, nil until rendered.
func (d *dynamic) slotBanner() *pages.Banner {
	if d.banner.build == nil {
		return noBanner
	}
	return d.banner.ready()
}

// staleBanner returns the banner of copies served stale for ref's site,
// nil without one. The first request to need it renders it and stores it
// in the slots of the site's hosts that still follow the run-time part it
// was rendered for (under slotMu, as ApplyState stores a new one: a
// banner is never stored over a newer run-time part's).
func (s *Server) staleBanner(ref *hostRef) *pages.Banner {
	switch b := ref.banner.Load(); b {
	case noBanner:
		return nil
	case nil:
	default:
		return b
	}
	d := ref.dyn.Load()
	b := d.banner.get()
	s.publishBanner(ref.st, d)
	return b
}

// publishBanner stores d's banner in the slots of st's hosts that follow
// d still.
func (s *Server) publishBanner(st *siteState, d *dynamic) {
	s.slotMu.Lock()
	defer s.slotMu.Unlock()
	hosts := s.snap.Load().hosts
	for _, h := range st.hostBytes {
		if r := hosts.Lookup(h); r != nil && r.dyn.Load() == d {
			r.banner.Store(d.slotBanner())
		}
	}
}

// ApplyState applies a site's run-time state: its pages (rendered anew
// when next needed) and maintenance rule are swapped in, and the ops
// override is set. It is kept, so a config reload renders the site with it
// too.
func (s *Server) ApplyState(site string, in SiteState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	ss := snap.sites.Named(site)
	if ss == nil {
		return errors.New("proxy: no site named " + site)
	}
	st := snap.states[ss.Index]
	s.inputs[site] = in
	d := s.newDynamic(st, in)
	s.slotMu.Lock()
	old := st.dyn.Swap(d)
	for _, h := range st.hostBytes {
		if ref := snap.hosts.Lookup(h); ref != nil && ref.st == st {
			ref.follow(d)
		}
	}
	s.slotMu.Unlock()
	if old != nil {
		s.pageCache.drop(&old.pages)
	}
	st.applyForce(in)
	return nil
}

// newDynamic prepares what a site's run-time state changes on the request
// path. Nothing is rendered yet: pages and banners are rendered when first
// needed.
func (s *Server) newDynamic(st *siteState, in SiteState) *dynamic {
	now := s.now()
	d := &dynamic{pages: lazyPages{site: st.pageSite, state: in.Pages, maint: in.Maintenance != nil, cache: s.pageCache}}
	if st.bannerOn {
		// In the languages and zone of the pages (the merchant may choose
		// them at run time), rendered once per change like the pages.
		d.banner.build = func() *pages.Banner {
			return s.banners.get(pages.StaleBannerKey(st.pageSite, in.Pages, st.bannerText), func() *pages.Banner {
				return pages.StaleBanner(st.pageSite, in.Pages, st.bannerText)
			})
		}
	}
	if m := in.Maintenance; m != nil {
		d.maint = &maintRule{readOnly: m.ReadOnly, allow: m.Allow, pages: &d.pages}
		if !m.Start.IsZero() {
			d.maint.start = m.Start.UnixNano()
		}
		if !m.End.IsZero() {
			d.maint.end = m.End.UnixNano()
		}
		if m.BypassSecret != "" {
			d.maint.secret = []byte(m.BypassSecret)
		}
		if m.ReadOnly && st.bannerOn {
			// Copies served in planned work say so, with its message and
			// end, not "temporary disruption".
			d.maint.banner.build = func() *pages.Banner { return pages.MaintenanceBanner(st.pageSite, in.Pages, now) }
		}
	}
	return d
}

// applyForce sets the health override from the state, or from the config
// when ops released it.
func (st *siteState) applyForce(in SiteState) {
	switch f := st.site.Config.ForceFallback; {
	case in.ForceFallback:
		st.health.SetForce(health.ForceFallback)
	case f == nil:
		st.health.SetForce(health.ForceAuto)
	case *f:
		st.health.SetForce(health.ForceFallback)
	default:
		st.health.SetForce(health.ForceOrigin)
	}
}

// Preview renders a site's page as it is now (its run-time state
// included) with the logo inlined, for merchants and the admin API. lang
// picks the language order starting with it; "" gives the shop's own.
func (s *Server) Preview(site string, mode pages.Mode, lang string) ([]byte, error) {
	s.mu.Lock()
	in := s.inputs[site]
	s.mu.Unlock()
	snap := s.snap.Load()
	ss := snap.sites.Named(site)
	if ss == nil {
		return nil, errors.New("proxy: no site named " + site)
	}
	set, err := pages.Render(snap.states[ss.Index].pageSite, in.Pages, pages.Options{InlineLogo: true})
	if err != nil {
		return nil, err
	}
	p := set.Outage
	if mode == pages.Maintenance {
		p = set.Maintenance
	}
	if v := p.Variant(lang); lang != "" && v != nil {
		return v.HTML, nil
	}
	return p.Variants()[0].HTML, nil
}

// lazyBanner is a banner rendered when a copy first needs it: most sites
// never serve one, and a node may hold thousands. Its zero value has no
// banner.
type lazyBanner struct {
	build func() *pages.Banner // nil: no banner
	once  sync.Once
	b     atomic.Pointer[pages.Banner]
}

// get returns the banner, rendering it on first use; nil for none. After
// that it is an atomic load.
func (l *lazyBanner) get() *pages.Banner {
	if b := l.b.Load(); b != nil || l.build == nil {
		return b
	}
	l.once.Do(func() { l.b.Store(l.build()) })
	return l.b.Load()
}

// ready returns the banner if it has been rendered, else nil.
func (l *lazyBanner) ready() *pages.Banner { return l.b.Load() }
