package admin

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
)

// Site states, as the overview names them, from the worst: what shoppers
// get decides (maintenance before a forced fallback before the origins'
// health).
const (
	stateMaintenance = "maintenance" // full maintenance in force
	stateReadOnly    = "read-only"   // read-only maintenance in force
	stateForced      = "forced"      // ops forced the fallback
	stateDown        = "down"        // every origin down: copies and the outage page
	stateDegraded    = "degraded"    // an origin down or degraded, the site still served
	stateScheduled   = "scheduled"   // maintenance set to begin later
	stateOpen        = "open"
)

var siteStates = []string{stateMaintenance, stateReadOnly, stateForced, stateDown, stateDegraded, stateScheduled, stateOpen}

// SiteSummary is one row of the overview.
type SiteSummary struct {
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
	// Languages are the languages the site's pages are shown in: a
	// message for many sites at once is sent in those alone.
	Languages []string `json:"languages"`
	// State is one of maintenance, read-only, forced, down, degraded,
	// scheduled, open.
	State string `json:"state"`
	// OriginsUp of Origins are up.
	OriginsUp int `json:"origins_up"`
	Origins   int `json:"origins"`
	// Answers counts the site's answers by outcome (origin, stale, outage,
	// maintenance) since the overview's Since, on this node.
	Answers       map[string]uint64 `json:"answers"`
	Maintenance   *MaintenanceView  `json:"maintenance,omitempty"`
	ForceFallback bool              `json:"force_fallback"`
	Updates       int               `json:"updates"`
	Branded       bool              `json:"branded"`
}

// Overview is GET /v1/overview's answer: one page of the sites the caller
// reaches, searched and filtered on the server, so that ten thousand sites
// cost the browser fifty rows.
type Overview struct {
	// Total is how many sites the caller reaches; Matched how many of them
	// the search and the state filter keep.
	Total   int `json:"total"`
	Matched int `json:"matched"`
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Pages   int `json:"pages"`
	// States counts the sites the search keeps by state (before the state
	// filter), for the filter's buttons.
	States map[string]int `json:"states"`
	// Since is when the answers are counted from (at most about five
	// minutes ago).
	Since time.Time     `json:"since"`
	Sites []SiteSummary `json:"sites"`
}

// overviewQuery is GET /v1/overview's query, checked.
type overviewQuery struct {
	q       string
	states  map[string]bool // nil for every state
	page    int
	perPage int
	byState bool
}

func parseOverviewQuery(c *call) (overviewQuery, error) {
	v := c.r.URL.Query()
	oq := overviewQuery{q: strings.ToLower(strings.TrimSpace(v.Get("q"))), page: 1, perPage: 50}
	if len(oq.q) > 200 {
		return oq, badRequest("q: at most 200 characters")
	}
	if s := v.Get("state"); s != "" {
		oq.states = map[string]bool{}
		for _, st := range strings.Split(s, ",") {
			if !slices.Contains(siteStates, st) {
				return oq, badRequest("state: want one or more of %s, got %s", strings.Join(siteStates, ", "), quote(st))
			}
			oq.states[st] = true
		}
	}
	var err error
	if s := v.Get("page"); s != "" {
		if oq.page, err = strconv.Atoi(s); err != nil || oq.page < 1 {
			return oq, badRequest("page: want a number from 1")
		}
	}
	if s := v.Get("per_page"); s != "" {
		if oq.perPage, err = strconv.Atoi(s); err != nil || oq.perPage < 1 || oq.perPage > 500 {
			return oq, badRequest("per_page: want 1 to 500")
		}
	}
	switch s := v.Get("sort"); s {
	case "", "name":
	case "state":
		oq.byState = true
	default:
		return oq, badRequest("sort: want name or state, got %s", quote(s))
	}
	return oq, nil
}

func (oq *overviewQuery) matches(site *sites.Site) bool {
	if oq.q == "" || strings.Contains(strings.ToLower(site.Name), oq.q) {
		return true
	}
	for _, h := range site.Hosts {
		if strings.Contains(h, oq.q) {
			return true
		}
	}
	return false
}

