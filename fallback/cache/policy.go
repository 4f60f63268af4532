package cache

import (
	"bytes"
	"time"
)

// Reason says why an answer was not stored. The empty Reason means it was
// storable. Reasons appear in Cache-Status (detail=) and in metrics, so a
// merchant can see why a page has no copy.
type Reason string

// Reasons an answer is not stored.
const (
	OK              Reason = ""
	NotGET          Reason = "method"
	PersonalRequest Reason = "personal-request" // Authorization, or a cookie not on the anonymous list
	TrackingParam   Reason = "tracking-parameter"
	UncleanPath     Reason = "unclean-path"
	TooManyParams   Reason = "too-many-parameters"
	RequestBody     Reason = "request-body"    // a GET with a body
	PartialRequest  Reason = "partial-request" // X-Requested-With and the like: not the page for everyone
	StatusNotKept   Reason = "status"
	TypeNotKept     Reason = "content-type"
	SetCookie       Reason = "set-cookie"
	Private         Reason = "private"
	NoStore         Reason = "no-store"
	VaryUnkeyable   Reason = "vary" // Vary: * or Vary: Cookie
	TooManyVariants Reason = "vary-headers"
	TooLarge        Reason = "too-large"
	Encoding        Reason = "content-encoding" // a coding other than gzip
	CorruptBody     Reason = "corrupt-body"     // gzip that does not decompress
	CDNErrorPage    Reason = "cdn-error-page"
	Bypassed        Reason = "bypass"         // served under a maintenance bypass
	FailureMarker   Reason = "failure-marker" // a platform's error page with a 2xx status (Markers)
	Shrunk          Reason = "shrunk"         // a page a tenth the size of its copy: kept out, the copy stays
)

// Policy is what one site allows to be stored. It is immutable and safe for
// concurrent use.
type Policy struct {
	// Statuses are the statuses kept; 200 always. Default {200}.
	Statuses map[int]bool
	// ShortLifetime is how long copies of statuses other than 200 live.
	ShortLifetime time.Duration
	// Retention is how long a 200 copy lives after it was last refreshed.
	Retention time.Duration
	// Refresh is cache.refresh: a copy validated less than this ago is
	// not compared with the origin's answer again.
	Refresh time.Duration
	// IgnoreNoStore keeps answers marked Cache-Control: no-store, for
	// platforms that mark every public page so.
	IgnoreNoStore bool
	// MaxObject bounds a copy's decompressed body.
	MaxObject int
	// APIPaths are the path prefixes whose JSON answers may be kept.
	APIPaths [][]byte
}

// maxVary bounds the request headers an answer may Vary on and still be
// kept: each adds variants that dilute the cache.
const maxVary = 4

// CheckKey applies the rules about the request alone: what its key says.
// It reads no header of the answer, so the request path asks it first and
// spares the header rules for answers it would not keep anyway.
func (p *Policy) CheckKey(k *Key) Reason {
	switch {
	case k.Bypass:
		return Bypassed
	case k.Personal:
		return PersonalRequest
	case k.Tracking:
		return TrackingParam
	case k.Unclean:
		return UncleanPath
	case k.Overlong:
		return TooManyParams
	case k.Body:
		return RequestBody
	case k.Partial:
		return PartialRequest
	}
	return OK
}

// Check applies every rule about the exchange itself (the request's key,
// status, headers); the body is checked when the copy is built.
func (p *Policy) Check(k *Key, path []byte, a *Answer) Reason {
	if r := p.CheckKey(k); r != OK {
		return r
	}
	return p.CheckAnswer(path, a)
}

// CheckAnswer applies the rules about the answer's status and headers.
func (p *Policy) CheckAnswer(path []byte, a *Answer) Reason {
	if st := a.Status; st != 200 && !p.Statuses[st] {
		return StatusNotKept
	}
	if !p.allowedType(a.ContentType, path) {
		return TypeNotKept
	}
	// One pass over the fields; the verdict follows the rules' order.
	var cookie, cdn, private, noStore, unkeyable bool
	n := 0
	for i := range a.Header {
		name, v := a.Header[i].Name, a.Header[i].Value
		switch {
		case equalLower(name, "set-cookie"), equalLower(name, "set-cookie2"): // RFC 2965's, obsolete but still a cookie
			cookie = true
		case equalLower(name, "cf-mitigated"), equalLower(name, "x-sucuri-block"):
			cdn = cdn || len(v) > 0
		case equalLower(name, "cache-control"), equalLower(name, "cdn-cache-control"), equalLower(name, "surrogate-control"):
			// Cache-Control, and the fields that speak to a CDN or reverse
			// proxy alone (RFC 9213's CDN-Cache-Control, Edge
			// Architecture's Surrogate-Control): Awning is one, so
			// "private" or "no-store" there keeps the answer out of copies
			// whatever Cache-Control tells browsers.
			private = private || hasToken(v, "private")
			noStore = noStore || hasToken(v, "no-store")
		case equalLower(name, "vary"):
			for tok := range tokens(v) {
				switch {
				case len(tok) == 1 && tok[0] == '*', bytes.EqualFold(tok, []byte("cookie")):
					unkeyable = true
				case bytes.EqualFold(tok, []byte("accept-encoding")):
					// Awning asks origins for gzip only and serves either way.
				default:
					n++
				}
			}
		}
	}
	switch {
	case cookie:
		return SetCookie
	case cdn:
		return CDNErrorPage
	case private:
		return Private
	case noStore && !p.IgnoreNoStore:
		return NoStore
	case unkeyable:
		return VaryUnkeyable
	case n > maxVary:
		return TooManyVariants
	}
	switch ce := a.ContentEncoding; {
	case len(ce) == 0, bytes.EqualFold(ce, []byte("identity")), bytes.EqualFold(ce, []byte("gzip")):
	default:
		return Encoding
	}
	return OK
}

