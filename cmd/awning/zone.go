package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/spf13/cobra"
)

// Times on the command line are the site's: read in, and printed in, the
// zone its pages show times in (page.timezone), whatever zone the machine
// running the CLI is in, so that `--until 10:00` means the 10:00 shoppers
// read on the page. --tz chooses another zone. Every time printed names
// its zone.

// zoneFlag is --tz.
type zoneFlag struct{ name string }

func (z *zoneFlag) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&z.name, "tz", "", "time zone times are read and printed in: an IANA name such as Europe/London, UTC, or Local for this machine's (default: the site's page.timezone)")
}

// pick returns the zone for times about the sites of views: --tz when
// given, else the zone they share. When they differ (and no --tz) it
// returns a nil zone and their zones' names, for the caller to refuse
// times that need a zone, or to print in UTC.
func (z *zoneFlag) pick(views ...admin.SiteView) (*time.Location, []string, error) {
	if z.name != "" {
		loc, err := time.LoadLocation(z.name)
		if err != nil {
			return nil, nil, fmt.Errorf("--tz %q: not a time zone; give an IANA name such as Europe/Amsterdam, UTC, or Local", z.name)
		}
		return loc, nil, nil
	}
	var names []string
	for _, v := range views {
		n := v.TimeZone
		if n == "" {
			n = "UTC" // page.timezone's default
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	switch len(names) {
	case 0:
		return time.UTC, nil, nil
	case 1:
		loc, err := time.LoadLocation(names[0])
		if err != nil {
			return nil, nil, fmt.Errorf("the site's time zone %q is unknown here (%v); give --tz", names[0], err)
		}
		return loc, nil, nil
	}
	slices.Sort(names)
	return nil, names, nil
}

// printZone is pick for printing only: sites in different zones get UTC,
// which every time printed names.
func (z *zoneFlag) printZone(views ...admin.SiteView) (*time.Location, error) {
	loc, _, err := z.pick(views...)
	if err != nil {
		return nil, err
	}
	if loc == nil {
		return time.UTC, nil
	}
	return loc, nil
}

// needsZone reports whether a --start or --until value is a wall-clock
// time (16:00, 2026-12-24 16:00), which means something only in a zone; an
// RFC 3339 time or +2h does not.
func needsZone(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "+") {
		return false
	}
	_, err := time.Parse(time.RFC3339, s)
	return err != nil
}

// timeLayout is how the CLI prints a moment: day, time and zone.
const timeLayout = "Mon 2 Jan 15:04 MST"

// at formats t in loc, zone included.
func at(t time.Time, loc *time.Location) string { return t.In(loc).Format(timeLayout) }

// siteViews returns the sites a command is about: the one named, or every
// site the token reaches.
func siteViews(cmd *cobra.Command, c *apiClient, site string) ([]admin.SiteView, error) {
	if site != "" {
		v, err := siteView(cmd, c, site)
		if err != nil {
			return nil, err
		}
		return []admin.SiteView{v}, nil
	}
	data, err := c.call(cmd.Context(), "GET", "/v1/sites", nil, "")
	if err != nil {
		return nil, err
	}
	var views []admin.SiteView
	if err := json.Unmarshal(data, &views); err != nil {
		return nil, fmt.Errorf("GET /v1/sites: %w", err)
	}
	return views, nil
}
