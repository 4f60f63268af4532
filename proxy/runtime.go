package proxy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/pages"
	"github.com/valyala/fasthttp"
)

// SiteState is what ops and merchants changed at run time for one site,
// as the proxy applies it (the state package keeps it and the node turns it
// into this): what the pages show, the maintenance rule, the ops override.
// Its zero value is "nothing changed".
type SiteState struct {
	// Pages is what the outage and maintenance pages show beyond the
	// configuration: branding, incident updates, the maintenance window.
	Pages pages.State
	// Maintenance is the maintenance rule; nil for none.
	Maintenance *Maintenance
	// ForceFallback: ops declared the origin down. When false, the config's
	// force_fallback applies.
	ForceFallback bool
}

// Maintenance is a maintenance rule as the request path applies it.
type Maintenance struct {
	// ReadOnly keeps browsing open from copies; checkout paths and every
	// method but GET and HEAD get the maintenance page.
	ReadOnly bool
	// Start and End bound the window; zero for "at once" and "until
	// lifted". Outside them the rule does nothing.
	Start, End time.Time
	// Allow lists the client addresses that bypass maintenance.
	Allow []netip.Prefix
	// BypassSecret, when not empty, lets a shopper through who visited
	// /.well-known/awning/bypass/{secret}.
	BypassSecret string
}

// dynamic is a site's run-time part of the request path: swapped whole
// when the state or the configuration changes. Its pages are rendered on
// first use (pagecache.go).
type dynamic struct {
	pages lazyPages
	maint *maintRule // nil without maintenance
}

// maintRule is a Maintenance prepared for the request path.
type maintRule struct {
	readOnly   bool
	start, end int64 // unix nanos; 0 for none
	allow      trustList
	secret     []byte     // nil without a bypass secret
	pages      *lazyPages // its dynamic's
}

func (m *maintRule) activeAt(now int64) bool {
	return (m.start == 0 || now >= m.start) && (m.end == 0 || now < m.end)
}

// ApplyState applies a site's run-time state: its pages are rendered anew
// and swapped in with the maintenance rule, and the ops override is set. It
// is kept, so a config reload renders the site with it too.
func (s *Server) ApplyState(site string, in SiteState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	ss := snap.sites.Named(site)
	if ss == nil {
		return errors.New("proxy: no site named " + site)
	}
	st := snap.states[ss.Index]
	s.inputs[site] = in
	if old := st.dyn.Swap(s.newDynamic(st, in)); old != nil {
		s.pageCache.drop(&old.pages)
	}
	st.applyForce(in)
	return nil
}

// newDynamic prepares what a site's run-time state changes on the request
// path. Nothing is rendered yet.
func (s *Server) newDynamic(st *siteState, in SiteState) *dynamic {
	d := &dynamic{pages: lazyPages{site: st.pageSite, state: in.Pages, maint: in.Maintenance != nil, cache: s.pageCache}}
	if m := in.Maintenance; m != nil {
		d.maint = &maintRule{readOnly: m.ReadOnly, allow: m.Allow, pages: &d.pages}
		if !m.Start.IsZero() {
			d.maint.start = m.Start.UnixNano()
		}
		if !m.End.IsZero() {
			d.maint.end = m.End.UnixNano()
		}
		if m.BypassSecret != "" {
			d.maint.secret = []byte(m.BypassSecret)
		}
	}
	return d
}

// applyForce sets the health override from the state, or from the config
// when ops released it.
func (st *siteState) applyForce(in SiteState) {
	switch f := st.site.Config.ForceFallback; {
	case in.ForceFallback:
		st.health.SetForce(health.ForceFallback)
	case f == nil:
		st.health.SetForce(health.ForceAuto)
	case *f:
		st.health.SetForce(health.ForceFallback)
	default:
		st.health.SetForce(health.ForceOrigin)
	}
}

// maintenanceNow returns the site's maintenance rule when it is in force.
func (s *Server) maintenanceNow(d *dynamic) *maintRule {
	if m := d.maint; m != nil && m.activeAt(s.now().UnixNano()) {
		return m
	}
	return nil
}

// Bypass cookie: a shopper who knows the bypass secret visits
// /.well-known/awning/bypass/{secret} and gets a cookie signed with the
// secret, naming the site and an expiry. Any node can check it (the secret
// is in the shared state), it cannot be made without the secret, it does
// not work on another site, and it dies with the secret.
var (
	bypassPrefix     = []byte("/.well-known/awning/bypass/")
	bypassCookieName = []byte("awning_bypass")
)

// bypassFor is how long a bypass cookie lasts when the window has no end.
const bypassFor = 12 * time.Hour

func bypassMAC(secret []byte, site string, exp int64) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(site))
	m.Write([]byte{0})
	m.Write(strconv.AppendInt(nil, exp, 10))
	return m.Sum(nil)
}

// bypassCookie returns a cookie value for site valid until exp.
func bypassCookie(secret []byte, site string, exp int64) string {
	return strconv.FormatInt(exp, 10) + "." + base64.RawURLEncoding.EncodeToString(bypassMAC(secret, site, exp))
}

