// Package state is the shared state store: what every Awning node must see
// the same way (maintenance windows, incident updates, merchant branding,
// forced fallback), kept in Redis when state.redis is set and in memory plus
// a local snapshot file when it is not.
//
// A Store holds one Scope per site plus a Global one, each with a version
// from one shared counter. Changes are compare-and-set writes in Redis that
// announce themselves on pub/sub; every node applies what it hears, re-reads
// everything after each (re)subscription, compares versions every second to
// catch what pub/sub lost, keeps what it saw in state.json, and writes its
// state back to a Redis that comes back with less. OnChange tells the node
// which scopes changed, and the node hands them to the proxy.
//
// It is a top-level package because several domains lean on it: fallback
// keeps copies of pages in the same Redis, tls keeps certificates there, and
// admin changes what the proxy reads. It owns the one Redis client a node
// opens (OpenRedis), so that all of them share one connection pool with the
// same timeouts.
package state
