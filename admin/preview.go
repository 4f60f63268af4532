package admin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

// Drafts: a merchant sees a change before saving it. The console PUTs the
// branding it would save (the logo included, as base64) to
// /v1/sites/{site}/page/draft, and a frame loads
// /v1/sites/{site}/page/preview?draft=1, which renders the page with that
// draft in place of the stored branding: the same renderer, the same bytes
// shoppers would get (but for the inlined logo and the absent auto-return
// script). A draft belongs to the caller (its console session, or its
// token) and the site, lives for draftTTL, and is kept where sessions are,
// so a frame answered by another node finds it too.
const (
	kindDraft = "console-draft"
	draftTTL  = 30 * time.Minute
	// maxDraftBody fits a logo of the largest size as base64 with the
	// rest of the branding.
	maxDraftBody = pages.MaxLogoBytes*4/3 + maxJSONBody
)

// draftKey names the caller's draft of the call's site: one per token and
// site, whatever the sessions signed in with the token, so that the drafts
// a merchant can store (each up to maxDraftBody) are bounded by its sites,
// not by how often it signs in.
func draftKey(c *call) string {
	return hex.EncodeToString(c.tok.hash[:]) + "\x00" + c.site.Name
}

func (s *Server) putDraft(c *call) error {
	var b pages.Branding
	if err := decodeJSONUpTo(c, &b, maxDraftBody); err != nil {
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
	if b.Logo == nil {
		if cur := s.store.Scope(c.site.Name).Branding; cur != nil {
			b.Logo = cur.Logo // as PUT .../page: the logo has its own route
		}
	}
	stored, _ := json.Marshal(b)
	ctx, cancel := context.WithTimeout(c.r.Context(), 2*time.Second)
	defer cancel()
	now := s.now()
	if err := s.ui.sessions.Put(ctx, kindDraft, draftKey(c), state.Session{Name: c.tok.name, Created: now.UTC(), Expires: now.Add(draftTTL).UTC(), Data: stored}); err != nil {
		return err
	}
	color := b.Color
	if color == "" {
		color = c.site.Config.Page.Color
	}
	out := map[string]any{"preview": "/v1/sites/" + c.site.Name + "/page/preview?draft=1"}
	if p, ok := pages.PaletteOf(color); ok {
		out["palette"] = paletteView(p)
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// paletteView is a pages.Palette as JSON: the colours the page will use
// and how well each reads.
func paletteView(p pages.Palette) map[string]any {
	return map[string]any{
		"brand": p.Brand, "button": p.Button, "on_button": p.OnButton, "accent": p.Accent, "soft": p.Soft,
		"button_contrast": round2(p.ButtonContrast), "accent_contrast": round2(p.AccentContrast), "brand_on_white": round2(p.BrandOnWhite),
	}
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

// PageConfig is GET /v1/sites/{site}/page/config: the page as the config
// file sets it, under the merchant's branding (what DELETE .../page goes
// back to), with the languages and time zone the pages are shown in.
type PageConfig struct {
	Brand       string              `json:"brand"`
	Color       string              `json:"color"`
	StatusURL   string              `json:"status_url"`
	Contact     string              `json:"contact"`
	Message     map[string]string   `json:"message"`
	Reassurance map[string][]string `json:"reassurance"`
	Logo        bool                `json:"logo"`
	Languages   []string            `json:"languages"`
	TimeZone    string              `json:"timezone"`
}

func (s *Server) pageConfig(c *call) error {
	pg := c.site.Config.Page
	writeJSON(c.w, http.StatusOK, PageConfig{
		Brand: pg.Brand, Color: pg.Color, StatusURL: pg.StatusURL, Contact: pg.Contact, Message: pg.Message,
		Reassurance: pg.Reassurance, Logo: pg.Logo != "", Languages: pg.Languages, TimeZone: pg.TimeZone,
	})
	return nil
}

// siteLanguages are the languages a site's pages are shown in: the ones the
// merchant chose, else the config's.
func (s *Server) siteLanguages(site *sites.Site) []string {
	if b := s.store.Scope(site.Name).Branding; b != nil && len(b.Languages) > 0 {
		return b.Languages
	}
	return site.Config.Page.Languages
}

// pageLanguages are the languages texts of a branding body may be in: the
// ones it sets, else the site's.
func pageLanguages(b *pages.Branding, c *call) []string {
	if len(b.Languages) > 0 {
		return b.Languages
	}
	return c.languages()
}

// renderPreview renders the preview route's page: with the caller's draft
// when the query asks for it, else as stored.
func (s *Server) renderPreview(c *call, mode pages.Mode, lang string) ([]byte, error) {
	var draft *pages.Branding
	if c.r.URL.Query().Get("draft") == "1" {
		ctx, cancel := context.WithTimeout(c.r.Context(), 2*time.Second)
		defer cancel()
		rec, ok := s.ui.sessions.Get(ctx, kindDraft, draftKey(c))
		if !ok {
			return nil, notFound("no draft of %s to preview (drafts last %s); PUT one to .../page/draft", quote(c.site.Name), draftTTL)
		}
		draft = &pages.Branding{}
		if err := json.Unmarshal(rec.Data, draft); err != nil {
			return nil, errors.New("stored draft unreadable: " + err.Error())
		}
	}
	return s.proxy.RenderPreview(c.site.Name, mode, lang, draft)
}
