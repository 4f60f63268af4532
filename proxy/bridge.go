package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awningproxy/awning/sites"
	"github.com/valyala/fasthttp"
)

// The bridge: HTTP/2 (Go's net/http server) and HTTP/3 (quic-go's http3
// server) hand each request to the one fasthttp pipeline, handle, through a
// pooled RequestCtx, so that routing, maintenance, fallback and header rules
// exist once. What the pipeline reads is filled in from the *http.Request:
// Host from :authority, method, request target, header fields, body; the
// shopper's address and TLS come from the connection (bridgeConn), so
// clientip, X-Forwarded-Proto and HSTS see what they see over HTTP/1.1. The
// pipeline's answer is written back from ctx.Response: status, headers
// (less hop-by-hop ones, which HTTP/2 and HTTP/3 forbid) and body.
//
// Where gofiber's adaptor copies, this does not: it takes a RequestCtx from
// a pool rather than making one per request and copying a Request into it
// (RequestCtx.Init), reads the body once into a buffer the pooled context
// keeps, parses the peer address once per connection rather than per
// request, adds every value of a repeated header (the adaptor sets the last
// one only), and writes the response body from the pipeline's own buffer.
// Header names and values become strings through an intern table (intern.go),
// so an answer the pipeline keeps precomputed (a copy, an outage page) costs
// no string allocation per request.

// Protocol is the HTTP version a shopper's request came in.
type Protocol uint8

const (
	// ProtoHTTP1 is HTTP/1.1 (or 1.0) on the HTTPS listener, served by
	// fasthttp directly.
	ProtoHTTP1 Protocol = iota
	// ProtoHTTP2 is HTTP/2 over TLS, bridged from net/http.
	ProtoHTTP2
	// ProtoHTTP3 is HTTP/3 over QUIC, bridged from quic-go.
	ProtoHTTP3
	// NumProtocols is the number of protocols, for arrays indexed by one.
	NumProtocols
)

var protocolNames = [NumProtocols]string{"http/1.1", "h2", "h3"}

// String returns the protocol's ALPN name, as metrics label it.
func (p Protocol) String() string { return protocolNames[p] }

// protoVersion is what the access log and fasthttp's Protocol() say.
var protoVersion = [NumProtocols]string{"HTTP/1.1", "HTTP/2.0", "HTTP/3.0"}

// bridgeConn is the connection a bridged request's RequestCtx sees: the
// shopper's address and the TLS state, once per connection. Nothing is read
// from or written to it; the HTTP/2 or HTTP/3 server owns the real one.
type bridgeConn struct {
	remote *net.TCPAddr // fasthttp's RemoteIP understands TCP addresses only
	local  net.Addr
	state  tls.ConnectionState
	proto  Protocol
	// certName is the canonical name the connection's certificate was
	// chosen for (SNI, or the address dialled when there was none), for
	// refusing requests for another site on it (coalescing).
	certName []byte
}

var errBridgeConn = errors.New("proxy: a bridged request's connection is not readable or writable")

func (c *bridgeConn) Read([]byte) (int, error)         { return 0, errBridgeConn }
func (c *bridgeConn) Write([]byte) (int, error)        { return 0, errBridgeConn }
func (c *bridgeConn) Close() error                     { return nil }
func (c *bridgeConn) LocalAddr() net.Addr              { return c.local }
func (c *bridgeConn) RemoteAddr() net.Addr             { return c.remote }
func (c *bridgeConn) SetDeadline(time.Time) error      { return nil }
func (c *bridgeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bridgeConn) SetWriteDeadline(time.Time) error { return nil }

// Handshake and ConnectionState make fasthttp's RequestCtx.IsTLS true.
func (c *bridgeConn) Handshake() error                     { return nil }
func (c *bridgeConn) ConnectionState() tls.ConnectionState { return c.state }

