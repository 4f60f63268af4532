package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Framing errors. Each is a way for two HTTP parsers to disagree on where a
// request ends (request smuggling, RFC 9112 §6.3 and §11.2), so a request
// showing one is refused with 400 and its connection closed.
var (
	errBareLF   = errors.New("proxy: bare LF in request head")
	errObsFold  = errors.New("proxy: obsolete line folding in request head")
	errCLandTE  = errors.New("proxy: both Content-Length and Transfer-Encoding")
	errBadTE    = errors.New("proxy: Transfer-Encoding other than chunked")
	errDoubleTE = errors.New("proxy: more than one Transfer-Encoding")
	// errBodyOnGet: a GET or HEAD with a body. RFC 9110 §9.3.1 gives such a
	// body no meaning, some origins read it and some do not, and a copy
	// made from a GET must not depend on what the shopper sent beside the
	// key: refused (issue 13).
	errBodyOnGet = errors.New("proxy: GET or HEAD request with a body")
	// errUnderscoreFraming: Transfer_Encoding or Content_Length. Awning
	// does not read them as framing, but CGI-style servers (PHP's
	// $_SERVER['HTTP_TRANSFER_ENCODING']) and some proxies do: a request
	// framed two ways. Other underscore spellings are dropped on the way to
	// the origin by the header table (forward.go).
	errUnderscoreFraming = errors.New("proxy: framing header spelled with _")
	// errConnect: CONNECT asks for a tunnel, which Awning never opens.
	errConnect = errors.New("proxy: CONNECT")
	// errTrace: TRACE (and IIS's TRACK) asks the origin to echo the
	// request back, with every header the shopper's browser and Awning
	// added (cookies, X-Forwarded-For, the origin's shared secret headers):
	// cross-site tracing. No shop needs it.
	errTrace = errors.New("proxy: TRACE")
	// errBadHost: a Host that is not an RFC 3986 host[:port], such as one
	// with userinfo ("other.test@shop.test").
	errBadHost = errors.New("proxy: invalid Host")
)

// fasthttp already refuses duplicate or non-numeric Content-Length, unknown
// transfer codings and CR inside values. It accepts a bare LF that ends the
// request line, obs-fold, "Transfer-Encoding: identity", and (v1.77) serves
// a request with both Content-Length and Transfer-Encoding before closing.
// guardConn closes those gaps below the parser, where the request line is
// still visible: it follows Content-Length and chunked bodies alike, so
// every request head on a connection is scanned, pipelined or not.
// checkRequest repeats the header checks on what fasthttp parsed (the one
// check for requests that reach the pipeline another way, such as HTTP/2)
// and adds those that need the parsed request: method, Host, and header
// names.

// guardListener wraps accepted connections in guardConn.
type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := &guardConn{Conn: c, vectored: vectored(c)}
	if r := newRawTCP(c); r != nil {
		g.Conn, g.raw = r, r
	}
	g.resetHead()
	if tc, ok := c.(*tls.Conn); ok {
		return &guardTLSConn{guardConn: g, tls: tc}, nil
	}
	return g, nil
}

// guardTLSConn keeps the TLS methods visible so that fasthttp's
// RequestCtx.IsTLS still sees a TLS connection through the guard.
type guardTLSConn struct {
	*guardConn
	tls *tls.Conn
}

