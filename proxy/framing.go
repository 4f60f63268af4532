package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
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
)

// fasthttp already refuses duplicate or non-numeric Content-Length, unknown
// transfer codings and CR inside values. It accepts a bare LF that ends the
// request line, obs-fold, "Transfer-Encoding: identity", and (v1.77) serves
// a request with both Content-Length and Transfer-Encoding before closing.
// guardConn closes those gaps below the parser, where the request line is
// still visible; checkRawHeaders repeats the header checks on what fasthttp
// parsed, for the one case guardConn cannot follow (a pipelined request
// after a chunked body).

// guardListener wraps accepted connections in guardConn.
type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := &guardConn{Conn: c, vectored: vectored(c)}
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
// request head for framing that parsers disagree on, skips Content-Length
// bodies, and after a chunked body waits for the next response before it
// scans again. A guardConn is used by one connection-serving goroutine only.
type guardConn struct {
	net.Conn

	state    uint8
	bodyLeft int64 // bytes of Content-Length body still to skip
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

	// Write coalescing (coalesce.go).
	held     *[]byte // a full write buffer held back; nil for none
	vectored bool    // Conn takes net.Buffers in one writev
	vec      [2][]byte
	bufs     net.Buffers
}

const (
	stateHead = iota // scanning a request head
	stateBody        // skipping a Content-Length body
	stateLost        // after a chunked body: wait for the response
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
	n, err := c.Conn.Read(p)
	if n > 0 && c.state != stateLost {
		if c.bad = c.scan(p[:n]); c.bad != nil {
			return 0, c.bad
		}
	}
	return n, err
}

// Write notes the end of an exchange: once a final response is written after
// a chunked body, the next bytes read start a new request head. Interim
// "100 Continue" responses are followed by the body, not by a head.
func (c *guardConn) Write(p []byte) (int, error) {
	if c.state == stateLost && !bytes.HasPrefix(p, []byte("HTTP/1.1 1")) {
		c.resetHead()
	}
	return c.write(p)
}

func (c *guardConn) scan(b []byte) error {
	for len(b) > 0 {
		switch c.state {
		case stateLost:
			return nil
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
	if c.lines == 1 {
		return nil // the request line
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
	case c.te == 1:
		c.state = stateLost
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

// checkRawHeaders checks the header block fasthttp parsed, as received on
// the wire.
func checkRawHeaders(raw []byte) error {
	var cl, te int
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		if i < 0 {
			break
		}
		if i == 0 || raw[i-1] != '\r' {
			return errBareLF
		}
		line := raw[:i-1]
		raw = raw[i+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errObsFold
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
					return errBadTE
				}
			}
		}
	}
	switch {
	case te > 1:
		return errDoubleTE
	case te > 0 && cl > 0:
		return errCLandTE
	}
	return nil
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
