package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
	dto "github.com/prometheus/client_model/go"
)

func newProxy(t *testing.T, origin string) *proxy.Server {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(`tls: {mode: "off"}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["`+origin+`"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := sites.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proxy.New(proxy.Options{Config: cfg, Sites: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func stats(served map[proxy.Outcome]uint64) *proxy.Stats {
	s := proxy.SiteStats{Name: "shop"}
	for o, n := range served {
		s.Served[o] = n
	}
	return &proxy.Stats{Sites: []proxy.SiteStats{s}}
}

// statsCounter samples a Stats as the window samples a proxy.Server.
type statsCounter struct{ *proxy.Stats }

func (s statsCounter) SiteCounts(fn func(string, *[proxy.NumOutcomes]uint64)) {
	for i := range s.Sites {
		fn(s.Sites[i].Name, &s.Sites[i].Served)
	}
}

// TestFallbackWindowSitesChange: samples taken while sites come and go
// (a reload, the admin API) keep each site's counts under its name.
func TestFallbackWindowSitesChange(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	site := func(name string, origin, stale uint64) proxy.SiteStats {
		s := proxy.SiteStats{Name: name}
		s.Served[proxy.OutcomeOrigin], s.Served[proxy.OutcomeStale] = origin, stale
		return s
	}
	w := &fallbackWindow{}
	w.add(t0, statsCounter{&proxy.Stats{Sites: []proxy.SiteStats{site("a", 10, 0), site("b", 20, 0), site("c", 30, 0)}}})
	w.add(t0.Add(5*time.Second), statsCounter{&proxy.Stats{Sites: []proxy.SiteStats{site("a", 11, 0), site("c", 31, 0)}}})
	w.add(t0.Add(10*time.Second), statsCounter{&proxy.Stats{Sites: []proxy.SiteStats{site("a", 12, 0), site("c", 32, 0), site("d", 1, 0)}}})
	if len(w.samples) != 3 || w.samples[1].sites == w.samples[0].sites || w.samples[2].sites == w.samples[1].sites {
		t.Fatal("a change of sites must give the sample its own index")
	}
	w.add(t0.Add(15*time.Second), statsCounter{&proxy.Stats{Sites: []proxy.SiteStats{site("a", 13, 0), site("c", 33, 0), site("d", 2, 0)}}})
	if w.samples[3].sites != w.samples[2].sites {
		t.Error("the same sites must share the index")
	}
	for _, tt := range []struct {
		now  proxy.SiteStats
		want float64
	}{
		{site("a", 12, 8), 8.0 / 10}, // 2 from the origin and 8 stale since the oldest sample
		{site("c", 30, 10), 10.0 / 10},
		{site("d", 0, 4), 1}, // unknown to the oldest sample: counted from zero
	} {
		if got := w.ratio(&tt.now); got != tt.want {
			t.Errorf("%s: %v; want %v", tt.now.Name, got, tt.want)
		}
	}
}

func TestFallbackWindow(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	type at struct {
		after  time.Duration
		served map[proxy.Outcome]uint64
	}
	tests := []struct {
		name    string
		samples []at
		now     map[proxy.Outcome]uint64
		want    float64
	}{
		{name: "no sample counts from zero", now: map[proxy.Outcome]uint64{proxy.OutcomeOrigin: 3, proxy.OutcomeStale: 1}, want: 0.25},
		{name: "no answers", now: map[proxy.Outcome]uint64{proxy.OutcomeOwn: 9}, want: 0},
		{
			name: "since the oldest sample in the window",
			samples: []at{
				{0, map[proxy.Outcome]uint64{proxy.OutcomeOrigin: 100}},
				{30 * time.Second, map[proxy.Outcome]uint64{proxy.OutcomeOrigin: 110}},
				{70 * time.Second, map[proxy.Outcome]uint64{proxy.OutcomeOrigin: 120}}, // forgets the first
			},
			now:  map[proxy.Outcome]uint64{proxy.OutcomeOrigin: 120, proxy.OutcomeStale: 20, proxy.OutcomeOutage: 10},
			want: 30.0 / 40,
		},
		{
			name:    "maintenance and own paths are not answers the origin could give",
			samples: []at{{0, nil}},
			now:     map[proxy.Outcome]uint64{proxy.OutcomeOrigin: 1, proxy.OutcomeOutage: 1, proxy.OutcomeMaintenance: 50, proxy.OutcomeOwn: 50},
			want:    0.5,
		},
		{
			name:    "counters that went back count from zero",
			samples: []at{{0, map[proxy.Outcome]uint64{proxy.OutcomeOrigin: 100}}},
			now:     map[proxy.Outcome]uint64{proxy.OutcomeStale: 1},
			want:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &fallbackWindow{}
			for _, s := range tt.samples {
				w.add(t0.Add(s.after), statsCounter{stats(s.served)})
			}
			if got := w.ratio(&stats(tt.now).Sites[0]); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

// TestRegistryPerNode: two nodes' metrics live side by side in one
// process, each with its own registry.
func TestRegistryPerNode(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("a"))
	for i := 0; i < 2; i++ {
		m, err := New(Options{Proxy: newProxy(t, o.URL())})
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if _, err := m.Gatherer().Gather(); err != nil {
			t.Errorf("node %d gather: %v", i, err)
		}
	}
}

// TestRedisHook: every command of the node's client is timed, and failures
// other than a missing key are counted.
func TestRedisHook(t *testing.T) {
	r := testkit.StartRedis(t)
	client, err := state.OpenRedis(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	o := testkit.NewOrigin(t, testkit.OK("a"))
	m, err := New(Options{Proxy: newProxy(t, o.URL()), Redis: client})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client.Set(ctx, "k", "v", time.Minute)
	client.Get(ctx, "missing") // redis.Nil: not an error
	pipe := client.Pipeline()
	pipe.Get(ctx, "k")
	pipe.Exec(ctx)
	errs := func() float64 {
		return family(t, m, "awning_redis_command_errors_total").Metric[0].GetCounter().GetValue()
	}
	// Connection set-up (HELLO) is a command too, so at least three.
	if got := histogramCount(t, m, "awning_redis_command_duration_seconds"); got < 3 {
		t.Errorf("got %d timed commands; want at least 3 (set, get, pipeline)", got)
	}
	if got := errs(); got != 0 {
		t.Errorf("got %v errors before redis stopped; want 0 (a missing key is no error)", got)
	}
	r.Stop()
	client.Get(ctx, "k")
	if got := errs(); got < 1 {
		t.Errorf("got %v errors after redis stopped; want at least 1", got)
	}
}

func histogramCount(t *testing.T, m *Metrics, name string) uint64 {
	t.Helper()
	mf := family(t, m, name)
	if mf == nil || len(mf.Metric) != 1 {
		t.Fatalf("no single %s", name)
	}
	return mf.Metric[0].GetHistogram().GetSampleCount()
}

func family(t *testing.T, m *Metrics, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// TestHandlerServesText: the handler serves the text format a Prometheus
// scrape asks for.
func TestHandlerServesText(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("a"))
	m, err := New(Options{Proxy: newProxy(t, o.URL()), Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("got %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !strings.Contains(rec.Body.String(), `awning_build_info{go_version="go`) || !strings.Contains(rec.Body.String(), `version="v1.2.3"} 1`) {
		t.Errorf("no build info in:\n%.2000s", rec.Body.String())
	}
}

// TestSamplingSurvivesPanics: a sample that panics is logged and counted,
// and the next one is taken as usual.
func TestSamplingSurvivesPanics(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("a"))
	var calls atomic.Int64
	logs := &testkit.Buffer{}
	m, err := New(Options{Proxy: newProxy(t, o.URL()), Log: slog.New(slog.NewTextHandler(logs, nil)), Now: func() time.Time {
		if calls.Add(1) == 1 {
			panic("injected")
		}
		return time.Now()
	}})
	if err != nil {
		t.Fatal(err)
	}
	m.Start() // the first sample panics
	defer m.Close()
	m.sampleSafely()
	if got := m.panics.Load(); got != 1 || calls.Load() < 2 {
		t.Errorf("%d panics counted after %d samples; want 1 after 2", got, calls.Load())
	}
	if !strings.Contains(logs.String(), "injected") {
		t.Errorf("the panic was not logged:\n%s", logs.String())
	}
}
