package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/valyala/fasthttp"
)

// origin is one origin URL and the connections to it, shared by every
// site whose origin has the same originKey (origins.go).
type origin struct {
	url   string // as configured, for logs
	conns *originConns
	limit int            // limits.response_body, which also bounds a gzip body decompressed
	check *checkedBodies // shared by the Server's origins; nil checks every body

	// What Awning refused from this origin is logged at most once a
	// minute for all the sites on it (originresp.go); each site counts its
	// own (pool.refusals).
	log      *slog.Logger // nil: no log
	unlogged atomic.Int64 // refusals since the last log line
	lastLog  atomic.Int64 // unix nanos of the last log line
}

// answerLimits bound what an origin may send: limits.response_header and
// limits.response_body.
type answerLimits struct {
	head, body int
	mem        *answerMemory // limits.answers_memory, the node's; nil in tests that build a bare pool
}

// pool balances a site's requests over its origins. It is safe for
// concurrent use.
type pool struct {
	origins  []*origin
	next     atomic.Uint32
	latency  *latencyHistogram // the site's; nil in tests that build a bare pool
	limit    int               // limits.response_body
	site     string            // for logs
	refusals *refusalCounts    // the site's; nil in tests that build a bare pool
	early    *atomic.Uint64    // the site's early answers; nil in tests that build a bare pool
	// markers tell a platform's error page answering 2xx from a good page
	// (fallback/cache, soft.go); nil in tests that build a bare pool.
	markers *cache.Markers
}

// poolOptions are the limits that apply to every origin of every site.
type poolOptions struct {
	responseBody   int
	responseHeader int
	log            *slog.Logger
	checked        *checkedBodies // gzip bodies known good; nil checks every body
	mem            *answerMemory  // the node's bound on answers' memory; nil: none
}

// attach ties the pool to its site's name (for logs) and counters, which
// outlive the pool across reloads.
func (p *pool) attach(site string, count *siteCounters) {
	p.latency = &count.latency
	p.site, p.refusals, p.early = site, &count.refusals, &count.early
}

func newOrigin(raw string, oc *config.Origin, opt poolOptions) (*origin, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("origin %q: %w", raw, err)
	}
	isTLS := u.Scheme == "https"
	addr := u.Host
	if u.Port() == "" {
		if isTLS {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	var tlsConfig *tls.Config
	if isTLS {
		name := oc.TLSServerName
		if name == "" {
			name = oc.HostHeader
			if host, _, err := net.SplitHostPort(name); err == nil {
				name = host // a Host may carry a port; a server name never does (RFC 6066 §3)
			}
		}
		if name == "" {
			name = u.Hostname()
		}
		tlsConfig = &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
	}
	conns := newOriginConns(addr, tlsConfig, oc.ConnectTimeout.D(), max(oc.MaxConns, 1))
	conns.limits = answerLimits{head: opt.responseHeader, body: opt.responseBody, mem: opt.mem}
	return &origin{url: raw, conns: conns, limit: opt.responseBody, check: opt.checked, log: opt.log}, nil
}

// errNoOrigin is returned when health leaves no origin to try.
var errNoOrigin = errors.New("proxy: no origin available")

// do sends x's request to an origin health allows, starting with the next
// in turn, reports each attempt to health, and leaves the answer in x. Only
// a failure to connect moves on to another origin for any method; an
// idempotent request also after a failure that is not a timeout (see
// retryElsewhere). It returns errSlow when x's soft deadline passed first:
// calling do again resumes the exchange where it stood.
func (p *pool) do(x *exchange, h *health.Site) error {
	if !x.begun {
		x.turn, x.begun, x.oi = p.next.Add(1), true, -1
		x.owner = p
	}
	err := errNoOrigin
	for {
		if x.oi < 0 {
			i := h.Pick(x.turn, x.tried)
			if i < 0 {
				return err
			}
			x.tried |= 1 << i
			x.oi, x.t0 = i, time.Now()
		}
		o := p.origins[x.oi]
		err = o.roundTrip(x)
		if err == errSlow {
			return err
		}
		i := x.oi
		x.oi = -1
		if err == nil {
			err = p.judge(o, x)
		}
		if r, ok := refusalOf(err); ok {
			o.refused(p.site, p.refusals, r, err)
		} else if err == nil && x.early && p.early != nil {
			p.early.Add(1)
		}
		r, ok := healthResult(err, x.ans.Status, time.Since(x.t0))
		if ok {
			h.Report(i, r)
			if p.latency != nil && (err == nil || !isConnectError(err)) {
				p.latency.observe(r.Latency)
			}
		}
		if !ok || !r.Failed || !retryElsewhere(x, err) || !time.Now().Before(x.total) {
			return err
		}
		// Another origin, within the same soft deadline: should it pass
		// while that one connects or answers, do returns errSlow as for
		// the first (roundTrip).
	}
}

// retryElsewhere reports whether a failed attempt may be repeated on
// another origin. A connection that could not be opened carried nothing, so
// any method may. An idempotent request may also move on after a failure
// status or a broken connection, as nginx's proxy_next_upstream does for
// error: a shopper gets the healthy origin's page instead of the outage
// page. Never after a timeout: that would make the shopper wait twice.
func retryElsewhere(x *exchange, err error) bool {
	if err != nil && isConnectError(err) {
		return true
	}
	if !x.idempotent || err == errReleased {
		return false
	}
	return err == nil || failureReason(err) != "timeout"
}

// healthResult says what an exchange tells about the origin's health; ok
// is false when it tells nothing (Awning's own limits were hit, or the
// origin was already declared down).
func healthResult(err error, status int, latency time.Duration) (health.Result, bool) {
	switch {
	case err == nil && isFailureStatus(status):
		return health.Result{Failed: true, Reason: "status " + strconv.Itoa(status), Latency: latency}, true
	case err == nil:
		return health.Result{Latency: latency}, true
	case err == errBodyTooLarge, err == errHeadTooLarge, err == errNoFreeConns, err == errReleased, err == errAnswersMemory:
		return health.Result{}, false
	}
	return health.Result{Failed: true, Reason: failureReason(err), Latency: latency}, true
}

// probe sends a health probe to origin i with the Host header host.
func (p *pool) probe(ctx context.Context, i int, method, path string, host string) (int, []byte, error) {
	return p.origins[i].Probe(ctx, method, path, host)
}

// Probe sends a health probe to o with the Host header host, within ctx's
// deadline. It implements health.Transport, so probes reach the origin
// exactly as shoppers' requests do (address, TLS name, connections).
func (o *origin) Probe(ctx context.Context, method, path, host string) (int, []byte, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Second)
	}
	x := exchangePool.Get().(*exchange)
	defer putExchange(x)
	x.reset()
	x.req = append(x.req[:0], method...)
	x.req = append(x.req, ' ')
	x.req = append(x.req, path...)
	x.req = append(x.req, " HTTP/1.1\r\nHost: "...)
	x.req = append(x.req, host...)
	x.req = append(x.req, "\r\nUser-Agent: Awning-Health/1\r\n\r\n"...)
	x.head = method == fasthttp.MethodHead
	x.idempotent = x.head || method == fasthttp.MethodGet
	x.total = deadline
	err := o.roundTrip(x)
	if err == nil {
		err = o.checkAnswer(&x.ans)
	}
	if err != nil {
		if r, ok := refusalOf(err); ok {
			o.refused("", nil, r, err) // logged for the origin; no site asked
		}
		return 0, nil, errors.New(failureReason(err))
	}
	body := x.ans.Body
	if len(body) > 64<<10 {
		body = body[:64<<10] // expect_body is looked for near the top
	}
	return x.ans.Status, append([]byte(nil), body...), nil
}

