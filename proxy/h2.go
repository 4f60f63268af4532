package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/valyala/fasthttp"
)

// protocols holds the HTTP/2 and HTTP/3 servers, which hand their requests
// to the pipeline through the bridge (bridge.go), and what is counted by
// protocol. HTTP/1.1 stays with fasthttp.
type protocols struct {
	bridge *bridge
	h2     *http.Server
	h3     *http3.Server // nil until EnableHTTP3

	protoRequests [NumProtocols]atomic.Uint64
	altSvc        atomic.Pointer[[]byte] // Alt-Svc on HTTPS answers; nil without HTTP/3
	closing       atomic.Bool            // Shutdown has begun

	connMu  sync.Mutex
	h2Conns map[net.Conn]bool // open HTTP/2 connections
}

var hAltSvc = []byte("Alt-Svc")

// initProtocols builds the HTTP/2 server from the config's http2 keys and
// limits; like limits, they are fixed at New.
func (s *Server) initProtocols(cfg *config.Config) {
	p := &s.protocols
	p.bridge = newBridge(s, int(cfg.Limits.RequestBody))
	p.h2Conns = map[net.Conn]bool{}
	var only http.Protocols
	only.SetHTTP2(true) // the listener hands over h2 connections only
	p.h2 = &http.Server{
		Handler:   p.bridge,
		Protocols: &only,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: cfg.HTTP2.MaxConcurrentStreams,
			// The protocol's default and nginx's: frames a client sends
			// are held whole, so no bigger than they need be.
			MaxReadFrameSize: 16 << 10,
			// A connection that went quiet is checked with a PING, and
			// closed when that goes unanswered.
			SendPingTimeout: cfg.HTTP2.IdleTimeout.D() / 2,
			PingTimeout:     15 * time.Second,
		},
		MaxHeaderBytes: int(cfg.HTTP2.MaxHeaderListSize),
		IdleTimeout:    cfg.HTTP2.IdleTimeout.D(),
		// Per stream, as the HTTP/1.1 server's per request. No
		// ReadTimeout: net/http would arm a timer for every stream, a
		// GET's too; the bridge bounds the reading of a body itself
		// (bodyReadTimeout), only when there is one.
		WriteTimeout: 60 * time.Second,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			var st tls.ConnectionState
			if tc, ok := c.(*tls.Conn); ok {
				st = tc.ConnectionState()
			}
			return connContext(ctx, newBridgeConn(ProtoHTTP2, c.RemoteAddr(), c.LocalAddr(), st))
		},
		ConnState: p.trackH2,
	}
}

func (p *protocols) trackH2(c net.Conn, st http.ConnState) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	switch st {
	case http.StateNew:
		p.h2Conns[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(p.h2Conns, c)
	}
}

// ServeHTTP2 serves HTTP/2 on ln (a tls/listener's HTTP2 listener: every
// connection a *tls.Conn that agreed on h2) until Shutdown.
func (s *Server) ServeHTTP2(ln net.Listener) error {
	s.bridge.runners.start(defaultRunners())
	err := s.protocols.h2.Serve(ln)
	if s.protocols.closing.Load() && (errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed)) {
		return nil // the TLS listener may close before the HTTP/2 server learns of the shutdown
	}
	return err
}

// EnableHTTP3 prepares HTTP/3 with tlsConf, a configuration of its own
// with the HTTPS listener's GetCertificate (session ticket keys set on it
// later apply: each handshake clones it), and makes HTTPS answers
// advertise it on port (Alt-Svc). Call it once, before ServeHTTP3.
//
// 0-RTT is off: a request in early data can be replayed by anyone who
// recorded it, and a shop's requests include orders.
func (s *Server) EnableHTTP3(tlsConf *tls.Config, port int, cfg *config.Config) {
	p := &s.protocols
	p.h3 = &http3.Server{
		Handler:   p.bridge,
		TLSConfig: tlsConf,
		QUICConfig: &quic.Config{
			Allow0RTT:          false,
			MaxIncomingStreams: int64(cfg.HTTP2.MaxConcurrentStreams),
			MaxIdleTimeout:     cfg.HTTP2.IdleTimeout.D(),
		},
		MaxHeaderBytes: int(cfg.HTTP2.MaxHeaderListSize),
		IdleTimeout:    cfg.HTTP2.IdleTimeout.D(),
		Logger:         s.log,
		ConnContext: func(ctx context.Context, c *quic.Conn) context.Context {
			return connContext(ctx, newBridgeConn(ProtoHTTP3, c.RemoteAddr(), c.LocalAddr(), c.ConnectionState().TLS))
		},
	}
	v := []byte(`h3=":` + strconv.Itoa(port) + `"; ma=86400`)
	p.altSvc.Store(&v)
}

// ServeHTTP3 serves HTTP/3 on pc until Shutdown. EnableHTTP3 must have been
// called.
func (s *Server) ServeHTTP3(pc net.PacketConn) error {
	h3 := s.protocols.h3
	if h3 == nil {
		return errors.New("proxy: ServeHTTP3 before EnableHTTP3")
	}
	s.bridge.runners.start(defaultRunners())
	err := h3.Serve(pc)
	if s.protocols.closing.Load() && errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// handleServe is the HTTPS listener's (or, with tls.mode off, the shoppers'
// plain listener's) fasthttp handler: the pipeline, counted as HTTP/1.1,
// with Alt-Svc when HTTP/3 is on.
func (s *Server) handleServe(ctx *fasthttp.RequestCtx) {
	s.protoRequests[ProtoHTTP1].Add(1)
	s.handle(ctx)
	s.setAltSvc(ctx)
}

// setAltSvc advertises HTTP/3 on an HTTPS answer when it is on (RFC 7838).
func (s *Server) setAltSvc(ctx *fasthttp.RequestCtx) {
	if v := s.altSvc.Load(); v != nil {
		ctx.Response.Header.SetCanonical(hAltSvc, *v)
	}
}

// shutdownBridged starts the graceful shutdown of the HTTP/2 and HTTP/3
// servers (GOAWAY, requests in flight finish, until ctx ends) and returns a
// function that waits for it.
func (s *Server) shutdownBridged(ctx context.Context) (wait func() error) {
	p := &s.protocols
	p.closing.Store(true)
	var wg sync.WaitGroup
	var err2, err3 error
	wg.Go(func() { err2 = p.h2.Shutdown(ctx) })
	if p.h3 != nil {
		wg.Go(func() { err3 = p.h3.Shutdown(ctx) })
	}
	return func() error {
		wg.Wait()
		return errors.Join(err2, err3)
	}
}

// ProtocolStats are the shopper requests and open connections of one HTTP
// version on the HTTPS listeners.
type ProtocolStats struct {
	Requests uint64
	// OpenConns is known for HTTP/2 only: fasthttp's count (Stats) holds
	// HTTP/1.1's, and quic-go does not say.
	OpenConns int64
}

// ProtocolStats returns the counters by protocol, indexed by Protocol.
func (s *Server) ProtocolStats() [NumProtocols]ProtocolStats {
	var out [NumProtocols]ProtocolStats
	for i := range out {
		out[i].Requests = s.protoRequests[i].Load()
	}
	s.connMu.Lock()
	out[ProtoHTTP2].OpenConns = int64(len(s.h2Conns))
	s.connMu.Unlock()
	return out
}
