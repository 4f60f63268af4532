package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/state"
)

// token is one credential, from the config file or created through the
// admin API, as the API checks it.
type token struct {
	name  string
	hash  [sha256.Size]byte
	ops   bool            // sites: ["*"]: every site and the global operations
	sites map[string]bool // the sites a merchant token reaches
	api   bool            // created through the admin API
}

// tokenTable is every token, by the SHA-256 of the token.
type tokenTable map[[sha256.Size]byte]*token

// newTokens builds the table of the file's tokens and those created through
// the admin API. A file token wins over an API token of the same hash (the
// API never makes one: its tokens are random). registeredAt gives the
// registration time of a site registered through the admin API: an API
// token reaches such a site only if it is the registration the token was
// made for (TokenSpec.SiteSince; for a token made before that was
// recorded, one registered before the token), so that a name deleted and
// registered again for another merchant is out of the first one's reach.
func newTokens(cfg []config.Token, api []state.TokenSpec, registeredAt func(site string) (time.Time, bool)) tokenTable {
	out := make(tokenTable, len(cfg)+len(api))
	add := func(name, sum string, list []string, spec *state.TokenSpec) {
		tk := &token{name: name, sites: map[string]bool{}, api: spec != nil}
		h, err := hex.DecodeString(sum)
		if err != nil || len(h) != sha256.Size {
			return // config validation refuses these; never match one
		}
		copy(tk.hash[:], h)
		if _, taken := out[tk.hash]; taken {
			return
		}
		for _, s := range list {
			if s == "*" {
				tk.ops = true
			}
			if spec != nil && s != "*" && registeredAt != nil {
				if at, ok := registeredAt(s); ok {
					since, recorded := spec.SiteSince[s]
					if recorded && !since.Equal(at) || !recorded && at.After(spec.At) {
						continue // another registration of the name
					}
				}
			}
			tk.sites[s] = true
		}
		out[tk.hash] = tk
	}
	for _, t := range cfg {
		add(t.Name, t.SHA256, t.Sites, nil)
	}
	for i := range api {
		add(api[i].Name, api[i].SHA256, api[i].Sites, &api[i])
	}
	return out
}

// authenticate returns the token presented as "Authorization: Bearer ...",
// or nil. Only hashes are kept. The table is keyed by the hash of the
// token: how long a lookup takes tells nothing useful about a token, since
// the hash of what a caller sends is nothing the caller can steer towards
// a stored one.
func authenticate(tokens tokenTable, r *http.Request) *token {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return nil
	}
	return tokens[sha256.Sum256([]byte(strings.TrimSpace(raw)))]
}

// reaches reports whether t may act on site.
func (t *token) reaches(site string) bool { return t.ops || t.sites[site] }

// crossSite reports whether a browser sent r from another origin. The API
// uses no cookies, so a browser cannot carry credentials across sites by
// itself; refusing cross-site requests outright also stops a page from
// probing a local admin listener.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	return origin != "http://"+r.Host && origin != "https://"+r.Host
}
