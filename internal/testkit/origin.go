package testkit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Origin is a programmable HTTP/1.1 origin on loopback. Its Behavior decides,
// per request, which exact bytes it writes (or that it hangs, resets or
// refuses), so tests can script every way a shop platform or CDN fails. It
// counts connections and requests and records what it received, so tests
// assert on what reached the origin, not on timing.
//
// An Origin is safe for concurrent use. It is closed by the test's Cleanup.
type Origin struct {
	t        testing.TB
	addr     string
	behavior atomic.Pointer[Behavior]

	mu       sync.Mutex
	ln       net.Listener      // nil while refusing
	conns    map[net.Conn]bool // true while idle: waiting for its next request
	received []Received
	wire     []*Buffer // the bytes read on each connection, in accept order
	closed   bool
	wg       sync.WaitGroup

	connCount atomic.Int64
	reqCount  atomic.Int64
	inflight  atomic.Int64
	maxInfl   atomic.Int64
	release   chan struct{} // closed to let hanging handlers go
}

// Received is one request as the origin saw it.
type Received struct {
	Method     string
	RequestURI string
	Host       string
	Header     http.Header
	Body       []byte
	RemoteAddr string
}

// Exchange is one request and the connection to answer it on. Behaviors
// write raw bytes to Conn; returning closes the connection unless KeepAlive
// was set.
type Exchange struct {
	Request   *http.Request
	Body      []byte
	Conn      net.Conn
	KeepAlive bool
	origin    *Origin
}

// Behavior answers one exchange.
type Behavior func(x *Exchange)

// NewOrigin starts an origin on 127.0.0.1 answering with b.
func NewOrigin(t testing.TB, b Behavior) *Origin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: listen: %v", err)
	}
	o := &Origin{t: t, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}, release: make(chan struct{})}
	o.behavior.Store(&b)
	o.wg.Add(1)
	go o.acceptLoop(ln)
	t.Cleanup(o.Close)
	return o
}

// Addr is the origin's host:port.
func (o *Origin) Addr() string { return o.addr }

// URL is the origin's base URL.
func (o *Origin) URL() string { return "http://" + o.addr }

// Set changes how the origin answers from the next request on.
func (o *Origin) Set(b Behavior) { o.behavior.Store(&b) }

// Conns is the number of connections accepted so far.
func (o *Origin) Conns() int64 { return o.connCount.Load() }

// Requests is the number of requests read so far.
func (o *Origin) Requests() int64 { return o.reqCount.Load() }

// MaxInflight is the largest number of requests the origin was answering at
// the same time.
func (o *Origin) MaxInflight() int64 { return o.maxInfl.Load() }

// ResetMaxInflight starts measuring MaxInflight afresh.
func (o *Origin) ResetMaxInflight() { o.maxInfl.Store(o.inflight.Load()) }

// RequestsFor counts the requests read so far whose path starts with prefix.
func (o *Origin) RequestsFor(prefix string) int {
	n := 0
	for _, r := range o.Received() {
		if strings.HasPrefix(r.RequestURI, prefix) {
			n++
		}
	}
	return n
}

// Wire returns every byte the origin read so far, exactly as it came, one
// connection after another in the order they were accepted: for tests
// that check what reached the origin below any parser (a smuggled request,
// a header spelled with underscores).
func (o *Origin) Wire() string {
	o.mu.Lock()
	wire := append([]*Buffer(nil), o.wire...)
	o.mu.Unlock()
	var b strings.Builder
	for _, w := range wire {
		b.WriteString(w.String())
	}
	return b.String()
}

// Received returns a copy of every request read so far.
func (o *Origin) Received() []Received {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Received(nil), o.received...)
}

// Last returns the last request read; it fails the test if there was none.
func (o *Origin) Last() Received {
	o.t.Helper()
	r := o.Received()
	if len(r) == 0 {
		o.t.Fatalf("testkit: origin received no request")
	}
	return r[len(r)-1]
}

// Refuse closes the listening socket, so connections are refused (RST)
// until Heal. Open connections are closed too.
func (o *Origin) Refuse() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	for c := range o.conns {
		c.Close()
	}
}

// Heal listens again on the same address after Refuse, answering with b.
func (o *Origin) Heal(b Behavior) {
	o.t.Helper()
	o.Set(b)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln != nil || o.closed {
		return
	}
	var err error
	for range 50 { // the port can linger briefly after close
		var ln net.Listener
		if ln, err = net.Listen("tcp", o.addr); err == nil {
			o.ln = ln
			o.wg.Add(1)
			go o.acceptLoop(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	o.t.Fatalf("testkit: relisten on %s: %v", o.addr, err)
}

// Close stops the origin and releases hanging handlers.
func (o *Origin) Close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	close(o.release)
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.wg.Wait()
}

func (o *Origin) acceptLoop(ln net.Listener) {
	defer o.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			c.Close()
			return
		}
		o.conns[c] = true
		o.wg.Add(1)
		o.mu.Unlock()
		o.connCount.Add(1)
		go o.serveConn(c)
	}
}

