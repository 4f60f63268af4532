package proxy

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/valyala/fasthttp"
)

// fetch is one request's origin exchange and what came of it. A fetch for
// a GET or HEAD may outlive the handler that started it: when a copy exists
// and the origin is slower than fallback_after, the shopper gets the copy
// and the fetch finishes in the background, refreshing the copy if its
// answer is good. Fetches are pooled; ownership passes from the handler to
// the fetch goroutine and back through state, and whichever finishes last
// releases.
type fetch struct {
	req    fasthttp.Request
	resp   fasthttp.Response
	keyBuf []byte
	key    cache.Key
	path   []byte // normalized request path, for api_paths
	srv    *Server
	st     *siteState
	get    bool // GET: its answer may be stored; HEAD is only forwarded
	gzip   bool // Awning asked the origin for gzip, whatever the shopper takes
	// timeout bounds the exchange: origin.timeout, or write_timeout for
	// every method but GET and HEAD.
	timeout time.Duration
	had     *cache.Copy // the request's copy when the fetch started, or nil

	// collapse: the request may share an origin exchange with equal ones.
	collapse bool
	// leadFn is f.lead, bound once per pooled fetch so that joining a
	// flight costs no closure; runFn is f.run, for the same reason: a go
	// statement with arguments allocates their closure.
	leadFn func() (any, error)
	runFn  func()

	// What came of it; see answered.
	adm       health.Admission // the origin was not asked: why
	exchanged bool             // the origin was asked
	err       error            // the exchange failed, or it panicked (errPanicked)
	led       bool             // this fetch led a flight
	shared    *cache.Copy      // a follower's answer: the copy its flight's leader stored
	flightErr error            // a follower's flight failed (a *flightFailure or errPanicked)
	stored    *cache.Copy      // the copy made of the answer
	validated *cache.Copy      // the copy the answer showed unchanged (recent)
	reason    cache.Reason     // why the answer was not stored
	recent    bool             // a copy was validated less than cache.refresh ago

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
	f.leadFn = f.lead
	return f
}}

func (s *Server) acquireFetch(st *siteState) *fetch {
	f := fetchPool.Get().(*fetch)
	f.srv, f.st, f.timeout = s, st, st.timeout
	if f.runFn == nil {
		f.runFn = f.run // here, not in the pool's New: run releases to the pool
	}
	return f
}

func releaseFetch(f *fetch) {
	f.req.Reset()
	f.resp.ReleaseBody(keptBody) // drops a buffer larger than keptBody
	f.resp.Reset()
	f.keyBuf = f.key.Primary[:0]
	f.key = cache.Key{}
	f.path = f.path[:0]
	f.srv, f.st, f.had = nil, nil, nil
	f.get, f.gzip, f.collapse, f.timeout = false, false, false, 0
	f.adm, f.exchanged, f.err, f.led = health.Admitted, false, nil, false
	f.shared, f.flightErr, f.stored, f.validated = nil, nil, nil, nil
	f.reason, f.recent = cache.OK, false
	f.state.Store(fetchRunning)
	fetchPool.Put(f)
}

