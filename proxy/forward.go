package proxy

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// Header handling toward the origin. Names are matched lower-cased.
const (
	hdrKeep = iota
	// hdrHop: hop-by-hop (RFC 9110 §7.6.1) or framing that fasthttp redoes
	// for the outbound request; never forwarded.
	hdrHop
	// hdrNever: headers that would let a shopper change the page an origin
	// renders without changing the cache key (X-Original-URL and friends
	// rewrite the path on IIS, Symfony and Laravel; method overrides turn a
	// GET into something else), or that Awning sets itself.
	hdrNever
	// hdrUntrusted: client address and scheme claims, believed only from
	// config trusted_proxies.
	hdrUntrusted
)

var requestHeaderClass = map[string]uint8{
	"connection":          hdrHop,
	"keep-alive":          hdrHop,
	"proxy-connection":    hdrHop,
	"proxy-authenticate":  hdrHop,
	"proxy-authorization": hdrHop,
	"te":                  hdrHop,
	"trailer":             hdrHop,
	"transfer-encoding":   hdrHop,
	"upgrade":             hdrHop,
	"expect":              hdrHop, // Awning has already read the whole body
	"host":                hdrHop,
	"content-length":      hdrHop,

	"x-original-url":         hdrNever,
	"x-rewrite-url":          hdrNever,
	"x-original-host":        hdrNever,
	"x-http-method-override": hdrNever,
	"x-http-method":          hdrNever,
	"x-method-override":      hdrNever,
	"x-forwarded-host":       hdrNever,
	"x-forwarded-server":     hdrNever,
	"x-forwarded-port":       hdrNever,
	"x-forwarded-prefix":     hdrNever,
	"x-real-ip":              hdrNever,
	"awning-served":          hdrNever,

	"x-forwarded-for":     hdrUntrusted,
	"x-forwarded-proto":   hdrUntrusted,
	"x-forwarded-scheme":  hdrUntrusted,
	"x-forwarded-ssl":     hdrUntrusted,
	"front-end-https":     hdrUntrusted,
	"x-url-scheme":        hdrUntrusted,
	"forwarded":           hdrUntrusted,
	"x-client-ip":         hdrUntrusted,
	"true-client-ip":      hdrUntrusted,
	"cf-connecting-ip":    hdrUntrusted,
	"fastly-client-ip":    hdrUntrusted,
	"x-cluster-client-ip": hdrUntrusted,
	"client-ip":           hdrUntrusted,
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
}

var (
	hXForwardedFor   = []byte("X-Forwarded-For")
	hXForwardedProto = []byte("X-Forwarded-Proto")
	hXForwardedHost  = []byte("X-Forwarded-Host")
	hXRealIP         = []byte("X-Real-IP")
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

// buildOutbound fills out, a fresh request, from the shopper's request in.
// It never mutates in: the inbound request is what the rest of the pipeline
// (cache key, maintenance bypass, logs) reasons about.
func buildOutbound(out *fasthttp.Request, in *fasthttp.Request, o *outbound) {
	out.Header.SetMethodBytes(in.Header.Method())
	uri := in.Header.RequestURI()
	if len(uri) > 0 && uri[0] != '/' && !(len(uri) == 1 && uri[0] == '*') {
		// absolute-form (RFC 9112 §3.2.2): the origin gets origin-form.
		uri = in.URI().RequestURI()
	}
	out.Header.SetRequestURIBytes(uri)
	out.Header.SetHostBytes(o.host)
	out.UseHostHeader = true
	out.URI().DisablePathNormalizing = true // the origin sees the path exactly as the shopper sent it

	conn := in.Header.Peek("Connection")
	var xff, proto []byte
	for k, v := range in.Header.All() {
		switch classify(requestHeaderClass, k) {
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
		out.Header.AddBytesKV(k, v)
	}

	var buf [128]byte
	fwd := buf[:0]
	if len(xff) > 0 {
		fwd = append(append(fwd, xff...), ", "...)
	}
	fwd = o.peer.AppendTo(fwd)
	out.Header.SetBytesKV(hXForwardedFor, fwd)
	if len(proto) == 0 {
		proto = vHTTP
		if o.tls {
			proto = vHTTPS
		}
	}
	out.Header.SetBytesKV(hXForwardedProto, proto)
	out.Header.SetBytesKV(hXForwardedHost, o.fwdHost)
	out.Header.SetBytesKV(hXRealIP, o.client.AppendTo(buf[:0]))

	out.Header.DelCookieBytes(bypassCookieName) // Awning's own; the origin has no use for it

	if body := in.Body(); len(body) > 0 {
		out.SetBodyRaw(body) // in outlives out: both are released when the handler returns
	}
}

// relay copies the origin's answer to the shopper's response: status,
// end-to-end headers and body. The body buffer is moved, not copied.
func relay(dst *fasthttp.Response, src *fasthttp.Response) {
	dst.SetStatusCode(src.StatusCode())
	conn := src.Header.Peek("Connection")
	for k, v := range src.Header.All() {
		if classify(responseHeaderClass, k) != hdrKeep {
			continue
		}
		if len(conn) > 0 && listedInConnection(conn, k) {
			continue
		}
		dst.Header.AddBytesKV(k, v)
	}
	if len(src.Header.ContentType()) == 0 {
		dst.Header.SetNoDefaultContentType(true)
	}
	body := src.SwapBody(nil)
	src.SwapBody(dst.SwapBody(body)) // hand dst's old buffer to src, which goes back to its pool
}

// outboundFor collects what buildOutbound needs from the shopper's request.
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
