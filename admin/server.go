package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

// Proxy is what the API reads from the request path: each site's origin
// health, its pages for previews, and its answers by outcome.
type Proxy interface {
	Health(site string) *health.Site
	RenderPreview(site string, mode pages.Mode, lang string, draft *pages.Branding) ([]byte, error)
	Stats() proxy.Stats
}

// Options build a Server.
type Options struct {
	// Config gives the tokens and sites. Required; Update replaces it.
	Config *config.Config
	// Sites is the routing table of Config. Required.
	Sites *sites.Registry
	// Store keeps what the API changes. Required for the /v1 routes.
	Store *state.Store
	// Proxy is read for health and previews. Required for the /v1 routes.
	Proxy Proxy
	// Metrics serves GET /metrics. Optional.
	Metrics http.Handler
	// Log receives the API's log. Default slog.Default().
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Checks reports the node's dependencies for GET /readyz. Optional.
	Checks func(context.Context) map[string]Check
	// SiteURL returns the URL shoppers reach a host at through this node
	// (scheme, host, and the port when it is not the scheme's default), for
	// links such as the maintenance bypass. Optional.
	SiteURL func(host string) string

	// The web console (console.go): Console serves its files at /ui/;
	// Sessions keeps its sign-ins (default: this node's memory) for
	// SessionTTL (default DefaultSessionTTL); Fleet lists the nodes.
	// All optional.
	Console    http.Handler
	Sessions   *state.Sessions
	SessionTTL time.Duration
	Fleet      *state.Fleet
}

// Server serves the admin API: JSON over HTTP, authenticated by bearer
// tokens whose SHA-256 is in the config. Ops tokens (sites: ["*"]) reach
// everything; a merchant token reaches only its own sites' branding and
// status: another site answers 404 (never revealing that it exists), and
// maintenance, incident updates, forced fallback and the audit log answer
// 403. Every change is audited. It is safe for concurrent use.
type Server struct {
	log     *slog.Logger
	store   *state.Store
	proxy   Proxy
	metrics http.Handler
	now     func() time.Time
	checks  func(context.Context) map[string]Check
	siteURL func(host string) string
	mux     *http.ServeMux
	ready   atomic.Bool
	conf    atomic.Pointer[view]
	ui      uiState
	guesses guessLimiter // failed authentications per client (guess.go)
	signIns tokenLimiter // console sign-ins per token (limit.go)
	changes tokenLimiter // changes per merchant token (limit.go)
}

// view is the configuration the API works with, swapped on reload.
type view struct {
	cfg    *config.Config
	sites  *sites.Registry
	tokens tokenTable
}

// maxJSONBody bounds a JSON body; a logo has its own limit,
// pages.MaxLogoBytes.
const maxJSONBody = 64 << 10

// New builds the admin server. It answers /healthz at once and /readyz once
// SetReady(true) is called and every required check passes (ready.go).
func New(opt Options) *Server {
	s := &Server{log: opt.Log, store: opt.Store, proxy: opt.Proxy, metrics: opt.Metrics, now: opt.Now, checks: opt.Checks, siteURL: opt.SiteURL, mux: http.NewServeMux(),
		signIns: newTokenLimiter(signInBurst, signInEvery), changes: newTokenLimiter(changeBurst, changeEvery)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opt.Config != nil {
		s.Update(opt.Config, opt.Sites)
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"alive": true})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if s.metrics != nil {
		s.mux.Handle("GET /metrics", s.metrics)
	}
	if s.store != nil && s.proxy != nil {
		s.routes()
		s.consoleRoutes(opt)
	}
	return s
}

// Update swaps in a reloaded configuration or site table, and the tokens
// created through the admin API as the store has them now: the node calls
// it when any of them changed.
func (s *Server) Update(cfg *config.Config, reg *sites.Registry) {
	s.conf.Store(&view{cfg: cfg, sites: reg, tokens: newTokens(cfg.Admin.Tokens, s.apiTokens(), s.registeredAt)})
}

// registeredAt returns when the site called name was registered through the
// admin API (SiteSpec.At: kept by a PUT that changes it, new after a
// DELETE), or false for a site that was not.
func (s *Server) registeredAt(name string) (time.Time, bool) {
	if s.store == nil {
		return time.Time{}, false
	}
	if sp := s.store.Scope(name).Site; sp != nil {
		return sp.At, true
	}
	return time.Time{}, false
}

