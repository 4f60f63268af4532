// Package metrics exposes what an Awning node knows about itself in the
// Prometheus text format, for GET /metrics on the admin listener. Every
// metric is listed, with its type, labels and meaning, in docs/metrics.md.
//
// It is a top-level package because it reads every domain and belongs to
// none: the proxy's request counters and maintenance, origin health, the
// cache and its Redis tier, sitemap warming, the webhook, and (through a
// small hook) TLS. None of those packages imports Prometheus.
//
// Data flows one way, at scrape time. Components keep their own counters
// as atomics (the request path pays one atomic add per count, never a label
// lookup); a Collector reads their Stats snapshots when Prometheus scrapes
// and turns them into metrics. The exceptions are measured here: Redis
// command latency, through a go-redis hook on the node's one client, and
// the share of answers served from the fallback over the last minute, from
// samples a background loop takes every few seconds.
//
// Each node builds its own Registry (never Prometheus' global default), so
// two nodes in one test process expose separate metrics.
package metrics
