// Package warm crawls a site's sitemap at a gentle pace so that pages
// nobody visited lately still have a last known good copy when the outage
// comes (the Christmas database failure took down product pages that had
// not been opened for weeks).
//
// A Warmer reads the sitemap (and nested sitemap indexes) from the origin,
// keeps only URLs on the site's own hosts, and asks the proxy to warm each
// page: fetch it the way a shopper without cookies would, and keep the answer
// under the usual rules. It pauses while the site is down or busy, and paces
// itself at warm.rate pages a second. Each crawl is logged once when it
// starts and once when it ends, with counts.
package warm
