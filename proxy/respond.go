package proxy

import (
	"context"
	"log/slog"
	"time"

	"github.com/awningproxy/awning/fallback"
	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/pages"
	"github.com/valyala/fasthttp"
)

// remoteLookupTimeout bounds a Redis read on the fallback path: the origin
// already failed, and an outage page now beats a copy later.
const remoteLookupTimeout = 250 * time.Millisecond

// vPrivateNoStore is the Cache-Control of every answer to a request let
// through maintenance: it shows a shop closed to everyone else, which no
// cache between Awning and the shopper may keep.
var vPrivateNoStore = []byte("private, no-store")

// respond writes what the shopper gets for r. It is the one place that
// decides, for every method and however the request went (origin asked or
// not, collapsed, timed out, maintenance): it completes r's facts, looks
// for a copy only when the answer depends on one, asks fallback.Decide, and
// writes that answer, its Awning-Served and Cache-Status. k is the
// request's copy key, nil when no copy may answer.
func (s *Server) respond(ctx *fasthttp.RequestCtx, r *request, k *cache.Key) {
	st := r.st
	fa := &r.facts
	if r.f != nil {
		r.f.facts(fa)
	}
	if fa.WantsCopy() && r.copy == nil && k != nil {
		r.copy = s.findCopy(ctx, r, k)
	}
	fa.Copy = r.copy != nil
	a := fallback.Decide(fa)
	switch a {
	case fallback.Origin:
		if r.f.shared != nil {
			s.writeCopy(ctx, r.f.shared, vOrigin)
		} else {
			s.relayFetched(ctx, r.f)
		}
		st.served.answered(OutcomeOrigin)
	case fallback.Stale:
		s.writeStale(ctx, r, r.copy)
	case fallback.Outage:
		s.serveOutage(ctx, st)
		s.outageServed.Add(1)
		r.ref.count.answeredNotAsked(OutcomeOutage, r.notAsked)
	case fallback.Maintenance:
		s.writeMaintenance(ctx, st, r.maint)
	case fallback.Unconfirmed:
		st.dyn.Load().pages.get().unconfirmed.write(ctx, st.apiPaths)
		st.served.answered(OutcomeUnconfirmed)
		// Someone may have paid for an order the shop never confirmed:
		// the merchant will want to look for it.
		s.log.Warn("the origin never confirmed a request it was sent; the shopper was told it may have gone through",
			"site", st.site.Name, "method", string(ctx.Method()), "path", string(ctx.Path()), "reason", fa.Failure, "status", fa.FwdStatus)
	}
	if a != fallback.Origin && a != fallback.Unconfirmed && fa.NotAsked == "" && !fa.Closed && s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("origin failed", "site", st.site.Name, "status", fa.FwdStatus, "reason", fa.Failure, "answer", a.String())
	}
	var buf [128]byte
	if cs := fallback.AppendCacheStatus(buf[:0], fa, a); len(cs) > 0 {
		ctx.Response.Header.SetCanonical(hCacheStatus, cs)
	}
	if r.bypass {
		ctx.Response.Header.SetCanonical(hCacheControl, vPrivateNoStore)
	}
}

// facts adds what came of the exchange to fa.
func (f *fetch) facts(fa *fallback.Facts) {
	fa.HadCopy = f.had != nil
	fa.Sent = f.sent()
	switch {
	case f.shared != nil:
		fa.Answered, fa.Collapsed = true, true
	case f.flightErr != nil:
		fa.Failure = "collapsed"
		if ff, ok := f.flightErr.(*flightFailure); ok {
			fa.FwdStatus = ff.status
		}
	case f.adm != health.Admitted:
		fa.NotAsked = f.adm.String()
	case f.answered():
		fa.Answered = true
		fa.Stored = f.stored != nil || f.build
		fa.NotStored = string(f.reason)
	case f.err == errFailureMarker:
		fa.Failure = "failure-marker"
		fa.NotStored = string(f.reason)
	case f.err == errPanicked:
		fa.Failure = "internal-error"
	case f.err != nil:
		fa.Failure = failureReason(f.err)
	default:
		fa.FwdStatus = f.x.ans.Status
	}
}

// findCopy looks for r's copy once the answer depends on one: in memory
// again when time passed since the first look (another request may have
// stored it meanwhile), then in Redis unless it was asked already.
func (s *Server) findCopy(ctx *fasthttp.RequestCtx, r *request, k *cache.Key) *cache.Copy {
	var cp *cache.Copy
	if r.asked {
		cp = s.cache.Lookup(k, &ctx.Request)
	}
	if cp == nil && s.cache.Shared() && !r.remoteLooked {
		rctx, cancel := context.WithTimeout(context.Background(), remoteLookupTimeout)
		cp = s.cache.LookupRemote(rctx, k, &ctx.Request)
		cancel()
	}
	return cp
}

