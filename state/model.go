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
}

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
	return sc.Maintenance == nil && len(sc.Updates) == 0 && sc.Branding == nil && !sc.ForceFallback
}