// exchangePool holds exchanges for probes and sitemaps, which run outside
// a fetch.
var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// putExchange resets x, giving back the answer memory it holds, and pools
// it.
func putExchange(x *exchange) {
	x.reset()
	exchangePool.Put(x)
}

// release cuts short the exchanges in progress for this pool's site with
// its origins: the site's origin was declared down (originConns.release).
// Other sites on the same origins keep theirs.
func (p *pool) release() {
	for _, o := range p.origins {
		o.conns.release(p)
	}
}

// sweep closes connections idle for too long.
func (p *pool) sweep(now time.Time) {
	for _, o := range p.origins {
		o.conns.sweep(now)
	}
}

// isConnectError reports whether err happened before anything was sent.
func isConnectError(err error) bool {
	if err == errDialTimeout || errors.Is(err, syscall.ECONNREFUSED) || err == errNoFreeConns {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// failureReason names what went wrong talking to an origin, for logs, the
// Cache-Status header and health accounting. An error it does not know is
// "error", never a guess: the log line that carries it has the cause.
func failureReason(err error) string {
	if r, ok := refusalOf(err); ok {
		return r.String()
	}
	var ne net.Error
	var small *fasthttp.ErrSmallBuffer
	var chunk fasthttp.ErrBrokenChunk
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errNoOrigin):
		return "no-origin"
	case err == errReleased:
		return "origin-down"
	case err == errFailureMarker:
		return "failure-marker"
	case err == errDialTimeout, errors.Is(err, fasthttp.ErrDialTimeout):
		return "connect-timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case err == errTimeout, errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case err == errBodyTooLarge, errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "too-large"
	case err == errAnswersMemory:
		return "node-memory"
	case err == errHeadTooLarge, errors.As(err, &small):
		return "header-too-large"
	case err == errNoFreeConns, errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no-free-conns"
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, errStaleConn):
		return "closed"
	case errors.As(err, &chunk):
		return "malformed"
	}
	var te *tls.CertificateVerificationError
	if errors.As(err, &te) {
		return "tls"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "connect"
	}
	return "error"
}

// errStaleConn reports a kept-alive connection the origin closed while it
// sat idle in the pool. It is found before anything is written, so the
// request may be sent again on another connection whatever its method.
var errStaleConn = errors.New("proxy: origin closed the idle connection")
