package proxy

import (
	"time"

	"github.com/awningproxy/awning/fallback"
	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/valyala/fasthttp"
)

// request is one shopper request for a site on its way through: the facts
// fallback.Decide will decide on, and what respond needs to write the
// answer. It lives on the handler's stack, and points to nothing there:
// the request's copy key, which does, is passed beside it, so that escape
// analysis keeps both off the heap.
type request struct {
	st *siteState
	// ref is the host's slot: what a copy served stale reads of the site.
	ref   *hostRef
	facts fallback.Facts
	maint *maintRule // the maintenance that closed the shop to the request, or nil
	// bypass: maintenance is in force, and the request was let through.
	bypass bool
	// notAsked: the site's circuit kept the request from the origin
	// (counted with the answer: servedSlot.answeredNotAsked).
	notAsked bool

	copy *cache.Copy // the request's copy, when found
	// asked: the origin was asked, so time passed since the copy was first
	// looked for. remoteLooked: Redis was asked for the copy already.
	asked, remoteLooked bool
	// down is closed when the site's origin is declared down: taken before
	// the circuit is asked, so that a trip while the request waits on the
	// origin ends the wait at once (health.Site.Down).
	down <-chan struct{}

	f *fetch // the origin exchange, when the handler still owns it
}

// serve answers a request for a site, after its own paths: from the
// origin, a copy, the outage page or the maintenance page, as respond
// decides. A GET or HEAD may be answered from a copy; any other method
// never is, and is never retried once sent.
//
// A request let through maintenance (bypass) is served as usual, but what
// it gets is never kept or shared: it sees a shop that is closed to
// everyone else.
func (s *Server) serve(ctx *fasthttp.RequestCtx, snap *snapshot, ref *hostRef) {
	var r request
	st := ref.st
	r.st, r.ref = st, ref
	r.facts.Browse = ctx.IsGet() || ctx.IsHead()
	now := s.now()
	if m := ref.maint.Load(); m != nil && m.activeAt(now.UnixNano()) {
		if s.bypassed(ctx, snap, st, m, now) {
			r.bypass = true
		} else {
			// Closed to this request. In read-only mode browsing goes on
			// from copies, without the origin; cart and checkout do not.
			r.maint = m
			r.facts.Closed, r.facts.ReadOnly = true, m.readOnly
			if m.readOnly && st.isCheckout(ctx.Path()) {
				r.facts.Browse = false
			}
			if r.facts.WantsCopy() {
				r.facts.NotAsked = "read-only"
			}
		}
	}
	switch {
	case r.facts.Closed && !r.facts.WantsCopy():
		s.respond(ctx, &r, nil) // the maintenance page
		return
	case !r.facts.Browse:
		s.forwardOther(ctx, snap, &r)
		return
	}
	var kbuf [512]byte // the key of a stale hit never leaves the stack
	keys := ref.keys()
	key := keys.Build(kbuf[:0], &ctx.Request)
	key.Bypass = r.bypass
	r.copy = s.cache.Lookup(&key, &ctx.Request)
	if !r.facts.Closed {
		// The circuit first: a request it keeps from the origin waits on
		// nothing, and reads nothing of the site's state or health (cold
		// on a node with thousands of shops) but its copy of the circuit.
		adm := ref.count.circuit()
		if adm == health.Admitted {
			// Taken before the circuit is asked again, so that a trip in
			// between is not missed (health.Site.Down).
			r.down = st.health.Down()
			if adm = st.health.Closed(); adm == health.Admitted {
				s.forwardBrowse(ctx, snap, &r, &key, now)
				return
			}
		} else {
			r.notAsked = true
			// The answer's counter is written last, with a locked add
			// that would wait for its line (seldom in cache with
			// thousands of shops): fetched now, it is there by then.
			o := OutcomeOutage
			if r.copy != nil {
				o = OutcomeStale
			}
			ref.count.prefetch(o, true)
		}
		r.facts.NotAsked = adm.String()
	}
	s.respond(ctx, &r, &key)
}

