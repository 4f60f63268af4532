package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// originConns is the pool of connections to one origin URL: idle ones kept
// for reuse, the most recently used first (the one least likely to have
// been closed by the origin's keep-alive timeout), at most max open at
// once. It is Awning's own rather than fasthttp's HostClient because the
// request path needs what HostClient hides: the connection itself, whose
// read deadline races the origin against fallback_after without a
// goroutine or a timer per request, and which a site's origin being
// declared down can cut short (release).
//
// It is safe for concurrent use; a connection taken from it belongs to one
// exchange until it is put back or closed.
type originConns struct {
	addr    string
	tls     *tls.Config // nil for http origins
	connect time.Duration
	limits  answerLimits

	mu   sync.Mutex
	idle []*originConn // most recently used last
	// all holds every open connection, idle or busy: what release cuts
	// short and closeAll closes.
	all    []*originConn
	open   int // connections open or being dialed
	max    int
	wait   chan struct{} // one token per connection freed while others wait
	waits  int           // exchanges waiting for a connection
	closed bool
	// down ends with the next release: dials in progress give up with it.
	down       context.Context
	cancelDown context.CancelFunc
}

// idleFor is how long an idle connection is kept: origins close theirs
// sooner or later (5 s for Node.js and Apache, 75 s for nginx), and one
// reused after that fails its first exchange.
const idleFor = 30 * time.Second

func newOriginConns(addr string, tlsConfig *tls.Config, connect time.Duration, max int) *originConns {
	p := &originConns{addr: addr, tls: tlsConfig, connect: connect, max: max, wait: make(chan struct{}, 1)}
	p.down, p.cancelDown = context.WithCancel(context.Background())
	return p
}

// originConn is one connection to an origin. Its fields other than busy,
// released and lastUsed belong to the exchange that holds it.
type originConn struct {
	net.Conn
	pool *originConns
	peek *peeker
	raw  *rawTCP // Conn, when it makes its system calls directly (rawio_linux.go)
	// used: the connection carried an exchange, so the next one reuses it.
	used bool
	// rdl and wdl are the read and write deadlines set on the connection,
	// so that an unchanged one is not set again.
	rdl, wdl time.Time
	// released is set when the site's origin was declared down while the
	// connection was busy: its deadline was moved to now (see release).
	released atomic.Bool
	busy     bool  // guarded by pool.mu
	owner    *pool // the site pool whose exchange holds it; guarded by pool.mu
	lastUsed int64 // unix nanos it went idle; guarded by pool.mu
	probe    [1]byte
}

// errNoFreeConns: max_conns connections to the origin are busy and none
// was freed within connect_timeout.
var errNoFreeConns = errors.New("proxy: no free connection to the origin")

// get returns an idle connection, or dials a new one when there is none
// (or fresh is set), waiting for one to be freed when max_conns are open,
// at most until deadline. reused says whether the connection carried an
// exchange before.
func (p *originConns) get(fresh bool, deadline time.Time, down <-chan struct{}, owner *pool) (c *originConn, reused bool, err error) {
	now := time.Now()
	p.mu.Lock()
	// A closed pool (its configuration was replaced) still serves the
	// exchanges already routed to it, on connections it does not keep:
	// a reload must not turn a request in flight into an outage page.
	for {
		if !fresh {
			if c = p.popIdleLocked(now); c != nil {
				c.busy, c.owner = true, owner
				p.mu.Unlock()
				return c, true, nil
			}
		}
		if p.open < p.max {
			break
		}
		if fresh && len(p.idle) > 0 {
			// Make room for the fresh connection: an idle one is at least
			// as old as the one that just failed.
			p.closeIdleLocked(1)
			continue
		}
		// Every connection is busy: wait for one, at most connect_timeout.
		p.waits++
		p.mu.Unlock()
		werr := p.waitFree(earliest(deadline, now.Add(p.connect)), down)
		p.mu.Lock()
		p.waits--
		if werr != nil {
			p.mu.Unlock()
			return nil, false, werr
		}
		now = time.Now()
	}
	p.open++
	ctx := p.down
	p.mu.Unlock()
	c, err = p.dial(ctx, earliest(deadline, now.Add(p.connect)))
	p.mu.Lock()
	if err != nil {
		p.open--
		p.freedLocked()
		p.mu.Unlock()
		return nil, false, err
	}
	c.busy, c.owner = true, owner
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c, false, nil
}

