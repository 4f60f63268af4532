package proxy

import (
	"context"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/valyala/fasthttp"
)

// fetch is one origin exchange for a GET or HEAD, which a copy may answer
// for. It may outlive the handler that started it: when a copy exists and
// the origin is slower than fallback_after, the shopper gets the copy and
// the fetch finishes in the background, refreshing the copy if its answer is
// good. Fetches are pooled; ownership passes from the handler to the fetch
// goroutine and back through state, and whichever finishes last releases.
type fetch struct {
	req    fasthttp.Request
	resp   fasthttp.Response
	keyBuf []byte
	key    cache.Key
	path   []byte // normalized request path, for api_paths
	st     *siteState
	fl     *flight     // the flight this fetch leads, or nil
	get    bool        // GET: its answer may be stored; HEAD is only forwarded
	had    *cache.Copy // the request's copy when the fetch started, or nil

	err    error
	stored *cache.Copy  // the copy made of the answer
	reason cache.Reason // why the answer was not stored
	recent bool         // a copy was stored less than cache.refresh ago

	done  chan struct{} // capacity 1: the fetch finished
	state atomic.Int32
}

const (
	fetchRunning int32 = iota
	fetchDone
	fetchAbandoned
)

// keptBody bounds the body buffer a pooled fetch keeps between uses. An
// origin's answer is read into the buffer the fetch already holds (relay
// swaps buffers with the shopper's response, so both stay page-sized):
// without it every answer grew a fresh buffer from the pool's small ones,
// a page's worth of garbage per request. A rare large asset's buffer is
// left to the garbage collector.
const keptBody = 256 << 10

var fetchPool = sync.Pool{New: func() any {
	f := &fetch{done: make(chan struct{}, 1), keyBuf: make([]byte, 0, 256)}
	f.resp.KeepBodyBuffer = true
	return f
}}

func acquireFetch() *fetch { return fetchPool.Get().(*fetch) }

func releaseFetch(f *fetch) {
	f.req.Reset()
	f.resp.ReleaseBody(keptBody) // drops a buffer larger than keptBody
	f.resp.Reset()
	f.keyBuf = f.key.Primary[:0]
	f.key = cache.Key{}
	f.path = f.path[:0]
	f.st, f.fl, f.err, f.stored, f.had = nil, nil, nil, nil, nil
	f.get, f.recent, f.reason = false, false, cache.OK
	f.state.Store(fetchRunning)
	fetchPool.Put(f)
}

var timerPool sync.Pool

