package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

// Sites registered through the admin API (PUT /v1/sites/{site}) are kept
// in the shared state, in the site's own scope; every node parses them
// with the config file's checks and adds them to its site table (package
// node). The API checks a body as check-config checks a sites: entry, and
// refuses a name or a host another site has.

// siteError is one problem with a site body, named by its JSON path.
type siteError struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// bodyErrors is a 400 (or, for a name or host taken, 409) answer listing
// every problem of a body at once.
type bodyErrors struct {
	status int
	errs   []siteError
}

func (e *bodyErrors) Error() string {
	parts := make([]string, len(e.errs))
	for i, se := range e.errs {
		parts[i] = se.Message
		if se.Path != "" {
			parts[i] = se.Path + ": " + se.Message
		}
	}
	return strings.Join(parts, "; ")
}

// checkSite parses and checks a PUT /v1/sites/{name} body: the file's
// own checks (config.ParseSite), those of the components (host names,
// page languages and branding), and what the API cannot take (files named
// by path: they would have to exist on every node). reg is the site table
// in force, for names and hosts taken.
func checkSite(name string, body []byte, reg *sites.Registry) (*config.Site, error) {
	if ex := reg.Named(name); ex != nil && !ex.API {
		return nil, &bodyErrors{http.StatusConflict, []siteError{{Path: "name", Message: quote(name) +
			" is a site of the config file; change it there"}}}
	}
	// The components' checks run on what decoded even when the file's own
	// checks found problems, so that every problem is answered at once;
	// one they find at a key already reported is left out.
	site, perrs := config.InspectSite(name, body)
	var errs []siteError
	for _, e := range perrs {
		errs = append(errs, siteError{e.Path, e.Msg})
	}
	if site == nil {
		return nil, &bodyErrors{http.StatusBadRequest, errs}
	}
	add := func(path, msg string) {
		if !perrs.Covers(path) {
			errs = append(errs, siteError{path, msg})
		}
	}
	if site.Page.Logo != "" {
		errs = append(errs, siteError{"page.logo", "a file path cannot reach every node; upload the logo with PUT /v1/sites/" + name + "/page/logo"})
	}
	if site.Page.Template != "" {
		errs = append(errs, siteError{"page.template", "custom templates come from the config file"})
	}
	if site.Page.Logo == "" && site.Page.Template == "" {
		if _, err := pages.FromSite(&config.Config{}, site, ""); err != nil {
			var ce config.Errors
			if !errors.As(err, &ce) {
				return nil, err
			}
			for _, e := range ce {
				add(strings.TrimPrefix(e.Path, "."), e.Msg)
			}
		}
	}
	var taken []siteError
	seen := map[string]int{}
	for j, h := range site.Hosts {
		path := "hosts[" + strconv.Itoa(j) + "]"
		c, err := sites.Canonical(h)
		if err != nil {
			add(path, quote(h)+" is not a valid host name: "+strings.TrimPrefix(err.Error(), "sites: "))
			continue
		}
		if k, dup := seen[c]; dup {
			add(path, quote(h)+" is already listed at hosts["+strconv.Itoa(k)+"]")
			continue
		}
		seen[c] = j
		if owner := reg.LookupString(c); owner != nil && owner.Name != name {
			where := "in the config file"
			if owner.API {
				where = "registered through the admin API"
			}
			taken = append(taken, siteError{path, quote(c) + " belongs to site " + quote(owner.Name) + " (" + where + ")"})
		}
	}
	switch {
	case len(errs) > 0:
		return nil, &bodyErrors{http.StatusBadRequest, append(errs, taken...)}
	case len(taken) > 0:
		return nil, &bodyErrors{http.StatusConflict, taken}
	}
	return site, nil
}

// readBody reads a JSON body of at most maxJSONBody bytes.
func readBody(c *call) ([]byte, error) {
	if ct := c.r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return nil, &apiError{http.StatusUnsupportedMediaType, "send the body as application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxJSONBody))
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("the body is empty; send a sites: entry of the config file as a JSON object")
	}
	return body, nil
}

func (s *Server) putSite(c *call) error {
	name := c.r.PathValue("name")
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if _, err := checkSite(name, body, c.view.sites); err != nil {
		return err
	}
	var compact bytes.Buffer
	json.Compact(&compact, body) // valid: ParseSite checked
	created := false
	if _, err := s.change(c, name, "site registered", func(sc *state.Scope) error {
		spec := &state.SiteSpec{Config: compact.Bytes(), By: c.tok.name, At: s.now().UTC()}
		if sc.Site != nil {
			spec.At = sc.Site.At // the first registration decides who wins a host
		} else {
			created = true
			*sc = state.Scope{} // a name used before starts afresh
		}
		sc.Site = spec
		return nil
	}); err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	if site := s.conf.Load().sites.Named(name); site != nil {
		writeJSON(c.w, status, s.siteView(c, site))
		return nil
	}
	// Stored, but not (yet) in this node's table: a node without the site
	// table behind it (tests), or a registration another node won.
	writeJSON(c.w, status, map[string]any{"name": name, "source": "api"})
	return nil
}

func (s *Server) deleteSite(c *call) error {
	name := c.r.PathValue("name")
	if ex := c.view.sites.Named(name); ex != nil && !ex.API {
		return &apiError{http.StatusConflict, quote(name) + " is a site of the config file; remove it there"}
	}
	if _, err := s.change(c, name, "site removed", func(sc *state.Scope) error {
		if sc.Site == nil {
			return notFound("no site named %s was registered through the admin API", quote(name))
		}
		*sc = state.Scope{} // its maintenance, branding and updates go with it
		return nil
	}); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"name": name, "deleted": true})
	return nil
}
