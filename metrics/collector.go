package metrics

import (
	"maps"
	"slices"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/proxy"
	"github.com/prometheus/client_golang/prometheus"
)

// collector turns the components' Stats into metrics at scrape time. It
// keeps no counter of its own.
type collector struct {
	opt    *Options
	window *fallbackWindow
	d      descs
	all    []*prometheus.Desc // every one of d
}

// descs describes every metric the collector emits; docs/metrics.md
// documents each, and TestEveryMetricIsDocumented holds the two together.
type descs struct {
	requests, inFlight, openConns, originDuration, panics *prometheus.Desc
	answersMemory, answersMemoryMax                       *prometheus.Desc
	protoRequests, protoConns                             *prometheus.Desc
	fallbackRatio, servingFallback                        *prometheus.Desc

	siteOpen, tripped, trips, maintenance                     *prometheus.Desc
	originState, transitions, shortCircuited, overflow        *prometheus.Desc
	originInFlight, originInFlightLimit, probes, hangs        *prometheus.Desc
	proberUp, proberPanics, endpoints                         *prometheus.Desc
	pagesSites, pagesBytes, pagesRenders, pagesEvictions      *prometheus.Desc
	originRefused, originEarly                                *prometheus.Desc
	entries, memBytes, memLimit, lookups, stored, revalidated *prometheus.Desc
	notStored, evicted, expired                               *prometheus.Desc
	redisUp, redisReads, redisWrites, redisWriterPanics       *prometheus.Desc
	redisShardsDown                                           *prometheus.Desc
	stateRedisUp, stateSyncUp, stateUnconfirmed               *prometheus.Desc
	stateRestores, stateSyncPanics                            *prometheus.Desc
	warmRuns, warmPages, warmRunning, warmURLs                *prometheus.Desc
	warmLoopUp, warmPanics                                    *prometheus.Desc
	webhook                                                   *prometheus.Desc
	buildInfo, reloads, lastConfig                            *prometheus.Desc

	tlsHandshakes, tlsInProgress, tlsWaiting, certExpiry *prometheus.Desc
	certsIssued, acmeErrors, tlsRefused                  *prometheus.Desc
}

