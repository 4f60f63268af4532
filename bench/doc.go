// Package bench holds the load benchmarks that put Awning beside nginx,
// Varnish, HAProxy and Caddy on one machine (run.sh, docs/benchmarks.md).
// It is a top-level folder because it belongs to no one component: it
// drives the whole binary from outside, with its own sample origin
// (cmd/origin), the bare fasthttp server that marks the physical limit
// (cmd/limit), a TLS handshake load generator (cmd/hsload) and the tool
// that turns raw runs into the results table (cmd/report). None of it is
// run in CI beyond compiling; the Go micro-benchmarks next to the code are.
package bench
