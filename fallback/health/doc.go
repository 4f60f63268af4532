// Package health tracks whether each origin of a site can answer, and
// decides per request whether the origin may be contacted at all.
//
// It learns twice, as HAProxy and Envoy do. Active probes (Prober) fetch
// origin.health.path on every origin URL each interval; rise successes in a
// row mark an origin up, fall failures mark it down. Without a probe path, an
// origin that went down is probed with HEAD / until it is back, so recovery
// never waits for a shopper to try. Passive detection reads every live
// answer (Site.Report): passive_failures failures in a row, or an error
// ratio over a sliding window, mark an origin down; a majority of answers
// slower than slow_after mark it degraded (still served, but reported, and
// passed over when a faster origin exists).
//
// The circuit of a site trips when every origin is down: requests then get
// the fallback at once, without a connection attempt (Site.Admit). Probes
// are the half-open trial, one at a time per origin, so no shopper is the
// guinea pig. When the site comes back, its in-flight cap (max_inflight)
// ramps up over slow_start, so the rush after a restore does not knock the
// platform over again.
//
// Each state change is logged once and handed to a Notifier (Webhook posts it
// as JSON, off the request path). Counters for metrics are in Stats.
package health
