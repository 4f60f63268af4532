package proxy

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/valyala/fasthttp"
)

// fetch is one request's origin exchange and what came of it. It runs in
// the shopper's handler; it outlives the handler only when the handler
// hands it on: to a background refresh, when a copy answered the shopper
// after fallback_after and the exchange goes on to refresh that copy, or to
// the store worker, which builds a changed page's copy after the shopper
// got the answer. Fetches are pooled; whoever holds one last releases it.
type fetch struct {
	x      exchange
	keyBuf []byte
	key    cache.Key
	path   []byte // normalized request path, for api_paths
	srv    *Server
	st     *siteState
	get    bool        // GET: its answer may be stored; HEAD is only forwarded
	gzip   bool        // Awning asked the origin for gzip, whatever the shopper takes
	had    *cache.Copy // the request's copy when the fetch started, or nil
	// req is the shopper's request the answer is for: the handler's, or
	// vreq, a copy of its headers, once the fetch outlives the handler.
	req  *fasthttp.Request
	vreq fasthttp.Request
	// fl is the flight this fetch leads, ended by whoever holds the fetch
	// last; nil when the request does not collapse.
	fl *flight
	// bgFn is f.background, bound once per pooled fetch so that handing a
	// fetch to a background refresh costs no closure.
	bgFn func()

	// What came of it; see answered.
	adm       health.Admission // the origin was not asked: why
	admitted  bool             // health admitted the exchange, which has not ended yet
	exchanged bool             // the origin was asked
	err       error            // the exchange failed, or it panicked (errPanicked)
	shared    *cache.Copy      // a follower's answer: the copy its flight's leader stored
	flightErr error            // a follower's flight failed (a *flightFailure or errPanicked)
	stored    *cache.Copy      // the copy made of the answer
	validated *cache.Copy      // the copy the answer showed unchanged (recent)
	reason    cache.Reason     // why the answer was not stored
	recent    bool             // a copy was validated less than cache.refresh ago
	// build: the answer is to be kept as a new copy, built off the
	// shopper's path (store.go).
	build bool
	// lent: the shopper's response points into the fetch's buffer, which
	// must outlive its writing (connstate.go): release with done.
	lent bool
}

// keptBody bounds the buffer a pooled fetch keeps between uses: an
// origin's answer is read into the buffer the fetch already holds, so a
// page's worth of memory is reused, not allocated, per request. A rare
// large asset's buffer is left to the garbage collector.
const keptBody = 256 << 10

var fetchPool = sync.Pool{New: func() any {
	f := &fetch{keyBuf: make([]byte, 0, 256)}
	f.x.oi = -1
	return f
}}

func (s *Server) acquireFetch(st *siteState) *fetch {
	f := fetchPool.Get().(*fetch)
	f.srv, f.st = s, st
	if f.bgFn == nil {
		f.bgFn = f.background // here, not in the pool's New: background releases to the pool
	}
	return f
}

func releaseFetch(f *fetch) {
	if cap(f.x.buf) > keptBody {
		f.x.buf = nil
	}
	f.x.reset()
	f.vreq.Reset()
	f.keyBuf = f.key.Primary[:0]
	f.key = cache.Key{}
	f.path = f.path[:0]
	f.srv, f.st, f.had, f.req, f.fl = nil, nil, nil, nil, nil
	f.get, f.gzip = false, false
	f.adm, f.admitted, f.exchanged, f.err = health.Admitted, false, false, nil
	f.shared, f.flightErr, f.stored, f.validated = nil, nil, nil, nil
	f.reason, f.recent, f.build, f.lent = cache.OK, false, false, false
	fetchPool.Put(f)
}

// done releases f, the handler's, once its shopper's response no longer
// needs it: now, or, when its body was lent to the response, once the
// response is written (the connection reclaims it).
func done(ctx *fasthttp.RequestCtx, f *fetch) {
	if f.lent {
		if c := connOf(ctx); c != nil {
			c.lend(f)
			return
		}
	}
	releaseFetch(f)
}

