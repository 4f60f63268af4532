package proxy

import (
	"context"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/valyala/fasthttp"
)

// remoteLookupTimeout bounds a Redis read on the fallback path: the origin
// already failed, and an outage page now beats a copy later.
const remoteLookupTimeout = 250 * time.Millisecond

// fallbackWhy says why the origin's answer is not served, for Cache-Status.
type fallbackWhy struct {
	hit       bool   // the origin was not contacted (circuit, forced, overload)
	fwdStatus int    // the origin's failure status, when it answered
	detail    string // short reason: timeout, refused, tripped, ...
}

// serveFallback answers for an origin that cannot: with the last known good
// copy for a GET or HEAD (cp, else found in memory or Redis by key), else
// with the outage page. This and answer are the one place that decides
// origin, stale or outage.
func (s *Server) serveFallback(ctx *fasthttp.RequestCtx, st *siteState, key *cache.Key, cp *cache.Copy, why fallbackWhy) {
	cacheable := ctx.IsGet() || ctx.IsHead()
	if cp == nil && key != nil && cacheable {
		cp = s.cache.Lookup(key, &ctx.Request)
		if cp == nil && s.cache.Shared() {
			rctx, cancel := context.WithTimeout(context.Background(), remoteLookupTimeout)
			cp = s.cache.LookupRemote(rctx, key, &ctx.Request)
			cancel()
		}
	}
	var buf [128]byte
	if cp != nil && cacheable {
		s.writeCopy(ctx, cp, st.banner, vStale)
		h := &ctx.Response.Header
		h.SetCanonical(hCacheControl, vNoStore)
		age := max(0, int(s.now().Sub(cp.Validated())/time.Second))
		h.SetCanonical(hAge, fasthttp.AppendUint(buf[:0], age))
		h.SetCanonical(hCacheStatus, appendCacheStatus(buf[:0], why, true))
		s.staleServed.Add(1)
		st.count.count(OutcomeStale)
		return
	}
	s.serveOutage(ctx, st)
	if cacheable {
		ctx.Response.Header.SetCanonical(hCacheStatus, appendCacheStatus(buf[:0], why, false))
	}
	s.outageServed.Add(1)
	st.count.count(OutcomeOutage)
}

// appendCacheStatus writes an RFC 9211 Cache-Status value. A copy served
// without contacting the origin is a hit; one served after the origin failed
// was forwarded because the copy was stale (fwd=stale), with the origin's
// status when it answered; no copy at all is fwd=uri-miss.
func appendCacheStatus(dst []byte, why fallbackWhy, served bool) []byte {
	dst = append(dst, "Awning; "...)
	switch {
	case served && why.hit:
		dst = append(dst, "hit"...)
	case served:
		dst = append(dst, "fwd=stale"...)
	default:
		dst = append(dst, "fwd=uri-miss"...)
	}
	if why.fwdStatus > 0 {
		dst = append(dst, "; fwd-status="...)
		dst = fasthttp.AppendUint(dst, why.fwdStatus)
	}
	if why.detail != "" {
		dst = append(dst, "; detail="...)
		dst = append(dst, why.detail...)
	}
	return dst
}

// writeCopy writes a copy as the response: with banner (nil for none), gzip
// when the client takes it. Every byte written was prepared once per copy.
func (s *Server) writeCopy(ctx *fasthttp.RequestCtx, cp *cache.Copy, banner, served []byte) {
	r := &ctx.Response
	r.SetStatusCode(cp.Status)
	r.Header.SetContentTypeBytes(cp.ContentType)
	for _, h := range cp.Header {
		r.Header.AddBytesKV(h[0], h[1])
	}
	body, gz := cp.Serve(banner, acceptsGzip(ctx))
	if gz {
		r.Header.SetContentEncodingBytes(vGzip)
	}
	if cp.Gzipped {
		r.Header.SetCanonical(hVary, vAcceptEncoding)
	}
	r.Header.SetCanonical(hAwningServed, served)
	r.SetBodyRaw(body) // shared and never modified
}
