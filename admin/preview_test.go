package admin

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestDraftPreview: a merchant previews a change before saving it; the
// draft changes nothing shoppers get, belongs to its caller, and the
// preview runs no script.
func TestDraftPreview(t *testing.T) {
	e := newConsoleEnv(t, "")
	before := e.store.Version()
	logo := base64.StdEncoding.EncodeToString(testPNG(t, 40, 40))
	st, body := e.call(t, bakkerToken, "PUT", "/v1/sites/bakkerij/page/draft", "application/json",
		[]byte(`{"color": "#336699", "message": {"nl": "Even geduld, de oven warmt op."}, "logo": "`+logo+`"}`))
	if st != 200 || !strings.Contains(body, "/v1/sites/bakkerij/page/preview?draft=1") || !strings.Contains(body, `"accent": "#336699"`) {
		t.Fatalf("draft: %d %s", st, body)
	}
	st, html := e.call(t, bakkerToken, "GET", "/v1/sites/bakkerij/page/preview?draft=1&lang=nl", "", nil)
	if st, body := e.call(t, bakkerToken, "GET", "/v1/sites/bakkerij/page/config", "", nil); st != 200 || !strings.Contains(body, `"languages": [`) {
		t.Errorf("page config: %d %s", st, body)
	}
	if st != 200 || !strings.Contains(html, "--brand:#336699") || !strings.Contains(html, "Even geduld, de oven warmt op.") || !strings.Contains(html, "data:image/png;base64,") {
		t.Fatalf("draft preview: %d; want the draft's colour, message and logo:\n%.400s", st, html)
	}
	if strings.Contains(html, "<script") {
		t.Error("the preview carries a script; a preview is never run")
	}
	if v := e.store.Version(); v != before {
		t.Errorf("a draft changed the state (version %d → %d)", before, v)
	}
	st, html = e.call(t, bakkerToken, "GET", "/v1/sites/bakkerij/page/preview?lang=nl", "", nil)
	if st != 200 || strings.Contains(html, "#336699") || strings.Contains(html, "<script") {
		t.Errorf("the saved page's preview: %d, shows the draft or a script", st)
	}
	// A colour that does not read on white gets a darker accent.
	if _, body := e.call(t, bakkerToken, "PUT", "/v1/sites/bakkerij/page/draft", "application/json", []byte(`{"color": "#ffff00"}`)); strings.Contains(body, `"accent": "#ffff00"`) || !strings.Contains(body, `"brand_on_white": 1.07`) {
		t.Errorf("yellow's palette: %s; want a darker accent and a contrast of 1.07 on white", body)
	}
	// Another caller (ops) has no draft of bakkerij.
	if st, _ := e.call(t, opsToken, "GET", "/v1/sites/bakkerij/page/preview?draft=1", "", nil); st != 404 {
		t.Errorf("ops reading the merchant's draft: %d; want 404", st)
	}
	tests := []struct {
		name, token, path, body string
		want                    int
	}{
		{"bad colour", bakkerToken, "/v1/sites/bakkerij/page/draft", `{"color": "blue"}`, 400},
		{"language the site does not show", bakkerToken, "/v1/sites/bakkerij/page/draft", `{"message": {"de": "x"}}`, 400},
		{"unknown field", bakkerToken, "/v1/sites/bakkerij/page/draft", `{"colour": "#fff"}`, 400},
		{"another shop", bakkerToken, "/v1/sites/winkel/page/draft", `{"color": "#fff"}`, 404},
		{"too large", bakkerToken, "/v1/sites/bakkerij/page/draft", `{"brand": "` + strings.Repeat("a", maxDraftBody) + `"}`, 413},
	}
	for _, tt := range tests {
		if st, body := e.call(t, tt.token, "PUT", tt.path, "application/json", []byte(tt.body)); st != tt.want {
			t.Errorf("%s: %d %s; want %d", tt.name, st, body, tt.want)
		}
	}
}

// TestMerchantLanguages: a merchant's languages and time zone replace the
// config's for everything that names a language: their texts, ops'
// maintenance messages, previews.
func TestMerchantLanguages(t *testing.T) {
	e := newConsoleEnv(t, "")
	page := `{"languages": ["de", "en"], "timezone": "Europe/Berlin", "message": {"de": "Gleich zurück"}}`
	if st, body := e.call(t, bakkerToken, "PUT", "/v1/sites/bakkerij/page", "application/json", []byte(page)); st != 200 || !strings.Contains(body, `"timezone": "Europe/Berlin"`) {
		t.Fatalf("PUT page with languages: %d %s", st, body)
	}
	tests := []struct {
		name, token, method, path, body string
		want                            int
	}{
		{"ops message in a language the merchant added", opsToken, "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true, "message": {"de": "Wartung"}}`, 200},
		{"ops message in a language the merchant dropped", opsToken, "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true, "message": {"nl": "Onderhoud"}}`, 400},
		{"preview in an added language", bakkerToken, "GET", "/v1/sites/bakkerij/page/preview?lang=de", "", 200},
		{"preview in a dropped language", bakkerToken, "GET", "/v1/sites/bakkerij/page/preview?lang=nl", "", 400},
		{"texts in a dropped language", bakkerToken, "PUT", "/v1/sites/bakkerij/page", `{"message": {"nl": "x"}}`, 400},
		{"unknown language", bakkerToken, "PUT", "/v1/sites/bakkerij/page", `{"languages": ["nl", "xx"]}`, 400},
		{"no such zone", bakkerToken, "PUT", "/v1/sites/bakkerij/page", `{"timezone": "Europe/Atlantis"}`, 400},
	}
	for _, tt := range tests {
		if st, body := e.call(t, tt.token, tt.method, tt.path, "application/json", []byte(tt.body)); st != tt.want {
			t.Errorf("%s: %d %s; want %d", tt.name, st, strings.TrimSpace(body), tt.want)
		}
	}
	// (This API's store is not wired to its proxy, as the node wires them:
	// the draft shows what the page renders with the merchant's languages.)
	e.call(t, bakkerToken, "PUT", "/v1/sites/bakkerij/page/draft", "application/json", []byte(page))
	if _, html := e.call(t, bakkerToken, "GET", "/v1/sites/bakkerij/page/preview?draft=1&lang=de", "", nil); !strings.Contains(html, "Gleich zurück") || !strings.Contains(html, `<html lang="de"`) {
		t.Errorf("the German preview does not show the merchant's German message:\n%.300s", html)
	}
}
