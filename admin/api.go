package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

func (s *Server) routes() {
	s.handle("GET /v1/sites", siteReader, s.listSites)
	s.handle("GET /v1/sites/{site}", siteReader, s.getSite)

	s.handle("GET /v1/sites/{site}/maintenance", opsOnly, s.getMaintenance)
	s.handle("PUT /v1/sites/{site}/maintenance", opsOnly, s.putMaintenance)
	s.handle("DELETE /v1/sites/{site}/maintenance", opsOnly, s.deleteMaintenance)
	s.handle("GET /v1/maintenance", opsOnly, s.getMaintenance)
	s.handle("PUT /v1/maintenance", opsOnly, s.putMaintenance)
	s.handle("DELETE /v1/maintenance", opsOnly, s.deleteMaintenance)

	s.handle("GET /v1/sites/{site}/updates", opsOnly, s.listUpdates)
	s.handle("POST /v1/sites/{site}/updates", opsOnly, s.postUpdate)
	s.handle("DELETE /v1/sites/{site}/updates/{id}", opsOnly, s.retractUpdate)
	s.handle("GET /v1/updates", opsOnly, s.listUpdates)
	s.handle("POST /v1/updates", opsOnly, s.postUpdate)
	s.handle("DELETE /v1/updates/{id}", opsOnly, s.retractUpdate)

	s.handle("GET /v1/sites/{site}/page", siteReader, s.getPage)
	s.handle("PUT /v1/sites/{site}/page", siteOwner, s.putPage)
	s.handle("DELETE /v1/sites/{site}/page", siteOwner, s.deletePage)
	s.handle("PUT /v1/sites/{site}/page/logo", siteOwner, s.putLogo)
	s.handle("DELETE /v1/sites/{site}/page/logo", siteOwner, s.deleteLogo)
	s.handle("GET /v1/sites/{site}/page/preview", siteReader, s.preview)

	s.handle("PUT /v1/sites/{site}/fallback", opsOnly, s.putFallback)
	s.handle("DELETE /v1/sites/{site}/fallback", opsOnly, s.deleteFallback)

	s.handle("GET /v1/audit", opsOnly, s.audit)

	// {name}, not {site}: the site need not exist yet (handle looks up
	// {site} and answers 404 for an unknown one).
	s.handle("PUT /v1/sites/{name}", opsOnly, s.putSite)
	s.handle("DELETE /v1/sites/{name}", opsOnly, s.deleteSite)

	s.handle("GET /v1/tokens", opsOnly, s.listTokens)
	s.handle("POST /v1/tokens", opsOnly, s.createToken)
	s.handle("DELETE /v1/tokens/{name}", opsOnly, s.revokeToken)
}

// scope is the state scope a route acts on: its site, or every site.
func (c *call) scope() string {
	if c.site != nil {
		return c.site.Name
	}
	return state.Global
}

// languages are the page languages of the route's site; nil for every site.
func (c *call) languages() []string {
	if c.site != nil {
		return c.langs
	}
	return nil
}

// SiteView is what the API says of a site.
type SiteView struct {
	Name          string           `json:"name"`
	Hosts         []string         `json:"hosts"`
	Source        string           `json:"source"`        // "config" (the file) or "api" (PUT /v1/sites/{site})
	URL           string           `json:"url,omitempty"` // the first host through this node's listener (Options.SiteURL)
	TimeZone      string           `json:"timezone"`      // page.timezone: the zone the site's pages, and the CLI, show times in
	Open          bool             `json:"open"`          // shoppers reach the shop: origin up, no maintenance
	Maintenance   *MaintenanceView `json:"maintenance,omitempty"`
	ForceFallback bool             `json:"force_fallback"`
	Origins       []OriginView     `json:"origins"`
	Updates       int              `json:"updates"`
	Branded       bool             `json:"branded"` // the merchant changed the page
}

// MaintenanceView is a maintenance window with whether it is in force now.
type MaintenanceView struct {
	state.Maintenance
	Active bool   `json:"active"`
	Status string `json:"status"` // "active", "scheduled" (starts later) or "ended" (its end has passed)
	Scope  string `json:"scope"`  // "site", or "all" for a window on every site
}