func (c *guardTLSConn) Handshake() error                     { return c.tls.Handshake() }
func (c *guardTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// guardConn follows request boundaries on a connection: it scans each
// request head for framing that parsers disagree on and skips bodies,
// Content-Length or chunked, to the next head. A guardConn is used by one
// connection-serving goroutine only.
type guardConn struct {
	net.Conn

	state    uint8
	bodyLeft int64 // bytes of Content-Length body still to skip
	chunk    chunkedBody
	bad      error

	// Head state.
	prevCR  bool     // the previous chunk ended in CR
	lines   int      // complete non-empty lines of this head
	line    [40]byte // start of the current line, lower-cased
	lineLen int      // length of the current line so far
	cl      int64    // Content-Length, -1 when absent
	te      int      // Transfer-Encoding headers seen
	teBad   bool     // a Transfer-Encoding other than chunked
	fold    bool     // the current line is an obs-fold continuation
	noBody  bool     // the method is GET or HEAD

	// raw is Conn when it makes its system calls directly (rawio_linux.go).
	raw *rawTCP
	// The deadlines fasthttp asked for (rdl, wdl) and those applied (ardl,
	// awdl), when raw: applied lazily (connstate.go).
	rdl, wdl, ardl, awdl time.Time
	// lent is the fetch the last response's body points into (connstate.go).
	lent lentFetch

	// Write coalescing (coalesce.go).
	held     *[]byte // a full write buffer held back; nil for none
	vectored bool    // Conn takes net.Buffers in one writev
	vec      [2][]byte
	bufs     net.Buffers
}

const (
	stateHead    = iota // scanning a request head
	stateBody           // skipping a Content-Length body
	stateChunked        // following a chunked body
)

func (c *guardConn) resetHead() {
	c.state = stateHead
	c.prevCR = false
	c.lines = 0
	c.lineLen = 0
	c.cl = -1
	c.te = 0
	c.teBad = false
	c.fold = false
	c.noBody = false
}

// Read hands fasthttp the bytes read, unless they show bad framing: then it
// returns the error instead, fasthttp answers through Server.ErrorHandler and
// closes the connection, and nothing of the request reaches an origin.
func (c *guardConn) Read(p []byte) (int, error) {
	if c.bad != nil {
		return 0, c.bad
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	c.reclaim() // the response is out: fasthttp reads only after writing it
	if c.raw != nil {
		if err := c.applyReadDeadline(); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if c.bad = c.scan(p[:n]); c.bad != nil {
			return 0, c.bad
		}
	}
	return n, err
}

// Write sends a response, coalescing writes (coalesce.go).
func (c *guardConn) Write(p []byte) (int, error) { return c.write(p) }

func (c *guardConn) scan(b []byte) error {
	for len(b) > 0 {
		switch c.state {
		case stateChunked:
			n, end, err := c.chunk.feed(b)
			if err != nil {
				return err
			}
			if b = b[n:]; end {
				c.resetHead()
			}
			continue
		case stateBody:
			n := min(int64(len(b)), c.bodyLeft)
			c.bodyLeft -= n
			b = b[n:]
			if c.bodyLeft == 0 {
				c.resetHead()
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if c.prevCR {
				c.appendLine([]byte{'\r'}) // a CR inside a line after all
			}
			c.prevCR = b[len(b)-1] == '\r'
			c.appendLine(b[:len(b)-boolInt(c.prevCR)])
			return nil
		}
		switch {
		case i == 0 && c.prevCR:
		case i > 0 && b[i-1] == '\r':
			if c.prevCR {
				c.appendLine([]byte{'\r'})
			}
			c.appendLine(b[:i-1])
		default:
			return errBareLF
		}
		b = b[i+1:]
		c.prevCR = false
		if err := c.endLine(); err != nil {
			return err
		}
	}
	return nil
}

// appendLine adds b to the current line, keeping only its start: enough to
// recognise the framing headers and read a Content-Length.
func (c *guardConn) appendLine(b []byte) {
	if len(b) == 0 {
		return
	}
	if c.lineLen == 0 && c.lines > 0 && (b[0] == ' ' || b[0] == '\t') {
		c.fold = true
	}
	if c.lineLen < len(c.line) {
		for i, ch := range b[:min(len(b), len(c.line)-c.lineLen)] {
			c.line[c.lineLen+i] = lower(ch)
		}
	}
	c.lineLen += len(b) // the rest of a long line (a cookie, a user agent) is only counted
}

func (c *guardConn) endLine() error {
	n := c.lineLen
	c.lineLen = 0
	if c.fold {
		return errObsFold
	}
	if n == 0 {
		if c.lines == 0 {
			return nil // RFC 9112 §2.2: ignore empty lines before the request line
		}
		return c.endHead()
	}
	c.lines++
	if c.lines == 1 { // the request line
		line := c.line[:min(n, len(c.line))]
		c.noBody = bytes.HasPrefix(line, []byte("get ")) || bytes.HasPrefix(line, []byte("head "))
		return nil
	}
	line := c.line[:min(n, len(c.line))]
	if v, ok := bytes.CutPrefix(line, []byte("content-length:")); ok {
		c.cl = parseLength(bytes.TrimSpace(v))
		if n > len(c.line) {
			c.cl = -1
		}
	} else if v, ok := bytes.CutPrefix(line, []byte("transfer-encoding:")); ok {
		c.te++
		if n > len(c.line) || !bytes.Equal(bytes.TrimSpace(v), []byte("chunked")) {
			c.teBad = true
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *guardConn) endHead() error {
	switch {
	case c.teBad:
		return errBadTE
	case c.te > 1:
		return errDoubleTE
	case c.te == 1 && c.cl >= 0:
		return errCLandTE
	case c.noBody && (c.te == 1 || c.cl > 0):
		return errBodyOnGet
	case c.te == 1:
		c.state = stateChunked
		c.chunk.reset()
	case c.cl > 0:
		c.state = stateBody
		c.bodyLeft = c.cl
	default:
		c.resetHead()
	}
	return nil
}

// parseLength reads a Content-Length; a malformed one gives -1, which
// fasthttp then refuses itself.
func parseLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, ch := range v {
		if ch < '0' || ch > '9' {
			return -1
		}
		n = n*10 + int64(ch-'0')
	}
	return n
}

// checkRequest checks a request fasthttp parsed, before it is routed. An
// error means 400 (405 for CONNECT and TRACE, see refusalFor) and the connection
// closed; nothing of the request reaches an origin.
func checkRequest(req *fasthttp.Request) error {
	h := &req.Header
	chunked, err := scanRawHeaders(h.RawHeaders())
	if err != nil {
		return err
	}
	// Methods are case-sensitive (RFC 9110 §9.1), but origins that read
	// them upper-cased (Symfony's getMethod, IIS) take "trace" or "get"
	// for the method it spells; guardConn reads "get " so too. HTTP/2 and
	// HTTP/3 carry any token in :method.
	m := h.Method()
	switch {
	case equalFold(m, "connect"):
		return errConnect
	case equalFold(m, "trace") || equalFold(m, "track"):
		return errTrace
	case (equalFold(m, "get") || equalFold(m, "head")) && (h.ContentLength() > 0 || chunked || len(req.Body()) > 0):
		return errBodyOnGet
	case !validHost(h.Host()):
		return errBadHost
	}
	if uri := h.RequestURI(); len(uri) > 0 && uri[0] != '/' && !(len(uri) == 1 && uri[0] == '*') {
		// absolute-form (RFC 9112 §3.2.2): its authority names the host too.
		if _, rest, ok := bytes.Cut(uri, []byte("://")); ok {
			if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
				rest = rest[:i]
			}
			if !validHost(rest) {
				return errBadHost
			}
		}
	}
	return nil
}

var (
	hAllow = []byte("Allow")
	// connectRefused answers CONNECT and traceRefused TRACE and TRACK
	// (RFC 9110 §15.5.6: a 405 says what is allowed).
	connectRefused = methodRefused("Awning does not open tunnels: CONNECT is not allowed.\n")
	traceRefused   = methodRefused("Awning does not echo requests: TRACE is not allowed.\n")
	vAllowed       = []byte("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
)

func methodRefused(body string) *answer {
	return &answer{
		status:      fasthttp.StatusMethodNotAllowed,
		contentType: ctText,
		body:        []byte(body),
		headers:     [][2][]byte{{hCacheControl, vNoStore}, {hAllow, vAllowed}},
	}
}

// refusalFor is the answer to a request checkRequest refused.
func refusalFor(err error) *answer {
	switch {
	case errors.Is(err, errConnect):
		return connectRefused
	case errors.Is(err, errTrace):
		return traceRefused
	}
	return badRequest
}

// validHost reports whether h is an RFC 3986 host with an optional port:
// a reg-name (unreserved, percent-encoded and sub-delims characters) or an
// IP literal in brackets. An empty Host is left to the routing (421).
// Userinfo ("a@b"), spaces, quotes and the like are not a host.
func validHost(h []byte) bool {
	if len(h) == 0 {
		return true
	}
	name := h
	if h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 2 {
			return false
		}
		for _, c := range h[1:end] {
			if c != ':' && !hostChars[c] {
				return false
			}
		}
		return validPort(h[end+1:])
	}
	if i := bytes.IndexByte(h, ':'); i >= 0 {
		name = h[:i]
		if !validPort(h[i:]) {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '%':
			if i+2 >= len(name) || unhex(name[i+1]) < 0 || unhex(name[i+2]) < 0 {
				return false
			}
			i += 2
		case !hostChars[c]:
			return false
		}
	}
	return true
}

// validPort reports whether p is empty or ":" and digits.
func validPort(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if p[0] != ':' || len(p) > 6 {
		return false
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hostChars are RFC 3986's unreserved and sub-delims characters.
var hostChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-._~!$&'()*+,;=" {
		t[c] = true
	}
	return t
}()

// checkRawHeaders checks the header block fasthttp parsed, as received on
// the wire.
func checkRawHeaders(raw []byte) error {
	_, err := scanRawHeaders(raw)
	return err
}

// scanRawHeaders checks a raw header block and reports whether it declares
// a chunked body.
func scanRawHeaders(raw []byte) (chunked bool, err error) {
	var cl, te int
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		if i < 0 {
			break
		}
		if i == 0 || raw[i-1] != '\r' {
			return false, errBareLF
		}
		line := raw[:i-1]
		raw = raw[i+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return false, errObsFold
		}
		if colon := bytes.IndexByte(line, ':'); colon > 0 && bytes.IndexByte(line[:colon], '_') >= 0 &&
			underscoreFraming(line[:colon]) {
			return false, errUnderscoreFraming
		}
		switch line[0] | 0x20 {
		case 'c':
			if hasPrefixFold(line, "content-length:") {
				cl++
			}
		case 't':
			if v, ok := cutPrefixFold(line, "transfer-encoding:"); ok {
				te++
				if !equalFold(bytes.TrimSpace(v), "chunked") {
					return false, errBadTE
				}
			}
		}
	}
	switch {
	case te > 1:
		return false, errDoubleTE
	case te > 0 && cl > 0:
		return false, errCLandTE
	}
	return te > 0, nil
}

// underscoreFraming reports whether name, read with "-" for "_", is
// Transfer-Encoding or Content-Length.
func underscoreFraming(name []byte) bool {
	var buf [len("transfer-encoding")]byte
	if len(name) != len("transfer-encoding") && len(name) != len("content-length") {
		return false
	}
	for i, c := range name {
		if c == '_' {
			c = '-'
		}
		buf[i] = lower(c)
	}
	n := string(buf[:len(name)])
	return n == "transfer-encoding" || n == "content-length"
}

func hasPrefixFold(b []byte, prefix string) bool {
	_, ok := cutPrefixFold(b, prefix)
	return ok
}

// cutPrefixFold is bytes.CutPrefix, ASCII case-insensitive; prefix must be
// lower case.
func cutPrefixFold(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) {
		return b, false
	}
	for i := 0; i < len(prefix); i++ {
		if lower(b[i]) != prefix[i] {
			return b, false
		}
	}
	return b[len(prefix):], true
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	_, ok := cutPrefixFold(b, s)
	return ok
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
