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
	// API is true for a site registered through the admin API rather than
	// listed in the config file.
	API bool
}

// Registry maps hosts and names to sites. It is immutable once built and
// safe for concurrent use; its zero value is an empty registry.
type Registry struct {
	sites  []*Site
	byHost map[string]*Site
	byName map[string]*Site
}

// MaxNameLen bounds a site's name (config allows lower-case letters,
// digits and dashes, at most 63): the request path keeps it in each host's
// slot of a Table.
const MaxNameLen = 63

// nameFits reports whether name is a length a site's name may have.
func nameFits(name string) bool { return len(name) > 0 && len(name) <= MaxNameLen }

var nameRule = fmt.Sprintf("a site's name has 1 to %d bytes", MaxNameLen)

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
		if !nameFits(sc.Name) {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("sites[%d].name", i), "%q: %s", sc.Name, nameRule))
		}
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

// With returns a registry of r's sites followed by extra, sites
// registered through the admin API (already checked, as the admin API
// does), in the order given. r is not changed; its sites keep their
// Index. An extra site whose name or one of whose hosts is taken (by r,
// or by an earlier extra site) is left out, and reported in the errors
// with what took it: the config file's site always wins, so does the
// earlier registration. Without extra sites it returns r.
func (r *Registry) With(extra []*config.Site) (*Registry, []error) {
	if len(extra) == 0 {
		return r, nil // immutable: shared, not copied
	}
	out := &Registry{
		sites:  make([]*Site, len(r.sites), len(r.sites)+len(extra)),
		byHost: make(map[string]*Site, len(r.byHost)+2*len(extra)),
		byName: make(map[string]*Site, len(r.sites)+len(extra)),
	}
	copy(out.sites, r.sites)
	for h, s := range r.byHost {
		out.byHost[h] = s
	}
	for n, s := range r.byName {
		out.byName[n] = s
	}
	var errs []error
	for _, sc := range extra {
		if prev := out.byName[sc.Name]; prev != nil {
			errs = append(errs, fmt.Errorf("site %q registered through the admin API is not served: %s already has that name", sc.Name, describe(prev)))
			continue
		}
		s := &Site{Index: len(out.sites), Name: sc.Name, Config: sc, API: true}
		var taken error
		if !nameFits(sc.Name) {
			taken = fmt.Errorf("site %q registered through the admin API is not served: %s", sc.Name, nameRule)
		}
		for _, h := range sc.Hosts {
			if taken != nil {
				break
			}
			c, err := Canonical(h)
			if err != nil {
				taken = fmt.Errorf("site %q registered through the admin API is not served: %q is not a valid host name", sc.Name, h)
				break
			}
			if prev := out.byHost[c]; prev != nil {
				taken = fmt.Errorf("site %q registered through the admin API is not served: its host %q belongs to %s", sc.Name, c, describe(prev))
				break
			}
			s.Hosts = append(s.Hosts, c)
		}
		if taken != nil {
			errs = append(errs, taken)
			continue
		}
		for _, h := range s.Hosts {
			out.byHost[h] = s
		}
		out.sites = append(out.sites, s)
		out.byName[s.Name] = s
	}
	return out, errs
}

// Owner names who has host (canonical form) in r: "" when no site does.
func (r *Registry) Owner(host string) string {
	if s := r.byHost[host]; s != nil {
		return describe(s)
	}
	return ""
}

// describe names a site and where it comes from, for messages.
func describe(s *Site) string {
	if s.API {
		return fmt.Sprintf("site %q (registered through the admin API)", s.Name)
	}
	return fmt.Sprintf("site %q (in the config file)", s.Name)
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