// allowedType reports whether a content type may be kept: pages, styles,
// scripts, images and fonts; JSON only under the site's api_paths.
func (p *Policy) allowedType(ct, path []byte) bool {
	mt, _, _ := bytes.Cut(ct, []byte(";"))
	mt = bytes.TrimSpace(mt)
	for _, t := range keptTypes {
		if len(mt) == len(t) && bytes.EqualFold(mt, []byte(t)) {
			return true
		}
	}
	if hasPrefixFold(mt, "image/") || hasPrefixFold(mt, "font/") {
		return true
	}
	if bytes.EqualFold(mt, []byte("application/json")) || hasSuffixFold(mt, "+json") {
		for _, ap := range p.APIPaths {
			if bytes.HasPrefix(path, ap) {
				return true
			}
		}
	}
	return false
}

var keptTypes = []string{
	"text/html", "application/xhtml+xml", "text/css",
	"text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript",
	"application/font-woff", "application/font-woff2", "application/x-font-ttf",
	"application/x-font-opentype", "application/vnd.ms-fontobject",
}

// compressible reports whether Awning should gzip a body of this type.
func compressible(ct []byte) bool {
	mt, _, _ := bytes.Cut(ct, []byte(";"))
	mt = bytes.TrimSpace(mt)
	switch {
	case hasPrefixFold(mt, "text/"), hasSuffixFold(mt, "+json"), hasSuffixFold(mt, "+xml"),
		bytes.Contains(mt, []byte("javascript")), bytes.Contains(mt, []byte("json")),
		bytes.EqualFold(mt, []byte("image/svg+xml")), bytes.Contains(mt, []byte("font-ttf")),
		bytes.Contains(mt, []byte("opentype")), bytes.Contains(mt, []byte("fontobject")):
		return true
	}
	return false
}

func isHTML(ct []byte) bool {
	mt, _, _ := bytes.Cut(ct, []byte(";"))
	mt = bytes.TrimSpace(mt)
	return bytes.EqualFold(mt, []byte("text/html")) || bytes.EqualFold(mt, []byte("application/xhtml+xml"))
}

// cdnMarkers are fragments of the challenge and error pages CDNs and
// security proxies serve in the origin's place, sometimes with status 200.
// Such a page must never become a shop's last known good copy.
var cdnMarkers = [][]byte{
	[]byte("/cdn-cgi/challenge-platform/"),
	[]byte("cf-browser-verification"),
	[]byte("<title>Just a moment...</title>"),
	[]byte("Attention Required! | Cloudflare"),
	[]byte("_Incapsula_Resource"),
	[]byte("Incapsula incident ID"),
	[]byte("Sucuri WebSite Firewall"),
	[]byte("Reference&#32;&#35;"),                // Akamai's "Access Denied" page
	[]byte("The request could not be satisfied"), // CloudFront
	[]byte("DDoS protection by"),
}

// looksLikeCDNError scans the start of an HTML body for cdnMarkers.
func looksLikeCDNError(body []byte) bool {
	if len(body) > 16<<10 {
		body = body[:16<<10]
	}
	for _, m := range cdnMarkers {
		if bytes.Contains(body, m) {
			return true
		}
	}
	return false
}

// tokens yields the comma-separated tokens of a header value, trimmed.
func tokens(v []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(v) > 0 {
			var tok []byte
			tok, v, _ = bytes.Cut(v, []byte(","))
			tok = bytes.TrimSpace(tok)
			if len(tok) > 0 && !yield(tok) {
				return
			}
		}
	}
}

// hasToken reports whether a Cache-Control value has the directive tok
// (with or without an argument).
func hasToken(v []byte, tok string) bool {
	for t := range tokens(v) {
		name, _, _ := bytes.Cut(t, []byte("="))
		if bytes.EqualFold(bytes.TrimSpace(name), []byte(tok)) {
			return true
		}
	}
	return false
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && bytes.EqualFold(b[:len(p)], []byte(p))
}

func hasSuffixFold(b []byte, s string) bool {
	return len(b) >= len(s) && bytes.EqualFold(b[len(b)-len(s):], []byte(s))
}
