package pages

import (
	"time"
)

// Mode says which page a shopper gets.
type Mode string

const (
	// Outage is the page for an origin that failed with no copy to show.
	Outage Mode = "outage"
	// Maintenance is the page for a shop that ops closed on purpose.
	Maintenance Mode = "maintenance"
	// Unconfirmed is the page for an order (any request but a GET or
	// HEAD) that was sent to the origin and never confirmed: it may have
	// gone through, so the page says not to pay again and where to check.
	Unconfirmed Mode = "unconfirmed"
)

// Branding is what a merchant controls on their pages. It is data, not
// code: every field is checked by Validate and escaped when rendered. The
// site's configuration (page: in the config file) gives one Branding; a
// merchant's own (from the admin API) overrides it field by field, see
// Over.
//
// The JSON names are the config file's keys, so one vocabulary serves the
// config file, the admin API and error messages. The zero value is an
// empty Branding that overrides nothing.
type Branding struct {
	// Brand is the shop name, at most 80 characters.
	Brand string `json:"brand,omitempty"`
	// Color is the brand colour, #rgb or #rrggbb. Text drawn on it is black
	// or white, whichever reads better; links use a shade of it with enough
	// contrast against the page.
	Color string `json:"color,omitempty"`
	// StatusURL links to the shop's status page: https only.
	StatusURL string `json:"status_url,omitempty"`
	// Contact is an e-mail address or an https URL.
	Contact string `json:"contact,omitempty"`
	// Message replaces the default outage text, per language code, at most
	// 600 characters each. A blank line starts a new paragraph.
	Message map[string]string `json:"message,omitempty"`
	// Reassurance holds up to 5 short lines per language (at most 160
	// characters each), such as "Your order and payment are safe". None are
	// shown unless the merchant sets them: only the merchant knows what is
	// true.
	Reassurance map[string][]string `json:"reassurance,omitempty"`
	// Logo is a PNG, JPEG or WebP image of at most 200 KB, between 16 and
	// 4096 pixels on each side. SVG is refused: it can carry scripts. In
	// JSON it is base64, as encoding/json writes []byte.
	Logo []byte `json:"logo,omitempty"`
	// Languages, when set, replace the site's page languages, the shop's
	// main language first; each must be one pages speak.
	Languages []string `json:"languages,omitempty"`
	// TimeZone, when set, replaces the site's time zone: an IANA name such
	// as Europe/Amsterdam, for the times pages show.
	TimeZone string `json:"timezone,omitempty"`
}

// Over returns b with every field that b leaves empty taken from base.
// Maps are taken whole: a merchant who sets a message in one language has
// the other languages' defaults, not the config file's messages, in the
// languages they left out, unless they set those too.
func (b Branding) Over(base Branding) Branding {
	out := base
	if b.Brand != "" {
		out.Brand = b.Brand
	}
	if b.Color != "" {
		out.Color = b.Color
	}
	if b.StatusURL != "" {
		out.StatusURL = b.StatusURL
	}
	if b.Contact != "" {
		out.Contact = b.Contact
	}
	if b.Message != nil {
		out.Message = b.Message
	}
	if b.Reassurance != nil {
		out.Reassurance = b.Reassurance
	}
	if b.Logo != nil {
		out.Logo = b.Logo
	}
	if b.Languages != nil {
		out.Languages = b.Languages
	}
	if b.TimeZone != "" {
		out.TimeZone = b.TimeZone
	}
	return out
}

// Update is one incident update posted by ops: shown on the outage and
// maintenance pages, newest first, each with its time in the site's zone.
type Update struct {
	// ID identifies the update so it can be retracted: 1 to 64 letters,
	// digits, dashes or underscores.
	ID string `json:"id"`
	// Time is when the update was posted.
	Time time.Time `json:"time"`
	// Message is the update per language code, at most 600 characters
	// each. A language without a message shows the one in the site's main
	// language (or the first one set), marked with its own language.
	Message map[string]string `json:"message"`
	// Expires is when the update is no longer shown; zero until it is
	// set, by ops or, an hour after the site's origin is back and its
	// maintenance is over, by Awning (its default retraction).
	Expires time.Time `json:"expires,omitzero"`
}

// MaxUpdateLife bounds how far ahead an update's Expires may be set.
const MaxUpdateLife = 90 * 24 * time.Hour

// LiveAt reports whether the update is shown at now: it has not expired.
func (u *Update) LiveAt(now time.Time) bool { return u.Expires.IsZero() || now.Before(u.Expires) }

// WindowMode is how much of a shop maintenance closes.
type WindowMode string

const (
	// Full closes the whole shop: every request gets the maintenance page.
	Full WindowMode = "full"
	// ReadOnly keeps browsing open and pauses ordering: the page says so.
	ReadOnly WindowMode = "read-only"
)

// Window is a maintenance window as ops set it. Its zero value is full
// maintenance with the default texts and no announced end.
type Window struct {
	// Mode is full (the default when empty) or read-only.
	Mode WindowMode `json:"mode,omitempty"`
	// Message replaces the default maintenance text, per language code, at
	// most 600 characters each.
	Message map[string]string `json:"message,omitempty"`
	// Start is when the maintenance began or begins; zero when unknown.
	Start time.Time `json:"start,omitzero"`
	// End is when the shop is expected back; zero when unknown. The page
	// shows it per language in the site's zone, and Retry-After counts down
	// to it.
	End time.Time `json:"end,omitzero"`
}

// State is what pages render from beyond the configuration: what ops and
// merchants change at run time (the admin API keeps it). Its zero value
// renders the configured branding with no updates.
type State struct {
	// Branding, when not nil, overrides the configured branding field by
	// field.
	Branding *Branding
	// Updates are the incident updates, in any order; the newest MaxUpdates
	// are shown.
	Updates []Update
	// Window is the maintenance window the maintenance page describes; nil
	// renders full maintenance with no announced end.
	Window *Window
}

// MaxUpdates is how many incident updates a page shows.
const MaxUpdates = 5
