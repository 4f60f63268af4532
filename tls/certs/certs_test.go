package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/sites"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap/zapcore"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func parse(t *testing.T, yaml string) (*config.Config, *sites.Registry) {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := sites.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, reg
}

func acmeYAML(dir string) string {
	return `listen: {http: "127.0.0.1:1", https: "127.0.0.1:2"}
state: {dir: "` + dir + `"}
tls: {mode: acme, agree_terms: true, ca: "https://127.0.0.1:3/dir", on_demand_limit: 2, on_demand_window: 1m}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["http://127.0.0.1:4"]}
`
}

func TestLimiter(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(2, time.Minute, start)
	tests := []struct {
		at       time.Duration
		want     bool
		waitMost time.Duration
	}{
		{0, true, 0},
		{0, true, 0},
		{0, false, 30 * time.Second}, // burst spent: one token per 30s
		{10 * time.Second, false, 20 * time.Second},
		{30 * time.Second, true, 0},
		{30 * time.Second, false, 30 * time.Second},
		{10 * time.Minute, true, 0}, // refilled, but never above the burst
		{10 * time.Minute, true, 0},
		{10 * time.Minute, false, 30 * time.Second},
	}
	for i, tt := range tests {
		got, wait := l.take(start.Add(tt.at))
		if got != tt.want || (!got && (wait <= 0 || wait > tt.waitMost)) {
			t.Errorf("take %d at +%s = %v, wait %s; want %v, wait at most %s", i, tt.at, got, wait, tt.want, tt.waitMost)
		}
	}
}

func TestBackoffDoublesAndIsBounded(t *testing.T) {
	cfg, reg := parse(t, acmeYAML(t.TempDir()))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m, err := New(Options{Config: cfg, Sites: reg, Logger: quiet(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute, 160 * time.Minute, 320 * time.Minute, 6 * time.Hour, 6 * time.Hour}
	for i, w := range want {
		if got := m.recordFailure("shop.example", errors.New("boom")); got != w {
			t.Errorf("failure %d: backoff %s; want %s", i+1, got, w)
		}
	}
	if _, err := m.decide("shop.example"); !errors.Is(err, errBackoff) {
		t.Errorf("decide during backoff = %v; want errBackoff", err)
	}
	now = now.Add(6 * time.Hour)
	if _, err := m.decide("shop.example"); err != nil {
		t.Errorf("decide after the backoff = %v; want nil", err)
	}
	m.recordFailure("stranger.example", errors.New("boom"))
	if len(m.failures) != 1 {
		t.Errorf("negative cache holds %d names; want only registry names", len(m.failures))
	}
}

func TestDecide(t *testing.T) {
	cfg, reg := parse(t, acmeYAML(t.TempDir()))
	m, err := New(Options{Config: cfg, Sites: reg, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want error
	}{
		{"shop.example", nil},
		{"evil.example", errUnknownName},
		{"shop.example.evil", errUnknownName},
		{"", errUnknownName},
	}
	for _, tt := range tests {
		if _, err := m.decide(tt.name); !errors.Is(err, tt.want) {
			t.Errorf("decide(%q) = %v; want %v", tt.name, err, tt.want)
		}
	}
	off := *cfg
	f := false
	off.TLS.OnDemand = &f
	m2, _ := New(Options{Config: &off, Sites: reg, Logger: quiet()})
	if _, err := m2.decide("shop.example"); !errors.Is(err, errNoOnDemand) {
		t.Errorf("decide without on-demand, name not kept = %v; want errNoOnDemand", err)
	}
}

// spyStorage counts every call certmagic makes to storage.
type spyStorage struct {
	certmagic.FileStorage
	calls atomic.Int64
}

func (s *spyStorage) Load(ctx context.Context, k string) ([]byte, error) {
	s.calls.Add(1)
	return s.FileStorage.Load(ctx, k)
}
func (s *spyStorage) Exists(ctx context.Context, k string) bool {
	s.calls.Add(1)
	return s.FileStorage.Exists(ctx, k)
}
func (s *spyStorage) Stat(ctx context.Context, k string) (certmagic.KeyInfo, error) {
	s.calls.Add(1)
	return s.FileStorage.Stat(ctx, k)
}
func (s *spyStorage) List(ctx context.Context, p string, r bool) ([]string, error) {
	s.calls.Add(1)
	return s.FileStorage.List(ctx, p, r)
}
func (s *spyStorage) Lock(ctx context.Context, n string) error {
	s.calls.Add(1)
	return s.FileStorage.Lock(ctx, n)
}

type fakeConn struct{ net.Conn }

func (fakeConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443} }
func (fakeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555} }

// TestUnknownNameTouchesNothing shakes hands for names no site claims, in
// acme mode with on-demand on: no storage call at all, so no ACME traffic.
func TestUnknownNameTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg, reg := parse(t, acmeYAML(dir))
	spy := &spyStorage{FileStorage: certmagic.FileStorage{Path: dir}}
	m, err := New(Options{Config: cfg, Sites: reg, Storage: spy, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	m.names = map[string]bool{} // no up-front work: only handshakes count
	m.mu.Lock()
	m.started = true
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.Unlock()
	m.acme.Store(m.newACME())
	defer m.Close()
	before := spy.calls.Load()
	for _, name := range []string{"evil.example", "random-1234.example", "xn--zz.example", "shop.example.evil", ""} {
		_, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: name, Conn: fakeConn{}})
		if !errors.Is(err, errUnknownName) {
			t.Errorf("GetCertificate(%q) = %v; want errUnknownName", name, err)
		}
	}
	if got := spy.calls.Load() - before; got != 0 {
		t.Errorf("%d storage calls for unknown names; want none", got)
	}
	if got := m.Stats().Refused; got != 5 {
		t.Errorf("refused = %d; want 5", got)
	}
}

