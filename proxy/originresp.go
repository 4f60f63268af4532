package proxy

import (
	"bytes"
	"errors"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/internal/gunzip"
	"github.com/valyala/fasthttp"
)

// What Awning refuses from an origin (docs/origins.md). Each of these ends
// the exchange as a failure: the shopper gets a copy or the outage page, the
// answer is never stored, and a connection that carried a framing error is
// closed, never reused. The scanner below reads every byte of an answer
// before the exchange parses its head (originexchange.go), and stops at the
// first one that two HTTP parsers could read differently: it is stricter
// than fasthttp's client, which it replaced (FuzzResponseFraming holds it
// no more lenient), so an answer it accepts is one any parser reads the
// same way.
var (
	errRespCLandTE  = errors.New("proxy: origin answer has both Content-Length and Transfer-Encoding")
	errRespBadCL    = errors.New("proxy: origin answer has an invalid or repeated Content-Length")
	errRespBadTE    = errors.New("proxy: origin answer has a Transfer-Encoding other than one chunked")
	errRespBadChunk = errors.New("proxy: origin answer has a malformed chunk")
	errRespHead     = errors.New("proxy: origin answer has a malformed status line or header")
	errRespExtra    = errors.New("proxy: origin sent bytes after a complete answer")
	// errHeadBody is not a refusal: the answer to a HEAD is whole at the
	// end of its head, and a server that writes a body after it is common
	// enough (hand-written handlers, some PHP set-ups). The guard hands the
	// whole head on and keeps the error, so the connection, whose next
	// bytes nobody can place, is never used again.
	errHeadBody     = errors.New("proxy: origin sent a body with its answer to HEAD")
	errRespUpgrade  = errors.New("proxy: origin answered 101 Switching Protocols")
	errRespInterim  = errors.New("proxy: origin answered with a 1xx status other than 100 and 103")
	errGzipCorrupt  = errors.New("proxy: origin's gzip body does not decode to its end")
	errGzipTooLarge = errors.New("proxy: origin's gzip body decompresses past limits.response_body")
)

// originRefusal is a kind of origin answer Awning refuses, for metrics and
// failureReason.
type originRefusal uint8

const (
	refusedFraming originRefusal = iota
	refusedMalformed
	refusedExtraBytes
	refusedUpgrade
	refusedInterim
	refusedBadGzip
	refusedGzipTooLarge
	numRefusals
)

// refusalNames are the reasons as failureReason, Cache-Status and the
// awning_origin_refused_total metric name them.
var refusalNames = [numRefusals]string{
	"framing", "malformed", "extra-bytes", "upgrade", "interim", "bad-gzip", "gzip-too-large",
}

// String returns the reason, as metrics label it.
func (r originRefusal) String() string { return refusalNames[r] }

// refusalOf says which refusal err is, if any.
func refusalOf(err error) (originRefusal, bool) {
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, errRespCLandTE), errors.Is(err, errRespBadCL), errors.Is(err, errRespBadTE),
		errors.Is(err, errRespBadChunk):
		return refusedFraming, true
	case errors.Is(err, errRespHead):
		return refusedMalformed, true
	case errors.Is(err, errRespExtra):
		return refusedExtraBytes, true
	case errors.Is(err, errRespUpgrade):
		return refusedUpgrade, true
	case errors.Is(err, errRespInterim):
		return refusedInterim, true
	case errors.Is(err, errGzipCorrupt):
		return refusedBadGzip, true
	case errors.Is(err, errGzipTooLarge):
		return refusedGzipTooLarge, true
	}
	return 0, false
}

// refusalCounts counts a site's refused origin answers by kind. It lives in
// the site's counters, so it survives reloads.
type refusalCounts [numRefusals]atomic.Uint64

func (c *refusalCounts) stats() map[string]uint64 {
	m := make(map[string]uint64, numRefusals)
	for r := range numRefusals {
		m[refusalNames[r]] = (*c)[r].Load()
	}
	return m
}

// RefusalReasons lists the reasons SiteStats.OriginRefused counts, in a
// stable order.
func RefusalReasons() []string { return refusalNames[:] }

// refusalLogEvery bounds how often one origin's refusals are logged: a
// broken origin answers every request the same way, and one line a minute
// says so as well as thousands.
const refusalLogEvery = time.Minute

