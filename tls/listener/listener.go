package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Options.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxHandshakes    = 256
)

// Options configure a Listener.
type Options struct {
	// TLS is the server configuration (see ServerConfig). Required.
	TLS *tls.Config
	// HandshakeTimeout bounds the time from accept to a finished
	// handshake, waiting in the queue included. Default
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the handshakes in progress at once. Default
	// DefaultMaxHandshakes.
	MaxHandshakes int
	// Queue bounds the accepted connections waiting for a handshake slot.
	// Default 4 × MaxHandshakes.
	Queue int
	// Logger receives accept errors. Handshake failures are counted, not
	// logged: they are per-connection noise (scanners, old clients).
	// Default slog.Default().
	Logger *slog.Logger
}

// Stats are a Listener's counters since New.
type Stats struct {
	Accepted   uint64 // TCP connections accepted
	Handshakes uint64 // handshakes completed (resumed ones included)
	Resumed    uint64 // handshakes that resumed a session
	Failed     uint64 // handshakes that failed (bad client, no certificate, timeout)
	TimedOut   uint64 // of Failed: the deadline passed, waiting or shaking hands
	Challenges uint64 // acme-tls/1 validations answered and closed
	HTTP2      uint64 // of Handshakes: connections that agreed on h2
	InProgress int64  // handshakes running now
	Waiting    int64  // accepted connections waiting for a slot now
}

type counters struct {
	accepted, handshakes, resumed, failed, timedOut, challenges, h2 atomic.Uint64
	inProgress, waiting                                             atomic.Int64
}

// Listener accepts TCP connections from an inner listener and returns them
// as *tls.Conn with the handshake done: from Accept those that agreed on
// http/1.1 (or on nothing), from HTTP2's listener those that agreed on h2.
// Serve both when the tls.Config offers h2 (NextProtos does). It is safe for
// concurrent use. Close stops its goroutines and waits for them.
type Listener struct {
	inner   net.Listener
	cfg     *tls.Config
	timeout time.Duration
	log     *slog.Logger

	slots chan struct{} // handshakes in progress
	room  chan struct{} // connections accepted and not yet handed on
	ready chan net.Conn
	h2    chan net.Conn // connections that agreed on h2, for HTTP2
	fatal chan error    // a permanent accept error, for Accept

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	c      counters
}

// New starts accepting on inner.
func New(inner net.Listener, opt Options) *Listener {
	if opt.HandshakeTimeout <= 0 {
		opt.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opt.MaxHandshakes <= 0 {
		opt.MaxHandshakes = DefaultMaxHandshakes
	}
	if opt.Queue <= 0 {
		opt.Queue = 4 * opt.MaxHandshakes
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		inner:   inner,
		cfg:     opt.TLS,
		timeout: opt.HandshakeTimeout,
		log:     opt.Logger,
		slots:   make(chan struct{}, opt.MaxHandshakes),
		room:    make(chan struct{}, opt.MaxHandshakes+opt.Queue),
		ready:   make(chan net.Conn),
		h2:      make(chan net.Conn),
		fatal:   make(chan error, 1),
		ctx:     ctx,
		cancel:  cancel,
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next connection whose handshake is done.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.fatal:
		return nil, err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// HTTP2 returns the listener of the connections that agreed on h2, for an
// HTTP/2 server. Its Close closes l.
func (l *Listener) HTTP2() net.Listener { return h2Listener{l} }

type h2Listener struct{ l *Listener }

func (h h2Listener) Accept() (net.Conn, error) {
	select {
	case c := <-h.l.h2:
		return c, nil
	case <-h.l.ctx.Done():
		return nil, net.ErrClosed
	}
}

func (h h2Listener) Close() error   { return h.l.Close() }
func (h h2Listener) Addr() net.Addr { return h.l.Addr() }

// Close stops accepting, closes connections still waiting or shaking hands,
// and waits for the Listener's goroutines.
func (l *Listener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.inner.Close()
		l.wg.Wait()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Stats returns the counters.
func (l *Listener) Stats() Stats {
	return Stats{
		Accepted:   l.c.accepted.Load(),
		Handshakes: l.c.handshakes.Load(),
		Resumed:    l.c.resumed.Load(),
		Failed:     l.c.failed.Load(),
		TimedOut:   l.c.timedOut.Load(),
		Challenges: l.c.challenges.Load(),
		HTTP2:      l.c.h2.Load(),
		InProgress: l.c.inProgress.Load(),
		Waiting:    l.c.waiting.Load(),
	}
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		select { // room for one more, or the kernel's queue holds it
		case l.room <- struct{}{}:
		case <-l.ctx.Done():
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			<-l.room
			if l.ctx.Err() != nil {
				return
			}
			if isTemporary(err) { // EMFILE and friends: wait, as net/http does
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.log.Warn("TLS listener: accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
				case <-l.ctx.Done():
					return
				}
				continue
			}
			l.fatal <- err
			return
		}
		backoff = 0
		l.c.accepted.Add(1)
		l.wg.Add(1)
		go l.handshake(c, time.Now().Add(l.timeout))
	}
}

func isTemporary(err error) bool {
	var ne interface{ Temporary() bool }
	return errors.As(err, &ne) && ne.Temporary()
}

// handshake waits for a slot and shakes hands with raw, all before
// deadline, then hands the connection to Accept.
func (l *Listener) handshake(raw net.Conn, deadline time.Time) {
	defer l.wg.Done()
	defer func() { <-l.room }()
	defer func() {
		if r := recover(); r != nil {
			raw.Close()
			buf := make([]byte, 4<<10)
			l.log.Error("TLS listener: handshake panicked", "panic", r, "stack", string(buf[:runtime.Stack(buf, false)]))
		}
	}()
	ctx, cancel := context.WithDeadline(l.ctx, deadline)
	defer cancel()

	l.c.waiting.Add(1)
	select {
	case l.slots <- struct{}{}:
		l.c.waiting.Add(-1)
	case <-ctx.Done():
		l.c.waiting.Add(-1)
		l.fail(raw, deadline)
		return
	}
	l.c.inProgress.Add(1)
	raw.SetDeadline(deadline)
	tc := tls.Server(raw, l.cfg)
	err := tc.HandshakeContext(ctx)
	l.c.inProgress.Add(-1)
	<-l.slots
	if err != nil {
		l.fail(tc, deadline)
		return
	}
	st := tc.ConnectionState()
	if st.NegotiatedProtocol == ACMETLS1 {
		// The CA saw the challenge certificate; there is no HTTP to serve.
		l.c.challenges.Add(1)
		tc.Close()
		return
	}
	l.c.handshakes.Add(1)
	if st.DidResume {
		l.c.resumed.Add(1)
	}
	raw.SetDeadline(time.Time{})
	// Dispatch on the protocol agreed: h2 to Go's HTTP/2 server, the rest
	// to the HTTP/1.1 server, whose path stays as it was.
	ready := l.ready
	if st.NegotiatedProtocol == H2 {
		l.c.h2.Add(1)
		ready = l.h2
	}
	select {
	case ready <- tc:
	case <-l.ctx.Done():
		tc.Close()
	}
}

func (l *Listener) fail(c net.Conn, deadline time.Time) {
	if l.ctx.Err() == nil { // closing is not failing
		l.c.failed.Add(1)
		if !time.Now().Before(deadline) {
			l.c.timedOut.Add(1)
		}
	}
	c.Close()
}