// SetReady marks the node ready (config loaded, listeners up) or not.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if uncleanPath(r.URL.Path) {
		// ServeMux would answer a redirect to the cleaned path: a path
		// naming one site that leads to another. Every client of the API
		// sends clean paths; anything else is a mistake or a trick.
		writeError(w, http.StatusNotFound, "no such path: "+quote(r.URL.Path)+" (send it without empty, . or .. segments)")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// uncleanPath reports whether p has an empty, "." or ".." segment (a
// trailing slash aside).
func uncleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return true
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p[1:], "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return p != "/"
		}
	}
	return false
}

// access says who may call a route.
type access int

const (
	opsOnly    access = iota // ops tokens only
	siteReader               // ops, and merchants on their own site
	siteOwner                // ops, and merchants on their own site, changing it (limit.go)
	siteDraft                // as siteOwner, for what changes no state: no limit
)

// call is one authenticated API call.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	tok  *token
	view *view
	site *sites.Site // for /v1/sites/{site} routes
	// session is the console session of a cookie-authenticated call; nil
	// for a bearer token.
	session *sessionCaller
	// langs are the site's page languages: the merchant's, else the
	// config's.
	langs []string
}

// handle registers an API route: authentication, cross-site refusal, the
// access rule, and (for /v1/sites/{site}/...) the site lookup, in that
// order, so that a caller learns nothing it may not know.
func (s *Server) handle(pattern string, a access, h func(*call) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if crossSite(r) {
			writeError(w, http.StatusForbidden, "cross-site requests are refused")
			return
		}
		v := s.conf.Load()
		if s.refuseGuess(w, r, v) {
			return
		}
		tok, sess, status, msg := s.caller(r, v)
		if tok == nil {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="awning"`)
				if r.Header.Get("Authorization") != "" {
					s.failedAuth(r, v)
				}
			}
			writeError(w, status, msg)
			return
		}
		c := &call{w: w, r: r, tok: tok, view: v, session: sess}
		if name := r.PathValue("site"); name != "" {
			c.site = v.sites.Named(name)
			if c.site == nil || !tok.reaches(name) {
				writeError(w, http.StatusNotFound, "no site named "+quote(name))
				return
			}
			c.langs = s.siteLanguages(c.site)
		}
		if a == opsOnly && !tok.ops {
			writeError(w, http.StatusForbidden, "this needs an ops token")
			return
		}
		if a == siteOwner && !tok.ops && r.Method != http.MethodGet && r.Method != http.MethodHead {
			if d := s.changes.take(tok.hash, s.now()); d > 0 {
				writeTooMany(w, d, "too many changes with this token")
				return
			}
		}
		if err := h(c); err != nil {
			s.fail(c, err)
		}
	})
}

// apiError is an error with the status to answer it with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{http.StatusNotFound, sprintf(format, args...)}
}

// fail answers an error: an apiError as it says, a validation error as
// 400, a state store outage as 503, anything else as 500 (logged).
func (s *Server) fail(c *call, err error) {
	var ae *apiError
	var fe pages.FieldErrors
	var mbe *http.MaxBytesError
	var be *bodyErrors
	switch {
	case errors.As(err, &be):
		writeJSON(c.w, be.status, map[string]any{"error": be.Error(), "errors": be.errs})
	case errors.As(err, &ae):
		writeError(c.w, ae.status, ae.msg)
	case errors.As(err, &fe):
		writeError(c.w, http.StatusBadRequest, err.Error())
	case errors.As(err, &mbe):
		writeError(c.w, http.StatusRequestEntityTooLarge, sprintf("body larger than %d bytes", mbe.Limit))
	case errors.Is(err, state.ErrUnavailable):
		writeError(c.w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(c.w, http.StatusServiceUnavailable, "the shared state did not answer in time; nothing was changed")
	default:
		s.log.Error("admin API failure", "path", c.r.URL.Path, "err", err)
		writeError(c.w, http.StatusInternalServerError, "internal error; see the node's log")
	}
}

// change applies fn to a scope through the store, with its audit entry
// written in the same step.
func (s *Server) change(c *call, scope, detail string, fn func(*state.Scope) error) (state.Scope, error) {
	ctx, cancel := context.WithTimeout(c.r.Context(), 5*time.Second)
	defer cancel()
	return s.store.ChangeAudited(ctx, scope, state.AuditEntry{
		Time: s.now().UTC(), Who: c.tok.name, From: c.r.RemoteAddr,
		Action: c.r.Method + " " + c.r.URL.Path, Detail: detail,
	}, fn)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeTooMany answers 429 with Retry-After d (whole seconds, rounded up)
// and says why and when to try again.
func writeTooMany(w http.ResponseWriter, d time.Duration, why string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(d.Seconds()+0.999)))
	writeError(w, http.StatusTooManyRequests, why+"; try again in "+d.Round(time.Second).String())
}
