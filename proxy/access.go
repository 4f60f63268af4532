package proxy

import (
	"context"
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"
)

// logAccess writes the access log line of one request (log.access). It
// runs only when the access log is on; off, the request path pays one
// boolean test, since the start time it needs is the one fasthttp already
// took (RequestCtx.Time).
//
// The line carries the path without its query: queries hold tracking ids
// (gclid, fbclid, mc_eid ties a visit to a newsletter address) and, on some
// platforms, e-mail addresses or reset tokens, none of which belong in a log
// kept for weeks. For the same reason it carries no client address.
func (s *Server) logAccess(ctx *fasthttp.RequestCtx, st *siteState) {
	site, served := "", string(ctx.Response.Header.PeekBytes(hAwningServed))
	if st != nil {
		site = st.site.Name
		if served == "" {
			served = OutcomeOwn.String()
		}
	} else if served == "" {
		served = "refused"
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "request",
		slog.String("site", site),
		slog.String("proto", string(ctx.Request.Header.Protocol())), // HTTP/1.1, HTTP/2.0 or HTTP/3.0
		slog.String("method", string(ctx.Method())),
		slog.String("path", string(ctx.Path())),
		slog.Int("status", ctx.Response.StatusCode()),
		slog.String("served", served),
		slog.Duration("duration", time.Since(ctx.Time())),
		slog.Int("bytes", len(ctx.Response.Body())),
	)
}