// writeStale writes a copy served for an origin that did not answer, or
// for browsing in read-only maintenance: with the site's banner (the
// maintenance banner in maintenance) in the shopper's language, Age, and
// no-store towards the browser.
func (s *Server) writeStale(ctx *fasthttp.RequestCtx, r *request, cp *cache.Copy) {
	st := r.st
	b := s.staleBanner(r.ref)
	if r.maint != nil {
		b = r.maint.banner.get()
	}
	now := s.now()
	if b == nil || !cp.HTML {
		s.writeCopy(ctx, cp, vStale)
	} else {
		s.writeBanneredCopy(ctx, cp, b, now)
	}
	h := &ctx.Response.Header
	h.SetCanonical(hCacheControl, vNoStore)
	var buf [20]byte
	age := max(0, int(now.Sub(cp.Validated())/time.Second))
	h.SetCanonical(hAge, fasthttp.AppendUint(buf[:0], age))
	if r.maint != nil {
		// Planned work, not the fallback: counted with maintenance.
		s.maintenanceServed.Add(1)
		st.served.answered(OutcomeMaintenance)
		return
	}
	s.staleServed.Add(1)
	r.ref.count.answeredNotAsked(OutcomeStale, r.notAsked)
}

// writeCopy writes a copy as the response, as stored: gzip when the client
// takes it. Every byte written was prepared once per copy.
func (s *Server) writeCopy(ctx *fasthttp.RequestCtx, cp *cache.Copy, served []byte) {
	r := &ctx.Response
	r.SetStatusCode(cp.Status)
	r.Header.SetContentTypeBytes(cp.ContentType)
	for _, h := range cp.Header {
		r.Header.AddBytesKV(h[0], h[1])
	}
	body, gz := cp.Serve(acceptsGzip(ctx))
	if gz {
		r.Header.SetContentEncodingBytes(vGzip)
	}
	if cp.Gzipped {
		r.Header.SetCanonical(hVary, vAcceptEncoding)
	}
	r.Header.SetCanonical(hAwningServed, served)
	r.SetBodyRaw(body) // shared and never modified
}

// writeBanneredCopy writes a page's copy with banner b in the language
// order the shopper asks for. The copy's pieces and the banner's variant
// are prepared once per copy (cache.Copy.WriteStale); writing copies them
// into the response's pooled buffer, without allocating.
func (s *Server) writeBanneredCopy(ctx *fasthttp.RequestCtx, cp *cache.Copy, b *pages.Banner, now time.Time) {
	r := &ctx.Response
	r.SetStatusCode(cp.Status)
	r.Header.SetContentTypeBytes(cp.ContentType)
	r.ResetBody()
	i := b.Pick(ctx.Request.Header.PeekBytes(hAcceptLanguage))
	header, gz := cp.WriteStale(r.BodyWriter(), b, i, acceptsGzip(ctx), now)
	for _, h := range header {
		r.Header.AddBytesKV(h[0], h[1])
	}
	if gz {
		r.Header.SetContentEncodingBytes(vGzip)
	}
	if cp.Gzipped {
		r.Header.SetCanonical(hVary, vVaryLanguageGzip)
	} else {
		r.Header.SetCanonical(hVary, vVaryLanguage)
	}
	r.Header.SetCanonical(hAwningServed, vStale)
}

// relayFetched relays the origin's answer.
func (s *Server) relayFetched(ctx *fasthttp.RequestCtx, f *fetch) {
	r := &ctx.Response
	a := &f.x.ans
	// The body is lent to the response, not copied, when the fetch can wait
	// for it to be written (it is not handed to the store worker) and the
	// connection is one that tells when that is.
	f.lent = !f.build && connOf(ctx) != nil
	relay(r, a, f.lent)
	if ctx.IsHead() {
		r.SkipBody = true
		cl := int(f.x.scan.cl)
		if cl < 0 {
			cl = -2 // none given: fasthttp's "identity", as its client reported it
		}
		if f.gzip && a.Gzip() && !acceptsGzip(ctx) {
			// Awning asked for gzip; this client did not, and its GET would
			// get the page plain, of a length only the body tells.
			r.Header.DelBytes(hContentEncoding)
			cl = -2
		}
		r.Header.SetContentLength(cl)
	} else if f.gzip && a.Gzip() && !acceptsGzip(ctx) {
		// Awning asked for gzip; this client did not.
		if plain, err := f.st.pool.gunzip(a.Body); err == nil {
			r.Header.DelBytes(hContentEncoding)
			r.SetBodyRaw(plain)
		}
	}
	r.Header.SetCanonical(hAwningServed, vOrigin)
}

func acceptsGzip(ctx *fasthttp.RequestCtx) bool {
	return ctx.Request.Header.HasAcceptEncodingBytes(vGzip)
}

// serveOutage answers with the site's outage page: JSON for API clients,
// else the pre-rendered page in the language order the shopper's
// Accept-Language asks for.
func (s *Server) serveOutage(ctx *fasthttp.RequestCtx, st *siteState) {
	st.dyn.Load().pages.get().outage.write(ctx, st.apiPaths)
}
