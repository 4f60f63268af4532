package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/awningproxy/awning/config"
)

// token is one configured credential, as the API checks it.
type token struct {
	name  string
	hash  [sha256.Size]byte
	ops   bool            // sites: ["*"]: every site and the global operations
	sites map[string]bool // the sites a merchant token reaches
}

func newTokens(cfg []config.Token) []token {
	out := make([]token, 0, len(cfg))
	for _, t := range cfg {
		tk := token{name: t.Name, sites: map[string]bool{}}
		h, err := hex.DecodeString(t.SHA256)
		if err != nil || len(h) != sha256.Size {
			continue // config validation refuses these; never match one
		}
		copy(tk.hash[:], h)
		for _, s := range t.Sites {
			if s == "*" {
				tk.ops = true
			}
			tk.sites[s] = true
		}
		out = append(out, tk)
	}
	return out
}

// authenticate returns the token presented as "Authorization: Bearer ...",
// or nil. Only hashes are kept; the presented token's hash is compared with
// every configured one in constant time, so neither a match nor its
// position leaks through timing.
func authenticate(tokens []token, r *http.Request) *token {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(raw)))
	var found *token
	for i := range tokens {
		if subtle.ConstantTimeCompare(sum[:], tokens[i].hash[:]) == 1 {
			found = &tokens[i]
		}
	}
	return found
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
