package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/spf13/cobra"
)

func maintenanceCommand(stdout io.Writer) *cobra.Command {
	var api apiFlags
	var tz zoneFlag
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Put a shop, or every shop, into maintenance and take it out",
		Long: `Put a shop (--site) or every shop (--all) into maintenance, on every
Awning node at once, through the admin API ($AWNING_ADMIN, $AWNING_TOKEN).

Times are read and printed in the shop's zone (page.timezone), whatever
zone this machine is in; --tz chooses another. With --all, the zone the
shops share; when they differ, a time such as 16:00 needs --tz.`,
		Args: cobra.NoArgs,
	}
	api.register(cmd)
	tz.register(cmd)
	cmd.AddCommand(maintenanceOnCommand(stdout, &api, &tz), maintenanceOffCommand(stdout, &api), maintenanceStatusCommand(stdout, &api, &tz))
	return cmd
}

type maintenanceFlags struct {
	site, mode, start, until, forDur, secret string
	all, bypass, replace                     bool
	message, allow                           []string
}

func maintenanceOnCommand(stdout io.Writer, api *apiFlags, tz *zoneFlag) *cobra.Command {
	var f maintenanceFlags
	cmd := &cobra.Command{
		Use:   "on",
		Short: "Turn maintenance on, now or for a window",
		Long: `Turn maintenance on, now or for a window (--start, --until, --for).

A shop has one maintenance window. When one is already on or scheduled,
this refuses and shows it: add --replace to replace it, message and times
included. A window whose end has passed counts as none.`,
		Example: `  awning maintenance on --site bakkerij --for 2h
  awning maintenance on --all --mode read-only --until 16:00 --message nl="We zijn de kassa aan het vernieuwen" --message en="We are renewing our checkout"
  awning maintenance on --site bakkerij --start "2026-12-27 06:00" --until "2026-12-27 08:00" --bypass
  awning maintenance on --site bakkerij --until 18:00 --replace       # move the end of the window in force`,
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
			views, err := siteViews(cmd, c, f.site)
			if err != nil {
				return fmt.Errorf("maintenance on: %w", err)
			}
			loc, zones, err := tz.pick(views...)
			if err != nil {
				return fmt.Errorf("maintenance on: %w", err)
			}
			if loc == nil {
				if needsZone(f.start) || needsZone(f.until) {
					return fmt.Errorf("maintenance on: the shops show times in different zones (%s); say which zone --start and --until are in with --tz", strings.Join(zones, ", "))
				}
				loc = time.UTC
			}
			from, to, err := window(f.start, f.until, f.forDur, time.Now(), loc)
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
				body["start"] = from.Format(time.RFC3339Nano)
			}
			if to != nil {
				body["end"] = to.Format(time.RFC3339Nano)
			}
			var header []string
			if !f.replace {
				header = []string{"If-None-Match", "*"} // only where no window is set
			}
			data, err := c.call(cmd.Context(), "PUT", path, body, "", header...)
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusPreconditionFailed {
				return existingWindow(cmd, c, path, f.site, loc)
			}
			if err != nil {
				return fmt.Errorf("maintenance on: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			var m admin.MaintenanceView
			json.Unmarshal(data, &m)
			verb := "on"
			if m.Status == "scheduled" {
				verb = "scheduled"
			}
			fmt.Fprintf(stdout, "Maintenance is %s for %s: %s.\n", verb, scopeWords(f.site), describeMaintenance(&m, loc))
			if secret != "" && f.site != "" && len(views) == 1 && len(views[0].Hosts) > 0 {
				base := views[0].URL
				if base == "" { // an older node: the API does not say
					base = "https://" + views[0].Hosts[0]
				}
				fmt.Fprintf(stdout, "Bypass (sets a cookie for this shop): %s/.well-known/awning/bypass/%s\n", base, secret)
				fmt.Fprintln(stdout, "  (any of the shop's hosts works; behind a load balancer, use the address shoppers use)")
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
	fl.StringVar(&f.start, "start", "", "when it begins, in the shop's zone: 16:00, 2026-12-24 16:00, RFC 3339, or +1h (default now)")
	fl.StringVar(&f.until, "until", "", "when the shop is expected back, in the shop's zone: 16:00, 2026-12-24 16:00, RFC 3339, or +2h")
	fl.StringVar(&f.forDur, "for", "", "how long, such as 45m or 2h (instead of --until)")
	fl.StringArrayVar(&f.allow, "allow", nil, "client address or CIDR let through (repeat)")
	fl.BoolVar(&f.bypass, "bypass", false, "make a bypass secret and print the link that lets its visitor through")
	fl.StringVar(&f.secret, "bypass-secret", "", "use this bypass secret (16 to 128 URL-safe characters)")
	fl.BoolVar(&f.replace, "replace", false, "replace the window already on or scheduled (its message and times too)")
	return cmd
}

// existingWindow is the error of a `maintenance on` that found a window
// already set: it says which, so that ops decide on --replace knowingly.
func existingWindow(cmd *cobra.Command, c *apiClient, path, site string, loc *time.Location) error {
	what := "a maintenance window"
	if data, err := c.call(cmd.Context(), "GET", path, nil, ""); err == nil {
		var m admin.MaintenanceView
		if json.Unmarshal(data, &m) == nil && m.Enabled {
			what = fmt.Sprintf("maintenance %s (%s", m.Status, describeMaintenance(&m, loc))
			if m.By != "" {
				what += ", set by " + m.By
			}
			what += ")"
		}
	}
	return fmt.Errorf("maintenance on: %s already has %s; add --replace to replace it, message and times included, or turn it off first", scopeWords(site), what)
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

func maintenanceStatusCommand(stdout io.Writer, api *apiFlags, tz *zoneFlag) *cobra.Command {
	var site string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which shops are open, in maintenance, or served from the fallback",
		Long: `Show which shops are open, in maintenance, or served from the fallback.
Each shop's times are in its own zone (page.timezone), or in --tz.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			if api.json {
				path := "/v1/sites"
				if site != "" {
					path += "/" + site
				}
				data, err := c.call(cmd.Context(), "GET", path, nil, "")
				if err != nil {
					return fmt.Errorf("maintenance status: %w", err)
				}
				printJSON(stdout, data)
				return nil
			}
			views, err := siteViews(cmd, c, site)
			if err != nil {
				return fmt.Errorf("maintenance status: %w", err)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SITE\tSHOPPERS\tMAINTENANCE\tORIGINS")
			for _, v := range views {
				loc, err := tz.printZone(v)
				if err != nil {
					return fmt.Errorf("maintenance status: %w", err)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, shoppers(v), maintenanceColumn(v.Maintenance, loc), originsColumn(v))
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

// describeMaintenance says what a window does and when, in loc.
func describeMaintenance(m *admin.MaintenanceView, loc *time.Location) string {
	var b strings.Builder
	b.WriteString(m.Mode)
	switch {
	case m.Status == "ended" && m.End != nil:
		fmt.Fprintf(&b, ", ended %s", at(*m.End, loc))
		return b.String()
	case m.Start != nil && !m.Active:
		fmt.Fprintf(&b, ", from %s", at(*m.Start, loc))
	case m.Start != nil:
		fmt.Fprintf(&b, ", since %s", at(*m.Start, loc))
	}
	if m.End != nil {
		fmt.Fprintf(&b, ", until %s", at(*m.End, loc))
	} else {
		b.WriteString(", until turned off")
	}
	return b.String()
}

func shoppers(v admin.SiteView) string {
	switch {
	case v.Maintenance != nil && v.Maintenance.Active && v.Maintenance.Mode == "read-only":
		// Browsing goes on from copies; only ordering gets the page.
		return "copies, ordering paused"
	case v.Maintenance != nil && v.Maintenance.Active:
		return "maintenance page"
	case v.ForceFallback:
		return "fallback (forced)"
	case !v.Open:
		return "fallback (origin down)"
	}
	return "open"
}

func maintenanceColumn(m *admin.MaintenanceView, loc *time.Location) string {
	if m == nil {
		return "-"
	}
	s := describeMaintenance(m, loc)
	if m.Scope == "all" {
		s += " (all sites)"
	}
	status := m.Status
	if status == "" { // an older node
		status = map[bool]string{true: "active", false: "scheduled"}[m.Active]
	}
	return status + ": " + s
}

func originsColumn(v admin.SiteView) string {
	var parts []string
	for _, o := range v.Origins {
		parts = append(parts, o.URL+" "+o.State)
	}
	return strings.Join(parts, ", ")
}
