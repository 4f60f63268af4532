package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
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
// field, a second value or trailing garbage is an error that says so, and
// the caller changes nothing.
func decodeJSON(c *call, v any) error {
	if ct := c.r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return &apiError{http.StatusUnsupportedMediaType, "send the body as application/json"}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.w, c.r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badRequest("the body is empty; send a JSON object")
		}
		return badRequest("bad JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
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
	for i, a := range b.Allow {
		if _, err := config.ParsePrefix(a); err != nil {
			return nil, badRequest("allow[%d]: %v", i, err)
		}
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
}