// refused counts an answer o sent that Awning refused in counts (the
// site's that asked; nil for none, a probe), and logs it unless this origin
// was logged less than refusalLogEvery ago.
func (o *origin) refused(site string, counts *refusalCounts, r originRefusal, err error) {
	if counts != nil {
		(*counts)[r].Add(1)
	}
	n := o.unlogged.Add(1)
	now := time.Now().UnixNano()
	last := o.lastLog.Load()
	if now-last < int64(refusalLogEvery) || !o.lastLog.CompareAndSwap(last, now) || o.log == nil {
		return
	}
	o.unlogged.Add(-n)
	o.log.Warn("refused an origin's answer; the shopper got a copy or the outage page",
		"site", site, "origin", o.url, "reason", r.String(), "error", err.Error(),
		"refused_since_last_log", n)
}

// checkAnswer applies the checks on a whole answer's body that protect the
// shopper whatever happens to the answer: a gzip body must decode to its
// end within limits.response_body. Awning asks origins for gzip, so it
// checks what comes back before relaying or storing it. An answer
// byte-identical to one already checked (a page that did not change) is
// known by a hash of its body and costs no second inflate (see
// pool.judge, which the request path uses, for the whole story).
func (o *origin) checkAnswer(a *cache.Answer) error {
	if !a.Gzip() || len(a.Body) == 0 {
		return nil // a HEAD, 204 or 304, or an empty answer: nothing to decode
	}
	sum := o.check.sum(a.Body)
	if o.check.has(sum) {
		return nil
	}
	if err := o.inflateCheck(a.Body); err != nil {
		return err
	}
	o.check.add(sum)
	return nil
}

// inflateCheck decodes a gzip body to its end, within the limit, keeping
// none of the output.
func (o *origin) inflateCheck(body []byte) error {
	if _, err := gunzip.Check(body, o.limit); err != nil {
		if errors.Is(err, gunzip.ErrTooLarge) {
			return errGzipTooLarge
		}
		return errGzipCorrupt
	}
	return nil
}

// checkedBodies remembers recently checked bodies by a seeded 64-bit hash
// of their bytes, in a small direct-mapped table shared by every origin of
// a Server: gzip bodies found to decode within the limit (by their hash),
// and 2xx pages found free of failure markers (by their hash mixed with
// the site's markers' salt, see soft.go). Whether a body decodes within the
// limit depends on its bytes alone (the limit is fixed at New), so a body
// checked for one site needs no check for another. The seed is secret and
// per process, so an origin cannot make a bad body collide with a checked
// one. Safe for concurrent use; the zero value is not: use
// newCheckedBodies.
type checkedBodies struct {
	seed  maphash.Seed
	slots [checkedSlots]atomic.Uint64
}

// checkedSlots: 64 KB for the table, room for the pages and assets a
// node's busiest sites serve unchanged between changes. A page that falls
// out of it is still known, by a comparison with its copy (pool.judge).
const checkedSlots = 8192

func newCheckedBodies() *checkedBodies { return &checkedBodies{seed: maphash.MakeSeed()} }

func (c *checkedBodies) sum(b []byte) uint64 {
	if c == nil {
		return 0
	}
	return maphash.Bytes(c.seed, b) | 1 // never 0, the empty slot
}

func (c *checkedBodies) has(sum uint64) bool {
	return c != nil && c.slots[sum%checkedSlots].Load() == sum
}

func (c *checkedBodies) add(sum uint64) {
	if c != nil {
		c.slots[sum%checkedSlots].Store(sum)
	}
}

// gunzip decompresses a gzip body for a client that did not ask for gzip,
// within limits.response_body.
func (p *pool) gunzip(body []byte) ([]byte, error) {
	return gunzip.Append(nil, body, p.limit)
}

// Response scanner states.
const (
	rsIdle       = iota // no answer expected: any byte is extra
	rsHead              // in a status line or header section
	rsBody              // in a Content-Length body
	rsUntilClose        // in a body that ends when the origin closes
	rsChunked           // in a chunked body
)

// respScanner follows answers on one origin connection. It is stricter
// than fasthttp where fasthttp is lenient (a bare LF, obs-fold, a space
// before a colon, both Content-Length and Transfer-Encoding, trailing
// bytes) and never lenient where fasthttp is strict, so an answer it
// accepts is one fasthttp reads the same way. Its verdict does not depend
// on how the bytes are split into reads (FuzzResponseFraming).
type respScanner struct {
	state uint8
	head  bool // the request was HEAD: no final answer has a body

	lines   int      // complete lines of this head
	line    [64]byte // start of the current line, as sent
	lineLen int
	cr      bool // the current head line's last byte was CR
	inValue bool // past the colon of the current header line
	status  int
	cl      int64 // Content-Length, -1 when absent
	clBad   bool  // invalid or repeated
	te      int   // Transfer-Encoding fields
	teBad   bool  // one that is not exactly chunked

	left  int64 // bytes left of a Content-Length body
	chunk chunkedBody

	// Where the final answer's head is in the stream of bytes fed since
	// start, for the exchange that parses it: headAt is where the current
	// head began (after any interim answers), bodyAt where the final head
	// ended. pos counts the bytes fed before the current feed; base and
	// mark are scratch for headBytes.
	pos, base, mark int64
	headAt, bodyAt  int64
}

