package config

import (
	"fmt"
	"strconv"
	"time"
)

// Config is the whole of one Awning configuration file. Load and Parse return
// it with every default filled in and every value checked, so the components
// built from it never see a zero value where a default was meant.
//
// A Config is read-only once returned; it is safe to share between goroutines.
type Config struct {
	// Listen says where Awning accepts connections.
	Listen Listen `yaml:"listen"`
	// State says where shared state (maintenance flags, copies, certificates)
	// is kept.
	State State `yaml:"state"`
	// TLS configures certificates for shop domains.
	TLS TLS `yaml:"tls"`
	// HTTP2 bounds HTTP/2 connections on the HTTPS listener (and HTTP/3
	// ones on listen.http3).
	HTTP2 HTTP2 `yaml:"http2"`
	// Cache configures the last-known-good copies.
	Cache Cache `yaml:"cache"`
	// Admin configures who may use the admin API.
	Admin Admin `yaml:"admin"`
	// TrustedProxies lists the peers (CIDRs or single addresses) whose
	// X-Forwarded-For and X-Forwarded-Proto headers Awning believes. Default:
	// none, so every client-sent forwarding header is dropped.
	TrustedProxies []Prefix `yaml:"trusted_proxies"`
	// Notify configures where origin state changes are announced.
	Notify Notify `yaml:"notify"`
	// Limits bounds what Awning accepts from shoppers and origins.
	Limits Limits `yaml:"limits"`
	// Log configures the process log.
	Log Log `yaml:"log"`
	// Sites lists the shops Awning stands in front of. At least one.
	Sites []Site `yaml:"sites"`

	// File is the path the configuration was read from; relative paths in
	// the file (such as a logo) are resolved against its directory.
	File string `yaml:"-"`

	pos *lazyPositions
}

// Listen holds listener addresses in host:port form. "localhost:port" listens
// on every loopback address (127.0.0.1 and ::1), so browsers that try IPv6
// first are served at once.
type Listen struct {
	// HTTP is the plain HTTP listener. Default ":80".
	HTTP string `yaml:"http"`
	// HTTPS is the TLS listener, used unless tls.mode is "off". Default ":443".
	HTTPS string `yaml:"https"`
	// Admin is the admin API listener. Default "127.0.0.1:9090"; keep it off
	// public interfaces.
	Admin string `yaml:"admin"`
	// HTTP3 is the UDP address HTTP/3 (QUIC) is served on, with the HTTPS
	// listener's certificates; HTTPS answers then advertise it in Alt-Svc.
	// It needs tls.mode acme or self-signed. Default "": off, until it has
	// run in production (the UDP buffers QUIC wants are in
	// docs/operations.md).
	HTTP3 string `yaml:"http3"`
	// Console is a listener of the web console's own: the console at /ui/
	// and the API it calls, without /metrics and the probes, for putting
	// it behind the platform's own login or VPN while listen.admin stays
	// on loopback. The console is served on listen.admin as well. Default
	// "": none.
	Console string `yaml:"console"`
	// ReusePort binds every listener with SO_REUSEPORT, so that a new
	// Awning process can bind the same ports while the old one still
	// serves, and the old one then drains: an upgrade without a refused
	// connection (docs/operations.md). Only processes of the same user can
	// share a port. false makes a second process on the same ports fail
	// at start instead. Default true.
	ReusePort *bool `yaml:"reuse_port"`
	// DrainTimeout bounds how long a stopping node (SIGTERM, SIGINT) lets
	// requests in flight finish after it stopped accepting connections.
	// Keep it below what the supervisor waits before SIGKILL (Kubernetes'
	// terminationGracePeriodSeconds, systemd's TimeoutStopSec). Read at
	// shutdown, so a reload changes it. Default 25s.
	DrainTimeout Duration `yaml:"drain_timeout"`
}

// ReusePortOn reports whether listeners are bound with SO_REUSEPORT.
func (l Listen) ReusePortOn() bool { return l.ReusePort == nil || *l.ReusePort }

