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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/valyala/fasthttp"
)

// origin is one origin URL and the connection pool to it, shared by every
// site whose origin has the same originKey (origins.go).
type origin struct {
	url    string // as configured, for logs
	scheme []byte // http or https
	client *fasthttp.HostClient
	limit  int            // limits.response_body, which also bounds a gzip body decompressed
	check  *checkedBodies // shared by the Server's origins; nil checks every body

	// What Awning refused from this origin is logged at most once a
	// minute for all the sites on it (originresp.go); each site counts its
	// own (pool.refusals).
	log      *slog.Logger // nil: no log
	unlogged atomic.Int64 // refusals since the last log line
	lastLog  atomic.Int64 // unix nanos of the last log line
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
	// markers tell a platform's error page answering 2xx from a good page
	// (fallback/cache), and clean remembers bodies found without one
	// (soft.go); nil in tests that build a bare pool.
	markers *cache.Markers
	clean   *checkedBodies
}

// poolOptions are the limits that apply to every origin of every site.
type poolOptions struct {
	responseBody   int
	responseHeader int
	dialer         *fasthttp.TCPDialer
	log            *slog.Logger
	checked        *checkedBodies // gzip bodies known good; nil checks every body
}

// attach ties the pool to its site's name (for logs) and counters, which
// outlive the pool across reloads.
func (p *pool) attach(site string, count *siteCounters) {
	p.latency = &count.latency
	p.site, p.refusals = site, &count.refusals
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
	connect := oc.ConnectTimeout.D()
	firstByte := oc.FirstByteTimeout.D()
	if firstByte >= oc.Timeout.D() {
		firstByte = 0 // the total deadline already bounds it
	}
	dialer := opt.dialer
	var tlsConfig *tls.Config
	if isTLS {
		name := oc.TLSServerName
		if name == "" {
			name = oc.HostHeader
		}
		if name == "" {
			name = u.Hostname()
		}
		tlsConfig = &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12}
	}
	hc := &fasthttp.HostClient{
		Addr:                      addr,
		IsTLS:                     isTLS,
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true,
		MaxConns:                  oc.MaxConns,
		MaxConnWaitTimeout:        connect,
		MaxIdleConnDuration:       30 * time.Second,
		MaxIdemponentCallAttempts: 4, // bounds retries of any method; retryIfErr decides which

		RetryIfErr:                    retryIfErr,
		ReadBufferSize:                opt.responseHeader,
		MaxResponseBodySize:           opt.responseBody,
		DisableHeaderNamesNormalizing: false,
		TLSConfig:                     tlsConfig, // used by Dial; fasthttp sees a connection already TLS
		Dial: func(addr string) (net.Conn, error) {
			return dialOrigin(dialer, addr, connect, firstByte, tlsConfig)
		},
	}
	return &origin{url: raw, scheme: []byte(u.Scheme), client: hc, limit: opt.responseBody, check: opt.checked, log: opt.log}, nil
}

// dialOrigin opens a connection to an origin: TCP, the TLS handshake of an
// https origin (within the connect timeout, like the TCP connect), and the
// guard on what the origin sends, above TLS where it reads the answers as
// fasthttp will. A failed handshake is reported as a failure to connect:
// nothing was sent, so another origin may be tried.
func dialOrigin(dialer *fasthttp.TCPDialer, addr string, connect, firstByte time.Duration, tlsConfig *tls.Config) (net.Conn, error) {
	c, err := dialer.DialTimeout(addr, connect)
	if err != nil {
		return nil, err
	}
	raw := &originConn{Conn: c, firstByte: firstByte, peek: newPeeker(c)}
	var conn net.Conn = raw
	if tlsConfig != nil {
		tc := tls.Client(conn, tlsConfig)
		tc.SetDeadline(time.Now().Add(connect))
		if err := tc.Handshake(); err != nil {
			c.Close()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, fasthttp.ErrDialTimeout
			}
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: c.RemoteAddr(), Err: err}
		}
		tc.SetDeadline(time.Time{})
		conn = tc
	}
	g := newOriginGuard(conn)
	g.raw = raw
	return g, nil
}