// answered reports whether the origin gave an answer the shopper may have:
// it was asked, the exchange completed, and the status is not one of a
// failing origin. It is the one test of "did the origin fail".
func (f *fetch) answered() bool {
	return f.exchanged && f.err == nil && !isFailureStatus(f.x.ans.Status)
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

// errFailureMarker stands for a 2xx answer that is a platform's error page
// (cache.Markers): the origin failed, whatever its status said. The answer
// is in the exchange, and never relayed or stored.
var errFailureMarker = errors.New("proxy: the origin answered with an error page (failure marker)")

// errPanicked stands for an exchange whose code panicked: a bug, logged
// with its stack; the shopper gets the fallback.
var errPanicked = errors.New("proxy: origin fetch panicked")

// flightFailure is what followers learn when their flight's leader got no
// answer they may have.
type flightFailure struct {
	status int              // the origin's failure status, or 0
	adm    health.Admission // the leader was not admitted, or Admitted
}

func (e *flightFailure) Error() string {
	return fmt.Sprintf("proxy: collapsed request failed (status %d, %s)", e.status, e.adm)
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

// failed records that f ended in err, whatever it had come to before.
func (f *fetch) failed(err error) {
	f.err, f.shared, f.flightErr, f.adm = err, nil, nil, health.Admitted
	f.exchanged, f.build = true, false
}

// recovered logs and counts a panic the request path survived.
func (s *Server) recovered(what string, v any) {
	s.panics.Add(1)
	s.log.Error(what+" panicked", "panic", v, "stack", string(debug.Stack()))
}

// ask asks the origin for f's answer, when health admits it, in the
// caller's goroutine. It returns errSlow when f's soft deadline
// (fallback_after) passed first: f is then still admitted and resumable
// (run, after clearing the soft deadline); otherwise the exchange is over
// and f holds what came of it.
func (s *Server) ask(f *fetch) error {
	if adm := f.st.health.Admit(); adm != health.Admitted {
		f.adm = adm
		return nil
	}
	f.admitted, f.exchanged = true, true
	if f.x.idempotent {
		f.st.health.Begin() // watched for a hung origin (health's hang_after)
	}
	return s.run(f)
}

// run runs f's exchange on from where it stands; see ask. A panic is
// contained: f fails with errPanicked.
func (s *Server) run(f *fetch) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.recovered("origin fetch", v)
			if c := f.x.c; c != nil { // no exchange can trust where it stood
				f.x.c = nil
				c.pool.discard(c)
			}
			s.endAdmission(f)
			f.failed(errPanicked)
			err = nil
		}
	}()
	return s.proceed(f)
}

// proceed runs f's exchange on and, once it is over, keeps a good answer.
func (s *Server) proceed(f *fetch) error {
	err := f.st.pool.do(&f.x, f.st.health)
	if err == errSlow {
		return errSlow
	}
	s.endAdmission(f)
	f.err = err
	switch {
	case f.get && f.answered() && !f.x.early:
		// An early answer (originearly.go) came before the origin had the
		// whole request: never a page to keep.
		s.keep(f)
	case f.get && err == errFailureMarker:
		f.reason = cache.FailureMarker
		s.cache.NotStored(cache.FailureMarker)
	}
	return nil
}

// endAdmission ends the exchange's admission by health, once.
func (s *Server) endAdmission(f *fetch) {
	if !f.admitted {
		return
	}
	f.admitted = false
	if f.x.idempotent {
		f.st.health.End()
	}
	f.st.health.Done()
}

// abandon gives up on f's exchange, which the shopper no longer waits for
// and which would refresh nothing: its connection is closed (the origin may
// notice), and f is released.
func (s *Server) abandon(f *fetch) {
	if c := f.x.c; c != nil {
		f.x.c = nil
		c.pool.discard(c)
	}
	s.endAdmission(f)
	releaseFetch(f)
}

// flightResult is what f's followers get: the copy it stored or found
// unchanged, a failure, or nothing (the answer was not shareable: the page
// goes solo for a while).
func (s *Server) flightResult(f *fetch) (*cache.Copy, error) {
	switch {
	case f.err == errPanicked:
		return nil, errPanicked
	case f.adm != health.Admitted:
		return nil, &flightFailure{adm: f.adm}
	case !f.answered():
		ff := &flightFailure{}
		if f.err == nil {
			ff.status = f.x.ans.Status
		}
		return nil, ff
	case f.stored != nil:
		return f.stored, nil
	case f.validated != nil:
		return f.validated, nil
	}
	s.flights.markSolo(f.key.Primary, s.now()) // not shareable: do not queue on it for a while
	return nil, nil
}

// endFlight ends the flight f leads, if any, with what came of f.
func (s *Server) endFlight(f *fetch) {
	if fl := f.fl; fl != nil {
		f.fl = nil
		cp, err := s.flightResult(f)
		s.flights.end(fl, cp, err)
	}
}

// follow takes a flight's result for f and reports whether it answers f:
// a failure does (f gets the fallback), and so does a stored copy of f's
// own variant. Anything else leaves f to ask the origin alone.
func (f *fetch) follow(cp *cache.Copy, err error, req *fasthttp.Request) bool {
	if err != nil {
		f.flightErr = err
		return true
	}
	if cp == nil || cp.Status != 200 || !cp.MatchesRequest(req, f.key.Lang) {
		return false
	}
	f.shared = cp
	return true
}

