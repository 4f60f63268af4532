package console_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/awningproxy/awning/internal/testkit/chrome"
	"github.com/chromedp/chromedp"
)

// TestConsoleMerchantTextIsInert: a merchant writes markup into every free
// text of its page (brand, message, reassurance) and ops into a
// maintenance message and an incident update; the console shows them to
// ops and to the merchant on every screen that has them, in Chromium, as
// text: no element of theirs in the page, no script run, no CSP
// violation, and the preview frame's bytes escaped.
func TestConsoleMerchantTextIsInert(t *testing.T) {
	s := startShop(t)
	const mark = `<img src="x" onerror="window.pwned=1"><script>window.pwned=1</script><svg onload="window.pwned=1"></svg>"'` + "`" + `</textarea></title>`
	const short = `<img src="x" onerror="window.pwned=1">"'` + "`" + `</title>` // the brand's 80 characters
	branding, _ := json.Marshal(map[string]any{
		"brand":       "Bakkerij " + short,
		"message":     map[string]string{"nl": "nl " + mark, "en": "en " + mark},
		"reassurance": map[string][]string{"nl": {"r " + mark}},
	})
	if st, body := s.api(t, "PUT", "/v1/sites/bakkerij/page", string(branding), bakkerToken, nil, ""); st != 200 {
		t.Fatalf("merchant's branding: %d %s", st, body)
	}
	text, _ := json.Marshal(map[string]any{"message": map[string]string{"nl": "u " + mark, "en": "u " + mark}})
	if st, body := s.api(t, "POST", "/v1/sites/bakkerij/updates", string(text), opsToken, nil, ""); st != 201 {
		t.Fatalf("update: %d %s", st, body)
	}
	maint, _ := json.Marshal(map[string]any{"enabled": true, "start": "2099-01-01T00:00:00Z", "message": map[string]string{"de": "m " + mark}})
	if st, body := s.api(t, "PUT", "/v1/sites/winkel/maintenance", string(maint), opsToken, nil, ""); st != 200 {
		t.Fatalf("maintenance: %d %s", st, body)
	}

	inert := func(b *chrome.Browser, screen string) {
		t.Helper()
		got := chrome.Eval[string](t, b, `(() => {
			const bad = [...document.querySelectorAll("img[src='x'], svg[onload], [onerror], [onload], script:not([src]):not([type='application/json'])")];
			return (window.pwned ? "script ran; " : "") + bad.map(e => e.outerHTML).join(" ");
		})()`)
		if got != "" {
			t.Errorf("%s: the merchant's markup is markup: %s", screen, got)
		}
	}
	for _, who := range []struct{ name, token string }{{"ops", opsToken}, {"merchant", bakkerToken}} {
		st, body := s.api(t, "POST", "/v1/session/link", "", who.token, nil, "")
		var link struct{ Path string }
		json.Unmarshal([]byte(body), &link)
		if st != 201 {
			t.Fatalf("%s: sign-in link: %d %s", who.name, st, body)
		}
		b := chrome.New(t, "console.localhost")
		b.Language(t, "nl-NL,nl;q=0.9")
		b.Do(t, "desktop", chromedp.EmulateViewport(1280, 900))
		b.Open(t, s.ui+link.Path)
		if who.name == "ops" {
			waitScreen(t, b, "the overview", `location.hash === "#/sites" && document.querySelectorAll("table.sites tbody tr").length === 2`)
			inert(b, "ops: overview")
			b.Do(t, "open bakkerij", chromedp.Evaluate[chromedp.Void](`location.hash = "#/site/bakkerij"`))
		}
		waitScreen(t, b, "the site", `location.hash === "#/site/bakkerij" && !!document.querySelector(".contrast p")`)
		if who.name == "ops" {
			b.WaitTrue(t, "the update listed", `document.querySelectorAll(".update-list li").length === 1`)
			if got := chrome.Eval[string](t, b, `document.querySelector(".update-list li").textContent`); !strings.Contains(got, `<img src="x"`) {
				t.Errorf("ops: the update is not shown as text: %q", got)
			}
		}
		if got := chrome.Eval[string](t, b, `document.querySelector(".brand-form input[name=brand]").value`); !strings.Contains(got, short) {
			t.Errorf("%s: the brand field holds %q; want the merchant's text as it is", who.name, got)
		}
		waitPreview(t, b)
		inert(b, who.name+": site")
		if got := chrome.Eval[string](t, b, `fetch(document.querySelector(".preview-frame").src).then(r => r.text()).then(h =>
			(h.includes("<img src=\"x\"") || h.includes("<script>window.pwned") || h.includes("<svg onload")) ? "markup" :
			h.includes("&lt;img src=") ? "text" : "neither")`); got != "text" {
			t.Errorf("%s: the preview's bytes hold the merchant's markup as %s", who.name, got)
		}
		if who.name == "ops" {
			b.Do(t, "winkel", chromedp.Evaluate[chromedp.Void](`location.hash = "#/site/winkel"`))
			waitScreen(t, b, "winkel", `location.hash === "#/site/winkel" && !!document.querySelector(".maint-form")`)
			inert(b, "ops: winkel with its maintenance message")
			b.Do(t, "audit", chromedp.Evaluate[chromedp.Void](`location.hash = "#/audit"`))
			waitScreen(t, b, "the audit log", `location.hash === "#/audit" && document.querySelectorAll("table tbody tr").length > 0`)
			inert(b, "ops: audit")
		}
		b.CheckOnly(t, adminHost(s))
		b.CheckQuiet(t, nil)
	}
}
