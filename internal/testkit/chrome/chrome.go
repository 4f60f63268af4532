// Package chrome drives Debian's Chromium, headless, for browser tests: one
// tab whose every request, console message, log entry and uncaught
// exception is recorded, so that a test can assert what a page did (which
// hosts it contacted, that it logged no error) as well as what it shows.
// Host names resolve only to loopback and only those the test names, so a
// request to any other host fails and shows in the record.
package chrome

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Path finds the browser, failing (never skipping) when it is missing.
func Path(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("Chromium is not installed (want /usr/bin/chromium): run `make test`, which installs it with scripts/install-test-deps.sh")
	return ""
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	// Ctx runs chromedp actions in the tab.
	Ctx context.Context

	mu       sync.Mutex
	requests []Request
	console  []string // "type: text"
	logs     []*cdplog.Entry
}

// Request is one request the tab made.
type Request struct {
	URL, Type string
	At        time.Time
}

// New starts Chromium; hosts (names without ports) resolve to 127.0.0.1,
// every other name to nothing. It stops with the test.
func New(t testing.TB, hosts ...string) *Browser {
	t.Helper()
	var rules []string
	for _, h := range hosts {
		rules = append(rules, "MAP "+h+" 127.0.0.1")
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(Path(t)),
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
		// Sandboxed frames (the console's page previews) stay in the tab's
		// process, so that their requests and messages are recorded too.
		chromedp.Flag("disable-features", "IsolateSandboxedIframes"),
		chromedp.Flag("host-resolver-rules", strings.Join(append(rules, "MAP * ~NOTFOUND"), ", ")),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &Browser{Ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() {
			b.mu.Lock()
			defer b.mu.Unlock()
			for _, r := range b.requests {
				t.Logf("request %s %s", r.Type, r.URL)
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
		t.Fatalf("start Chromium: %v", err)
	}
	b.Do(t, "reduced motion", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}},
		})
		return err
	}))
	return b
}

func (b *Browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, Request{URL: ev.Request.URL, Type: string(ev.Type), At: time.Now()})
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, string(a.Value))
		}
		b.console = append(b.console, string(ev.Type)+": "+strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		b.console = append(b.console, "exception: "+ev.ExceptionDetails.Text+" "+exceptionText(ev.ExceptionDetails))
	case *cdplog.EventEntryAdded:
		b.logs = append(b.logs, ev.Entry)
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// Do runs actions, failing the test on an error or after 30 seconds.
func (b *Browser) Do(t testing.TB, what string, a ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, a...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Language sets the Accept-Language the tab sends.
func (b *Browser) Language(t testing.TB, lang string) {
	t.Helper()
	b.Do(t, "Accept-Language", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": lang},
		})
		return err
	}))
}

// Open navigates to u and returns the document's response.
func (b *Browser) Open(t testing.TB, u string) *network.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 30*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return resp
}

// Eval evaluates a JavaScript expression (awaiting a promise) into T.
func Eval[T any](t testing.TB, b *Browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// WaitTrue waits until a JavaScript expression is true.
func (b *Browser) WaitTrue(t testing.TB, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(10*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// Screenshot captures the viewport as PNG.
func (b *Browser) Screenshot(t testing.TB) []byte {
	t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

// Requests returns the requests made so far.
func (b *Browser) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.requests...)
}

// CheckOnly asserts that every request went to one of hosts (host:port)
// over http, or was a data: URL, and that none asked for a favicon the
// page did not name.
func (b *Browser) CheckOnly(t testing.TB, hosts ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		t.Fatal("no requests were recorded")
	}
	types := map[string]int{}
	for _, r := range b.requests {
		types[r.Type]++
		if strings.HasPrefix(r.URL, "data:") {
			continue
		}
		u, err := url.Parse(r.URL)
		ok := err == nil && u.Scheme == "http"
		if ok {
			ok = false
			for _, h := range hosts {
				ok = ok || u.Host == h
			}
		}
		if !ok {
			t.Errorf("the page contacted %s (%s); want only %v", r.URL, r.Type, hosts)
		}
		if err == nil && strings.HasSuffix(u.Path, "favicon.ico") {
			t.Errorf("the browser asked for %s: the page should name its icon", r.URL)
		}
	}
	t.Logf("%d requests, all to %v: %v", len(b.requests), hosts, types)
}

// CheckQuiet asserts that nothing was logged as an error or a warning: no
// console error, no uncaught exception, no CSP violation, no failed
// resource, except the log entries expected says the test caused on
// purpose.
func (b *Browser) CheckQuiet(t testing.TB, expected func(*cdplog.Entry) bool) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.console {
		if !strings.HasPrefix(c, "log: ") && !strings.HasPrefix(c, "info: ") && !strings.HasPrefix(c, "debug: ") {
			t.Errorf("console: %s", c)
		}
	}
	n := 0
	for _, e := range b.logs {
		if e.Level != cdplog.EntryLevelError && e.Level != cdplog.EntryLevelWarning {
			continue
		}
		if expected != nil && expected(e) {
			n++
			continue
		}
		t.Errorf("browser log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
	}
	t.Logf("%d console messages, %d log entries (%d expected)", len(b.console), len(b.logs), n)
}

// Unnamed returns the interactive elements of the page (and its same-origin
// frames) that have no accessible name, as "role (DOM id)", from Chromium's
// own accessibility tree: what a screen reader would announce as an
// unlabelled control.
func (b *Browser) Unnamed(t testing.TB) []string {
	t.Helper()
	res, err := chromedp.Call(b.Ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatalf("accessibility tree: %v", err)
	}
	interactive := map[string]bool{
		"button": true, "checkbox": true, "combobox": true, "link": true, "listbox": true, "menuitem": true,
		"radio": true, "searchbox": true, "slider": true, "spinbutton": true, "switch": true, "tab": true,
		"textbox": true, "Iframe": true, "image": true, "img": true, "region": false,
	}
	var out []string
	for _, n := range res.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		var role string
		json.Unmarshal(n.Role.Value, &role)
		if !interactive[role] {
			continue
		}
		var name string
		if n.Name != nil {
			json.Unmarshal(n.Name.Value, &name)
		}
		if strings.TrimSpace(name) == "" {
			out = append(out, fmt.Sprintf("%s (backend node %d)", role, n.BackendDOMNodeID))
		}
	}
	return out
}

// Cookies returns the cookies the browser holds for u.
func (b *Browser) Cookies(t testing.TB, u string) []*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(b.Ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		t.Fatalf("cookies: %v", err)
	}
	return res.Cookies
}
