// Package proxy is the shopper-facing HTTP server: it routes each request by
// Host to its site, forwards it to the site's origin and relays the answer,
// and answers for the origin when the origin fails.
//
// A request's way through (handle):
//
//  1. guardConn and checkRawHeaders refuse ambiguous framing (bare LF,
//     obs-fold, Content-Length with Transfer-Encoding) with 400 and a closed
//     connection, before anything reaches an origin.
//  2. The site is looked up by canonical Host; an unknown host gets a
//     neutral 421 and never touches an origin.
//  3. Paths under /.well-known/awning/ are answered by Awning itself.
//  4. A fresh outbound request is built (buildOutbound): hop-by-hop headers
//     dropped, forwarding headers set by Awning and believed from clients
//     only when the peer is a trusted proxy, and headers that could change
//     a page without changing its cache key never passed on.
//  5. The origin pool sends it, moving to the next origin only when a
//     connection could not be opened (nothing was sent).
//  6. A good answer is relayed (hop-by-hop headers dropped, body buffer
//     moved, not copied); an error, a timeout or a 5xx/52x gets the site's
//     outage page (HTML or JSON).
//
// Everything the request path reads lives in one immutable snapshot behind
// an atomic pointer, swapped whole by Update on reload.
//
// The request path counts what metrics need (counters.go): answers by site
// and outcome, origin latency per site, requests in flight. Each count is an
// atomic add on counters the site's snapshot entry points to (carried over
// reloads), never a lookup; Stats reads them for package metrics. The access
// log (access.go, log.access) costs one boolean test when off.
//
// With HTTPS on, listen.https is served by Serve (on a tls/listener, whose
// *tls.Conn the guard keeps visible, so sites with hsts get
// Strict-Transport-Security), and listen.http by ServePlain: a second
// fasthttp server on the same snapshot whose handler (plain.go) answers
// unknown hosts with 421 first, ACME challenges through a hook, and
// everything else with a 308 to HTTPS.
package proxy