// forwardBrowse asks the origin for a GET or HEAD and answers. The
// exchange runs in the handler's goroutine, and races the origin against
// fallback_after with the origin connection's own read deadline, not a
// goroutine and a timer: when a copy can answer and the deadline passes
// first, the shopper gets the copy, and the exchange goes on in the
// background to refresh it (only the leader of the page's flight does:
// at most one refresh per page at a time; any other such exchange is
// abandoned). Without a copy the shopper waits up to the origin timeout,
// and never past the moment the origin is declared down (the connection's
// deadline is moved to now then): a shopper waiting for a page without a
// copy gets the outage page at once.
func (s *Server) forwardBrowse(ctx *fasthttp.RequestCtx, snap *snapshot, r *request, k *cache.Key, now time.Time) {
	st := r.st
	f := s.acquireFetch(st)
	f.get = ctx.IsGet()
	st.keyRules.Copy(&f.key, k, f.keyBuf) // f may outlive this handler
	f.path = append(f.path, ctx.Path()...)
	f.had, f.req = r.copy, &ctx.Request
	x := &f.x
	x.down, x.vouch = r.down, r.copy
	x.head, x.idempotent = !f.get, true
	r.asked = true

	// The flight f leads is ended by whoever holds f last; should this
	// handler panic before it hands f on, it ends here, failed.
	var lead *flight
	defer func() {
		if lead != nil {
			s.flights.end(lead, nil, errPanicked)
		}
	}()
join:
	for f.get && f.key.Storable() {
		fl, leader := s.flights.join(f.key.Primary, now)
		if fl == nil {
			break // solo for now: ask alone
		}
		if leader {
			f.fl, lead = fl, fl
			break
		}
		hasCopy := r.copy != nil || (s.cache.Shared() && !r.remoteLooked)
		cp, slowed, released, err := s.flights.wait(fl, hasCopy, r.down)
		switch {
		case released:
			r.facts.Failure = "origin-down"
		case slowed:
			if r.copy == nil { // the leader may have found one in Redis meanwhile
				r.copy = s.findCopy(ctx, r, k)
				r.remoteLooked = true
			}
			if r.copy == nil {
				continue // no copy after all: wait for the flight's end
			}
			r.facts.Failure = "timeout"
		case f.follow(cp, err, &ctx.Request):
			r.f = f
		default:
			// The flight's answer is not one this request may have (another
			// variant, or not storable): it asks the origin itself.
			break join
		}
		s.respond(ctx, r, k)
		done(ctx, f)
		return
	}
	o := s.outboundFor(ctx, snap, st)
	x.req = appendOutbound(x.req[:0], &ctx.Request, &o, true)
	// Asked for gzip only, as Varnish does: one stored form serves every
	// client, and a client without gzip gets it decompressed.
	f.gzip = true
	start := time.Now()
	x.total, x.firstByte = start.Add(st.timeout), st.firstByte
	if st.fallbackAfter < st.timeout && (r.copy != nil || f.fl != nil || s.cache.Shared()) {
		x.soft = start.Add(st.fallbackAfter) // followers with a copy leave then too
	}
	if s.ask(f) == errSlow {
		if f.fl != nil {
			s.flights.slowed(f.fl)
		}
		if r.copy == nil && s.cache.Shared() {
			r.copy = s.findCopy(ctx, r, k)
			r.remoteLooked = true
		}
		if r.copy != nil {
			if f.fl != nil {
				lead = nil
				s.refreshLater(f, &ctx.Request) // f and its flight belong to the refresh now
			} else {
				s.abandon(f)
			}
			r.facts.Failure = "timeout"
			s.respond(ctx, r, k)
			return
		}
		x.soft = time.Time{} // no copy after all: wait for the answer
		s.run(f)
	}
	r.f = f
	s.respond(ctx, r, k)
	lead = nil
	s.settle(ctx, f)
}

// settle ends what a handler's fetch still has to do once the shopper's
// answer is written: a new or changed page's copy is built by the store
// worker (or here, when its queue is full), the flight ends, and the
// fetch is released.
func (s *Server) settle(ctx *fasthttp.RequestCtx, f *fetch) {
	if f.build {
		if f.fl != nil {
			s.flights.detach(f.fl)
		}
		if s.storeLater(f, &ctx.Request) {
			return // the store worker ends the flight and releases f
		}
		s.buildNow(f)
	}
	s.endFlight(f)
	done(ctx, f)
}

// forwardOther sends any method but GET and HEAD to the origin and
// answers. It is never answered from a copy, and never retried once sent;
// it may wait write_timeout, and when the origin does not answer after it
// was sent, the shopper is told the order may have gone through
// (fallback.Unconfirmed).
func (s *Server) forwardOther(ctx *fasthttp.RequestCtx, snap *snapshot, r *request) {
	st := r.st
	f := s.acquireFetch(st)
	defer done(ctx, f)
	o := s.outboundFor(ctx, snap, st)
	x := &f.x
	x.req = appendOutbound(x.req[:0], &ctx.Request, &o, false)
	x.body = ctx.Request.Body()
	// write_timeout bounds the whole exchange, and no first-byte bound:
	// a checkout is worth the wait (issue 17).
	x.total = time.Now().Add(st.writeTimeout)
	r.asked = true
	s.ask(f)
	r.f = f
	s.respond(ctx, r, nil)
}
