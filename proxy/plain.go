package proxy

import (
	"net"
	"strconv"
	"sync/atomic"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/sites"
	"github.com/valyala/fasthttp"
)

// PlainOptions configure listen.http on a node that also serves HTTPS.
// Without them (tls.mode off) listen.http serves shoppers like any
// listener.
type PlainOptions struct {
	// Challenge answers ACME HTTP-01 challenge requests and reports whether
	// it did (tls/certs). It is called only for hosts a site claims, so an
	// unknown host never causes a storage read or ACME traffic. Default
	// nil: no challenges (self-signed mode).
	Challenge func(*fasthttp.RequestCtx) bool
	// Redirect answers every other request for a known host with 308 to
	// the same path and query over HTTPS. When false such requests are
	// served as on the HTTPS listener (the demo keeps plain HTTP working).
	Redirect bool
	// HTTPSPort is the port redirects point to; 443 is left out of the URL.
	// Default 443.
	HTTPSPort int
}

// plainServer is the fasthttp server of listen.http when HTTPS is on. It
// shares the proxy's snapshot and limits; only its handler differs.
type plainServer struct {
	http *fasthttp.Server
	opt  PlainOptions
	port atomic.Pointer[[]byte] // ":8443", or empty for 443
}

var (
	vRedirect   = []byte("redirect")
	httpsScheme = []byte("https://")
)

func (s *Server) newPlain(opt PlainOptions, lim config.Limits) {
	p := &plainServer{opt: opt, http: s.newHTTPServer(s.handlePlain, lim)}
	s.plain = p
	s.SetHTTPSPort(opt.HTTPSPort)
}

// SetHTTPSPort changes the port redirects point to, for a node that learns
// it only once listening (port 0 in tests).
func (s *Server) SetHTTPSPort(port int) {
	if s.plain == nil {
		return
	}
	var b []byte
	if port != 0 && port != 443 {
		b = []byte(":" + strconv.Itoa(port))
	}
	s.plain.port.Store(&b)
}

// ServePlain accepts plain-HTTP connections on ln for a node that serves
// HTTPS: ACME challenges, redirects to HTTPS, and 421 for unknown hosts.
// It requires Options.Plain.
func (s *Server) ServePlain(ln net.Listener) error {
	if s.plain == nil {
		return s.Serve(ln)
	}
	return s.plain.http.Serve(guardListener{ln})
}

// handlePlain answers a plain-HTTP request: an unknown host gets the
// neutral 421 before anything else; an ACME challenge is answered; every
// other request is redirected to HTTPS (or served, without Redirect).
func (s *Server) handlePlain(ctx *fasthttp.RequestCtx) {
	p := s.plain
	snap := s.snap.Load()
	st := snap.site(ctx.Host())
	if st == nil {
		s.misdirected.Add(1)
		misdirectedAnswer.write(ctx)
		if snap.accessLog {
			s.logAccess(ctx, nil)
		}
		return
	}
	if p.opt.Challenge != nil && p.opt.Challenge(ctx) {
		st.served.answered(OutcomeOwn)
		if snap.accessLog {
			s.logAccess(ctx, st)
		}
		return
	}
	if !p.opt.Redirect {
		s.handle(ctx)
		return
	}
	st.served.answered(OutcomeRedirect)
	if snap.accessLog {
		defer s.logAccess(ctx, st)
	}
	var buf [sites.MaxHostLen + 8]byte
	host, _ := sites.AppendCanonical(buf[:0], ctx.Host()) // valid: Lookup found a site
	var lbuf [512]byte
	loc := append(lbuf[:0], httpsScheme...)
	if len(host) > 0 && host[len(host)-1] != ']' && bytesHasColon(host) { // an IPv6 literal
		loc = append(append(append(loc, '['), host...), ']')
	} else {
		loc = append(loc, host...)
	}
	loc = append(loc, *p.port.Load()...)
	loc = append(loc, ctx.URI().RequestURI()...)
	r := &ctx.Response
	r.SetStatusCode(fasthttp.StatusPermanentRedirect)
	r.Header.SetBytesKV(hLocation, loc)
	r.Header.SetBytesKV(hAwningServed, vRedirect)
	r.Header.SetContentTypeBytes(ctText)
	r.SetBodyRaw(nil)
}

var hLocation = []byte("Location")

func bytesHasColon(b []byte) bool {
	for _, c := range b {
		if c == ':' {
			return true
		}
	}
	return false
}

// setHSTS sets a site's Strict-Transport-Security on an HTTPS answer,
// replacing any the origin sent.
func setHSTS(h *fasthttp.ResponseHeader, v []byte) {
	h.DelBytes(hSTS)
	h.SetBytesKV(hSTS, v)
}

var hSTS = []byte("Strict-Transport-Security")

// HTTPSPort returns the port redirects point to (443 when none is named).
func (s *Server) HTTPSPort() int {
	if s.plain == nil {
		return 443
	}
	p := *s.plain.port.Load()
	if len(p) == 0 {
		return 443
	}
	n, _ := strconv.Atoi(string(p[1:]))
	return n
}