// start readies the scanner for the answer to a request just written.
func (s *respScanner) start(head bool) {
	s.head = head
	s.pos, s.headAt, s.bodyAt = 0, 0, 0
	s.startHead()
}

func (s *respScanner) startHead() {
	s.state = rsHead
	s.lines, s.lineLen, s.cr, s.inValue = 0, 0, false, false
	s.status, s.cl, s.clBad, s.te, s.teBad = 0, -1, false, 0, false
}

// feed scans b, the next bytes read. On a violation it returns the error
// and how many bytes of b may still be handed to fasthttp: those before the
// offending byte, and never the last byte of a complete answer followed by
// extra bytes, so fasthttp never completes an answer the scanner refused.
func (s *respScanner) feed(b []byte) (int, error) {
	defer func() { s.pos += int64(len(b)) }()
	done := -1 // where in b an answer ended
	for i := 0; i < len(b); {
		switch s.state {
		case rsIdle:
			if s.head {
				return max(done, 0), errHeadBody
			}
			return max(done-1, 0), errRespExtra
		case rsUntilClose:
			return len(b), nil
		case rsBody:
			k := min(int64(len(b)-i), s.left)
			s.left -= k
			if i += int(k); s.left == 0 {
				s.state, done = rsIdle, i
			}
		case rsChunked:
			n, end, err := s.chunk.feed(b[i:])
			if err != nil {
				return i + n, errRespBadChunk
			}
			if i += n; end {
				s.state, done = rsIdle, i
			}
		case rsHead:
			s.base = s.pos + int64(i)
			n, err := s.headBytes(b[i:])
			if err != nil {
				return i + n, err
			}
			i += n
			if s.state == rsIdle {
				done = i
			}
		}
	}
	return len(b), nil
}

// headBytes scans bytes of a head, up to the end of the head. It returns
// how many bytes it took, or on a violation the offset of the offending
// byte.
func (s *respScanner) headBytes(b []byte) (int, error) {
	for i := 0; i < len(b); i++ {
		if !s.cr && s.lineLen == 0 {
			// The common case: a whole line in b, checked with a few
			// vectorised scans rather than byte by byte.
			if j := bytes.IndexByte(b[i:], '\n'); j > 0 && b[i+j-1] == '\r' {
				line := b[i : i+j-1]
				off, inValue, err := s.checkLine(line)
				if err != nil {
					return i + off, err
				}
				i += j // at the LF
				s.mark = s.base + int64(i) + 1
				if err := s.lineDone(line[:min(len(line), len(s.line))], len(line), inValue); err != nil {
					return i, err
				}
				if s.state != rsHead {
					return i + 1, nil
				}
				continue
			}
		}
		c := b[i]
		if s.cr {
			s.cr = false
			if c != '\n' {
				return i, errRespHead // a CR inside a line
			}
			s.mark = s.base + int64(i) + 1
			if err := s.endLine(); err != nil {
				return i, err
			}
			if s.state != rsHead {
				return i + 1, nil
			}
			continue
		}
		switch {
		case c == '\r':
			s.cr = true
			continue
		case c == '\n', c == 0:
			return i, errRespHead // a bare LF ends a line for some parsers only
		case s.lines == 0:
		case s.lineLen == 0 && (c == ' ' || c == '\t'):
			return i, errRespHead // obs-fold (RFC 9112 §5.2)
		case !s.inValue && c == ':':
			if s.lineLen == 0 {
				return i, errRespHead
			}
			s.inValue = true
		case !s.inValue && !isTokenChar(c):
			return i, errRespHead // "Content-Length : 5" and friends
		}
		if s.lineLen < len(s.line) {
			s.line[s.lineLen] = c
		}
		s.lineLen++
		if s.inValue || s.lines == 0 {
			// The rest of a value or the status line is only looked at for
			// its end and for bytes no line may hold.
			j := bytes.IndexByte(b[i+1:], '\r')
			rest := b[i+1:]
			if j >= 0 {
				rest = rest[:j]
			}
			if k := bytes.IndexByte(rest, '\n'); k >= 0 {
				return i + 1 + k, errRespHead
			}
			if k := bytes.IndexByte(rest, 0); k >= 0 {
				return i + 1 + k, errRespHead
			}
			if room := len(s.line) - s.lineLen; room > 0 {
				copy(s.line[s.lineLen:], rest[:min(room, len(rest))])
			}
			s.lineLen += len(rest)
			i += len(rest)
		}
	}
	return len(b), nil
}

