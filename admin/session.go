package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/awningproxy/awning/state"
)

// Console sign-in. A browser exchanges a token (or a one-time sign-in link
// made with one) for a session: a random ID in an HttpOnly, SameSite=Strict
// cookie (Secure, and named with the __Host- prefix, when the console is
// reached over HTTPS), kept server-side in state.Sessions until it expires.
// Every API route accepts the session in place of a bearer token, and finds
// the token again by its hash on every call, so a token removed from the
// config ends its sessions at once.
//
// Cross-site request forgery: the cookie is SameSite=Strict, every call from
// another site is refused outright (crossSite), and a change made with the
// cookie must also prove it comes from the console itself: an Origin (or
// Sec-Fetch-Site) naming this host, and the session's CSRF secret in the
// X-Awning-CSRF header, which only a page on this origin can read (from
// GET /v1/session) and which no form or cross-origin page can send without
// a CORS preflight the API never grants. Bearer-token calls are unchanged.

// Cookie names: __Host- makes the browser refuse the cookie unless it is
// Secure, host-only and Path=/, so nothing on another subdomain can set or
// shadow it; over plain HTTP (a loopback admin listener) the prefix cannot
// be used.
const (
	cookieSecure = "__Host-awning-session"
	cookiePlain  = "awning-session"
	csrfHeader   = "X-Awning-CSRF"
)

// Lifetimes: a console session lasts a working day; a sign-in link is for
// clicking now.
const (
	DefaultSessionTTL = 8 * time.Hour
	linkTTL           = 15 * time.Minute
)

// Kinds of records in state.Sessions.
const (
	kindSession = "console-session"
	kindLink    = "console-link"
)

// sessionCaller is what a cookie-authenticated call knows of its session.
type sessionCaller struct {
	id  string
	rec state.Session
}

// SessionView is what GET /v1/session (and a sign-in) answers: who the
// caller is and what the console may show them.
type SessionView struct {
	// SignedIn is false for a caller with no valid session or token; the
	// rest is then empty.
	SignedIn bool   `json:"signed_in"`
	Name     string `json:"name,omitempty"`
	// Role is "ops" (every site, every action) or "merchant" (the branding
	// and status of Sites).
	Role  string   `json:"role,omitempty"`
	Sites []string `json:"sites,omitempty"`
	// Expires and CSRF are set for a console session: CSRF goes back in
	// the X-Awning-CSRF header of every change.
	Expires *time.Time `json:"expires,omitempty"`
	CSRF    string     `json:"csrf,omitempty"`
	// Node is the ID of the node that answered; Shared says whether
	// sessions (and state) are shared with the other nodes through Redis.
	Node   string `json:"node,omitempty"`
	Shared bool   `json:"shared"`
}

func (s *Server) sessionRoutes() {
	s.mux.HandleFunc("POST /v1/session", s.signIn)
	s.mux.HandleFunc("GET /v1/session", s.getSession)
	s.handle("DELETE /v1/session", siteReader, s.signOut)
	s.handle("POST /v1/session/link", siteReader, s.newLink)
}

// signInBody is POST /v1/session's body: a token, or the code of a
// one-time sign-in link.
type signInBody struct {
	Token string `json:"token"`
	Code  string `json:"code"`
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, "cross-site requests are refused")
		return
	}
	v := s.conf.Load()
	if s.refuseGuess(w, r, v) {
		return
	}
	c := &call{w: w, r: r, view: v}
	var b signInBody
	if err := decodeJSON(c, &b); err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var tok *token
	switch {
	case b.Token != "" && b.Code == "":
		tok = lookupHash(v.tokens, sha256.Sum256([]byte(strings.TrimSpace(b.Token))))
	case b.Code != "" && b.Token == "":
		if link, ok := s.ui.sessions.Take(ctx, kindLink, b.Code); ok {
			if sum, err := hex.DecodeString(link.Token); err == nil && len(sum) == sha256.Size {
				tok = lookupHash(v.tokens, [sha256.Size]byte(sum))
			}
		}
	default:
		writeError(w, http.StatusBadRequest, `send {"token": "..."} or {"code": "..."}`)
		return
	}
	if tok == nil {
		s.failedAuth(r, v)
		writeError(w, http.StatusUnauthorized, "that token or sign-in link is not valid (a link works once, for 15 minutes)")
		return
	}
	now := s.now()
	if d := s.signIns.take(tok.hash, now); d > 0 {
		writeTooMany(w, d, "too many console sign-ins with this token; sign out of the sessions you do not use")
		return
	}
	id, csrf := randomID(32), randomID(24)
	rec := state.Session{Token: hex.EncodeToString(tok.hash[:]), Name: tok.name, CSRF: csrf, Created: now.UTC(), Expires: now.Add(s.ui.ttl).UTC()}
	if err := s.ui.sessions.Put(ctx, kindSession, id, rec); err != nil {
		s.fail(c, err)
		return
	}
	c.tok = tok
	s.store.Audit(ctx, state.AuditEntry{Time: now.UTC(), Who: tok.name, From: r.RemoteAddr, Action: "POST /v1/session", Scope: state.Global, Detail: "console sign-in"})
	secure := s.secure(r, v)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(secure), Value: id, Path: "/", Expires: rec.Expires, MaxAge: int(s.ui.ttl.Seconds()),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusCreated, s.sessionView(tok, &sessionCaller{id: id, rec: rec}))
}

