package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/spf13/cobra"
)

func maintenanceCommand(stdout io.Writer) *cobra.Command {
	var api apiFlags
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Put a shop, or every shop, into maintenance and take it out",
		Long: `Put a shop (--site) or every shop (--all) into maintenance, on every
Awning node at once, through the admin API ($AWNING_ADMIN, $AWNING_TOKEN).`,
		Args: cobra.NoArgs,
	}
	api.register(cmd)
	cmd.AddCommand(maintenanceOnCommand(stdout, &api), maintenanceOffCommand(stdout, &api), maintenanceStatusCommand(stdout, &api))
	return cmd
}

type maintenanceFlags struct {
	site, mode, start, until, forDur, secret string
	all, bypass                              bool
	message, allow                           []string
}

func maintenanceOnCommand(stdout io.Writer, api *apiFlags) *cobra.Command {
	var f maintenanceFlags
	cmd := &cobra.Command{
		Use:   "on",
		Short: "Turn maintenance on",
		Example: `  awning maintenance on --site bakkerij --for 2h
  awning maintenance on --all --mode read-only --until 16:00 --message nl="We zijn de kassa aan het vernieuwen" --message en="We are renewing our checkout"
  awning maintenance on --site bakkerij --start "2026-12-27 06:00" --until "2026-12-27 08:00" --bypass`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, path, err := api.scoped(f.site, f.all, "maintenance")
			if err != nil {
				return err
			}
			msg, err := messages("message", f.message)
			if err != nil {
				return err
			}
			from, to, err := window(f.start, f.until, f.forDur, time.Now(), time.Local)
			if err != nil {
				return err
			}
			secret := f.secret
			if f.bypass && secret == "" {
				var b [18]byte
				rand.Read(b[:])
				secret = base64.RawURLEncoding.EncodeToString(b[:])
			}
			body := map[string]any{"enabled": true, "mode": f.mode, "message": msg, "allow": f.allow, "bypass_secret": secret}
			if from != nil {
				body["start"] = from.Format(time.RFC3339)
			}
			if to != nil {
				body["end"] = to.Format(time.RFC3339)
			}
			data, err := c.call(cmd.Context(), "PUT", path, body, "")
			if err != nil {
				return fmt.Errorf("maintenance on: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			var m admin.MaintenanceView
			json.Unmarshal(data, &m)
			fmt.Fprintf(stdout, "Maintenance is on for %s: %s.\n", scopeWords(f.site), describeMaintenance(&m))
			if secret != "" && f.site != "" {
				if v, err := siteView(cmd, c, f.site); err == nil && len(v.Hosts) > 0 {
					fmt.Fprintf(stdout, "Bypass (sets a cookie for this shop): https://%s/.well-known/awning/bypass/%s\n", v.Hosts[0], secret)
					fmt.Fprintln(stdout, "  (add the port when Awning does not listen on 443; any of the shop's hosts works)")
				}
			} else if secret != "" {
				fmt.Fprintf(stdout, "Bypass on any shop host: /.well-known/awning/bypass/%s\n", secret)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.site, "site", "", "the shop")
	fl.BoolVar(&f.all, "all", false, "every shop")
	fl.StringVar(&f.mode, "mode", "full", "full (every request gets the maintenance page) or read-only (browsing from copies; ordering paused)")
	fl.StringArrayVar(&f.message, "message", nil, "the message per language, lang=text (repeat per language)")
	fl.StringVar(&f.start, "start", "", "when it begins: 16:00, 2026-12-24 16:00, RFC 3339, or +1h (default now)")
	fl.StringVar(&f.until, "until", "", "when the shop is expected back: 16:00, 2026-12-24 16:00, RFC 3339, or +2h")
	fl.StringVar(&f.forDur, "for", "", "how long, such as 45m or 2h (instead of --until)")
	fl.StringArrayVar(&f.allow, "allow", nil, "client address or CIDR let through (repeat)")
	fl.BoolVar(&f.bypass, "bypass", false, "make a bypass secret and print the link that lets its visitor through")
	fl.StringVar(&f.secret, "bypass-secret", "", "use this bypass secret (16 to 128 URL-safe characters)")
	return cmd
}

func maintenanceOffCommand(stdout io.Writer, api *apiFlags) *cobra.Command {
	var site string
	var all bool
	cmd := &cobra.Command{
		Use:     "off",
		Short:   "Turn maintenance off",
		Example: "  awning maintenance off --site bakkerij\n  awning maintenance off --all",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, path, err := api.scoped(site, all, "maintenance")
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), "DELETE", path, nil, "")
			if err != nil {
				return fmt.Errorf("maintenance off: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			fmt.Fprintf(stdout, "Maintenance is off for %s.\n", scopeWords(site))
			return nil
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "the shop")
	cmd.Flags().BoolVar(&all, "all", false, "every shop (the global window; a shop's own window stays)")
	return cmd
}

func maintenanceStatusCommand(stdout io.Writer, api *apiFlags) *cobra.Command {
	var site string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which shops are open, in maintenance, or served from the fallback",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			path := "/v1/sites"
			if site != "" {
				path += "/" + site
			}
			data, err := c.call(cmd.Context(), "GET", path, nil, "")
			if err != nil {
				return fmt.Errorf("maintenance status: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			var views []admin.SiteView
			if site != "" {
				var v admin.SiteView
				json.Unmarshal(data, &v)
				views = append(views, v)
			} else {
				json.Unmarshal(data, &views)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SITE\tSHOPPERS\tMAINTENANCE\tORIGINS")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, shoppers(v), maintenanceColumn(v.Maintenance), originsColumn(v))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "one shop (default: every shop the token reaches)")
	return cmd
}

func siteView(cmd *cobra.Command, c *apiClient, site string) (admin.SiteView, error) {
	var v admin.SiteView
	data, err := c.call(cmd.Context(), "GET", "/v1/sites/"+site, nil, "")
	if err == nil {
		err = json.Unmarshal(data, &v)
	}
	return v, err
}

func scopeWords(site string) string {
	if site == "" {
		return "every shop"
	}
	return site
}

func describeMaintenance(m *admin.MaintenanceView) string {
	var b strings.Builder
	b.WriteString(m.Mode)
	if m.Start != nil && !m.Active {
		fmt.Fprintf(&b, ", from %s", m.Start.Local().Format("Mon 2 Jan 15:04 MST"))
	}
	if m.End != nil {
		fmt.Fprintf(&b, ", until %s", m.End.Local().Format("Mon 2 Jan 15:04 MST"))
	} else {
		b.WriteString(", until turned off")
	}
	return b.String()
}

func shoppers(v admin.SiteView) string {
	switch {
	case v.Maintenance != nil && v.Maintenance.Active:
		return "maintenance page"
	case v.ForceFallback:
		return "fallback (forced)"
	case !v.Open:
		return "fallback (origin down)"
	}
	return "open"
}

func maintenanceColumn(m *admin.MaintenanceView) string {
	if m == nil {
		return "-"
	}
	s := describeMaintenance(m)
	if m.Scope == "all" {
		s += " (all sites)"
	}
	if !m.Active {
		s = "scheduled: " + s
	}
	return s
}

func originsColumn(v admin.SiteView) string {
	var parts []string
	for _, o := range v.Origins {
		parts = append(parts, o.URL+" "+o.State)
	}
	return strings.Join(parts, ", ")
}
