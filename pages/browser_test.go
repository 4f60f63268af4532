package pages_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/node"
	"github.com/awningproxy/awning/pages"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestBrowser loads the outage page in a real, headless Chromium from a
// running Awning node in front of an origin that is down, and checks what
// a shopper's browser does with it: only Awning's own host is contacted,
// nothing is logged as an error (CSP violations included), and once the
// origin heals the page takes the shopper back to the URL they asked for
// by itself. It saves screenshots of both pages in both languages on a
// desktop and a phone to $AWNING_ARTIFACTS_DIR (default
// .artifacts/screenshots); with -update it also refreshes docs/screenshots.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	shots := artifactsDir(t)
	dir := t.TempDir()
	logo, err := os.ReadFile("testdata/logo.png")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logo.png"), logo, 0o644); err != nil {
		t.Fatal(err)
	}

	origin := testkit.NewOrigin(t, shop())
	origin.Refuse()
	cfgPath := filepath.Join(dir, "awning.yaml")
	cfg := browserConfig(origin.URL()) + "state: {dir: \"" + filepath.Join(dir, "state") + "\"}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n, logs := runNode(t, cfgPath)
	_, port, _ := net.SplitHostPort(n.Addrs().HTTP[0])
	host := "shop.localhost:" + port
	testkit.WaitFor(t, 10*time.Second, "Awning to see the origin down", func() bool { return healthSays(n.Addrs().HTTP[0], false) })

	maint := maintenanceServer(t, cfgPath)
	b := newBrowser(t, exe, "shop.localhost", "maint.localhost")

	// Screenshots of both pages, both languages, desktop and phone.
	for _, shot := range []struct{ mode, base string }{
		{"outage", "http://" + host + "/product/42"},
		{"maintenance", "http://maint.localhost:" + maint.port + "/product/42"},
	} {
		for _, lang := range []string{"nl", "en"} {
			for _, vp := range []struct {
				name string
				w, h int64
				opt  []chromedp.EmulateViewportOption
			}{
				{"desktop", 1280, 800, nil},
				{"mobile", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile}},
			} {
				name := fmt.Sprintf("%s-%s-%s.png", shot.mode, lang, vp.name)
				b.do(t, "emulate "+name, chromedp.EmulateViewport(vp.w, vp.h, vp.opt...))
				resp := b.open(t, shot.base, lang)
				if resp.Status != http.StatusServiceUnavailable {
					t.Errorf("%s: status %d; want 503", name, resp.Status)
				}
				if got := b.eval(t, `document.documentElement.lang`); got != lang {
					t.Errorf("%s: <html lang=%q>; want %q", name, got, lang)
				}
				if got := b.eval(t, `String(document.querySelector("header img").naturalWidth)`); got != "512" {
					t.Errorf("%s: the logo did not load (naturalWidth %s)", name, got)
				}
				png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				saveShot(t, shots, name, png)
			}
		}
	}

	// Auto-return: the shopper asked for this URL and got the outage page.
	want := "http://" + host + "/product/42?colour=red&size=large"
	b.do(t, "emulate desktop", chromedp.EmulateViewport(1280, 800))
	if resp := b.open(t, want, "nl"); resp.Status != 503 {
		t.Fatalf("%s: status %d; want the outage page's 503", want, resp.Status)
	}
	opened := time.Now()
	// While the origin is down the page polls health and stays put: no
	// reload that would bring the shopper back to the same outage page.
	testkit.WaitFor(t, 15*time.Second, "the page to poll /.well-known/awning/health", func() bool {
		return b.count(func(r request) bool {
			return strings.HasSuffix(r.url, "/.well-known/awning/health") && r.at.After(opened)
		}) >= 1
	})
	time.Sleep(time.Second)
	if n := b.count(func(r request) bool { return r.url == want && r.at.After(opened) }); n != 0 {
		t.Fatalf("the page reloaded itself %d times while the shop was down", n)
	}
	if got := b.eval(t, `document.querySelector("h1").textContent`); got != "We zijn zo terug" {
		t.Fatalf("h1 = %q; want the Dutch outage page", got)
	}

	healed := time.Now()
	origin.Heal(shop())
	testkit.WaitFor(t, 45*time.Second, "the page to bring the shopper back by itself", func() bool {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + " " + document.title`))
		return err == nil && got == want+" Product 42 · Bakkerij de Vries"
	})
	t.Logf("back at the shop %.1fs after the origin healed", time.Since(healed).Seconds())
	var reached bool
	for _, r := range origin.Received() {
		reached = reached || (r.Method == "GET" && r.RequestURI == "/product/42?colour=red&size=large")
	}
	if !reached {
		t.Error("the origin never saw GET /product/42?colour=red&size=large")
	}

	b.checkOnly(t, host, "maint.localhost:"+maint.port)
	b.checkQuiet(t)
	if t.Failed() {
		t.Logf("node log:\n%s", logs)
	}
}

// chromium finds the browser, failing (never skipping) when it is missing.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("Chromium is not installed (want /usr/bin/chromium): run `make test`, which installs it with scripts/install-test-deps.sh")
	return ""
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("AWNING_ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".artifacts", "screenshots")
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

func saveShot(t *testing.T, dir, name string, png []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// shop is a healthy origin: a health check and product pages.
func shop() testkit.Behavior {
	return func(x *testkit.Exchange) {
		if x.Request.URL.Path == "/healthz" {
			x.Write(testkit.Response(200, "ok"))
		} else {
			x.Write(testkit.Response(200, `<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Product 42 · Bakkerij de Vries</title>`+
				`<link rel="icon" href="data:,"></head><body><h1>Desem waldkorn</h1></body></html>`))
		}
		x.KeepAlive = true
	}
}

func browserConfig(origin string) string {
	return `listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0"}
tls: {mode: "off"}
log: {format: text, level: info}
sites:
  - name: bakkerij
    hosts: [shop.localhost]
    origin:
      urls: ["` + origin + `"]
      timeout: 2s
      health: {path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}
    page:
      brand: "Bakkerij de Vries"
      languages: [nl, en]
      color: "#b5651d"
      logo: logo.png
      timezone: Europe/Amsterdam
      status_url: "https://status.bakkerij.example/"
      contact: "hallo@bakkerij.example"
      reassurance:
        nl: ["Je bestellingen en betalingen zijn veilig.", "Bestellingen van vandaag worden gewoon gebakken en bezorgd."]
        en: ["Your orders and payments are safe.", "Today’s orders will be baked and delivered as planned."]
`
}

func runNode(t *testing.T, path string) (*node.Node, *testkit.Buffer) {
	t.Helper()
	logs := &testkit.Buffer{}
	n, err := node.New(node.Options{ConfigPath: path, LogOutput: logs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node: %v", err)
		}
	})
	select {
	case <-n.Ready():
	case err := <-done:
		t.Fatalf("node ended early: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("node not ready within 10s")
	}
	return n, logs
}

func healthSays(addr string, open bool) bool {
	req, _ := http.NewRequest("GET", "http://"+addr+"/.well-known/awning/health", nil)
	req.Host = "shop.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b) == fmt.Sprintf(`{"open":%t}`, open)
}

type maintServer struct{ port string }

// maintenanceServer serves the site's maintenance page as Awning renders it
// (headers included), for screenshots: maintenance mode itself is switched
// on through the admin API, which is not part of this package's tests.
func maintenanceServer(t *testing.T, cfgPath string) maintServer {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	site, err := pages.FromConfig(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	loc := site.Location
	end := time.Date(2025, 1, 14, 16, 0, 0, 0, loc)
	set, err := pages.Render(site, pages.State{
		Window: &pages.Window{End: end},
		Updates: []pages.Update{{ID: "1", Time: end.Add(-150 * time.Minute), Message: map[string]string{
			"nl": "Het onderhoud aan onze bestelomgeving loopt volgens plan.",
			"en": "Maintenance of our ordering system is going to plan.",
		}}},
	}, pages.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == set.Logo.Path:
			w.Header().Set("Content-Type", set.Logo.Type)
			w.Write(set.Logo.Data)
		case r.URL.Path == "/.well-known/awning/health":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, `{"open":false}`)
		default:
			p := set.Maintenance
			v := p.Variants()[p.Pick([]byte(r.Header.Get("Accept-Language")))]
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", p.CSP())
			h.Set("Content-Language", v.ContentLanguage)
			h.Set("Cache-Control", "no-store")
			h.Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write(v.HTML)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return maintServer{port: u.Port()}
}

// browser is a headless Chromium with one tab whose every request, console
// message, log entry and exception is recorded.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	requests []request
	console  []string // "type: text"
	logs     []*cdplog.Entry
}

type request struct {
	method, url, typ string
	at               time.Time
}

func newBrowser(t *testing.T, exe string, hosts ...string) *browser {
	t.Helper()
	return newBrowserWith(t, exe, nil, hosts...)
}

// newBrowserWith is newBrowser with more Chromium options.
func newBrowserWith(t *testing.T, exe string, extra []chromedp.ExecAllocatorOption, hosts ...string) *browser {
	t.Helper()
	var rules []string
	for _, h := range hosts {
		rules = append(rules, "MAP "+h+" 127.0.0.1")
	}
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// Names resolve to Awning on loopback and nowhere else, so that a
		// request to any other host fails and shows in the record.
		chromedp.Flag("host-resolver-rules", strings.Join(append(rules, "MAP * ~NOTFOUND"), ", ")),
	}, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() {
			b.mu.Lock()
			defer b.mu.Unlock()
			for _, r := range b.requests {
				t.Logf("request %s %s", r.typ, r.url)
			}
			for _, c := range b.console {
				t.Logf("console %s", c)
			}
			for _, e := range b.logs {
				t.Logf("log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
			}
		}
	})
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	// Still frames: the status dot and spinner pause, as they do for
	// shoppers who ask for reduced motion.
	b.do(t, "reduced motion", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
		})
		return err
	}))
	return b
}

func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, request{method: ev.Request.Method, url: ev.Request.URL, typ: string(ev.Type), at: time.Now()})
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, string(a.Value))
		}
		b.console = append(b.console, string(ev.Type)+": "+strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		b.console = append(b.console, "exception: "+ev.ExceptionDetails.Text)
	case *cdplog.EventEntryAdded:
		b.logs = append(b.logs, ev.Entry)
	}
}

func (b *browser) do(t *testing.T, what string, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, a); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to u asking for lang, waits until the logo has loaded,
// and returns the document's response.
func (b *browser) open(t *testing.T, u, lang string) *network.Response {
	t.Helper()
	b.do(t, "Accept-Language", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": lang},
		})
		return err
	}))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.readyState === "complete" && [...document.images].every(i => i.complete)`)); err != nil {
		t.Fatalf("%s: waiting for the logo: %v", u, err)
	}
	return resp
}

