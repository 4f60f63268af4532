package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/pages"
	"github.com/spf13/cobra"
)

// pageCommand groups the page subcommands. preview works on a config file
// alone; set and logo (merchant branding over the admin API) join it with
// the admin API.
func pageCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "page",
		Short: "Outage and maintenance pages",
		Long: `Work with a shop's outage and maintenance pages: what shoppers see when
the shop cannot answer or ops closed it for maintenance.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(pagePreviewCommand(stdout))
	return cmd
}

type previewFlags struct {
	config, site, mode, lang, end string
	readOnly                      bool
}

func pagePreviewCommand(stdout io.Writer) *cobra.Command {
	var f previewFlags
	cmd := &cobra.Command{
		Use:   "preview",
		Short: "Write a site's page as a self-contained HTML file",
		Long: `Render a site's outage or maintenance page from a configuration file
exactly as Awning serves it, with the logo inlined so that the file opens
on its own in a browser. For merchants and designers trying a brand colour,
a logo, messages or a custom template.`,
		Example: `  awning page preview --config awning.yaml --site bakkerij --lang nl > page.html
  awning page preview --config awning.yaml --mode maintenance --end 2h --lang en > maintenance.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return preview(stdout, f, time.Now())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "configuration file (required)")
	fl.StringVar(&f.site, "site", "", "site name (default: the only site)")
	fl.StringVar(&f.mode, "mode", "outage", "outage or maintenance")
	fl.StringVar(&f.lang, "lang", "", "language shown first (default: the site's main language)")
	fl.StringVar(&f.end, "end", "", "maintenance: expected end, RFC 3339 (2025-01-14T16:00:00+01:00) or from now (2h)")
	fl.BoolVar(&f.readOnly, "read-only", false, "maintenance: browsing stays open, ordering is paused")
	cmd.MarkFlagRequired("config")
	return cmd
}

func preview(w io.Writer, f previewFlags, now time.Time) error {
	cfg, err := config.Load(f.config)
	if err != nil {
		return err
	}
	i, err := findSite(cfg, f.site)
	if err != nil {
		return err
	}
	site, err := pages.FromConfig(cfg, i)
	if err != nil {
		return err
	}
	var st pages.State
	mode := pages.Mode(f.mode)
	switch mode {
	case pages.Outage:
		if f.end != "" || f.readOnly {
			return fmt.Errorf("--end and --read-only describe maintenance; add --mode maintenance")
		}
	case pages.Maintenance:
		win := &pages.Window{Mode: pages.Full}
		if f.readOnly {
			win.Mode = pages.ReadOnly
		}
		if f.end != "" {
			if win.End, err = parseEnd(f.end, now); err != nil {
				return err
			}
		}
		st.Window = win
	default:
		return fmt.Errorf("--mode: want outage or maintenance, got %q", f.mode)
	}
	set, err := pages.Render(site, st, pages.Options{InlineLogo: true})
	if err != nil {
		return err
	}
	page := set.Outage
	if mode == pages.Maintenance {
		page = set.Maintenance
	}
	lang := f.lang
	if lang == "" {
		lang = site.Languages[0]
	}
	v := page.Variant(lang)
	if v == nil {
		return fmt.Errorf("--lang: site %q speaks %s, not %q", cfg.Sites[i].Name, strings.Join(site.Languages, ", "), lang)
	}
	_, err = w.Write(v.HTML)
	return err
}

func findSite(cfg *config.Config, name string) (int, error) {
	var names []string
	for i, s := range cfg.Sites {
		if s.Name == name || (name == "" && len(cfg.Sites) == 1) {
			return i, nil
		}
		names = append(names, s.Name)
	}
	if name == "" {
		return 0, fmt.Errorf("--site: the config has several sites; name one of %s", strings.Join(names, ", "))
	}
	return 0, fmt.Errorf("--site: no site is named %q; the config has %s", name, strings.Join(names, ", "))
}

// parseEnd reads an RFC 3339 time or a duration from now.
func parseEnd(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--end: want a time such as 2025-01-14T16:00:00+01:00 or a duration such as 2h, got %q", s)
	}
	return now.Add(d).Truncate(time.Minute), nil
}
