// Package proxy is the shopper-facing HTTP server: it routes each request by
// Host to its site, forwards it to the site's origin and relays the answer,
// and answers for the origin when the origin fails.
//
// A request's way through (handle.go, then serve.go):
//
//  1. guardConn and checkRawHeaders refuse ambiguous framing (bare LF,
//     obs-fold, Content-Length with Transfer-Encoding) with 400 and a closed
//     connection, before anything reaches an origin.
//  2. The site is looked up by canonical Host; an unknown host gets a
//     neutral 421 and never touches an origin.
//  3. Paths under /.well-known/awning/ are answered by Awning itself.
//  4. serve gathers the facts: maintenance (maintenance.go, bypass.go), the
//     request's copy key and its copy in memory, whether health lets the
//     origin be asked.
//  5. The request Awning sends is written afresh as bytes (forward.go's
//     appendOutbound): hop-by-hop headers dropped, forwarding headers set
//     by Awning and believed from clients only when the peer is a trusted
//     proxy, every header in requestHeaderRules or with "_" in its name
//     dropped, and never the body of a GET or HEAD.
//  6. The origin exchange (fetch.go, originexchange.go) runs in the
//     handler's goroutine, on Awning's own connections to the origin
//     (originconn.go, shared by the sites on one origin: origins.go): one
//     write of the request, the answer read and judged by the framing
//     scanner as it arrives (originresp.go), its head parsed once. An
//     origin that answers before it has the whole request (a 413 to an
//     upload) has that answer relayed, and the rest of the body is not sent
//     (originearly.go). With a
//     copy, the origin is raced against fallback_after by the connection's
//     own deadline, not a goroutine and a timer: when it passes, the
//     shopper gets the copy and the exchange goes on in the background to
//     refresh it, for the leader of the page's flight only (at most one
//     refresh per page at a time). Anonymous requests with equal keys share
//     one exchange (collapse.go). A good answer refreshes its copy for one
//     atomic read when the copy was validated less than cache.refresh ago,
//     a hash when it is unchanged, and a new or changed page is built into
//     a copy by the store worker after the shopper got it (store.go).
//  7. respond (respond.go) is the one place that answers: it completes the
//     facts, looks for a copy only when the answer depends on one (memory
//     again, then Redis), asks fallback.Decide, and writes the origin's
//     answer, the copy, the outage page or the maintenance page, with
//     Awning-Served and Cache-Status. Every method, and every way a request
//     went (collapsed, timed out, circuit open, read-only maintenance), ends
//     there.
//
// On plain TCP, shoppers' and origins' sockets make their system calls
// directly (rawio_linux.go), fasthttp's deadlines on a shopper's
// connection are applied lazily, and a relayed body is lent to the
// response rather than copied, the fetch released once the response is
// written (connstate.go).
//
// The request path takes the time from one clock (Options.Now) for every
// decision (maintenance windows, a copy's age and freshness, how long a
// page stays uncollapsed); only network deadlines and the timers that bound
// a wait are real time, as the kernel's are.
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
