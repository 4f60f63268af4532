package cache

import (
	"bytes"
	"path"
	"strings"

	"github.com/awningproxy/awning/sites"
	"github.com/valyala/fasthttp"
)

// KeyPolicy builds cache keys for one site. It is immutable and safe for
// concurrent use.
//
// It is the site's name and a pointer to rules that sites with the same
// settings share (Named): on a node with thousands of shops, building a
// key then reads the site's name, kept where the request path reads
// anyway, and the rules, which every request reads, stay in cache.
type KeyPolicy struct {
	site []byte
	*keyRules
}

// keyRules are a KeyPolicy's compiled settings, read-only.
type keyRules struct {
	ignoreExact  map[string]bool
	ignorePrefix []string // "utm_*" as "utm_"
	ignoreGlobs  []string // anything else, matched with path.Match
	anonExact    map[string]bool
	anonPrefix   []string
	anonGlobs    []string
	languages    []string
}

// KeyConfig is what a site's keys are built from.
type KeyConfig struct {
	// Site is the site's name, the first part of every key.
	Site string
	// IgnoreQuery are globs (path.Match) of the query parameters left out
	// of keys: tracking parameters.
	IgnoreQuery []string
	// AnonymousCookies are globs of the only cookie names a request may
	// carry and still be anonymous: cookies that cannot personalise a page
	// (analytics, consent). Any other cookie makes the request personal.
	AnonymousCookies []string
	// Languages are the site's page languages, its main one first.
	Languages []string
}

// NewKeyPolicy returns the key policy of a site.
func NewKeyPolicy(cfg KeyConfig) *KeyPolicy {
	p := &KeyPolicy{site: []byte(cfg.Site), keyRules: &keyRules{ignoreExact: map[string]bool{}, anonExact: map[string]bool{}, languages: cfg.Languages}}
	p.ignorePrefix, p.ignoreGlobs = splitGlobs(cfg.IgnoreQuery, p.ignoreExact)
	p.anonPrefix, p.anonGlobs = splitGlobs(cfg.AnonymousCookies, p.anonExact)
	return p
}

// Named returns p for the site named name, which the caller keeps
// unchanged for as long as the policy is used. The compiled patterns are
// shared (they are read-only), so thousands of sites with the same
// settings cost one set of them, and the request path reads one; the name
// can live where the request path reads anyway, so that building a key
// reads nothing else of the site.
func (p *KeyPolicy) Named(name []byte) KeyPolicy {
	return KeyPolicy{site: name, keyRules: p.keyRules}
}

