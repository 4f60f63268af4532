package proxy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

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
func (s *Server) bypassed(ctx *fasthttp.RequestCtx, snap *snapshot, st *siteState, m *maintRule, now time.Time) bool {
	if len(m.allow) > 0 {
		client := clientAddr(peerAddr(ctx), ctx.Request.Header.Peek("X-Forwarded-For"), snap.trusted)
		if m.allow.contains(client) {
			return true
		}
	}
	if m.secret != nil {
		if v := ctx.Request.Header.CookieBytes(bypassCookieName); len(v) > 0 {
			return validBypass(m.secret, st.site.Name, v, now.UnixNano())
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
