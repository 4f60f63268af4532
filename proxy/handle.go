package proxy

import (
	"bytes"
	"context"
	"log/slog"
	"time"

	"github.com/awningproxy/awning/sites"
	"github.com/valyala/fasthttp"
)

var (
	wellKnownPrefix = []byte("/.well-known/awning/")
	healthPath      = []byte("/.well-known/awning/health")
	openBody        = []byte(`{"open":true}`)
)

// handle is the request pipeline (DESIGN.md, "A request's way through").
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	if err := checkRawHeaders(ctx.Request.Header.RawHeaders()); err != nil {
		s.log.Debug("refused request", "reason", err, "peer", ctx.RemoteIP())
		badRequest.write(ctx)
		ctx.SetConnectionClose()
		return
	}
	snap := s.snap.Load()
	site := snap.sites.Lookup(ctx.Host())
	if site == nil {
		misdirectedAnswer.write(ctx)
		return
	}
	st := snap.states[site.Index]
	if st.hsts != nil && ctx.IsTLS() {
		defer setHSTS(&ctx.Response.Header, st.hsts) // after the answer is in place
	}
	if bytes.HasPrefix(ctx.Path(), wellKnownPrefix) {
		s.serveOwn(ctx, st)
		return
	}
	s.forward(ctx, snap, st)
}

// serveOwn answers the paths Awning owns on every shop host.
func (s *Server) serveOwn(ctx *fasthttp.RequestCtx, st *siteState) {
	if bytes.Equal(ctx.Path(), healthPath) {
		ctx.Response.Header.SetContentTypeBytes(ctJSON)
		ctx.Response.Header.SetBytesKV(hCacheControl, vNoStore)
		ctx.Response.SetBodyRaw(openBody)
		return
	}
	wellKnownUnknown.write(ctx)
}

// forward sends the request to the site's origin and relays the answer, or
// answers for the origin when it fails.
func (s *Server) forward(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	var hostBuf [sites.MaxHostLen + 8]byte
	host, _ := sites.AppendCanonical(hostBuf[:0], ctx.Host()) // valid: Lookup found a site
	o := outbound{host: host, fwdHost: host, peer: peerAddr(ctx), tls: ctx.IsTLS()}
	if st.hostHeader != nil {
		o.host = st.hostHeader
	}
	o.trusted = snap.trusted.contains(o.peer)
	o.client = o.peer
	if o.trusted {
		o.client = clientAddr(o.peer, ctx.Request.Header.Peek("X-Forwarded-For"), snap.trusted)
	}
	buildOutbound(req, &ctx.Request, &o)
	if ctx.IsHead() {
		resp.SkipBody = true
	}

	err := st.pool.do(req, resp, time.Now().Add(st.timeout))
	if err == nil && !isFailureStatus(resp.StatusCode()) {
		relay(&ctx.Response, resp)
		if ctx.IsHead() {
			ctx.Response.SkipBody = true
			ctx.Response.Header.SetContentLength(resp.Header.ContentLength())
		}
		ctx.Response.Header.SetBytesKV(hAwningServed, vOrigin)
		return
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		reason := failureReason(err)
		if err == nil {
			reason = "status " + string(fasthttp.AppendUint(nil, resp.StatusCode()))
		}
		s.log.Debug("origin failed", "site", st.site.Name, "reason", reason, "err", err)
	}
	s.serveOutage(ctx, st)
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

func (s *Server) serveOutage(ctx *fasthttp.RequestCtx, st *siteState) {
	if wantsJSON(ctx, st.apiPaths) {
		st.outage.json.write(ctx)
		return
	}
	st.outage.html.write(ctx)
}
