package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/valyala/fasthttp"
)

// exchange is one request's way to its site's origins and back: the bytes
// to send, the deadlines, and the answer as it is read and parsed, once.
// It lives in a pooled fetch, so that an exchange allocates nothing of its
// own, and it can be resumed: when the soft deadline (fallback_after)
// passes, do returns errSlow with the exchange where it stood, and a later
// do (in the background, without a soft deadline) goes on from there on
// the same connection, so that a slow origin is asked once, not twice.
//
// The checks on what an origin sends (docs/origins.md) are made here as the
// bytes arrive: the framing scanner (originresp.go) reads every byte before
// the head is parsed, an answer it refuses ends the exchange and its
// connection, and no other parser ever sees the bytes.
type exchange struct {
	// The request: its head as sent, its body, and what kind it is.
	req        []byte
	body       []byte
	head       bool // HEAD: the answer has no body
	idempotent bool // GET or HEAD: may be sent again after an EOF before the answer's first byte

	// Deadlines. soft is fallback_after (zero for none): when it passes
	// first, do returns errSlow and may be called again. total bounds the
	// whole exchange; firstByte bounds the wait from the request's last
	// byte to the answer's first (0 for none).
	soft, total time.Time
	firstByte   time.Duration
	// down is closed when the site's origin is declared down: the exchange
	// ends with errReleased.
	down <-chan struct{}
	// owner is the site pool the exchange is for: a site declared down
	// cuts short its own exchanges only (pool.release).
	owner *pool
	// vouch is the copy the answer would refresh, or nil: an answer byte
	// for byte its body passed the body checks when it was kept, and needs
	// only a comparison (pool.judge).
	vouch *cache.Copy

	// Where it stands.
	turn    uint32 // where the round robin over the site's origins began
	tried   uint64 // origins tried, bit i for origin i
	begun   bool   // turn is set
	oi      int    // the origin asked now, or -1
	t0      time.Time
	c       *originConn
	reused  bool // c carried an exchange before
	fresh   bool // the next connection must be a new one
	phase   uint8
	wrote   int
	sentAt  time.Time
	gotByte bool
	retried bool // sent again once on a new connection (errRetryFresh)

	// The answer: every byte read (interim answers, the head, the body),
	// the scanner that judged them, and the parse. ans aliases buf.
	buf    []byte
	scan   respScanner
	fields []cache.Field
	ans    cache.Answer
	// reusable: the answer ended cleanly and its connection may carry
	// another exchange.
	reusable bool

	// An early answer (originearly.go): the origin answered, or stopped
	// taking the request, before it had the whole of it. Such an answer is
	// relayed when it is whole and well framed; its connection is never
	// reused and it is never stored.
	early bool
	// writeErr is what stopped the write, when the write failed: what the
	// exchange ends in when no whole answer can be read after it.
	writeErr error
	// pendErr is a read error the watcher met, for read to take as its own.
	pendErr error
	watch   earlyWatch

	// charged is what buf holds beyond bodyAhead, counted in mem (the
	// node's answerMemory) until reset gives it back.
	charged int64
	mem     *answerMemory
}

// Exchange phases.
const (
	phConnect = iota // no connection yet
	phWrite          // writing the request
	phRead           // reading the answer
	phDone           // the answer is complete
)

// errSlow: the soft deadline (fallback_after) passed first. The exchange
// may be resumed by calling do again.
var errSlow = errors.New("proxy: the origin is slower than fallback_after")

// errTimeout: the origin did not answer within origin.timeout (or
// first_byte_timeout, or write_timeout).
var errTimeout = errors.New("proxy: origin timeout")

// errRetryFresh: a reused connection ended before the answer's first byte
// (an origin's keep-alive timeout raced the request). A GET or HEAD is then
// sent once more, on a new connection.
var errRetryFresh = errors.New("proxy: reused origin connection closed before answering")

