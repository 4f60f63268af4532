package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/state"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func quote(s string) string { return strconv.Quote(s) }

// decodeJSON reads a size-limited JSON body strictly into v: an unknown
// field, a key given twice in one object, a second value or trailing
// garbage is an error that says so, and the caller changes nothing.
func decodeJSON(c *call, v any) error { return decodeJSONUpTo(c, v, maxJSONBody) }

// decodeJSONUpTo is decodeJSON for a body of up to limit bytes.
func decodeJSONUpTo(c *call, v any, limit int64) error {
	if ct := c.r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return &apiError{http.StatusUnsupportedMediaType, "send the body as application/json"}
		}
	}
	data, err := readJSON(http.MaxBytesReader(c.w, c.r.Body, limit))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("bad JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if path, ok := duplicateKey(data); ok {
		return badRequest("bad JSON body: %s is given twice (keys are matched without regard to case)", quote(path))
	}
	if dec.More() {
		return badRequest("bad JSON body: more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("bad JSON body: trailing data after the JSON object")
	}
	return nil
}

// maintenanceBody is a PUT .../maintenance body (DESIGN.md "Contract").
type maintenanceBody struct {
	Enabled      *bool             `json:"enabled"`
	Mode         string            `json:"mode"`
	Message      map[string]string `json:"message"`
	Start        string            `json:"start"` // RFC 3339
	End          string            `json:"end"`
	Allow        []string          `json:"allow"`
	BypassSecret string            `json:"bypass_secret"`
}

var reSecret = regexp.MustCompile(`^[A-Za-z0-9._~-]{16,128}$`)

// toState checks the body and returns the maintenance it asks for.
// languages are the site's (nil for every site: any known language).
func (b *maintenanceBody) toState(now time.Time, languages []string) (*state.Maintenance, error) {
	if b.Enabled == nil {
		return nil, badRequest(`"enabled" is required (true or false)`)
	}
	start, err := parseTime("start", b.Start)
	if err != nil {
		return nil, err
	}
	end, err := parseTime("end", b.End)
	if err != nil {
		return nil, err
	}
	w := pages.Window{Mode: pages.WindowMode(b.Mode), Message: b.Message}
	if start != nil {
		w.Start = *start
	}
	if end != nil {
		w.End = *end
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if err := onlyLanguages("message", b.Message, languages); err != nil {
		return nil, err
	}
	if end != nil && !end.After(now) && *b.Enabled {
		return nil, badRequest("end: %s is in the past", end.Format(time.RFC3339))
	}
	allow := make([]netip.Prefix, 0, len(b.Allow))
	for i, a := range b.Allow {
		p, err := config.ParsePrefix(a)
		if err != nil {
			return nil, badRequest("allow[%d]: %v", i, err)
		}
		allow = append(allow, p)
	}
	if coverAll(allow) {
		return nil, badRequest("allow: %s lets every address past maintenance, so it would stop no one; "+
			"to open the shop to everyone, turn maintenance off (awning maintenance off, or DELETE this maintenance)",
			strings.Join(b.Allow, ", "))
	}
	if b.BypassSecret != "" && !reSecret.MatchString(b.BypassSecret) {
		return nil, badRequest("bypass_secret: want 16 to 128 letters, digits or . _ ~ - (it goes in a URL)")
	}
	m := &state.Maintenance{
		Enabled: *b.Enabled, Mode: b.Mode, Message: b.Message, Allow: b.Allow, BypassSecret: b.BypassSecret,
	}
	if m.Mode == "" {
		m.Mode = string(pages.Full)
	}
	m.Start, m.End = start, end
	return m, nil
}

// parseTime reads an optional RFC 3339 time, naming the field when it is
// not one.
func parseTime(field, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, badRequest("%s: want an RFC 3339 time such as 2026-12-24T16:00:00+01:00, got %s", field, quote(s))
	}
	t = t.UTC()
	return &t, nil
}

// onlyLanguages refuses texts in languages the site does not show.
func onlyLanguages[V any](field string, m map[string]V, languages []string) error {
	if languages == nil {
		return nil
	}
	for l := range m {
		if !slices.Contains(languages, l) {
			return badRequest("%s.%s: the site's pages are in %s", field, l, strings.Join(languages, ", "))
		}
	}
	return nil
}

// updateBody is a POST .../updates body.
type updateBody struct {
	Message map[string]string `json:"message"`
	// Expires ends the update: an RFC 3339 time, or a duration from now
	// ("90m", "2h"). Optional: by default an update ends an hour after the
	// site's origin is back and its maintenance is over.
	Expires string `json:"expires"`
}

// expiresAt reads an update's expires against now: zero when not given.
func (b *updateBody) expiresAt(now time.Time) (time.Time, error) {
	if b.Expires == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, b.Expires); err == nil {
		if !t.After(now) {
			return time.Time{}, badRequest("expires: %s has passed", b.Expires)
		}
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(b.Expires)
	if err != nil || d <= 0 {
		return time.Time{}, badRequest("expires: want an RFC 3339 time or a duration such as 2h, got %q", b.Expires)
	}
	return now.Add(d).UTC().Truncate(time.Second), nil
}
