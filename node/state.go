package node

import (
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/state"
)

// applyState hands the proxy the run-time state of the sites whose scopes
// changed (every site when the global scope did). It is the store's
// OnChange, and runs again after a reload for the sites the new config has.
func (n *Node) applyState(changed []string) {
	if n.windows != nil {
		n.windows.changed()
	}
	if n.updates != nil {
		n.updates.changed()
	}
	if n.proxy == nil || n.reg.Load() == nil {
		return // still building: New applies everything once the proxy exists
	}
	n.reloadMu.Lock()
	if n.syncAPISitesLocked(changed) {
		n.rebuildSitesLocked()
	}
	if slices.ContainsFunc(changed, func(s string) bool { return strings.HasPrefix(s, state.TokenScopePrefix) }) {
		n.admin.Update(n.Config(), n.reg.Load()) // tokens created or revoked through the admin API
	}
	n.reloadMu.Unlock()
	n.applyRuntime(changed)
}

// applyRuntime hands the proxy the run-time state of the sites whose
// scopes changed (every site when the global scope did).
func (n *Node) applyRuntime(changed []string) {
	reg := n.reg.Load()
	all := slices.Contains(changed, state.Global)
	want := make(map[string]bool, len(changed))
	for _, name := range changed {
		want[name] = true
	}
	global := n.state.Scope(state.Global)
	for _, site := range reg.All() {
		if !all && !want[site.Name] {
			continue
		}
		in := siteState(global, n.state.Scope(site.Name), time.Now())
		if err := n.proxy.ApplyState(site.Name, in); err != nil {
			n.log.Error("run-time state not applied", "site", site.Name, "err", err)
		}
	}
}

// applyAll applies every site's run-time state.
func (n *Node) applyAll() { n.applyRuntime([]string{state.Global}) }

// siteState merges the global scope and a site's own into what the proxy
// applies at now: the site's maintenance window wins over the global one;
// incident updates of both are shown, newest first, until they expire
// (updates.go renders the pages again when one does).
func siteState(global, sc state.Scope, now time.Time) proxy.SiteState {
	m := sc.Maintenance
	if m == nil || !m.Enabled {
		m = global.Maintenance
	}
	out := proxy.SiteState{ForceFallback: sc.ForceFallback}
	out.Pages.Branding = sc.Branding
	out.Pages.Updates = append(liveUpdates(sc.Updates, now), liveUpdates(global.Updates, now)...)
	sort.SliceStable(out.Pages.Updates, func(i, j int) bool { return out.Pages.Updates[i].Time.After(out.Pages.Updates[j].Time) })
	if m != nil && m.Enabled {
		pm := &proxy.Maintenance{ReadOnly: m.Mode == string(pages.ReadOnly), BypassSecret: m.BypassSecret}
		w := &pages.Window{Mode: pages.WindowMode(m.Mode), Message: m.Message}
		if m.Start != nil {
			pm.Start, w.Start = *m.Start, *m.Start
		}
		if m.End != nil {
			pm.End, w.End = *m.End, *m.End
		}
		for _, a := range m.Allow {
			if p, err := config.ParsePrefix(a); err == nil { // checked by the admin API
				pm.Allow = append(pm.Allow, netip.Prefix(p))
			}
		}
		out.Maintenance, out.Pages.Window = pm, w
	}
	return out
}

// maintenanceWindows returns every scope's maintenance window, for the
// window log.
func (n *Node) maintenanceWindows() map[string]*state.Maintenance {
	out := map[string]*state.Maintenance{}
	for _, name := range n.state.Names() {
		if m := n.state.Scope(name).Maintenance; m != nil {
			out[name] = m
		}
	}
	return out
}