func TestSelfSignedLeavesBoundedByRegistry(t *testing.T) {
	dir := t.TempDir()
	cfg, reg := parse(t, `state: {dir: "`+dir+`"}
tls: {mode: self-signed}
sites:
  - name: shop
    hosts: [shop.example, "::1"]
    origin: {urls: ["http://127.0.0.1:4"]}
`)
	m, err := New(Options{Config: cfg, Sites: reg, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var wg sync.WaitGroup
	for range 8 { // concurrent first handshakes share one leaf
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "shop.example", Conn: fakeConn{}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := m.Stats().Obtained; got != 2 {
		t.Errorf("obtained = %d; want 2 (one leaf per host)", got)
	}
	if _, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "other.example", Conn: fakeConn{}}); !errors.Is(err, errUnknownName) {
		t.Errorf("unknown name: %v", err)
	}
	_, reg2 := parse(t, `state: {dir: "`+dir+`"}
tls: {mode: self-signed}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["http://127.0.0.1:4"]}
`)
	m.Update(reg2)
	if got := len(m.Certificates()); got != 1 {
		t.Errorf("certificates after a reload dropped ::1: %d; want 1", got)
	}
}

func TestCertmagicLogLevels(t *testing.T) {
	tests := []struct {
		level zapcore.Level
		msg   string
		want  slog.Level
	}{
		{zapcore.InfoLevel, "acquiring lock", slog.LevelDebug},
		{zapcore.WarnLevel, "stapling OCSP", slog.LevelWarn},
		{zapcore.ErrorLevel, "renewing managed certificates", slog.LevelError},
		{zapcore.ErrorLevel, "could not get certificate from issuer", slog.LevelDebug}, // onEvent logs it once
	}
	for _, tt := range tests {
		if got := level(tt.level, tt.msg); got != tt.want {
			t.Errorf("level(%v, %q) = %v; want %v", tt.level, tt.msg, got, tt.want)
		}
	}
}