// newBridgeConn describes a connection whose handshake is done.
func newBridgeConn(proto Protocol, remote, local net.Addr, state tls.ConnectionState) *bridgeConn {
	c := &bridgeConn{proto: proto, local: local, state: state}
	switch a := remote.(type) {
	case *net.TCPAddr:
		c.remote = a
	case *net.UDPAddr:
		c.remote = &net.TCPAddr{IP: a.IP, Port: a.Port, Zone: a.Zone}
	default:
		c.remote = &net.TCPAddr{IP: net.IPv4zero}
		if remote != nil {
			if ap, err := netip.ParseAddrPort(remote.String()); err == nil {
				c.remote = net.TCPAddrFromAddrPort(ap)
			}
		}
	}
	var buf [sites.MaxHostLen + 8]byte
	name := []byte(state.ServerName)
	if len(name) == 0 && local != nil {
		// No SNI (an IP address): tls/certs chose by the address dialled.
		if host, _, err := net.SplitHostPort(local.String()); err == nil {
			name = []byte(host)
		}
	}
	if cn, ok := sites.AppendCanonical(buf[:0], name); ok {
		c.certName = append([]byte(nil), cn...)
	}
	return c
}

type connKey struct{}

// bridgeCtx is a pooled RequestCtx with the buffer its request body is read
// into.
type bridgeCtx struct {
	ctx  fasthttp.RequestCtx
	body []byte

	// What a runner needs (runners.go): the connection, and the end.
	bc       *bridgeConn
	done     chan struct{}
	panicked any
}

// bridge is the http.Handler of the HTTP/2 and HTTP/3 servers.
type bridge struct {
	s       *Server
	maxBody int
	pool    sync.Pool
	strs    *interner
	runners runners
}

func newBridge(s *Server, maxBody int) *bridge {
	b := &bridge{s: s, maxBody: maxBody, strs: newInterner()}
	b.pool.New = func() any { return &bridgeCtx{done: make(chan struct{}, 1)} }
	b.runners.log = s.log
	b.runners.run = b.pipeline
	return b
}

// connContext puts the connection's description into the context its
// requests' contexts derive from.
func connContext(ctx context.Context, c *bridgeConn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func (b *bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bc, _ := r.Context().Value(connKey{}).(*bridgeConn)
	if bc == nil {
		// Not from one of the Server's own listeners (a test's handler):
		// what the request says of its connection.
		bc = requestConn(r)
	}
	x := b.pool.Get().(*bridgeCtx)
	b.serve(x, bc, w, r)
	if cap(x.body) > maxPooledBody {
		x.body = nil
	}
	b.pool.Put(x)
}

// serve runs one request on x and leaves x reset for its next one. The
// request is read and the answer written on the calling goroutine (both
// may wait on the network); the pipeline runs on a runner (runners.go).
func (b *bridge) serve(x *bridgeCtx, bc *bridgeConn, w http.ResponseWriter, r *http.Request) {
	ctx := &x.ctx
	ctx.Init2(bc, fasthttpLogger{b.s.log}, false)
	ctx.Response.Header.SetNoDefaultContentType(true)
	b.s.protoRequests[bc.proto].Add(1)

	if b.fill(x, bc, w, r) {
		x.bc = bc
		b.runners.do(x)
		x.bc = nil
	} else {
		// fill answered (a body over the limit, a body cut off).
		b.s.refused.Add(1)
	}
	b.s.setAltSvc(ctx)
	b.write(w, r, &ctx.Response)

	ctx.Request.Reset()
	ctx.Response.Reset()
}

// pipeline answers x's request: a request for another shop than the
// connection's certificate was for gets 421, every other one the pipeline.
func (b *bridge) pipeline(x *bridgeCtx) {
	ctx := &x.ctx
	if b.s.coalesced(ctx, x.bc) {
		b.s.misdirected.Add(1)
		misdirectedAnswer.write(ctx)
		if b.s.snap.Load().accessLog {
			b.s.logAccess(ctx, nil)
		}
		return
	}
	b.s.handle(ctx)
}

// maxPooledBody bounds the request body buffer a pooled context keeps.
const maxPooledBody = 64 << 10

// bodyReadTimeout bounds reading a request body, as the HTTP/1.1 server's
// read timeout does.
const bodyReadTimeout = 30 * time.Second

// fill copies what the pipeline reads from r into x's request. It returns
// false when it answered itself: the request is one checkBridged refuses,
// its body is over limits.request_body, could not be read, or is not the
// length its content-length field says.
func (b *bridge) fill(x *bridgeCtx, bc *bridgeConn, w http.ResponseWriter, r *http.Request) bool {
	if err := checkBridged(r); err != nil {
		b.s.log.Debug("refused request", "reason", err, "peer", bc.remote, "proto", bc.proto.String())
		refusalFor(err).write(&x.ctx)
		return false
	}
	req := &x.ctx.Request
	req.Header.SetProtocol(protoVersion[bc.proto])
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.RequestURI)
	req.Header.SetHost(r.Host)
	for k, vs := range r.Header {
		switch k {
		case "Host", "Content-Length":
			continue // from :authority and the body read below
		case "Trailer":
			// Hop-by-hop, never forwarded; and a fasthttp header that
			// announces a trailer moves the values of the names it lists
			// out of what the origin is sent (All) but not out of what
			// the key reads (Peek): Accept-Language or X-Requested-With
			// would key a copy the origin never rendered. Go's and
			// quic-go's servers take it out of r.Header today; this
			// holds whichever server fills r.
			continue
		}
		for _, v := range vs {
			// HTTP/1.1's parser drops the whitespace around a value;
			// h2 and h3 carry it (RFC 9113 §8.2.1 calls it malformed).
			req.Header.Add(k, strings.Trim(v, " \t"))
		}
	}
	declared := declaredLength(r)
	if r.Body == nil || r.Body == http.NoBody {
		if declared > 0 {
			// content-length without the DATA it announced: malformed
			// (RFC 9113 §8.1.1), and on a GET what HTTP/1.1 refuses.
			badRequest.write(&x.ctx)
			return false
		}
		return true
	}
	if r.ContentLength > int64(b.maxBody) {
		bodyTooLarge.write(&x.ctx)
		return false
	}
	// A stream whose body never comes must not hold a handler forever.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	buf := x.body[:0]
	if n := int(r.ContentLength); n > cap(buf) {
		buf = make([]byte, 0, n+1) // +1: the read that sees EOF
	}
	body, err := readBodyLimit(buf, r.Body, b.maxBody)
	x.body = body
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		bodyTooLarge.write(&x.ctx)
		return false
	case err != nil:
		badRequest.write(&x.ctx)
		return false
	case declared >= 0 && declared != int64(len(body)):
		// A content-length other than the DATA sent (RFC 9113 §8.1.1,
		// RFC 9114 §4.1.2): the two servers check the common cases
		// themselves; this one place holds for both.
		badRequest.write(&x.ctx)
		return false
	}
	if len(body) > 0 || r.ContentLength == 0 {
		req.SetBodyRaw(body)
		req.Header.SetContentLength(len(body))
	}
	return true
}

