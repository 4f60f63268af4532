package pages

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "rewrite golden files")

func amsterdam(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func readLogo(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/logo.png")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture is the bakery with everything a page can show: logo, links,
// reassurance lines, two updates (one written in Dutch only) and a
// maintenance window with an end.
func fixture(t testing.TB, langs ...string) (*Site, State) {
	t.Helper()
	loc := amsterdam(t)
	site := &Site{
		Name:      "bakkerij",
		Languages: langs,
		Location:  loc,
		Branding: Branding{
			Brand:     "Bakkerij de Vries",
			Color:     "#b5651d",
			StatusURL: "https://status.bakkerij.example/",
			Contact:   "hallo@bakkerij.example",
			Logo:      readLogo(t),
			Reassurance: map[string][]string{
				"nl": {"Je bestellingen en betalingen zijn veilig.", "Bestellingen van vandaag worden gewoon bezorgd."},
				"en": {"Your orders and payments are safe.", "Today’s orders will be delivered as planned."},
				"de": {"Ihre Bestellungen und Zahlungen sind sicher."},
				"fr": {"Vos commandes et paiements sont en sécurité."},
			},
		},
	}
	st := State{
		Updates: []Update{
			{ID: "u1", Time: time.Date(2025, 1, 14, 11, 5, 0, 0, loc), Message: map[string]string{
				"nl": "We hebben de oorzaak gevonden en werken aan een oplossing.",
				"en": "We found the cause and are working on a fix.",
				"de": "Wir haben die Ursache gefunden und arbeiten an einer Lösung.",
				"fr": "Nous avons trouvé la cause et préparons un correctif.",
			}},
			{ID: "u2", Time: time.Date(2025, 1, 14, 12, 40, 0, 0, loc), Message: map[string]string{
				"nl": "De eerste systemen draaien weer.",
			}},
		},
		Window: &Window{End: time.Date(2025, 1, 14, 14, 0, 0, 0, loc)},
	}
	return site, st
}

// TestGolden renders the default design for each mode and two language
// pairs, in both orders, and compares with testdata/golden. Run
// `go test ./pages -update` to accept a deliberate change, and look at the
// diff and at the screenshots (TestBrowser) before committing it.
func TestGolden(t *testing.T) {
	for _, pair := range [][]string{{"nl", "en"}, {"de", "fr"}} {
		site, st := fixture(t, pair...)
		if pair[0] == "de" {
			st.Window.Mode = ReadOnly
		}
		set, err := Render(site, st, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// The answer to a form differs only in <head>: it returns to the
		// page the form was on.
		form := set.Outage.FormVariants()[0]
		t.Run("outage-form-"+pair[0], func(t *testing.T) {
			golden(t, "outage-form-"+strings.ReplaceAll(form.ContentLanguage, ", ", "-")+".html", form.HTML)
		})
		for _, p := range []*Page{set.Outage, set.Maintenance, set.Unconfirmed} {
			for _, v := range p.Variants() {
				name := string(p.Mode()) + "-" + strings.ReplaceAll(v.ContentLanguage, ", ", "-")
				t.Run(name, func(t *testing.T) {
					golden(t, name+".html", v.HTML)
				})
			}
			t.Run(string(p.Mode())+"-"+strings.Join(pair, "-")+".json", func(t *testing.T) {
				now := time.Date(2025, 1, 14, 12, 0, 0, 0, time.UTC) // an hour before the end
				golden(t, string(p.Mode())+"-"+strings.Join(pair, "-")+".json", p.AppendJSON(nil, now))
			})
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./pages -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./pages -update to accept)\n%s", path, firstDiff(got, want))
	}
}

func firstDiff(got, want []byte) string {
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			return "line " + itoa(i+1) + ":\ngot:  " + g + "\nwant: " + w
		}
	}
	return ""
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func TestLanguageOrderAndAttributes(t *testing.T) {
	site, st := fixture(t, "nl", "en", "de")
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		accept   string
		wantLang string
		wantCL   string
		wantH1   string
	}{
		{"", "nl", "nl, en, de", "We zijn zo terug"},
		{"en-GB,en;q=0.9", "en", "en, nl, de", "We’ll be right back"},
		{"de-CH", "de", "de, nl, en", "Wir sind gleich wieder da"},
		{"fr", "nl", "nl, en, de", "We zijn zo terug"},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			v := set.Outage.Variants()[set.Outage.Pick([]byte(tt.accept))]
			if v.Lang != tt.wantLang || v.ContentLanguage != tt.wantCL {
				t.Errorf("variant %s (%s); want %s (%s)", v.Lang, v.ContentLanguage, tt.wantLang, tt.wantCL)
			}
			doc := parseHTML(t, v.HTML)
			if got := attr(find(doc, "html")[0], "lang"); got != tt.wantLang {
				t.Errorf("<html lang=%q>; want %q", got, tt.wantLang)
			}
			var sections []string
			for _, s := range find(doc, "section") {
				sections = append(sections, attr(s, "lang"))
			}
			if got := strings.Join(sections, ", "); got != tt.wantCL {
				t.Errorf("sections in order %s; want %s", got, tt.wantCL)
			}
			if h1 := find(doc, "h1"); len(h1) != 1 || text(h1[0]) != tt.wantH1 {
				t.Errorf("want one h1 %q", tt.wantH1)
			}
		})
	}
}

