// Package admin is Awning's control plane over HTTP: the admin API that ops
// and merchants use (listener listen.admin), and the liveness and readiness
// probes orchestrators use.
//
// It is a top-level package rather than part of proxy because it shares
// nothing with the shopper path: it runs on its own listener, with net/http
// rather than fasthttp (throughput does not matter here; a well-known,
// strict server does), and it only reads and changes state that the
// request path consumes through its own snapshots.
package admin
