package proxy

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/valyala/fasthttp"
)

// Header handling toward the origin, by class.
const (
	hdrKeep = iota
	// hdrHop: hop-by-hop (RFC 9110 §7.6.1) or framing that fasthttp redoes
	// for the outbound request; never forwarded.
	hdrHop
	// hdrNever: headers that would let a shopper change the page an origin
	// renders without changing its cache key, or that Awning sets itself.
	hdrNever
	// hdrUntrusted: client address and scheme claims, believed only from
	// config trusted_proxies.
	hdrUntrusted
)

// headerRule is one row of the request header table.
type headerRule struct {
	name  string // normalised; "x-forwarded-*" stands for every name it starts
	class uint8
	why   string
}

// requestHeaderRules is the one table of request headers Awning does not
// pass on as a client sent them, by normalised name (lower case, "_" read
// as "-"). Names with "_" are dropped before the table is read: nginx drops
// them by default, and origins that read headers through CGI variables
// (PHP's $_SERVER) cannot tell X_Forwarded_Host from X-Forwarded-Host, so
// an underscore spelling would slip past every rule here. docs/caching.md
// lists the same table (TestHeaderTableDocumented holds them equal).
var requestHeaderRules = []headerRule{
	{"connection", hdrHop, "hop-by-hop"},
	{"keep-alive", hdrHop, "hop-by-hop"},
	{"proxy-connection", hdrHop, "hop-by-hop"},
	{"proxy-authenticate", hdrHop, "hop-by-hop"},
	{"proxy-authorization", hdrHop, "hop-by-hop"},
	{"te", hdrHop, "hop-by-hop"},
	{"trailer", hdrHop, "hop-by-hop"},
	{"transfer-encoding", hdrHop, "framing: Awning reads the whole body and frames its own request"},
	{"upgrade", hdrHop, "hop-by-hop"},
	{"expect", hdrHop, "Awning has already read the whole body"},
	{"host", hdrHop, "Awning sends the site's canonical host (or origin.host_header)"},
	{"content-length", hdrHop, "framing: Awning frames its own request"},

	{"x-forwarded-for", hdrUntrusted, "client address: Awning appends the peer"},
	{"x-forwarded-proto", hdrUntrusted, "scheme: Awning sets its own"},
	{"x-forwarded-scheme", hdrUntrusted, "scheme"},
	{"x-forwarded-ssl", hdrUntrusted, "scheme"},
	{"front-end-https", hdrUntrusted, "scheme"},
	{"x-url-scheme", hdrUntrusted, "scheme"},
	{"forwarded", hdrUntrusted, "client address, scheme and host (RFC 7239)"},
	{"x-client-ip", hdrUntrusted, "client address"},
	{"true-client-ip", hdrUntrusted, "client address"},
	{"cf-connecting-ip", hdrUntrusted, "client address"},
	{"fastly-client-ip", hdrUntrusted, "client address"},
	{"x-cluster-client-ip", hdrUntrusted, "client address"},
	{"client-ip", hdrUntrusted, "client address"},

	{"x-forwarded-*", hdrNever, "host, port, prefix, server: Awning sets X-Forwarded-Host itself; the rest rewrite URLs in pages"},
	{"x-real-ip", hdrNever, "Awning sets its own"},
	{"x-host", hdrNever, "read as the host by some frameworks"},
	{"x-http-host-override", hdrNever, "read as the host by some frameworks"},
	{"x-original-*", hdrNever, "X-Original-URL and -Host rewrite the request on IIS, Symfony and Laravel"},
	{"x-rewrite-*", hdrNever, "X-Rewrite-URL rewrites the path on IIS and Symfony"},
	{"x-http-method-override", hdrNever, "turns a GET into another method"},
	{"x-http-method", hdrNever, "turns a GET into another method"},
	{"x-method-override", hdrNever, "turns a GET into another method"},
	{"x-middleware-*", hdrNever, "Next.js internals: x-middleware-subrequest skips middleware (CVE-2025-29927)"},
	{"x-invoke-*", hdrNever, "Next.js internal routing"},
	{"x-now-route-matches", hdrNever, "Next.js internal routing (CVE-2024-46982)"},
	{"x-envoy-*", hdrNever, "Envoy's internal routing headers"},
	{"awning-served", hdrNever, "Awning's own"},
}

// requestHeaderClass and requestHeaderPrefixes are requestHeaderRules
// prepared for lookups.
var requestHeaderClass, requestHeaderPrefixes = func() (map[string]uint8, []headerRule) {
	exact := map[string]uint8{}
	var prefixes []headerRule
	for _, r := range requestHeaderRules {
		if p, ok := strings.CutSuffix(r.name, "*"); ok {
			prefixes = append(prefixes, headerRule{name: p, class: r.class})
			continue
		}
		exact[r.name] = r.class
	}
	return exact, prefixes
}()