func newDescs() (descs, []*prometheus.Desc) {
	var all []*prometheus.Desc
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		d := prometheus.NewDesc(name, help, labels, nil)
		all = append(all, d)
		return d
	}
	return descs{
		panics:           desc("awning_request_panics_total", "Requests whose handling panicked: recovered, answered 503 and logged with a stack. Any is a bug to report."),
		requests:         desc("awning_requests_total", "Shopper requests answered, by site and outcome (the Awning-Served value; own for Awning's own paths). Requests for no site have site=\"\" and outcome misdirected or refused.", "site", "outcome"),
		inFlight:         desc("awning_requests_in_flight", "Shopper requests being handled now."),
		openConns:        desc("awning_open_connections", "Shopper connections open now."),
		answersMemory:    desc("awning_origin_answers_memory_bytes", "Memory origin answers hold now beyond their first MiB (docs/origins.md)."),
		answersMemoryMax: desc("awning_origin_answers_memory_max_bytes", "limits.answers_memory: past it, an origin answer is not read on."),
		protoRequests:    desc("awning_protocol_requests_total", "Shopper requests on the HTTPS listeners (TCP and QUIC), by the HTTP version they came in: http/1.1, h2 or h3.", "protocol"),
		protoConns:       desc("awning_protocol_open_connections", "Shopper connections open now on the HTTPS listener that agreed on HTTP/2 (protocol h2); HTTP/1.1 ones are in awning_open_connections.", "protocol"),
		originDuration:   desc("awning_origin_request_duration_seconds", "Duration of exchanges with a site's origins that got an answer or timed out (shoppers' requests and sitemap warming; not probes).", "site"),
		fallbackRatio:    desc("awning_site_fallback_ratio", "Share of the site's answers over about the last minute that came from the fallback (stale copies and outage pages) rather than the origin. Maintenance and Awning's own paths are left out.", "site"),
		servingFallback:  desc("awning_site_serving_fallback", "1 while the site is open only thanks to Awning: its origin is closed to shoppers (every origin down, or the fallback forced), or at least half of the last minute's answers came from the fallback. Always 0 in maintenance: planned work is not an outage.", "site"),

		siteOpen:            desc("awning_site_open", "1 when shoppers can reach the site's origin: not every origin down and the fallback not forced. What /.well-known/awning/health answers.", "site"),
		tripped:             desc("awning_site_circuit_tripped", "1 while every origin of the site is down: shoppers get the fallback without a connection attempt.", "site"),
		trips:               desc("awning_site_circuit_trips_total", "Times the site's circuit tripped (its last origin went down).", "site"),
		maintenance:         desc("awning_site_maintenance", "1 for the maintenance mode the site is in (full or read-only), 0 for the other; both 0 when it is not in maintenance.", "site", "mode"),
		originState:         desc("awning_origin_state", "1 for the state an origin is in (up, degraded, down), 0 for the others. origin is the origin URL as configured.", "site", "origin", "state"),
		transitions:         desc("awning_origin_transitions_total", "Origin state changes (up, degraded, down) of the site's origins.", "site"),
		shortCircuited:      desc("awning_origin_short_circuited_total", "Requests answered from the fallback without contacting the origin: circuit tripped or fallback forced.", "site"),
		overflow:            desc("awning_origin_overflow_total", "Requests answered from the fallback because origin.max_inflight requests were at the origin.", "site"),
		originRefused:       desc("awning_origin_refused_total", "Origin answers Awning refused as failures, by reason: framing, malformed, extra-bytes, upgrade, interim, bad-gzip, gzip-too-large (docs/origins.md).", "site", "reason"),
		originEarly:         desc("awning_origin_early_answers_total", "Origin answers relayed that came before the origin had the whole request (a 413 to an upload, a 401 to a POST): not failures (docs/origins.md).", "site"),
		originInFlight:      desc("awning_origin_in_flight", "Requests at the site's origins now.", "site"),
		originInFlightLimit: desc("awning_origin_in_flight_limit", "The in-flight cap now: origin.max_inflight, lower while slow_start ramps up after a recovery; 0 for no cap.", "site"),
		probes:              desc("awning_health_probes_total", "Active health probes that informed the site, by result: those of its origins' endpoints (shared with every site on them) and its own recovery probes.", "site", "result"),
		proberUp:            desc("awning_health_prober_up", "1 while the health prober runs; 0 while it waits to restart after a panic (probes are paused)."),
		proberPanics:        desc("awning_health_prober_panics_total", "Panics of the health prober's scheduler (recovered; it restarts with backoff). Any is a bug to report."),
		endpoints:           desc("awning_health_endpoints", "Origin endpoints probed: distinct origin URLs and probe requests, however many sites share each."),
		pagesSites:          desc("awning_pages_rendered_sites", "Sites whose outage and maintenance pages are rendered now (on first need, kept within cache.pages)."),
		pagesBytes:          desc("awning_pages_rendered_bytes", "Bytes of rendered pages (bounded by cache.pages)."),
		pagesRenders:        desc("awning_pages_renders_total", "Renderings of a site's pages: a first need, or a need after a change or an eviction."),
		pagesEvictions:      desc("awning_pages_evictions_total", "Sites' rendered pages dropped to stay within cache.pages."),
		hangs:               desc("awning_origin_hangs_total", "Times the site's origin was declared down because requests waited origin.health.hang_after and not one exchange with it ended (a hung origin).", "site"),

		entries:           desc("awning_cache_entries", "Pages with copies in this node's memory tier."),
		memBytes:          desc("awning_cache_memory_bytes", "Bytes of copies in this node's memory tier."),
		memLimit:          desc("awning_cache_memory_limit_bytes", "The memory tier's bound (cache.memory)."),
		lookups:           desc("awning_cache_lookups_total", "Memory-tier lookups, by result (hit: a copy exists).", "result"),
		stored:            desc("awning_cache_stored_total", "Copies stored: a new page or a changed one."),
		revalidated:       desc("awning_cache_revalidated_total", "Copies found unchanged in a new origin answer and marked fresh."),
		notStored:         desc("awning_cache_not_stored_total", "Good origin answers not kept as copies, by reason (as in Cache-Status detail=).", "reason"),
		evicted:           desc("awning_cache_evicted_total", "Pages evicted from the memory tier to stay within cache.memory."),
		expired:           desc("awning_cache_expired_total", "Copies dropped from the memory tier past their retention."),
		redisUp:           desc("awning_redis_up", "1 while every shard of the copies' Redis tier answers and its writer runs; 0 while any shard is down (its copies are kept in memory only) or the writer restarts. Only with state.redis."),
		redisShardsDown:   desc("awning_redis_shards_down", "Redis shards (the one server, or each Cluster master) that do not answer now: their copies are unavailable, the other shards' are served. Only with state.redis."),
		stateRedisUp:      desc("awning_state_redis_up", "1 while the shared state (maintenance, updates, branding, sites, tokens) follows Redis; 0 while Redis does not answer: the node serves the last state it saw and admin changes are refused. Only with state.redis."),
		stateSyncUp:       desc("awning_state_sync_up", "1 while the loop that follows the shared state in Redis runs; 0 while it waits to restart after a panic. Only with state.redis."),
		stateUnconfirmed:  desc("awning_state_unconfirmed_writes_total", "Admin changes no Redis replica confirmed at the first try (WAIT): retried, or answered 503 \"not confirmed\". Only with state.redis."),
		stateRestores:     desc("awning_state_restores_total", "Times this node wrote shared state back into a Redis that had lost it (flushed, restarted empty or from an older save, an empty replica promoted). Only with state.redis."),
		stateSyncPanics:   desc("awning_state_sync_panics_total", "Panics of the shared state's sync loop: recovered, logged with a stack, restarted after a backoff. Any is a bug to report. Only with state.redis."),
		redisReads:        desc("awning_cache_redis_reads_total", "Reads of copies from Redis, by result (hit, miss, error). Only with state.redis.", "result"),
		redisWrites:       desc("awning_cache_redis_writes_total", "Writes of copies to Redis, by result (ok, error, dropped: queue full or Redis down). Only with state.redis.", "result"),
		redisWriterPanics: desc("awning_cache_redis_writer_panics_total", "Panics of the loop that writes copies to Redis: recovered, logged with a stack, the loop restarted after a backoff. Any is a bug to report. Only with state.redis."),

		warmRuns:    desc("awning_warm_runs_total", "Sitemap warming runs started.", "site"),
		warmPages:   desc("awning_warm_pages_total", "Pages sitemap warming fetched, by result (stored, fresh, not-kept, failed, skipped).", "site", "result"),
		warmRunning: desc("awning_warm_running", "1 while sitemap warming runs.", "site"),
		warmURLs:    desc("awning_warm_sitemap_urls", "Pages the site's sitemap listed at the last run.", "site"),
		warmLoopUp:  desc("awning_warm_loop_up", "1 while the site's warming loop runs; 0 while it waits to restart after a panic.", "site"),
		warmPanics:  desc("awning_warm_panics_total", "Panics of the site's warming loop: recovered, logged with a stack, the loop restarted after a backoff. Any is a bug to report.", "site"),
		webhook:     desc("awning_webhook_events_total", "Origin state changes posted to notify.webhook, by result (sent, failed after retries, dropped: queue full).", "result"),

		buildInfo:  desc("awning_build_info", "Always 1; the labels say which Awning is running.", "version", "go_version"),
		reloads:    desc("awning_config_reloads_total", "Configuration reloads (SIGHUP), by result: ok, or failed (the previous configuration kept serving).", "result"),
		lastConfig: desc("awning_config_last_load_timestamp_seconds", "When the configuration in force was loaded (start or reload), as a Unix time."),

		tlsHandshakes: desc("awning_tls_handshakes_total", "TLS handshakes with shoppers, by result: full, resumed, failed, timeout. Only with HTTPS.", "result"),
		tlsInProgress: desc("awning_tls_handshakes_in_progress", "TLS handshakes running now. Only with HTTPS."),
		tlsWaiting:    desc("awning_tls_handshakes_waiting", "Accepted connections waiting for a handshake slot (tls.max_handshakes). Only with HTTPS."),
		certExpiry:    desc("awning_tls_certificate_expiry_timestamp_seconds", "When the first of the site's certificates expires, as a Unix time. Only with HTTPS.", "site"),
		certsIssued:   desc("awning_tls_certificates_issued_total", "Certificates obtained, by kind: new or renewal. Only with HTTPS.", "kind"),
		acmeErrors:    desc("awning_acme_errors_total", "Failed certificate issuances and renewals. Only with HTTPS."),
		tlsRefused:    desc("awning_tls_refused_total", "Handshakes refused without a certificate, by reason: unknown-host, rate-limited (on-demand issuance), backoff (the last issuance failed recently). Only with HTTPS.", "reason"),
	}, all
}