func maintenanceView(m *state.Maintenance, now time.Time, scope string) *MaintenanceView {
	v := &MaintenanceView{Maintenance: *m, Active: m.ActiveAt(now), Status: "active", Scope: scope}
	switch {
	case m.End != nil && !now.Before(*m.End):
		v.Status = "ended"
	case m.Start != nil && now.Before(*m.Start):
		v.Status = "scheduled"
	}
	return v
}

// OriginView is what is known of one origin.
type OriginView struct {
	URL    string    `json:"url"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

func (s *Server) siteView(c *call, site *sites.Site) SiteView {
	now := s.now()
	sc, global := s.store.Scope(site.Name), s.store.Scope(state.Global)
	v := SiteView{Name: site.Name, Hosts: site.Hosts, Source: "config", TimeZone: site.Config.Page.TimeZone, ForceFallback: sc.ForceFallback, Branded: sc.Branding != nil}
	if site.API {
		v.Source = "api"
	}
	if s.siteURL != nil && len(site.Hosts) > 0 {
		v.URL = s.siteURL(site.Hosts[0])
	}
	v.Updates = len(sc.Updates) + len(global.Updates)
	switch m := sc.Maintenance; {
	case m != nil && m.Enabled:
		v.Maintenance = maintenanceView(m, now, "site")
	case global.Maintenance != nil && global.Maintenance.Enabled:
		v.Maintenance = maintenanceView(global.Maintenance, now, "all")
	}
	if v.Maintenance != nil && !c.tok.ops {
		v.Maintenance.BypassSecret = "" // merchants see that there is maintenance, not how to pass it
		v.Maintenance.Allow = nil
	}
	open := v.Maintenance == nil || !v.Maintenance.Active
	if h := s.proxy.Health(site.Name); h != nil {
		st := h.Stats()
		open = open && st.Open
		for _, o := range st.Origins {
			v.Origins = append(v.Origins, OriginView{URL: o.URL, State: o.State.String(), Reason: o.Reason, Since: o.Since})
		}
	}
	v.Open = open
	return v
}

func (s *Server) listSites(c *call) error {
	out := []SiteView{}
	for _, site := range c.view.sites.All() {
		if c.tok.reaches(site.Name) {
			out = append(out, s.siteView(c, site))
		}
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

func (s *Server) getSite(c *call) error {
	writeJSON(c.w, http.StatusOK, s.siteView(c, c.site))
	return nil
}

func (s *Server) getMaintenance(c *call) error {
	m := s.store.Scope(c.scope()).Maintenance
	if m == nil {
		writeJSON(c.w, http.StatusOK, map[string]any{"enabled": false})
		return nil
	}
	writeJSON(c.w, http.StatusOK, maintenanceView(m, s.now(), scopeName(c)))
	return nil
}

func scopeName(c *call) string {
	if c.site != nil {
		return "site"
	}
	return "all"
}

func (s *Server) putMaintenance(c *call) error {
	var b maintenanceBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	m, err := b.toState(s.now(), c.languages())
	if err != nil {
		return err
	}
	m.By, m.At = c.tok.name, s.now().UTC()
	start := m.At
	if m.Start != nil {
		start = *m.Start
	}
	detail := "enabled=" + strconv.FormatBool(m.Enabled) + " mode=" + m.Mode + " start=" + start.Format(time.RFC3339)
	if m.End != nil {
		detail += " end=" + m.End.Format(time.RFC3339)
	}
	// If-None-Match: * (RFC 9110 13.1.2) asks to set a window only where
	// none is set or scheduled: the CLI sends it, so that a second
	// `maintenance on` does not silently replace the first one's times and
	// message. A window whose end has passed counts as none.
	onlyNew := c.r.Header.Get("If-None-Match") == "*"
	if _, err := s.change(c, c.scope(), detail, func(sc *state.Scope) error {
		if cur := sc.Maintenance; onlyNew && cur != nil && cur.Enabled && (cur.End == nil || s.now().Before(*cur.End)) {
			return &apiError{http.StatusPreconditionFailed, "a maintenance window is already set or scheduled here; a PUT without If-None-Match: * replaces it"}
		}
		sc.Maintenance = m
		if !m.Enabled {
			sc.Maintenance = nil
		}
		return nil
	}); err != nil {
		return err
	}
	return s.getMaintenance(c)
}

func (s *Server) deleteMaintenance(c *call) error {
	if _, err := s.change(c, c.scope(), "enabled=false", func(sc *state.Scope) error {
		sc.Maintenance = nil
		return nil
	}); err != nil {
		return err
	}
	return s.getMaintenance(c)
}

// updateView is an incident update as the API lists it: live says whether
// pages show it now (it has not expired).
type updateView struct {
	pages.Update
	Live bool `json:"live"`
}

func (s *Server) listUpdates(c *call) error {
	now := s.now()
	out := []updateView{}
	for _, u := range s.store.Scope(c.scope()).Updates {
		out = append(out, updateView{Update: u, Live: u.LiveAt(now)})
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

func (s *Server) postUpdate(c *call) error {
	var b updateBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	now := s.now()
	expires, err := b.expiresAt(now)
	if err != nil {
		return err
	}
	u := pages.Update{ID: newID(), Time: now.UTC().Truncate(time.Second), Message: b.Message, Expires: expires}
	if err := u.Validate(); err != nil {
		return err
	}
	if err := onlyLanguages("message", b.Message, c.languages()); err != nil {
		return err
	}
	if _, err := s.change(c, c.scope(), "update "+u.ID, func(sc *state.Scope) error {
		sc.Updates = append([]pages.Update{u}, sc.Updates...)
		if len(sc.Updates) > state.MaxUpdates {
			sc.Updates = sc.Updates[:state.MaxUpdates]
		}
		return nil
	}); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, u)
	return nil
}

func (s *Server) retractUpdate(c *call) error {
	id := c.r.PathValue("id")
	_, err := s.change(c, c.scope(), "retract "+id, func(sc *state.Scope) error {
		i := slices.IndexFunc(sc.Updates, func(u pages.Update) bool { return u.ID == id })
		if i < 0 {
			return notFound("no update %s", quote(id))
		}
		sc.Updates = slices.Delete(sc.Updates, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	return s.listUpdates(c)
}

// newID returns a short random update ID.
func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) getPage(c *call) error {
	writeJSON(c.w, http.StatusOK, brandingView(c, s.store.Scope(c.scope()).Branding))
	return nil
}

// brandingView shows a site's branding as its pages show it: the
// merchant's changes over the config file's page:, with "overrides" naming
// the fields the merchant changed (the rest are the config file's), and
// the logo as whether there is one rather than its bytes.
func brandingView(c *call, b *pages.Branding) map[string]any {
	cfg := c.site.Config.Page
	base := pages.Branding{Brand: cfg.Brand, Color: cfg.Color, StatusURL: cfg.StatusURL, Contact: cfg.Contact,
		Message: cfg.Message, Reassurance: cfg.Reassurance, Languages: cfg.Languages, TimeZone: cfg.TimeZone}
	var own pages.Branding
	if b != nil {
		own = *b
	}
	eff := own.Over(base)
	overrides := []string{}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"brand", own.Brand != ""}, {"color", own.Color != ""}, {"status_url", own.StatusURL != ""}, {"contact", own.Contact != ""},
		{"message", own.Message != nil}, {"reassurance", own.Reassurance != nil}, {"logo", own.Logo != nil},
		{"languages", len(own.Languages) > 0}, {"timezone", own.TimeZone != ""},
	} {
		if f.set {
			overrides = append(overrides, f.name)
		}
	}
	return map[string]any{"brand": eff.Brand, "color": eff.Color, "status_url": eff.StatusURL, "contact": eff.Contact,
		"message": eff.Message, "reassurance": eff.Reassurance, "logo": len(own.Logo) > 0 || cfg.Logo != "",
		"languages": eff.Languages, "timezone": eff.TimeZone, "overrides": overrides}
}

func (s *Server) putPage(c *call) error {
	var b pages.Branding
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	if err := b.Validate(); err != nil {
		return err
	}
	if err := onlyLanguages("message", b.Message, pageLanguages(&b, c)); err != nil {
		return err
	}
	if err := onlyLanguages("reassurance", b.Reassurance, pageLanguages(&b, c)); err != nil {
		return err
	}
	sc, err := s.change(c, c.scope(), "branding", func(sc *state.Scope) error {
		if b.Logo == nil && sc.Branding != nil {
			b.Logo = sc.Branding.Logo // the logo has its own route; keep it
		}
		sc.Branding = &b
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, brandingView(c, sc.Branding))
	return nil
}

func (s *Server) deletePage(c *call) error {
	if _, err := s.change(c, c.scope(), "branding reset", func(sc *state.Scope) error {
		sc.Branding = nil
		return nil
	}); err != nil {
		return err
	}
	return s.getPage(c)
}

func (s *Server) putLogo(c *call) error {
	switch mt, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type")); mt {
	case "image/png", "image/jpeg", "image/webp", "application/octet-stream", "":
	default:
		return &apiError{http.StatusUnsupportedMediaType, "send a PNG, JPEG or WebP image (SVG is refused: it can carry scripts)"}
	}
	// One message for every logo over the limit, whether the body said
	// its size, was read to the limit, or is just over it.
	if c.r.ContentLength > pages.MaxLogoBytes {
		return logoTooLarge(c.r.ContentLength)
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, pages.MaxLogoBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return logoTooLarge(-1)
	}
	if err != nil {
		return err
	}
	if err := (&pages.Branding{Logo: data}).Validate(); err != nil {
		return err
	}
	sc, err := s.change(c, c.scope(), "logo "+strconv.Itoa(len(data))+" bytes", func(sc *state.Scope) error {
		b := pages.Branding{}
		if sc.Branding != nil {
			b = *sc.Branding
		}
		b.Logo = data
		sc.Branding = &b
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, brandingView(c, sc.Branding))
	return nil
}

// logoTooLarge refuses a logo over pages.MaxLogoBytes; size is -1 when
// the body did not say.
func logoTooLarge(size int64) error {
	msg := sprintf("logo: larger than the %d KB limit", pages.MaxLogoBytes>>10)
	if size > 0 {
		msg = sprintf("logo: %d KB is larger than the %d KB limit", (size+1023)>>10, pages.MaxLogoBytes>>10)
	}
	return &apiError{http.StatusRequestEntityTooLarge, msg + "; save it smaller or as WebP (about 35 KB keeps the page fast)"}
}

func (s *Server) deleteLogo(c *call) error {
	sc, err := s.change(c, c.scope(), "logo removed", func(sc *state.Scope) error {
		if sc.Branding != nil {
			b := *sc.Branding
			b.Logo = nil
			sc.Branding = &b
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, brandingView(c, sc.Branding))
	return nil
}

func (s *Server) preview(c *call) error {
	mode := pages.Mode(c.r.URL.Query().Get("mode"))
	switch mode {
	case "":
		mode = pages.Outage
	case pages.Outage, pages.Maintenance:
	default:
		return badRequest("mode: want outage or maintenance, got %s", quote(string(mode)))
	}
	lang := c.r.URL.Query().Get("lang")
	if lang != "" && !slices.Contains(c.languages(), lang) {
		return badRequest("lang: the site's pages are in %v", c.languages())
	}
	html, err := s.renderPreview(c, mode, lang)
	if err != nil {
		return err
	}
	h := c.w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// A preview is looked at, never run: no script, nothing fetched.
	h.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox")
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(html)
	return nil
}

func (s *Server) putFallback(c *call) error    { return s.setFallback(c, true) }
func (s *Server) deleteFallback(c *call) error { return s.setFallback(c, false) }

func (s *Server) setFallback(c *call, on bool) error {
	if _, err := s.change(c, c.scope(), "force_fallback="+strconv.FormatBool(on), func(sc *state.Scope) error {
		sc.ForceFallback = on
		return nil
	}); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]bool{"force_fallback": on})
	return nil
}

func (s *Server) audit(c *call) error {
	n := 100
	if v := c.r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 10_000 {
			return badRequest("n: want 1 to 10000")
		}
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), 5*time.Second)
	defer cancel()
	log, err := s.store.AuditLog(ctx, n)
	if err != nil {
		return err
	}
	sort.SliceStable(log, func(i, j int) bool { return log[i].Time.After(log[j].Time) })
	writeJSON(c.w, http.StatusOK, log)
	return nil
}
