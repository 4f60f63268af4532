package proxy

import (
	"context"
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
	st    *siteState
	facts fallback.Facts
	maint *maintRule // the maintenance that closed the shop to the request, or nil
	// bypass: maintenance is in force, and the request was let through.
	bypass bool

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
func (s *Server) serve(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState, d *dynamic) {
	var r request
	r.st = st
	r.facts.Browse = ctx.IsGet() || ctx.IsHead()
	now := s.now()
	if m := d.maint; m != nil && m.activeAt(now.UnixNano()) {
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
	key := st.keys.Build(kbuf[:0], &ctx.Request)
	key.Bypass = r.bypass
	r.copy = s.cache.Lookup(&key, &ctx.Request)
	if !r.facts.Closed {
		r.down = st.health.Down()
		adm := st.health.Closed()
		if adm == health.Admitted {
			s.forwardBrowse(ctx, snap, &r, &key, now)
			return
		}
		r.facts.NotAsked = adm.String()
	}
	s.respond(ctx, &r, &key)
}

// forwardBrowse asks the origin for a GET or HEAD and answers. The
// exchange runs in its own goroutine, and the handler waits for it at most
// fallback_after when a copy can answer, else the origin timeout, and never
// past the moment the origin is declared down: a shopper waiting for a page
// without a copy then gets the outage page at once.
func (s *Server) forwardBrowse(ctx *fasthttp.RequestCtx, snap *snapshot, r *request, k *cache.Key, now time.Time) {
	st := r.st
	f := s.acquireFetch(st)
	f.get = ctx.IsGet()
	f.key = st.keys.Build(f.keyBuf, &ctx.Request) // again, in f's buffer: f may outlive this handler
	f.key.Bypass = r.bypass
	f.path = append(f.path, ctx.Path()...)
	f.had = r.copy
	f.collapse = f.get && f.key.Storable() && !s.flights.isSolo(f.key.Primary, now)
	o := s.outboundFor(ctx, snap, st)
	buildOutbound(&f.req, &ctx.Request, &o)
	// Ask for gzip only, as Varnish does: one stored form serves every
	// client, and a client without gzip gets it decompressed.
	f.req.Header.SetBytesKV(hAcceptEncoding, vGzip)
	f.gzip = true
	f.resp.SkipBody = !f.get
	r.asked = true

	start := time.Now()
	s.bg.Add(1)
	go f.runFn()
	if r.copy == nil && s.cache.Shared() { // look in the shared tier while the origin works
		rctx, cancel := context.WithDeadline(context.Background(), start.Add(st.fallbackAfter))
		r.copy = s.cache.LookupRemote(rctx, k, &ctx.Request)
		cancel()
		r.remoteLooked = true
	}
	wait := st.timeout // no copy: followers give up with the origin timeout, as their leader does
	if r.copy != nil {
		wait = st.fallbackAfter - time.Since(start)
	}
	if finished, released := f.wait(wait, r.down); !finished {
		// f now belongs to its goroutine.
		r.facts.Failure = "timeout"
		if released {
			r.facts.Failure = "origin-down"
		}
		s.respond(ctx, r, k)
		return
	}
	r.f = f
	s.respond(ctx, r, k)
	releaseFetch(f)
}

// forwardOther sends any method but GET and HEAD to the origin and
// answers. It is never answered from a copy, and never retried once sent;
// it may wait write_timeout, and when the origin does not answer after it
// was sent, the shopper is told the order may have gone through
// (fallback.Unconfirmed).
func (s *Server) forwardOther(ctx *fasthttp.RequestCtx, snap *snapshot, r *request) {
	st := r.st
	f := s.acquireFetch(st)
	defer releaseFetch(f)
	f.timeout = st.writeTimeout
	o := s.outboundFor(ctx, snap, st)
	buildOutbound(&f.req, &ctx.Request, &o)
	if adm := st.health.Admit(); adm != health.Admitted {
		r.facts.NotAsked = adm.String()
		s.respond(ctx, r, nil)
		return
	}
	r.asked = true
	s.exchange(f, false)
	r.f = f
	s.respond(ctx, r, nil)
}
