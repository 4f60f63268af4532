package metrics

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// Options are what a node's metrics read. Every func is called at scrape
// time, from the scraping goroutine, and must be safe for that.
type Options struct {
	// Proxy is the node's shopper-facing server: request counters, health,
	// maintenance, warming, and the cache. Required.
	Proxy *proxy.Server
	// Redis is the node's one Redis client, or nil: New adds a hook to it
	// that times every command.
	Redis redis.UniversalClient
	// State returns the shared state store's counters. Optional.
	State func() state.StoreStats
	// Webhook returns the counters of the notify.webhook in force; ok is
	// false when there is none. Optional.
	Webhook func() (sent, failed, dropped uint64, ok bool)
	// Node returns what the node counts of itself (reloads). Optional.
	Node func() NodeStats
	// TLS returns the HTTPS counters and certificates. Optional: nil (a
	// node with tls.mode off) leaves the TLS metrics out.
	TLS func() TLSStats
	// Version is the running version, for awning_build_info.
	Version string
	// Log receives scrape errors. Default slog.Default().
	Log *slog.Logger
	// Now is the clock of the fallback window. Default time.Now.
	Now func() time.Time
}

// Metrics is one node's metrics: a Prometheus registry of its own and the
// loop that samples the fallback window. It is safe for concurrent use.
// Start runs the loop; Close stops it.
type Metrics struct {
	opt    Options
	reg    *prometheus.Registry
	col    *collector
	window *fallbackWindow

	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	panics atomic.Uint64 // samples that panicked
}

// New builds the metrics of a node.
func New(opt Options) (*Metrics, error) {
	if opt.Proxy == nil {
		return nil, errors.New("metrics: Options.Proxy is required")
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Version == "" {
		opt.Version = "(devel)"
	}
	m := &Metrics{opt: opt, reg: prometheus.NewRegistry(), window: &fallbackWindow{}, stop: make(chan struct{})}
	d, all := newDescs()
	m.col = &collector{opt: &m.opt, window: m.window, d: d, all: all}
	cs := []prometheus.Collector{
		m.col,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if opt.Redis != nil {
		h := newRedisHook()
		opt.Redis.AddHook(h)
		cs = append(cs, h.duration, h.errors)
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Handler serves the metrics in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it). A collector that fails does
// not blank the page: what could be collected is served, and the error
// logged.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(m.opt.Log.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// Gatherer returns the registry, for tests.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Start takes the first sample of the fallback window (so that, for the
// first minute, the share counts from the start) and runs the loop that
// takes one every few seconds.
func (m *Metrics) Start() {
	m.sampleSafely()
	m.wg.Add(1)
	go m.loop()
}

// Close stops the sampling loop and waits for it.
func (m *Metrics) Close() {
	m.once.Do(func() { close(m.stop) })
	m.wg.Wait()
}

func (m *Metrics) loop() {
	defer m.wg.Done()
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sampleSafely()
		}
	}
}

// sampleSafely samples once; a panic is logged and costs that sample
// only, so the fallback window keeps moving.
func (m *Metrics) sampleSafely() {
	defer func() {
		if v := recover(); v != nil {
			m.panics.Add(1)
			m.opt.Log.Error("metrics sampling panicked; the next sample is taken as usual", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	m.sample()
}

func (m *Metrics) sample() {
	m.window.add(m.opt.Now(), m.opt.Proxy)
}

func goVersion() string { return runtime.Version() }