// errIdleBytes: an idle connection held bytes when an exchange took it
// (originConn.idle). Nothing was sent on it; it is closed, and the
// request goes on another.
var errIdleBytes = errors.New("proxy: origin sent bytes on an idle connection")

// errBodyTooLarge and errHeadTooLarge: the answer exceeds
// limits.response_body or limits.response_header. Awning's own limits:
// health learns nothing from them.
var (
	errBodyTooLarge = errors.New("proxy: origin answer body exceeds limits.response_body")
	errHeadTooLarge = errors.New("proxy: origin answer head exceeds limits.response_header")
	// errAnswersMemory: the answers being read and relayed across the
	// node already hold limits.answers_memory; this one is not read on.
	errAnswersMemory = errors.New("proxy: origin answers in flight hold limits.answers_memory")
)

// answerMemory bounds the memory origin answers hold across the node, from
// the moment their bodies are read until their exchange is reset (after
// the shopper got the answer): each limited by limits.response_body alone,
// a few hundred large answers at once — one hostile origin sending big
// bodies to many requests — would take the node's memory. Only what an
// answer holds beyond its first bodyAhead is counted, so that pages and
// most assets never touch it. It is shared by every origin of a Server.
type answerMemory struct {
	held atomic.Int64
	max  atomic.Int64 // limits.answers_memory; 0: not bounded (tests that build a bare pool)
}

// charge takes n more bytes, and reports whether they fit.
func (m *answerMemory) charge(n int64) bool {
	limit := m.max.Load()
	if m.held.Add(n) > limit && limit > 0 {
		m.held.Add(-n)
		return false
	}
	return true
}

// reset readies x for a new request, keeping its buffers: the answer's,
// its fields', and the request head's (bounded by limits.request_header).
func (x *exchange) reset() {
	if c := x.c; c != nil {
		// Left mid-exchange (a panic on its way): where the connection
		// stands is unknown, and dropping it would leave it open and
		// counted against max_conns for good.
		x.c = nil
		c.pool.discard(c)
	}
	req, buf, fields, watched := x.req[:0], x.buf[:0], x.fields[:0], x.watch.done
	if x.charged > 0 {
		x.mem.held.Add(-x.charged)
		buf = nil // the room it paid for is not kept either
	}
	if cap(fields) > keptFields {
		fields = nil // a head of thousands of fields is not kept for every request after
	}
	clear(fields[:cap(fields)])
	*x = exchange{req: req, buf: buf, fields: fields, oi: -1}
	x.watch.done = watched
}

// keptFields bounds the fields a pooled exchange keeps room for: pages
// have dozens; an origin's header bomb (limits.response_header of
// "a:\r\n" lines) makes thousands.
const keptFields = 256

// roundTrip sends x's request to o and reads the answer, from where x
// stands. It returns errSlow with x resumable; on any other return the
// connection is back in o's pool or closed. What it refuses is counted and
// logged (originresp.go).
func (o *origin) roundTrip(x *exchange) error {
	for {
		if x.c == nil {
			c, reused, err := o.conns.get(x.fresh, x.connectDeadline(), x.down, x.owner)
			if err != nil {
				if (err == errDialTimeout || err == errNoFreeConns) && x.softPassed() {
					// Bounded by fallback_after, not connect_timeout: the
					// shopper gets the copy, and a resumed exchange
					// connects anew, to the same origin, within the
					// timeout. Nothing to tell health yet.
					return errSlow
				}
				return err
			}
			x.c, x.reused, x.fresh = c, reused, false
			x.phase, x.wrote, x.gotByte = phWrite, 0, false
			x.early, x.writeErr, x.pendErr = false, nil, nil
			x.buf = x.buf[:0]
			x.scan.start(x.head)
			select {
			case <-x.down: // declared down before the connection was taken
				o.conns.put(c)
				x.c = nil
				return errReleased
			default:
			}
		}
		err := x.step()
		switch {
		case err == errSlow:
			return err
		case err == nil:
			c := x.c
			x.c = nil
			if x.reusable {
				o.conns.put(c)
			} else {
				o.conns.discard(c)
			}
			return nil
		case err == errIdleBytes:
			// This connection only is out of step; the others idle in
			// the pool may carry the request (each is looked at in turn).
			o.conns.discard(x.c)
			x.c = nil
			continue
		case errors.Is(err, errStaleConn), err == errRetryFresh:
			// Nothing of the request reached the origin, or an idempotent
			// one may be sent again: on a new connection, since the idle
			// ones are older than this one.
			o.conns.discard(x.c)
			o.conns.closeIdle()
			x.c, x.fresh = nil, true
			x.retried = x.retried || err == errRetryFresh
			continue
		}
		o.conns.discard(x.c)
		x.c = nil
		return err // what Awning refused is counted by its caller, for the site that asked
	}
}

