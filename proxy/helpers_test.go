package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/sites"
)

// testProxy is a Server listening on loopback for one test.
type testProxy struct {
	*Server
	addr string
}

// parseConfig parses a YAML config for a test, failing it on error.
func parseConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func options(t testing.TB, yaml string) Options {
	t.Helper()
	cfg := parseConfig(t, yaml)
	reg, err := sites.New(cfg)
	if err != nil {
		t.Fatalf("sites: %v", err)
	}
	return Options{Config: cfg, Sites: reg, Logger: discardLogger()}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startProxy builds a Server from yaml and serves it on 127.0.0.1.
func startProxy(t testing.TB, yaml string) *testProxy {
	t.Helper()
	return startProxyWith(t, options(t, yaml))
}

// startProxyWith builds a Server from opt and serves it on 127.0.0.1.
func startProxyWith(t testing.TB, opt Options) *testProxy {
	t.Helper()
	s, err := New(opt)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	return serveProxy(t, s)
}

// serveProxy serves s on 127.0.0.1 until the test ends.
func serveProxy(t testing.TB, s *Server) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		// A test that sent nothing may end before Serve began: Shutdown
		// then finds no listener to stop, and Serve would accept for good.
		ln.Close()
		<-done
		s.Close()
	})
	return &testProxy{Server: s, addr: ln.Addr().String()}
}

// oneSite is a config with one site "shop" on shop.example in front of
// origin, plus extra YAML lines indented under the site's origin.
func oneSite(origin string, originExtra ...string) string {
	return `
tls: {mode: off}
trusted_proxies: [10.9.9.9]
sites:
  - name: shop
    hosts: [shop.example, www.shop.example]
    api_paths: [/api/]
    page: {languages: [nl, en]}
    origin:
      urls: [` + origin + `]
      timeout: 2s
      connect_timeout: 500ms
` + indent(originExtra, "      ")
}

func indent(lines []string, pre string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(pre + l + "\n")
	}
	return b.String()
}

var client = &http.Client{
	Timeout: 10 * time.Second,
	Transport: &http.Transport{
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get sends a request with the given Host through the proxy.
func (p *testProxy) do(t testing.TB, method, host, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

func (p *testProxy) get(t testing.TB, host, path string, header ...string) (*http.Response, string) {
	t.Helper()
	return p.do(t, http.MethodGet, host, path, header...)
}