// popIdleLocked takes the most recently used idle connection, closing
// those idle longer than idleFor (and so every older one).
func (p *originConns) popIdleLocked(now time.Time) *originConn {
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	c := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	if now.UnixNano()-c.lastUsed > int64(idleFor) {
		p.closeIdleLocked(len(p.idle))
		p.closeLocked(c)
		return nil
	}
	return c
}

// waitFree waits until a connection is freed, the deadline passes or the
// origin is declared down. It is the slow path, taken only when every
// connection to the origin is busy.
func (p *originConns) waitFree(deadline time.Time, down <-chan struct{}) error {
	t := acquireTimer(time.Until(deadline))
	defer releaseTimer(t)
	select {
	case <-p.wait:
		return nil
	case <-t.C:
		return errNoFreeConns
	case <-down:
		return errReleased
	}
}

// freedLocked lets one waiter know a connection (or room for one) is free.
func (p *originConns) freedLocked() {
	if p.waits > 0 {
		select {
		case p.wait <- struct{}{}:
		default:
		}
	}
}

// dial opens a connection to the origin: TCP, and the TLS handshake of an
// https origin, within the deadline or until the origin is declared down.
// A failed handshake is reported as a failure to connect: nothing was
// sent, so another origin may be tried.
func (p *originConns) dial(ctx context.Context, deadline time.Time) (*originConn, error) {
	d := net.Dialer{Deadline: deadline}
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errReleased
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, errDialTimeout
		}
		return nil, err
	}
	c := &originConn{Conn: nc, pool: p, peek: newPeeker(nc)}
	if r := newRawTCP(nc); r != nil {
		c.Conn, c.raw = r, r
	}
	if p.tls != nil {
		tc := tls.Client(c.Conn, p.tls)
		tc.SetDeadline(deadline)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, errDialTimeout
			}
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: nc.RemoteAddr(), Err: err}
		}
		c.Conn, c.raw = tc, nil
		c.rdl, c.wdl = deadline, deadline
	}
	return c, nil
}

// errDialTimeout: no connection to the origin within connect_timeout.
var errDialTimeout = errors.New("proxy: connecting to the origin timed out")

// put gives a connection back after an exchange that left it clean (a
// complete answer, nothing after it): the next exchange may reuse it.
func (p *originConns) put(c *originConn) {
	c.used = true
	p.mu.Lock()
	// An idle connection holds no site: one removed by a reload must not
	// live on in the origin it shared with others.
	c.busy, c.owner = false, nil
	if p.closed || c.released.Load() {
		p.closeLocked(c)
		p.mu.Unlock()
		return
	}
	c.lastUsed = time.Now().UnixNano()
	p.idle = append(p.idle, c)
	p.freedLocked()
	p.mu.Unlock()
}

// discard closes a connection that must not carry another exchange.
func (p *originConns) discard(c *originConn) {
	p.mu.Lock()
	p.closeLocked(c)
	p.mu.Unlock()
}

func (p *originConns) closeLocked(c *originConn) {
	c.Conn.Close()
	c.busy, c.owner = false, nil
	for i, x := range p.all {
		if x == c {
			last := len(p.all) - 1
			p.all[i], p.all[last] = p.all[last], nil
			p.all = p.all[:last]
			p.open--
			break
		}
	}
	p.freedLocked()
}

// closeIdleLocked closes the n least recently used idle connections.
func (p *originConns) closeIdleLocked(n int) {
	n = min(n, len(p.idle))
	for _, c := range p.idle[:n] {
		p.closeLocked(c)
	}
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
}