// softPassed reports whether the soft deadline bounds the exchange and has
// passed.
func (x *exchange) softPassed() bool {
	return !x.soft.IsZero() && x.soft.Before(x.total) && !time.Now().Before(x.soft)
}

// connectDeadline bounds waiting for and opening a connection.
func (x *exchange) connectDeadline() time.Time {
	if !x.soft.IsZero() && x.soft.Before(x.total) {
		return x.soft
	}
	return x.total
}

// step writes the request and reads the answer, from where x stands.
func (x *exchange) step() error {
	c := x.c
	if x.phase == phWrite {
		if x.wrote == 0 && x.reused {
			// Bytes that wait on it answer no request, and a closed one
			// takes none (originConn.idle): found before anything was
			// sent, so any method may go on another connection. Every
			// method, GET and HEAD too: the EOF retry below
			// (errRetryFresh) would catch a closed connection, but nothing
			// after the write can tell bytes that were already waiting
			// from the answer.
			switch c.idle() {
			case idleBytes:
				return errIdleBytes
			case idleClosed:
				return errStaleConn
			}
		}
		if err := x.write(); err != nil {
			return x.ended(err)
		}
		if x.phase == phWrite { // the watcher may have read a whole answer already
			x.phase = phRead
		}
		x.sentAt = time.Now()
	}
	if x.phase == phRead {
		if err := x.read(); err != nil {
			return x.ended(err)
		}
		x.phase = phDone
	}
	if x.early {
		x.reusable = false
	}
	return nil
}

// write sends what is left of the request. A request with a body is
// watched for an early answer while its body waits for room in the socket
// (originearly.go). A write that fails for any reason but a deadline ends
// in x.early: the origin may have answered before it stopped reading, and
// read looks.
func (x *exchange) write() error {
	c := x.c
	if err := c.setWriteDeadline(x.deadline(false)); err != nil {
		return err
	}
	total := len(x.req) + len(x.body)
	if len(x.body) > 0 && x.wrote < total {
		if c.raw != nil {
			// Most bodies go out at once; only one the socket has no room
			// for needs watching.
			a, b := x.unsent()
			n, err := c.raw.writevNow(a, b)
			x.wrote += n
			if err != nil {
				return x.writeFailed(err)
			}
		}
		if x.wrote < total {
			if err := c.setReadDeadline(x.deadline(false)); err != nil {
				return err
			}
			return x.writeWatched()
		}
	}
	if err := x.writeRest(); err != nil {
		return x.writeFailed(err)
	}
	return nil
}

// writeRest writes what is left of the request.
func (x *exchange) writeRest() error {
	for x.wrote < len(x.req)+len(x.body) {
		n, err := x.writeSome()
		x.wrote += n
		if err != nil {
			return err
		}
	}
	return nil
}

