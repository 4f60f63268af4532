package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/fallback/warm"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/sites"
	"github.com/valyala/fasthttp"
)

// Options is what a Server is built from. Update takes the same shape.
type Options struct {
	// Config is the loaded configuration. Required.
	Config *config.Config
	// Sites is the routing table built from Config. Required.
	Sites *sites.Registry
	// Logger receives the server's log. Default: slog.Default().
	Logger *slog.Logger
	// Notifier receives origin state changes (notify.webhook). Optional.
	Notifier health.Notifier
	// Now is the clock health and cache decisions use. Default time.Now.
	Now func() time.Time
	// Cache holds the copies; it outlives reloads, so the node owns it.
	// Default: a memory-only cache sized by cache.memory, owned by the
	// Server. Only New reads it.
	Cache *cache.Cache
	// Plain configures listen.http when the node also serves HTTPS (see
	// ServePlain). Fixed at New; Update ignores it.
	Plain *PlainOptions
}

// Server is the shopper-facing HTTP server: it routes each request to its
// site and forwards it to the site's origin. It is safe for concurrent use;
// Update swaps in a new configuration while requests are in flight.
type Server struct {
	log     *slog.Logger
	http    *fasthttp.Server
	plain   *plainServer   // nil unless Options.Plain
	checked *checkedBodies // bodies from origins known good: gzip that decodes, pages without failure markers
	answers answerMemory   // limits.answers_memory: what origin answers hold across the node
	prober  *health.Prober // probes every origin endpoint of every site
	origins *originTable   // origins shared by sites; guarded by mu
	// pageCache holds the sites' rendered pages, bounded by cache.pages.
	pageCache *pageCache
	banners   bannerShare // stale banners, one per distinct banner
	served    servedTable // every site's answers by outcome
	snap      atomic.Pointer[snapshot]
	cache     *cache.Cache
	ownCache  bool
	flights   *flights
	now       func() time.Time

	bg        sync.WaitGroup // fetches finishing after their shopper got a copy (background refreshes)
	refreshes atomic.Uint64  // background refreshes finished
	// refreshStarts counts background refreshes started: at most one per
	// page at a time (the page's flight leader's).
	refreshStarts atomic.Uint64
	store         storer  // builds new copies off the shoppers' path (store.go)
	sweeper       sweeper // closes origin connections idle too long

	staleServed, outageServed, maintenanceServed atomic.Uint64
	misdirected, refused                         atomic.Uint64 // requests for no site
	panics                                       atomic.Uint64 // requests whose handler panicked (recovered)
	inflight                                     atomic.Int64  // shopper requests being handled

	mu sync.Mutex // serializes Update, ApplyState and Close
	// slotMu orders the stores of a run-time part's copies in hosts'
	// slots (hostRef): ApplyState's and a banner's first rendering.
	slotMu sync.Mutex
	closed bool
	inputs map[string]SiteState // run-time state by site name, kept across reloads

	protocols // HTTP/2 and HTTP/3, bridged in (h2.go)
}

// snapshot is everything the request path reads, built once per config and
// swapped in whole, so that a request sees one consistent configuration.
type snapshot struct {
	sites  *sites.Registry
	states []*siteState // by sites.Site.Index
	// hosts finds a request's site state and run-time part from its host
	// in one probe of a flat table: the request path's way in
	// (sites.Table).
	hosts   *sites.Table[hostRef]
	trusted trustList
	// shopperScheme is what shoppers use (https unless tls.mode is off),
	// sent as X-Forwarded-Proto on Awning's own requests (sitemap warming).
	shopperScheme []byte
	// accessLog is log.access: one line per request.
	accessLog bool
	// cfg is the configuration the snapshot was built from. A snapshot
	// built from the same one (sites registered through the admin API
	// changed) keeps the states of sites whose config did not change.
	cfg *config.Config
	// fresh are the states built for this snapshot rather than kept from
	// the one before; only while Update runs.
	fresh []*siteState
}

