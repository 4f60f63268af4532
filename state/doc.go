// Package state is the shared state store: what every Awning node must see
// the same way (maintenance flags, incident updates, merchant branding), kept
// in Redis when state.redis is set and in memory plus a local snapshot when
// it is not.
//
// It is a top-level package because several domains lean on it: fallback
// keeps copies of pages in the same Redis, tls keeps certificates there, and
// admin changes what the proxy reads. It owns the one Redis client a node
// opens (OpenRedis), so that all of them share one connection pool with the
// same timeouts.
package state
