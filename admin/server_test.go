package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
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

// TestReadyzChecks: a failed required check makes the node unready; a
// failed optional one is reported and the node stays ready.
func TestReadyzChecks(t *testing.T) {
	var checks map[string]Check
	s := New(Options{
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Checks: func(context.Context) map[string]Check { return checks },
	})
	s.SetReady(true)
	tests := []struct {
		name   string
		checks map[string]Check
		want   int
	}{
		{"all well", map[string]Check{"listeners": {OK: true, Required: true}, "redis": {OK: true}}, 200},
		{"redis down", map[string]Check{"listeners": {OK: true, Required: true}, "redis": {Error: "connection refused"}}, 200},
		{"listeners closed", map[string]Check{"listeners": {Required: true, Error: "draining"}, "redis": {OK: true}}, 503},
	}
	for _, tt := range tests {
		checks = tt.checks
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var got struct {
			Ready  bool
			Checks map[string]Check
		}
		json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != tt.want || got.Ready != (tt.want == 200) || !reflect.DeepEqual(got.Checks, tt.checks) {
			t.Errorf("%s: %d %s; want %d with every check", tt.name, rec.Code, rec.Body.String(), tt.want)
		}
	}
}
