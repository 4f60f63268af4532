package admin

import (
	"context"
	"net/http"
	"time"
)

// Check is the state of one dependency of the node, as GET /readyz reports
// it: the configuration, the listeners, the state directory, Redis, the
// certificates.
type Check struct {
	// OK says the dependency works.
	OK bool `json:"ok"`
	// Required checks decide readiness: one that fails makes /readyz answer
	// 503, so load balancers stop sending shoppers. The others are reported
	// only, because the node serves shoppers without them (Redis down: from
	// its memory and last view of the flags, DESIGN.md); monitoring alerts
	// on them.
	Required bool `json:"required"`
	// Detail says what was checked ("127.0.0.1:80 and [::1]:80").
	Detail string `json:"detail,omitempty"`
	// Error says what is wrong and, where it can, what fixes it.
	Error string `json:"error,omitempty"`
}

// checkTimeout bounds the checks of one /readyz call: a probe that hangs
// (Redis stopped) must not hang the load balancer's probe.
const checkTimeout = 2 * time.Second

// readyz answers GET /readyz: 200 when the node is ready (SetReady, and
// every required check passes), else 503; the body says each check.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ready := s.ready.Load()
	out := struct {
		Ready  bool             `json:"ready"`
		Checks map[string]Check `json:"checks,omitempty"`
	}{}
	if s.checks != nil {
		ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
		defer cancel()
		out.Checks = s.checks(ctx)
		for _, c := range out.Checks {
			if c.Required && !c.OK {
				ready = false
			}
		}
	}
	out.Ready = ready
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, out)
}
