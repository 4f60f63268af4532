package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestErrorsGolden parses each broken file under testdata/errors and compares
// the whole error report with its .golden file: file, line, column, key path
// and wording are all part of what users rely on.
func TestErrorsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/errors/*.yaml")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, err := Load(f)
			if err == nil {
				t.Fatal("Load succeeded; want errors")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T; want config.Errors", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, _ := os.ReadFile(golden)
			if got != string(want) {
				t.Errorf("errors differ from %s (go test ./config -update to accept)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			for _, e := range errs {
				if e.File != f {
					t.Errorf("error %q names file %q; want %q", e, e.File, f)
				}
			}
		})
	}
}

func TestValidFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sites[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen.http", cfg.Listen.HTTP, ":80"},
		{"listen.https", cfg.Listen.HTTPS, ":443"},
		{"listen.admin", cfg.Listen.Admin, "127.0.0.1:9090"},
		{"listen.reuse_port", cfg.Listen.ReusePortOn(), true},
		{"listen.drain_timeout", cfg.Listen.DrainTimeout.D(), 25 * time.Second},
		{"listen.http3", cfg.Listen.HTTP3, ""},
		{"http2.max_concurrent_streams", cfg.HTTP2.MaxConcurrentStreams, 128},
		{"http2.max_header_list_size", cfg.HTTP2.MaxHeaderListSize, cfg.Limits.RequestHeader},
		{"http2.idle_timeout", cfg.HTTP2.IdleTimeout.D(), 75 * time.Second},
		{"tls.mode", cfg.TLS.Mode, "acme"},
		{"tls.on_demand", cfg.TLS.OnDemandTLS(), true},
		{"tls.agree_terms", cfg.TLS.AgreeTerms, false},
		{"tls.challenges", strings.Join(cfg.TLS.Challenges, ","), "http-01,tls-alpn-01"},
		{"tls.on_demand_limit", cfg.TLS.OnDemandLimit, 10},
		{"tls.on_demand_window", cfg.TLS.OnDemandWindow.D(), time.Minute},
		{"tls.redirect", cfg.TLS.RedirectHTTP(), true},
		{"tls.handshake_timeout", cfg.TLS.HandshakeTimeout.D(), 10 * time.Second},
		{"tls.max_handshakes", cfg.TLS.MaxHandshakes, 256},
		{"hsts", s.HSTS.Header(), ""},
		{"cache.memory", cfg.Cache.Memory, Size(256 << 20)},
		{"cache.retention", cfg.Cache.Retention.D(), 7 * 24 * time.Hour},
		{"cache.ignore_query", len(cfg.Cache.IgnoreQuery), len(DefaultIgnoreQuery)},
		{"limits.request_header", cfg.Limits.RequestHeader, Size(16 << 10)},
		{"limits.answers_memory", cfg.Limits.AnswersMemory, Size(1 << 30)},
		{"log.format", cfg.Log.Format, "json"},
		{"origin.timeout", s.Origin.Timeout.D(), 10 * time.Second},
		{"origin.first_byte_timeout", s.Origin.FirstByteTimeout.D(), 10 * time.Second},
		{"origin.connect_timeout", s.Origin.ConnectTimeout.D(), 2 * time.Second},
		{"origin.fallback_after", s.Origin.FallbackAfter.D(), 3 * time.Second},
		{"origin.health.rise", s.Origin.Health.Rise, 2},
		{"page.brand", s.Page.Brand, "shop"},
		{"page.languages", strings.Join(s.Page.Languages, ","), "en"},
		{"page.timezone", s.Page.TimeZone, "UTC"},
		{"page.retry_after", s.Page.RetryAfter.D(), 30 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
}

func TestHSTSHeader(t *testing.T) {
	tests := []struct {
		h    HSTS
		want string
	}{
		{HSTS{}, ""},
		{HSTS{MaxAge: Duration(180 * 24 * time.Hour)}, "max-age=15552000"},
		{HSTS{MaxAge: Duration(365 * 24 * time.Hour), IncludeSubdomains: true, Preload: true}, "max-age=31536000; includeSubDomains; preload"},
	}
	for _, tt := range tests {
		if got := tt.h.Header(); got != tt.want {
			t.Errorf("%+v.Header() = %q; want %q", tt.h, got, tt.want)
		}
	}
}

func TestShortTimeoutLowersDefaults(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(`
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["http://127.0.0.1:8080"], timeout: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Sites[0].Origin
	if o.FallbackAfter.D() != time.Second || o.SlowAfter.D() != time.Second {
		t.Errorf("fallback_after %s slow_after %s; want both lowered to the 1s timeout", o.FallbackAfter, o.SlowAfter)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"3s", 3 * time.Second, false},
		{"500ms", 500 * time.Millisecond, false},
		{"1h30m", 90 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"0", 0, false},
		{" 2m ", 2 * time.Minute, false},
		{"3", 0, true},
		{"-1s", 0, true},
		{"3x", 0, true},
		{"d", 0, true},
		{"1.5d", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"256MiB", 256 << 20, false},
		{"10MB", 10_000_000, false},
		{"16KiB", 16 << 10, false},
		{"4096", 4096, false},
		{"1 GiB", 1 << 30, false},
		{"-1", 0, true},
		{"2TiB", 0, true},
		{"lots", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"203.0.113.7", "203.0.113.7/32"},
		{"::ffff:10.0.0.1", "10.0.0.1/32"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"bad", ""},
		{"10.0.0.0/33", ""},
	}
	for _, tt := range tests {
		p, err := ParsePrefix(tt.in)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != tt.want {
			t.Errorf("ParsePrefix(%q) = %q (%v); want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestErrorfPositionsMissingKeysAtParent(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte("sites:\n  - name: shop\n    hosts: [a.example]\n    origin: {urls: [\"http://x\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Errorf("sites[0].page.logo", "no such file")
	if e.Line != 2 || e.Error() != "t.yaml:2:5: sites[0].page.logo: no such file" {
		t.Errorf("Errorf = %q (line %d); want it placed at sites[0]", e, e.Line)
	}
	e = cfg.Errorf("sites[0].hosts[0]", "bad")
	if e.Line != 3 || e.Column != 13 {
		t.Errorf("Errorf at %d:%d; want 3:13", e.Line, e.Column)
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/errors"} {
		files, _ := filepath.Glob(dir + "/*.yaml")
		for _, file := range files {
			b, _ := os.ReadFile(file)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v; want exactly one", cfg != nil, err)
		}
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %q is not a non-empty config.Errors", err, err)
			}
			return
		}
		if len(cfg.Sites) == 0 {
			t.Fatal("a valid config has no sites")
		}
	})
}

// TestExampleConfig keeps the annotated example in deploy/ valid.
func TestExampleConfig(t *testing.T) {
	if _, err := Load("../deploy/awning.example.yaml"); err != nil {
		t.Error(err)
	}
}

// TestAnswersMemoryAtLeastOneAnswer: limits.answers_memory below
// limits.response_body would refuse every answer of the largest allowed
// size; the error names the key.
func TestAnswersMemoryAtLeastOneAnswer(t *testing.T) {
	yaml := "limits: {response_body: 8MiB, answers_memory: 4MiB}\nsites:\n  - name: shop\n    hosts: [shop.example]\n    origin: {urls: [\"http://127.0.0.1:8080\"]}\n"
	if _, err := Parse("awning.yaml", []byte(yaml)); err == nil || !strings.Contains(err.Error(), "limits.answers_memory") {
		t.Errorf("Parse = %v; want an error naming limits.answers_memory", err)
	}
	cfg, err := Parse("awning.yaml", []byte(strings.Replace(yaml, "answers_memory: 4MiB", "answers_memory: 8MiB", 1)))
	if err != nil || cfg.Limits.AnswersMemory != 8<<20 {
		t.Errorf("answers_memory equal to response_body: %v, %v; want accepted", err, cfg)
	}
}
