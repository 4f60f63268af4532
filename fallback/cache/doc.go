// Package cache keeps the last known good copy of every shop page that any
// shopper may safely see, so that Awning can serve it when the origin, or
// the CDN in front of it, fails.
//
// Safety is the boundary (DESIGN.md: never store or serve to one shopper what
// was personal to another), and it holds by construction, not by a list of
// what is private. KeyPolicy.Build derives a request's key from what the
// origin's answer depends on only (site, canonical host, raw path, query
// sorted without tracking parameters, and the request headers the answer
// Varies on), and flags requests whose answers must never be kept: personal
// ones (Authorization, or any cookie that is not on the site's short list of
// anonymous cookies, read at semicolons and commas as origins read them),
// ones carrying a dropped tracking parameter or a body, paths with dot
// segments or encoded separators. Policy.Check and Policy.Build then refuse
// answers with Set-Cookie, Cache-Control private or no-store, Vary: * or
// Cookie, incomplete or corrupt bodies, types outside the allowlist, and CDN
// challenge or error pages. Every refusal has a Reason, counted and shown in
// Cache-Status.
//
// Copies live in two tiers: memory (an LRU bounded by bytes) on each node,
// and Redis shared by all nodes, written asynchronously and only when a copy
// changed or its refresh interval passed. Bodies are stored gzip-compressed
// and served either way; a page served stale carries a banner rendered into
// the copy once, not per request.
package cache
