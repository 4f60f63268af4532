package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // page.timezone must validate on hosts without zoneinfo (distroless, scratch)
)

var (
	reSiteName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	reHexColor = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	reSHA256   = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	reLangCode = regexp.MustCompile(`^[a-z]{2,3}$`)
)

var redisSchemes = map[string]bool{
	"redis": true, "rediss": true, "unix": true,
	"redis+sentinel": true, "rediss+sentinel": true,
	"redis+cluster": true, "rediss+cluster": true,
}

type checker struct {
	c    *Config
	errs Errors
}

func (v *checker) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, v.c.Errorf(path, format, args...))
}

// validate checks every value that can be checked without building
// components. Checks that need a component's knowledge (host syntax, known
// languages) live in that component and report through Config.Errorf.
func (c *Config) validate() Errors {
	v := &checker{c: c}
	v.listen("listen.http", c.Listen.HTTP)
	if c.TLS.Mode != "off" {
		v.listen("listen.https", c.Listen.HTTPS)
	}
	v.listen("listen.admin", c.Listen.Admin)
	if c.Listen.HTTP3 != "" {
		v.listen("listen.http3", c.Listen.HTTP3)
		if c.TLS.Mode == "off" {
			v.errorf("listen.http3", "HTTP/3 needs TLS: set tls.mode to acme or self-signed, or remove listen.http3")
		}
	}
	if c.Listen.Console != "" {
		v.listen("listen.console", c.Listen.Console)
		if c.Listen.Console == c.Listen.Admin && !strings.HasSuffix(c.Listen.Console, ":0") {
			v.errorf("listen.console", "is listen.admin's address; the console is served there already: leave listen.console empty or give it an address of its own")
		}
	}
	if d := c.Listen.DrainTimeout.D(); d < time.Second || d > 10*time.Minute {
		v.errorf("listen.drain_timeout", "must be between 1s and 10m, got %s", c.Listen.DrainTimeout)
	}

	if c.State.Redis != "" {
		u, err := url.Parse(c.State.Redis)
		switch {
		case err != nil:
			v.errorf("state.redis", "invalid URL: %v", err)
		case !redisSchemes[u.Scheme]:
			v.errorf("state.redis", "want a redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL, got scheme %q", u.Scheme)
		}
	}

	switch c.TLS.Mode {
	case "acme", "self-signed", "off":
	default:
		v.errorf("tls.mode", "want acme, self-signed or off, got %q", c.TLS.Mode)
	}
	if c.TLS.Email != "" {
		if _, err := mail.ParseAddress(c.TLS.Email); err != nil {
			v.errorf("tls.email", "invalid e-mail address %q", c.TLS.Email)
		}
	}
	v.url("tls.ca", c.TLS.CA, "https")
	v.tls()
	v.http2()

	if c.Cache.Memory < 1<<20 {
		v.errorf("cache.memory", "must be at least 1MiB, got %s", c.Cache.Memory)
	}
	if c.Cache.Pages < 1<<20 {
		v.errorf("cache.pages", "must be at least 1MiB, got %s", c.Cache.Pages)
	}
	if c.Cache.Retention.D() < time.Minute {
		v.errorf("cache.retention", "must be at least 1m, got %s", c.Cache.Retention)
	}
	if c.Cache.MaxObject < 1<<10 || c.Cache.MaxObject > c.Limits.ResponseBody {
		v.errorf("cache.max_object", "must be between 1KiB and limits.response_body (%s), got %s", c.Limits.ResponseBody, c.Cache.MaxObject)
	}
	if c.Cache.Refresh.D() > c.Cache.Retention.D() {
		v.errorf("cache.refresh", "%s is longer than cache.retention", c.Cache.Refresh)
	}
	if c.Cache.RedisRefresh.D() < time.Second || c.Cache.RedisRefresh.D() > c.Cache.Retention.D() {
		v.errorf("cache.redis_refresh", "must be between 1s and cache.retention, got %s", c.Cache.RedisRefresh)
	}
	v.globs("cache.ignore_query", c.Cache.IgnoreQuery)
	v.validateAnonymousCookies("cache.anonymous_cookies", &c.Cache.AnonymousCookies)

	v.limits()
	switch c.Log.Format {
	case "json", "text":
	default:
		v.errorf("log.format", "want json or text, got %q", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.errorf("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Notify.Webhook != "" {
		v.url("notify.webhook", c.Notify.Webhook, "http", "https")
	}

	names := map[string]int{}
	if len(c.Sites) == 0 && !c.Admin.HasOpsToken() {
		// Sites may all come through the admin API, which needs an ops
		// token; without one, nothing could ever be served.
		v.errorf("sites", "at least one site is required (or an ops token in admin.tokens, to add sites through the admin API)")
	}
	for i := range c.Sites {
		s := &c.Sites[i]
		p := fmt.Sprintf("sites[%d]", i)
		switch {
		case s.Name == "":
			v.errorf(p+".name", "required")
		case !reSiteName.MatchString(s.Name):
			v.errorf(p+".name", "%q: use lower-case letters, digits and dashes (at most 63)", s.Name)
		default:
			if j, dup := names[s.Name]; dup {
				v.errorf(p+".name", "%q is already the name of sites[%d]", s.Name, j)
			}
			names[s.Name] = i
		}
		v.site(p, s)
	}
	v.tokens(names)
	return v.errs
}

// tls checks the TLS keys that need no component. Agreeing to the CA's
// terms and the CA root file are checked by tls/certs when the node is
// built, so that `check-config` reports them and plain parsing (tests,
// tools) does not need them.
func (v *checker) tls() {
	t := &v.c.TLS
	if len(t.Challenges) == 0 {
		v.errorf("tls.challenges", "list at least one of http-01, tls-alpn-01")
	}
	seen := map[string]bool{}
	for i, ch := range t.Challenges {
		p := fmt.Sprintf("tls.challenges[%d]", i)
		switch {
		case ch != ChallengeHTTP01 && ch != ChallengeTLSALPN01:
			v.errorf(p, "want http-01 or tls-alpn-01, got %q", ch)
		case seen[ch]:
			v.errorf(p, "%q is listed twice", ch)
		}
		seen[ch] = true
	}
	if t.OnDemandLimit < 1 {
		v.errorf("tls.on_demand_limit", "must be at least 1, got %d", t.OnDemandLimit)
	}
	if t.OnDemandWindow.D() < time.Second {
		v.errorf("tls.on_demand_window", "must be at least 1s, got %s", t.OnDemandWindow)
	}
	if d := t.HandshakeTimeout.D(); d < 100*time.Millisecond || d > 5*time.Minute {
		v.errorf("tls.handshake_timeout", "must be between 100ms and 5m, got %s", t.HandshakeTimeout)
	}
	if t.MaxHandshakes < 1 || t.MaxHandshakes > 1<<16 {
		v.errorf("tls.max_handshakes", "must be between 1 and 65536, got %d", t.MaxHandshakes)
	}
}

func (v *checker) http2() {
	h := v.c.HTTP2
	if h.MaxConcurrentStreams < 1 || h.MaxConcurrentStreams > 1000 {
		v.errorf("http2.max_concurrent_streams", "must be between 1 and 1000, got %d", h.MaxConcurrentStreams)
	}
	if h.MaxHeaderListSize < 4<<10 || h.MaxHeaderListSize > 1<<20 {
		v.errorf("http2.max_header_list_size", "must be between 4KiB and 1MiB, got %s", h.MaxHeaderListSize)
	}
	if d := h.IdleTimeout.D(); d < time.Second || d > time.Hour {
		v.errorf("http2.idle_timeout", "must be between 1s and 1h, got %s", h.IdleTimeout)
	}
}

func (v *checker) hsts(p string, h HSTS) {
	if h.MaxAge == 0 && (h.IncludeSubdomains || h.Preload) {
		v.errorf(p+".max_age", "include_subdomains and preload need a max_age")
	}
	if h.Preload && (!h.IncludeSubdomains || h.MaxAge.D() < 365*24*time.Hour) {
		v.errorf(p+".preload", "preload lists require include_subdomains and a max_age of at least 365d")
	}
}

func (v *checker) listen(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.errorf(path, "want host:port such as \":8080\" or \"127.0.0.1:9090\", got %q", addr)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		v.errorf(path, "invalid port %q", port)
	}
	if strings.ContainsAny(host, " /") {
		v.errorf(path, "invalid host %q", host)
	}
}

// url checks that s is an absolute URL with one of the given schemes.
func (v *checker) url(path, s string, schemes ...string) *url.URL {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		v.errorf(path, "want an absolute %s:// URL, got %q", schemes[len(schemes)-1], s)
		return nil
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return u
		}
	}
	v.errorf(path, "want a %s URL, got %q", strings.Join(schemes, " or "), s)
	return nil
}