// retryIfErr decides which failed attempts fasthttp may repeat. A stale
// pooled connection is retried whatever the method: nothing was sent. An
// idempotent request is retried once more when the origin closed the
// connection before answering. Anything else (a timeout, a reset mid-body,
// a refused connection) is the origin failing and is reported as such, not
// hidden by a retry; pool.do handles moving to another origin.
func retryIfErr(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if errors.Is(err, errStaleConn) {
		return false, true
	}
	if attempts > 1 || !(req.Header.IsGet() || req.Header.IsHead() || req.Header.IsOptions()) {
		return false, false
	}
	return false, errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed)
}

// errNoOrigin is returned when health leaves no origin to try.
var errNoOrigin = errors.New("proxy: no origin available")

// do sends req to an origin health allows, starting with the next in turn,
// reports each attempt to health, and returns the index of the origin that
// answered. Only a failure to connect moves on to another origin: then the
// request was never sent, so trying elsewhere is safe for any method.
func (p *pool) do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, h *health.Site) (int, error) {
	start := p.next.Add(1)
	err := errNoOrigin
	var tried uint64
	for {
		i := h.Pick(start, tried)
		if i < 0 {
			break
		}
		tried |= 1 << i
		o := p.origins[i]
		req.URI().SetSchemeBytes(o.scheme) // fasthttp checks it against the client's IsTLS
		t0 := time.Now()
		err = o.exchange(req, resp, deadline)
		if r, ok := refusalOf(err); ok {
			o.refused(p.site, p.refusals, r, err)
		}
		r, ok := healthResult(err, resp, time.Since(t0))
		if ok && !r.Failed && p.failurePage(resp) { // soft.go
			r.Failed, r.Reason, err = true, "failure-marker", errFailureMarker
		}
		if ok {
			h.Report(i, r)
			if p.latency != nil && (err == nil || !isConnectError(err)) {
				p.latency.observe(r.Latency)
			}
		}
		if !ok || !r.Failed || !retryElsewhere(req, err) || time.Until(deadline) <= 0 {
			return i, err
		}
	}
	return -1, err
}

// retryElsewhere reports whether a failed attempt may be repeated on
// another origin. A connection that could not be opened carried nothing, so
// any method may. An idempotent request may also move on after a failure
// status or a broken connection, as nginx's proxy_next_upstream does for
// error: a shopper gets the healthy origin's page instead of the outage
// page. Never after a timeout: that would make the shopper wait twice.
func retryElsewhere(req *fasthttp.Request, err error) bool {
	if err != nil && isConnectError(err) {
		return true
	}
	if !req.Header.IsGet() && !req.Header.IsHead() {
		return false
	}
	return err == nil || failureReason(err) != "timeout"
}

// healthResult says what an exchange tells about the origin's health; ok
// is false when it tells nothing (Awning's own limits were hit).
func healthResult(err error, resp *fasthttp.Response, latency time.Duration) (health.Result, bool) {
	switch {
	case err == nil && isFailureStatus(resp.StatusCode()):
		return health.Result{Failed: true, Reason: "status " + strconv.Itoa(resp.StatusCode()), Latency: latency}, true
	case err == nil:
		return health.Result{Latency: latency}, true
	case errors.Is(err, fasthttp.ErrBodyTooLarge), errors.Is(err, fasthttp.ErrNoFreeConns):
		return health.Result{}, false
	}
	return health.Result{Failed: true, Reason: failureReason(err), Latency: latency}, true
}

// probe sends a health probe to origin i with the Host header host.
func (p *pool) probe(ctx context.Context, i int, method, path string, host string) (int, []byte, error) {
	return p.origins[i].Probe(ctx, method, path, host)
}