// Bound returns the part of l that takes effect only when a node starts
// (the addresses and how they are bound), for telling a reload that
// changed it.
func (l Listen) Bound() [6]string {
	return [6]string{l.HTTP, l.HTTPS, l.Admin, l.Console, l.HTTP3, fmt.Sprint(l.ReusePortOn())}
}

// State says where shared state lives.
type State struct {
	// Redis is the URL of the Redis that all nodes share: redis://,
	// rediss://, unix://, redis+sentinel://host:port?master_name=M or
	// redis+cluster://host:port?addr=host2:port. Default "": state is kept in
	// memory and under Dir, and one node works alone.
	Redis string `yaml:"redis"`
	// Dir is the local state directory (state snapshot, certificates, the
	// self-signed CA). Default: $STATE_DIRECTORY when systemd sets it, else
	// "/var/lib/awning".
	Dir string `yaml:"dir"`
}

// TLS configures certificates and the HTTPS listener. Changes take effect at
// the next restart.
type TLS struct {
	// Mode is "acme" (certificates from an ACME CA), "self-signed" (a local
	// CA kept in state.dir, for demos, tests and benchmarks) or "off" (no
	// HTTPS listener; listen.http serves shoppers). Default "acme".
	Mode string `yaml:"mode"`
	// Email is the ACME account contact, for the CA's notices. Default "":
	// an account without contact (Let's Encrypt no longer mails expiry
	// warnings; Awning's metrics and logs report expiry).
	Email string `yaml:"email"`
	// AgreeTerms says the operator agrees to the ACME CA's terms of service
	// (for Let's Encrypt, its subscriber agreement). Required, true, in acme
	// mode: Awning does not agree on anyone's behalf.
	AgreeTerms bool `yaml:"agree_terms"`
	// CA is the ACME directory URL. Default: Let's Encrypt production.
	CA string `yaml:"ca"`
	// CARoot is a PEM file of root certificates trusted, besides the
	// system's, for the ACME directory's own HTTPS: for a private ACME CA.
	// Relative to the config file. Default "": the system's roots.
	CARoot string `yaml:"ca_root"`
	// Challenges lists the ACME challenges to answer: "http-01" (on
	// listen.http, which must be reachable on port 80) and "tls-alpn-01"
	// (on listen.https, port 443). Default both.
	Challenges []string `yaml:"challenges"`
	// OnDemand allows certificates for hosts that appear at run time
	// (added by a reload), obtained at their first TLS handshake. Default
	// true.
	OnDemand *bool `yaml:"on_demand"`
	// OnDemandLimit caps on-demand issuances per OnDemandWindow on each
	// node, whatever the names: a flood of handshakes cannot become a flood
	// of orders at the CA. Default 10.
	OnDemandLimit int `yaml:"on_demand_limit"`
	// OnDemandWindow is the window of OnDemandLimit. Default 1m.
	OnDemandWindow Duration `yaml:"on_demand_window"`
	// Redirect answers plain-HTTP requests for known hosts with a 308 to
	// the same URL over HTTPS (ACME challenges excepted). With false,
	// listen.http keeps serving shoppers (the demo does this). Default true.
	Redirect *bool `yaml:"redirect"`
	// HandshakeTimeout bounds a TLS handshake from accept to finish,
	// waiting for a slot included. Default 10s.
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// MaxHandshakes bounds the TLS handshakes in progress at once; more
	// wait in a queue (four times as long) and then in the kernel's.
	// Default 256.
	MaxHandshakes int `yaml:"max_handshakes"`
}

