package config

import (
	"os"
	"time"
)

// Defaults, named so that docs and tests can refer to them.
const (
	DefaultHTTP            = ":80"
	DefaultHTTPS           = ":443"
	DefaultAdmin           = "127.0.0.1:9090"
	DefaultDrainTimeout    = 25 * time.Second
	DefaultStateDir        = "/var/lib/awning"
	DefaultACMEDirectory   = "https://acme-v02.api.letsencrypt.org/directory"
	DefaultMemory          = 256 << 20
	DefaultPages           = 64 << 20
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultRequestBody     = 16 << 20
	DefaultRequestHeader   = 16 << 10
	DefaultResponseBody    = 64 << 20
	DefaultAnswersMemory   = 1 << 30
	DefaultResponseHeader  = 32 << 10
	DefaultConnectTimeout  = 2 * time.Second
	DefaultTimeout         = 10 * time.Second
	DefaultFallbackAfter   = 3 * time.Second
	DefaultWriteTimeout    = 30 * time.Second
	DefaultHangAfter       = 4 * time.Second
	DefaultSlowAfter       = 2 * time.Second
	DefaultMaxConns        = 512
	DefaultHealthInterval  = 2 * time.Second
	DefaultHealthTimeout   = time.Second
	DefaultRise            = 2
	DefaultFall            = 2
	DefaultPassiveFailures = 3
	DefaultErrorRatio      = 0.5
	DefaultWindow          = 10 * time.Second
	DefaultMinRequests     = 10
	DefaultColor           = "#1f6feb"
	DefaultRetryAfter      = 30 * time.Second
	DefaultMaxObject       = 8 << 20
	DefaultRefresh         = 10 * time.Second
	DefaultRedisRefresh    = time.Hour
	DefaultShortLifetime   = 10 * time.Minute

	DefaultOnDemandLimit    = 10
	DefaultOnDemandWindow   = time.Minute
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxHandshakes    = 256

	DefaultMaxConcurrentStreams = 128
	DefaultHTTP2IdleTimeout     = 75 * time.Second
)

// DefaultChallenges are the ACME challenges answered unless tls.challenges
// says otherwise.
var DefaultChallenges = []string{ChallengeHTTP01, ChallengeTLSALPN01}

// ACME challenge names in tls.challenges.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// MaxOrigins bounds origin.urls per site (health tracks attempts in a
// 64-bit set).
const MaxOrigins = 64

// DefaultIgnoreQuery lists the tracking parameters left out of cache keys
// unless cache.ignore_query says otherwise.
var DefaultIgnoreQuery = []string{
	"utm_*", "gclid", "fbclid", "msclkid", "gbraid", "wbraid", "srsltid",
	"gad_source", "mc_cid", "mc_eid",
}

func (c *Config) setDefaults() {
	def(&c.Listen.HTTP, DefaultHTTP)
	def(&c.Listen.HTTPS, DefaultHTTPS)
	def(&c.Listen.Admin, DefaultAdmin)
	def(&c.Listen.DrainTimeout, Duration(DefaultDrainTimeout))
	def(&c.State.Dir, os.Getenv("STATE_DIRECTORY"))
	def(&c.State.Dir, DefaultStateDir)
	def(&c.TLS.Mode, "acme")
	def(&c.TLS.CA, DefaultACMEDirectory)
	if c.TLS.Challenges == nil {
		c.TLS.Challenges = DefaultChallenges
	}
	def(&c.TLS.OnDemandLimit, DefaultOnDemandLimit)
	def(&c.TLS.OnDemandWindow, Duration(DefaultOnDemandWindow))
	def(&c.TLS.HandshakeTimeout, Duration(DefaultHandshakeTimeout))
	def(&c.TLS.MaxHandshakes, DefaultMaxHandshakes)
	def(&c.HTTP2.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
	def(&c.HTTP2.IdleTimeout, Duration(DefaultHTTP2IdleTimeout))
	def(&c.Cache.Memory, DefaultMemory)
	def(&c.Cache.Pages, DefaultPages)
	def(&c.Cache.Retention, Duration(DefaultRetention))
	if c.Cache.IgnoreQuery == nil {
		c.Cache.IgnoreQuery = DefaultIgnoreQuery
	}
	c.Cache.AnonymousCookies.setDefault(DefaultAnonymousCookies)
	def(&c.Cache.Refresh, Duration(DefaultRefresh))
	def(&c.Cache.RedisRefresh, Duration(DefaultRedisRefresh))
	def(&c.Limits.RequestBody, DefaultRequestBody)
	def(&c.Limits.RequestHeader, DefaultRequestHeader)
	def(&c.Limits.ResponseBody, DefaultResponseBody)
	def(&c.Limits.ResponseHeader, DefaultResponseHeader)
	def(&c.Limits.AnswersMemory, max(DefaultAnswersMemory, c.Limits.ResponseBody))
	def(&c.Cache.MaxObject, min(DefaultMaxObject, c.Limits.ResponseBody))
	def(&c.HTTP2.MaxHeaderListSize, c.Limits.RequestHeader)
	def(&c.Log.Format, "json")
	def(&c.Log.Level, "info")
	for i := range c.Sites {
		c.Sites[i].setDefaults()
	}
}

func (s *Site) setDefaults() {
	o := &s.Origin
	def(&o.Timeout, Duration(DefaultTimeout))
	def(&o.ConnectTimeout, min(Duration(DefaultConnectTimeout), o.Timeout))
	def(&o.FirstByteTimeout, o.Timeout)
	def(&o.FallbackAfter, min(Duration(DefaultFallbackAfter), o.Timeout))
	def(&o.SlowAfter, min(Duration(DefaultSlowAfter), o.Timeout))
	def(&o.WriteTimeout, max(Duration(DefaultWriteTimeout), o.Timeout))
	def(&o.MaxConns, DefaultMaxConns)
	h := &o.Health
	def(&h.Interval, Duration(DefaultHealthInterval))
	def(&h.Timeout, min(Duration(DefaultHealthTimeout), h.Interval))
	def(&h.Rise, DefaultRise)
	def(&h.Fall, DefaultFall)
	def(&h.PassiveFailures, DefaultPassiveFailures)
	def(&h.ErrorRatio, DefaultErrorRatio)
	def(&h.Window, Duration(DefaultWindow))
	def(&h.MinRequests, DefaultMinRequests)
	def(&h.HangAfter, min(Duration(DefaultHangAfter), o.Timeout))
	if s.CheckoutPaths == nil {
		s.CheckoutPaths = []string{"/cart", "/checkout"}
	}
	sc := &s.Cache
	def(&sc.ShortLifetime, Duration(DefaultShortLifetime))
	def(&sc.Warm.Rate, 1)
	def(&sc.Warm.Interval, Duration(24*time.Hour))
	p := &s.Page
	def(&p.Brand, s.Name)
	if len(p.Languages) == 0 {
		p.Languages = []string{"en"}
	}
	def(&p.Color, DefaultColor)
	def(&p.TimeZone, "UTC")
	def(&p.RetryAfter, Duration(DefaultRetryAfter))
}

// def sets *v to d when *v is the zero value.
func def[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
