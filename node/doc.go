// Package node assembles one running Awning node from a configuration file:
// the site registry, the shopper-facing proxy, HTTPS (tls/certs behind a
// tls/listener, certificates and ticket keys in Redis when the node has
// one), and the admin listener, and it reloads them together when the file
// changes.
//
// It is a top-level package because it belongs to none of the domain
// packages: it only wires them. Keeping the wiring out of package main lets
// tests and benchmarks start real nodes in-process (two nodes sharing one
// Redis, a node behind a test CA), exactly as `awning serve` does.
//
// A Node owns every goroutine and listener it starts; Run returns only after
// all of them stopped.
package node
