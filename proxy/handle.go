package proxy

import (
	"bytes"
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/awningproxy/awning/fallback/health"
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
// a neutral 503 for that one shopper; the node serves on.
func (s *Server) recoverRequest(ctx *fasthttp.RequestCtx) {
	v := recover()
	if v == nil {
		return
	}
	s.inflight.Add(-1)
	s.panics.Add(1)
	s.log.Error("request handler panicked; answered 503", "panic", v, "host", string(ctx.Host()),
		"path", string(ctx.Path()), "stack", string(debug.Stack()))
	ctx.Response.Reset()
	unavailable.write(ctx)
	ctx.SetConnectionClose()
}

// route answers the request and returns the site it was for (nil when it
// was refused or for no site).
func (s *Server) route(ctx *fasthttp.RequestCtx, snap *snapshot) *siteState {
	if err := checkRawHeaders(ctx.Request.Header.RawHeaders()); err != nil {
		s.log.Debug("refused request", "reason", err, "peer", ctx.RemoteIP())
		s.refused.Add(1)
		badRequest.write(ctx)
		ctx.SetConnectionClose()
		return nil
	}
	site := snap.sites.Lookup(ctx.Host())
	if site == nil {
		s.misdirected.Add(1)
		misdirectedAnswer.write(ctx)
		return nil
	}
	st := snap.states[site.Index]
	if st.hsts != nil && ctx.IsTLS() {
		defer setHSTS(&ctx.Response.Header, st.hsts) // after the answer is in place
	}
	d := st.dyn.Load()
	if bytes.HasPrefix(ctx.Path(), wellKnownPrefix) {
		st.count.count(OutcomeOwn)
		s.serveOwn(ctx, st, d)
		return st
	}
	bypass := false
	if m := s.maintenanceNow(d); m != nil {
		if !s.bypassed(ctx, snap, st, m) {
			s.serveMaintenance(ctx, st, m)
			return st
		}
		bypass = true
	}
	s.forward(ctx, snap, st, bypass)
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

// forward sends the request to the site's origin and relays the answer, or
// answers for the origin when it fails, is known to be down, or is busy. A
// GET or HEAD may be answered from a copy; any other method never is, and is
// never retried once sent.
//
// A request let through maintenance (bypass) is served as usual, but what it
// gets is never kept: it sees a shop that is closed to everyone else.
func (s *Server) forward(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState, bypass bool) {
	if ctx.IsGet() || ctx.IsHead() {
		s.forwardCached(ctx, snap, st, bypass)
		return
	}
	if adm := st.health.Admit(); adm != health.Admitted {
		s.serveFallback(ctx, st, nil, nil, fallbackWhy{hit: true, detail: adm.String()})
		return
	}
	defer st.health.Done()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	o := s.outboundFor(ctx, snap, st)
	buildOutbound(req, &ctx.Request, &o)
	_, err := st.pool.do(req, resp, time.Now().Add(st.timeout), st.health)
	if err == nil && !isFailureStatus(resp.StatusCode()) {
		relay(&ctx.Response, resp)
		ctx.Response.Header.SetCanonical(hAwningServed, vOrigin)
		st.count.count(OutcomeOrigin)
		return
	}
	why := fallbackWhy{detail: failureReason(err)}
	if err == nil {
		why = fallbackWhy{fwdStatus: resp.StatusCode()}
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("origin failed", "site", st.site.Name, "status", why.fwdStatus, "reason", why.detail)
	}
	s.serveFallback(ctx, st, nil, nil, why)
}

// outboundFor collects what buildOutbound needs from the shopper's request.
func (s *Server) outboundFor(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState) outbound {
	o := outbound{peer: peerAddr(ctx), tls: ctx.IsTLS()}
	o.fwdHost = st.canonicalHost(ctx.Host())
	o.host = o.fwdHost
	if st.hostHeader != nil {
		o.host = st.hostHeader
	}
	o.trusted = snap.trusted.contains(o.peer)
	o.client = o.peer
	if o.trusted {
		o.client = clientAddr(o.peer, ctx.Request.Header.Peek("X-Forwarded-For"), snap.trusted)
	}
	return o
}

// isFailureStatus reports whether an origin status means the origin (or the
// CDN before it) is failing rather than answering: 500, 502, 503, 504, and
// the 52x codes CDNs use for an unreachable origin.
func isFailureStatus(code int) bool {
	switch {
	case code == 500, code >= 502 && code <= 504:
		return true
	case code >= 520 && code <= 530:
		return true
	}
	return false
}

// serveOutage answers with the site's outage page: JSON for API clients,
// else the pre-rendered page in the language order the shopper's
// Accept-Language asks for.
func (s *Server) serveOutage(ctx *fasthttp.RequestCtx, st *siteState) {
	o := &st.dyn.Load().pages.get().outage
	if wantsJSON(ctx, st.apiPaths) {
		o.json.write(ctx)
		return
	}
	o.html[o.page.Pick(ctx.Request.Header.PeekBytes(hAcceptLanguage))].write(ctx)
}
