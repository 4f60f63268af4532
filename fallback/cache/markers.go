package cache

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fasthttp"
)

// Markers tell a platform's error page that answers 2xx from a good page:
// a CMS's "database error" page, a PHP fatal error, a web server's or
// cache's error page passed on with 200. Such an answer is a failure, for
// the shopper (a copy or the outage page), for the cache (never stored over
// a good copy) and for health, as a 5xx would be. A site's own markers
// (origin.failure_markers) are looked for in the first MarkerWindow bytes
// of 2xx HTML answers (decompressed), the built-in ones in the first
// BuiltinWindow (error pages say what they are at the top; a PHP error
// cuts the page short), and all in probe answers.
//
// A Markers is immutable and safe for concurrent use; the zero value finds
// the built-in markers only.
type Markers struct {
	own  []marker // origin.failure_markers
	salt uint64   // tells this Markers' verdicts apart in a shared memo (Salt)
}

// marker is a site's own marker and where its rarest-looking byte is: the
// scan looks for the text from there (a marker like "<title>…" would stop
// at every tag of the page) and then checks what comes before.
type marker struct {
	text   []byte
	anchor int
}

func newMarker(s string) marker {
	m := marker{text: []byte(s)}
	for i, c := range m.text {
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 {
			m.anchor = i
			return m
		}
	}
	for i, c := range m.text {
		if c != '<' && c != '>' && c != '/' && c != ' ' && c != '"' && c != '=' {
			m.anchor = i
			return m
		}
	}
	return m
}

// in reports whether body contains the marker.
func (m *marker) in(body []byte) bool {
	tail := m.text[m.anchor:]
	for from := m.anchor; from <= len(body); {
		i := bytes.Index(body[from:], tail)
		if i < 0 {
			return false
		}
		at := from + i - m.anchor
		if bytes.Equal(body[at:at+m.anchor], m.text[:m.anchor]) {
			return true
		}
		from += i + 1
	}
	return false
}

// MarkerWindow is how much of an answer's body a site's own markers are
// looked for in; BuiltinWindow, the built-in ones. Checking a 2xx HTML
// answer costs inflating and scanning that much (about 15µs for the
// built-in window, 60µs with own markers, on the machines of
// docs/benchmarks.md).
const (
	MarkerWindow  = 64 << 10
	BuiltinWindow = 16 << 10
)

// NewMarkers returns the built-in markers plus a site's own
// (origin.failure_markers).
func NewMarkers(own []string) *Markers {
	m := &Markers{salt: rand.Uint64() | 1}
	for _, s := range own {
		m.own = append(m.own, newMarker(s))
	}
	return m
}

// errorTitles are the <title>s of error pages that platforms, web servers
// and caches serve, sometimes with status 200. A whole title must match
// (case aside), so a shop page about, say, gateways is never one.
var errorTitles = [][]byte{
	// nginx, Apache, IIS, HAProxy and load balancers.
	[]byte("500 Internal Server Error"), []byte("502 Bad Gateway"), []byte("502 Proxy Error"),
	[]byte("503 Service Unavailable"), []byte("503 Service Temporarily Unavailable"),
	[]byte("504 Gateway Time-out"), []byte("504 Gateway Timeout"),
	[]byte("Internal Server Error"), []byte("Service Unavailable"), []byte("Bad Gateway"),
	// Varnish.
	[]byte("503 Backend fetch failed"), []byte("Error 503 Backend fetch failed"),
	// WordPress (wp_die and the database error page).
	[]byte("Database Error"), []byte("WordPress › Error"), []byte("WordPress &rsaquo; Error"),
	// Magento's error report page.
	[]byte("There has been an error processing your request"),
	// Symfony (Shopware, Sylius) in production, Laravel, Django, Rails,
	// ASP.NET, Heroku.
	[]byte("An Error Occurred: Internal Server Error"), []byte("Server Error"), []byte("Server Error (500)"),
	[]byte("We're sorry, but something went wrong (500)"), []byte("Runtime Error"), []byte("Application Error"),
}

// errorFragments are texts that only an error page carries, anywhere in
// the window: PHP's own error output, database driver errors, and the
// bodies of platforms' error pages whose titles are the shop's own. Each
// starts where its text is rarest in a page (not at a "<", which HTML has
// every few bytes): looking through 64 KB for one is a fast scan for its
// first byte.
var errorFragments = [][]byte{
	[]byte("Fatal error</b>:"), // PHP's html_errors output: <b>Fatal error</b>:
	[]byte("Parse error</b>:"),
	[]byte("SQLSTATE["),
	[]byte("Error establishing a database connection</h1>"),                 // WordPress
	[]byte("The website encountered an unexpected error. Please try again"), // Drupal
	[]byte("Link to database cannot be established"),                        // PrestaShop
	[]byte("Error displaying the error page"),                               // Joomla
	[]byte("Guru Meditation:</h3>"),                                         // Varnish
	[]byte("Whoops, looks like something went wrong."),                      // Laravel
}