func TestPageBasics(t *testing.T) {
	site, st := fixture(t, "nl", "en")
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Page{set.Outage, set.Maintenance} {
		for _, v := range p.Variants() {
			doc := parseHTML(t, v.HTML)
			name := string(p.Mode()) + "/" + v.Lang
			if m := find(doc, "meta"); !hasMeta(m, "robots", "noindex") {
				t.Errorf("%s: no <meta name=robots content=noindex>", name)
			}
			for _, tag := range []string{"header", "main"} {
				if len(find(doc, tag)) != 1 {
					t.Errorf("%s: want one <%s> landmark", name, tag)
				}
			}
			imgs := find(doc, "img")
			if len(imgs) != 1 || attr(imgs[0], "alt") != "Bakkerij de Vries" || attr(imgs[0], "width") != "512" || attr(imgs[0], "height") != "112" {
				t.Errorf("%s: want the logo with alt text and its size", name)
			}
			if n := len(v.HTML) + len(site.Branding.Logo); n >= 50<<10 {
				t.Errorf("%s: page %d bytes + logo %d bytes = %d; want under 50 KB", name, len(v.HTML), len(site.Branding.Logo), n)
			}
			t.Logf("%s: page %.1f KB, with logo %.1f KB", name, float64(len(v.HTML))/1024, float64(len(v.HTML)+len(site.Branding.Logo))/1024)
		}
	}
	if got, want := set.Logo.Path, "/.well-known/awning/logo/bakkerij-"; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ".png") {
		t.Errorf("logo path %q; want %s{hash}.png", got, want)
	}
}

// TestNoOutsideRequests checks that nothing in a page makes the browser
// fetch from anywhere but Awning: no src, no stylesheet, no @import or url()
// to another host, no web fonts.
func TestNoOutsideRequests(t *testing.T) {
	site, st := fixture(t, "nl", "en")
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append(set.Outage.Variants(), set.Maintenance.Variants()...) {
		doc := parseHTML(t, v.HTML)
		walk(doc, func(n *html.Node) {
			for _, a := range n.Attr {
				if a.Key == "src" || (a.Key == "href" && n.Data == "link") {
					if !strings.HasPrefix(a.Val, "/.well-known/awning/") && !strings.HasPrefix(a.Val, "data:") {
						t.Errorf("<%s %s=%q> loads from elsewhere", n.Data, a.Key, a.Val)
					}
				}
			}
		})
		for _, s := range find(doc, "style") {
			css := text(s)
			for _, bad := range []string{"@import", "url(", "@font-face", "http"} {
				if strings.Contains(css, bad) {
					t.Errorf("CSS contains %q", bad)
				}
			}
		}
	}
}