// siteState is the per-site part of a snapshot.
//
// A node with thousands of shops serves another one on nearly every
// request, and each line of a site's state a request touches is then a
// cache miss. A copy served stale reads none of it: what it needs is in
// the host's slot (hostRef). Every other request reads its first cache
// line (the run-time part, health, counters, HSTS) and the host's slot.
// The struct is sized for the 256-byte size class, whose objects start on
// a cache line; TestSiteStateHotLine holds both.
type siteState struct {
	// dyn is the run-time part: rendered pages, maintenance rule, banner.
	// It is swapped by ApplyState without rebuilding the snapshot, in the
	// host table's slots too (hostRef.follow).
	dyn    atomic.Pointer[dynamic]
	health *health.Site
	// served is count.served (where every answer is counted), here in
	// the first line.
	served   servedSlot
	bannerOn bool   // cache.banner: pages served from copies carry a banner
	hsts     []byte // Strict-Transport-Security on HTTPS answers; nil for none

	// What a request the origin is asked for reads besides.
	count         *siteCounters    // carried over reloads, like health
	keyRules      *cache.KeyPolicy // the site's key policy without its name (keys)
	pool          *pool
	policy        *cache.Policy
	fallbackAfter time.Duration
	timeout       time.Duration
	firstByte     time.Duration // origin.first_byte_timeout, 0 when the timeout bounds it anyway
	writeTimeout  time.Duration // origin.write_timeout: every method but GET and HEAD
	hostHeader    []byte        // origin.host_header; nil passes the shop's host
	apiPaths      [][]byte
	checkoutPaths [][]byte

	site       *sites.Site
	hostBytes  [][]byte          // site.Hosts, for the request path
	warmer     *warm.Warmer      // nil without cache.warm.sitemap
	bannerText map[string]string // cache.banner_text
	pageSite   *pages.Site       // what the pages render from in the config
}

// hostRef is what a host's slot in the host table holds: everything a
// request answered from a copy (or refused by the circuit) reads of its
// site, so that on a node with thousands of shops, where each request is
// for another shop and every line of that shop's memory is a trip to
// memory, such a request reads the host's slot (which the lookup fetches
// at once, its lines side by side) and nothing else of the site: not its
// state, not its run-time part. Its answer counter and circuit are in the
// served table (small enough to stay in cache), the banner and key rules
// are shared by sites.
//
// The slot holds the site's state and run-time part for the other paths,
// and copies of what the run-time part decides, kept in step with it:
// ApplyState stores all three under slotMu, and a banner rendered on first
// use is stored in the slots of the run-time part it was rendered for
// (Server.staleBanner). hostRef and the table's 48 bytes of host name make
// a slot of three cache lines (TestSiteStateHotLine).
type hostRef struct {
	st  *siteState
	dyn atomic.Pointer[dynamic]
	// maint is dyn's maintenance rule, nil for none.
	maint atomic.Pointer[maintRule]
	// banner is dyn's banner for copies served stale once rendered:
	// noBanner for none, nil until it is rendered.
	banner atomic.Pointer[pages.Banner]
	count  servedSlot // siteState.served
	hsts   []byte     // siteState.hsts
	// rules is siteState.keyRules (shared by sites with the same settings).
	rules *cache.KeyPolicy
	// name[:nameLen] is the site's name.
	nameLen uint8
	name    [sites.MaxNameLen]byte
}

// noBanner is hostRef.banner for a site whose copies carry no banner.
var noBanner = new(pages.Banner)

// setSite fills in ref for a host of st.
func (ref *hostRef) setSite(st *siteState) {
	ref.st = st
	ref.follow(st.dyn.Load())
	ref.count = st.served
	ref.hsts = st.hsts
	ref.rules = st.keyRules
	ref.nameLen = uint8(copy(ref.name[:], st.site.Name))
}

// follow makes ref the slot of run-time part d.
func (ref *hostRef) follow(d *dynamic) {
	ref.dyn.Store(d)
	ref.maint.Store(d.maint)
	ref.banner.Store(d.slotBanner())
}

// keys returns the site's key policy.
func (ref *hostRef) keys() cache.KeyPolicy {
	return ref.rules.Named(ref.name[:ref.nameLen:ref.nameLen])
}

// keys returns the site's key policy, for keys built off the request path
// (warming); a request builds its key from its host's slot (hostRef.keys).
func (st *siteState) keys() cache.KeyPolicy { return st.keyRules.Named([]byte(st.site.Name)) }

// site returns the state of the site serving host, or nil.
func (snap *snapshot) site(host []byte) *siteState {
	if ref := snap.hosts.Lookup(host); ref != nil {
		return ref.st
	}
	return nil
}

