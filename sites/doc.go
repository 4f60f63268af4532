// Package sites is the routing table: which shop a request, a TLS name or an
// admin call is about.
//
// A Registry is built from the configuration once per (re)load and never
// changed afterwards; a reload builds a new one and the owner swaps it in
// atomically. Every host name is kept in one canonical form (lower case, no
// port, no trailing dot, IDNs in punycode), produced by AppendCanonical, and
// that form is what routing, cache keys and TLS names all use, so that
// "Shop.Example.:443" and "shop.example" can never be two different shops.
//
// Each Site carries a dense Index so that packages which keep per-site state
// (origin pools, health, rendered pages) can hold it in a slice beside the
// registry instead of in a second map.
package sites
