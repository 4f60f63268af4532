// Package pages renders what shoppers see when Awning answers for a shop:
// the outage page (the origin failed and there is no copy to show) and the
// maintenance page (ops closed the shop on purpose).
//
// Data flows one way. FromConfig turns a site's page: configuration into a
// Site (languages, time zone, configured Branding, logo and custom template
// read and checked). Render takes a Site and the run-time State (the
// merchant's own Branding, ops' incident Updates and maintenance Window, as
// the admin API stores them) and renders a Set: an outage and a maintenance
// Page, each rendered once per site language with that language first and
// the others after it (every block with its lang attribute), plus the Logo.
// Whoever owns the inputs renders again when one changes (a config reload,
// a branding change, an update, a maintenance window); serving never runs a
// template. The proxy serves a Page by picking a Variant from the request's
// Accept-Language (Pick, no allocation) and writing its bytes, and asks the
// Page for Retry-After and the JSON answer for API clients.
//
// Pages depend on nothing that might be down: CSS and the auto-return
// script are inline, there are no web fonts and no third-party requests,
// and the logo is served by Awning from memory under LogoPathPrefix with a
// content hash in its name. The script polls /.well-known/awning/health
// with jittered backoff and loads the shopper's own URL again once the shop
// is open; without JavaScript a meta refresh does the same more slowly.
//
// Content-Security-Policy: pages are rendered once and served many times,
// so a per-response nonce is impossible, and a nonce fixed per render would
// be a secret repeated in every answer, which is what a nonce must not be.
// Pages allow their inline script and style by SHA-256 hash instead (CSP
// Level 3 hash-source): the hash names exactly the bytes Awning wrote, is
// the same on every node and in every golden file, and anything injected
// would not match it. Custom templates keep the script hash and may use
// inline CSS ('unsafe-inline' for styles only).
//
// Merchant and ops texts are data: Validate checks them (each bad field
// named), and html/template escapes them wherever they are written.
//
// Banner renders the notice the last-known-good cache puts at the top of
// pages it serves stale (fallback/cache inserts it once per copy).
package pages