// background finishes f's exchange after its shopper got the copy
// (fallback_after passed), in a goroutine the Server owns (bg), and keeps
// the answer when it is good: the copy is refreshed however slow the
// origin. It ends f's flight and releases f, whatever happens.
func (f *fetch) background() {
	s := f.srv
	defer s.bg.Done()
	defer func() {
		if v := recover(); v != nil {
			s.recovered("background refresh", v)
			s.endAdmission(f)
			f.failed(errPanicked)
		}
		s.endFlight(f)
		releaseFetch(f)
	}()
	f.x.soft = time.Time{}
	s.run(f)
	if f.build {
		if f.fl != nil {
			s.flights.detach(f.fl)
		}
		s.buildNow(f)
	}
	s.refreshes.Add(1)
}

// refreshLater hands f, whose shopper got the copy, to a background
// refresh: the exchange goes on to the origin timeout.
func (s *Server) refreshLater(f *fetch, req *fasthttp.Request) {
	req.Header.CopyTo(&f.vreq.Header)
	f.req = &f.vreq
	s.refreshStarts.Add(1)
	s.bg.Add(1)
	go f.bgFn()
}

// sent reports whether the request went out to the origin, so that the
// origin may have acted on it whatever came back: it was asked, and the
// exchange did not fail before anything was written (no origin to try, no
// connection, no free connection, only stale pooled ones). A request that
// failed while it was being written counts as sent: part of an order may
// be enough for a shop to take it.
func (f *fetch) sent() bool {
	if !f.exchanged {
		return false
	}
	err := f.err
	return err == nil || !(isConnectError(err) || errors.Is(err, errNoOrigin) || errors.Is(err, errStaleConn) ||
		(err == errReleased && f.x.wrote == 0))
}

// keep decides whether f's answer refreshes or makes the page's copy, with
// every rule: a page validated less than cache.refresh ago costs one atomic
// read, an unchanged one a hash of the answer as it came (no inflate, no
// copy), and a new or changed one is marked to be built (build) off the
// shopper's path. A failed exchange never reaches it, so it never replaces
// a good copy.
func (s *Server) keep(f *fetch) {
	st := f.st
	if r := st.policy.CheckKey(&f.key); r != cache.OK {
		f.reason = r
		s.cache.NotStored(r)
		return
	}
	// A page that shrank to a tenth of its copy is rather a platform's
	// bare error page than the page: the copy stays. (A page with no copy
	// in memory is held to its copy in Redis below, before it is built.)
	a := &f.x.ans
	if shrunk(f.had, a) {
		f.reason = cache.Shrunk
		s.cache.NotStored(cache.Shrunk)
		return
	}
	// The copy found before the fetch says whether the page was validated
	// lately, without a second look in memory; a newer one stored since
	// would only be fresher, and Revalidate finds it.
	now := s.now()
	if f.had != nil && f.had.ValidatedWithin(now, st.policy.Refresh) {
		f.recent, f.validated = true, f.had
		return
	}
	if r := st.policy.CheckAnswer(f.path, a); r != cache.OK {
		f.reason = r
		s.cache.NotStored(r)
		return
	}
	if f.had == nil {
		if cp := s.cache.Recent(&f.key, f.req, st.policy.Refresh); cp != nil {
			f.recent, f.validated = true, cp
			return
		}
	}
	if cp := s.cache.Revalidate(&f.key, f.req, cache.WireSum(a)); cp != nil {
		f.recent, f.validated = true, cp
		return
	}
	if f.had == nil && a.Status == 200 && s.cache.Shared() {
		// A node that has no copy in memory (another node made it, this
		// one restarted, or memory evicted it) looks in Redis first, or it
		// would write a platform's bare error page over the fleet's copy
		// there. Here, not when the copy is built, so that the shopper's
		// Cache-Status says why nothing was stored.
		ctx, cancel := context.WithTimeout(context.Background(), st.fallbackAfter)
		had := s.cache.LookupRemote(ctx, &f.key, f.req)
		cancel()
		if shrunk(had, a) {
			f.reason = cache.Shrunk
			s.cache.NotStored(cache.Shrunk)
			return
		}
	}
	f.build = true
	s.cache.Pending(&f.key)
}

// shrunk reports whether a, a 200, is a tenth the size of had, a page's
// 200 HTML copy: rather a platform's bare error page than the page.
func shrunk(had *cache.Copy, a *cache.Answer) bool {
	return had != nil && had.HTML && had.Status == 200 && a.Status == 200 &&
		cache.PlainSize(a)*10 < had.Size
}

// buildNow builds and stores f's copy in the caller's goroutine: the store
// worker's, a background refresh's, or, when the store queue is full, the
// handler's.
func (s *Server) buildNow(f *fetch) {
	f.build = false
	cp, r := f.st.policy.Build(&f.key, f.req, &f.x.ans, s.now())
	if r != cache.OK {
		f.reason = r
		s.cache.NotStored(r)
		s.cache.Abandon(&f.key)
		return
	}
	if f.st.pool.markers != nil && cache.MayFail(&f.x.ans) {
		cp.MarkClean(f.st.pool.markers.Salt()) // judged before it got here
	}
	s.cache.Store(&f.key, cp)
	f.stored = cp
}