// Describe sends every metric's description, including those a node
// emits only with Redis or HTTPS.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.all {
		ch <- d
	}
}

// Collect reads every component's Stats once and sends the metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	d := &c.d
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}

	ps := c.opt.Proxy.Stats()
	gauge(d.inFlight, float64(ps.InFlight))
	gauge(d.openConns, float64(ps.OpenConns))
	gauge(d.answersMemory, float64(ps.AnswersMemory))
	gauge(d.answersMemoryMax, float64(ps.AnswersMemoryMax))
	counter(d.requests, ps.Misdirected, "", "misdirected")
	counter(d.requests, ps.Refused, "", "refused")
	counter(d.panics, ps.Panics)
	for i, p := range c.opt.Proxy.ProtocolStats() {
		proto := proxy.Protocol(i).String()
		counter(d.protoRequests, p.Requests, proto)
		if proxy.Protocol(i) == proxy.ProtoHTTP2 {
			gauge(d.protoConns, float64(p.OpenConns), proto)
		}
	}
	for i := range ps.Sites {
		s := &ps.Sites[i]
		c.collectSite(ch, s, counter, gauge)
	}

	c.collectCache(c.opt.Proxy.Cache().Stats(), counter, gauge)

	pr := c.opt.Proxy.ProberStats()
	gauge(d.proberUp, boolValue(pr.Healthy))
	counter(d.proberPanics, pr.Panics)
	gauge(d.endpoints, float64(pr.Endpoints))
	pc := c.opt.Proxy.PageCache()
	gauge(d.pagesSites, float64(pc.Sites))
	gauge(d.pagesBytes, float64(pc.Bytes))
	counter(d.pagesRenders, pc.Renders)
	counter(d.pagesEvictions, pc.Evictions)

	if c.opt.State != nil {
		if ss := c.opt.State(); ss.Shared {
			gauge(d.stateRedisUp, boolValue(ss.RedisOK))
			gauge(d.stateSyncUp, boolValue(ss.Syncing))
			counter(d.stateUnconfirmed, ss.Unconfirmed)
			counter(d.stateRestores, ss.Restores)
			counter(d.stateSyncPanics, ss.Panics)
		}
	}
	if c.opt.Webhook != nil {
		if sent, failed, dropped, ok := c.opt.Webhook(); ok {
			counter(d.webhook, sent, "sent")
			counter(d.webhook, failed, "failed")
			counter(d.webhook, dropped, "dropped")
		}
	}
	gauge(d.buildInfo, 1, c.opt.Version, goVersion())
	if c.opt.Node != nil {
		ns := c.opt.Node()
		counter(d.reloads, ns.Reloads, "ok")
		counter(d.reloads, ns.ReloadErrors, "failed")
		if !ns.LastConfig.IsZero() {
			gauge(d.lastConfig, unixSeconds(ns.LastConfig))
		}
	}
	if c.opt.TLS != nil {
		c.collectTLS(c.opt.TLS(), counter, gauge)
	}
}

