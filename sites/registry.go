package sites

import (
	"fmt"

	"github.com/awningproxy/awning/config"
)

// Site is one shop as the routing table knows it.
type Site struct {
	// Index is the site's position in its Registry, dense from 0, for
	// per-site tables kept beside the registry.
	Index int
	// Name is the site's configured name.
	Name string
	// Hosts are the site's host names in canonical form.
	Hosts []string
	// Config is the site's configuration, defaults filled in.
	Config *config.Site
}

// Registry maps hosts and names to sites. It is immutable once built and
// safe for concurrent use; its zero value is an empty registry.
type Registry struct {
	sites  []*Site
	byHost map[string]*Site
	byName map[string]*Site
}

// New builds the registry for cfg. Hosts that are not valid names, and
// hosts listed for more than one site, are reported as positioned config
// errors.
func New(cfg *config.Config) (*Registry, error) {
	r := &Registry{
		byHost: make(map[string]*Site),
		byName: make(map[string]*Site, len(cfg.Sites)),
	}
	var errs config.Errors
	where := map[string]string{}
	for i := range cfg.Sites {
		sc := &cfg.Sites[i]
		s := &Site{Index: i, Name: sc.Name, Config: sc}
		for j, h := range sc.Hosts {
			path := fmt.Sprintf("sites[%d].hosts[%d]", i, j)
			c, err := Canonical(h)
			if err != nil {
				errs = append(errs, cfg.Errorf(path, "%q is not a valid host name: %v", h, trimPrefix(err)))
				continue
			}
			if prev, dup := where[c]; dup {
				errs = append(errs, cfg.Errorf(path, "%q is already listed at %s", h, prev))
				continue
			}
			where[c] = path
			s.Hosts = append(s.Hosts, c)
			r.byHost[c] = s
		}
		r.sites = append(r.sites, s)
		r.byName[s.Name] = s
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

func trimPrefix(err error) string {
	s := err.Error()
	const p = "sites: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// Lookup returns the site serving host, a raw Host header or SNI name, or
// nil when host is invalid or unknown. It does not allocate.
func (r *Registry) Lookup(host []byte) *Site {
	var buf [MaxHostLen + 8]byte
	c, ok := AppendCanonical(buf[:0], host)
	if !ok {
		return nil
	}
	return r.byHost[string(c)]
}

// LookupString is Lookup for a string.
func (r *Registry) LookupString(host string) *Site {
	var buf [MaxHostLen + 8]byte
	c, ok := AppendCanonical(buf[:0], []byte(host))
	if !ok {
		return nil
	}
	return r.byHost[string(c)]
}

// Named returns the site called name, or nil.
func (r *Registry) Named(name string) *Site { return r.byName[name] }

// All returns every site in configuration order. The slice must not be
// modified.
func (r *Registry) All() []*Site { return r.sites }

// Len returns the number of sites.
func (r *Registry) Len() int { return len(r.sites) }