// New builds a Server. It does not listen; see Serve.
func New(opt Options) (*Server, error) {
	if opt.Config == nil || opt.Sites == nil {
		return nil, errors.New("proxy: Options.Config and Options.Sites are required")
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		log:     log,
		cache:   opt.Cache,
		origins: newOriginTable(),
		checked: newCheckedBodies(),
		flights: newFlights(),
		now:     opt.Now,
		inputs:  map[string]SiteState{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.prober = health.NewProber(health.ProberConfig{Log: log, Now: opt.Now})
	s.pageCache = newPageCache(int64(opt.Config.Cache.Pages), log)
	if s.cache == nil {
		s.cache = cache.New(cache.Config{Memory: int64(opt.Config.Cache.Memory), Log: log, Now: s.now})
		s.ownCache = true
	}
	s.http = s.newHTTPServer(s.handleServe, opt.Config.Limits)
	s.initProtocols(opt.Config)
	if opt.Plain != nil {
		s.newPlain(*opt.Plain, opt.Config.Limits)
	}
	if err := s.Update(opt); err != nil {
		s.prober.Close()
		return nil, err
	}
	s.prober.Start()
	s.startStorer()
	s.startSweeper()
	return s, nil
}

// Update swaps in a new configuration. Requests in flight finish with the
// one they started with. Health carries over for origins whose URL did not
// change; probes of the old configuration stop. Limits (header and body
// sizes) are fixed at New: they size connection buffers, and change only on
// restart.
func (s *Server) Update(opt Options) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("proxy: Update after Close")
	}
	snap, err := s.build(opt, s.snap.Load())
	if err != nil {
		return err
	}
	for _, st := range snap.fresh {
		if st.warmer = s.newWarmer(st); st.warmer != nil {
			st.warmer.Start()
		}
	}
	s.pageCache.resize(int64(opt.Config.Cache.Pages))
	if old := s.snap.Swap(snap); old != nil {
		// The new snapshot joined its endpoints and origins first: those
		// it shares with the old one keep their state and connections.
		s.releaseLocked(old.replacedBy(snap))
	}
	snap.fresh = nil
	for name := range s.inputs {
		if snap.sites.Named(name) == nil {
			delete(s.inputs, name) // a removed site's state goes with it
		}
	}
	return nil
}

// replacedBy returns the states of snap that next does not keep.
func (snap *snapshot) replacedBy(next *snapshot) []*siteState {
	if len(next.fresh) == len(next.states) {
		return snap.states
	}
	kept := make(map[*siteState]bool, len(next.states)-len(next.fresh))
	for _, st := range next.states {
		kept[st] = true
	}
	var out []*siteState
	for _, st := range snap.states {
		if !kept[st] {
			out = append(out, st)
		}
	}
	return out
}

// releaseLocked stops what site states no longer in use started: their
// sites leave their endpoints, warmers stop, origins no snapshot shares
// close their idle connections. Requests still using them finish unharmed.
func (s *Server) releaseLocked(states []*siteState) {
	for _, st := range states {
		if st.health != nil {
			st.health.Close()
		}
		if st.warmer != nil {
			st.warmer.Close()
		}
		if st.pool != nil {
			s.origins.release(st.pool)
		}
		if d := st.dyn.Load(); d != nil {
			s.pageCache.drop(&d.pages)
		}
	}
}

// Close stops health probes and waits for origin fetches still refreshing
// copies (each bounded by its origin timeout). Call it after Shutdown.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.bridge.runners.close() // after Shutdown: no bridged request is left
	s.prober.Close()
	if snap := s.snap.Load(); snap != nil {
		s.releaseLocked(snap.states)
	}
	s.bg.Wait()
	s.stopStorer()
	s.sweeper.stop()
	if s.ownCache {
		s.cache.Close()
	}
}

// Warmer returns the sitemap warmer of the named site, or nil.
func (s *Server) Warmer(site string) *warm.Warmer {
	snap := s.snap.Load()
	if site := snap.sites.Named(site); site != nil {
		return snap.states[site.Index].warmer
	}
	return nil
}

// ProberStats says whether the health prober runs, and how many origin
// endpoints it probes.
func (s *Server) ProberStats() health.ProberStats { return s.prober.Stats() }

