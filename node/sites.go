package node

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

// Sites come from two places: the config file, and the admin API (PUT
// /v1/sites/{site}), which keeps them in the shared state, so that every
// node serves them within the state's propagation time and a restarted
// node has them from its snapshot. The node's site table is the file's
// sites followed by the API's, oldest registration first. A name or host
// may be registered one way only: the admin API refuses a name or host
// the file has, a reload refuses a file that takes one the API has, and
// should one slip through anyway (two nodes registering one host at once,
// a file edited while the node was down), the file wins, then the earlier
// registration, and the loser is logged and not served.

// apiSite is a site registered through the admin API, as this node parsed
// it.
type apiSite struct {
	spec *state.SiteSpec
	site *config.Site
}

// apiSite parses the site registered in the scope named name, or returns
// nil when there is none (or it does not parse: then it is logged).
func (n *Node) apiSite(name string) *apiSite {
	sc := n.state.Scope(name)
	if sc.Site == nil {
		return nil
	}
	site, errs := config.ParseSite(name, sc.Site.Config)
	if errs != nil {
		n.log.Error("site registered through the admin API does not parse; not served", "site", name, "err", errs.Error())
		return nil
	}
	return &apiSite{spec: sc.Site, site: site}
}

// loadAPISites reads every site registered through the admin API from the
// state.
func (n *Node) loadAPISites() {
	n.api = map[string]*apiSite{}
	for _, name := range n.state.Names() {
		if strings.HasPrefix(name, state.TokenScopePrefix) || name == state.Global {
			continue
		}
		if a := n.apiSite(name); a != nil {
			n.api[name] = a
		}
	}
}

// syncAPISitesLocked takes in the changes of the named scopes and reports
// whether a registered site changed. n.reloadMu must be held.
func (n *Node) syncAPISitesLocked(changed []string) bool {
	changedSite := false
	for _, name := range changed {
		if strings.HasPrefix(name, state.TokenScopePrefix) || name == state.Global {
			continue
		}
		old := n.api[name]
		sc := n.state.Scope(name)
		switch {
		case sc.Site == nil && old == nil:
			continue
		case sc.Site != nil && old != nil && bytes.Equal(sc.Site.Config, old.spec.Config) && sc.Site.At.Equal(old.spec.At):
			continue
		}
		changedSite = true
		if a := n.apiSite(name); a != nil {
			n.api[name] = a
		} else {
			delete(n.api, name)
		}
	}
	return changedSite
}

// siteTable is the file's registry followed by the sites registered
// through the admin API, oldest first. Those that cannot be served (a
// name or host taken) are logged.
func (n *Node) siteTable(file *sites.Registry) *sites.Registry {
	list := make([]*apiSite, 0, len(n.api))
	for _, a := range n.api {
		list = append(list, a)
	}
	slices.SortFunc(list, func(a, b *apiSite) int {
		if c := a.spec.At.Compare(b.spec.At); c != 0 {
			return c
		}
		return strings.Compare(a.site.Name, b.site.Name)
	})
	extra := make([]*config.Site, len(list))
	for i, a := range list {
		extra[i] = a.site
	}
	reg, errs := file.With(extra)
	for _, err := range errs {
		n.log.Error(err.Error())
	}
	return reg
}

// rebuildSitesLocked swaps in the site table after a site registered
// through the admin API changed. n.reloadMu must be held.
func (n *Node) rebuildSitesLocked() {
	cfg := n.Config()
	t0 := time.Now()
	reg := n.siteTable(n.fileReg)
	if err := n.proxy.Update(n.proxyOptions(cfg, reg)); err != nil {
		n.log.Error("sites registered through the admin API not applied", "err", err)
		return
	}
	n.reg.Store(reg)
	n.admin.Update(cfg, reg)
	if n.certs != nil {
		n.certs.Update(reg)
	}
	n.log.Info("site table updated", "sites", reg.Len(), "from_api", len(n.api), "took", time.Since(t0))
}

// checkFileAgainstAPI refuses a file that lists a name or a host a site
// registered through the admin API has: it must be deleted there first.
func (n *Node) checkFileAgainstAPI(cfg *config.Config, file *sites.Registry) error {
	var errs config.Errors
	for _, a := range n.api {
		if fs := file.Named(a.site.Name); fs != nil {
			errs = append(errs, cfg.Errorf(fmt.Sprintf("sites[%d].name", fs.Index),
				"%q is registered through the admin API; remove it there first (awning site remove %s)", a.site.Name, a.site.Name))
			continue
		}
		for _, h := range a.site.Hosts {
			c, err := sites.Canonical(h)
			if err != nil {
				continue
			}
			fs := file.LookupString(c)
			if fs == nil {
				continue
			}
			j := slices.Index(fs.Hosts, c)
			errs = append(errs, cfg.Errorf(fmt.Sprintf("sites[%d].hosts[%d]", fs.Index, j),
				"%q belongs to site %q, registered through the admin API; remove it there first", c, a.site.Name))
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return errs
	}
	return nil
}