// answered reports whether the origin gave an answer the shopper may have:
// it was asked, the exchange completed, and the status is not one of a
// failing origin. It is the one test of "did the origin fail".
func (f *fetch) answered() bool {
	return f.exchanged && f.err == nil && !isFailureStatus(f.resp.StatusCode())
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
// is in the response, and never relayed or stored.
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

// wait waits for the fetch at most d, or until down is closed (the origin
// was declared down), and reports whether it finished: then the caller owns
// f again. Otherwise f is abandoned to the fetch goroutine, which releases
// it, and the caller must not touch it; released says it was down that
// ended the wait.
func (f *fetch) wait(d time.Duration, down <-chan struct{}) (finished, released bool) {
	t := acquireTimer(max(d, 0))
	defer releaseTimer(t)
	select {
	case <-f.done:
		return true, false
	case <-t.C:
	case <-down:
		released = true
	}
	if f.state.CompareAndSwap(fetchRunning, fetchAbandoned) {
		return false, released
	}
	<-f.done // it finished as the wait ended
	return true, false
}

// run is runAsync on f's Server: started as go f.runFn(), after
// srv.bg.Add(1).
func (f *fetch) run() { f.srv.runAsync(f) }

// runAsync obtains f's answer in its own goroutine, owned by the Server
// (bg), and hands f back to the handler, or releases it when the handler
// stopped waiting. The handoff is deferred, so a panic cannot leave the
// handler waiting.
func (s *Server) runAsync(f *fetch) {
	defer s.bg.Done()
	defer func() {
		if v := recover(); v != nil {
			s.recovered("origin fetch", v)
			f.failed(errPanicked)
		}
		if f.state.CompareAndSwap(fetchRunning, fetchDone) {
			f.done <- struct{}{}
			return
		}
		releaseFetch(f) // the shopper got a copy; the fetch only refreshed it
	}()
	s.obtain(f)
}

// failed records that f ended in err, whatever it had come to before.
func (f *fetch) failed(err error) {
	f.err, f.shared, f.flightErr, f.adm = err, nil, nil, health.Admitted
	f.exchanged = true
}

// recovered logs and counts a panic the request path survived.
func (s *Server) recovered(what string, v any) {
	s.panics.Add(1)
	s.log.Error(what+" panicked", "panic", v, "stack", string(debug.Stack()))
}

// obtain gets f its answer: as the leader of a flight of equal requests,
// from the flight's leader, or alone.
func (s *Server) obtain(f *fetch) {
	if f.collapse {
		s.flights.joined.Add(1)
		v, err, _ := s.flights.group.Do(string(f.key.Primary), f.leadFn)
		s.flights.joined.Add(-1)
		if f.led || f.follow(v, err) {
			return
		}
		// The flight's answer is not one this request may have (another
		// variant, or not storable): it asks the origin itself.
	}
	s.alone(f)
}

// lead is a flight's function: f's own exchange, whose result its
// followers get. It recovers its own panic, so that followers see a failed
// flight rather than the panic (singleflight hands a panic on to them).
func (f *fetch) lead() (v any, err error) {
	f.led = true
	s := f.srv
	defer func() {
		if p := recover(); p != nil {
			s.recovered("collapsed origin fetch", p)
			f.failed(errPanicked)
			v, err = nil, errPanicked
		}
	}()
	s.alone(f)
	switch {
	case f.adm != health.Admitted:
		return nil, &flightFailure{adm: f.adm}
	case !f.answered():
		ff := &flightFailure{}
		if f.err == nil {
			ff.status = f.resp.StatusCode()
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

// follow takes a flight's result for f and reports whether it answers f:
// a failure does (f gets the fallback), and so does a stored copy of f's
// own variant. Anything else leaves f to ask the origin alone.
func (f *fetch) follow(v any, err error) bool {
	if err != nil {
		f.flightErr = err
		return true
	}
	cp, _ := v.(*cache.Copy)
	if cp == nil || cp.Status != 200 || !cp.MatchesRequest(&f.req, f.key.Lang) {
		return false
	}
	f.shared = cp
	return true
}

// alone asks the origin for f's answer, when health admits it, and keeps
// the answer when every rule allows.
func (s *Server) alone(f *fetch) {
	if adm := f.st.health.Admit(); adm != health.Admitted {
		f.adm = adm
		return
	}
	s.exchange(f, true)
	switch {
	case f.get && f.answered():
		s.keep(f)
	case f.get && errors.Is(f.err, errFailureMarker):
		f.reason = cache.FailureMarker
		s.cache.NotStored(cache.FailureMarker)
	}
}

// exchange sends f's request to the origin and reads its answer. The
// caller was admitted by health; exchange ends the admission. A browsing
// exchange is watched for a hung origin (health's hang_after).
func (s *Server) exchange(f *fetch, browse bool) {
	defer f.st.health.Done()
	if browse {
		f.st.health.Begin()
		defer f.st.health.End()
	}
	f.exchanged = true
	_, f.err = f.st.pool.do(&f.req, &f.resp, time.Now().Add(f.timeout), f.st.health)
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
	return err == nil || !(isConnectError(err) || errors.Is(err, errNoOrigin) || errors.Is(err, errStaleConn))
}

// keep stores f's answer as a copy when every rule allows it; a failed
// exchange never reaches it, so it never replaces a good copy.
func (s *Server) keep(f *fetch) {
	st := f.st
	if r := st.policy.Check(&f.key, f.path, &f.resp); r != cache.OK {
		f.reason = r
		s.cache.NotStored(r)
		return
	}
	// A page that shrank to a tenth of its copy is rather a platform's
	// bare error page than the page: the copy stays. A node that has no
	// copy in memory (another node made it, this one restarted, or memory
	// evicted it) looks in Redis first, or it would write the error page
	// over the fleet's copy there.
	had := f.had
	if had == nil && f.resp.StatusCode() == 200 && s.cache.Shared() {
		ctx, cancel := context.WithTimeout(context.Background(), st.fallbackAfter)
		had = s.cache.LookupRemote(ctx, &f.key, &f.req)
		cancel()
	}
	if had != nil && had.HTML && had.Status == 200 && f.resp.StatusCode() == 200 &&
		cache.PlainSize(&f.resp)*10 < had.Size {
		f.reason = cache.Shrunk
		s.cache.NotStored(cache.Shrunk)
		return
	}
	// The copy found before the fetch says whether the page was validated
	// lately, without a second look in memory; a newer one stored since
	// would only be fresher, and Revalidate finds it.
	now := s.now()
	if f.had != nil && f.had.ValidatedWithin(now, s.refresh) {
		f.recent, f.validated = true, f.had
		return
	}
	if f.had == nil {
		if cp := s.cache.Recent(&f.key, &f.req, s.refresh); cp != nil {
			f.recent, f.validated = true, cp
			return
		}
	}
	if cp := s.cache.Revalidate(&f.key, &f.req, cache.WireSum(&f.resp)); cp != nil {
		f.recent, f.validated = true, cp
		return
	}
	cp, r := st.policy.Build(&f.key, &f.req, &f.resp, now)
	if r != cache.OK {
		f.reason = r
		s.cache.NotStored(r)
		return
	}
	s.cache.Store(&f.key, cp)
	f.stored = cp
}
