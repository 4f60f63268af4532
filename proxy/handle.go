package proxy

import (
	"bytes"
	"runtime/debug"

	"github.com/awningproxy/awning/pages"
	"github.com/valyala/fasthttp"
)

var (
	wellKnownPrefix = []byte("/.well-known/awning/")
	healthPath      = []byte("/.well-known/awning/health")
	logoPrefix      = []byte(pages.LogoPathPrefix)
	openBody        = []byte(`{"open":true}`)
	closedBody      = []byte(`{"open":false}`)
)

// handle is the request pipeline (DESIGN.md, "A request's way through").
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	s.inflight.Add(1)
	if c := connOf(ctx); c != nil {
		c.reclaim() // a pipelined request: the previous response is written
	}
	// fasthttp does not recover a handler's panic: one bug met by one
	// request would end the process and every shop on it.
	defer s.recoverRequest(ctx)
	snap := s.snap.Load()
	st := s.route(ctx, snap)
	if snap.accessLog {
		s.logAccess(ctx, st)
	}
	s.inflight.Add(-1)
}

// recoverRequest turns a panic in the request path into a logged error and
// a 503 for that one shopper; the node serves on.
func (s *Server) recoverRequest(ctx *fasthttp.RequestCtx) {
	v := recover()
	if v == nil {
		return
	}
	s.panics.Add(1)
	s.log.Error("request handler panicked; answered 503", "panic", v, "host", string(ctx.Host()),
		"path", string(ctx.Path()), "stack", string(debug.Stack()))
	ctx.Response.Reset()
	if !s.outageAfterPanic(ctx) {
		ctx.Response.Reset()
		unavailable.write(ctx)
	}
	ctx.SetConnectionClose()
	s.inflight.Add(-1)
}

var vInternalError = []byte("Awning; fwd=uri-miss; detail=internal-error")

// outageAfterPanic answers a GET or HEAD of a known site whose request
// panicked with the site's outage page, as when its origin fails: branded,
// in the shopper's language, coming back by itself. It reports false, and
// the neutral 503 is sent, for other methods (nobody knows whether an
// order that panicked reached the origin, and the outage page would say it
// did not), for unknown hosts, and when writing the page panics too.
func (s *Server) outageAfterPanic(ctx *fasthttp.RequestCtx) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if !ctx.IsGet() && !ctx.IsHead() {
		return false
	}
	st := s.snap.Load().site(ctx.Host())
	if st == nil {
		return false
	}
	s.serveOutage(ctx, st)
	ctx.Response.Header.SetCanonical(hCacheStatus, vInternalError)
	s.outageServed.Add(1)
	st.served.answered(OutcomeOutage)
	return true
}

// route answers the request and returns the site it was for (nil when it
// was refused or for no site).
func (s *Server) route(ctx *fasthttp.RequestCtx, snap *snapshot) *siteState {
	if err := checkRequest(&ctx.Request); err != nil {
		s.log.Debug("refused request", "reason", err, "peer", ctx.RemoteIP())
		s.refused.Add(1)
		refusalFor(err).write(ctx)
		ctx.SetConnectionClose()
		return nil
	}
	ref := snap.hosts.Lookup(ctx.Host())
	if ref == nil {
		s.misdirected.Add(1)
		misdirectedAnswer.write(ctx)
		return nil
	}
	st := ref.st // its memory is read only on the paths that need it
	if ctx.IsTLS() && ref.hsts != nil {
		defer setHSTS(&ctx.Response.Header, ref.hsts) // after the answer is in place
	}
	if bytes.HasPrefix(ctx.Path(), wellKnownPrefix) {
		st.served.answered(OutcomeOwn)
		s.serveOwn(ctx, st, ref.dyn.Load())
		return st
	}
	s.serve(ctx, snap, ref)
	return st
}

// serveOwn answers the paths Awning owns on every shop host.
func (s *Server) serveOwn(ctx *fasthttp.RequestCtx, st *siteState, d *dynamic) {
	path := ctx.Path()
	switch {
	case bytes.Equal(path, healthPath):
		// The outage and maintenance pages poll this to bring shoppers
		// back: it must be cheap (memory only) and never cached anywhere.
		ctx.Response.Header.SetContentTypeBytes(ctJSON)
		ctx.Response.Header.SetBytesKV(hCacheControl, vNoStore)
		if st.health.Open() && s.maintenanceNow(d) == nil {
			ctx.Response.SetBodyRaw(openBody)
		} else {
			ctx.Response.SetBodyRaw(closedBody)
		}
	case bytes.HasPrefix(path, logoPrefix):
		if r := d.pages.get(); r.logo != nil && bytes.Equal(path, r.logoPath) {
			r.logo.write(ctx)
		} else {
			wellKnownUnknown.write(ctx)
		}
	case bytes.HasPrefix(path, bypassPrefix):
		s.serveBypass(ctx, st, d)
	default:
		wellKnownUnknown.write(ctx)
	}
}