// checkLine checks a whole head line (without its CRLF) as headBytes does
// byte by byte, and returns the offset of an offending byte and whether the
// line has a colon.
func (s *respScanner) checkLine(line []byte) (int, bool, error) {
	if k := bytes.IndexByte(line, '\r'); k >= 0 {
		return k, false, errRespHead
	}
	if k := bytes.IndexByte(line, 0); k >= 0 {
		return k, false, errRespHead
	}
	if s.lines == 0 || len(line) == 0 {
		return 0, false, nil
	}
	if line[0] == ' ' || line[0] == '\t' {
		return 0, false, errRespHead
	}
	colon := bytes.IndexByte(line, ':')
	name := line
	if colon >= 0 {
		name = line[:colon]
	}
	for k, c := range name {
		if !isTokenChar(c) {
			return k, false, errRespHead
		}
	}
	if colon == 0 {
		return 0, false, errRespHead
	}
	return 0, colon > 0, nil
}

// endLine handles a complete head line (its CRLF just read).
func (s *respScanner) endLine() error {
	n, inValue := s.lineLen, s.inValue
	s.lineLen, s.inValue = 0, false
	return s.lineDone(s.line[:min(n, len(s.line))], n, inValue)
}

// lineDone handles a complete head line of n bytes, of which line is the
// start; inValue says whether it had a colon.
func (s *respScanner) lineDone(line []byte, n int, inValue bool) error {
	if n == 0 {
		if s.lines == 0 {
			return errRespHead
		}
		return s.endHead()
	}
	s.lines++
	if s.lines == 1 {
		return s.statusLine(line, n)
	}
	if !inValue {
		return errRespHead // a header line without a colon
	}
	if v, ok := cutPrefixFold(line, "content-length:"); ok {
		l := parseLength(trimOWS(v))
		if s.cl >= 0 || l < 0 || n > len(s.line) {
			s.clBad = true
		}
		s.cl = max(l, 0)
	} else if v, ok := cutPrefixFold(line, "transfer-encoding:"); ok {
		s.te++
		if n > len(s.line) || !equalFold(trimOWS(v), "chunked") {
			s.teBad = true
		}
	}
	return nil
}

// statusLine reads "HTTP/1.x NNN[ reason]" (RFC 9112 §4).
func (s *respScanner) statusLine(line []byte, n int) error {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '0' && line[7] != '1') ||
		line[8] != ' ' || (n > 12 && line[12] != ' ') {
		return errRespHead
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return errRespHead
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 599 {
		// RFC 9110 §15: values outside 100..599 are invalid; fasthttp
		// would relay a "600" to the shopper as it came.
		return errRespHead
	}
	s.status = code
	return nil
}

// endHead decides how the answer's body is framed once its head is
// complete (RFC 9112 §6.3).
func (s *respScanner) endHead() error {
	switch {
	case s.status == fasthttp.StatusSwitchingProtocols:
		return errRespUpgrade
	case s.status == fasthttp.StatusContinue, s.status == fasthttp.StatusEarlyHints:
		s.startHead() // an interim answer; the final one follows
		s.headAt = s.mark
		return nil
	case s.status < 200:
		return errRespInterim
	case s.te > 0 && s.cl >= 0:
		return errRespCLandTE
	default:
		s.bodyAt = s.mark
	}
	switch {
	case s.te > 1, s.teBad:
		return errRespBadTE
	case s.clBad:
		return errRespBadCL
	case s.head || s.status == fasthttp.StatusNoContent || s.status == fasthttp.StatusNotModified:
		s.state = rsIdle
	case s.te == 1:
		s.state = rsChunked
		s.chunk.reset()
	case s.cl > 0:
		s.state, s.left = rsBody, s.cl
	case s.cl == 0:
		s.state = rsIdle
	default:
		s.state = rsUntilClose
	}
	return nil
}

// isTokenChar reports whether c may appear in a field name (RFC 9110 §5.6.2).
func isTokenChar(c byte) bool { return tokenChars[c] }

var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func trimOWS(b []byte) []byte { return bytes.Trim(b, " \t") }