// closeIdle closes every idle connection.
func (p *originConns) closeIdle() {
	p.mu.Lock()
	p.closeIdleLocked(len(p.idle))
	p.mu.Unlock()
}

// sweep closes connections idle longer than idleFor.
func (p *originConns) sweep(now time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.UnixNano()-p.idle[n].lastUsed > int64(idleFor) {
		n++
	}
	p.closeIdleLocked(n)
	p.mu.Unlock()
}

// close closes the idle connections and keeps busy ones from going back
// to the pool: the configuration they belong to was replaced. Exchanges
// already routed to the pool still get connections (get), closed after
// their one exchange.
func (p *originConns) close() {
	p.mu.Lock()
	p.closed = true
	p.closeIdleLocked(len(p.idle))
	p.mu.Unlock()
}

// release cuts short every exchange in progress on the pool for owner's
// site: its origin was declared down, and a shopper waiting on it gets the
// copy or the outage page now, not when the origin timeout runs out. Each
// such busy connection is marked, so that its exchange knows why it ended,
// and its deadlines moved to now. Dials in progress give up, whichever
// site they are for (the origin is shared, and was just found down).
func (p *originConns) release(owner *pool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.all {
		if c.busy && c.owner == owner {
			c.released.Store(true)
			c.Conn.SetDeadline(aLongTimeAgo)
		}
	}
	p.cancelDown()
	p.down, p.cancelDown = context.WithCancel(context.Background())
}

// aLongTimeAgo is a deadline that has passed: setting it makes a blocked
// read or write return at once.
var aLongTimeAgo = time.Unix(1, 0)

// errReleased: the exchange was cut short because the site's origin was
// declared down while it waited (release).
var errReleased = errors.New("proxy: the origin was declared down")

// setReadDeadline sets the connection's read deadline unless it is
// already t.
func (c *originConn) setReadDeadline(t time.Time) error {
	if t.Equal(c.rdl) {
		return nil
	}
	c.rdl = t
	return c.Conn.SetReadDeadline(t)
}

func (c *originConn) setWriteDeadline(t time.Time) error {
	if t.Equal(c.wdl) {
		return nil
	}
	c.wdl = t
	return c.Conn.SetWriteDeadline(t)
}

// idleState is what an idle connection holds when an exchange takes it.
type idleState uint8

const (
	idleQuiet  idleState = iota // nothing: fit for the next request
	idleBytes                   // bytes no request asked for
	idleClosed                  // the origin closed it, or it failed
)

// idle says whether an idle connection is fit for the next request: the
// origin still holds it open and sent nothing on it since its last answer
// was whole. Bytes that came meanwhile answer no request (a second answer
// to the last one, the body of an answer to HEAD or of a 204, the rest of
// a body longer than its Content-Length, a 408 written when the origin
// timed the connection out); read as the next request's answer, one
// shopper would get what was meant for another.
func (c *originConn) idle() idleState {
	if tc, ok := c.Conn.(*tls.Conn); ok {
		// A TLS connection reads ahead: records that came behind the
		// last answer's (a second answer sent with it) may wait inside it,
		// read from the socket already, where the peek cannot see them.
		// A read whose deadline has passed hands out what it holds, or
		// fails at once without touching the socket: a timeout leaves
		// the connection usable (crypto/tls keeps only permanent errors).
		c.rdl = aLongTimeAgo
		if tc.SetReadDeadline(aLongTimeAgo) != nil {
			return idleClosed
		}
		n, err := tc.Read(c.probe[:])
		if n > 0 {
			return idleBytes
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return idleClosed // the origin's close_notify, or a failure
		}
	}
	st := c.peek.check()
	if st == idleBytes && c.raw == nil {
		// Under TLS the bytes may be a record or the origin's
		// close_notify: the peek does not tell which. Either way the
		// connection is not taken.
		return idleClosed
	}
	return st
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