func (s *Server) overview(c *call) error {
	oq, err := parseOverviewQuery(c)
	if err != nil {
		return err
	}
	now := s.now()
	stats := s.proxy.Stats()
	byName := make(map[string]*proxy.SiteStats, len(stats.Sites))
	for i := range stats.Sites {
		byName[stats.Sites[i].Name] = &stats.Sites[i]
	}
	since, base, ok := s.ui.recent.base()
	if !ok {
		since, base = now, func(string) counts { return counts{} }
	}
	global := s.store.Scope(state.Global)
	out := Overview{Page: oq.page, PerPage: oq.perPage, States: map[string]int{}, Since: since.UTC(), Sites: []SiteSummary{}}
	// Every site the search keeps gets its state, for the counts and the
	// filter; only the page's rows are built in full.
	var kept []overviewRow
	for _, site := range c.view.sites.All() {
		if !c.tok.reaches(site.Name) {
			continue
		}
		out.Total++
		if !oq.matches(site) {
			continue
		}
		r := overviewRow{site: site, stats: byName[site.Name], scope: s.store.Scope(site.Name)}
		r.maint = effectiveMaintenance(r.scope, global)
		r.state = rowState(&r, now)
		out.States[r.state]++
		if oq.states != nil && !oq.states[r.state] {
			continue
		}
		kept = append(kept, r)
	}
	if oq.byState {
		rank := func(st string) int { return slices.Index(siteStates, st) }
		sort.SliceStable(kept, func(i, j int) bool { return rank(kept[i].state) < rank(kept[j].state) })
	} else {
		sort.SliceStable(kept, func(i, j int) bool { return kept[i].site.Name < kept[j].site.Name })
	}
	out.Matched = len(kept)
	out.Pages = max(1, (len(kept)+oq.perPage-1)/oq.perPage)
	if from := (oq.page - 1) * oq.perPage; from < len(kept) {
		for _, r := range kept[from:min(len(kept), from+oq.perPage)] {
			out.Sites = append(out.Sites, s.summary(c, &r, global, now, base))
		}
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// overviewRow is what the overview knows of a site before it builds its
// row: enough for its state.
type overviewRow struct {
	site  *sites.Site
	stats *proxy.SiteStats // nil for a site the proxy does not have yet (a reload in progress)
	scope state.Scope
	maint *state.Maintenance
	state string
}

// effectiveMaintenance is the site's maintenance window, or the one for
// every site: the site's own wins, as on the request path.
func effectiveMaintenance(sc, global state.Scope) *state.Maintenance {
	switch m := sc.Maintenance; {
	case m != nil && m.Enabled:
		return m
	case global.Maintenance != nil && global.Maintenance.Enabled:
		return global.Maintenance
	}
	return nil
}

// rowState is what shoppers of the site get, in one word.
func rowState(r *overviewRow, now time.Time) string {
	m := r.maint
	open, up, origins := true, 0, 0
	if r.stats != nil {
		open = r.stats.Health.Open
		origins = len(r.stats.Health.Origins)
		for _, o := range r.stats.Health.Origins {
			if o.State == health.Up {
				up++
			}
		}
	}
	switch {
	case m != nil && m.ActiveAt(now) && m.Mode == "read-only":
		return stateReadOnly
	case m != nil && m.ActiveAt(now):
		return stateMaintenance
	case r.scope.ForceFallback:
		return stateForced
	case !open:
		return stateDown
	case up < origins:
		return stateDegraded
	case m != nil && m.Start != nil && now.Before(*m.Start):
		return stateScheduled
	}
	return stateOpen
}

// summary is one site's row of the page.
func (s *Server) summary(c *call, r *overviewRow, global state.Scope, now time.Time, base func(string) counts) SiteSummary {
	sc := r.scope
	sum := SiteSummary{
		Name: r.site.Name, Hosts: r.site.Hosts, Languages: r.site.Config.Page.Languages, State: r.state,
		ForceFallback: sc.ForceFallback, Branded: sc.Branding != nil, Updates: len(sc.Updates) + len(global.Updates),
	}
	if b := sc.Branding; b != nil && len(b.Languages) > 0 {
		sum.Languages = b.Languages
	}
	if m := r.maint; m != nil {
		scope := "site"
		if m != sc.Maintenance {
			scope = "all"
		}
		sum.Maintenance = &MaintenanceView{Maintenance: *m, Active: m.ActiveAt(now), Scope: scope}
		if !c.tok.ops {
			sum.Maintenance.BypassSecret = "" // as siteView: merchants see that there is maintenance, not how to pass it
			sum.Maintenance.Allow = nil
		}
	}
	var served counts
	if st := r.stats; st != nil {
		served = since(st.Served, base(r.site.Name))
		sum.Origins = len(st.Health.Origins)
		for _, o := range st.Health.Origins {
			if o.State == health.Up {
				sum.OriginsUp++
			}
		}
	}
	sum.Answers = map[string]uint64{
		"origin": served[proxy.OutcomeOrigin], "stale": served[proxy.OutcomeStale],
		"outage": served[proxy.OutcomeOutage], "maintenance": served[proxy.OutcomeMaintenance],
	}
	return sum
}