// writeWatched writes the rest of the request while the watcher looks for
// an early answer (originearly.go).
func (x *exchange) writeWatched() error {
	x.startWatch()
	stopped := false
	defer func() {
		if !stopped { // a panic: the watcher must not outlive the write either
			x.stopWatch()
		}
	}()
	err := x.writeRest()
	stopped = true
	if x.stopWatch() {
		return x.watched()
	}
	if err != nil {
		return x.writeFailed(err)
	}
	return nil
}

// unsent is what is left of the request: the rest of the head, if any,
// and the body (or the rest of it).
func (x *exchange) unsent() (head, body []byte) {
	if x.wrote < len(x.req) {
		return x.req[x.wrote:], x.body
	}
	return nil, x.body[x.wrote-len(x.req):]
}

// writeSome makes one write of what is left of the request, waiting for
// room in the socket until the write deadline.
func (x *exchange) writeSome() (int, error) {
	c := x.c
	if c.released.Load() {
		return 0, errReleased
	}
	switch {
	case x.wrote < len(x.req) && len(x.body) > 0 && c.raw != nil:
		return c.raw.writev(x.req[x.wrote:], x.body)
	case x.wrote < len(x.req) && len(x.body) > 0:
		bufs := net.Buffers{x.req[x.wrote:], x.body}
		n, err := bufs.WriteTo(c.Conn)
		return int(n), err
	case x.wrote < len(x.req):
		return c.Write(x.req[x.wrote:])
	}
	return c.Write(x.body[x.wrote-len(x.req):])
}

// writeFailed classifies an error that stopped the write: a reused
// connection the origin had closed (errRetryFresh), a deadline (timedOut),
// or the origin no longer taking the request, which it may have answered:
// x.early, and the exchange goes on to read.
func (x *exchange) writeFailed(err error) error {
	if x.wrote == 0 && x.reused && x.idempotent && !x.retried && (errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)) {
		return errRetryFresh
	}
	var ne net.Error
	if err == errReleased || (errors.As(err, &ne) && ne.Timeout()) {
		return x.timedOut(err, false)
	}
	x.early, x.writeErr = true, err
	return nil
}

// deadline is the deadline for the next read (or write): the earliest of
// the soft deadline, the first-byte bound while no byte came, and total.
func (x *exchange) deadline(reading bool) time.Time {
	d := x.total
	if !x.soft.IsZero() && x.soft.Before(d) {
		d = x.soft
	}
	if reading && !x.gotByte && x.firstByte > 0 {
		if fb := x.sentAt.Add(x.firstByte); fb.Before(d) {
			d = fb
		}
	}
	return d
}

// timedOut classifies an I/O error: a deadline that passed is errReleased
// (the origin was declared down), errSlow (the soft deadline: resumable),
// or errTimeout; anything else is returned as it is.
func (x *exchange) timedOut(err error, reading bool) error {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return err
	}
	if x.c.released.Load() {
		return errReleased
	}
	now := time.Now()
	if !x.soft.IsZero() && !now.Before(x.soft) && x.soft.Before(x.total) &&
		!(reading && !x.gotByte && x.firstByte > 0 && !now.Before(x.sentAt.Add(x.firstByte))) {
		return errSlow
	}
	return errTimeout
}

// readChunk is how much room a read is given at least.
const readChunk = 16 << 10

// read reads the answer until it is complete, judging each byte with the
// scanner and parsing the head once it is whole.
func (x *exchange) read() error {
	c := x.c
	for {
		if err := x.pendErr; err != nil {
			x.pendErr = nil
			return x.readFailed(err)
		}
		if err := x.makeRoom(); err != nil {
			return err
		}
		if err := c.setReadDeadline(x.deadline(true)); err != nil {
			return err
		}
		if c.released.Load() {
			return errReleased
		}
		start := len(x.buf)
		n, err := c.Read(x.buf[start:cap(x.buf)])
		if n > 0 {
			x.gotByte = true
			x.buf = x.buf[:start+n]
			if whole, terr := x.took(start); whole || terr != nil {
				return terr
			}
		}
		if err != nil {
			return x.readFailed(err)
		}
	}
}

