package pages

import (
	"html/template"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// payloads are classic injection attempts, each marked with "pwn" so that
// a payload surviving as markup, attribute or script is easy to find.
var payloads = []string{
	`<script>alert("pwn")</script>`,
	`"><img src=x onerror=alert('pwn')>`,
	`' onmouseover='alert(1)' data-pwn='`,
	`</title><script>pwn()</script>`,
	`</style><script>pwn()</script>`,
	`<svg onload=pwn()>`,
	`javascript:alert('pwn')`,
	`{{.Head}}pwn`,
	"\u2028pwn\u2029",
	`<a href="javascript:pwn()">pwn</a>`,
	`<iframe src="https://evil.example/pwn"></iframe>`,
	`&lt;script&gt;pwn&lt;/script&gt;`,
}

var hostileLinks = []string{
	`javascript:alert('pwn')`,
	`JaVaScRiPt:alert('pwn')`,
	`data:text/html,<script>pwn()</script>`,
	`https://ok.example/"><script>pwn()</script>`,
	`https://ok.example/' onclick='pwn()`,
	`http://plain.example/pwn`,
	`//evil.example/pwn`,
	` javascript:pwn()`,
	`vbscript:pwn`,
	`https://ok.example/pwn`, // a good one, for contrast
}

var hostileContacts = []string{
	`"><script>pwn()</script>@evil.example`,
	`pwn@evil.example?cc=victim@example.com&body=<script>`,
	`javascript:alert('pwn')`,
	`mailto:pwn@evil.example`,
	`pwn@evil.example`,
}

// TestXSSInert renders every merchant and ops text and link field with
// injection attempts, in the default design and in a custom template, and
// checks that the browser would see them as text: one script (Awning's),
// no event handlers, no links but https: and mailto:, nothing loaded.
// Render is given the hostile data unvalidated: escaping must hold even if
// stored data skipped Validate.
func TestXSSInert(t *testing.T) {
	custom := template.Must(template.New("custom").Parse(`<!doctype html><html lang="{{.Lang}}"><head><title>{{.Brand}}</title>{{.Head}}</head><body>
<h1 data-brand="{{.Brand}}">{{.Title}}</h1><a href="{{.StatusURL}}">s</a><a href="{{.ContactURL}}">{{.Contact}}</a>
{{range .Blocks}}<section lang="{{.Lang}}" title="{{.Title}}">{{range .Message}}<p>{{.}}</p>{{end}}{{range .Reassurance}}<i>{{.}}</i>{{end}}
{{range .Updates}}<p lang="{{.Lang}}">{{.Message}}</p>{{end}}</section>{{end}}
<script type="application/json" id="d">{"brand": {{.Brand}}}</script></body></html>`))

	for i, p := range payloads {
		for _, tmpl := range []*template.Template{nil, custom} {
			site := &Site{
				Name:      "shop",
				Languages: []string{"en", "nl"},
				Template:  tmpl,
				Branding: Branding{
					Brand:       p,
					Color:       `#fff;}</style><script>pwn()</script>`,
					StatusURL:   hostileLinks[i%len(hostileLinks)],
					Contact:     hostileContacts[i%len(hostileContacts)],
					Message:     map[string]string{"en": p, "nl": p + "\n\n" + p},
					Reassurance: map[string][]string{"en": {p, p}, "nl": {p}},
				},
			}
			st := State{
				Updates: []Update{{ID: "x", Time: time.Unix(0, 0), Message: map[string]string{"en": p, "xx": p}}},
				Window:  &Window{Mode: WindowMode(p), Message: map[string]string{"en": p, "nl": p}, End: time.Unix(3600, 0)},
			}
			set, err := Render(site, st, Options{})
			if tmpl != nil && err != nil && strings.Contains(err.Error(), "{{.Head}}") {
				continue
			}
			if err != nil {
				t.Fatalf("payload %q: %v", p, err)
			}
			for _, pg := range []*Page{set.Outage, set.Maintenance} {
				for _, v := range pg.Variants() {
					checkInert(t, p, v.HTML)
				}
				if js := pg.AppendJSON(nil, time.Unix(0, 0)); strings.Contains(string(js), "<script") {
					t.Errorf("payload %q: JSON carries markup unescaped: %s", p, js)
				}
			}
		}
	}
	for _, link := range hostileLinks {
		for _, contact := range hostileContacts {
			site := &Site{Name: "shop", Languages: []string{"en"}, Branding: Branding{StatusURL: link, Contact: contact}}
			set, err := Render(site, State{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkInert(t, link+" "+contact, set.Outage.Variants()[0].HTML)
		}
	}
}

func checkInert(t *testing.T, payload string, page []byte) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(string(page)))
	if err != nil {
		t.Fatal(err)
	}
	scripts := 0
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script":
			if attr(n, "type") == "application/json" {
				if strings.Contains(text(n), "<") {
					t.Errorf("payload %q: JSON block holds a raw <", payload)
				}
				return
			}
			scripts++
			if text(n) != returnJS {
				t.Errorf("payload %q: a script that is not Awning's: %.80q", payload, text(n))
			}
		case "iframe", "svg", "object", "embed", "form", "base":
			t.Errorf("payload %q: a <%s> element made it into the page", payload, n.Data)
		case "img":
			if src := attr(n, "src"); !strings.HasPrefix(src, LogoPathPrefix) {
				t.Errorf("payload %q: <img src=%q>", payload, src)
			}
		}
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			if strings.HasPrefix(k, "on") || strings.Contains(k, "pwn") {
				t.Errorf("payload %q: attribute %s=%q on <%s>", payload, a.Key, a.Val, n.Data)
			}
			if k == "href" || k == "src" {
				v := strings.ToLower(a.Val)
				ok := strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "mailto:") ||
					strings.HasPrefix(v, "/.well-known/awning/") || v == "data:," || v == "#zgotmplz" || v == ""
				if !ok || strings.Contains(v, "javascript") || strings.Contains(v, "<") || strings.Contains(v, `"`) {
					t.Errorf("payload %q: %s=%q on <%s>", payload, a.Key, a.Val, n.Data)
				}
			}
		}
	})
	if scripts != 1 {
		t.Errorf("payload %q: %d scripts; want Awning's one", payload, scripts)
	}
	for _, s := range find(doc, "style") {
		if strings.Contains(text(s), "pwn") || strings.Contains(text(s), "<") {
			t.Errorf("payload %q: the style element carries it: %.100q", payload, text(s))
		}
	}
}

