package proxy

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/awningproxy/awning/pages"
	"github.com/valyala/fasthttp"
)

// Awning-Served values (DESIGN.md, "Contract").
var (
	hAwningServed = []byte("Awning-Served")
	vOrigin       = []byte("origin")
	vStale        = []byte("stale")
	vMaintenance  = []byte("maintenance")
	vOutage       = []byte("outage")
	vUnconfirmed  = []byte("unconfirmed")
	vMisdirected  = []byte("misdirected")
)

var (
	hCacheControl     = []byte("Cache-Control")
	hRetryAfter       = []byte("Retry-After")
	hContentLanguage  = []byte("Content-Language")
	hXContentType     = []byte("X-Content-Type-Options")
	hCacheStatus      = []byte("Cache-Status")
	hAge              = []byte("Age")
	hVary             = []byte("Vary")
	hAccept           = []byte("Accept")
	hAcceptEncoding   = []byte("Accept-Encoding")
	hContentEncoding  = []byte("Content-Encoding")
	vAcceptEncoding   = []byte("Accept-Encoding")
	vGzip             = []byte("gzip")
	hXRobotsTag       = []byte("X-Robots-Tag")
	hCSP              = []byte("Content-Security-Policy")
	hAcceptLanguage   = []byte("Accept-Language")
	vNoStore          = []byte("no-store")
	vNoIndex          = []byte("noindex")
	vVaryPage         = []byte("Accept, Accept-Language")
	vVaryPageGzip     = []byte("Accept, Accept-Language, Accept-Encoding")
	vVaryLanguage     = []byte("Accept-Language")
	vVaryLanguageGzip = []byte("Accept-Encoding, Accept-Language")
	vImmutable        = []byte("public, max-age=31536000, immutable")
	vNoSniff          = []byte("nosniff")
	ctHTML            = []byte("text/html; charset=utf-8")
	ctJSON            = []byte("application/json")
	ctText            = []byte("text/plain; charset=utf-8")
)

// answer is a response Awning writes itself, rendered once when the config
// is loaded so that writing it costs no rendering and no allocation.
type answer struct {
	status      int
	contentType []byte
	body        []byte
	// gzip is body gzip-compressed, for clients that take it; nil to
	// always send body. An answer with one says Vary: Accept-Encoding.
	gzip    []byte
	headers [][2][]byte
}

func (a *answer) write(ctx *fasthttp.RequestCtx) {
	r := &ctx.Response
	r.SetStatusCode(a.status)
	r.Header.SetContentTypeBytes(a.contentType)
	for _, h := range a.headers {
		r.Header.SetCanonical(h[0], h[1]) // names in canonical form: TestHeaderNamesCanonical
	}
	if a.gzip != nil && acceptsGzip(ctx) {
		r.Header.SetContentEncodingBytes(vGzip)
		r.SetBodyRaw(a.gzip) // like body, never modified once built
		return
	}
	r.SetBodyRaw(a.body) // a.body is never modified once built
}

// gzipped returns body compressed once at the best level, for an answer
// sent many times (an outage page through an outage), or nil when that
// saves nothing.
func gzipped(body []byte) []byte {
	gz := fasthttp.AppendGzipBytesLevel(nil, body, fasthttp.CompressBestCompression)
	if len(gz) >= len(body) {
		return nil
	}
	return gz
}

// misdirectedAnswer is the 421 for hosts no site claims (RFC 9110 §15.5.20).
// It names no shop and leaks nothing about which hosts are served.
var misdirectedAnswer = &answer{
	status:      fasthttp.StatusMisdirectedRequest,
	contentType: ctHTML,
	body: []byte(`<!doctype html><html lang="en"><head><meta charset="utf-8">` +
		`<meta name="robots" content="noindex"><title>Unknown site</title></head>` +
		`<body><h1>Unknown site</h1><p>This server does not serve the address you asked for.</p></body></html>`),
	headers: [][2][]byte{
		{hAwningServed, vMisdirected},
		{hCacheControl, vNoStore},
		{hXContentType, vNoSniff},
	},
}

// pageAnswers holds a site's outage, maintenance or unconfirmed page as
// answers: one per language order, for browsing and as the answer to a
// form (see pages.Page.FormVariants), and the JSON for API clients.
type pageAnswers struct {
	page *pages.Page
	html []*answer // by pages.Page.Variants index
	form []*answer // by pages.Page.FormVariants index
	json *answer
}