// makeRoom makes room in buf for the next read.
func (x *exchange) makeRoom() error {
	room := cap(x.buf) - len(x.buf)
	if x.scan.state == rsBody {
		if room == 0 {
			// A Content-Length body longer than bodyAhead: as much room
			// again as has been read, up to the body's end.
			return x.resize(len(x.buf) + int(min(int64(max(len(x.buf), readChunk)), x.scan.left)))
		}
		return nil
	}
	if room < 4<<10 {
		return x.grow(readChunk)
	}
	return nil
}

// took judges the bytes just read, buf[start:], and parses the head once it
// is whole. It reports whether the answer is whole.
func (x *exchange) took(start int) (bool, error) {
	lim := x.c.pool.limits
	wasHead := x.scan.state == rsHead
	if _, verr := x.scan.feed(x.buf[start:]); verr != nil {
		if verr == errHeadBody {
			if x.idle408() {
				return false, errRetryFresh
			}
			// The answer to a HEAD is whole at the end of its head; what
			// followed makes the connection unusable.
			x.buf = x.buf[:x.scan.bodyAt]
			x.parseHead()
			x.reusable = false
			return true, nil
		}
		return false, verr
	}
	if wasHead && x.scan.state != rsHead {
		if x.idle408() {
			return false, errRetryFresh
		}
		if err := x.headDone(lim); err != nil {
			return false, err
		}
	} else if x.scan.state == rsHead && len(x.buf) > lim.head {
		return false, errHeadTooLarge
	}
	switch x.scan.state {
	case rsIdle:
		return true, x.bodyDone(lim)
	case rsChunked, rsUntilClose:
		if int64(len(x.buf))-x.scan.bodyAt > int64(lim.body)+framingSlack {
			return false, errBodyTooLarge
		}
	}
	return false, nil
}

// readFailed ends a read that met err: the end of an answer framed by the
// connection's close, a reused connection closed before the answer, or a
// failure.
func (x *exchange) readFailed(err error) error {
	if err == io.EOF && x.scan.state == rsUntilClose {
		x.scan.state = rsIdle
		if err := x.bodyDone(x.c.pool.limits); err != nil {
			return err
		}
		x.reusable = false
		return nil
	}
	if !x.gotByte && x.reused && x.idempotent && !x.retried &&
		(err == io.EOF || errors.Is(err, syscall.ECONNRESET)) {
		return errRetryFresh
	}
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return x.timedOut(err, true)
}

// idle408 reports whether the answer's head, just read, is a 408 on a
// kept-alive connection for a GET or HEAD not yet sent again: most likely
// what the origin wrote when it timed the idle connection out (HAProxy,
// some Node.js and Apache set-ups), an answer to no request. The request
// is then sent once more on a new connection, as Go's net/http does,
// rather than the shopper getting the 408.
func (x *exchange) idle408() bool {
	return x.scan.status == fasthttp.StatusRequestTimeout && x.reused && x.idempotent && !x.retried
}

// bodyAhead is how much room a Content-Length body is given before its
// bytes come: most pages and assets fit, and are read without growing the
// buffer.
const bodyAhead = 1 << 20

// framingSlack is how far chunk framing may take a chunked body past
// limits.response_body before it is refused without decoding it.
const framingSlack = 64 << 10

// grow makes room for at least n more bytes in buf.
func (x *exchange) grow(n int) error {
	if cap(x.buf)-len(x.buf) >= n {
		return nil
	}
	return x.resize(max(2*cap(x.buf), len(x.buf)+n, 32<<10))
}

