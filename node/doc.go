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
// It also owns the node's metrics (metrics.go): one Prometheus registry per
// node, mounted at GET /metrics on the admin listener, fed by the
// components it wires.
//
// Listeners are bound with SO_REUSEPORT (listen.reuse_port) so that a new
// process can take over the ports while this one drains; Run tells systemd
// when it is ready and when it stops (sdnotify.go).
//
// A Node owns every goroutine and listener it starts; Run returns only after
// all of them stopped.
package node
