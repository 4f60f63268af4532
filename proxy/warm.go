package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/fallback/warm"
	"github.com/valyala/fasthttp"
)

var (
	warmUserAgent = []byte("Awning-Warm/1 (sitemap warming)")
	warmAccept    = []byte("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	errSiteDown   = errors.New("proxy: site is down or busy")
)

// newWarmer returns the sitemap warmer of a site, or nil when it has none.
func (s *Server) newWarmer(st *siteState) *warm.Warmer {
	w := st.site.Config.Cache.Warm
	if w.Sitemap == "" {
		return nil
	}
	return warm.New(warm.Config{
		Site:     st.site.Name,
		Hosts:    st.site.Hosts,
		Sitemap:  w.Sitemap,
		Rate:     w.Rate,
		Interval: w.Interval.D(),
		Fetch: func(ctx context.Context, path string) ([]byte, error) {
			return s.fetchSitemap(ctx, st, path)
		},
		Warm: func(ctx context.Context, host, path string, fresh time.Duration) warm.Outcome {
			return s.warmPage(st, host, path, fresh)
		},
		Log: s.log,
	})
}

// prepareWarm fills req as a shopper without cookies would send it for
// host and path.
func (s *Server) prepareWarm(st *siteState, req *fasthttp.Request, host []byte, path string) {
	req.Header.SetMethod(fasthttp.MethodGet)
	req.SetRequestURI(path)
	req.Header.SetHostBytes(host)
	req.Header.SetBytesKV(hAccept, warmAccept)
	req.Header.Set("Accept-Language", st.site.Config.Page.Languages[0])
	req.Header.SetUserAgentBytes(warmUserAgent)
}

// appendWarm appends the head of the request Awning sends the origin to
// warm (or read a sitemap for) host and path: req's headers, Host as the
// site sends it, gzip asked for, and Awning's forwarding headers.
func (s *Server) appendWarm(dst []byte, st *siteState, req *fasthttp.Request, host []byte) []byte {
	o := outbound{host: host, fwdHost: host, tls: string(s.snap.Load().shopperScheme) == "https"}
	if st.hostHeader != nil {
		o.host = st.hostHeader
	}
	return appendOutbound(dst, req, &o, true)
}

// warmPage fetches one page and keeps it, unless it has a copy younger than
// fresh or the site is down or busy (shoppers first). host is one of the
// site's hosts, as the sitemap names it.
func (s *Server) warmPage(st *siteState, host, path string, fresh time.Duration) warm.Outcome {
	if !st.health.Open() {
		return warm.Skipped
	}
	f := s.acquireFetch(st)
	defer releaseFetch(f)
	f.get, f.gzip = true, true
	hb := st.canonicalHost([]byte(host))
	s.prepareWarm(st, &f.vreq, hb, path)
	f.req = &f.vreq
	keys := st.keys()
	f.key = keys.Build(f.keyBuf, f.req)
	f.path = append(f.path, f.req.URI().Path()...)
	if !f.key.Storable() {
		return warm.NotKept
	}
	if s.cache.Recent(&f.key, f.req, fresh) != nil {
		return warm.Fresh
	}
	x := &f.x
	x.req = s.appendWarm(x.req[:0], st, f.req, hb)
	x.idempotent = true
	x.total = time.Now().Add(st.timeout)
	s.ask(f)
	if f.build {
		s.buildNow(f)
	}
	switch {
	case f.adm != health.Admitted:
		return warm.Skipped
	case !f.answered():
		return warm.Failed
	case f.stored != nil:
		return warm.Stored
	case f.recent:
		return warm.Fresh
	}
	return warm.NotKept
}

// fetchSitemap gets a sitemap from the origin, decompressed.
func (s *Server) fetchSitemap(ctx context.Context, st *siteState, path string) ([]byte, error) {
	if st.health.Admit() != health.Admitted {
		return nil, errSiteDown
	}
	defer st.health.Done()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	s.prepareWarm(st, req, st.hostBytes[0], path)
	x := exchangePool.Get().(*exchange)
	defer putExchange(x)
	x.reset()
	x.req = s.appendWarm(x.req[:0], st, req, st.hostBytes[0])
	x.idempotent = true
	x.total = time.Now().Add(st.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(x.total) {
		x.total = d
	}
	if err := st.pool.do(x, st.health); err != nil {
		return nil, errors.New(failureReason(err))
	}
	if x.ans.Status != 200 {
		return nil, fmt.Errorf("status %d", x.ans.Status)
	}
	body := x.ans.Body
	if x.ans.Gzip() || bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		// Also sitemap.xml.gz files, which come without Content-Encoding
		// and so unchecked: bounded like any origin answer.
		return st.pool.gunzip(body)
	}
	return append([]byte(nil), body...), nil
}
