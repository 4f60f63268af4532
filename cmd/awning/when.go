package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
)

// parseWhen reads a moment as people write it on a command line, in loc:
// "16:00" (today, or tomorrow when that has passed), "2026-12-24 16:00",
// "2026-12-24T16:00:00+01:00" (RFC 3339), or "+2h" (from now).
func parseWhen(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutPrefix(s, "+"); ok {
		dur, err := config.ParseDuration(d)
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(dur), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("15:04", s, loc); err == nil {
		n := now.In(loc)
		at := time.Date(n.Year(), n.Month(), n.Day(), t.Hour(), t.Minute(), 0, 0, loc)
		if !at.After(n) {
			at = at.AddDate(0, 0, 1)
		}
		return at, nil
	}
	return time.Time{}, fmt.Errorf("%q: write a time as 16:00, 2026-12-24 16:00, an RFC 3339 time, or +2h", s)
}

// window turns --start, --until and --for into the window's start and end.
func window(start, until, forDur string, now time.Time, loc *time.Location) (from, to *time.Time, err error) {
	if until != "" && forDur != "" {
		return nil, nil, fmt.Errorf("give --until or --for, not both")
	}
	base := now
	if start != "" {
		t, err := parseWhen(start, now, loc)
		if err != nil {
			return nil, nil, fmt.Errorf("--start %w", err)
		}
		from, base = &t, t
	}
	switch {
	case until != "":
		t, err := parseWhen(until, now, loc)
		if err != nil {
			return nil, nil, fmt.Errorf("--until %w", err)
		}
		to = &t
	case forDur != "":
		d, err := config.ParseDuration(forDur)
		if err != nil {
			return nil, nil, fmt.Errorf("--for %w", err)
		}
		t := base.Add(d)
		to = &t
	}
	return from, to, nil
}
