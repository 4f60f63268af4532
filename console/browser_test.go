package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/internal/testkit/chrome"
	"github.com/awningproxy/awning/node"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
)

var update = flag.Bool("update", false, "refresh the console's screenshots in docs/screenshots")

// Tokens of the test node.
const (
	opsToken    = "ops-token-for-the-console-test-0123"
	bakkerToken = "bakkerij-token-for-the-console-test"
	winkelToken = "winkel-token-for-the-console-test-0"
)

func sum(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// shop is an origin that is down: the shop's outage page is what shoppers
// get, and what the merchant brands.
type shop struct {
	node  *node.Node
	admin string // http://127.0.0.1:port of the admin listener, for Go
	ui    string // the same as a browser reaches it: http://console.localhost:port
	http  string // host:port shoppers reach
	cons  string // host:port of listen.console
	logs  *testkit.Buffer
}

func startShop(t *testing.T) *shop {
	t.Helper()
	origin := testkit.NewOrigin(t, testkit.OK("ok"))
	origin.Refuse()
	dir := t.TempDir()
	cfg := `listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0", console: "127.0.0.1:0"}
tls: {mode: "off"}
state: {dir: "` + dir + `"}
log: {format: text, level: info}
admin:
  tokens:
    - {name: ops, sha256: "` + sum(opsToken) + `", sites: ["*"]}
    - {name: bakkerij, sha256: "` + sum(bakkerToken) + `", sites: [bakkerij]}
    - {name: winkel, sha256: "` + sum(winkelToken) + `", sites: [winkel]}
sites:
  - name: bakkerij
    hosts: [shop.localhost]
    origin:
      urls: ["` + origin.URL() + `"]
      timeout: 2s
      health: {path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}
    page:
      brand: "Bakkerij de Vries"
      languages: [nl, en]
      color: "#b5651d"
      timezone: Europe/Amsterdam
      contact: "hallo@bakkerij.example"
  - name: winkel
    hosts: [winkel.localhost]
    origin: {urls: ["` + origin.URL() + `"], health: {path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}
    page: {brand: "Winkel Schmidt", languages: [de]}
`
	path := filepath.Join(dir, "awning.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
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
		if t.Failed() {
			t.Logf("node log:\n%s", logs)
		}
	})
	select {
	case <-n.Ready():
	case err := <-done:
		t.Fatalf("node ended early: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("node not ready within 10s")
	}
	a := n.Addrs()
	_, port, _ := strings.Cut(a.Admin[0], ":")
	s := &shop{node: n, admin: "http://" + a.Admin[0], ui: "http://console.localhost:" + port, http: a.HTTP[0], cons: a.Console[0], logs: logs}
	testkit.WaitFor(t, 10*time.Second, "Awning to see the origin down", func() bool {
		st, h, _ := s.get(t, "/product/1", "nl")
		return st == 503 && h.Get("Awning-Served") == "outage"
	})
	return s
}

// get fetches path on the shop's host, as a shopper would.
func (s *shop) get(t *testing.T, path, lang string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.http+path, nil)
	req.Host = "shop.localhost"
	req.Header.Set("Accept-Language", lang)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// api calls the admin API from Go: with a bearer token, or with a browser's
// session cookie and CSRF secret (then as the console's own origin would).
func (s *shop) api(t *testing.T, method, path, body, bearer string, cookie *http.Cookie, csrf string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.admin+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if cookie != nil {
		req.AddCookie(cookie)
		req.Header.Set("X-Awning-CSRF", csrf)
		req.Header.Set("Origin", s.admin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func adminHost(s *shop) string { return strings.TrimPrefix(s.ui, "http://") }

// shot saves a screenshot of the whole page to the artifacts directory,
// and to docs/ with -update.
func shot(t testing.TB, b *chrome.Browser, name string) {
	saveShot(t, b, name, chromedp.FullScreenshot(100))
}

// shotWindow saves what fits the window, for a page too long to show whole.
func shotWindow(t testing.TB, b *chrome.Browser, name string) {
	saveShot(t, b, name, chromedp.CaptureScreenshot())
}

func saveShot(t testing.TB, b *chrome.Browser, name string, capture chromedp.Action[[]byte]) {
	t.Helper()
	b.Do(t, "scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	data, err := chromedp.Run(b.Ctx, capture)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("AWNING_ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".artifacts", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// accessible asserts that every control of the screen has an accessible
// name, that the screen has one h1, and that nothing overflows sideways.
func accessible(t *testing.T, b *chrome.Browser, screen string) {
	t.Helper()
	if unnamed := b.Unnamed(t); len(unnamed) > 0 {
		t.Errorf("%s: controls without an accessible name: %v", screen, unnamed)
	}
	if n := chrome.Eval[int](t, b, `document.querySelectorAll("h1").length`); n != 1 {
		t.Errorf("%s: %d h1 elements; want 1", screen, n)
	}
	// clientWidth is the layout viewport (the device's width on a phone);
	// innerWidth would grow with the zoom-out a phone applies to a page too
	// wide for it.
	if over := chrome.Eval[bool](t, b, `document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`); over {
		t.Errorf("%s: the page scrolls sideways (%d px wide in a %d px viewport)", screen,
			chrome.Eval[int](t, b, `document.documentElement.scrollWidth`), chrome.Eval[int](t, b, `document.documentElement.clientWidth`))
	}
}

// waitRoute waits until the console shows a screen whose h1 is focused
// (keyboard and screen reader users land on the new screen's title).
func waitScreen(t *testing.T, b *chrome.Browser, what, cond string) {
	t.Helper()
	b.WaitTrue(t, what, `(`+cond+`) && document.activeElement && document.activeElement.tagName === "H1"`)
}

// waitPreview waits until the preview frame shows its latest load.
func waitPreview(t *testing.T, b *chrome.Browser) {
	t.Helper()
	b.WaitTrue(t, "the preview", `(f => f.src.endsWith("&v=" + f.dataset.shown))(document.querySelector(".preview-frame"))`)
}

func logoPNG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 96, 48))
	for y := range 48 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{42, 111, 78, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestConsoleMerchant: a merchant signs in, changes colour and message,
// drops a logo, previews, saves, and the shop's outage page has them; the
// merchant sees and reaches no other shop and no ops action, in the
// console or through the API with its session.
func TestConsoleMerchant(t *testing.T) {
	s := startShop(t)
	b := chrome.New(t, "console.localhost")
	b.Language(t, "en-GB,en;q=0.9")
	b.Do(t, "desktop", chromedp.EmulateViewport(1280, 900))
	b.Open(t, s.ui+"/ui/")
	waitScreen(t, b, "the sign-in screen", `!!document.querySelector("#token")`)
	if got := chrome.Eval[string](t, b, `document.documentElement.lang + " " + document.title`); got != "en Sign in · Awning console" {
		t.Errorf("lang and title %q", got)
	}
	accessible(t, b, "sign-in")
	shot(t, b, "console-signin.png")

	// Keyboard: type the token and press Enter.
	b.Do(t, "sign in", chromedp.SendKeys("#token", bakkerToken+"\r"))
	// One site: straight to it.
	waitScreen(t, b, "the merchant's site", `location.hash === "#/site/bakkerij" && !!document.querySelector(".contrast p")`)
	if nav := chrome.Eval[string](t, b, `[...document.querySelectorAll("#nav a")].map(a => a.getAttribute("href")).join(" ")`); nav != "#/sites" {
		t.Errorf("merchant's navigation %q; want only #/sites (no ops screens)", nav)
	}
	before := func() string { _, _, body := s.get(t, "/product/1", "nl"); return body }()
	if !strings.Contains(before, "--brand:#b5651d") {
		t.Fatal("the outage page does not start with the configured colour")
	}

	// Colour and Dutch message, typed; the logo, dropped.
	b.Do(t, "colour",
		chromedp.Clear(".brand-form input[name=color]"),
		chromedp.SendKeys(".brand-form input[name=color]", "#2a6f4e"),
		chromedp.SendKeys("fieldset.lang textarea[lang=nl]", "De oven is even uit; we bakken zo weer."))
	// German as well: its texts appear, and what was typed in Dutch stays.
	b.Do(t, "add German", chromedp.Click(`.langs-pick input[value=de]`))
	b.WaitTrue(t, "the German texts", `!!document.querySelector("fieldset.lang textarea[lang=de]")`)
	b.Do(t, "German message", chromedp.SendKeys("fieldset.lang textarea[lang=de]", "Gleich wieder da."))
	if got := chrome.Eval[string](t, b, `document.querySelector("fieldset.lang textarea[lang=nl]").value`); got != "De oven is even uit; we bakken zo weer." {
		t.Errorf("the Dutch message after adding German: %q", got)
	}
	logo := logoPNG(t)
	chrome.Eval[bool](t, b, `(() => {
		const bytes = Uint8Array.from(atob("`+base64.StdEncoding.EncodeToString(logo)+`"), c => c.charCodeAt(0));
		const dt = new DataTransfer();
		dt.items.add(new File([bytes], "logo.png", {type: "image/png"}));
		const zone = document.querySelector(".drop");
		zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
		zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return true;
	})()`)
	b.WaitTrue(t, "the dropped logo", `!document.querySelector(".logo-thumb").hidden`)

	// Preview: the frame shows the draft, through the API, before saving.
	b.Do(t, "preview", chromedp.Click(".brand-form .actions button[type=button]"))
	testkit.WaitFor(t, 15*time.Second, "the preview to show the draft", func() bool {
		return chrome.Eval[bool](t, b, `fetch(document.querySelector(".preview-frame").src).then(r => r.text()).then(h =>
			h.includes("--brand:#2a6f4e") && h.includes("De oven is even uit") && h.includes("data:image/png;base64,"))`)
	})
	if got := chrome.Eval[string](t, b, `document.querySelector(".contrast").textContent`); !strings.Contains(got, "#2a6f4e") || !strings.Contains(got, ":1") {
		t.Errorf("contrast check %q; want the colour and its ratios", got)
	}
	if got := chrome.Eval[string](t, b, `(f => f.getAttribute("sandbox") + "|" + f.title)(document.querySelector(".preview-frame"))`); got != "|Preview: Outage page, Nederlands, Desktop" {
		t.Errorf("preview frame sandbox|title = %q", got)
	}
	b.Do(t, "phone preview", chromedp.Click(".preview-controls fieldset:last-of-type input[value=phone]"))
	b.WaitTrue(t, "the phone preview", `document.querySelector(".preview-frame").classList.contains("phone")`)
	if _, _, body := s.get(t, "/product/1", "nl"); strings.Contains(body, "#2a6f4e") {
		t.Fatal("a draft reached shoppers before it was saved")
	}
	accessible(t, b, "site (merchant)")
	waitPreview(t, b)
	shot(t, b, "console-merchant.png")

	b.Do(t, "save", chromedp.Click(".brand-form button[type=submit]"))
	b.WaitTrue(t, "the saved note", `!document.querySelector(".saved").hidden`)

	// The shop's outage page, on the shop's host: the new colour, message
	// and logo.
	st, h, body := s.get(t, "/product/1", "nl")
	if st != 503 || h.Get("Awning-Served") != "outage" || !strings.Contains(body, "--brand:#2a6f4e") || !strings.Contains(body, "De oven is even uit; we bakken zo weer.") {
		t.Fatalf("outage page after saving: %d %s; want the merchant's colour and message:\n%.600s", st, h.Get("Awning-Served"), body)
	}
	if st, h, body := s.get(t, "/product/1", "de"); st != 503 || !strings.HasPrefix(h.Get("Content-Language"), "de") || !strings.Contains(body, "Gleich wieder da.") {
		t.Errorf("the outage page in German: %d %q; want the merchant's German message", st, h.Get("Content-Language"))
	}
	i := strings.Index(body, "/.well-known/awning/logo/bakkerij-")
	if i < 0 {
		t.Fatal("the outage page links no logo")
	}
	logoPath := body[i : i+strings.IndexByte(body[i:], '"')]
	if st, _, got := s.get(t, logoPath, "nl"); st != 200 || got != string(logo) {
		t.Errorf("GET %s on the shop: %d, %d bytes; want the dropped logo (%d bytes)", logoPath, st, len(got), len(logo))
	}

	// No other shop, no ops action: in the console...
	if got := chrome.Eval[string](t, b, `fetch("/v1/overview").then(r => r.json()).then(o => o.total + " " + o.sites.map(s => s.name).join(","))`); got != "1 bakkerij" {
		t.Errorf("the merchant's overview: %q; want only bakkerij", got)
	}
	b.Do(t, "nodes", chromedp.Navigate(s.ui+"/ui/#/nodes"))
	waitScreen(t, b, "the refusal", `document.querySelector("h1").textContent === "Not for this account"`)
	b.Do(t, "another shop", chromedp.Evaluate[chromedp.Void](`location.hash = "#/site/winkel"`))
	waitScreen(t, b, "the error", `document.querySelector("h1").textContent === "Something went wrong" && document.querySelector(".error").textContent.includes("no site named")`)
	for _, r := range b.Requests() {
		for _, p := range []string{"/v1/nodes", "/v1/audit", "/v1/maintenance", "/v1/updates"} {
			if strings.HasSuffix(strings.SplitN(r.URL, "?", 2)[0], p) {
				t.Errorf("the merchant's console called %s", r.URL)
			}
		}
	}
	// ... and through the API with the merchant's own session.
	var cookie *http.Cookie
	for _, c := range b.Cookies(t, s.ui+"/") {
		if c.Name == "awning-session" {
			cookie = &http.Cookie{Name: c.Name, Value: c.Value}
			if !c.HTTPOnly || c.SameSite != "Strict" || c.Secure {
				t.Errorf("session cookie: HttpOnly %v, SameSite %s, Secure %v; want HttpOnly, Strict, not Secure over http", c.HTTPOnly, c.SameSite, c.Secure)
			}
		}
	}
	if cookie == nil {
		t.Fatal("the browser holds no session cookie")
	}
	if got := chrome.Eval[bool](t, b, `document.cookie.includes("awning-session")`); got {
		t.Error("the session cookie is readable from script")
	}
	csrf := chrome.Eval[string](t, b, `fetch("/v1/session").then(r => r.json()).then(s => s.csrf)`)
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v1/sites/bakkerij", "", 200},
		{"GET", "/v1/sites/winkel", "", 404},
		{"PUT", "/v1/sites/winkel/page", `{"color": "#000000"}`, 404},
		{"PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true}`, 403},
		{"PUT", "/v1/maintenance", `{"enabled": true}`, 403},
		{"POST", "/v1/updates", `{"message": {"en": "x"}}`, 403},
		{"PUT", "/v1/sites/bakkerij/fallback", "", 403},
		{"GET", "/v1/audit", "", 403},
		{"GET", "/v1/nodes", "", 403},
	} {
		if st, body := s.api(t, c.method, c.path, c.body, "", cookie, csrf); st != c.want {
			t.Errorf("merchant session %s %s: %d %s; want %d", c.method, c.path, st, strings.TrimSpace(body), c.want)
		}
	}

	// A phone.
	b.Do(t, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.Do(t, "back to the site", chromedp.Evaluate[chromedp.Void](`location.hash = "#/site/bakkerij"`))
	waitScreen(t, b, "the site on a phone", `location.hash === "#/site/bakkerij" && !!document.querySelector(".contrast p")`)
	accessible(t, b, "site (merchant, phone)")
	waitPreview(t, b)
	shot(t, b, "console-merchant-phone.png")

	// Sign out: the server forgets the session.
	b.Do(t, "desktop", chromedp.EmulateViewport(1280, 900))
	b.Do(t, "sign out", chromedp.Click("#who button"))
	waitScreen(t, b, "the sign-in screen", `!!document.querySelector("#token")`)
	if st, _ := s.api(t, "GET", "/v1/sites/bakkerij", "", "", cookie, csrf); st != 401 {
		t.Errorf("the merchant's cookie after signing out: %d; want 401", st)
	}

	b.CheckOnly(t, adminHost(s))
	b.CheckQuiet(t, func(e *cdplog.Entry) bool {
		// The test asked for another shop on purpose: the API's 404s.
		return e.Source == cdplog.EntrySourceNetwork && strings.Contains(e.Text, "404") && strings.Contains(e.URL, "/v1/sites/winkel")
	})
}

// TestConsoleOps: ops sign in with a one-time link, put a site into
// read-only maintenance with a message, the shop serves it, post and
// retract an update, and take the site out; every ops screen is drawn,
// labelled and photographed.
func TestConsoleOps(t *testing.T) {
	s := startShop(t)
	st, body := s.api(t, "POST", "/v1/session/link", "", opsToken, nil, "")
	var link struct{ Path string }
	json.Unmarshal([]byte(body), &link)
	if st != 201 || !strings.HasPrefix(link.Path, "/ui/#code=") {
		t.Fatalf("sign-in link: %d %s", st, body)
	}
	b := chrome.New(t, "console.localhost")
	b.Language(t, "nl-NL,nl;q=0.9,en;q=0.5")
	b.Do(t, "desktop", chromedp.EmulateViewport(1280, 900))
	b.Open(t, s.ui+link.Path)
	waitScreen(t, b, "the overview", `location.hash === "#/sites" && document.querySelectorAll("table.sites tbody tr").length === 2`)
	if got := chrome.Eval[string](t, b, `document.documentElement.lang + " " + document.querySelector("h1").textContent`); got != "nl Alle sites" {
		t.Errorf("lang and title %q; want the Dutch console", got)
	}
	if got := chrome.Eval[string](t, b, `location.href`); strings.Contains(got, "code=") {
		t.Errorf("the sign-in code stayed in the address bar: %s", got)
	}
	if st, _ := s.api(t, "POST", "/v1/session", `{"code": "`+strings.TrimPrefix(link.Path, "/ui/#code=")+`"}`, "", nil, ""); st != 401 {
		t.Errorf("the sign-in link's second use: %d; want 401", st)
	}
	accessible(t, b, "overview")
	shot(t, b, "console-overview.png")

	b.Do(t, "open bakkerij", chromedp.Click(`a[href="#/site/bakkerij"]`))
	waitScreen(t, b, "the site", `location.hash === "#/site/bakkerij" && !!document.querySelector(".maint-form")`)

	// Read-only maintenance with a message.
	b.Do(t, "maintenance",
		chromedp.Click(`.maint-form input[value="read-only"]`),
		chromedp.SendKeys(`.maint-form textarea[lang=nl]`, "We vernieuwen de kassa; rondkijken kan gewoon."),
		chromedp.SendKeys(`.maint-form textarea[lang=en]`, "We are renewing our checkout; browse as usual."),
		chromedp.Click(`.maint-form button[type=submit]`))
	waitScreen(t, b, "the site in maintenance", `document.querySelector(".maint-form button.danger") !== null`)
	st, h, page := s.get(t, "/cart", "nl")
	if st != 503 || h.Get("Awning-Served") != "maintenance" || !strings.Contains(page, "We vernieuwen de kassa; rondkijken kan gewoon.") {
		t.Fatalf("the shop in maintenance: %d %q; want the maintenance page with the message:\n%.500s", st, h.Get("Awning-Served"), page)
	}
	accessible(t, b, "site (ops)")
	shot(t, b, "console-site-ops.png")

	// An update, posted and retracted.
	b.Do(t, "post an update",
		chromedp.SendKeys(`.update-form textarea[lang=nl]`, "De kassa is over een half uur terug."),
		chromedp.SendKeys(`.update-form textarea[lang=en]`, "Checkout is back in half an hour."),
		chromedp.Click(`.update-form button[type=submit]`))
	waitScreen(t, b, "the update listed", `document.querySelectorAll(".update-list li").length === 1`)
	if _, _, page := s.get(t, "/cart", "nl"); !strings.Contains(page, "De kassa is over een half uur terug.") {
		t.Fatal("the shop does not show the update")
	}
	b.Do(t, "retract", chromedp.Click(`.update-list button`))
	waitScreen(t, b, "the update gone", `document.querySelectorAll(".update-list li").length === 0`)
	if _, _, page := s.get(t, "/cart", "nl"); strings.Contains(page, "De kassa is over een half uur terug.") {
		t.Fatal("the shop still shows a retracted update")
	}

	// Out of maintenance: the origin is still down, so the outage page.
	b.Do(t, "end maintenance", chromedp.Click(`.maint-form button.danger`))
	waitScreen(t, b, "the site out of maintenance", `document.querySelector(".maint-form button.danger") === null`)
	if st, h, _ := s.get(t, "/cart", "nl"); st != 503 || h.Get("Awning-Served") != "outage" {
		t.Fatalf("after maintenance: %d %q; want the outage page", st, h.Get("Awning-Served"))
	}

	// Every ops screen.
	tokens, _ := s.api(t, "GET", "/v1/tokens", "", opsToken, nil, "")
	tokenRoutes := tokens != 404
	for _, sc := range []struct {
		hash, ready, shot string
		then              func()
	}{
		{"#/maintenance", `!!document.querySelector(".maint-form")`, "console-maintenance.png", nil},
		{"#/updates", `!!document.querySelector(".update-form")`, "console-updates.png", nil},
		{"#/audit", `document.querySelectorAll("table tbody tr").length >= 4`, "console-audit.png", func() {
			audit := chrome.Eval[string](t, b, `document.querySelector("table tbody").textContent`)
			for _, want := range []string{"PUT /v1/sites/bakkerij/maintenance", "POST /v1/sites/bakkerij/updates", "DELETE /v1/sites/bakkerij/maintenance", "console sign-in"} {
				if !strings.Contains(audit, want) {
					t.Errorf("the audit log lacks %q", want)
				}
			}
		}},
		{"#/nodes", `document.querySelectorAll("table tbody tr").length === 1`, "console-nodes.png", func() {
			if got := chrome.Eval[string](t, b, `document.querySelector("table tbody tr").textContent`); !strings.Contains(got, "deze") {
				t.Errorf("nodes: %q; want this node, marked as this one", got)
			}
		}},
		{"#/tokens", `!!document.querySelector(".note-box, form")`, "console-tokens.png", func() {
			if !tokenRoutes {
				// Before the API has token routes, the screen says so.
				if got := chrome.Eval[string](t, b, `document.querySelector(".note-box") ? "note" : "form"`); got != "note" {
					t.Errorf("tokens without token routes: %s; want the note", got)
				}
				return
			}
			// A merchant token, shown once, with a sign-in link; then revoked.
			b.Do(t, "new token",
				chromedp.SendKeys(`form input[pattern]`, "console-test"),
				chromedp.SendKeys(`form .field:nth-of-type(2) input`, "bakkerij"),
				chromedp.Click(`form button[type=submit]`))
			b.WaitTrue(t, "the token shown once", `!document.querySelector(".once").hidden && document.querySelector(".once input").value.length > 16 && !!document.querySelector(".once a")`)
			tok := chrome.Eval[string](t, b, `document.querySelector(".once input").value`)
			if st, _ := s.api(t, "GET", "/v1/sites/bakkerij", "", tok, nil, ""); st != 200 {
				t.Errorf("the new token on its site: %d; want 200", st)
			}
			shot(t, b, "console-token-once.png")
			b.Do(t, "reload tokens", chromedp.Evaluate[chromedp.Void](`location.hash = "#/tokens?again"`))
			b.WaitTrue(t, "the token listed, not shown", `document.body.textContent.includes("console-test") && !document.body.textContent.includes(`+strconv.Quote(tok)+`)`)
		}},
	} {
		b.Do(t, sc.hash, chromedp.Evaluate[chromedp.Void](`location.hash = "`+sc.hash+`"`))
		waitScreen(t, b, sc.hash, `location.hash === "`+sc.hash+`" && `+sc.ready)
		accessible(t, b, sc.hash)
		shot(t, b, sc.shot)
		if sc.then != nil {
			sc.then()
		}
	}

	// The console's own listener serves the console and the API, not the
	// node's metrics.
	for path, want := range map[string]int{"/ui/": 200, "/metrics": 404, "/v1/session": 200} {
		resp, err := http.Get("http://" + s.cons + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("listen.console GET %s: %d; want %d", path, resp.StatusCode, want)
		}
	}

	b.CheckOnly(t, adminHost(s))
	b.CheckQuiet(t, func(e *cdplog.Entry) bool {
		// Before the admin API has token routes, the tokens screen's
		// GET /v1/tokens is answered 404 (and the screen says so).
		return !tokenRoutes && e.Source == cdplog.EntrySourceNetwork && strings.HasSuffix(e.URL, "/v1/tokens") && strings.Contains(e.Text, "404")
	})
}

// TestConsolePalette computes the WCAG contrast of every pair of colours
// the console's stylesheet draws, from the stylesheet the browser loaded:
// text at least 4.5:1, control borders and focus rings at least 3:1.
func TestConsolePalette(t *testing.T) {
	s := startShop(t)
	b := chrome.New(t, "console.localhost")
	b.Open(t, s.ui+"/ui/")
	waitScreen(t, b, "the sign-in screen", `!!document.querySelector("#token")`)
	raw := chrome.Eval[map[string]string](t, b, `(() => {
		const cs = getComputedStyle(document.documentElement), out = {};
		for (const sheet of document.styleSheets) for (const rule of sheet.cssRules)
			if (rule.selectorText === ":root") for (const p of rule.style) if (p.startsWith("--")) out[p.slice(2)] = cs.getPropertyValue(p).trim();
		return out;
	})()`)
	if len(raw) < 20 {
		t.Fatalf("read %d colours from the stylesheet: %v", len(raw), raw)
	}
	text := [][2]string{
		{"ink", "bg"}, {"ink", "card"}, {"muted", "bg"}, {"muted", "card"}, {"accent", "card"}, {"accent", "bg"},
		{"accent-ink", "accent"}, {"danger-ink", "danger"}, {"bar-ink", "bar"}, {"bar-muted", "bar"},
		{"error-ink", "error-bg"}, {"ok-ink", "ok-bg"}, {"warn-ink", "warn-bg"}, {"card", "ink"},
		{"ink", "s-maintenance-bg"}, {"muted", "bg"},
	}
	for _, st := range []string{"open", "degraded", "down", "forced", "maintenance", "read-only", "scheduled"} {
		text = append(text, [2]string{"s-" + st + "-ink", "s-" + st + "-bg"})
	}
	nonText := [][2]string{{"control", "card"}, {"control", "bg"}, {"focus", "card"}, {"focus", "bg"}, {"bar-ink", "bar"}, {"accent", "card"}}
	check := func(pairs [][2]string, min float64) {
		for _, p := range pairs {
			fg, ok1 := parseHex(raw[p[0]])
			bg, ok2 := parseHex(raw[p[1]])
			if !ok1 || !ok2 {
				t.Errorf("--%s (%q) or --%s (%q) is not a hex colour", p[0], raw[p[0]], p[1], raw[p[1]])
				continue
			}
			if r := contrast(fg, bg); r < min {
				t.Errorf("--%s %s on --%s %s: contrast %.2f; want at least %.1f", p[0], raw[p[0]], p[1], raw[p[1]], r, min)
			}
		}
	}
	check(text, 4.5)
	check(nonText, 3)
	b.CheckQuiet(t, nil)
}

func parseHex(s string) ([3]float64, bool) {
	if len(s) != 7 || s[0] != '#' {
		return [3]float64{}, false
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return [3]float64{}, false
	}
	return [3]float64{float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff)}, true
}

// contrast is the WCAG 2.2 contrast ratio.
func contrast(a, b [3]float64) float64 {
	lum := func(c [3]float64) float64 {
		var l [3]float64
		for i, v := range c {
			v /= 255
			if v <= 0.04045 {
				l[i] = v / 12.92
			} else {
				l[i] = math.Pow((v+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
	}
	la, lb := lum(a), lum(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}