// newPageAnswers builds the answers for p, served with Awning-Served:
// served. p's Retry-After must not depend on the time (an outage page, or
// maintenance without an announced end): it is written once here. The
// unconfirmed page answers 504 and has no Retry-After: retrying an order
// that may have gone through is what it warns against.
func newPageAnswers(p *pages.Page, served []byte) pageAnswers {
	status := fasthttp.StatusServiceUnavailable
	common := [][2][]byte{
		{hAwningServed, served},
		{hCacheControl, vNoStore},
		{hXContentType, vNoSniff},
		{hXRobotsTag, vNoIndex},
		{hVary, vVaryPage},
	}
	if p.Mode() == pages.Unconfirmed {
		status = fasthttp.StatusGatewayTimeout
	} else {
		common = append(common, [2][]byte{hRetryAfter, []byte(strconv.Itoa(p.RetryAfter(time.Time{})))})
	}
	a := pageAnswers{page: p}
	build := func(vs []pages.Variant) []*answer {
		var out []*answer
		for _, v := range vs {
			h := append(slices.Clone(common),
				[2][]byte{hContentLanguage, []byte(v.ContentLanguage)},
				[2][]byte{hCSP, []byte(p.CSP())})
			ans := &answer{status: status, contentType: ctHTML, body: v.HTML, headers: h}
			// Pages go out compressed: a third of the bytes to every shopper
			// through an outage, compressed once per render.
			if ans.gzip = gzipped(v.HTML); ans.gzip != nil {
				for i := range h {
					if bytes.Equal(h[i][0], hVary) {
						h[i][1] = vVaryPageGzip
					}
				}
			}
			out = append(out, ans)
		}
		return out
	}
	a.html = build(p.Variants())
	if p.Mode() == pages.Unconfirmed {
		a.form = a.html // one page, only ever the answer to a form
	} else {
		a.form = build(p.FormVariants())
	}
	h := append(slices.Clone(common), [2][]byte{hContentLanguage, []byte(p.Variants()[0].ContentLanguage)})
	a.json = &answer{status: status, contentType: ctJSON, body: p.AppendJSON(nil, time.Time{}), headers: h}
	return a
}

// write writes the page for ctx: JSON for API clients, else the variant in
// the language order the shopper's Accept-Language asks for, as the answer
// to a form unless the request is a GET or HEAD.
func (a *pageAnswers) write(ctx *fasthttp.RequestCtx, apiPaths [][]byte) {
	if wantsJSON(ctx, apiPaths) {
		a.json.write(ctx)
		return
	}
	i := a.page.Pick(ctx.Request.Header.PeekBytes(hAcceptLanguage))
	if ctx.IsGet() || ctx.IsHead() {
		a.html[i].write(ctx)
	} else {
		a.form[i].write(ctx)
	}
}

// logoAnswer serves a merchant's logo. Its path names its content, so it is
// cached for a year as immutable (RFC 8246).
func logoAnswer(l *pages.Logo) *answer {
	return &answer{
		status:      fasthttp.StatusOK,
		contentType: []byte(l.Type),
		body:        l.Data,
		headers: [][2][]byte{
			{hCacheControl, vImmutable},
			{hXContentType, vNoSniff},
		},
	}
}

// refusal is a plain-text error for a request Awning will not serve.
func refusal(status int) *answer {
	return &answer{
		status:      status,
		contentType: ctText,
		body:        []byte(fasthttp.StatusMessage(status) + "\n"),
		headers:     [][2][]byte{{hCacheControl, vNoStore}},
	}
}

var (
	badRequest       = refusal(fasthttp.StatusBadRequest)
	requestTimeout   = refusal(fasthttp.StatusRequestTimeout)
	bodyTooLarge     = refusal(fasthttp.StatusRequestEntityTooLarge)
	headerTooLarge   = refusal(fasthttp.StatusRequestHeaderFieldsTooLarge)
	wellKnownUnknown = refusal(fasthttp.StatusNotFound)
	// unavailable answers a request Awning itself failed on (a recovered
	// panic): no shop's page can be trusted then, so a neutral one.
	unavailable = &answer{
		status:      fasthttp.StatusServiceUnavailable,
		contentType: ctText,
		body:        []byte("Service temporarily unavailable. Please try again in a moment.\n"),
		headers:     [][2][]byte{{hCacheControl, vNoStore}, {hRetryAfter, []byte("5")}},
	}
)

// parseError answers a request fasthttp could not parse, or one guardConn
// refused; fasthttp closes the connection afterwards.
func (s *Server) parseError(ctx *fasthttp.RequestCtx, err error) {
	s.refused.Add(1)
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		headerTooLarge.write(ctx)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		bodyTooLarge.write(ctx)
	case errors.As(err, &ne) && ne.Timeout():
		requestTimeout.write(ctx)
	default:
		badRequest.write(ctx)
	}
	ctx.SetConnectionClose()
}

// wantsJSON reports whether the shopper is an API client: the path is one of
// the site's api_paths, or the request asks for JSON and not for HTML.
func wantsJSON(ctx *fasthttp.RequestCtx, apiPaths [][]byte) bool {
	path := ctx.Path()
	for _, p := range apiPaths {
		if bytes.HasPrefix(path, p) {
			return true
		}
	}
	accept := ctx.Request.Header.Peek("Accept")
	return bytes.Contains(accept, []byte("json")) && !bytes.Contains(accept, []byte("text/html"))
}