// classifyRequest returns the class of a request header name: hdrNever
// for any name with "_", else its row in requestHeaderRules (an exact name
// before a prefix), else hdrKeep. It does not allocate.
func classifyRequest(name []byte) uint8 {
	if bytes.IndexByte(name, '_') >= 0 {
		return hdrNever
	}
	var buf [64]byte
	n := min(len(name), len(buf))
	for i, c := range name[:n] {
		buf[i] = lower(c)
	}
	key := buf[:n]
	if len(name) <= len(buf) {
		if c, ok := requestHeaderClass[string(key)]; ok {
			return c
		}
	}
	for _, p := range requestHeaderPrefixes {
		if len(key) > len(p.name) && string(key[:len(p.name)]) == p.name {
			return p.class
		}
	}
	return hdrKeep
}

// responseHopHeaders are removed from origin answers before they reach the
// shopper; fasthttp writes its own framing.
var responseHeaderClass = map[string]uint8{
	"connection":         hdrHop,
	"keep-alive":         hdrHop,
	"proxy-connection":   hdrHop,
	"proxy-authenticate": hdrHop,
	"te":                 hdrHop,
	"trailer":            hdrHop,
	"transfer-encoding":  hdrHop,
	"upgrade":            hdrHop,
	"content-length":     hdrHop,
	"awning-served":      hdrHop,
	// Alt-Svc names other endpoints for the connection the browser is on,
	// which is Awning's, not the origin's: an origin's (or its CDN's)
	// would send browsers around Awning for weeks (ma=), past every
	// fallback. Awning sets its own when it serves HTTP/3 (RFC 7838 §3).
	"alt-svc": hdrHop,
}

var (
	hXForwardedFor   = []byte("X-Forwarded-For")
	hXForwardedProto = []byte("X-Forwarded-Proto")
	vHTTPS           = []byte("https")
	vHTTP            = []byte("http")
)

// classify looks name up in table, lower-casing it on the stack.
func classify(table map[string]uint8, name []byte) uint8 {
	var buf [32]byte
	if len(name) > len(buf) {
		return hdrKeep // every listed name is shorter
	}
	for i, c := range name {
		buf[i] = lower(c)
	}
	return table[string(buf[:len(name)])]
}