// Refusals of bridged requests that HTTP/1.1's guard makes on the bytes
// (framing.go) and that HTTP/2 and HTTP/3 requests need made on the fields
// their servers parsed.
var (
	// errHostMismatch: a host field that names another host than
	// :authority. RFC 9113 §8.3.1 and RFC 9114 §4.3.1 make such a request
	// malformed (quic-go refuses it; Go's HTTP/2 server does not): which
	// of the two an origin or a log believes is not for the shopper to
	// choose.
	errHostMismatch = errors.New("proxy: host field differs from :authority")
	// errNotOriginForm: a :path that is not a path ("https://other/x"):
	// malformed in HTTP/2 and HTTP/3 (RFC 9113 §8.3.1), and fasthttp would
	// take the host it names over :authority.
	errNotOriginForm = errors.New("proxy: :path not in origin form")
	// errBadTarget: a :path with a space, which HTTP/1.1 cannot carry
	// (fasthttp refuses it there): forwarded, it splits the request line
	// the origin reads ("GET /a HTTP/1.1 HTTP/1.1"), and an origin that
	// hangs up on it would count as failing, toward the fallback of the
	// whole shop. The servers refuse control bytes themselves.
	errBadTarget = errors.New("proxy: :path with a space or control byte")
)

// checkBridged checks what only a bridged request can carry, before it is
// copied into a RequestCtx; what both kinds of request can carry (method,
// host, a body on GET) is checkRequest's, in the pipeline. The header names
// are read with the HTTP/1.1 guard's own test (underscoreFraming): a
// Transfer_Encoding or Content_Length field is refused however it came.
func checkBridged(r *http.Request) error {
	if r.Method != http.MethodConnect {
		// CONNECT's target is the authority: the pipeline answers 405.
		if u := r.RequestURI; u == "" || (u[0] != '/' && !(u == "*" && r.Method == http.MethodOptions)) {
			return errNotOriginForm
		}
	}
	for i := 0; i < len(r.RequestURI); i++ {
		if c := r.RequestURI[i]; c <= ' ' || c == 0x7f {
			return errBadTarget
		}
	}
	if hs := r.Header["Host"]; len(hs) > 1 || (len(hs) == 1 && !strings.EqualFold(hs[0], r.Host)) {
		return errHostMismatch
	}
	for k := range r.Header {
		if len(k) == len("content-length") || len(k) == len("transfer-encoding") {
			if strings.IndexByte(k, '_') >= 0 && underscoreFraming([]byte(k)) {
				return errUnderscoreFraming
			}
		}
	}
	return nil
}

