package admin

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/awningproxy/awning/state"
)

// TestTokenReachesOneRegistration: a token made through the API reaches a
// site registered through the API only in the registration it was made
// for; a token stored before that was recorded reaches a registration
// older than itself, never a newer one.
func TestTokenReachesOneRegistration(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	reg := map[string]time.Time{"shop": t0.Add(time.Hour)} // registered again an hour after t0
	at := func(name string) (time.Time, bool) { v, ok := reg[name]; return v, ok }
	specs := []state.TokenSpec{
		{Name: "old-registration", SHA256: hash("t1"), Sites: []string{"shop", "file-site"}, At: t0.Add(time.Minute), SiteSince: map[string]time.Time{"shop": t0}},
		{Name: "this-registration", SHA256: hash("t2"), Sites: []string{"shop"}, At: t0.Add(2 * time.Hour), SiteSince: map[string]time.Time{"shop": t0.Add(time.Hour)}},
		{Name: "legacy-before", SHA256: hash("t3"), Sites: []string{"shop"}, At: t0.Add(time.Minute)},
		{Name: "legacy-after", SHA256: hash("t4"), Sites: []string{"shop"}, At: t0.Add(2 * time.Hour)},
	}
	tokens := newTokens(nil, specs, at)
	for _, tt := range []struct {
		token, site string
		want        bool
	}{
		{"t1", "shop", false}, {"t1", "file-site", true}, {"t2", "shop", true}, {"t3", "shop", false}, {"t4", "shop", true},
	} {
		tok := tokens[sha256.Sum256([]byte(tt.token))]
		if tok == nil {
			t.Fatalf("token %s missing", tt.token)
		}
		if got := tok.reaches(tt.site); got != tt.want {
			t.Errorf("%s (%s) reaches %s: %v; want %v", tt.token, tok.name, tt.site, got, tt.want)
		}
	}
}