// HTTP2 bounds HTTP/2 (and HTTP/3) connections. Browsers that offer h2 in
// ALPN get it; the rest get HTTP/1.1. Changes take effect at the next
// restart.
type HTTP2 struct {
	// MaxConcurrentStreams bounds the requests one connection may have in
	// flight at once (SETTINGS_MAX_CONCURRENT_STREAMS; for HTTP/3 the
	// bidirectional stream limit). Default 128, as nginx.
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// MaxHeaderListSize bounds a request's header fields, decompressed
	// (SETTINGS_MAX_HEADER_LIST_SIZE); larger get 431. Default:
	// limits.request_header.
	MaxHeaderListSize Size `yaml:"max_header_list_size"`
	// IdleTimeout closes a connection with no request in flight for this
	// long. Default 75s, as HTTP/1.1 keep-alive.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Cache configures last-known-good copies.
type Cache struct {
	// Memory bounds the bytes of the in-memory tier. Default 256MiB.
	Memory Size `yaml:"memory"`
	// Pages bounds the memory of rendered outage and maintenance pages. A
	// site's pages are rendered when first needed (an outage, maintenance)
	// and kept while they fit; the least recently served give way. About
	// 50 KB per site with two languages. Default 64MiB.
	Pages Size `yaml:"pages"`
	// Retention is how long a copy is kept after it was last refreshed.
	// Default 168h (7 days).
	Retention Duration `yaml:"retention"`
	// IgnoreQuery lists glob patterns of query parameters left out of the
	// cache key (tracking parameters). Default: utm_*, gclid, fbclid, msclkid,
	// gbraid, wbraid, srsltid, gad_source, mc_cid, mc_eid.
	IgnoreQuery []string `yaml:"ignore_query"`
	// AnonymousCookies lists the only cookies a request may carry and still
	// be anonymous: its answer may be kept as a copy, and it may share an
	// origin request with other anonymous requests. They are cookies that
	// cannot personalise a page (analytics, consent). Any other cookie, or
	// an Authorization header, makes a request personal: it is forwarded,
	// never stored, never collapsed with another. Glob patterns; a list
	// replaces the default, {extend: [...]} adds to it. A pattern that
	// matches a known session cookie (KnownSessionCookies) is refused.
	// Default: DefaultAnonymousCookies (docs/caching.md lists them).
	AnonymousCookies CookieNames `yaml:"anonymous_cookies"`
	// MaxObject bounds the decompressed body of one copy. Default 8MiB.
	MaxObject Size `yaml:"max_object"`
	// Refresh is how often a busy page's copy is replaced by a newer answer:
	// at most one store per page per Refresh, however many shoppers ask.
	// Default 10s.
	Refresh Duration `yaml:"refresh"`
	// RedisRefresh is how often an unchanged copy is written to Redis again,
	// renewing its retention there; a changed copy is written at once.
	// Default 1h.
	RedisRefresh Duration `yaml:"redis_refresh"`
}

// SiteCache is what a site keeps copies of, and how they are served.
type SiteCache struct {
	// Statuses are the statuses kept besides 200: any of 301, 308, 404, 410.
	// Default none.
	Statuses []int `yaml:"statuses"`
	// ShortLifetime is how long copies of those statuses live. Default 10m.
	ShortLifetime Duration `yaml:"short_lifetime"`
	// IgnoreNoStore keeps answers marked Cache-Control: no-store, for
	// platforms that mark every public page so. Set-Cookie and private still
	// prevent keeping. Default false.
	IgnoreNoStore bool `yaml:"ignore_no_store"`
	// Banner puts a notice at the top of pages served from a copy. Default
	// true.
	Banner *bool `yaml:"banner"`
	// BannerText overrides the notice's words per language.
	BannerText map[string]string `yaml:"banner_text"`
	// Warm crawls the site's sitemap so pages nobody visited lately still
	// have a copy.
	Warm Warm `yaml:"warm"`
}

// Warm configures sitemap warming.
type Warm struct {
	// Sitemap is the sitemap path, such as /sitemap.xml. Default "": no
	// warming. Nested sitemap indexes are followed.
	Sitemap string `yaml:"sitemap"`
	// Rate is how many pages per second the crawl fetches. Default 1.
	Rate float64 `yaml:"rate"`
	// Interval is how often the crawl starts again. Default 24h.
	Interval Duration `yaml:"interval"`
}

// BannerOn reports whether pages served from a copy carry the banner.
func (c SiteCache) BannerOn() bool { return c.Banner == nil || *c.Banner }

// Admin configures the admin API.
type Admin struct {
	// Tokens lists who may call the admin API. Default: none, so the API
	// answers 401 to every call but /healthz.
	Tokens []Token `yaml:"tokens"`
}

// Token is one admin API credential. Only its SHA-256 is kept.
type Token struct {
	// Name identifies the token in audit logs. Required, unique.
	Name string `yaml:"name"`
	// SHA256 is the hex SHA-256 of the token (awning token new prints it).
	SHA256 string `yaml:"sha256"`
	// Sites lists the site names the token reaches; "*" reaches every site
	// and global operations. Required.
	Sites []string `yaml:"sites"`
}

// HasOpsToken reports whether a token reaches every site ("*"): only such
// a token can add sites through the admin API.
func (a Admin) HasOpsToken() bool {
	for _, t := range a.Tokens {
		for _, s := range t.Sites {
			if s == "*" {
				return true
			}
		}
	}
	return false
}

// Notify configures announcements of origin state changes.
type Notify struct {
	// Webhook receives a JSON POST on each origin state change. Default "":
	// none.
	Webhook string `yaml:"webhook"`
}

// Limits bounds sizes. Requests over a limit are refused (413 or 431);
// origin answers over a limit are treated as failed.
type Limits struct {
	// RequestBody bounds a shopper's request body. Default 16MiB.
	RequestBody Size `yaml:"request_body"`
	// RequestHeader bounds a shopper's request line plus headers. Default
	// 16KiB (shops set large cookies).
	RequestHeader Size `yaml:"request_header"`
	// ResponseBody bounds an origin's answer body; Awning holds the whole
	// answer before relaying it, so that a truncated answer can be replaced
	// by a copy. Default 64MiB.
	ResponseBody Size `yaml:"response_body"`
	// ResponseHeader bounds an origin's status line plus headers. Default
	// 32KiB.
	ResponseHeader Size `yaml:"response_header"`
	// AnswersMemory bounds the memory origin answers hold across the node
	// while they are read and relayed, beyond each one's first MiB: an
	// answer that would take more is not read on (the shopper gets the
	// copy or the outage page). Default 1GiB; at least response_body.
	AnswersMemory Size `yaml:"answers_memory"`
}

// Log configures the process log.
type Log struct {
	// Format is "json" or "text". Default "json".
	Format string `yaml:"format"`
	// Level is "debug", "info", "warn" or "error". Default "info".
	Level string `yaml:"level"`
	// Access turns on one log line per request, at info. Default false.
	Access bool `yaml:"access"`
}

// Site is one shop.
type Site struct {
	// Name identifies the site in the admin API, metrics and logs: lower-case
	// letters, digits and dashes. Required, unique.
	Name string `yaml:"name"`
	// Hosts lists the host names shoppers use. Matched exactly and
	// case-insensitively, without port or trailing dot; Unicode names are
	// stored in their ASCII (punycode) form. Required; a host belongs to one
	// site only.
	Hosts []string `yaml:"hosts"`
	// Origin says how to reach the shop.
	Origin Origin `yaml:"origin"`
	// APIPaths lists path prefixes answered with JSON errors instead of HTML
	// pages. Default: none.
	APIPaths []string `yaml:"api_paths"`
	// CheckoutPaths lists path prefixes where shoppers order or pay: in
	// read-only maintenance they get the maintenance page while browsing
	// goes on from copies. Default [/cart, /checkout].
	CheckoutPaths []string `yaml:"checkout_paths"`
	// Page brands the outage and maintenance pages.
	Page Page `yaml:"page"`
	// HSTS sets Strict-Transport-Security on the site's HTTPS answers.
	HSTS HSTS `yaml:"hsts"`
	// Cache says what of the site is kept as copies, and how they are
	// served.
	Cache SiteCache `yaml:"cache"`
	// ForceFallback overrides what health checks decide: true serves the
	// fallback (copies, else the outage page) without contacting the origin,
	// as when ops know the origin is broken; false always contacts the
	// origin, even one health checks consider down. Default: unset, health
	// checks decide.
	ForceFallback *bool `yaml:"force_fallback"`
}

// HSTS configures the Strict-Transport-Security header (RFC 6797) of a
// site. Browsers that saw it use HTTPS only for the site until it expires,
// so turn it on once HTTPS works for every host of the site.
type HSTS struct {
	// MaxAge is how long browsers remember it. Default 0: no header.
	MaxAge Duration `yaml:"max_age"`
	// IncludeSubdomains extends it to every subdomain. Default false.
	IncludeSubdomains bool `yaml:"include_subdomains"`
	// Preload asks for inclusion in browsers' preload lists; it needs
	// include_subdomains and a max_age of at least 365d. Default false.
	Preload bool `yaml:"preload"`
}

// Header returns the Strict-Transport-Security value, or "" when MaxAge is
// zero.
func (h HSTS) Header() string {
	if h.MaxAge <= 0 {
		return ""
	}
	v := "max-age=" + strconv.FormatInt(int64(h.MaxAge.D()/time.Second), 10)
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// Origin says how to reach a shop's origin (or the CDN in front of it).
type Origin struct {
	// URLs lists origin base URLs, http:// or https://, without path. Requests
	// are balanced over them. Required.
	URLs []string `yaml:"urls"`
	// HostHeader replaces the shopper's Host toward the origin. Default "":
	// the shop's host is passed through.
	HostHeader string `yaml:"host_header"`
	// TLSServerName is the name sent as SNI and verified in the origin's
	// certificate for https URLs. Default: host_header when set, else the
	// URL's host.
	TLSServerName string `yaml:"tls_server_name"`
	// ConnectTimeout bounds opening a connection to the origin. Default 2s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// FirstByteTimeout bounds the wait between sending a request and the
	// first byte of the answer. Default: timeout.
	FirstByteTimeout Duration `yaml:"first_byte_timeout"`
	// Timeout bounds a whole exchange with the origin. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// FallbackAfter is how long a shopper waits for the origin when a copy
	// exists, before the copy is served. Default 3s.
	FallbackAfter Duration `yaml:"fallback_after"`
	// WriteTimeout bounds a whole exchange for every method but GET and
	// HEAD (an order, a payment, a login): such a request is sent once and
	// never answered from a copy, and a checkout is worth the wait. When it
	// passes, or the origin fails after the request was sent, the shopper
	// gets the unconfirmed page (status 504): the order may have gone
	// through. Default 30s (at least timeout).
	WriteTimeout Duration `yaml:"write_timeout"`
	// FailureMarkers are texts that, found in the first 64 KB of a 2xx
	// HTML answer, make it a failure (a platform's custom error page that
	// answers 200): the shopper gets the copy or the outage page, the
	// answer is not stored, and health counts it failed. Added to the
	// built-in markers of common platforms' error pages. Default: none.
	FailureMarkers []string `yaml:"failure_markers"`
	// SlowAfter marks answers slower than this as degraded. Default 2s.
	SlowAfter Duration `yaml:"slow_after"`
	// MaxInflight caps concurrent requests to the origin. Default 0: no cap.
	MaxInflight int `yaml:"max_inflight"`
	// SlowStart ramps the cap up over this time after a recovery. Default 0:
	// no ramp.
	SlowStart Duration `yaml:"slow_start"`
	// MaxConns caps connections per origin URL. Default 512.
	MaxConns int `yaml:"max_conns"`
	// Health configures active probes and passive detection.
	Health Health `yaml:"health"`
}

// Health configures active probes of each origin URL.
type Health struct {
	// Path is probed with GET on every origin URL, every Interval. Probes
	// are per origin endpoint, not per site: sites whose origin URL and
	// probe settings are the same share one probe. Default "": no steady
	// probes; health is learned from live traffic, and an origin that went
	// down is probed with HEAD / until it is back.
	Path string `yaml:"path"`
	// Host is the Host header of probes. Default: origin.host_header, else
	// the origin URL's host, so that every site on a platform shares the
	// probe. Set it to a shop's host for an origin that answers health
	// checks only under that name (it then probes for that site alone).
	Host string `yaml:"host"`
	// Interval between probes. Default 2s.
	Interval Duration `yaml:"interval"`
	// Timeout of one probe. Default 1s.
	Timeout Duration `yaml:"timeout"`
	// Rise is how many successes in a row mark an origin up. Default 2.
	Rise int `yaml:"rise"`
	// Fall is how many failures in a row mark an origin down. Default 2.
	Fall int `yaml:"fall"`
	// ExpectStatus lists accepted probe statuses. Default: any 2xx or 3xx.
	ExpectStatus []int `yaml:"expect_status"`
	// ExpectBody, when set, must occur in the probe answer body.
	ExpectBody string `yaml:"expect_body"`
	// HangAfter declares the origin down when an exchange has waited this
	// long and no exchange with the origin ended meanwhile: an origin that
	// accepts connections and never answers (a hung database) is known down
	// without waiting for timeouts to pile up, with or without a probe
	// path. Requests other than GET and HEAD (an order waiting on a payment
	// provider) do not count. Default 4s (at most origin.timeout); set it to
	// origin.timeout to rely on timeouts alone.
	HangAfter Duration `yaml:"hang_after"`
	// PassiveFailures is how many failed live answers in a row (refused,
	// reset, timed out, 5xx/52x) mark an origin down. Default 3.
	PassiveFailures int `yaml:"passive_failures"`
	// ErrorRatio marks an origin down when at least this share of live
	// answers within Window failed (and there were MinRequests). Default 0.5.
	ErrorRatio float64 `yaml:"error_ratio"`
	// Window is the sliding window for ErrorRatio and for the share of slow
	// answers that marks an origin degraded. Default 10s.
	Window Duration `yaml:"window"`
	// MinRequests is how many live answers Window needs before ratios
	// count. Default 10.
	MinRequests int `yaml:"min_requests"`
}

// Page brands a site's outage and maintenance pages.
type Page struct {
	// Brand is the shop name shown on pages. Default: the site name.
	Brand string `yaml:"brand"`
	// Languages lists the languages pages are shown in, first the shop's
	// main one. Default [en].
	Languages []string `yaml:"languages"`
	// Color is the brand colour as #rgb or #rrggbb. Default "#1f6feb".
	Color string `yaml:"color"`
	// Logo is a PNG, JPEG or WebP file of at most 200 KB, relative to the
	// config file. Default: none (the brand name is shown).
	Logo string `yaml:"logo"`
	// StatusURL links to the shop's status page (https).
	StatusURL string `yaml:"status_url"`
	// Contact is an e-mail address or https URL shown to shoppers.
	Contact string `yaml:"contact"`
	// Message overrides the default outage text per language.
	Message map[string]string `yaml:"message"`
	// Reassurance lists up to 5 short lines per language shown on the
	// outage and maintenance pages ("Your order and payment are safe").
	// Default: none.
	Reassurance map[string][]string `yaml:"reassurance"`
	// TimeZone is the IANA zone times are shown in. Default "UTC".
	TimeZone string `yaml:"timezone"`
	// RetryAfter is what outage answers (and maintenance answers without an
	// announced end) tell clients to wait, in Retry-After and the JSON
	// retry_after; browsers without JavaScript refresh the page after it
	// (at least 10s, at most 5m). Default 30s.
	RetryAfter Duration `yaml:"retry_after"`
	// Template is a custom page template (Go html/template) relative to the
	// config file, for platforms with their own design. Default: none, the
	// built-in design.
	Template string `yaml:"template"`
}

// OnDemandTLS reports whether certificates may be issued for hosts added at
// run time.
func (t TLS) OnDemandTLS() bool { return t.OnDemand == nil || *t.OnDemand }

// RedirectHTTP reports whether plain HTTP is redirected to HTTPS.
func (t TLS) RedirectHTTP() bool { return t.Redirect == nil || *t.Redirect }
