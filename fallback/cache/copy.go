package cache

import (
	"bytes"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/internal/gunzip"
	"github.com/valyala/fasthttp"
)

// Copy is one stored answer: a last known good copy of a page or asset. Its
// exported fields never change once built, so a Copy is shared freely
// between the requests it serves; the serving forms it builds lazily are
// built once and then shared too.
type Copy struct {
	// Status is the origin's status: 200, or one of Policy.Statuses.
	Status int
	// ContentType is the origin's Content-Type.
	ContentType []byte
	// Header holds the end-to-end headers kept, in canonical form.
	Header [][2][]byte
	// Body is the body as stored: gzip-compressed when Gzipped.
	Body []byte
	// Gzipped says whether Body is gzip.
	Gzipped bool
	// HTML says whether the copy is a page (and may carry a banner).
	HTML bool
	// Vary lists the lower-case request headers the answer varies on
	// (Accept-Encoding aside), with the values they had: the variant.
	Vary, VaryValues []string
	// Fetched is when the origin produced this content.
	Fetched time.Time
	// Lifetime is how long the copy lives after it was last validated.
	Lifetime time.Duration
	// Sum identifies the content, to tell an unchanged answer from a new one.
	Sum uint64
	// Size is the decompressed body size.
	Size int

	validated atomic.Int64 // unix nanos the origin last gave this content
	// wireSum identifies the origin's answer as it came (see WireSum), so
	// an unchanged answer is known without decompressing it; 0 when not
	// known (a copy read from Redis or disk, until the origin answers).
	wireSum    atomic.Uint64
	redisWrote atomic.Int64 // unix nanos this content was last written to Redis
	// clean is the salt of the Markers that found this content free of
	// failure markers (Markers.Salt), 0 when none did yet.
	clean     atomic.Uint64
	plainOnce sync.Once
	plain     []byte                     // Body decompressed, for clients without gzip
	stale     atomic.Pointer[staleForms] // for serving stale (stale.go)
	staleMu   sync.Mutex
}

// Validated returns when the origin last gave this content.
func (c *Copy) Validated() time.Time { return time.Unix(0, c.validated.Load()) }

// ValidatedWithin reports whether the origin gave this content less than d
// before now.
func (c *Copy) ValidatedWithin(now time.Time, d time.Duration) bool {
	return now.UnixNano()-c.validated.Load() < int64(d)
}

// CleanFor reports whether Markers with salt found this content free of
// failure markers (MarkClean): an origin answer byte for byte this copy's
// body needs no look of its own.
func (c *Copy) CleanFor(salt uint64) bool { return salt != 0 && c.clean.Load() == salt }

// MarkClean records that Markers with salt found this content free of
// failure markers.
func (c *Copy) MarkClean(salt uint64) { c.clean.Store(salt) }

// Expired reports whether the copy outlived its lifetime at now.
func (c *Copy) Expired(now time.Time) bool {
	return now.UnixNano()-c.validated.Load() > int64(c.Lifetime)
}

// droppedHeaders are response headers a copy does not keep: framing and
// caching headers Awning rewrites when it serves the copy, cookies (an
// answer with them is never stored anyway), and per-exchange noise.
var droppedHeaders = map[string]bool{
	"connection": true, "keep-alive": true, "transfer-encoding": true, "trailer": true,
	"upgrade": true, "proxy-connection": true, "te": true,
	"content-length": true, "content-encoding": true, "content-type": true,
	"cache-control": true, "expires": true, "pragma": true, "age": true, "date": true,
	"vary": true, "set-cookie": true, "set-cookie2": true,
	"server-timing": true, "alt-svc": true, "via": true, "x-cache": true, "x-cache-hits": true,
	"cf-ray": true, "cf-cache-status": true, "x-served-by": true, "x-timer": true,
	"awning-served": true, "cache-status": true, "nel": true, "report-to": true,
	// An instruction for the one answer it came with (sign out, wipe
	// storage): served from a copy it would reach whoever asks next.
	"clear-site-data": true,
}

var seed = maphash.MakeSeed()