// PageCache says how many sites' pages are rendered now, and what they
// cost.
func (s *Server) PageCache() PageCacheStats { return s.pageCache.stats() }

// Cache returns the copies' cache, for the admin API, metrics and tests.
func (s *Server) Cache() *cache.Cache { return s.cache }

// Served returns how many answers were copies served stale, outage pages
// and maintenance pages.
func (s *Server) Served() (stale, outage, maintenance uint64) {
	return s.staleServed.Load(), s.outageServed.Load(), s.maintenanceServed.Load()
}

// Pages returns the rendered pages of the named site (for previews), or
// nil.
func (s *Server) Pages(site string) *pages.Set {
	snap := s.snap.Load()
	if site := snap.sites.Named(site); site != nil {
		return snap.states[site.Index].dyn.Load().pages.get().set
	}
	return nil
}

// Health returns the health of the named site, or nil: for the admin API,
// metrics and tests.
func (s *Server) Health(site string) *health.Site {
	snap := s.snap.Load()
	if site := snap.sites.Named(site); site != nil {
		return snap.states[site.Index].health
	}
	return nil
}

func (s *Server) build(opt Options, prev *snapshot) (_ *snapshot, err error) {
	cfg := opt.Config
	snap := &snapshot{sites: opt.Sites, shopperScheme: vHTTPS, accessLog: cfg.Log.Access, cfg: cfg}
	defer func() {
		if err != nil {
			s.releaseLocked(snap.fresh) // what the sites built so far joined
		}
	}()
	if cfg.TLS.Mode == "off" {
		snap.shopperScheme = vHTTP
	}
	for _, p := range cfg.TrustedProxies {
		snap.trusted = append(snap.trusted, p.Prefix)
	}
	s.answers.max.Store(int64(cfg.Limits.AnswersMemory))
	po := poolOptions{
		responseBody:   int(cfg.Limits.ResponseBody),
		responseHeader: int(cfg.Limits.ResponseHeader),
		log:            s.log,
		checked:        s.checked,
		mem:            &s.answers,
	}
	share := newSiteShare()
	keep := prev != nil && prev.cfg == cfg
	var pageErrs config.Errors
	snap.states = make([]*siteState, 0, opt.Sites.Len())
	for _, site := range opt.Sites.All() {
		sc := site.Config
		var prevState *siteState
		if prev != nil {
			if ps := prev.sites.Named(site.Name); ps != nil {
				prevState = prev.states[ps.Index]
			}
		}
		if keep && prevState != nil && prevState.site.Config == sc {
			// Same config, same site: only the site table around it
			// changed (a site added or removed through the admin API).
			snap.states = append(snap.states, prevState)
			continue
		}
		ps, err := pageSite(cfg, site)
		var ce config.Errors
		switch {
		case errors.As(err, &ce):
			pageErrs = append(pageErrs, ce...)
			continue
		case err != nil:
			return nil, err
		}
		p, err := s.origins.pool(&sc.Origin, po)
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", site.Name, err)
		}
		var prevHealth *health.Site
		var count *siteCounters
		if prevState != nil {
			prevHealth, count = prevState.health, prevState.count
		} else {
			count = &siteCounters{}
			s.served.take(count)
		}
		p.attach(site.Name, count)
		p.markers = share.failureMarkers(sc.Origin.FailureMarkers)
		probeHost := site.Hosts[0]
		if sc.Origin.HostHeader != "" {
			probeHost = sc.Origin.HostHeader
		}
		st := &siteState{
			site:          site,
			count:         count,
			served:        count.served,
			pool:          p,
			keyRules:      share.keyPolicy(&cfg.Cache, sc.Page.Languages),
			fallbackAfter: sc.Origin.FallbackAfter.D(),
			policy:        share.policy(&cfg.Cache, &sc.Cache, sc.APIPaths),
			timeout:       sc.Origin.Timeout.D(),
			writeTimeout:  sc.Origin.WriteTimeout.D(),
			firstByte:     firstByteBound(&sc.Origin),
			pageSite:      ps,
		}
		st.health = health.New(health.Config{
			Site:         site.Name,
			Origins:      sc.Origin.URLs,
			Origin:       &sc.Origin,
			Force:        sc.ForceFallback,
			Prober:       s.prober,
			Transports:   share.transportsOf(p),
			ProbeHost:    probeHost,
			FailurePage:  p.markers.Find,
			OnDown:       p.release,
			Notify:       opt.Notifier,
			Log:          s.log,
			Now:          opt.Now,
			Circuit:      &count.served.chunk.circuit[count.served.i],
			CircuitOwner: count,
		}, prevHealth)
		st.bannerOn, st.bannerText = sc.Cache.BannerOn(), sc.Cache.BannerText
		snap.states = append(snap.states, st)
		snap.fresh = append(snap.fresh, st)
		in := s.inputs[site.Name]
		st.dyn.Store(s.newDynamic(st, in))
		st.applyForce(in)
		st.hostHeader = share.byteString(sc.Origin.HostHeader)
		st.hsts = share.byteString(sc.HSTS.Header())
		st.hostBytes = make([][]byte, len(site.Hosts))
		for i, h := range site.Hosts {
			st.hostBytes[i] = []byte(h)
		}
		st.apiPaths = share.byteList(sc.APIPaths)
		st.checkoutPaths = share.byteList(sc.CheckoutPaths)
	}
	if len(pageErrs) > 0 {
		// Problems (an unknown language, an unreadable logo, a template
		// that does not render with sample data) are positioned in the
		// file, every site's at once.
		return nil, pageErrs
	}
	snap.hosts = sites.NewTable(opt.Sites, func(site *sites.Site, ref *hostRef) bool {
		ref.setSite(snap.states[site.Index])
		return true
	})
	return snap, nil
}