// splitGlobs sorts patterns into exact names, plain prefixes ("utm_*") and
// general globs, so the common cases cost a map lookup or a prefix test.
func splitGlobs(globs []string, exact map[string]bool) (prefixes, general []string) {
	for _, g := range globs {
		switch {
		case !strings.ContainsAny(g, `*?[\`):
			exact[g] = true
		case strings.HasSuffix(g, "*") && !strings.ContainsAny(g[:len(g)-1], `*?[\`):
			prefixes = append(prefixes, g[:len(g)-1])
		default:
			general = append(general, g)
		}
	}
	return prefixes, general
}

func matchGlobs(name []byte, exact map[string]bool, prefixes, general []string) bool {
	if exact[string(name)] {
		return true
	}
	for _, p := range prefixes {
		if bytes.HasPrefix(name, []byte(p)) {
			return true
		}
	}
	for _, g := range general {
		if ok, _ := path.Match(g, string(name)); ok {
			return true
		}
	}
	return false
}

// Key is a request's cache key and what it says about storing.
type Key struct {
	// Primary is site, canonical host, path and normalized query: what
	// every variant of a page shares. It aliases the buffer given to Build.
	Primary []byte
	// Lang is the site language that best matches Accept-Language, used
	// for answers that Vary on it.
	Lang string
	// Personal: the request carries Authorization, or a cookie that is not
	// on the site's anonymous list. Its answer is never stored and never
	// shared with another request; it may be served an anonymous copy.
	Personal bool
	// Tracking: a dropped (ignore_query) parameter was present. The origin
	// got it and may have reflected it, so the answer is not stored; the
	// request may be served the copy stored under the clean key.
	Tracking bool
	// Unclean: the path has dot segments, doubled slashes or encoded
	// separators, which origins resolve in different ways; its answer is
	// not stored.
	Unclean bool
	// Overlong: too many query parameters to normalize; not stored.
	Overlong bool
	// Body: the request carries a body (a "fat" GET). Awning does not
	// forward it, but an answer to a request that tried to say more than
	// its URL is not kept for everyone.
	Body bool
	// Partial: the request asks for part of a page, or another rendering
	// of it, in a header that frameworks read without saying so in Vary
	// (partialHeaders): its answer is not the page for everyone.
	Partial bool
	// Bypass: the request passed maintenance (an allowed address or the
	// bypass cookie); it sees a shop closed to others, so its answer is
	// never stored or shared. Set by the caller.
	Bypass bool
}

// Copy sets *dst to k, a key p built, with Primary copied into buf[:0],
// so that dst outlives the buffer k's Primary aliases (often a handler's
// stack). Nothing of k's memory flows into dst, not even Lang, which is
// taken from p's own languages: escape analysis then keeps k's buffer on
// the stack. So every field is named here, and TestKeyCopyKeepsEveryFlag
// holds Copy to the struct: a flag dropped here would let a copy be kept
// of what the flag forbids.
func (p *KeyPolicy) Copy(dst, k *Key, buf []byte) {
	lang := ""
	for _, l := range p.languages {
		if l == k.Lang {
			lang = l
			break
		}
	}
	*dst = Key{
		Primary: append(buf[:0], k.Primary...), Lang: lang,
		Personal: k.Personal, Tracking: k.Tracking, Unclean: k.Unclean, Overlong: k.Overlong, Body: k.Body, Partial: k.Partial,
		Bypass: k.Bypass,
	}
}

// Storable reports whether the key allows keeping the answer. Only
// requests with a storable key share an origin request (collapsing).
func (k *Key) Storable() bool {
	return !k.Personal && !k.Tracking && !k.Unclean && !k.Overlong && !k.Body && !k.Partial && !k.Bypass
}

// maxParams bounds the query parameters a key normalizes without
// allocating; requests with more are served but their answers not stored.
const maxParams = 32

var (
	hAcceptLanguage = []byte("Accept-Language")
)

// Build computes the key of req, appending Primary to buf[:0]. It does not
// allocate when buf has room.
func (p *KeyPolicy) Build(buf []byte, req *fasthttp.Request) Key {
	k := Key{Primary: buf[:0]}
	k.Primary = append(k.Primary, p.site...)
	k.Primary = append(k.Primary, 0)
	k.Primary = appendHost(k.Primary, req.Host())
	k.Primary = append(k.Primary, 0)

	uri := req.Header.RequestURI()
	if len(uri) > 0 && uri[0] != '/' {
		uri = req.URI().RequestURI() // absolute-form: keep path and query
	}
	rawPath, rawQuery, _ := bytes.Cut(uri, []byte("?"))
	rawQuery, _, _ = bytes.Cut(rawQuery, []byte("#"))
	k.Unclean = !cleanPath(rawPath)
	k.Primary = append(k.Primary, rawPath...)
	k.Primary, k.Tracking, k.Overlong = p.appendQuery(k.Primary, rawQuery)

	k.Personal = p.personal(req)
	k.Body = hasBody(req)
	k.Partial = partial(req)
	k.Lang = p.negotiate(req.Header.PeekBytes(hAcceptLanguage))
	return k
}

// appendHost appends the canonical form of the request's host, the form
// routing matched. Every key names its host: one host of a site may
// redirect to another (www to the apex), and a copy of that redirect must
// never answer for the other host.
func appendHost(dst, host []byte) []byte {
	start := len(dst)
	dst, ok := sites.AppendCanonical(dst, host)
	if !ok {
		return append(dst[:start], '?') // no usable host: a key of its own
	}
	return dst
}

// personal reports whether req carries credentials or a cookie that is
// not known to be anonymous. Cookies are read as origins read them: PHP
// and others split the Cookie header at commas as well as semicolons, so
// "theme=dark, PHPSESSID=1" carries a session.
func (p *KeyPolicy) personal(req *fasthttp.Request) bool {
	// Any Authorization field, even an empty one: Peek sees only the
	// first, and "Authorization: " followed by a second one with
	// credentials is a request an origin may answer for that user.
	if len(req.Header.PeekAll(fasthttp.HeaderAuthorization)) > 0 {
		return true
	}
	for name, value := range req.Header.Cookies() {
		if !p.anonymousCookie(name, value) {
			return true
		}
	}
	return false
}

// anonymousCookie reports whether a cookie as fasthttp parsed it (split at
// semicolons) names only anonymous cookies. A comma starts another cookie,
// as origins that split at commas read it: "dark, PHPSESSID=1" is two. A
// part without "=" there is a name without a value (or a value without a
// name), which carries no session: "consentid:1,consent:yes" is one
// cookie's value (CookieYes writes its consent so). A cookie with no name
// at all ("Cookie: PHPSESSID") is named by its value, as PHP takes it.
func (p *KeyPolicy) anonymousCookie(name, value []byte) bool {
	if len(name) == 0 {
		for part := range bytes.SplitSeq(value, []byte(",")) {
			n, _, _ := bytes.Cut(part, []byte("="))
			if !p.anonymousName(n) {
				return false
			}
		}
		return true
	}
	if i := bytes.LastIndexByte(name, ','); i >= 0 {
		name = name[i+1:] // "PHPSESSID, _ga=1": only _ga has a value
	}
	if !p.anonymousName(name) {
		return false
	}
	_, rest, _ := bytes.Cut(value, []byte(",")) // the first part is this cookie's own value, "=" or not
	for part := range bytes.SplitSeq(rest, []byte(",")) {
		if n, _, ok := bytes.Cut(part, []byte("=")); ok && !p.anonymousName(n) {
			return false
		}
	}
	return true
}

// anonymousName reports whether one cookie name (untrimmed) is on the
// anonymous list. An empty name is not: nothing says what an origin makes
// of it.
func (p *KeyPolicy) anonymousName(name []byte) bool {
	name = bytes.Trim(name, " \t")
	return len(name) > 0 && matchGlobs(name, p.anonExact, p.anonPrefix, p.anonGlobs)
}

// partialHeaders are request headers with which common frameworks render
// something other than the page its URL names, and rarely say so in Vary:
// Rails, Laravel and Symfony drop the layout for X-Requested-With
// (request.xhr?, $request->ajax()), pjax, htmx, Turbo, Unpoly and Inertia
// answer a fragment or JSON-in-HTML for theirs. Forwarded as they are, but
// the answer is never kept as the page.
var partialHeaders = [][]byte{
	[]byte("X-Requested-With"), []byte("X-PJAX"), []byte("HX-Request"),
	[]byte("Turbo-Frame"), []byte("X-Up-Target"), []byte("X-Inertia"),
}

// partial reports whether req carries one of partialHeaders.
func partial(req *fasthttp.Request) bool {
	for _, h := range partialHeaders {
		if req.Header.PeekBytes(h) != nil {
			return true
		}
	}
	return false
}

// hasBody reports whether a request carries a body: a Content-Length
// above 0, a chunked body, or body bytes however they came.
func hasBody(req *fasthttp.Request) bool {
	return len(req.Body()) > 0 || req.Header.ContentLength() > 0 || req.Header.ContentLength() == -1
}

// appendQuery appends "?" and the query's parameters sorted by name (stable,
// so repeated names keep their order), without ignored ones. Parameters keep
// their original encoding: the origin saw exactly those bytes.
func (p *KeyPolicy) appendQuery(dst, q []byte) (out []byte, tracking, overlong bool) {
	if len(q) == 0 {
		return dst, false, false
	}
	var params [maxParams][]byte
	n := 0
	for len(q) > 0 {
		var param []byte
		param, q, _ = bytes.Cut(q, []byte("&"))
		if len(param) == 0 {
			continue
		}
		name, _, _ := bytes.Cut(param, []byte("="))
		if matchGlobs(name, p.ignoreExact, p.ignorePrefix, p.ignoreGlobs) {
			tracking = true
			continue
		}
		if n == maxParams {
			overlong = true
			break
		}
		params[n] = param
		n++
	}
	// Insertion sort by name: stable, allocation-free, and n is small.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && paramName(params[j]) < paramName(params[j-1]); j-- {
			params[j], params[j-1] = params[j-1], params[j]
		}
	}
	for i := 0; i < n; i++ {
		if i == 0 {
			dst = append(dst, '?')
		} else {
			dst = append(dst, '&')
		}
		dst = append(dst, params[i]...)
	}
	return dst, tracking, overlong
}

func paramName(param []byte) string {
	name, _, _ := bytes.Cut(param, []byte("="))
	return string(name) // compared only; the compiler does not allocate
}

// cleanPath reports whether a raw path is in the one form every server
// resolves the same way: no dot segments, no empty segments, no encoded
// dots, slashes or backslashes, no backslashes.
func cleanPath(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			return false
		case '/':
			rest := p[i+1:]
			if bytes.HasPrefix(rest, []byte("/")) || rest2(rest, ".") || rest2(rest, "..") {
				return false
			}
		case '%':
			if i+2 < len(p) {
				switch [2]byte{p[i+1] | 0x20, p[i+2] | 0x20} {
				case [2]byte{'2', 'e'}, [2]byte{'2', 'f'}, [2]byte{'5', 'c'}, [2]byte{'0', '0'}:
					return false
				}
			}
		}
	}
	return true
}

// rest2 reports whether rest starts with the segment seg ("." or "..")
// followed by the end or a slash.
func rest2(rest []byte, seg string) bool {
	return bytes.HasPrefix(rest, []byte(seg)) && (len(rest) == len(seg) || rest[len(seg)] == '/' || rest[len(seg)] == '?')
}

// negotiate returns the site language that best matches an Accept-Language
// header, or "" when none does. Matching is by primary subtag ("en-GB"
// matches "en"); "*" matches the site's main language. It does not allocate.
func (p *KeyPolicy) negotiate(al []byte) string {
	best, bestQ := "", 0
	for len(al) > 0 {
		var item []byte
		item, al, _ = bytes.Cut(al, []byte(","))
		tag, params, _ := bytes.Cut(item, []byte(";"))
		tag = bytes.TrimSpace(tag)
		q := parseQ(params)
		if q <= bestQ {
			continue
		}
		primary, _, _ := bytes.Cut(tag, []byte("-"))
		for i, l := range p.languages {
			if bytes.EqualFold(primary, []byte(l)) || (len(tag) == 1 && tag[0] == '*' && i == 0) {
				best, bestQ = l, q
				break
			}
		}
	}
	return best
}

// parseQ reads "q=0.8" among ";"-separated parameters as thousandths; a
// missing q is 1000, a malformed one 0.
func parseQ(params []byte) int {
	for len(params) > 0 {
		var param []byte
		param, params, _ = bytes.Cut(params, []byte(";"))
		param = bytes.TrimSpace(param)
		if len(param) < 2 || (param[0]|0x20) != 'q' || param[1] != '=' {
			continue
		}
		v := param[2:]
		if len(v) == 0 || len(v) > 5 {
			return 0
		}
		q, scale := 0, 1000
		seenDot := false
		for _, c := range v {
			switch {
			case c == '.' && !seenDot:
				seenDot = true
			case c >= '0' && c <= '9':
				if !seenDot {
					q = q*10 + int(c-'0')*1000
				} else {
					scale /= 10
					q += int(c-'0') * scale
				}
			default:
				return 0
			}
		}
		return min(q, 1000)
	}
	return 1000
}