// exchange sends req to o and reads its answer. A pooled connection the
// origin closed while idle is found before anything is sent on it
// (errStaleConn) and fasthttp tries another, but each such try counts
// against its attempts. After a quiet spell longer than the origin's
// keep-alive timeout (5 s for Node.js and Apache) every pooled connection is
// stale, and a busy site has dozens: the attempts would run out on them and
// a healthy origin be reported failing. So when they ran out on stale
// connections, the rest of the idle pool (as old as them) is dropped and the
// request sent once more, on a new connection.
//
// Every check on what an origin sends ends here: the connection's guard
// (originresp.go) reports the answer's framing and checkAnswer its body;
// the caller counts and logs what they refuse (origin.refused), once per
// exchange, for the site it asked for.
func (o *origin) exchange(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	err := o.client.DoDeadline(req, resp, deadline)
	if errors.Is(err, errStaleConn) {
		o.client.CloseIdleConnections()
		err = o.client.DoDeadline(req, resp, deadline)
	}
	if err != nil {
		// fasthttp closed the connection: its guard is ours alone to read.
		if g := guardOf(resp); g != nil && g.bad != nil {
			err = g.bad
		}
	} else {
		err = o.checkAnswer(resp)
	}
	return err
}

// isConnectError reports whether err happened before anything was sent.
func isConnectError(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, fasthttp.ErrNoFreeConns) {
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
	case errors.Is(err, fasthttp.ErrDialTimeout):
		return "connect-timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "too-large"
	case errors.As(err, &small):
		return "header-too-large"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
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

// originConn wraps every connection to an origin for two jobs fasthttp does
// not do:
//
//   - Before a request goes out on a reused connection, it checks that the
//     origin has not closed it meanwhile (a crashed or restarted origin
//     leaves its pooled connections dead). A write to such a connection
//     would succeed and the answer would be EOF, after which a POST cannot
//     be safely retried; found first, it can.
//   - It bounds the wait for the first byte of each answer
//     (origin.first_byte_timeout) more tightly than fasthttp's deadline for
//     the whole exchange: the first read after a request uses the earlier
//     of the two, and fasthttp's deadline is restored once a byte arrived.
//     Not for an order (any method but GET and HEAD): it has
//     origin.write_timeout for the whole exchange, a checkout is worth the
//     wait (issue 17). The guard above TLS sees the request line and sets
//     order before the request's bytes reach this connection.
//
// fasthttp uses a connection from one goroutine at a time, so no locking.
type originConn struct {
	net.Conn
	firstByte time.Duration // 0: no first-byte bound
	deadline  time.Time     // the read deadline fasthttp asked for
	waiting   bool          // a request was written and no byte has come back
	used      bool          // an answer was read: the next write reuses the connection
	order     bool          // the request being sent is not a GET or HEAD: no first-byte bound
	peek      *peeker
}

func (c *originConn) Write(b []byte) (int, error) {
	if c.used {
		c.used = false
		if !c.alive() {
			return 0, errStaleConn
		}
	}
	c.waiting = true
	return c.Conn.Write(b)
}

// alive reports whether the origin still holds the idle connection open.
func (c *originConn) alive() bool { return c.peek.check() }

func (c *originConn) SetReadDeadline(t time.Time) error {
	c.deadline = t
	return c.Conn.SetReadDeadline(t)
}

func (c *originConn) Read(b []byte) (int, error) {
	if c.waiting && c.firstByte > 0 && !c.order {
		c.waiting = false
		fb := time.Now().Add(c.firstByte)
		if c.deadline.IsZero() || fb.Before(c.deadline) {
			if err := c.Conn.SetReadDeadline(fb); err != nil {
				return 0, err
			}
			n, err := c.Conn.Read(b)
			if n > 0 {
				c.used = true
				if derr := c.Conn.SetReadDeadline(c.deadline); derr != nil && err == nil {
					err = derr
				}
			}
			return n, err
		}
	}
	c.waiting = false
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.used = true
	}
	return n, err
}