func TestCSPAllowsExactlyTheInlineScriptAndStyle(t *testing.T) {
	site, st := fixture(t, "nl", "en")
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := set.Outage.Variants()[0]
	doc := parseHTML(t, v.HTML)
	scripts, styles := find(doc, "script"), find(doc, "style")
	if len(scripts) != 1 || len(styles) != 1 {
		t.Fatalf("%d scripts and %d styles; want one of each", len(scripts), len(styles))
	}
	csp := set.Outage.CSP()
	for _, want := range []string{
		"default-src 'none'",
		"script-src " + cspHash(text(scripts[0])) + ";",
		"style-src " + cspHash(text(styles[0])) + ";",
		"connect-src 'self'",
		"img-src 'self' data:",
		"base-uri 'none'",
		"frame-ancestors 'none'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "nonce") {
		t.Errorf("CSP %q allows more than the page's own inline code", csp)
	}
	if strings.Contains(text(scripts[0]), "//") && strings.Contains(text(scripts[0]), "\n//") {
		t.Error("the script ships its comments")
	}
}

func TestJSON(t *testing.T) {
	site, st := fixture(t, "en", "nl", "de")
	site.Branding.Message = map[string]string{"nl": "Even geduld.\n\nWe zijn er zo weer."}
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	end := st.Window.End
	tests := []struct {
		name  string
		page  *Page
		now   time.Time
		retry int
		until string
	}{
		{"outage", set.Outage, end.Add(-time.Hour), 30, ""},
		{"maintenance before end", set.Maintenance, end.Add(-90*time.Minute - 500*time.Millisecond), 5401, "2025-01-14T14:00:00+01:00"},
		{"maintenance past end", set.Maintenance, end.Add(time.Minute), 30, "2025-01-14T14:00:00+01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.page.AppendJSON(nil, tt.now)
			var got struct {
				Error      string            `json:"error"`
				RetryAfter int               `json:"retry_after"`
				Message    map[string]string `json:"message"`
				Until      string            `json:"until"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if got.Error != string(tt.page.Mode()) || got.RetryAfter != tt.retry || got.Until != tt.until {
				t.Errorf("got %s; want error %s, retry_after %d, until %q", b, tt.page.Mode(), tt.retry, tt.until)
			}
			if got.RetryAfter != tt.page.RetryAfter(tt.now) {
				t.Errorf("JSON retry_after %d; RetryAfter %d", got.RetryAfter, tt.page.RetryAfter(tt.now))
			}
			// Keys follow the site's language order, not the alphabet.
			if i, j, k := bytes.Index(b, []byte(`"en":`)), bytes.Index(b, []byte(`"nl":`)), bytes.Index(b, []byte(`"de":`)); !(i < j && j < k) {
				t.Errorf("message keys out of site order: %s", b)
			}
		})
	}
	var got struct{ Message map[string]string }
	json.Unmarshal(set.Outage.AppendJSON(nil, time.Time{}), &got)
	if got.Message["nl"] != "Even geduld.\n\nWe zijn er zo weer." || got.Message["en"] != translations["en"].OutageBody {
		t.Errorf("messages %q; want the merchant's Dutch and the default English", got.Message)
	}
}

func TestAppendJSONAllocatesNothing(t *testing.T) {
	site, st := fixture(t, "nl", "en")
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { buf = set.Maintenance.AppendJSON(buf[:0], now) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times; want 0", n)
	}
}

func TestRetryAfter(t *testing.T) {
	site, st := fixture(t, "nl")
	site.RetryAfter = 1500 * time.Millisecond
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	end := st.Window.End
	if got := set.Outage.RetryAfter(end); got != 2 {
		t.Errorf("outage Retry-After = %d; want 1.5s rounded up to 2", got)
	}
	if got := set.Maintenance.RetryAfter(end.Add(-10 * time.Second)); got != 10 {
		t.Errorf("maintenance Retry-After 10s before the end = %d; want 10", got)
	}
	if !set.Outage.StaticRetryAfter() || set.Maintenance.StaticRetryAfter() {
		t.Error("StaticRetryAfter: want true for the outage page, false for maintenance with an end")
	}
	if !bytes.Contains(set.Outage.Variants()[0].HTML, []byte(`<meta http-equiv="refresh" content="10">`)) {
		t.Error("the no-JavaScript refresh is not retry_after clamped to at least 10s")
	}
}

func TestUpdatesNewestFirstAndLimited(t *testing.T) {
	site, st := fixture(t, "en", "nl")
	st.Updates = nil
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 8 {
		st.Updates = append(st.Updates, Update{ID: "u" + itoa(i), Time: base.Add(time.Duration(i) * time.Hour),
			Message: map[string]string{"en": "update " + itoa(i)}})
	}
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := parseHTML(t, set.Outage.Variants()[0].HTML)
	sec := find(doc, "section")
	var got []string
	for _, li := range find(find(sec[0], "ol")[0], "li") {
		if s := find(li, "span"); len(s) == 1 {
			got = append(got, text(s[0]))
		}
	}
	if want := "update 7,update 6,update 5,update 4,update 3"; strings.Join(got, ",") != want {
		t.Errorf("updates %q; want %s", got, want)
	}
	// The Dutch block shows the English text, marked as English.
	for _, li := range find(find(sec[1], "ol")[0], "li") {
		if attr(li, "lang") != "en" {
			t.Errorf("Dutch block: update without lang=en: %q", text(li))
		}
	}
}

func TestDates(t *testing.T) {
	loc := amsterdam(t)
	winter := time.Date(2025, 1, 14, 14, 5, 0, 0, loc) // Tuesday, CET
	summer := time.Date(2025, 6, 1, 1, 30, 0, 0, loc)  // Sunday, CEST, one o'clock
	tests := []struct {
		lang        string
		long, short string
		longSummer  string
	}{
		{"en", "Tuesday 14 January at 14:05 (CET)", "14 January, 14:05", "Sunday 1 June at 1:30 (CEST)"},
		{"nl", "dinsdag 14 januari om 14:05 (CET)", "14 januari, 14:05", "zondag 1 juni om 1:30 (CEST)"},
		{"de", "Dienstag, 14. Januar um 14:05 Uhr (CET)", "14. Januar, 14:05 Uhr", "Sonntag, 1. Juni um 1:30 Uhr (CEST)"},
		{"fr", "mardi 14 janvier à 14\u00a0h\u00a005 (CET)", "14 janvier, 14\u00a0h\u00a005", "dimanche 1er juin à 1\u00a0h\u00a030 (CEST)"},
		{"es", "martes 14 de enero a las 14:05 (CET)", "14 de enero, 14:05", "domingo 1 de junio a la 1:30 (CEST)"},
		{"it", "martedì 14 gennaio alle 14:05 (CET)", "14 gennaio, 14:05", "domenica 1 giugno all’1:30 (CEST)"},
		{"sv", "tisdag 14 januari kl. 14.05 (CET)", "14 januari kl. 14.05", "söndag 1 juni kl. 1.30 (CEST)"},
		{"da", "tirsdag den 14. januar kl. 14.05 (CET)", "14. januar kl. 14.05", "søndag den 1. juni kl. 1.30 (CEST)"},
		{"pl", "wtorek, 14 stycznia, godz. 14:05 (CET)", "14 stycznia, godz. 14:05", "niedziela, 1 czerwca, godz. 1:30 (CEST)"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			d := &translations[tt.lang].dates
			if got := d.formatLong(winter); got != tt.long {
				t.Errorf("long = %q; want %q", got, tt.long)
			}
			if got := d.formatShort(winter); got != tt.short {
				t.Errorf("short = %q; want %q", got, tt.short)
			}
			if got := d.formatLong(summer); got != tt.longSummer {
				t.Errorf("long in summer = %q; want %q", got, tt.longSummer)
			}
		})
	}
	if len(tests) != len(translations) {
		t.Errorf("%d languages tested; %d have translations", len(tests), len(translations))
	}
	istanbul, _ := time.LoadLocation("Europe/Istanbul")
	if got := zoneName(winter.In(istanbul)); got != "UTC+03" {
		t.Errorf("zone without abbreviation = %q; want UTC+03", got)
	}
}

func TestTranslationsComplete(t *testing.T) {
	for _, l := range []string{"nl", "en", "de", "fr", "es", "it", "sv", "da", "pl"} {
		tx := translations[l]
		if tx == nil {
			t.Errorf("no translations for %s", l)
			continue
		}
		for name, s := range map[string]string{
			"OutageBadge": tx.OutageBadge, "OutageTitle": tx.OutageTitle, "OutageBody": tx.OutageBody,
			"MaintenanceBadge": tx.MaintenanceBadge, "MaintenanceTitle": tx.MaintenanceTitle, "MaintenanceBody": tx.MaintenanceBody,
			"ReadOnlyTitle": tx.ReadOnlyTitle, "ReadOnlyBody": tx.ReadOnlyBody, "ExpectedBack": tx.ExpectedBack,
			"Updates": tx.Updates, "StatusPage": tx.StatusPage, "Contact": tx.Contact, "AutoReturn": tx.AutoReturn,
			"long": tx.dates.long, "short": tx.dates.short, "clockFmt": tx.dates.clockFmt,
			"UnconfirmedBadge": tx.UnconfirmedBadge, "UnconfirmedTitle": tx.UnconfirmedTitle,
			"UnconfirmedBody": tx.UnconfirmedBody, "UnconfirmedAdvice": tx.UnconfirmedAdvice, "BackToShop": tx.BackToShop,
			"Saved": tx.Saved, "StaleAt": tx.StaleAt, "StaleOn": tx.StaleOn, "BannerBody": tx.BannerBody, "Paused": tx.Paused,
		} {
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: %s is empty", l, name)
			}
		}
		for _, m := range append(tx.dates.weekdays[:], tx.dates.months[:]...) {
			if m == "" {
				t.Errorf("%s: a weekday or month name is empty", l)
			}
		}
	}
}

func TestContrast(t *testing.T) {
	darkCard := rgb{0x1d, 0x1d, 0x21}
	for _, c := range []string{"#b5651d", "#1f6feb", "#ffff00", "#808080", "#777", "#000000", "#ffffff", "#00ff00", "#e30613", "#ff69b4", "#0a2540", "#f5f5dc"} {
		t.Run(c, func(t *testing.T) {
			brand, _ := parseHex(c)
			cs := newColors(brand)
			check := func(name, fg, bg string) {
				f, _ := parseHex(fg)
				b, _ := parseHex(bg)
				if r := contrast(f, b); r < 4.5 {
					t.Errorf("%s: %s on %s has contrast %.2f; want at least 4.5", name, fg, bg, r)
				}
			}
			check("button", cs.OnButton, cs.Button)
			check("accent on card", cs.Accent, "#ffffff")
			check("accent on badge", cs.Accent, cs.Soft)
			check("dark accent on card", cs.AccentDark, darkCard.String())
			check("dark accent on badge", cs.AccentDark, cs.SoftDark)
			check("text on page", ink.String(), cs.Tint)
		})
	}
	if got := onColor(rgb{0xff, 0xff, 0}); got != ink {
		t.Errorf("text on yellow = %s; want near-black", got)
	}
	if got := onColor(rgb{0x0a, 0x25, 0x40}); got != white {
		t.Errorf("text on navy = %s; want white", got)
	}
	if r := contrast(white, black); r < 20.99 || r > 21.01 {
		t.Errorf("contrast(white, black) = %v; want 21", r)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	site, st := fixture(t, "nl", "en")
	a, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Updates[0], st.Updates[1] = st.Updates[1], st.Updates[0]
	b, _ := Render(site, st, Options{})
	if !bytes.Equal(a.Outage.Variants()[1].HTML, b.Outage.Variants()[1].HTML) {
		t.Error("the same inputs in another order render different bytes")
	}
}

func TestInlineLogo(t *testing.T) {
	site, st := fixture(t, "nl", "en")
	set, err := Render(site, st, Options{InlineLogo: true})
	if err != nil {
		t.Fatal(err)
	}
	img := find(parseHTML(t, set.Outage.Variants()[0].HTML), "img")
	if len(img) != 1 || !strings.HasPrefix(attr(img[0], "src"), "data:image/png;base64,") {
		t.Error("InlineLogo: the logo is not a data: URL")
	}
}

func TestBrandFallsBackToSiteName(t *testing.T) {
	set, err := Render(&Site{Name: "winkel", Languages: []string{"sv"}}, State{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := parseHTML(t, set.Outage.Variants()[0].HTML)
	if p := find(doc, "p"); len(p) == 0 || text(p[0]) != "winkel" {
		t.Error("without a brand or logo, the header does not show the site name")
	}
	if !strings.Contains(set.Outage.CSP(), "style-src 'sha256-") {
		t.Error("default colours: no style hash")
	}
}

func BenchmarkRender(b *testing.B) {
	site, st := fixture(b, "nl", "en")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(site, st, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	site, st := fixture(b, "nl", "en")
	set, _ := Render(site, st, Options{})
	h := []byte("en-US,en;q=0.9,nl;q=0.8")
	b.ReportAllocs()
	for b.Loop() {
		set.Outage.Pick(h)
	}
}

// HTML helpers.

func parseHTML(t testing.TB, b []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func find(root *html.Node, tag string) []*html.Node {
	var out []*html.Node
	walk(root, func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
	})
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

func hasMeta(metas []*html.Node, name, content string) bool {
	for _, m := range metas {
		if attr(m, "name") == name && attr(m, "content") == content {
			return true
		}
	}
	return false
}

// TestPaletteOf: every brand colour gives readable buttons and accents;
// the brand colour itself may not, which is why the accent differs.
func TestPaletteOf(t *testing.T) {
	for _, hex := range []string{"#b5651d", "#ffff00", "#777", "#000000", "#ffffff", "#1e90ff"} {
		p, ok := PaletteOf(hex)
		if !ok {
			t.Fatalf("PaletteOf(%q) refused", hex)
		}
		if p.ButtonContrast < 4.5 || p.AccentContrast < 4.5 {
			t.Errorf("%s: button %.2f, accent %.2f; want both at least 4.5", hex, p.ButtonContrast, p.AccentContrast)
		}
		if p.BrandOnWhite >= 4.5 && p.Accent != p.Brand {
			t.Errorf("%s reads on white (%.2f) but the accent is %s", hex, p.BrandOnWhite, p.Accent)
		}
	}
	if p, _ := PaletteOf("#ffff00"); p.BrandOnWhite >= 4.5 || p.Accent == "#ffff00" {
		t.Errorf("yellow: on white %.2f, accent %s; want a darker accent", p.BrandOnWhite, p.Accent)
	}
	if _, ok := PaletteOf("red"); ok {
		t.Error(`PaletteOf("red") accepted`)
	}
}

// TestMerchantLanguagesAndZone: a merchant's languages and time zone take
// the place of the site's; invalid ones are refused by Validate and, had
// they been stored anyway, ignored by Render.
func TestMerchantLanguagesAndZone(t *testing.T) {
	site, st := fixture(t, "nl", "en")
	end := time.Date(2025, 1, 14, 15, 0, 0, 0, time.UTC)
	st.Window = &Window{End: end}
	st.Branding = &Branding{Languages: []string{"de", "en"}, TimeZone: "America/New_York"}
	set, err := Render(site, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var langs []string
	for _, v := range set.Maintenance.Variants() {
		langs = append(langs, v.Lang)
	}
	if got := strings.Join(langs, " "); got != "de en" {
		t.Errorf("variants %q; want the merchant's languages, de en", got)
	}
	if html := string(set.Maintenance.Variant("en").HTML); !strings.Contains(html, "10:00") || !strings.Contains(html, "EST") {
		t.Errorf("the end of maintenance is not shown in New York time (10:00 EST)")
	}
	for _, b := range []Branding{
		{Languages: []string{"xx"}},
		{Languages: []string{"nl", "nl"}},
		{Languages: []string{}},
		{TimeZone: "Mars/Olympus"},
		{TimeZone: "Local"},
	} {
		if err := b.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted it", b)
		}
		st.Branding = &b
		set, err := Render(site, st, Options{})
		if err != nil || set.Outage.Variants()[0].Lang != "nl" {
			t.Errorf("Render with %+v: %v; want the site's own languages", b, err)
		}
	}
}