// firstByteBound is origin.first_byte_timeout as an exchange applies it: 0
// when it is no tighter than the timeout, which bounds the wait anyway.
func firstByteBound(oc *config.Origin) time.Duration {
	if fb := oc.FirstByteTimeout.D(); fb < oc.Timeout.D() {
		return fb
	}
	return 0
}

// pageSite reads what a site's pages render from in the configuration.
// Nothing is rendered here: a site's pages are rendered when first
// needed.
func pageSite(cfg *config.Config, site *sites.Site) (*pages.Site, error) {
	if site.API {
		return pages.FromSite(cfg, site.Config, "sites."+site.Name)
	}
	return pages.FromConfig(cfg, site.Index)
}

// Serve accepts shoppers' connections on ln until Shutdown. ln may be a TLS
// listener: the framing guard wraps the decrypted connection.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(guardListener{ln})
}

// newHTTPServer returns a fasthttp server with Awning's limits and
// timeouts, for the shoppers' listeners.
func (s *Server) newHTTPServer(h fasthttp.RequestHandler, lim config.Limits) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      h,
		ErrorHandler:                 s.parseError,
		Logger:                       fasthttpLogger{s.log},
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		ReadBufferSize:               int(lim.RequestHeader),
		WriteBufferSize:              writeBufferSize, // the guard coalesces writes of this size
		MaxRequestBodySize:           int(lim.RequestBody),
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 60 * time.Second,
		IdleTimeout:                  75 * time.Second,
		TCPKeepalive:                 true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		SecureErrorLogMessage:        true,
	}
}

// Shutdown stops accepting connections, closes idle ones, and waits for
// requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	bridged := s.shutdownBridged(ctx)
	if s.plain != nil {
		if err := s.plain.http.ShutdownWithContext(ctx); err != nil {
			s.http.ShutdownWithContext(ctx)
			return errors.Join(err, bridged())
		}
	}
	err := s.http.ShutdownWithContext(ctx)
	return errors.Join(err, bridged())
}

// Handler returns the request handler, for tests and benchmarks that drive
// the server without a listener (fasthttputil.InmemoryListener).
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// fasthttpLogger sends fasthttp's connection-level messages (client resets,
// parse errors) to the debug log: they are per-connection noise at info.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
	}
}

// canonicalHost returns the site's host the request named, in canonical
// form, from memory the site owns (the request path keeps it past the
// request's own buffers). Lookup already matched the host to this site.
func (st *siteState) canonicalHost(h []byte) []byte {
	var buf [sites.MaxHostLen + 8]byte
	c, _ := sites.AppendCanonical(buf[:0], h)
	for _, hb := range st.hostBytes {
		if bytes.Equal(hb, c) {
			return hb
		}
	}
	return st.hostBytes[0]
}
