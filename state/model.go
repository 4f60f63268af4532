package state

import (
	"encoding/json"
	"time"

	"github.com/awningproxy/awning/pages"
)

// Global names the scope that applies to every site.
const Global = ""

// Maintenance is a maintenance window as ops set it (the admin API's body,
// DESIGN.md "Contract"). Every field but Enabled is optional.
type Maintenance struct {
	// Enabled turns maintenance on; with Start in the future it is
	// scheduled, and it ends by itself at End.
	Enabled bool `json:"enabled"`
	// Mode is "full" (every request gets the maintenance page; the default)
	// or "read-only" (browsing from copies; cart, checkout and every
	// non-GET get the maintenance page).
	Mode string `json:"mode,omitempty"`
	// Message overrides the maintenance text per language.
	Message map[string]string `json:"message,omitempty"`
	// Start is when maintenance begins; nil for at once.
	Start *time.Time `json:"start,omitempty"`
	// End is when the shop is expected back; nil when unknown.
	End *time.Time `json:"end,omitempty"`
	// Allow lists client addresses or CIDRs that bypass maintenance.
	Allow []string `json:"allow,omitempty"`
	// BypassSecret, when set, lets anyone who visits
	// /.well-known/awning/bypass/{secret} through, with a signed cookie.
	BypassSecret string `json:"bypass_secret,omitempty"`
	// By and At record who set it and when (filled by the admin API).
	By string    `json:"by,omitempty"`
	At time.Time `json:"at,omitzero"`
}

// ActiveAt reports whether the window is in force at t.
func (m *Maintenance) ActiveAt(t time.Time) bool {
	if m == nil || !m.Enabled {
		return false
	}
	if m.Start != nil && t.Before(*m.Start) {
		return false
	}
	return m.End == nil || t.Before(*m.End)
}

// Scope is what ops and merchants changed at run time for one site, or for
// every site (the Global scope: maintenance and incident updates only).
// Scopes are values: the Store never changes one in place, it replaces it.
type Scope struct {
	// Maintenance is the maintenance window; nil for none.
	Maintenance *Maintenance `json:"maintenance,omitempty"`
	// Updates are the incident updates, newest first, at most MaxUpdates.
	Updates []pages.Update `json:"updates,omitempty"`
	// Branding is the merchant's branding over the configured one.
	Branding *pages.Branding `json:"branding,omitempty"`
	// ForceFallback: ops declared the origin down.
	ForceFallback bool `json:"force_fallback,omitempty"`
	// Site is the site's definition when ops registered it through the
	// admin API (PUT /v1/sites/{site}); nil for a site of the config file.
	Site *SiteSpec `json:"site,omitempty"`
	// Token is an admin token ops created through the admin API; only in
	// the scope TokenScope(name).
	Token *TokenSpec `json:"token,omitempty"`
}

// SiteSpec is a site registered through the admin API.
type SiteSpec struct {
	// Config is the site as a sites: entry in JSON (the keys of the config
	// file), as ops sent it, with its name; every node parses it with the
	// same checks as the file's.
	Config json.RawMessage `json:"config"`
	// By and At record who registered it and when: of two nodes that
	// registered one host for two sites at once, the earlier wins.
	By string    `json:"by,omitempty"`
	At time.Time `json:"at"`
}

// TokenSpec is an admin token created through the admin API. The token
// itself was shown once, to its creator; only its SHA-256 is kept.
type TokenSpec struct {
	Name   string    `json:"name"`
	SHA256 string    `json:"sha256"`
	Sites  []string  `json:"sites"`
	By     string    `json:"by,omitempty"`
	At     time.Time `json:"at"`
	// SiteSince is, for each of Sites registered through the admin API,
	// that registration's time (SiteSpec.At) when the token was made: the
	// token reaches that registration only, never a site of the same name
	// deleted and registered again later, for another merchant.
	SiteSince map[string]time.Time `json:"site_since,omitempty"`
}

// TokenScopePrefix starts the name of every token's scope. A site name
// cannot hold a colon, so no token scope is ever a site's.
const TokenScopePrefix = "token:"

// TokenScope is the name of the scope that keeps the token called name.
func TokenScope(name string) string { return TokenScopePrefix + name }

// MaxUpdates is how many incident updates a scope keeps.
const MaxUpdates = 20

// clone returns a deep copy of sc, so a change can be prepared without
// touching the scope others may be reading.
func (sc Scope) clone() Scope {
	b, err := json.Marshal(sc)
	if err != nil {
		panic(err) // a Scope always marshals: plain data
	}
	var out Scope
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// IsZero reports whether the scope holds nothing.
func (sc Scope) IsZero() bool {
	return sc.Maintenance == nil && len(sc.Updates) == 0 && sc.Branding == nil && !sc.ForceFallback &&
		sc.Site == nil && sc.Token == nil
}
