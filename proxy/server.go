package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/sites"
	"github.com/valyala/fasthttp"
)

// Options is what a Server is built from. Update takes the same shape.
type Options struct {
	// Config is the loaded configuration. Required.
	Config *config.Config
	// Sites is the routing table built from Config. Required.
	Sites *sites.Registry
	// Logger receives the server's log. Default: slog.Default().
	Logger *slog.Logger
	// Plain configures listen.http when the node also serves HTTPS (see
	// ServePlain). Fixed at New; Update ignores it.
	Plain *PlainOptions
}

// Server is the shopper-facing HTTP server: it routes each request to its
// site and forwards it to the site's origin. It is safe for concurrent use;
// Update swaps in a new configuration while requests are in flight.
type Server struct {
	log    *slog.Logger
	http   *fasthttp.Server
	plain  *plainServer // nil unless Options.Plain
	dialer *fasthttp.TCPDialer
	snap   atomic.Pointer[snapshot]
}

// snapshot is everything the request path reads, built once per config and
// swapped in whole, so that a request sees one consistent configuration.
type snapshot struct {
	sites   *sites.Registry
	states  []*siteState // by sites.Site.Index
	trusted trustList
}

// siteState is the per-site part of a snapshot.
type siteState struct {
	site       *sites.Site
	pool       *pool
	hostHeader []byte // origin.host_header; nil passes the shop's host
	timeout    time.Duration
	apiPaths   [][]byte
	outage     outageAnswers
	hsts       []byte // Strict-Transport-Security on HTTPS answers; nil for none
}

// New builds a Server. It does not listen; see Serve.
func New(opt Options) (*Server, error) {
	if opt.Config == nil || opt.Sites == nil {
		return nil, errors.New("proxy: Options.Config and Options.Sites are required")
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		log: log,
		dialer: &fasthttp.TCPDialer{
			Concurrency:      1000,
			DNSCacheDuration: time.Minute,
		},
	}
	s.http = s.newHTTPServer(s.handle, opt.Config.Limits)
	if opt.Plain != nil {
		s.newPlain(*opt.Plain, opt.Config.Limits)
	}
	if err := s.Update(opt); err != nil {
		return nil, err
	}
	return s, nil
}

// Update swaps in a new configuration. Requests in flight finish with the
// one they started with. Limits (header and body sizes) are fixed at New:
// they size connection buffers, and change only on restart.
func (s *Server) Update(opt Options) error {
	snap, err := s.build(opt)
	if err != nil {
		return err
	}
	old := s.snap.Swap(snap)
	if old != nil {
		for _, st := range old.states {
			st.pool.closeIdle()
		}
	}
	return nil
}

func (s *Server) build(opt Options) (*snapshot, error) {
	cfg := opt.Config
	snap := &snapshot{sites: opt.Sites}
	for _, p := range cfg.TrustedProxies {
		snap.trusted = append(snap.trusted, p.Prefix)
	}
	po := poolOptions{
		responseBody:   int(cfg.Limits.ResponseBody),
		responseHeader: int(cfg.Limits.ResponseHeader),
		dialer:         s.dialer,
	}
	for _, site := range opt.Sites.All() {
		sc := site.Config
		p, err := newPool(&sc.Origin, po)
		if err != nil {
			return nil, fmt.Errorf("site %q: %w", site.Name, err)
		}
		st := &siteState{
			site:    site,
			pool:    p,
			timeout: sc.Origin.Timeout.D(),
			outage:  newOutageAnswers(pages.PlainOutage(sc.Page.Brand, sc.Page.Languages)),
		}
		if sc.Origin.HostHeader != "" {
			st.hostHeader = []byte(sc.Origin.HostHeader)
		}
		if v := sc.HSTS.Header(); v != "" {
			st.hsts = []byte(v)
		}
		for _, ap := range sc.APIPaths {
			st.apiPaths = append(st.apiPaths, []byte(ap))
		}
		snap.states = append(snap.states, st)
	}
	return snap, nil
}

// Serve accepts shoppers' connections on ln until Shutdown. ln may be a TLS
// listener: the framing guard wraps the decrypted connection.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(guardListener{ln})
}

// newHTTPServer returns a fasthttp server with Awning's limits and
// timeouts, for the shoppers' listeners.
func (s *Server) newHTTPServer(h fasthttp.RequestHandler, lim config.Limits) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      h,
		ErrorHandler:                 parseError,
		Logger:                       fasthttpLogger{s.log},
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		ReadBufferSize:               int(lim.RequestHeader),
		MaxRequestBodySize:           int(lim.RequestBody),
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 60 * time.Second,
		IdleTimeout:                  75 * time.Second,
		TCPKeepalive:                 true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		SecureErrorLogMessage:        true,
	}
}

// Shutdown stops accepting connections, closes idle ones, and waits for
// requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.plain != nil {
		if err := s.plain.http.ShutdownWithContext(ctx); err != nil {
			s.http.ShutdownWithContext(ctx)
			return err
		}
	}
	return s.http.ShutdownWithContext(ctx)
}

// Handler returns the request handler, for tests and benchmarks that drive
// the server without a listener (fasthttputil.InmemoryListener).
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// fasthttpLogger sends fasthttp's connection-level messages (client resets,
// parse errors) to the debug log: they are per-connection noise at info.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
	}
}