func (o *Origin) serveConn(c net.Conn) {
	defer o.wg.Done()
	defer func() {
		c.Close()
		o.mu.Lock()
		delete(o.conns, c)
		o.mu.Unlock()
	}()
	wire := &Buffer{}
	o.mu.Lock()
	o.wire = append(o.wire, wire)
	o.mu.Unlock()
	br := bufio.NewReader(io.TeeReader(c, wire))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		o.mu.Lock()
		o.conns[c] = false
		o.mu.Unlock()
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		o.reqCount.Add(1)
		o.mu.Lock()
		o.received = append(o.received, Received{
			Method: req.Method, RequestURI: req.RequestURI, Host: req.Host,
			Header: req.Header.Clone(), Body: body, RemoteAddr: c.RemoteAddr().String(),
		})
		o.mu.Unlock()
		n := o.inflight.Add(1)
		for {
			m := o.maxInfl.Load()
			if n <= m || o.maxInfl.CompareAndSwap(m, n) {
				break
			}
		}
		x := &Exchange{Request: req, Body: body, Conn: c, origin: o}
		(*o.behavior.Load())(x)
		o.inflight.Add(-1)
		if !x.KeepAlive {
			return
		}
		o.mu.Lock()
		o.conns[c] = true
		o.mu.Unlock()
	}
}

// Idle is the number of kept-alive connections waiting for their next
// request. A client can have its answer a moment before the origin counts
// the connection idle: poll it.
func (o *Origin) Idle() int { return o.eachIdle(func(net.Conn) {}) }

// CloseIdle closes the kept-alive connections waiting for their next
// request, as an origin's keep-alive timeout does, and says how many.
func (o *Origin) CloseIdle() int { return o.eachIdle(func(c net.Conn) { c.Close() }) }

// eachIdle calls f for each idle connection and counts them.
func (o *Origin) eachIdle(f func(net.Conn)) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for c, idle := range o.conns {
		if idle {
			f(c)
			n++
		}
	}
	return n
}

// Write writes raw bytes to the shopper-facing side of the exchange.
func (x *Exchange) Write(b []byte) { x.Conn.Write(b) }

// Wait blocks for d, or until the origin is closed.
func (x *Exchange) Wait(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-x.origin.release:
		return false
	}
}

// Response formats a complete HTTP/1.1 response with a correct
// Content-Length. header lines are "Name: value".
func Response(status int, body string, header ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	hasType := false
	for _, h := range header {
		b.WriteString(h)
		b.WriteString("\r\n")
		if len(h) > 13 && bytes.EqualFold([]byte(h[:13]), []byte("content-type:")) {
			hasType = true
		}
	}
	if !hasType {
		b.WriteString("Content-Type: text/html; charset=utf-8\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.Bytes()
}

// Respond answers every request with status, body and header lines, keeping
// the connection alive. A HEAD request gets the same head and no body, as
// HTTP requires (RFC 9110 §9.3.2): bytes after it would be the start of a
// next answer, which Awning refuses.
func Respond(status int, body string, header ...string) Behavior {
	resp := Response(status, body, header...)
	head := resp[:len(resp)-len(body)]
	return func(x *Exchange) {
		if x.Request.Method == http.MethodHead {
			x.Write(head)
		} else {
			x.Write(resp)
		}
		x.KeepAlive = true
	}
}

// OK answers 200 with an HTML body.
func OK(body string) Behavior { return Respond(http.StatusOK, body) }

// Echo answers 200 with a body naming the method and request URI, so tests
// can tell answers to different requests apart.
func Echo() Behavior {
	return func(x *Exchange) {
		body := x.Request.Method + " " + x.Request.RequestURI
		resp := Response(http.StatusOK, body)
		if x.Request.Method == http.MethodHead {
			resp = resp[:len(resp)-len(body)]
		}
		x.Write(resp)
		x.KeepAlive = true
	}
}

// Status answers every request with an empty-bodied status code.
func Status(code int) Behavior { return Respond(code, "") }

// Slow waits d before behaving as b.
func Slow(d time.Duration, b Behavior) Behavior {
	return func(x *Exchange) {
		if x.Wait(d) {
			b(x)
		}
	}
}

// Hang reads the request and never answers (a black-holed origin), until
// the origin is closed.
func Hang() Behavior {
	return func(x *Exchange) { <-x.origin.release }
}

// Truncated announces the whole body in Content-Length, sends half of it
// and closes the connection cleanly (FIN).
func Truncated(body string) Behavior {
	return func(x *Exchange) {
		head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(body))
		x.Write([]byte(head + body[:len(body)/2]))
	}
}

// ResetMidBody sends the head and half the body, then resets the connection
// (RST, not FIN).
func ResetMidBody(body string) Behavior {
	return func(x *Exchange) {
		head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", len(body))
		x.Write([]byte(head + body[:len(body)/2]))
		time.Sleep(10 * time.Millisecond) // let the bytes leave before the RST
		Reset(x)
	}
}

// WrongLength announces more bytes than it sends, then closes.
func WrongLength(body string) Behavior {
	return func(x *Exchange) {
		head := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(len(body)+10) + "\r\n\r\n"
		x.Write([]byte(head + body))
	}
}

// ChunkedTruncated sends a chunked body without its last chunk, then closes.
func ChunkedTruncated(body string) Behavior {
	return func(x *Exchange) {
		x.Write([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(body), body)))
	}
}

// Raw writes exactly b, then closes the connection.
func Raw(b []byte) Behavior {
	return func(x *Exchange) { x.Write(b) }
}

// ResetOnRequest resets the connection as soon as a request was read.
func ResetOnRequest() Behavior { return Reset }

// Reset closes the exchange's connection with RST.
func Reset(x *Exchange) {
	if tc, ok := x.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	x.Conn.Close()
}
