package pages_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/demoshop"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/pages"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// shopOrigin is the demo shop behind a recorder of every request it gets,
// so a test can tell that a request never reached it.
type shopOrigin struct {
	shop *demoshop.Shop
	url  string

	mu   sync.Mutex
	seen []string // "METHOD /path"
}

func newShopOrigin(t *testing.T) *shopOrigin {
	t.Helper()
	o := &shopOrigin{shop: demoshop.New(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen = append(o.seen, r.Method+" "+r.URL.Path)
		o.mu.Unlock()
		o.shop.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { o.shop.Close(); srv.Close() })
	o.url = srv.URL
	return o
}

// got counts the requests the shop received for "METHOD /path".
func (o *shopOrigin) got(req string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, s := range o.seen {
		if s == req {
			n++
		}
	}
	return n
}

func copyConfig(origin, dir string) string {
	return `listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0"}
state: {dir: "` + dir + `"}
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
      timezone: Europe/Amsterdam
      contact: "hallo@bakkerij.example"
`
}

// TestBrowserCopy drives a real Chromium through the demo shop as a shopper
// does when the shop half-works:
//
//   - A product page served from its copy carries the banner in the
//     shopper's language with the copy's age ("as it was at 14:05", in the
//     shop's zone), at most 64 px tall on a 390×844 phone.
//   - Submitting its add-to-cart form shows, in that language, that
//     ordering is paused; nothing reaches the shop, no request leaves the
//     browser for /cart/add.
//   - Once the shop heals, the page brings the shopper back to the live
//     product page.
//   - A shopper whose add-to-cart POST met the outage page (the shop went
//     down while they looked at the live page) is brought back to the
//     product page, not to /cart/add (a 404 by GET).
//
// Screenshots go to $AWNING_ARTIFACTS_DIR, and with -update to
// docs/screenshots.
func TestBrowserCopy(t *testing.T) {
	exe := chromium(t)
	shots := artifactsDir(t)
	origin := newShopOrigin(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "awning.yaml")
	if err := os.WriteFile(cfgPath, []byte(copyConfig(origin.url, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	n, logs := runNode(t, cfgPath)
	_, port, _ := net.SplitHostPort(n.Addrs().HTTP[0])
	host := "shop.localhost:" + port
	product := "http://" + host + "/product/3"
	const name = "Volkoren tarwe"
	testkit.WaitFor(t, 10*time.Second, "Awning to see the shop up", func() bool { return healthSays(n.Addrs().HTTP[0], true) })
	b := newBrowser(t, exe, "shop.localhost", "unconfirmed.localhost")
	// The shop's pages may be kept an hour by browsers: this shopper's
	// browser must ask Awning each time, as one would after a while.
	b.do(t, "no browser cache", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	}))
	defer func() {
		if t.Failed() {
			t.Logf("node log:\n%s", logs)
		}
	}()
	ams, _ := time.LoadLocation("Europe/Amsterdam")

	// The shopper browses the live shop: the page and what it links to are
	// kept as copies.
	mobile := func() {
		b.do(t, "emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	}
	desktop := func() { b.do(t, "emulate a desktop", chromedp.EmulateViewport(1280, 800)) }
	mobile()
	before := time.Now().In(ams)
	if resp := b.open(t, product, "en"); resp.Status != 200 || resp.Headers["Awning-Served"] != "origin" {
		t.Fatalf("live: %d %v", resp.Status, resp.Headers["Awning-Served"])
	}
	after := time.Now().In(ams)
	if b.eval(t, `String(document.getElementById("awning-banner"))`) != "null" {
		t.Fatal("the live page has a banner")
	}

	// The shop's database fails: every page is a 500; probes see it.
	if err := origin.shop.Break(demoshop.Mode500); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "Awning to see the shop down", func() bool { return healthSays(n.Addrs().HTTP[0], false) })

	// The copy, in each language, with its age, compact on a phone.
	for _, lang := range []struct{ code, badge, age string }{
		{"en", "Temporary disruption", "saved copy"},
		{"nl", "Tijdelijke storing", "opgeslagen versie"},
	} {
		for _, vp := range []string{"mobile", "desktop"} {
			if vp == "mobile" {
				mobile()
			} else {
				desktop()
			}
			resp := b.open(t, product, lang.code)
			if resp.Status != 200 || resp.Headers["Awning-Served"] != "stale" {
				t.Fatalf("%s: %d %v; want the copy", lang.code, resp.Status, resp.Headers["Awning-Served"])
			}
			if got := b.eval(t, `document.getElementById("awning-banner").lang`); got != lang.code {
				t.Errorf("banner in %q; want %s first", got, lang.code)
			}
			summary := b.eval(t, `document.querySelector("#awning-banner summary").textContent`)
			m := regexp.MustCompile(`\((\d{1,2}:\d{2})\)$`).FindStringSubmatch(summary)
			if !strings.HasPrefix(summary, lang.badge+" · "+lang.age) || m == nil || (m[1] != clock(before) && m[1] != clock(after)) {
				t.Errorf("%s summary %q; want %q and the copy's time, %s, in Amsterdam", lang.code, summary, lang.badge, clock(before))
			}
			if vp == "mobile" {
				h := b.eval(t, `String(document.getElementById("awning-banner").getBoundingClientRect().height)`)
				var height float64
				fmt.Sscan(h, &height)
				if height <= 0 || height > 64 {
					t.Errorf("%s: the banner is %s px tall on a 390×844 phone; want at most 64", lang.code, h)
				}
				t.Logf("%s banner: %s px on a phone: %q", lang.code, h, summary)
			}
			if got := b.eval(t, `document.querySelector("h1").textContent`); got != name {
				t.Errorf("the copy shows %q; want the product page", got)
			}
			png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			saveShot(t, shots, "copy-"+lang.code+"-"+vp+".png", png)
		}
	}

	// Ordering from the copy: paused, said in English, nothing sent. (The
	// shopper's browser forgets the reloads above, which would make the
	// copy ask for the shop's return ever more slowly.)
	mobile()
	b.eval(t, `sessionStorage.clear(), ""`)
	b.open(t, product, "en")
	b.do(t, "add to cart", chromedp.Click(chromedp.CSS(`form[action="/cart/add"] button`)))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!document.querySelector("#awning-banner .awning-paused").hidden`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the paused message did not show: %v", err)
	}
	if got := b.eval(t, `document.querySelector("#awning-banner .awning-paused").textContent`); !strings.HasPrefix(got, "Ordering is paused until the shop is back.") {
		t.Errorf("paused message %q; want it in English", got)
	}
	if got := b.eval(t, `location.pathname`); got != "/product/3" {
		t.Errorf("after submitting on the copy the shopper is at %s", got)
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	saveShot(t, shots, "copy-paused-en-mobile.png", png)
	if n := b.count(func(r request) bool { return strings.HasSuffix(r.url, "/cart/add") }); n != 0 {
		t.Errorf("the browser sent %d requests to /cart/add from the copy", n)
	}
	if n := origin.got("POST /cart/add"); n != 0 {
		t.Errorf("the shop received %d add-to-cart requests from a copy", n)
	}

	// The shop heals: the copy brings the shopper back to the live page.
	healed := time.Now()
	if err := origin.shop.Heal(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 45*time.Second, "the copy to bring the shopper back to the live page", func() bool {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.pathname + " " + (document.getElementById("awning-banner") === null) + " " + (document.querySelector("h1") || {}).textContent`))
		return err == nil && got == "/product/3 true "+name
	})
	t.Logf("back on the live page %.1fs after the shop healed", time.Since(healed).Seconds())

	// A shopper on the live page orders just as the shop goes down: the
	// add-to-cart POST meets the outage page (nothing was sent: the
	// circuit is open). Once the shop heals, they are back on the product
	// page, not on /cart/add.
	desktop()
	b.open(t, product, "nl")
	if err := origin.shop.Break(demoshop.Mode500); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "Awning to see the shop down", func() bool { return healthSays(n.Addrs().HTTP[0], false) })
	posts := origin.got("POST /cart/add")
	b.do(t, "add to cart", chromedp.Click(chromedp.CSS(`form[action="/cart/add"] button`)))
	testkit.WaitFor(t, 10*time.Second, "the outage page at /cart/add", func() bool {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.pathname + " " + document.title`))
		return err == nil && strings.HasPrefix(got, "/cart/add We zijn zo terug")
	})
	if origin.got("POST /cart/add") != posts {
		t.Error("the order reached the shop while its circuit was open")
	}
	healed = time.Now()
	if err := origin.shop.Heal(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 45*time.Second, "the outage page to bring the shopper back to the product page", func() bool {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.pathname + " " + (document.querySelector("h1") || {}).textContent`))
		return err == nil && got == "/product/3 "+name
	})
	t.Logf("back on the product page %.1fs after the shop healed", time.Since(healed).Seconds())
	if n := b.count(func(r request) bool { return r.method == "GET" && strings.HasSuffix(r.url, "/cart/add") }); n != 0 {
		t.Errorf("the browser loaded /cart/add with GET %d times (a 404 at the shop)", n)
	}

	// The unconfirmed page, as Awning renders it for this shop: it stays
	// put (no script, no refresh) and says where to check.
	site, err := pages.FromConfig(mustLoad(t, cfgPath), 0)
	if err != nil {
		t.Fatal(err)
	}
	set, err := pages.Render(site, pages.State{}, pages.Options{})
	if err != nil {
		t.Fatal(err)
	}
	uc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := set.Unconfirmed
		v := p.FormVariants()[p.Pick([]byte(r.Header.Get("Accept-Language")))]
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", p.CSP())
		w.WriteHeader(http.StatusGatewayTimeout)
		w.Write(v.HTML)
	}))
	t.Cleanup(uc.Close)
	_, ucPort, _ := net.SplitHostPort(strings.TrimPrefix(uc.URL, "http://"))
	for _, shot := range []struct{ lang, vp string }{{"en", "mobile"}, {"nl", "desktop"}} {
		if shot.vp == "mobile" {
			mobile()
		} else {
			desktop()
		}
		opened := time.Now()
		if resp := b.open(t, "http://unconfirmed.localhost:"+ucPort+"/checkout", shot.lang); resp.Status != 504 {
			t.Fatalf("unconfirmed page: %d", resp.Status)
		}
		if got := b.eval(t, `document.querySelector(".links a.btn.primary").getAttribute("href")`); got != "mailto:hallo@bakkerij.example" {
			t.Errorf("the unconfirmed page's first button goes to %q; want the shop's contact", got)
		}
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		saveShot(t, shots, "unconfirmed-"+shot.lang+"-"+shot.vp+".png", png)
		if n := b.count(func(r request) bool {
			return r.at.After(opened) && strings.Contains(r.url, "/.well-known/awning/health")
		}); n != 0 {
			t.Errorf("the unconfirmed page polled %d times: it must never move by itself", n)
		}
	}
	b.checkNoErrors(t)
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clock writes t as the pages write a time of day in English and Dutch.
func clock(t time.Time) string { return fmt.Sprintf("%d:%02d", t.Hour(), t.Minute()) }

// checkNoErrors asserts that no script failed and no Content-Security-
// Policy refused anything: the banner's script and style ran on the shop's
// page, and the pages' own.
func (b *browser) checkNoErrors(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.console {
		if strings.HasPrefix(c, "exception: ") || strings.HasPrefix(c, "error: ") {
			t.Errorf("console: %s", c)
		}
	}
	for _, e := range b.logs {
		if strings.Contains(e.Text, "Content Security Policy") || strings.Contains(e.Text, "Refused to") {
			t.Errorf("browser log %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
		}
	}
}
