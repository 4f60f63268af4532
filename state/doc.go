// Package state is the shared state store: what every Awning node must see
// the same way (maintenance windows, incident updates, merchant branding,
// forced fallback), kept in Redis when state.redis is set and in memory plus
// a local snapshot file when it is not.
//
// A Store holds one Scope per site plus a Global one. Every change gets a
// Version: a stamp from a hybrid logical clock (never behind the writer's
// clock, Redis' clock or any stamp seen before) and the writer's id, so the
// order of changes does not rest on a Redis counter that a failover or a
// flush can set back. A change is one Lua script on the state's master: a
// compare-and-set on the scope's version that writes the scope, its audit
// entry and the announcement together. When the master has a replica,
// Change answers only once a replica confirmed the write (WAIT), so a
// failover keeps every acknowledged change (confirm.go says what each
// topology promises).
//
// Redis is the authority: nodes adopt what it holds, from pub/sub, from a
// full re-read after each (re)subscription, and whenever Redis' newest stamp
// differs from the one they read (checked every second). A Redis that lost
// the state has lost its epoch key too, and a master that restarted may
// have come back from an older save; every node then merges its own state
// back, scope by scope where its version is newer, with the audit entries
// Redis lacks, and all of them converge on the newest change of every scope.
// Each node keeps the last state it saw in state.json, and the changes since
// that file was written in state.journal (snapshot.go), so a node restarted
// while Redis is down still knows a shop is in maintenance, and a change
// costs what it changed, not the size of the whole state. OnChange tells
// the node which scopes changed, and the node hands them to the proxy.
//
// It is a top-level package because several domains lean on it: fallback
// keeps copies of pages in the same Redis, tls keeps certificates there, and
// admin changes what the proxy reads. It owns the one Redis client a node
// opens (OpenRedis), so that all of them share one connection pool with the
// same timeouts, and that client follows Sentinel and Cluster failovers for
// all of them.
package state