type (
	counterFunc func(*prometheus.Desc, uint64, ...string)
	gaugeFunc   func(*prometheus.Desc, float64, ...string)
)

func (c *collector) collectSite(ch chan<- prometheus.Metric, s *proxy.SiteStats, counter counterFunc, gauge gaugeFunc) {
	d := &c.d
	for o := proxy.Outcome(0); o < proxy.NumOutcomes; o++ {
		counter(d.requests, s.Served[o], s.Name, o.String())
	}
	lat := s.OriginLatency
	buckets := make(map[float64]uint64, len(lat.Bounds))
	for i, b := range lat.Bounds {
		buckets[b] = lat.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(d.originDuration, lat.Count, lat.Sum, buckets, s.Name)

	h := &s.Health
	ratio := c.window.ratio(s)
	gauge(d.fallbackRatio, ratio, s.Name)
	// Planned work is not an outage: ops chose it, and the alert on
	// serving_fallback must not page anyone for it.
	gauge(d.servingFallback, boolValue(s.Maintenance == "" && (!h.Open || ratio >= 0.5)), s.Name)
	gauge(d.siteOpen, boolValue(h.Open), s.Name)
	gauge(d.tripped, boolValue(h.Tripped), s.Name)
	counter(d.trips, h.Trips, s.Name)
	gauge(d.maintenance, boolValue(s.Maintenance == proxy.MaintenanceFull), s.Name, proxy.MaintenanceFull)
	gauge(d.maintenance, boolValue(s.Maintenance == proxy.MaintenanceReadOnly), s.Name, proxy.MaintenanceReadOnly)
	for _, o := range h.Origins {
		for _, state := range [...]health.State{health.Up, health.Degraded, health.Down} {
			gauge(d.originState, boolValue(o.State == state), s.Name, o.URL, state.String())
		}
	}
	counter(d.transitions, h.Transitions, s.Name)
	counter(d.shortCircuited, h.ShortCircuited, s.Name)
	counter(d.overflow, h.Overflow, s.Name)
	for _, r := range proxy.RefusalReasons() {
		counter(d.originRefused, s.OriginRefused[r], s.Name, r)
	}
	counter(d.originEarly, s.OriginEarly, s.Name)
	gauge(d.originInFlight, float64(h.Inflight), s.Name)
	gauge(d.originInFlightLimit, float64(h.Limit), s.Name)
	counter(d.probes, h.ProbesOK, s.Name, "ok")
	counter(d.probes, h.ProbesFailed, s.Name, "failed")
	counter(d.hangs, h.Hangs, s.Name)

	if w := s.Warm; w != nil {
		counter(d.warmRuns, w.Runs, s.Name)
		counter(d.warmPages, w.Stored, s.Name, "stored")
		counter(d.warmPages, w.Fresh, s.Name, "fresh")
		counter(d.warmPages, w.NotKept, s.Name, "not-kept")
		counter(d.warmPages, w.Failed, s.Name, "failed")
		counter(d.warmPages, w.Skipped, s.Name, "skipped")
		gauge(d.warmRunning, boolValue(w.Running), s.Name)
		gauge(d.warmURLs, float64(w.LastURLs), s.Name)
		gauge(d.warmLoopUp, boolValue(w.Healthy), s.Name)
		counter(d.warmPanics, w.Panics, s.Name)
	}
}

func (c *collector) collectCache(cs cache.Stats, counter counterFunc, gauge gaugeFunc) {
	d := &c.d
	gauge(d.entries, float64(cs.Entries))
	gauge(d.memBytes, float64(cs.Bytes))
	gauge(d.memLimit, float64(cs.MaxBytes))
	counter(d.lookups, cs.Hits, "hit")
	counter(d.lookups, cs.Misses, "miss")
	counter(d.stored, cs.Stored)
	counter(d.revalidated, cs.Unchanged)
	counter(d.evicted, cs.Evicted)
	counter(d.expired, cs.Expired)
	for _, r := range slices.Sorted(maps.Keys(cs.NotStored)) {
		counter(d.notStored, cs.NotStored[r], string(r))
	}
	if cs.Shared {
		gauge(d.redisUp, boolValue(cs.RedisHealthy))
		counter(d.redisReads, cs.RedisHits, "hit")
		counter(d.redisReads, cs.RedisReads-min(cs.RedisReads, cs.RedisHits+cs.RedisReadErrors), "miss")
		counter(d.redisReads, cs.RedisReadErrors, "error")
		counter(d.redisWrites, cs.RedisWrites, "ok")
		counter(d.redisWrites, cs.RedisWriteErrors, "error")
		counter(d.redisWrites, cs.RedisDropped, "dropped")
		counter(d.redisWriterPanics, cs.RedisWriterPanics)
		gauge(d.redisShardsDown, float64(cs.RedisShardsDown))
	}
}

func (c *collector) collectTLS(t TLSStats, counter counterFunc, gauge gaugeFunc) {
	d := &c.d
	counter(d.tlsHandshakes, t.FullHandshakes, "full")
	counter(d.tlsHandshakes, t.ResumedHandshakes, "resumed")
	counter(d.tlsHandshakes, t.HandshakeFailures, "failed")
	counter(d.tlsHandshakes, t.HandshakeTimeouts, "timeout")
	gauge(d.tlsInProgress, float64(t.HandshakesInProgress))
	gauge(d.tlsWaiting, float64(t.HandshakesWaiting))
	counter(d.certsIssued, t.CertificatesObtained, "new")
	counter(d.certsIssued, t.CertificatesRenewed, "renewal")
	counter(d.acmeErrors, t.ACMEErrors)
	counter(d.tlsRefused, t.UnknownHost, "unknown-host")
	counter(d.tlsRefused, t.RateLimited, "rate-limited")
	counter(d.tlsRefused, t.BackedOff, "backoff")
	first := map[string]time.Time{}
	for _, cert := range t.Certificates {
		site := c.opt.Proxy.SiteOf(cert.Name)
		if site == "" {
			continue // a name no site serves any more: its certificate is not in use
		}
		if at, ok := first[site]; !ok || cert.NotAfter.Before(at) {
			first[site] = cert.NotAfter
		}
	}
	for _, site := range slices.Sorted(maps.Keys(first)) {
		gauge(d.certExpiry, unixSeconds(first[site]), site)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
