package proxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestCountsRequestsByOutcome: every answer is counted once, under the
// outcome its Awning-Served header names.
func TestCountsRequestsByOutcome(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Respond(200, "<h1>Desem</h1>", "Content-Type: text/html"))
	p := startProxy(t, staleSite(o.URL()))
	steps := []struct {
		name, host, path, method string
		before                   func()
		served                   string
	}{
		{name: "origin", host: "shop.example", path: "/product/1", served: "origin"},
		{name: "origin post", host: "shop.example", path: "/checkout", method: http.MethodPost, served: "origin"},
		{name: "own path", host: "shop.example", path: "/.well-known/awning/health"},
		{name: "stale", host: "shop.example", path: "/product/1", before: o.Refuse, served: "stale"},
		{name: "outage", host: "shop.example", path: "/never-seen", served: "outage"},
		{name: "misdirected", host: "other.example", path: "/", served: "misdirected"},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		method := s.method
		if method == "" {
			method = http.MethodGet
		}
		resp, _ := p.do(t, method, s.host, s.path)
		if got := resp.Header.Get("Awning-Served"); got != s.served {
			t.Fatalf("%s: Awning-Served = %q; want %q", s.name, got, s.served)
		}
	}
	st := p.Stats()
	if len(st.Sites) != 1 {
		t.Fatalf("got %d sites; want 1", len(st.Sites))
	}
	want := [NumOutcomes]uint64{OutcomeOrigin: 2, OutcomeStale: 1, OutcomeOutage: 1, OutcomeOwn: 1}
	if got := st.Sites[0].Served; got != want {
		t.Errorf("got served %v; want %v", got, want)
	}
	if st.Misdirected != 1 {
		t.Errorf("got misdirected %d; want 1", st.Misdirected)
	}
	if st.InFlight != 0 {
		t.Errorf("got %d in flight after every answer; want 0", st.InFlight)
	}
	lat := st.Sites[0].OriginLatency
	if lat.Count != 2 { // the two answers; refused connections have no latency
		t.Errorf("got %d latency observations; want 2", lat.Count)
	}
	if n := len(lat.Counts); n == 0 || lat.Counts[n-1] > lat.Count {
		t.Errorf("buckets %v not cumulative under count %d", lat.Counts, lat.Count)
	}
}

// TestCountersSurviveReload: a reload keeps a site's counters, so a
// Prometheus rate never sees a reset because of a config change.
func TestCountersSurviveReload(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("a"))
	p := startProxy(t, oneSite(o.URL()))
	p.get(t, "shop.example", "/")
	if err := p.Update(options(t, oneSite(o.URL(), "max_conns: 100"))); err != nil {
		t.Fatal(err)
	}
	p.get(t, "shop.example", "/")
	if got := p.Stats().Sites[0].Served[OutcomeOrigin]; got != 2 {
		t.Errorf("got %d origin answers after a reload; want 2", got)
	}
}

func TestLatencyHistogram(t *testing.T) {
	var h latencyHistogram
	for _, d := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 6 * time.Millisecond, 2500 * time.Millisecond, time.Minute, -1} {
		h.observe(d)
	}
	s := h.stats()
	tests := []struct {
		le   float64
		want uint64
	}{{0.005, 3}, {0.01, 4}, {2, 4}, {3, 5}, {30, 5}}
	for _, tt := range tests {
		i := -1
		for j, b := range s.Bounds {
			if b == tt.le {
				i = j
			}
		}
		if i < 0 {
			t.Fatalf("no bucket le=%v in %v", tt.le, s.Bounds)
		}
		if got := s.Counts[i]; got != tt.want {
			t.Errorf("le=%v: got %d; want %d", tt.le, got, tt.want)
		}
	}
	if s.Count != 6 {
		t.Errorf("got count %d; want 6", s.Count)
	}
	if want := (time.Millisecond + 11*time.Millisecond + 2500*time.Millisecond + time.Minute).Seconds(); s.Sum < want-1e-9 || s.Sum > want+1e-9 {
		t.Errorf("got sum %v; want %v", s.Sum, want)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAccessLog: log.access writes one JSON line per request with the path
// but never the query; off, nothing is written per request.
func TestAccessLog(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Respond(200, "hello", "Content-Type: text/plain"))
	for _, on := range []bool{true, false} {
		var logs lockedBuffer
		opt := options(t, oneSite(o.URL())+"log: {access: "+map[bool]string{true: "true", false: "false"}[on]+"}\n")
		opt.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		p := startProxyWith(t, opt)
		p.get(t, "shop.example", "/product/1?gclid=secret-click-id&email=a%40b.example")
		p.get(t, "nobody.example", "/")
		if !on {
			if logs.String() != "" {
				t.Errorf("access log off: got %q; want nothing", logs.String())
			}
			continue
		}
		if strings.Contains(logs.String(), "secret-click-id") || strings.Contains(logs.String(), "b.example") {
			t.Errorf("access log holds the query: %s", logs.String())
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("got %d lines; want 2: %s", len(lines), logs.String())
		}
		var first, second map[string]any
		json.Unmarshal([]byte(lines[0]), &first)
		json.Unmarshal([]byte(lines[1]), &second)
		want := map[string]any{"msg": "request", "site": "shop", "method": "GET", "path": "/product/1", "status": 200.0, "served": "origin", "bytes": 5.0}
		for k, v := range want {
			if first[k] != v {
				t.Errorf("first line %s: got %v; want %v", k, first[k], v)
			}
		}
		if _, ok := first["duration"].(float64); !ok {
			t.Errorf("first line has no duration: %s", lines[0])
		}
		if second["site"] != "" || second["served"] != "misdirected" || second["status"] != 421.0 {
			t.Errorf("misdirected line: %s", lines[1])
		}
	}
}