// validBypass checks a bypass cookie value at now.
func validBypass(secret []byte, site string, value []byte, now int64) bool {
	es, mac, ok := bytes.Cut(value, []byte("."))
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(string(es), 10, 64)
	if err != nil || exp*int64(time.Second) <= now {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(string(mac))
	return err == nil && hmac.Equal(got, bypassMAC(secret, site, exp))
}

// bypassed reports whether the request may pass maintenance: its client is
// allowed, or it carries a valid bypass cookie for this site.
func (s *Server) bypassed(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState, m *maintRule) bool {
	if len(m.allow) > 0 {
		client := clientAddr(peerAddr(ctx), ctx.Request.Header.Peek("X-Forwarded-For"), snap.trusted)
		if m.allow.contains(client) {
			return true
		}
	}
	if m.secret != nil {
		if v := ctx.Request.Header.CookieBytes(bypassCookieName); len(v) > 0 {
			return validBypass(m.secret, st.site.Name, v, s.now().UnixNano())
		}
	}
	return false
}

// serveBypass answers /.well-known/awning/bypass/{secret}: with the right
// secret, it sets the bypass cookie and sends the shopper to the shop;
// anything else is a plain 404 that says nothing about maintenance.
func (s *Server) serveBypass(ctx *fasthttp.RequestCtx, st *siteState, d *dynamic) {
	secret := bytes.TrimPrefix(ctx.Path(), bypassPrefix)
	m := d.maint
	if m == nil || m.secret == nil || subtle.ConstantTimeCompare(secret, m.secret) != 1 {
		wellKnownUnknown.write(ctx)
		return
	}
	now := s.now()
	exp := now.Add(bypassFor)
	if m.end != 0 && time.Unix(0, m.end).After(now) && time.Unix(0, m.end).Before(exp) {
		exp = time.Unix(0, m.end).Add(time.Hour) // a little past the announced end
	}
	var c fasthttp.Cookie
	c.SetKeyBytes(bypassCookieName)
	c.SetValue(bypassCookie(m.secret, st.site.Name, exp.Unix()))
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSecure(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	c.SetExpire(exp)
	ctx.Response.Header.SetCookie(&c)
	ctx.Response.Header.SetBytesKV(hCacheControl, vNoStore)
	to := ctx.QueryArgs().Peek("to")
	if len(to) == 0 || to[0] != '/' || bytes.HasPrefix(to, []byte("//")) || bytes.ContainsAny(to, "\\\r\n") {
		to = []byte("/") // only a path on this site: never an open redirect
	}
	// A relative Location: the shopper's scheme and host may be a load
	// balancer's, which Awning cannot know for sure.
	ctx.Response.Header.SetBytesKV(hLocation, to)
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// serveMaintenance answers a request the maintenance rule closes: in
// read-only mode, browsing is served from copies; everything else gets the
// maintenance page.
func (s *Server) serveMaintenance(ctx *fasthttp.RequestCtx, st *siteState, m *maintRule) {
	if m.readOnly && (ctx.IsGet() || ctx.IsHead()) && !st.isCheckout(ctx.Path()) {
		var kbuf [512]byte
		key := st.keys.Build(kbuf[:0], &ctx.Request)
		if cp := s.cache.Lookup(&key, &ctx.Request); cp != nil {
			s.serveFallback(ctx, st, &key, cp, fallbackWhy{hit: true, detail: "read-only"})
			return
		}
	}
	s.maintenanceServed.Add(1)
	st.count.count(OutcomeMaintenance)
	now := s.now()
	answers := &m.pages.get().maintenance
	if wantsJSON(ctx, st.apiPaths) {
		answers.json.write(ctx)
		if m.end != 0 {
			// The body says how long to wait, which counts down to the end.
			var buf [2048]byte
			ctx.Response.SetBody(answers.page.AppendJSON(buf[:0], now))
		}
	} else {
		answers.html[answers.page.Pick(ctx.Request.Header.PeekBytes(hAcceptLanguage))].write(ctx)
	}
	if m.end != 0 {
		var buf [20]byte
		ctx.Response.Header.SetBytesKV(hRetryAfter, fasthttp.AppendUint(buf[:0], answers.page.RetryAfter(now)))
	}
}

func (st *siteState) isCheckout(path []byte) bool {
	for _, p := range st.checkoutPaths {
		if bytes.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/' || p[len(p)-1] == '/') {
			return true
		}
	}
	return false
}

// Preview renders a site's page as it is now (its run-time state
// included) with the logo inlined, for merchants and the admin API. lang
// picks the language order starting with it; "" gives the shop's own.
func (s *Server) Preview(site string, mode pages.Mode, lang string) ([]byte, error) {
	s.mu.Lock()
	in := s.inputs[site]
	s.mu.Unlock()
	snap := s.snap.Load()
	ss := snap.sites.Named(site)
	if ss == nil {
		return nil, errors.New("proxy: no site named " + site)
	}
	set, err := pages.Render(snap.states[ss.Index].pageSite, in.Pages, pages.Options{InlineLogo: true})
	if err != nil {
		return nil, err
	}
	p := set.Outage
	if mode == pages.Maintenance {
		p = set.Maintenance
	}
	if v := p.Variant(lang); lang != "" && v != nil {
		return v.HTML, nil
	}
	return p.Variants()[0].HTML, nil
}
