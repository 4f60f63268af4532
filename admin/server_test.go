package admin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProbes: /healthz answers as soon as the process runs; /readyz only
// once the node says it is ready, and again not once it drains; /metrics
// is served when given.
func TestProbes(t *testing.T) {
	s := New(Options{
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "m 1\n") }),
	})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, strings.Join(strings.Fields(rec.Body.String()), "") // however it is indented
	}
	steps := []struct {
		ready      *bool
		path       string
		wantStatus int
		wantBody   string
	}{
		{path: "/healthz", wantStatus: 200, wantBody: `{"alive":true}`},
		{path: "/readyz", wantStatus: 503, wantBody: `{"ready":false}`},
		{ready: ptr(true), path: "/readyz", wantStatus: 200, wantBody: `{"ready":true}`},
		{path: "/metrics", wantStatus: 200, wantBody: "m1"},
		{ready: ptr(false), path: "/readyz", wantStatus: 503, wantBody: `{"ready":false}`},
		{path: "/healthz", wantStatus: 200, wantBody: `{"alive":true}`},
		{path: "/nope", wantStatus: 404},
	}
	for _, st := range steps {
		if st.ready != nil {
			s.SetReady(*st.ready)
		}
		code, body := get(st.path)
		if code != st.wantStatus || (st.wantBody != "" && body != st.wantBody) {
			t.Errorf("GET %s: got %d %q; want %d %q", st.path, code, body, st.wantStatus, st.wantBody)
		}
	}
}

func ptr[T any](v T) *T { return &v }
