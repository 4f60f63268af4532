package pages

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
)

// maxTemplateSize bounds a custom template file.
const maxTemplateSize = 256 << 10

// FromConfig builds the Site for cfg.Sites[i]: it checks the languages
// against the translations, reads the logo and the custom template (paths
// relative to the config file), checks the branding, and renders once with
// sample data so that a template that cannot render is refused now rather
// than when a shop is down. Every problem is returned as config.Errors
// positioned in the file, as Parse's own errors are.
func FromConfig(cfg *config.Config, i int) (*Site, error) {
	return FromSite(cfg, &cfg.Sites[i], fmt.Sprintf("sites[%d]", i))
}

// FromSite is FromConfig for a site that may not be in cfg's file (one
// registered through the admin API): path is its key path in errors, and
// files it names are relative to cfg's.
func FromSite(cfg *config.Config, sc *config.Site, path string) (*Site, error) {
	pg := &sc.Page
	p := path + ".page"
	var errs config.Errors
	errorf := func(path, format string, args ...any) {
		errs = append(errs, cfg.Errorf(path, format, args...))
	}

	s := &Site{
		Name:       sc.Name,
		Languages:  pg.Languages,
		RetryAfter: pg.RetryAfter.D(),
		Branding: Branding{
			Brand:       pg.Brand,
			Color:       pg.Color,
			StatusURL:   pg.StatusURL,
			Contact:     pg.Contact,
			Message:     pg.Message,
			Reassurance: pg.Reassurance,
		},
	}
	for j, l := range pg.Languages {
		if !Known(l) {
			errorf(fmt.Sprintf("%s.languages[%d]", p, j), "no translations for %q; pages speak %s", l, strings.Join(Languages(), ", "))
		}
	}
	loc, err := zone(pg.TimeZone)
	if err != nil {
		errorf(p+".timezone", "%v", err)
	}
	s.Location = loc

	if pg.Logo != "" {
		data, err := readFile(cfg, pg.Logo, MaxLogoBytes)
		if err != nil {
			errorf(p+".logo", "%v", err)
		} else {
			s.Branding.Logo = data
		}
	}
	var fe FieldErrors
	if err := s.Branding.Validate(); errors.As(err, &fe) {
		for _, e := range fe {
			errorf(p+"."+e.Field, "%s", e.Msg)
		}
	}
	// The stale banner's words are shown on the shop's pages too.
	bc := &fieldChecker{}
	for _, l := range sortedKeys(sc.Cache.BannerText) {
		bc.text("banner_text."+l, sc.Cache.BannerText[l], MaxMessageLen, false)
	}
	for _, e := range bc.errs {
		errorf(path+".cache."+e.Field, "%s", e.Msg)
	}

	if pg.Template != "" {
		src, err := readFile(cfg, pg.Template, maxTemplateSize)
		if err == nil {
			s.Template, err = template.New(filepath.Base(pg.Template)).Parse(string(src))
		}
		if err != nil {
			errorf(p+".template", "%v", err)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if s.Template != nil {
		if err := tryTemplate(s); err != nil {
			return nil, config.Errors{cfg.Errorf(p+".template", "%v", err)}
		}
	}
	return s, nil
}

// readFile reads a file named in the config, relative to the config file,
// refusing files over limit.
func readFile(cfg *config.Config, name string, limit int) ([]byte, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(filepath.Dir(cfg.File), name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s is larger than %d KB", name, limit>>10)
	}
	return data, nil
}

// tryTemplate renders s's custom template with and without the optional
// parts (updates, an announced end, read-only maintenance), so that a
// template that fails on any of them is refused when loaded.
func tryTemplate(s *Site) error {
	now := time.Date(2025, 1, 14, 12, 0, 0, 0, time.UTC)
	msg := map[string]string{}
	for _, l := range s.Languages {
		msg[l] = "…"
	}
	for _, st := range []State{
		{},
		{
			Updates: []Update{{ID: "a", Time: now, Message: msg}},
			Window:  &Window{Mode: ReadOnly, Start: now, End: now.Add(2 * time.Hour)},
		},
	} {
		if _, err := render(s, st, Options{}); err != nil {
			return err
		}
	}
	return nil
}