func (v *checker) globs(key string, globs []string) {
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			v.errorf(fmt.Sprintf("%s[%d]", key, i), "invalid pattern %q", g)
		}
	}
}

func (v *checker) limits() {
	l := v.c.Limits
	for _, s := range []struct {
		path     string
		val, min Size
	}{
		{"limits.request_body", l.RequestBody, 1 << 10},
		{"limits.request_header", l.RequestHeader, 4 << 10},
		{"limits.response_body", l.ResponseBody, 64 << 10},
		{"limits.response_header", l.ResponseHeader, 4 << 10},
	} {
		if s.val < s.min {
			v.errorf(s.path, "must be at least %s, got %s", s.min, s.val)
		}
	}
	if l.RequestHeader > 1<<20 || l.ResponseHeader > 1<<20 {
		v.errorf("limits", "header limits must be at most 1MiB")
	}
	if l.AnswersMemory < l.ResponseBody {
		v.errorf("limits.answers_memory", "must be at least limits.response_body (%s), or no answer of that size could be read, got %s", l.ResponseBody, l.AnswersMemory)
	}
}

func (v *checker) site(p string, s *Site) {
	if len(s.Hosts) == 0 {
		v.errorf(p+".hosts", "at least one host is required")
	}
	o := &s.Origin
	op := p + ".origin"
	if len(o.URLs) == 0 {
		v.errorf(op+".urls", "at least one origin URL is required")
	}
	if len(o.URLs) > MaxOrigins {
		v.errorf(op+".urls", "at most %d origin URLs per site, got %d", MaxOrigins, len(o.URLs))
	}
	for i, raw := range o.URLs {
		up := fmt.Sprintf("%s.urls[%d]", op, i)
		u := v.url(up, raw, "http", "https")
		if u == nil {
			continue
		}
		switch {
		case u.User != nil:
			v.errorf(up, "must not carry a user or password")
		case u.Path != "" && u.Path != "/":
			v.errorf(up, "must not have a path (got %q); Awning forwards the shopper's path", u.Path)
		case u.RawQuery != "" || u.Fragment != "":
			v.errorf(up, "must not have a query or fragment")
		}
		if port := u.Port(); port != "" {
			if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
				v.errorf(up, "invalid port %q", port)
			}
		}
	}
	if strings.ContainsAny(o.HostHeader, " /\r\n\t") {
		v.errorf(op+".host_header", "invalid host %q", o.HostHeader)
	}
	for _, d := range []struct {
		path string
		val  Duration
	}{
		{op + ".connect_timeout", o.ConnectTimeout},
		{op + ".first_byte_timeout", o.FirstByteTimeout},
		{op + ".fallback_after", o.FallbackAfter},
		{op + ".slow_after", o.SlowAfter},
	} {
		if d.val > o.Timeout {
			v.errorf(d.path, "%s is longer than origin.timeout (%s)", d.val, o.Timeout)
		}
	}
	if o.WriteTimeout < o.Timeout {
		v.errorf(op+".write_timeout", "%s is shorter than origin.timeout (%s): an order deserves at least the wait a page gets", o.WriteTimeout, o.Timeout)
	}
	v.failureMarkers(op+".failure_markers", o.FailureMarkers)
	if o.MaxInflight < 0 {
		v.errorf(op+".max_inflight", "must not be negative")
	}
	if o.MaxConns < 1 {
		v.errorf(op+".max_conns", "must be at least 1")
	}
	if o.SlowStart > 0 && o.MaxInflight == 0 {
		v.errorf(op+".slow_start", "needs origin.max_inflight: slow start ramps that cap up")
	}

	h := &o.Health
	hp := op + ".health"
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		v.errorf(hp+".path", "must start with /, got %q", h.Path)
	}
	if strings.ContainsAny(h.Host, " /\r\n\t") {
		v.errorf(hp+".host", "invalid host %q", h.Host)
	}
	if h.Interval.D() < 100*time.Millisecond {
		v.errorf(hp+".interval", "must be at least 100ms, got %s", h.Interval)
	}
	if h.Timeout > h.Interval {
		v.errorf(hp+".timeout", "%s is longer than health.interval (%s)", h.Timeout, h.Interval)
	}
	if h.Rise < 1 || h.Rise > 100 {
		v.errorf(hp+".rise", "must be between 1 and 100, got %d", h.Rise)
	}
	if h.Fall < 1 || h.Fall > 100 {
		v.errorf(hp+".fall", "must be between 1 and 100, got %d", h.Fall)
	}
	if h.PassiveFailures < 1 || h.PassiveFailures > 1000 {
		v.errorf(hp+".passive_failures", "must be between 1 and 1000, got %d", h.PassiveFailures)
	}
	if h.ErrorRatio <= 0 || h.ErrorRatio > 1 {
		v.errorf(hp+".error_ratio", "must be more than 0 and at most 1, got %g", h.ErrorRatio)
	}
	if h.Window.D() < time.Second || h.Window.D() > 10*time.Minute {
		v.errorf(hp+".window", "must be between 1s and 10m, got %s", h.Window)
	}
	if h.MinRequests < 1 {
		v.errorf(hp+".min_requests", "must be at least 1, got %d", h.MinRequests)
	}
	if h.HangAfter.D() < 100*time.Millisecond || h.HangAfter > o.Timeout {
		v.errorf(hp+".hang_after", "must be between 100ms and origin.timeout (%s), got %s", o.Timeout, h.HangAfter)
	}
	for i, st := range h.ExpectStatus {
		if st < 100 || st > 599 {
			v.errorf(fmt.Sprintf("%s.expect_status[%d]", hp, i), "not an HTTP status: %d", st)
		}
	}

	scp := p + ".cache"
	for i, st := range s.Cache.Statuses {
		switch st {
		case 301, 308, 404, 410:
		default:
			v.errorf(fmt.Sprintf("%s.statuses[%d]", scp, i), "copies can be kept of 301, 308, 404 and 410 besides 200, not %d", st)
		}
	}
	if s.Cache.ShortLifetime.D() < time.Second {
		v.errorf(scp+".short_lifetime", "must be at least 1s")
	}
	if w := s.Cache.Warm; w.Sitemap != "" {
		if !strings.HasPrefix(w.Sitemap, "/") {
			v.errorf(scp+".warm.sitemap", "must be a path starting with /, got %q", w.Sitemap)
		}
		if w.Rate <= 0 || w.Rate > 100 {
			v.errorf(scp+".warm.rate", "must be more than 0 and at most 100 pages a second, got %g", w.Rate)
		}
		if w.Interval.D() < time.Minute {
			v.errorf(scp+".warm.interval", "must be at least 1m, got %s", w.Interval)
		}
	}
	for i, cp := range s.CheckoutPaths {
		if !strings.HasPrefix(cp, "/") {
			v.errorf(fmt.Sprintf("%s.checkout_paths[%d]", p, i), "must start with /, got %q", cp)
		}
	}
	for i, ap := range s.APIPaths {
		if !strings.HasPrefix(ap, "/") {
			v.errorf(fmt.Sprintf("%s.api_paths[%d]", p, i), "must start with /, got %q", ap)
		}
	}

	pg := &s.Page
	pp := p + ".page"
	langs := map[string]bool{}
	for i, l := range pg.Languages {
		lp := fmt.Sprintf("%s.languages[%d]", pp, i)
		if !reLangCode.MatchString(l) {
			v.errorf(lp, "want a lower-case language code such as nl or en, got %q", l)
		}
		if langs[l] {
			v.errorf(lp, "%q is listed twice", l)
		}
		langs[l] = true
	}
	for l := range pg.Message {
		if !langs[l] {
			v.errorf(pp+".message."+l, "language %q is not in page.languages", l)
		}
	}
	for l := range pg.Reassurance {
		if !langs[l] {
			v.errorf(pp+".reassurance."+l, "language %q is not in page.languages", l)
		}
	}
	if r := pg.RetryAfter.D(); r < time.Second || r > time.Hour {
		v.errorf(pp+".retry_after", "must be between 1s and 1h, got %s", pg.RetryAfter)
	}
	if !reHexColor.MatchString(pg.Color) {
		v.errorf(pp+".color", "want a hex colour such as #b5651d, got %q", pg.Color)
	}
	if pg.StatusURL != "" {
		v.url(pp+".status_url", pg.StatusURL, "https")
	}
	if pg.Contact != "" && !strings.HasPrefix(pg.Contact, "https://") {
		if _, err := mail.ParseAddress(pg.Contact); err != nil || strings.ContainsAny(pg.Contact, "<> ") {
			v.errorf(pp+".contact", "want an e-mail address or an https:// URL, got %q", pg.Contact)
		}
	}
	if pg.Contact != "" && strings.HasPrefix(pg.Contact, "https://") {
		v.url(pp+".contact", pg.Contact, "https")
	}
	if _, err := time.LoadLocation(pg.TimeZone); err != nil {
		v.errorf(pp+".timezone", "unknown time zone %q (want an IANA name such as Europe/Amsterdam)", pg.TimeZone)
	}
	v.hsts(p+".hsts", s.HSTS)
}

