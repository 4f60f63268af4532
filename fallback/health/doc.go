// Package health tracks whether each origin of a site can answer, and
// decides per request whether the origin may be contacted at all.
//
// It learns twice, as HAProxy and Envoy do, and keeps the two apart:
//
//   - Active probes belong to an origin endpoint, not to a site. An
//     Endpoint is an origin URL and its probe request (address, TLS name,
//     the Host header sent, path, method, what to expect, interval, rise,
//     fall; see EndpointKey). Every site whose origin has the same key
//     shares it, so a platform with thousands of shops on one address gets
//     one probe per interval. The probe's Host is health.host, else
//     origin.host_header, else the URL's own host — never a shop's. With a
//     probe path the endpoint is probed every interval; without one, only
//     while it or a site on it is down, with HEAD /. Rise good probes in a
//     row mark it up, fall bad ones down. One Prober schedules every
//     endpoint from one goroutine (a heap by due time) and runs each round
//     in a short-lived goroutine; it recovers from a panic and restarts
//     with backoff, reporting itself unhealthy meanwhile.
//   - Passive detection belongs to the site (Site.Report): its own live
//     answers, passive_failures failures in a row or an error ratio over a
//     sliding window, mark its origin down for that site alone; a majority
//     of answers slower than slow_after mark it degraded (still served, but
//     passed over when a faster origin exists).
//
// A site's origin is down when its endpoint is down or the site's own
// answers say so; else it is degraded or up as the site's answers say. So
// a platform outage closes every shop on it at the first failed probes,
// and one shop broken on a healthy platform falls back alone. A shop that
// went down by its own answers comes back through its own recovery probe
// (HEAD / with the shop's Host, what a shopper would reach), sent with the
// endpoint's round and only while the endpoint answers: a platform outage
// costs one probe per interval, not one per shop. When a down endpoint
// rises, every site on it is up again (the outage was the platform's); a
// shop still broken trips again on its own answers.
//
// The circuit of a site trips when every origin is down: requests then get
// the fallback at once, without a connection attempt (Site.Admit). Probes
// are the half-open trial, so no shopper is the guinea pig. When the site
// comes back, its in-flight cap (max_inflight) ramps up over slow_start,
// so the rush after a restore does not knock the platform over again.
//
// Each change of a site's origin is handed to a Notifier (Webhook posts it
// as JSON, off the request path). The site's own changes are logged once
// each; an endpoint's change is logged once for all its sites. Counters
// for metrics are in Stats, ProberStats and EndpointStats.
package health
