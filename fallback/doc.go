// Package fallback decides what shoppers get when a shop's origin cannot
// answer, and keeps what that decision needs: the last known good copy of
// each page, in memory and in Redis (cache); what is known of each origin's
// health (health); sitemap warming, so pages nobody visited lately have a
// copy too (warm).
//
// The decision itself is Decide: a pure function from the Facts the proxy
// gathered about one request (maintenance, what the origin did or why it
// was not asked, whether a copy is at hand) to the Answer the shopper gets:
// the origin's, a copy, the outage page or the maintenance page. Every
// request the proxy serves for a site, whatever its method and however it
// went (a collapsed request, read-only maintenance, an open circuit), is
// answered through it, and AppendCacheStatus says why in Cache-Status. The
// proxy gathers the facts and writes the bytes; the rules live here.
package fallback
