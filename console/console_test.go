package console

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestPick(t *testing.T) {
	tests := []struct{ asked, accept, want string }{
		{"", "", "en"},
		{"", "nl", "nl"},
		{"", "nl-BE,nl;q=0.9,en;q=0.8", "nl"},
		{"", "de-DE,de;q=0.9,en;q=0.5,nl;q=0.7", "nl"},
		{"", "fr", "en"},
		{"", "en;q=0.2,nl;q=0.3", "nl"},
		{"", "nl;q=abc,en", "en"},
		{"en", "nl", "en"},
		{"xx", "nl", "nl"},
	}
	for _, tt := range tests {
		if got := Pick(tt.asked, tt.accept); got != tt.want {
			t.Errorf("Pick(%q, %q) = %q; want %q", tt.asked, tt.accept, got, tt.want)
		}
	}
}

// TestTexts: every text the script and the page use exists in every
// console language, and no language has texts the others lack.
func TestTexts(t *testing.T) {
	js, err := os.ReadFile("assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile("assets/index.html.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bt\("([a-z_.-]+[a-z_-])"`).FindAllSubmatch(js, -1) {
		used[string(m[1])] = true
	}
	for _, m := range regexp.MustCompile(`"([a-z_]+\.[a-z_.-]+)"`).FindAllSubmatch(js, -1) {
		// Keys picked by a condition: t(x ? "a.b" : "c.d").
		if k := string(m[1]); strings.Count(k, ".") >= 1 && !strings.Contains(k, "/") && !strings.HasSuffix(k, ".") {
			if _, ok := mustTexts(t, "en")[k]; ok {
				used[k] = true
			}
		}
	}
	for _, m := range regexp.MustCompile(`index \.T "([a-z_.-]+)"`).FindAllSubmatch(html, -1) {
		used[string(m[1])] = true
	}
	// Keys built from data: states, origin states, time field helps.
	for _, s := range []string{"open", "degraded", "down", "forced", "maintenance", "read-only", "scheduled"} {
		used["state."+s] = true
	}
	for _, s := range []string{"up", "degraded", "down"} {
		used["origin."+s] = true
	}
	used["maint.start.help"], used["maint.end.help"] = true, true
	if len(used) < 150 {
		t.Fatalf("found %d text keys in the script; the pattern is broken", len(used))
	}
	var keys []string
	for _, lang := range Languages {
		texts := mustTexts(t, lang)
		for k := range used {
			if strings.TrimSpace(texts[k]) == "" {
				t.Errorf("%s: no text for %q", lang, k)
			}
		}
		var ks []string
		for k := range texts {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		if keys == nil {
			keys = ks
		} else if !slices.Equal(keys, ks) {
			t.Errorf("%s has other keys than %s", lang, Languages[0])
		}
	}
}

func mustTexts(t *testing.T, lang string) map[string]string {
	t.Helper()
	texts, err := Texts(lang)
	if err != nil {
		t.Fatal(err)
	}
	return texts
}

// TestServe: the page in the asked language with its security headers; the
// files under hashed names, cacheable; anything else is not found.
func TestServe(t *testing.T) {
	h, err := New(Options{PageLanguages: []string{"en", "nl", "de"}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Accept-Language", accept)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := get("/ui/", "nl-NL")
	body := w.Body.String()
	if w.Code != 200 || w.Header().Get("Content-Language") != "nl" || !strings.Contains(body, `<html lang="nl">`) || !strings.Contains(body, "Naar de inhoud") {
		t.Fatalf("GET /ui/ in Dutch: %d %q\n%.300s", w.Code, w.Header().Get("Content-Language"), body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); csp != CSP || !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "Vary": "Accept-Language"} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q; want %q", k, got, v)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("the page has an inline script, an inline style, or a link to another host")
	}
	if w := get("/ui/?lang=en", "nl"); !strings.Contains(w.Body.String(), `<html lang="en">`) {
		t.Error("?lang=en did not win over Accept-Language")
	}
	var script string
	for p := range h.assets {
		if strings.HasSuffix(p, ".js") {
			script = p
		}
	}
	if !strings.Contains(body, `src="`+script+`"`) {
		t.Fatalf("the page does not load %s", script)
	}
	w = get(script, "")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("GET %s: %d %v", script, w.Code, w.Header())
	}
	if bytes, _ := os.ReadFile("assets/app.js"); w.Body.String() != string(bytes) {
		t.Error("the served script is not assets/app.js")
	}
	for _, p := range []string{"/ui/app.js", "/ui/index.html.tmpl", "/ui/../texts/en.json", "/ui/x"} {
		if w := get(p, ""); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d; want 404", p, w.Code)
		}
	}
}

// TestNoHTMLStrings: the script builds the DOM with element calls only; the
// page enforces Trusted Types, and a string sink would throw there.
func TestNoHTMLStrings(t *testing.T) {
	js, err := os.ReadFile("assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "srcdoc", "eval(", "new Function", "setAttribute(\"style\"", "javascript:"} {
		if strings.Contains(string(js), sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
}

// TestCountTextsHaveOne: a text that counts things ("{n} tokens") has a
// ".one" text for a count of one in every language, which t() picks, so
// the console never says "1 tokens".
func TestCountTextsHaveOne(t *testing.T) {
	counted := regexp.MustCompile(`^\{(n|total)\} [a-z]+s\b`)
	n := 0
	for k, v := range mustTexts(t, "en") {
		if !counted.MatchString(v) || strings.HasSuffix(k, ".one") {
			continue
		}
		n++
		for _, lang := range Languages {
			if one := mustTexts(t, lang)[k+".one"]; !strings.HasPrefix(one, "1 ") {
				t.Errorf("%s: %q counts things but %s.one is %q; want the text for one", lang, v, k, one)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d counting texts; the pattern is broken?", n)
	}
}