func acquireTimer(d time.Duration) *time.Timer {
	if v := timerPool.Get(); v != nil {
		t := v.(*time.Timer)
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func releaseTimer(t *time.Timer) {
	t.Stop() // Go 1.23 timers: no stale tick can remain in t.C after Stop
	timerPool.Put(t)
}

// wait waits for the fetch at most d (forever when d < 0) and reports
// whether it finished: then the caller owns f again. Otherwise f is
// abandoned to the fetch goroutine, which releases it, and the caller must
// not touch it.
func (f *fetch) wait(d time.Duration) bool {
	if d < 0 {
		<-f.done
		return true
	}
	t := acquireTimer(d)
	defer releaseTimer(t)
	select {
	case <-f.done:
		return true
	case <-t.C:
		if f.state.CompareAndSwap(fetchRunning, fetchAbandoned) {
			return false
		}
		<-f.done // it finished as the timer fired
		return true
	}
}

// forwardCached serves a GET or HEAD: from the origin when it answers, with
// its answer kept as a copy when safe, and from the copy when it does not.
func (s *Server) forwardCached(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState, bypass bool) {
	var kbuf [512]byte // the key of a stale hit never leaves the stack
	key := st.keys.Build(kbuf[:0], &ctx.Request)
	key.Bypass = bypass
	cp := s.cache.Lookup(&key, &ctx.Request)
	if adm := st.health.Closed(); adm != health.Admitted {
		k := &key
		if cp == nil && !s.cache.Shared() {
			k = nil // memory just missed and there is no other tier: do not ask (and count a miss) twice
		}
		s.serveFallback(ctx, st, k, cp, fallbackWhy{hit: true, detail: adm.String()})
		return
	}
	f := acquireFetch()
	f.st = st
	f.get = ctx.IsGet()
	f.key = st.keys.Build(f.keyBuf, &ctx.Request) // again, in f's buffer: f may outlive this handler
	f.key.Bypass = bypass
	f.path = append(f.path, ctx.Path()...)
	s.fetchFor(ctx, snap, st, f, cp, f.get && f.key.Storable() && !s.flights.isSolo(f.key.Primary, time.Now()))
}

// fetchFor sends the request to the origin (or waits on another request's
// fetch of the same page when collapse allows) and answers. It releases f.
func (s *Server) fetchFor(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState, f *fetch, cp *cache.Copy, collapse bool) {
	if collapse {
		fl, leader := s.flights.join(f.key.Primary)
		if !leader {
			if s.follow(ctx, st, f, cp, fl) {
				releaseFetch(f)
				return
			}
			s.fetchFor(ctx, snap, st, f, cp, false) // the leader's answer was not for us
			return
		}
		f.fl = fl
	}
	if adm := st.health.Admit(); adm != health.Admitted {
		if f.fl != nil {
			s.flights.finish(f.key.Primary, f.fl, flightResult{failed: true})
		}
		s.serveFallback(ctx, st, &f.key, cp, fallbackWhy{hit: true, detail: adm.String()})
		releaseFetch(f)
		return
	}
	s.prepare(ctx, snap, st, f)
	f.had = cp

	if cp == nil && !s.cache.Shared() {
		s.run(f) // no copy can answer for the origin: wait for it right here
		s.answer(ctx, st, f, nil)
		releaseFetch(f)
		return
	}
	start := time.Now()
	s.bg.Add(1)
	go s.runAsync(f)
	if cp == nil { // look in the shared tier while the origin works
		rctx, cancel := context.WithDeadline(context.Background(), start.Add(st.fallbackAfter))
		cp = s.cache.LookupRemote(rctx, &f.key, &ctx.Request)
		cancel()
	}
	wait := time.Duration(-1) // no copy: the origin's own timeout bounds the wait
	if cp != nil {
		wait = st.fallbackAfter - time.Since(start)
	}
	if !f.wait(wait) {
		s.serveFallback(ctx, st, nil, cp, fallbackWhy{detail: "timeout"})
		return
	}
	s.answer(ctx, st, f, cp)
	releaseFetch(f)
}

// follow waits for the leader of fl and answers with its result. It
// reports false when the leader's answer is not one this request may be
// given (not storable, or another variant): the caller then fetches alone.
func (s *Server) follow(ctx *fasthttp.RequestCtx, st *siteState, f *fetch, cp *cache.Copy, fl *flight) bool {
	start := time.Now()
	if cp == nil && s.cache.Shared() {
		rctx, cancel := context.WithDeadline(context.Background(), start.Add(st.fallbackAfter))
		cp = s.cache.LookupRemote(rctx, &f.key, &ctx.Request)
		cancel()
	}
	if cp != nil {
		t := acquireTimer(st.fallbackAfter - time.Since(start))
		select {
		case <-fl.done:
			releaseTimer(t)
		case <-t.C:
			releaseTimer(t)
			s.serveFallback(ctx, st, nil, cp, fallbackWhy{detail: "timeout"})
			return true
		}
	} else {
		<-fl.done
	}
	res := &fl.res
	switch {
	case res.failed:
		s.serveFallback(ctx, st, &f.key, cp, fallbackWhy{fwdStatus: res.status, detail: "collapsed"})
		return true
	case res.copy != nil && res.copy.Status == 200 && res.copy.MatchesRequest(&ctx.Request, f.key.Lang):
		s.writeCopy(ctx, res.copy, nil, vOrigin)
		st.count.count(OutcomeOrigin)
		var buf [64]byte
		ctx.Response.Header.SetBytesKV(hCacheStatus, append(buf[:0], "Awning; fwd=uri-miss; collapsed"...))
		return true
	}
	return false
}

// prepare builds the outbound request into f.
func (s *Server) prepare(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState, f *fetch) {
	o := s.outboundFor(ctx, snap, st)
	buildOutbound(&f.req, &ctx.Request, &o)
	// Ask for gzip only, as Varnish does: one stored form serves every
	// client, and a client without gzip gets it decompressed.
	f.req.Header.SetBytesKV(hAcceptEncoding, vGzip)
	if !f.get {
		f.resp.SkipBody = true
	}
}

// runAsync runs f in its own goroutine, owned by the Server (bg).
func (s *Server) runAsync(f *fetch) {
	defer s.bg.Done()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("origin fetch panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	s.run(f)
	if f.state.CompareAndSwap(fetchRunning, fetchDone) {
		f.done <- struct{}{}
		return
	}
	releaseFetch(f) // the shopper got a copy; the fetch only refreshed it
}

// run exchanges f with the origin and keeps its answer when safe; a failed
// exchange never replaces a good copy. It then tells any followers.
func (s *Server) run(f *fetch) {
	st := f.st
	_, f.err = st.pool.do(&f.req, &f.resp, time.Now().Add(st.timeout), st.health)
	st.health.Done()
	ok := f.err == nil && !isFailureStatus(f.resp.StatusCode())
	if ok && f.get {
		s.keep(f)
	}
	if f.fl == nil {
		return
	}
	res := flightResult{copy: f.stored, failed: !ok}
	if !ok && f.err == nil {
		res.status = f.resp.StatusCode()
	}
	if ok && res.copy == nil && !f.recent {
		s.flights.markSolo(f.key.Primary, time.Now())
	}
	if s.flights.leave(f.key.Primary, f.fl) && ok && f.recent {
		res.copy = s.cache.Lookup(&f.key, &f.req) // validated moments ago
	}
	f.fl.publish(res)
}

// keep stores f's answer as a copy when every rule allows it.
func (s *Server) keep(f *fetch) {
	st := f.st
	if r := st.policy.Check(&f.key, f.path, &f.resp); r != cache.OK {
		f.reason = r
		s.cache.NotStored(r)
		return
	}
	// The copy found before the fetch says whether the page was validated
	// lately, without a second look in memory; a newer one stored since
	// would only be fresher, and Revalidate finds it.
	var fresh bool
	if f.had != nil {
		fresh = f.had.ValidatedWithin(s.now(), s.refresh)
	} else {
		fresh = s.cache.Recent(&f.key, &f.req, s.refresh)
	}
	if fresh || s.cache.Revalidate(&f.key, &f.req, cache.WireSum(&f.resp)) {
		f.recent = true
		return
	}
	cp, r := st.policy.Build(&f.key, &f.req, &f.resp, s.now())
	if r != cache.OK {
		f.reason = r
		s.cache.NotStored(r)
		return
	}
	s.cache.Store(&f.key, cp)
	f.stored = cp
}

// answer relays f's answer, or serves the fallback when the origin failed.
func (s *Server) answer(ctx *fasthttp.RequestCtx, st *siteState, f *fetch, cp *cache.Copy) {
	if f.err == nil && !isFailureStatus(f.resp.StatusCode()) {
		s.relayFetched(ctx, f)
		return
	}
	why := fallbackWhy{detail: failureReason(f.err)}
	if f.err == nil {
		why = fallbackWhy{fwdStatus: f.resp.StatusCode()}
	}
	s.serveFallback(ctx, st, &f.key, cp, why)
}

// relayFetched relays the origin's answer to a GET or HEAD.
func (s *Server) relayFetched(ctx *fasthttp.RequestCtx, f *fetch) {
	r := &ctx.Response
	relay(r, &f.resp)
	if ctx.IsHead() {
		r.SkipBody = true
		r.Header.SetContentLength(f.resp.Header.ContentLength())
	} else if equalFold(r.Header.ContentEncoding(), "gzip") && !acceptsGzip(ctx) {
		// Awning asked for gzip; this client did not.
		if plain, err := f.st.pool.gunzip(r.Body()); err == nil {
			r.Header.DelBytes(hContentEncoding)
			r.SetBodyRaw(plain)
		}
	}
	r.Header.SetCanonical(hAwningServed, vOrigin)
	f.st.count.count(OutcomeOrigin)
	var buf [96]byte
	cs := append(buf[:0], "Awning; fwd="...)
	if f.had != nil {
		cs = append(cs, "stale"...)
	} else {
		cs = append(cs, "uri-miss"...)
	}
	if f.stored != nil {
		cs = append(cs, "; stored"...)
	} else if f.reason != cache.OK {
		cs = append(cs, "; detail="...)
		cs = append(cs, f.reason...)
	}
	r.Header.SetCanonical(hCacheStatus, cs)
}

func acceptsGzip(ctx *fasthttp.RequestCtx) bool {
	return ctx.Request.Header.HasAcceptEncodingBytes(vGzip)
}
