package pages_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserReturnsOverHTTP2: the outage page, served over HTTP/2 by a
// node in self-signed mode, polls health over HTTP/2 and brings the shopper
// back to the page they asked for once the origin heals.
func TestBrowserReturnsOverHTTP2(t *testing.T) {
	exe := chromium(t)
	dir := t.TempDir()
	origin := testkit.NewOrigin(t, shop())
	origin.Refuse()
	cfg := strings.Replace(browserConfig(origin.URL()),
		`listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0"}
tls: {mode: "off"}`,
		`listen: {http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0"}
state: {dir: "`+dir+`"}
tls: {mode: self-signed, redirect: false}`, 1)
	cfg = strings.Replace(cfg, "      logo: logo.png\n", "", 1)
	cfgPath := filepath.Join(dir, "awning.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n, logs := runNode(t, cfgPath)
	testkit.WaitFor(t, 10*time.Second, "Awning to see the origin down", func() bool { return healthSays(n.Addrs().HTTP[0], false) })
	_, port, _ := net.SplitHostPort(n.Addrs().HTTPS[0])

	// The local CA is not in Chromium's store; the test is about the
	// protocol, so certificate errors are waved through.
	b := newBrowserWith(t, exe, []chromedp.ExecAllocatorOption{chromedp.Flag("ignore-certificate-errors", true)}, "shop.localhost")
	var protos []string
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok {
			b.mu.Lock()
			protos = append(protos, r.Response.Protocol+" "+r.Response.URL)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	want := "https://shop.localhost:" + port + "/product/42?colour=red"
	resp := b.open(t, want, "nl")
	if resp.Status != 503 || resp.Protocol != "h2" {
		t.Fatalf("%s: status %d over %q; want the outage page's 503 over h2", want, resp.Status, resp.Protocol)
	}
	opened := time.Now()
	testkit.WaitFor(t, 15*time.Second, "the page to poll health", func() bool {
		return b.count(func(r request) bool {
			return strings.HasSuffix(r.url, "/.well-known/awning/health") && r.at.After(opened)
		}) >= 1
	})
	origin.Heal(shop())
	testkit.WaitFor(t, 45*time.Second, "the page to bring the shopper back by itself", func() bool {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + " " + document.title`))
		return err == nil && got == want+" Product 42 · Bakkerij de Vries"
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range protos {
		if !strings.HasPrefix(p, "h2 ") {
			t.Errorf("a response came over something else than HTTP/2: %s", p)
		}
	}
	if len(protos) < 3 {
		t.Errorf("responses seen: %q; want the page, a health poll and the shop's page", protos)
	}
	if t.Failed() {
		t.Logf("node log:\n%s", logs)
	}
}