// getSession answers whether the caller is signed in, and as whom. Not
// being signed in is an answer here, not an error: the console asks this
// first, and a browser logs every 401 as an error in its console.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	if crossSite(r) {
		writeError(w, http.StatusForbidden, "cross-site requests are refused")
		return
	}
	tok, sc, _, _ := s.caller(r, s.conf.Load())
	if tok == nil {
		writeJSON(w, http.StatusOK, SessionView{Shared: s.ui.sessions.Shared()})
		return
	}
	writeJSON(w, http.StatusOK, s.sessionView(tok, sc))
}

func (s *Server) signOut(c *call) error {
	if c.session != nil {
		ctx, cancel := context.WithTimeout(c.r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ui.sessions.Delete(ctx, kindSession, c.session.id); err != nil {
			s.log.Warn("console sign-out reached this node only", "err", err)
		}
	}
	s.clearCookie(c.w, c.r)
	writeJSON(c.w, http.StatusOK, map[string]bool{"signed_in": false})
	return nil
}

// newLink makes a one-time sign-in link for the caller's own token: a way
// into the console without pasting the token into a browser (`awning
// demo` prints two). It signs in as the caller and nobody else.
func (s *Server) newLink(c *call) error {
	// A link is kept like a session until it is used or expires: bounded
	// as sign-ins are (limit.go).
	if d := s.signIns.take(c.tok.hash, s.now()); d > 0 {
		writeTooMany(c.w, d, "too many sign-in links and sign-ins with this token")
		return nil
	}
	code := randomID(32)
	ctx, cancel := context.WithTimeout(c.r.Context(), 2*time.Second)
	defer cancel()
	exp := s.now().Add(linkTTL).UTC()
	if err := s.ui.sessions.Put(ctx, kindLink, code, state.Session{Token: hex.EncodeToString(c.tok.hash[:]), Name: c.tok.name, Created: s.now().UTC(), Expires: exp}); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, map[string]any{"code": code, "path": "/ui/#code=" + code, "expires": exp})
	return nil
}

func (s *Server) sessionView(tok *token, sc *sessionCaller) SessionView {
	v := SessionView{SignedIn: true, Name: tok.name, Role: "merchant", Shared: s.ui.sessions.Shared()}
	if tok.ops {
		v.Role = "ops"
	} else {
		for name := range tok.sites {
			v.Sites = append(v.Sites, name)
		}
		sort.Strings(v.Sites)
	}
	if sc != nil {
		exp := sc.rec.Expires
		v.Expires, v.CSRF = &exp, sc.rec.CSRF
	}
	if s.ui.fleet != nil {
		v.Node = s.ui.fleet.ID()
	}
	return v
}

// caller authenticates r: a bearer token when the request has an
// Authorization header, else a console session cookie. It returns the
// token (nil when neither is valid), the session for a cookie, and, when
// the call must be refused, the status and message to refuse it with.
func (s *Server) caller(r *http.Request, v *view) (*token, *sessionCaller, int, string) {
	if r.Header.Get("Authorization") != "" {
		if tok := authenticate(v.tokens, r); tok != nil {
			return tok, nil, 0, ""
		}
		return nil, nil, http.StatusUnauthorized, "a valid token is required (Authorization: Bearer <token>)"
	}
	id := sessionCookie(r)
	if id == "" {
		return nil, nil, http.StatusUnauthorized, "a valid token is required (Authorization: Bearer <token>), or sign in to the console"
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	rec, ok := s.ui.sessions.Get(ctx, kindSession, id)
	if !ok || !s.now().Before(rec.Expires) {
		return nil, nil, http.StatusUnauthorized, "the console session has ended; sign in again"
	}
	sum, err := hex.DecodeString(rec.Token)
	if err != nil || len(sum) != sha256.Size {
		return nil, nil, http.StatusUnauthorized, "the console session has ended; sign in again"
	}
	tok := lookupHash(v.tokens, [sha256.Size]byte(sum))
	if tok == nil {
		return nil, nil, http.StatusUnauthorized, "the token this session signed in with is no longer valid; sign in again"
	}
	sc := &sessionCaller{id: id, rec: rec}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOriginProof(r, rec.CSRF) {
		return nil, nil, http.StatusForbidden, "a change made with the console's cookie must come from the console (Origin and " + csrfHeader + " header)"
	}
	return tok, sc, 0, ""
}

// sameOriginProof reports whether a cookie-authenticated change carries
// what only the console's own pages send: the session's CSRF secret and a
// same-origin Origin or Sec-Fetch-Site. crossSite has already refused any
// that names another origin; this refuses one that names none.
func sameOriginProof(r *http.Request, csrf string) bool {
	got := r.Header.Get(csrfHeader)
	if csrf == "" || subtle.ConstantTimeCompare([]byte(got), []byte(csrf)) != 1 {
		return false
	}
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	o := r.Header.Get("Origin")
	return o != "" && (o == "http://"+r.Host || o == "https://"+r.Host)
}

func sessionCookie(r *http.Request) string {
	for _, name := range []string{cookieSecure, cookiePlain} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

func cookieName(secure bool) string {
	if secure {
		return cookieSecure
	}
	return cookiePlain
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request) {
	secure := s.secure(r, s.conf.Load())
	http.SetCookie(w, &http.Cookie{Name: cookieName(secure), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
}

// secure reports whether the browser reached the console over HTTPS: the
// listener's own TLS, or a trusted proxy (trusted_proxies) saying so in
// X-Forwarded-Proto.
func (s *Server) secure(r *http.Request, v *view) bool {
	if r.TLS != nil {
		return true
	}
	if r.Header.Get("X-Forwarded-Proto") != "https" || v == nil || v.cfg == nil {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range v.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// lookupHash returns the token (from the file or the admin API) whose hash
// is sum, or nil, as authenticate does.
func lookupHash(tokens tokenTable, sum [sha256.Size]byte) *token { return tokens[sum] }

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