func (b *browser) eval(t *testing.T, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (b *browser) count(match func(request) bool) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, r := range b.requests {
		if match(r) {
			n++
		}
	}
	return n
}

// checkOnly asserts that every request went to one of hosts (Awning) over
// http, or was a data: URL.
func (b *browser) checkOnly(t *testing.T, hosts ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		t.Fatal("no requests were recorded")
	}
	types := map[string]int{}
	for _, r := range b.requests {
		types[r.typ]++
		if strings.HasPrefix(r.url, "data:") {
			continue
		}
		u, err := url.Parse(r.url)
		if err != nil || u.Scheme != "http" || !contains(hosts, u.Host) {
			t.Errorf("the page contacted %s (%s); want only %v", r.url, r.typ, hosts)
		}
		if strings.HasSuffix(u.Path, "favicon.ico") {
			t.Errorf("the browser asked for %s: the page should name its icon", r.url)
		}
	}
	t.Logf("%d requests, all to Awning: %v", len(b.requests), types)
}

// checkQuiet asserts that nothing was logged as an error or a warning: no
// console error, no uncaught exception, no CSP violation, no failed
// resource. The one expected entry is the browser's note that a document
// answered 503, which is what the outage and maintenance pages answer by
// contract (DESIGN.md): it is checked to be about those documents only.
func (b *browser) checkQuiet(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.console {
		if !strings.HasPrefix(c, "log: ") && !strings.HasPrefix(c, "info: ") && !strings.HasPrefix(c, "debug: ") {
			t.Errorf("console: %s", c)
		}
	}
	expected := 0
	for _, e := range b.logs {
		if e.Level != cdplog.EntryLevelError && e.Level != cdplog.EntryLevelWarning {
			continue
		}
		if e.Source == cdplog.EntrySourceNetwork && strings.Contains(e.Text, "status of 503") && isPage(e.URL) {
			expected++
			continue
		}
		t.Errorf("browser log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
	}
	t.Logf("%d console messages, %d log entries (%d the expected 503 of a page)", len(b.console), len(b.logs), expected)
}

// isPage reports whether u is one of the pages the test opened (and not,
// say, the logo or the health endpoint).
func isPage(u string) bool {
	p, err := url.Parse(u)
	return err == nil && strings.HasPrefix(p.Path, "/product/")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