// resize gives buf the capacity c, keeping its bytes, once the node's
// answer memory (answerMemory) has room for what it takes beyond
// bodyAhead.
func (x *exchange) resize(c int) error {
	if over := int64(c - bodyAhead); over > x.charged && x.c != nil && x.c.pool.limits.mem != nil {
		m := x.c.pool.limits.mem
		if !m.charge(over - x.charged) {
			return errAnswersMemory
		}
		x.charged, x.mem = over, m
	}
	nb := make([]byte, len(x.buf), c)
	copy(nb, x.buf)
	x.buf = nb
	return nil
}

// headDone parses the final head once the scanner has passed it, and makes
// room for a body of known length.
func (x *exchange) headDone(lim answerLimits) error {
	if x.scan.bodyAt-x.scan.headAt > int64(lim.head) {
		return errHeadTooLarge
	}
	x.parseHead()
	if x.scan.state == rsBody {
		if x.scan.cl > int64(lim.body) {
			return errBodyTooLarge
		}
		if need := int(x.scan.bodyAt + x.scan.cl); need > cap(x.buf) {
			// Room for the whole body, so that it is read in as few reads
			// as the kernel allows; nothing past it is read (or allowed).
			// Beyond bodyAhead, room is made as the bytes come (makeRoom
			// doubles it): memory follows what the origin sent, not what
			// it claimed, or a few hundred answers claiming the limit and
			// sending nothing would take the node's memory.
			return x.grow(min(need, len(x.buf)+bodyAhead) - len(x.buf))
		}
	}
	return nil
}

// bodyDone ends a complete answer: the body is de-chunked in place and
// bounded.
func (x *exchange) bodyDone(lim answerLimits) error {
	body := x.buf[x.scan.bodyAt:]
	if x.scan.te == 1 {
		body = dechunk(body)
	}
	if len(body) > lim.body {
		return errBodyTooLarge
	}
	x.ans.Body = body
	return nil
}

// parseHead reads the final head, which the scanner judged well formed,
// into x.ans: status, fields as sent, Content-Type and Content-Encoding.
// Values are trimmed of surrounding whitespace.
func (x *exchange) parseHead() {
	head := x.buf[x.scan.headAt : x.scan.bodyAt-2] // without the empty line's CRLF
	line, rest, _ := bytes.Cut(head, crlf)
	x.ans.Status = x.scan.status
	x.ans.ContentType, x.ans.ContentEncoding, x.ans.Body = nil, nil, nil
	x.reusable = line[7] != '0' // HTTP/1.0: the connection is not kept
	fields := x.fields[:0]
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, crlf)
		colon := bytes.IndexByte(line, ':')
		name, value := line[:colon], trimOWS(line[colon+1:])
		fields = append(fields, cache.Field{Name: name, Value: value})
		switch len(name) {
		case len("content-type"):
			if equalFold(name, "content-type") {
				x.ans.ContentType = value
			}
		case len("content-encoding"):
			if equalFold(name, "content-encoding") {
				x.ans.ContentEncoding = value
			}
		case len("connection"):
			if equalFold(name, "connection") && hasTokenFold(value, "close") {
				x.reusable = false
			}
		}
	}
	x.fields = fields
	x.ans.Header = fields
}

var crlf = []byte("\r\n")

// hasTokenFold reports whether a comma-separated header value has tok
// (case aside).
func hasTokenFold(v []byte, tok string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte(","))
		if equalFold(trimOWS(t), tok) {
			return true
		}
	}
	return false
}

// dechunk decodes a chunked body in place (the scanner has checked its
// framing) and returns the data; trailer fields are dropped.
func dechunk(b []byte) []byte {
	out := 0
	i := 0
	for i < len(b) {
		size := 0
		for i < len(b) && unhex(b[i]) >= 0 {
			size = size<<4 | unhex(b[i])
			i++
		}
		for i < len(b) && b[i] != '\n' { // an extension, then CRLF
			i++
		}
		i++
		if size == 0 {
			break
		}
		out += copy(b[out:], b[i:i+size])
		i += size + 2 // data, CRLF
	}
	return b[:out]
}
