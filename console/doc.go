// Package console is Awning's web console: the pages a browser loads at
// /ui/ on the admin listener (and on listen.console), where merchants brand
// their own outage and maintenance pages and ops run the fleet.
//
// It is a top-level package because it belongs to none of the others: it
// serves no shopper (proxy), renders no shopper page (pages), and holds no
// state or API (admin and state). It is files and texts: HTML, CSS and one
// script embedded in the binary with go:embed, with no build step and
// nothing fetched from another host. The script draws every screen from
// the admin API's JSON and does everything through the admin API with the
// session cookie the API sets at sign-in, so the console is a client of
// the API like the CLI, and nothing it can do bypasses the API's checks.
//
// Each console language (English and Dutch; picked from Accept-Language,
// or ?lang=) has its page rendered once when the handler is built, with
// its texts inline as JSON data. The script, stylesheet and icon are
// served under names holding their content hash, cacheable for a year.
// The Content-Security-Policy allows only same-origin script, style and
// frames, and enforces Trusted Types: the script builds the DOM with
// element calls, never HTML strings.
package console