// declaredLength is the request's content-length field, -1 without one (or
// with one that does not parse, which the servers refuse themselves).
func declaredLength(r *http.Request) int64 {
	vs := r.Header["Content-Length"]
	if len(vs) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// readBodyLimit appends what r holds to buf, at most max bytes.
func readBodyLimit(buf []byte, r io.Reader, max int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), max+1)])
		buf = buf[:len(buf)+n]
		if len(buf) > max {
			return buf[:0], fasthttp.ErrBodyTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf[:0], err
		}
	}
}

// responseDrop lists the response headers that never reach a shopper over
// HTTP/2 or HTTP/3: connection-specific ones (RFC 9113 §8.2.2, RFC 9114
// §4.2) and Content-Length, which write sets from the body itself.
var responseDrop = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
	"Te":                true,
	"Trailer":           true,
	"Content-Length":    true,
}

// write sends the pipeline's answer: status, headers and body. The body is
// written from the pipeline's own buffer; for HEAD only its length is sent.
func (b *bridge) write(w http.ResponseWriter, r *http.Request, resp *fasthttp.Response) {
	h := w.Header()
	for k, v := range resp.Header.All() {
		if responseDrop[string(k)] {
			continue
		}
		key := b.strs.str(k)
		if old, ok := h[key]; ok {
			h[key] = append(old[:len(old):len(old)], b.strs.str(v)) // never write into a shared slice
			continue
		}
		h[key] = b.strs.one(v)
	}
	if len(resp.Header.ContentType()) == 0 {
		h["Content-Type"] = nil // as over HTTP/1.1: no type rather than a sniffed one
	}
	body := resp.Body()
	n := len(body)
	head := r.Method == http.MethodHead
	if head && n == 0 && resp.Header.ContentLength() > 0 {
		n = resp.Header.ContentLength() // an origin's answer to HEAD: the length of the GET's body
	}
	var num [20]byte
	h["Content-Length"] = b.strs.one(strconv.AppendInt(num[:0], int64(n), 10))
	h["Date"] = b.strs.date()
	w.WriteHeader(resp.StatusCode())
	if !head && len(body) > 0 {
		w.Write(body) // an error is the shopper gone; the server resets the stream
	}
}

// requestConn describes r's connection from the request alone.
func requestConn(r *http.Request) *bridgeConn {
	proto := ProtoHTTP2
	if r.ProtoMajor == 3 {
		proto = ProtoHTTP3
	}
	var remote net.Addr = &net.TCPAddr{IP: net.IPv4zero}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	var st tls.ConnectionState
	if r.TLS != nil {
		st = *r.TLS
	}
	return newBridgeConn(proto, remote, nil, st)
}

// coalesced reports whether a bridged request names a known site other
// than the one its connection's certificate was for. Browsers reuse an
// HTTP/2 or HTTP/3 connection for every name its certificate covers and
// whose address matches (RFC 9113 §9.1.1); a shop's answer must never
// depend on which other shop's connection a request happened to ride, so
// such a request gets 421 and the browser retries on a connection of its
// own (RFC 9110 §15.5.20). An unknown host is the pipeline's 421.
func (s *Server) coalesced(ctx *fasthttp.RequestCtx, bc *bridgeConn) bool {
	snap := s.snap.Load()
	st := snap.site(ctx.Host())
	if st == nil {
		return false
	}
	return snap.site(bc.certName) != st
}