// listedInConnection reports whether name is one of the comma-separated
// tokens of a Connection header value: those headers are hop-by-hop too
// (RFC 9110 §7.6.1).
func listedInConnection(conn, name []byte) bool {
	for len(conn) > 0 {
		i := bytes.IndexByte(conn, ',')
		var tok []byte
		if i < 0 {
			tok, conn = conn, nil
		} else {
			tok, conn = conn[:i], conn[i+1:]
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == len(name) && len(tok) > 0 && bytes.EqualFold(tok, name) {
			return true
		}
	}
	return false
}

// outbound describes what buildOutbound needs beyond the inbound request.
type outbound struct {
	host    []byte     // Host toward the origin
	fwdHost []byte     // X-Forwarded-Host: the shop host the shopper used
	peer    netip.Addr // the connection's peer
	client  netip.Addr // the shopper, after trusted proxies
	trusted bool       // peer is a trusted proxy
	tls     bool       // the shopper's connection is TLS
}

// appendOutbound appends to dst the head of the request Awning sends the
// origin for the shopper's request in: the request line with the target
// exactly as the shopper sent it (origin-form), Host, in's end-to-end
// headers as requestHeaderRules allow, and the forwarding headers Awning
// sets itself. It never mutates in: the inbound request is what the rest
// of the pipeline (cache key, maintenance bypass, logs) reasons about.
// gzip asks the origin for gzip only, in place of the shopper's
// Accept-Encoding. The body, for methods other than GET and HEAD, is in's
// body, sent after the head as it is; a GET or HEAD never carries its body
// on: an origin that ignores it would read it as the next request on a
// pooled connection (CL.0 desync), and one that reads it would answer a
// page its URL does not name. (The framing guard refuses such requests;
// this holds anyway.)
func appendOutbound(dst []byte, in *fasthttp.Request, o *outbound, gzip bool) []byte {
	dst = append(dst, in.Header.Method()...)
	dst = append(dst, ' ')
	uri := in.Header.RequestURI()
	if len(uri) > 0 && uri[0] != '/' && !(len(uri) == 1 && uri[0] == '*') {
		// absolute-form (RFC 9112 §3.2.2): the origin gets origin-form.
		uri = in.URI().RequestURI()
	}
	dst = append(dst, uri...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, o.host...)
	dst = append(dst, "\r\n"...)

	conn := in.Header.Peek("Connection")
	var xff, proto []byte
	for k, v := range in.Header.All() {
		switch classifyRequest(k) {
		case hdrHop, hdrNever:
			continue
		case hdrUntrusted:
			if !o.trusted {
				continue
			}
			if bytes.EqualFold(k, hXForwardedFor) {
				xff = v // combined with the peer below
				continue
			}
			if bytes.EqualFold(k, hXForwardedProto) {
				proto = v
				continue
			}
		}
		if len(conn) > 0 && listedInConnection(conn, k) {
			continue
		}
		if gzip && len(k) == len(hAcceptEncoding) && bytes.EqualFold(k, hAcceptEncoding) {
			continue
		}
		if len(k) == len(strCookie) && bytes.EqualFold(k, strCookie) && hasOwnCookie(in) {
			dst = appendCookiesWithout(dst, in) // Awning's own; the origin has no use for them
			continue
		}
		dst = appendField(dst, k, v)
	}

	if o.peer.IsValid() { // not for Awning's own requests (warming)
		dst = append(dst, "X-Forwarded-For: "...)
		if len(xff) > 0 {
			dst = append(append(dst, xff...), ", "...)
		}
		dst = o.peer.AppendTo(dst)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "X-Forwarded-Proto: "...)
	switch {
	case len(proto) > 0:
		dst = append(dst, proto...)
	case o.tls:
		dst = append(dst, vHTTPS...)
	default:
		dst = append(dst, vHTTP...)
	}
	dst = append(dst, "\r\nX-Forwarded-Host: "...)
	dst = append(dst, o.fwdHost...)
	dst = append(dst, "\r\n"...)
	if o.client.IsValid() {
		dst = append(dst, "X-Real-IP: "...)
		dst = o.client.AppendTo(dst)
		dst = append(dst, "\r\n"...)
	}
	if gzip {
		dst = append(dst, "Accept-Encoding: gzip\r\n"...)
	}
	if !in.Header.IsGet() && !in.Header.IsHead() {
		dst = append(dst, "Content-Length: "...)
		dst = fasthttp.AppendUint(dst, len(in.Body()))
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

var strCookie = []byte("Cookie")

func appendField(dst, k, v []byte) []byte {
	dst = append(dst, k...)
	dst = append(dst, ": "...)
	dst = append(dst, v...)
	return append(dst, "\r\n"...)
}

// appendCookiesWithout appends in's Cookie header without Awning's own
// cookies (ownCookies), as fasthttp serializes cookies (the form the cache
// key was judged on), or nothing when no other cookie is left.
func appendCookiesWithout(dst []byte, in *fasthttp.Request) []byte {
	start := len(dst)
	dst = append(dst, "Cookie: "...)
	n := 0
	for k, v := range in.Header.Cookies() {
		if ownCookie(k) {
			continue
		}
		if n > 0 {
			dst = append(dst, "; "...)
		}
		if len(k) > 0 {
			dst = append(append(dst, k...), '=')
		}
		dst = append(dst, v...)
		n++
	}
	if n == 0 {
		return dst[:start]
	}
	return append(dst, "\r\n"...)
}

// Awning's own cookies, never passed to an origin: the maintenance bypass,
// and the console's session (a console served on a shop's host name, as in
// local and demo setups, would otherwise hand an ops session to the
// merchant's origin). The console's names are admin/session.go's.
var ownCookies = [][]byte{bypassCookieName, []byte("awning-session"), []byte("__Host-awning-session")}

func ownCookie(name []byte) bool {
	for _, c := range ownCookies {
		if bytes.Equal(name, c) {
			return true
		}
	}
	return false
}

// hasOwnCookie reports whether in carries one of Awning's own cookies.
func hasOwnCookie(in *fasthttp.Request) bool {
	for _, c := range ownCookies {
		if in.Header.CookieBytes(c) != nil {
			return true
		}
	}
	return false
}

// relay writes the origin's answer as the shopper's response: status,
// end-to-end fields as the origin sent them, and the body: copied, or when
// lend is set, pointed at (the answer's buffer must then outlive the
// response's writing: connstate.go).
func relay(dst *fasthttp.Response, a *cache.Answer, lend bool) {
	dst.SetStatusCode(a.Status)
	conn := a.Peek("connection")
	for i := range a.Header {
		k := a.Header[i].Name
		if classify(responseHeaderClass, k) != hdrKeep {
			continue
		}
		if len(conn) > 0 && listedInConnection(conn, k) {
			continue
		}
		dst.Header.AddBytesKV(k, a.Header[i].Value)
	}
	if len(a.ContentType) == 0 {
		dst.Header.SetNoDefaultContentType(true)
	}
	if lend {
		dst.SetBodyRaw(a.Body)
		return
	}
	dst.SetBody(a.Body)
}

// outboundFor collects what appendOutbound needs from the shopper's request.
func (s *Server) outboundFor(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState) outbound {
	o := outbound{peer: peerAddr(ctx), tls: ctx.IsTLS()}
	o.fwdHost = st.canonicalHost(ctx.Host())
	o.host = o.fwdHost
	if st.hostHeader != nil {
		o.host = st.hostHeader
	}
	o.trusted = snap.trusted.contains(o.peer)
	o.client = o.peer
	if o.trusted {
		o.client = clientAddr(o.peer, ctx.Request.Header.Peek("X-Forwarded-For"), snap.trusted)
	}
	return o
}
