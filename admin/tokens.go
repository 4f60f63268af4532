package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/state"
)

// Tokens created through the admin API (POST /v1/tokens) are kept in the
// shared state, one scope each (state.TokenScope), as the SHA-256 of the
// token: the token itself is in the answer to its creation only. Every
// node adds them to the tokens of its config file.

var reTokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// apiTokens returns the tokens created through the admin API.
func (s *Server) apiTokens() []state.TokenSpec {
	if s.store == nil {
		return nil
	}
	var out []state.TokenSpec
	for _, name := range s.store.Names() {
		if !strings.HasPrefix(name, state.TokenScopePrefix) {
			continue
		}
		if t := s.store.Scope(name).Token; t != nil {
			out = append(out, *t)
		}
	}
	return out
}

// TokenView is what the API says of a token: never its hash.
type TokenView struct {
	Name   string    `json:"name"`
	Sites  []string  `json:"sites"`
	Source string    `json:"source"` // "config" or "api"
	By     string    `json:"created_by,omitempty"`
	At     time.Time `json:"created_at,omitzero"`
	// Token is the token itself, in the answer to its creation only.
	Token string `json:"token,omitempty"`
}

func (s *Server) listTokens(c *call) error {
	out := []TokenView{}
	for _, t := range c.view.cfg.Admin.Tokens {
		out = append(out, TokenView{Name: t.Name, Sites: t.Sites, Source: "config"})
	}
	for _, t := range s.apiTokens() {
		out = append(out, TokenView{Name: t.Name, Sites: t.Sites, Source: "api", By: t.By, At: t.At})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// tokenBody is a POST /v1/tokens body.
type tokenBody struct {
	Name  string   `json:"name"`
	Sites []string `json:"sites"`
}

func (s *Server) createToken(c *call) error {
	var b tokenBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	var errs []siteError
	if !reTokenName.MatchString(b.Name) {
		errs = append(errs, siteError{"name", "want 1 to 64 letters, digits or . _ - (starting with a letter or digit), got " + quote(b.Name)})
	}
	if len(b.Sites) == 0 {
		errs = append(errs, siteError{"sites", `list the sites the token reaches, or "*" for all (an ops token)`})
	}
	since := map[string]time.Time{}
	for i, site := range b.Sites {
		if site == "*" {
			continue
		}
		named := c.view.sites.Named(site)
		if named == nil {
			errs = append(errs, siteError{"sites[" + strconv.Itoa(i) + "]", "no site is named " + quote(site)})
			continue
		}
		if named.API {
			at, ok := s.registeredAt(site)
			if !ok {
				errs = append(errs, siteError{"sites[" + strconv.Itoa(i) + "]", "the site " + quote(site) + " is being removed"})
				continue
			}
			since[site] = at // this registration only (auth.go, newTokens)
		}
	}
	if len(since) == 0 {
		since = nil
	}
	if len(errs) > 0 {
		return &bodyErrors{http.StatusBadRequest, errs}
	}
	for _, t := range c.view.cfg.Admin.Tokens {
		if t.Name == b.Name {
			return &apiError{http.StatusConflict, "a token named " + quote(b.Name) + " is in the config file"}
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	tok := "awn_" + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(tok))
	spec := &state.TokenSpec{Name: b.Name, SHA256: hex.EncodeToString(sum[:]), Sites: b.Sites, By: c.tok.name, At: s.now().UTC(), SiteSince: since}
	if _, err := s.change(c, state.TokenScope(b.Name), "token created for sites "+strings.Join(b.Sites, ","), func(sc *state.Scope) error {
		if sc.Token != nil {
			return &apiError{http.StatusConflict, "a token named " + quote(b.Name) + " exists; revoke it first"}
		}
		sc.Token = spec
		return nil
	}); err != nil {
		return err
	}
	s.Update(c.view.cfg, s.conf.Load().sites) // usable at once on this node
	writeJSON(c.w, http.StatusCreated, TokenView{Name: b.Name, Sites: b.Sites, Source: "api", By: spec.By, At: spec.At, Token: tok})
	return nil
}

func (s *Server) revokeToken(c *call) error {
	name := c.r.PathValue("name")
	// The API refuses a name the file has, but a reload may bring one the
	// API has: the API's token is revoked all the same (the file's stays),
	// or it would live on out of the API's reach.
	inFile := slices.ContainsFunc(c.view.cfg.Admin.Tokens, func(t config.Token) bool { return t.Name == name })
	if inFile && s.store.Scope(state.TokenScope(name)).Token == nil {
		return &apiError{http.StatusConflict, "the token " + quote(name) + " is in the config file; remove it there"}
	}
	if _, err := s.change(c, state.TokenScope(name), "token revoked", func(sc *state.Scope) error {
		if sc.Token == nil && inFile {
			return &apiError{http.StatusConflict, "the token " + quote(name) + " is in the config file; remove it there"}
		}
		if sc.Token == nil {
			return notFound("no token named %s", quote(name))
		}
		sc.Token = nil
		return nil
	}); err != nil {
		return err
	}
	s.Update(c.view.cfg, s.conf.Load().sites)
	writeJSON(c.w, http.StatusOK, map[string]any{"name": name, "revoked": true})
	return nil
}
