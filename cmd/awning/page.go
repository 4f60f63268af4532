package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
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
	var api apiFlags
	api.register(cmd)
	cmd.AddCommand(pagePreviewCommand(stdout, &api), pageSetCommand(stdout, &api), pageLogoCommand(stdout, &api), pageResetCommand(stdout, &api))
	return cmd
}

type brandingFlags struct {
	site, brand, color, statusURL, contact string
	message, reassurance                   []string
}

func pageSetCommand(stdout io.Writer, api *apiFlags) *cobra.Command {
	var f brandingFlags
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Change a shop's branding over the admin API (merchant or ops token)",
		Long: `Change what a shop's outage and maintenance pages show. Fields not given
keep their current value; the logo has its own command. With --json, the
answer shows the page as shoppers see it (the config file's page: with the
changes over it) and "overrides" names the fields changed here.`,
		Example: `  awning page set --site bakkerij --color "#b5651d" --contact support@bakkerij.example
  awning page set --site bakkerij --message nl="We bakken even opnieuw" --reassurance en="Your orders are safe"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.site == "" {
				return fmt.Errorf("page set: say which shop with --site")
			}
			changed := false
			for _, name := range []string{"brand", "color", "status-url", "contact", "message", "reassurance"} {
				changed = changed || cmd.Flags().Changed(name)
			}
			if !changed {
				// Saving nothing would still be a change in the audit log,
				// and "updated" a claim the command could not back.
				return fmt.Errorf("page set: nothing to change; give --brand, --color, --status-url, --contact, --message or --reassurance (awning page reset goes back to the config file's)")
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), "GET", "/v1/sites/"+f.site+"/page", nil, "")
			if err != nil {
				return fmt.Errorf("page set: %w", err)
			}
			b, err := ownBranding(data)
			if err != nil {
				return fmt.Errorf("page set: %w", err)
			}
			set := func(dst *string, v string) {
				if v != "" {
					*dst = v
				}
			}
			set(&b.Brand, f.brand)
			set(&b.Color, f.color)
			set(&b.StatusURL, f.statusURL)
			set(&b.Contact, f.contact)
			msg, err := messages("message", f.message)
			if err != nil {
				return err
			}
			if msg != nil {
				b.Message = msg
			}
			if len(f.reassurance) > 0 {
				b.Reassurance = map[string][]string{}
				for _, r := range f.reassurance {
					lang, text, ok := strings.Cut(r, "=")
					if !ok {
						return fmt.Errorf("--reassurance %q: write it as lang=text", r)
					}
					b.Reassurance[lang] = append(b.Reassurance[lang], text)
				}
			}
			if data, err = c.call(cmd.Context(), "PUT", "/v1/sites/"+f.site+"/page", b, ""); err != nil {
				return fmt.Errorf("page set: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			fmt.Fprintf(stdout, "Branding of %s updated; its pages are rendered anew on every node.\n", f.site)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.site, "site", "", "the shop (required)")
	fl.StringVar(&f.brand, "brand", "", "shop name")
	fl.StringVar(&f.color, "color", "", "brand colour, #rgb or #rrggbb")
	fl.StringVar(&f.statusURL, "status-url", "", "https link to a status page")
	fl.StringVar(&f.contact, "contact", "", "e-mail address or https link")
	fl.StringArrayVar(&f.message, "message", nil, "outage message per language, lang=text (repeat; replaces all messages)")
	fl.StringArrayVar(&f.reassurance, "reassurance", nil, "a reassurance line, lang=text (repeat; replaces all lines)")
	return cmd
}

// ownBranding returns the merchant's own changes from the API's view of a
// site's branding: the fields it names in "overrides" (the others are the
// config file's, which a PUT must not pin), minus the logo, which has its
// own route.
func ownBranding(view []byte) (pages.Branding, error) {
	var b pages.Branding
	var cur map[string]json.RawMessage
	if err := json.Unmarshal(view, &cur); err != nil {
		return b, err
	}
	own := map[string]json.RawMessage{}
	var overrides []string
	if err := json.Unmarshal(cur["overrides"], &overrides); err != nil {
		return b, fmt.Errorf("the admin API did not say which fields are the merchant's: %w", err)
	}
	for _, name := range overrides {
		if name != "logo" {
			own[name] = cur[name]
		}
	}
	raw, _ := json.Marshal(own)
	return b, json.Unmarshal(raw, &b)
}

func pageLogoCommand(stdout io.Writer, api *apiFlags) *cobra.Command {
	var site string
	var remove bool
	cmd := &cobra.Command{
		Use:     "logo --site NAME FILE",
		Short:   "Upload a shop's logo (PNG, JPEG or WebP up to 200 KB), or remove it",
		Example: "  awning page logo --site bakkerij logo.png\n  awning page logo --site bakkerij --remove",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if site == "" {
				return fmt.Errorf("page logo: say which shop with --site")
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			path := "/v1/sites/" + site + "/page/logo"
			if remove {
				if _, err := c.call(cmd.Context(), "DELETE", path, nil, ""); err != nil {
					return fmt.Errorf("page logo: %w", err)
				}
				fmt.Fprintf(stdout, "Logo of %s removed.\n", site)
				return nil
			}
			if len(args) != 1 {
				return fmt.Errorf("page logo: give the image file, or --remove")
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("page logo: %w", err)
			}
			if _, err := c.call(cmd.Context(), "PUT", path, data, http.DetectContentType(data)); err != nil {
				return fmt.Errorf("page logo: %w", err)
			}
			fmt.Fprintf(stdout, "Logo of %s uploaded (%d bytes).\n", site, len(data))
			return nil
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "the shop (required)")
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the logo")
	return cmd
}

func pageResetCommand(stdout io.Writer, api *apiFlags) *cobra.Command {
	var site string
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Drop a shop's branding changes: back to the config file's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if site == "" {
				return fmt.Errorf("page reset: say which shop with --site")
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			if _, err := c.call(cmd.Context(), "DELETE", "/v1/sites/"+site+"/page", nil, ""); err != nil {
				return fmt.Errorf("page reset: %w", err)
			}
			fmt.Fprintf(stdout, "Branding of %s is the config file's again.\n", site)
			return nil
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "the shop (required)")
	return cmd
}

type previewFlags struct {
	config, site, mode, lang, end string
	readOnly                      bool
}

func pagePreviewCommand(stdout io.Writer, api *apiFlags) *cobra.Command {
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
			if f.config == "" {
				return remotePreview(cmd, stdout, api, f)
			}
			return preview(stdout, f, time.Now())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "configuration file; without it, the page comes from the admin API as it is now")
	fl.StringVar(&f.site, "site", "", "site name (default: the only site)")
	fl.StringVar(&f.mode, "mode", "outage", "outage or maintenance")
	fl.StringVar(&f.lang, "lang", "", "language shown first (default: the site's main language)")
	fl.StringVar(&f.end, "end", "", "maintenance: expected end, RFC 3339 (2025-01-14T16:00:00+01:00) or from now (2h)")
	fl.BoolVar(&f.readOnly, "read-only", false, "maintenance: browsing stays open, ordering is paused")
	return cmd
}

// remotePreview fetches a site's page as a running Awning serves it now,
// with the merchant's branding and ops' updates.
func remotePreview(cmd *cobra.Command, w io.Writer, api *apiFlags, f previewFlags) error {
	if f.site == "" {
		return fmt.Errorf("page preview: say which shop with --site (or give --config)")
	}
	if f.end != "" || f.readOnly {
		return fmt.Errorf("page preview: --end and --read-only work with --config; the admin API shows the window in force")
	}
	c, err := api.client()
	if err != nil {
		return err
	}
	q := url.Values{"mode": {f.mode}}
	if f.lang != "" {
		q.Set("lang", f.lang)
	}
	data, err := c.call(cmd.Context(), "GET", "/v1/sites/"+f.site+"/page/preview?"+q.Encode(), nil, "")
	if err != nil {
		return fmt.Errorf("page preview: %w", err)
	}
	_, err = w.Write(data)
	return err
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