// Build makes a Copy of an origin answer that passed Policy.Check. req is
// the request it answered (its Vary headers become the variant). It checks
// the body, which Check could not: complete gzip, size, CDN error pages.
// The returned Copy owns its bytes; a may be reused.
func (p *Policy) Build(k *Key, req *fasthttp.Request, a *Answer, now time.Time) (*Copy, Reason) {
	c := &Copy{
		Status:      a.Status,
		ContentType: append([]byte(nil), a.ContentType...),
		Fetched:     now,
		Lifetime:    p.Retention,
	}
	if c.Status != 200 {
		c.Lifetime = p.ShortLifetime
	}
	c.HTML = isHTML(c.ContentType)

	raw := a.Body
	var plain []byte
	if a.Gzip() {
		// Bounded: a few hundred KB of gzip can stand for gigabytes.
		var err error
		plain, err = gunzip.Append(nil, raw, p.MaxObject)
		switch {
		case errors.Is(err, gunzip.ErrTooLarge):
			return nil, TooLarge
		case err != nil:
			return nil, CorruptBody
		}
		c.Body, c.Gzipped = append([]byte(nil), raw...), true
	} else {
		if len(raw) > p.MaxObject {
			return nil, TooLarge
		}
		plain = raw
		if compressible(c.ContentType) && len(raw) > 0 {
			c.Body, c.Gzipped = fasthttp.AppendGzipBytesLevel(nil, raw, fasthttp.CompressDefaultCompression), true
		} else {
			c.Body = append([]byte(nil), raw...)
		}
	}
	c.Size = len(plain)
	if c.HTML && looksLikeCDNError(plain) {
		return nil, CDNErrorPage
	}

	conn := a.Peek("connection")
	for i := range a.Header {
		name, v := a.Header[i].Name, a.Header[i].Value
		if droppedHeaders[strings.ToLower(string(name))] {
			continue
		}
		if len(conn) > 0 && connectionNames(conn, name) {
			continue // hop-by-hop by the origin's word (RFC 9110 §7.6.1), as the relay drops it
		}
		c.Header = append(c.Header, [2][]byte{canonical(name), append([]byte(nil), v...)})
	}
	for v := range a.Values("vary") {
		for tok := range tokens(v) {
			name := strings.ToLower(string(tok))
			if name == "accept-encoding" {
				continue
			}
			if len(req.Header.PeekAll(name)) > 1 {
				// The request named two values for a header the page
				// varies on, and the copy would be kept under the first;
				// the origin may have rendered any (Go and Rack read the
				// last, PHP the lines joined). Browsers never repeat one.
				return nil, VaryUnkeyable
			}
			if name == "accept-language" && !renderedIn(a.Peek("content-language"), k.Lang) {
				// The copy would be kept as the k.Lang page, but the origin
				// says it rendered another language: it negotiated
				// differently from the key ("nl-BE" is not "nl" to an
				// origin that matches exact tags).
				return nil, VaryUnkeyable
			}
			c.Vary = append(c.Vary, name)
			c.VaryValues = append(c.VaryValues, requestVaryValue(req, name, k.Lang))
		}
	}

	var h maphash.Hash
	h.SetSeed(seed)
	h.Write([]byte{byte(c.Status >> 8), byte(c.Status)})
	h.Write(c.ContentType)
	h.Write(plain)
	c.Sum = h.Sum64()
	c.validated.Store(now.UnixNano())
	c.wireSum.Store(WireSum(a))
	return c, OK
}

// canonical returns a copy of a header name in canonical form
// ("content-language" → "Content-Language"), as copies keep them.
func canonical(name []byte) []byte {
	out := make([]byte, len(name))
	upper := true
	for i, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		out[i] = c
		upper = c == '-'
	}
	return out
}

// renderedIn reports whether an answer's Content-Language allows it to be
// the copy for the site language lang: it is absent (nothing says
// otherwise), lang is none of the site's, or one of its tags has lang as
// its primary subtag.
func renderedIn(contentLanguage []byte, lang string) bool {
	if len(contentLanguage) == 0 || lang == "" {
		return true
	}
	for tag := range tokens(contentLanguage) {
		primary, _, _ := bytes.Cut(tag, []byte("-"))
		if bytes.EqualFold(primary, []byte(lang)) {
			return true
		}
	}
	return false
}

// connectionNames reports whether name is one of the comma-separated
// tokens of a Connection header value.
func connectionNames(conn, name []byte) bool {
	for tok := range tokens(conn) {
		if bytes.EqualFold(tok, name) {
			return true
		}
	}
	return false
}

// WireSum identifies an origin answer as it came: status, Content-Type,
// Content-Encoding, Vary and the body's bytes as sent, compressed or not. An
// answer with the WireSum of the answer a copy was built from would build
// the same copy, so Cache.Revalidate can take it for unchanged without the
// work of Build (decompressing and hashing the page, copying its headers).
// Never 0.
func WireSum(a *Answer) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	st := a.Status
	h.Write([]byte{byte(st >> 8), byte(st)})
	h.Write(a.ContentType)
	h.WriteByte(0)
	h.Write(a.ContentEncoding)
	for v := range a.Values("vary") {
		h.WriteByte(0)
		h.Write(v)
	}
	h.WriteByte(0)
	h.Write(a.Body)
	return h.Sum64() | 1
}

// requestVaryValue is what the request says for a header the answer varies
// on: Accept-Language reduced to the site's languages, others trimmed.
func requestVaryValue(req *fasthttp.Request, name, lang string) string {
	if name == "accept-language" {
		return lang
	}
	return string(bytes.TrimSpace(req.Header.Peek(name)))
}

// MatchesRequest reports whether req (with lang, its negotiated site
// language) is this copy's variant. It does not allocate.
func (c *Copy) MatchesRequest(req *fasthttp.Request, lang string) bool { return c.matches(req, lang) }

// matches reports whether req is the copy's variant. It does not allocate.
func (c *Copy) matches(req *fasthttp.Request, lang string) bool {
	for i, name := range c.Vary {
		want := c.VaryValues[i]
		if name == "accept-language" {
			if lang != want {
				return false
			}
			continue
		}
		if string(bytes.TrimSpace(req.Header.Peek(name))) != want {
			return false
		}
	}
	return true
}

// PlainBody returns the body decompressed, built once.
func (c *Copy) PlainBody() []byte {
	if !c.Gzipped {
		return c.Body
	}
	c.plainOnce.Do(func() {
		// Checked to decode to Size bytes at Build (or when read from Redis).
		c.plain, _ = gunzip.Append(make([]byte, 0, c.Size), c.Body, c.Size)
	})
	return c.plain
}

// Serve returns the body to send for this copy as it is (a copy served
// stale with a banner is WriteStale's): gzip when the client accepts it
// and the copy is compressed. Every form is built once per copy and then
// shared, so serving a copy costs no compression and no allocation.
func (c *Copy) Serve(acceptGzip bool) (body []byte, gzipped bool) {
	if c.Gzipped && acceptGzip {
		return c.Body, true
	}
	return c.PlainBody(), false
}

func indexFold(s, sep []byte) int {
	for i := 0; i+len(sep) <= len(s); i++ {
		if bytes.EqualFold(s[i:i+len(sep)], sep) {
			return i
		}
	}
	return -1
}
