package proxy

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
)

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
	// /.well-known/awning/bypass/{secret} (bypass.go).
	BypassSecret string
}

// maintRule is a Maintenance prepared for the request path.
type maintRule struct {
	readOnly   bool
	start, end int64 // unix nanos; 0 for none
	allow      trustList
	secret     []byte     // nil without a bypass secret
	pages      *lazyPages // its dynamic's: the answers are rendered when first needed
	// banner is put on copies served in read-only maintenance; its get is
	// nil without cache.banner.
	banner lazyBanner
}

func (m *maintRule) activeAt(now int64) bool {
	return (m.start == 0 || now >= m.start) && (m.end == 0 || now < m.end)
}

// maintenanceNow returns the site's maintenance rule when it is in force.
func (s *Server) maintenanceNow(d *dynamic) *maintRule {
	if m := d.maint; m != nil && m.activeAt(s.now().UnixNano()) {
		return m
	}
	return nil
}

// writeMaintenance writes the maintenance page of rule m: JSON for API
// clients, else the page in the shopper's languages, with a Retry-After
// that counts down to an announced end.
func (s *Server) writeMaintenance(ctx *fasthttp.RequestCtx, st *siteState, m *maintRule) {
	s.maintenanceServed.Add(1)
	st.served.answered(OutcomeMaintenance)
	now := s.now()
	answers := &m.pages.get().maintenance
	answers.write(ctx, st.apiPaths)
	if m.end != 0 && wantsJSON(ctx, st.apiPaths) {
		// The body says how long to wait, which counts down to the end.
		var buf [2048]byte
		ctx.Response.SetBody(answers.page.AppendJSON(buf[:0], now))
	}
	if m.end != 0 {
		var buf [20]byte
		ctx.Response.Header.SetBytesKV(hRetryAfter, fasthttp.AppendUint(buf[:0], answers.page.RetryAfter(now)))
	}
}

// isCheckout reports whether path is under one of the site's checkout
// paths, which read-only maintenance closes.
func (st *siteState) isCheckout(path []byte) bool {
	for _, p := range st.checkoutPaths {
		if bytes.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/' || p[len(p)-1] == '/') {
			return true
		}
	}
	return false
}