func (v *checker) tokens(sites map[string]int) {
	names := map[string]bool{}
	for i, t := range v.c.Admin.Tokens {
		p := fmt.Sprintf("admin.tokens[%d]", i)
		if t.Name == "" {
			v.errorf(p+".name", "required")
		} else if names[t.Name] {
			v.errorf(p+".name", "%q is already the name of another token", t.Name)
		}
		names[t.Name] = true
		if !reSHA256.MatchString(t.SHA256) {
			v.errorf(p+".sha256", "want the 64 hex digits that `awning token new` prints")
		}
		if len(t.Sites) == 0 {
			v.errorf(p+".sites", `list the sites this token reaches, or "*" for all`)
		}
		for j, s := range t.Sites {
			if _, ok := sites[s]; !ok && s != "*" {
				v.errorf(fmt.Sprintf("%s.sites[%d]", p, j), "no site is named %q", s)
			}
		}
	}
}

// MaxFailureMarkers bounds origin.failure_markers: each is looked for in
// every 2xx HTML answer of the site.
const MaxFailureMarkers = 32

// failureMarkers checks origin.failure_markers: a marker must be specific
// enough never to occur in a good page.
func (v *checker) failureMarkers(p string, markers []string) {
	if len(markers) > MaxFailureMarkers {
		v.errorf(p, "at most %d markers, got %d", MaxFailureMarkers, len(markers))
	}
	for i, m := range markers {
		switch {
		case len(strings.TrimSpace(m)) < 8:
			v.errorf(fmt.Sprintf("%s[%d]", p, i), "%q is too short to tell an error page from a good one (at least 8 characters)", m)
		case len(m) > 256:
			v.errorf(fmt.Sprintf("%s[%d]", p, i), "at most 256 bytes, got %d", len(m))
		}
	}
}
