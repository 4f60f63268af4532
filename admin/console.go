package admin

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/supervisor"
	"github.com/awningproxy/awning/state"
)

// uiState is what the API keeps for the web console beyond the admin
// API's own routes: sessions, the fleet, the recent answers window and
// the recent origin events per site.
type uiState struct {
	console   http.Handler
	sessions  *state.Sessions
	ttl       time.Duration
	fleet     *state.Fleet
	recent    *recentAnswers
	incidents *incidents

	sampler supervisor.Loop // restarts the answers' sampling after a panic
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// consoleRoutes registers the console's files and the routes the console
// needs beyond the admin API's original ones. They are ordinary API routes:
// bearer tokens may call them as well.
func (s *Server) consoleRoutes(opt Options) {
	s.ui.console = opt.Console
	s.ui.sessions = opt.Sessions
	if s.ui.sessions == nil {
		s.ui.sessions = state.NewSessions(state.SessionsConfig{Log: s.log, Now: s.now})
	}
	s.ui.ttl = opt.SessionTTL
	if s.ui.ttl <= 0 {
		s.ui.ttl = DefaultSessionTTL
	}
	s.ui.fleet = opt.Fleet
	s.ui.recent = &recentAnswers{}
	s.ui.incidents = &incidents{bySite: map[string][]Incident{}}
	s.ui.stop = make(chan struct{})

	s.sessionRoutes()
	s.handle("GET /v1/overview", siteReader, s.overview)
	s.handle("GET /v1/sites/{site}/incidents", siteReader, s.siteIncidents)
	s.handle("PUT /v1/sites/{site}/page/draft", siteDraft, s.putDraft)
	s.handle("GET /v1/sites/{site}/page/config", siteReader, s.pageConfig)
	s.handle("GET /v1/nodes", opsOnly, s.nodes)

	if s.ui.console != nil {
		s.mux.Handle("GET /ui/", s.ui.console)
		s.mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
		s.mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	}
}

// ConsoleHandler serves what a listener of the console's own
// (listen.console) offers: the console, its sign-in and the API it calls,
// without the node's probes and metrics.
func (s *Server) ConsoleHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/healthz", p == "/readyz", p == "/metrics":
			http.NotFound(w, r)
		default:
			s.ServeHTTP(w, r)
		}
	})
}

// Start runs the loop that samples answers for the console's "last
// minutes" counts. Close stops it.
func (s *Server) Start() {
	if s.ui.recent == nil {
		return
	}
	s.sample()
	s.ui.sampler = supervisor.Loop{Name: "console answers sampling", Log: s.log}
	ctx, cancel := context.WithCancel(context.Background())
	s.ui.wg.Add(2)
	go func() {
		defer s.ui.wg.Done()
		s.ui.sampler.Run(ctx, s.sampleEvery)
	}()
	go func() {
		defer s.ui.wg.Done()
		<-s.ui.stop
		cancel()
	}()
}

// Close stops what Start started and waits for it.
func (s *Server) Close() {
	if s.ui.stop == nil {
		return
	}
	s.ui.once.Do(func() { close(s.ui.stop) })
	s.ui.wg.Wait()
}

// sampleEvery samples the answers every recentEvery until ctx ends.
func (s *Server) sampleEvery(ctx context.Context) {
	t := time.NewTicker(recentEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *Server) sample() {
	st := s.proxy.Stats()
	s.ui.recent.add(s.now(), &st)
}

// Incident is one change of an origin's state, as the console shows it
// among a site's recent incidents.
type Incident struct {
	Time     time.Time `json:"time"`
	Origin   string    `json:"origin"`
	State    string    `json:"state"`
	Previous string    `json:"previous"`
	Reason   string    `json:"reason,omitempty"`
	// SiteOpen is false when every origin of the site was down: shoppers
	// got copies or the outage page.
	SiteOpen bool `json:"site_open"`
	// registered is the site's registration through the admin API when
	// this happened (zero for a site of the file): a site deleted and
	// registered again, perhaps for another merchant, starts with none.
	registered time.Time
}

// incidents keeps the last origin state changes of each site on this node
// (each node probes for itself, so each has the same story). Safe for
// concurrent use.
type incidents struct {
	mu     sync.Mutex
	bySite map[string][]Incident // newest last
}

const maxIncidents = 20

// Notify records an origin state change: Server is a health.Notifier, so
// the node hands it every event the webhook gets.
func (s *Server) Notify(ev health.Event) {
	if s.ui.incidents == nil {
		return
	}
	reg, _ := s.registeredAt(ev.Site)
	in := s.ui.incidents
	in.mu.Lock()
	defer in.mu.Unlock()
	l := append(in.bySite[ev.Site], Incident{Time: ev.Time.UTC(), Origin: ev.Origin, State: ev.State, Previous: ev.Previous, Reason: ev.Reason, SiteOpen: ev.SiteOpen, registered: reg})
	if len(l) > maxIncidents {
		l = l[len(l)-maxIncidents:]
	}
	in.bySite[ev.Site] = l
}

// of returns the incidents of site's registration reg (zero for a site of
// the file), newest first.
func (in *incidents) of(site string, reg time.Time) []Incident {
	in.mu.Lock()
	defer in.mu.Unlock()
	l := in.bySite[site]
	out := make([]Incident, 0, len(l))
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].registered.Equal(reg) {
			out = append(out, l[i])
		}
	}
	return out
}

// siteIncidents answers GET /v1/sites/{site}/incidents: the site's recent
// origin state changes seen by this node, newest first.
func (s *Server) siteIncidents(c *call) error {
	reg, _ := s.registeredAt(c.site.Name)
	writeJSON(c.w, http.StatusOK, s.ui.incidents.of(c.site.Name, reg))
	return nil
}

// nodes answers GET /v1/nodes: the fleet as the shared state knows it.
func (s *Server) nodes(c *call) error {
	if s.ui.fleet == nil {
		writeJSON(c.w, http.StatusOK, map[string]any{"nodes": []state.NodeInfo{}, "shared": s.store.Shared()})
		return nil
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), 2*time.Second)
	defer cancel()
	list, err := s.ui.fleet.Nodes(ctx)
	out := map[string]any{"nodes": list, "shared": s.store.Shared()}
	if err != nil {
		out["error"] = "the shared state could not be read; only this node is listed: " + err.Error()
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}
