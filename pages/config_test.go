package pages

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/awningproxy/awning/config"
)

// writeConfig writes a one-site config whose page: is pageYAML, plus the
// given extra files, into a temporary directory, and loads it.
func writeConfig(t *testing.T, pageYAML string, files map[string][]byte) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yaml := "sites:\n  - name: bakkerij\n    hosts: [bakkerij.example]\n    origin: {urls: [\"http://127.0.0.1:1\"]}\n    page:\n" + pageYAML
	path := filepath.Join(dir, "awning.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	return cfg
}

func TestFromConfig(t *testing.T) {
	custom, err := os.ReadFile("testdata/custom.html")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, `
      brand: "Bakkerij de Vries"
      languages: [nl, en]
      color: "#b5651d"
      logo: logo.png
      template: custom.html
      timezone: Europe/Amsterdam
      retry_after: 1m
      reassurance: {nl: ["Je bestelling is veilig."]}
`, map[string][]byte{"logo.png": readLogo(t), "custom.html": custom})
	site, err := FromConfig(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if site.Location.String() != "Europe/Amsterdam" || site.RetryAfter.Seconds() != 60 || len(site.Branding.Logo) == 0 || site.Template == nil {
		t.Errorf("site %+v: want the zone, retry_after, logo and template from the file", site)
	}
	set, err := Render(site, State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := set.Outage.Variants()[0].HTML
	for _, want := range []string{"<script>", "background:#f0e7de", "Georgia"} {
		if !bytes.Contains(v, []byte(want)) {
			t.Errorf("custom page lacks %q", want)
		}
	}
	if !bytes.Contains(v, []byte(`<img src="`+set.Logo.Path+`"`)) {
		t.Errorf("the custom template was not used:\n%s", v)
	}
	if csp := set.Outage.CSP(); !strings.Contains(csp, "script-src "+returnJSHash+";") || !strings.Contains(csp, "style-src 'unsafe-inline'") {
		t.Errorf("custom template CSP = %q; want Awning's script by hash and inline styles", csp)
	}
}

// TestFromConfigErrors checks that what only pages can check is reported
// at the right place in the file.
func TestFromConfigErrors(t *testing.T) {
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)
	tests := []struct {
		name  string
		page  string
		files map[string][]byte
		want  string
	}{
		{"unknown language", "      languages: [nl, xx, en]\n", nil,
			`awning.yaml:6:23: sites[0].page.languages[1]: no translations for "xx"; pages speak da, de, en, es, fr, it, nl, pl, sv`},
		{"missing logo", "      logo: nope.png\n", nil,
			`awning.yaml:6:13: sites[0].page.logo: open `},
		{"svg logo", "      logo: logo.png\n", map[string][]byte{"logo.png": svg},
			`awning.yaml:6:13: sites[0].page.logo: SVG is not accepted (it can carry scripts); export a PNG or WebP`},
		{"logo too big", "      logo: big.png\n", map[string][]byte{"big.png": pngOf(400, 400, true)},
			`awning.yaml:6:13: sites[0].page.logo: `},
		{"message too long", "      message: {en: \"" + strings.Repeat("a", 601) + "\"}\n", nil,
			`awning.yaml:6:21: sites[0].page.message.en: 601 characters; at most 600`},
		{"reassurance too long", "      languages: [en]\n      reassurance: {en: [ok, \"" + strings.Repeat("b", 161) + "\"]}\n", nil,
			`awning.yaml:7:30: sites[0].page.reassurance.en[1]: 161 characters; at most 160`},
		{"template syntax", "      template: t.html\n", map[string][]byte{"t.html": []byte("<p>{{.Brand</p>")},
			`awning.yaml:6:17: sites[0].page.template: template: t.html:1: `},
		{"template without head", "      template: t.html\n", map[string][]byte{"t.html": []byte("<p>{{.Brand}}</p>")},
			`awning.yaml:6:17: sites[0].page.template: the custom template must write {{.Head}} inside <head>`},
		{"template with an undocumented field", "      template: t.html\n", map[string][]byte{"t.html": []byte("<head>{{.Head}}</head>{{.Secret}}")},
			`awning.yaml:6:17: sites[0].page.template: render the outage page: template: t.html:1:24: executing "t.html" at <.Secret>: can't evaluate field Secret in type *pages.Data`},
		{"template failing only with updates", "      template: t.html\n", map[string][]byte{"t.html": []byte("<head>{{.Head}}</head>{{range .Blocks}}{{range .Updates}}{{.Nope}}{{end}}{{end}}")},
			`awning.yaml:6:17: sites[0].page.template: render the outage page: template: t.html:1:59: executing "t.html" at <.Nope>: can't evaluate field Nope in type pages.UpdateView`},
		{"missing template", "      template: nope.html\n", nil,
			`awning.yaml:6:17: sites[0].page.template: open `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.page, tt.files)
			_, err := FromConfig(cfg, 0)
			if err == nil {
				t.Fatal("FromConfig succeeded; want an error")
			}
			errs, ok := err.(config.Errors)
			if !ok {
				t.Fatalf("error is %T; want config.Errors", err)
			}
			got := strings.TrimPrefix(err.Error(), filepath.Dir(cfg.File)+string(filepath.Separator))
			if !strings.Contains(got, tt.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", got, tt.want)
			}
			if len(errs) != 1 {
				t.Errorf("%d errors; want 1", len(errs))
			}
		})
	}
}

// TestConfigTextInvisibleCharacters: a bidi override or zero-width space in
// the config's page texts or stale banner is an error naming the field.
func TestConfigTextInvisibleCharacters(t *testing.T) {
	cfg := writeConfig(t, `
      brand: "Bakkerij \u202Eseirv"
      languages: [nl, en]
      message: {nl: "Even geduld\u200B"}
`, nil)
	cfg.Sites[0].Cache.BannerText = map[string]string{"en": "Saved copy\u2067"}
	_, err := FromConfig(cfg, 0)
	if err == nil {
		t.Fatal("accepted invisible characters")
	}
	for _, want := range []string{"sites[0].page.brand", "sites[0].page.message.nl", "sites[0].cache.banner_text.en", "U+202E", "U+200B", "U+2067"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestSitesShareTheirZone: sites in one time zone share one
// *time.Location, loaded once.
func TestSitesShareTheirZone(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`
sites:
  - name: a
    hosts: [a.example]
    origin: {urls: ["http://127.0.0.1:1"]}
    page: {timezone: Europe/Amsterdam}
  - name: b
    hosts: [b.example]
    origin: {urls: ["http://127.0.0.1:1"]}
    page: {timezone: Europe/Amsterdam}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := FromConfig(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromConfig(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Location != b.Location || a.Location.String() != "Europe/Amsterdam" {
		t.Errorf("locations %p %p (%v); want one Europe/Amsterdam", a.Location, b.Location, a.Location)
	}
}