// Check reports FailureMarker when resp is a 2xx HTML answer whose body
// carries a marker, else OK. A gzip body is decompressed as far as the
// window only, into pooled buffers: checking allocates nothing.
func (m *Markers) Check(resp *fasthttp.Response) Reason {
	if st := resp.StatusCode(); st < 200 || st > 299 || !isHTML(resp.Header.ContentType()) {
		return OK
	}
	body := resp.Body()
	if len(body) == 0 {
		return OK
	}
	if bytes.EqualFold(resp.Header.ContentEncoding(), []byte("gzip")) {
		w := windows.Get().(*window)
		defer windows.Put(w)
		n := BuiltinWindow
		if m != nil && len(m.own) > 0 {
			n = MarkerWindow
		}
		plain, ok := w.gunzip(body, n)
		if !ok {
			return OK // not for markers to judge; Build refuses corrupt gzip
		}
		body = plain
	}
	if m.Find(body) {
		return FailureMarker
	}
	return OK
}

// Find reports whether the start of a plain body carries a marker.
func (m *Markers) Find(body []byte) bool {
	if len(body) > MarkerWindow {
		body = body[:MarkerWindow]
	}
	if m != nil {
		for i := range m.own {
			if m.own[i].in(body) {
				return true
			}
		}
	}
	body = body[:min(len(body), BuiltinWindow)]
	if t, ok := title(body); ok {
		for _, et := range errorTitles {
			if bytes.EqualFold(t, et) {
				return true
			}
		}
	}
	for _, f := range errorFragments {
		if bytes.Contains(body, f) {
			return true
		}
	}
	return false
}

// Salt returns a value that tells this Markers' verdicts apart from every
// other's: a memo of bodies found clean, shared by sites, keys its entries
// on the body and the salt.
func (m *Markers) Salt() uint64 {
	if m == nil {
		return 0
	}
	return m.salt
}

// MayFail reports whether Check could find resp a failure at all: a 2xx
// HTML answer with a body. Only those need a look (or a memo).
func MayFail(resp *fasthttp.Response) bool {
	st := resp.StatusCode()
	return st >= 200 && st <= 299 && len(resp.Body()) > 0 && isHTML(resp.Header.ContentType())
}

// titleWindow bounds where a page's <title> is looked for: error pages
// put theirs at the top, and a scan for "<" through a whole page would stop
// at every tag.
const titleWindow = 8 << 10

// title returns the text of the page's first <title> element, trimmed.
func title(body []byte) ([]byte, bool) {
	i := bytes.Index(body[:min(len(body), titleWindow)], []byte("<title"))
	if i < 0 {
		return nil, false
	}
	rest := body[i+len("<title"):]
	j := bytes.IndexByte(rest, '>')
	if j < 0 {
		return nil, false
	}
	rest = rest[j+1:]
	k := bytes.Index(rest, []byte("</title>"))
	if k < 0 {
		return nil, false
	}
	return bytes.TrimSpace(rest[:k]), true
}

// window is a pooled gzip reader and the buffer markers are looked for in.
type window struct {
	zr  gzip.Reader
	src bytes.Reader
	buf [MarkerWindow]byte
}

var windows = sync.Pool{New: func() any { return new(window) }}

// gunzip decompresses the first n bytes of a gzip body into w's buffer.
func (w *window) gunzip(body []byte, n int) ([]byte, bool) {
	w.src.Reset(body)
	defer w.src.Reset(nil) // hold no reference to the body in the pool
	if err := w.zr.Reset(&w.src); err != nil {
		return nil, false
	}
	k, err := io.ReadFull(&w.zr, w.buf[:n])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, false
	}
	return w.buf[:k], true
}

// PlainSize returns the size of an answer's body decompressed: the gzip
// trailer's size field (the size mod 2^32, which a page never exceeds),
// or the body's length.
func PlainSize(resp *fasthttp.Response) int {
	body := resp.Body()
	if bytes.EqualFold(resp.Header.ContentEncoding(), []byte("gzip")) && len(body) >= 18 {
		return int(binary.LittleEndian.Uint32(body[len(body)-4:]))
	}
	return len(body)
}