func TestValidateBranding(t *testing.T) {
	logo := readLogo(t)
	tests := []struct {
		name string
		b    Branding
		want []string // bad fields, in order
	}{
		{"empty is valid", Branding{}, nil},
		{"all good", Branding{
			Brand: "Bakkerij de Vries", Color: "#B5651D", StatusURL: "https://status.example/shop?x=1",
			Contact: "hallo@bakkerij.example", Message: map[string]string{"nl": "Even geduld.\n\nWe zijn er zo weer."},
			Reassurance: map[string][]string{"en": {"Your orders are safe."}}, Logo: logo,
		}, nil},
		{"https contact", Branding{Contact: "https://bakkerij.example/contact"}, nil},
		{"short colour", Branding{Color: "#abc"}, nil},
		{"colour name", Branding{Color: "brown"}, []string{"color"}},
		{"colour without #", Branding{Color: "b5651d"}, []string{"color"}},
		{"colour with alpha", Branding{Color: "#b5651dff"}, []string{"color"}},
		{"colour injection", Branding{Color: "#fff;}"}, []string{"color"}},
		{"brand too long", Branding{Brand: strings.Repeat("é", MaxBrandLen+1)}, []string{"brand"}},
		{"brand with a newline", Branding{Brand: "a\nb"}, []string{"brand"}},
		{"brand with a NUL", Branding{Brand: "a\x00b"}, []string{"brand"}},
		{"brand not UTF-8", Branding{Brand: "\xff"}, []string{"brand"}},
		{"status http", Branding{StatusURL: "http://status.example"}, []string{"status_url"}},
		{"status javascript", Branding{StatusURL: "javascript:alert(1)"}, []string{"status_url"}},
		{"status relative", Branding{StatusURL: "/status"}, []string{"status_url"}},
		{"status with user", Branding{StatusURL: "https://u:p@status.example"}, []string{"status_url"}},
		{"status with quote", Branding{StatusURL: `https://status.example/"x`}, []string{"status_url"}},
		{"status too long", Branding{StatusURL: "https://status.example/" + strings.Repeat("a", MaxURLLen)}, []string{"status_url"}},
		{"contact display name", Branding{Contact: "Shop <shop@example.com>"}, []string{"contact"}},
		{"contact mailto", Branding{Contact: "mailto:shop@example.com"}, []string{"contact"}},
		{"contact http", Branding{Contact: "http://shop.example/contact"}, []string{"contact"}},
		{"contact with query", Branding{Contact: "shop@example.com?cc=x@example.com"}, []string{"contact"}},
		{"message unknown language", Branding{Message: map[string]string{"xx": "hi"}}, []string{"message.xx"}},
		{"message too long", Branding{Message: map[string]string{"en": strings.Repeat("a", MaxMessageLen+1)}}, []string{"message.en"}},
		{"message empty", Branding{Message: map[string]string{"en": "  "}}, []string{"message.en"}},
		{"message control", Branding{Message: map[string]string{"en": "a\u2028b"}}, []string{"message.en"}},
		{"message right-to-left override", Branding{Message: map[string]string{"nl": "Gesloten \u202Egnidlemuk"}}, []string{"message.nl"}},
		{"message isolate", Branding{Message: map[string]string{"nl": "a\u2066b\u2069"}}, []string{"message.nl"}},
		{"brand zero width space", Branding{Brand: "Bakk\u200Berij"}, []string{"brand"}},
		{"brand zero width joiner", Branding{Brand: "a\u200Db"}, []string{"brand"}},
		{"brand left-to-right mark", Branding{Brand: "a\u200Eb"}, []string{"brand"}},
		{"brand BOM", Branding{Brand: "\uFEFFBakkerij"}, []string{"brand"}},
		{"reassurance soft hyphen", Branding{Reassurance: map[string][]string{"de": {"Bestell\u00ADungen"}}}, []string{"reassurance.de[0]"}},
		{"accents and emoji are fine", Branding{Brand: "Café Ñandú 🥐", Message: map[string]string{"pl": "Zażółć gęślą jaźń"}}, nil},
		{"too many reassurances", Branding{Reassurance: map[string][]string{"en": {"a", "b", "c", "d", "e", "f"}}}, []string{"reassurance.en"}},
		{"reassurance too long", Branding{Reassurance: map[string][]string{"nl": {"ok", strings.Repeat("a", MaxReassuranceLen+1)}}}, []string{"reassurance.nl[1]"}},
		{"reassurance empty", Branding{Reassurance: map[string][]string{"nl": {""}}}, []string{"reassurance.nl[0]"}},
		{"reassurance unknown language", Branding{Reassurance: map[string][]string{"tlh": {"Qapla'"}}}, []string{"reassurance.tlh"}},
		{"several at once", Branding{Color: "red", StatusURL: "http://x", Logo: []byte("GIF89a")}, []string{"color", "status_url", "logo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.Validate()
			var got []string
			if fe, ok := err.(FieldErrors); ok {
				for _, e := range fe {
					got = append(got, e.Field)
				}
			} else if err != nil {
				t.Fatalf("error %T %v; want FieldErrors", err, err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("bad fields %q (%v); want %q", got, err, tt.want)
			}
		})
	}
}

func TestValidateUpdateAndWindow(t *testing.T) {
	now := time.Date(2025, 1, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    interface{ Validate() error }
		want string
	}{
		{"good update", &Update{ID: "db-1", Time: now, Message: map[string]string{"nl": "Opgelost."}}, ""},
		{"update without anything", &Update{}, `id: want 1 to 64 letters, digits, dashes or underscores, got ""; time: required; message: at least one language is required`},
		{"update bad id", &Update{ID: "a b", Time: now, Message: map[string]string{"en": "x"}}, `id: want 1 to 64 letters, digits, dashes or underscores, got "a b"`},
		{"update unknown language", &Update{ID: "a", Time: now, Message: map[string]string{"pt": "x"}}, `message.pt: unknown language "pt" (pages speak da, de, en, es, fr, it, nl, pl, sv)`},
		{"good window", &Window{Mode: ReadOnly, Start: now, End: now.Add(time.Hour)}, ""},
		{"zero window", &Window{}, ""},
		{"window bad mode", &Window{Mode: "partial"}, `mode: want full or read-only, got "partial"`},
		{"window ends before it starts", &Window{Start: now, End: now.Add(-time.Hour)}, `end: 2025-01-14T11:00:00Z is not after start 2025-01-14T12:00:00Z`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.v.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q; want %q", got, tt.want)
			}
		})
	}
}
