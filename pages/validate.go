package pages

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Length limits of merchant and ops texts, in characters. They keep a page
// readable and within its size budget.
const (
	MaxBrandLen       = 80
	MaxMessageLen     = 600
	MaxReassurance    = 5
	MaxReassuranceLen = 160
	MaxURLLen         = 2048
	MaxContactLen     = 254
)

// FieldError names one bad field by its JSON (and config file) name, such
// as "color", "message.nl" or "reassurance.en[2]".
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// FieldErrors is every bad field of one value, in a stable order.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap lets errors.As find each *FieldError.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

type fieldChecker struct{ errs FieldErrors }

func (c *fieldChecker) errorf(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{field, fmt.Sprintf(format, args...)})
}

func (c *fieldChecker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// Validate checks every field of b and returns FieldErrors naming each bad
// one, or nil. Empty fields are valid: they take the configured value.
func (b *Branding) Validate() error {
	c := &fieldChecker{}
	c.text("brand", b.Brand, MaxBrandLen, false)
	if b.Color != "" {
		if _, ok := parseHex(b.Color); !ok {
			c.errorf("color", "want a hex colour such as #b5651d, got %q", b.Color)
		}
	}
	if b.StatusURL != "" {
		c.httpsURL("status_url", b.StatusURL)
	}
	if b.Contact != "" {
		c.contact("contact", b.Contact)
	}
	c.messages("message", b.Message)
	for _, l := range sortedKeys(b.Reassurance) {
		lines := b.Reassurance[l]
		f := "reassurance." + l
		if !Known(l) {
			c.errorf(f, "unknown language %q (pages speak %s)", l, strings.Join(Languages(), ", "))
			continue
		}
		if len(lines) > MaxReassurance {
			c.errorf(f, "%d lines; at most %d", len(lines), MaxReassurance)
		}
		for i, line := range lines {
			fi := fmt.Sprintf("%s[%d]", f, i)
			if strings.TrimSpace(line) == "" {
				c.errorf(fi, "empty line")
				continue
			}
			c.text(fi, line, MaxReassuranceLen, false)
		}
	}
	if b.Logo != nil {
		if _, _, err := checkLogo(b.Logo); err != nil {
			c.errorf("logo", "%v", err)
		}
	}
	if b.Languages != nil {
		switch {
		case len(b.Languages) == 0 || len(b.Languages) > maxLanguages:
			c.errorf("languages", "want 1 to %d languages, got %d", maxLanguages, len(b.Languages))
		case !validLanguages(b.Languages):
			c.errorf("languages", "want languages pages speak (%s), each once, got %q", strings.Join(Languages(), ", "), b.Languages)
		}
	}
	if b.TimeZone != "" {
		if _, err := loadZone(b.TimeZone); err != nil {
			c.errorf("timezone", "want a time zone such as Europe/Amsterdam, got %q", b.TimeZone)
		}
	}
	return c.err()
}

// validLanguages reports whether every language is one pages speak, each
// once.
func validLanguages(ls []string) bool {
	for i, l := range ls {
		if !Known(l) || slices.Contains(ls[:i], l) {
			return false
		}
	}
	return true
}

// loadZone loads an IANA time zone, refusing "Local" (the node's own zone,
// which differs between nodes) and names that are not zone names.
func loadZone(name string) (*time.Location, error) {
	if name == "Local" || len(name) > 64 {
		return nil, fmt.Errorf("pages: time zone %q", name)
	}
	return zone(name)
}

// zones holds the time zones loaded so far, by name. A zone's data is
// immutable and the same for every caller, and a platform's thousands of
// sites share a handful of zones: one *time.Location each instead of one a
// site (Europe/Amsterdam's is some 5 KB). Only names that load are kept,
// so it holds at most the zone database's few hundred. Safe for concurrent
// use; not state in the sense of the house rule, as time.UTC is not.
var zones sync.Map // string → *time.Location

// zone is time.LoadLocation, shared.
func zone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

var reUpdateID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks an incident update and returns FieldErrors naming each bad
// field, or nil.
func (u *Update) Validate() error {
	c := &fieldChecker{}
	if !reUpdateID.MatchString(u.ID) {
		c.errorf("id", "want 1 to 64 letters, digits, dashes or underscores, got %q", u.ID)
	}
	if u.Time.IsZero() {
		c.errorf("time", "required")
	}
	if len(u.Message) == 0 {
		c.errorf("message", "at least one language is required")
	}
	c.messages("message", u.Message)
	switch {
	case u.Expires.IsZero():
	case !u.Expires.After(u.Time):
		c.errorf("expires", "must be after the update's time (%s), got %s", u.Time.Format(time.RFC3339), u.Expires.Format(time.RFC3339))
	case u.Expires.Sub(u.Time) > MaxUpdateLife:
		c.errorf("expires", "at most %d days ahead", int(MaxUpdateLife/(24*time.Hour)))
	}
	return c.err()
}

// Validate checks a maintenance window and returns FieldErrors naming each
// bad field, or nil.
func (w *Window) Validate() error {
	c := &fieldChecker{}
	switch w.Mode {
	case "", Full, ReadOnly:
	default:
		c.errorf("mode", "want full or read-only, got %q", w.Mode)
	}
	c.messages("message", w.Message)
	if !w.Start.IsZero() && !w.End.IsZero() && !w.End.After(w.Start) {
		c.errorf("end", "%s is not after start %s", w.End.Format("2006-01-02T15:04:05Z07:00"), w.Start.Format("2006-01-02T15:04:05Z07:00"))
	}
	return c.err()
}

func (c *fieldChecker) messages(field string, m map[string]string) {
	for _, l := range sortedKeys(m) {
		f := field + "." + l
		if !Known(l) {
			c.errorf(f, "unknown language %q (pages speak %s)", l, strings.Join(Languages(), ", "))
			continue
		}
		if strings.TrimSpace(m[l]) == "" {
			c.errorf(f, "empty message")
			continue
		}
		c.text(f, m[l], MaxMessageLen, true)
	}
}

// text checks length and characters. Markup needs no check here: every
// text is escaped when rendered, so "<b>" shows as "<b>". What escaping
// cannot neutralise is refused: control characters, and invisible format
// characters (Unicode category Cf: bidi overrides and isolates such as
// U+202E, zero-width spaces and joiners U+200B..U+200F, the BOM U+FEFF),
// which reorder or hide what a shopper reads ("Gesloten" that displays as
// something else, a link text that is not what it seems).
func (c *fieldChecker) text(field, s string, max int, newlines bool) {
	if !utf8.ValidString(s) {
		c.errorf(field, "not valid UTF-8")
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		c.errorf(field, "%d characters; at most %d", n, max)
	}
	for _, r := range s {
		if r == '\n' && newlines {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			c.errorf(field, "contains a control character (%U)", r)
			return
		}
		if unicode.Is(unicode.Cf, r) {
			c.errorf(field, "contains an invisible formatting character (%U) that can reorder or hide text; remove it", r)
			return
		}
	}
}

func (c *fieldChecker) httpsURL(field, s string) {
	if len(s) > MaxURLLen {
		c.errorf(field, "longer than %d bytes", MaxURLLen)
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		c.errorf(field, "want an absolute https:// URL, got %q", s)
	case u.Scheme != "https":
		c.errorf(field, "want an https URL, got %q", s)
	case u.User != nil:
		c.errorf(field, "must not carry a user or password")
	case strings.ContainsAny(s, " \t\r\n\"'<>`\\"):
		c.errorf(field, "contains characters that must be percent-encoded")
	}
}

// validHTTPS reports whether s is a link pages may show.
func validHTTPS(s string) bool {
	if s == "" {
		return false
	}
	c := &fieldChecker{}
	c.httpsURL("", s)
	return len(c.errs) == 0
}

func (c *fieldChecker) contact(field, s string) {
	if strings.HasPrefix(s, "https://") {
		c.httpsURL(field, s)
		return
	}
	if len(s) > MaxContactLen || !isEmail(s) {
		c.errorf(field, "want an e-mail address or an https:// URL, got %q", s)
	}
}

// isEmail accepts a bare address (no display name, no comments): what a
// mailto: link can carry without surprises.
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && !strings.ContainsAny(s, "<>()[]\\,;:\" ?&%/")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
