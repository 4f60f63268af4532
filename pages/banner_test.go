package pages

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// TestBannerGolden renders the stale and the maintenance banner of the
// fixture's sites on a copy of 13:05 shown at 14:00 the same day.
func TestBannerGolden(t *testing.T) {
	loc := amsterdam(t)
	copied := time.Date(2025, 1, 14, 13, 5, 0, 0, loc)
	now := copied.Add(55 * time.Minute)
	for _, pair := range [][]string{{"nl", "en"}, {"de", "fr"}} {
		site, st := fixture(t, pair...)
		st.Window.Mode = ReadOnly
		for _, b := range []struct {
			name string
			b    *Banner
		}{
			{"stale", StaleBanner(site, st, nil)},
			{"maintenance", MaintenanceBanner(site, st, now)},
		} {
			if got := b.b.Variants(); got != len(pair) {
				t.Fatalf("%d variants; want one per language order (%d)", got, len(pair))
			}
			for i := range pair {
				name := "banner-" + b.name + "-" + pair[i] + ".html"
				out, _ := b.b.AppendVariant(nil, i, copied, now)
				t.Run(name, func(t *testing.T) { golden(t, name, out) })
			}
		}
	}
}

// TestBannerLanguageAndAge: the variant an Accept-Language asks for puts
// that language first, in the summary too, and says the copy's time in the
// site's zone: the time of day for a copy of today, the date after.
func TestBannerLanguageAndAge(t *testing.T) {
	loc := amsterdam(t)
	site := &Site{Name: "bakkerij", Languages: []string{"nl", "en", "de"}, Location: loc}
	b := StaleBanner(site, State{}, nil)
	copied := time.Date(2025, 1, 14, 13, 5, 0, 0, time.UTC) // 14:05 in Amsterdam
	for _, tt := range []struct {
		accept, lang, summary, sentence string
	}{
		{"en-GB,en;q=0.9", "en", "<strong>Temporary disruption</strong> · saved copy (14:05)", "as it was at 14:05."},
		{"", "nl", "<strong>Tijdelijke storing</strong> · opgeslagen versie (14:05)", "zoals hij was om 14:05."},
		{"de-CH", "de", "<strong>Vorübergehende Störung</strong> · gespeicherte Version (14:05 Uhr)", "mit dem Stand von 14:05 Uhr."},
	} {
		i := b.Pick([]byte(tt.accept))
		out, changes := b.AppendVariant(nil, i, copied, copied.Add(time.Hour))
		s := string(out)
		if !strings.Contains(s, `id="awning-banner" role="region" lang="`+tt.lang+`"`) {
			t.Errorf("%q: banner not in %s first: %.300s", tt.accept, tt.lang, s[strings.Index(s, "<div"):])
		}
		if !strings.Contains(s, "<summary>"+tt.summary+"</summary>") {
			t.Errorf("%q: summary; want %q in %s", tt.accept, tt.summary, s)
		}
		if !strings.Contains(s, tt.sentence) {
			t.Errorf("%q: no %q", tt.accept, tt.sentence)
		}
		if want := time.Date(2025, 1, 15, 0, 0, 0, 0, loc); !changes.Equal(want) {
			t.Errorf("changes at %s; want midnight %s", changes, want)
		}
		// The next day, the date.
		out, changes = b.AppendVariant(nil, i, copied, copied.Add(12*time.Hour))
		if !strings.Contains(string(out), "14") || strings.Contains(string(out), "(14:05)") || !changes.IsZero() {
			t.Errorf("%q the next day: %v %s", tt.accept, changes, out[strings.Index(string(out), "<summary>"):][:120])
		}
	}
	en, _ := b.AppendVariant(nil, 1, copied, copied.Add(24*time.Hour))
	if !strings.Contains(string(en), "(14 January, 14:05)") || !strings.Contains(string(en), "as it was on 14 January, 14:05.") {
		t.Errorf("a day later: %s", en)
	}
}

// TestBannerIsSafeAndSmall: merchant words are escaped, private-use runes
// cannot pose as the age, the inline style and script are exactly those
// CSPSources allow, and the HTML parses to one region with a summary.
func TestBannerIsSafeAndSmall(t *testing.T) {
	site := &Site{Name: "bakkerij", Languages: []string{"en"}}
	b := StaleBanner(site, State{}, map[string]string{"en": `<script>alert(1)</script> "quoted" ` + string(rune(ageMarker))})
	out, _ := b.AppendVariant(nil, 0, time.Now(), time.Now())
	s := string(out)
	if strings.Contains(s, "<script>alert") || !strings.Contains(s, "&lt;script&gt;alert(1)&lt;/script&gt; &#34;quoted&#34;") {
		t.Errorf("merchant text not escaped: %s", s)
	}
	if strings.ContainsRune(s, ageMarker) {
		t.Error("a private-use rune of the merchant's text reached the banner")
	}
	script, style := b.CSPSources()
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>.*<script>(.*?)</script>`).FindStringSubmatch(s)
	if m == nil || cspHash(m[1]) != style || cspHash(m[2]) != script {
		t.Errorf("the inline style and script do not match CSPSources")
	}
	doc, err := html.Parse(strings.NewReader("<!doctype html><html><body>" + s + "</body></html>"))
	if err != nil {
		t.Fatal(err)
	}
	var regions, summaries int
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "role" && a.Val == "region" {
					regions++
				}
			}
			if n.Data == "summary" {
				summaries++
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if regions != 1 || summaries != 1 {
		t.Errorf("%d regions, %d summaries; want 1 and 1", regions, summaries)
	}
	if len(out) > 8<<10 {
		t.Errorf("the banner is %d bytes; want it small", len(out))
	}
}

// TestMaintenanceBanner says planned work, its message and its end.
func TestMaintenanceBanner(t *testing.T) {
	loc := amsterdam(t)
	site := &Site{Name: "bakkerij", Languages: []string{"en", "nl"}, Location: loc}
	now := time.Date(2025, 1, 14, 13, 0, 0, 0, loc)
	w := &Window{Mode: ReadOnly, End: time.Date(2025, 1, 14, 15, 0, 0, 0, loc), Message: map[string]string{"en": "We are moving to a new warehouse."}}
	out, _ := MaintenanceBanner(site, State{Window: w}, now).AppendVariant(nil, 0, now.Add(-time.Hour), now)
	s := string(out)
	for _, want := range []string{
		"<summary><strong>Planned maintenance</strong> · Expected back 15:00</summary>",
		"We are moving to a new warehouse.",
		`<time datetime="2025-01-14T15:00:00+01:00">Tuesday 14 January at 15:00 (CET)</time>`,
		"as it was at 12:00.",
		`<p class="awning-paused" role="alert" hidden>We are moving to a new warehouse.</p>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in %s", want, s)
		}
	}
	if strings.Contains(s, "Temporary disruption") {
		t.Error("planned work says temporary disruption")
	}
}

// TestBannerFollowsTheMerchantsLocale: languages and time zone chosen by
// the merchant at run time apply to the banner as to the pages.
func TestBannerFollowsTheMerchantsLocale(t *testing.T) {
	site := &Site{Name: "bakkerij", Languages: []string{"nl"}, Location: time.UTC}
	b := StaleBanner(site, State{Branding: &Branding{Languages: []string{"en", "de"}, TimeZone: "Europe/Berlin"}}, nil)
	if b.Variants() != 2 {
		t.Fatalf("%d variants; want the merchant's 2 languages", b.Variants())
	}
	out, _ := b.AppendVariant(nil, b.Pick([]byte("de")), time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC), time.Date(2025, 7, 1, 13, 0, 0, 0, time.UTC))
	if !strings.Contains(string(out), "(14:00 Uhr)") {
		t.Errorf("not in German in Berlin's zone: %s", out)
	}
}

// TestStaleBannerKey: two stale banners have the same key exactly when they
// are the same bytes, over inputs that change the banner (languages, their
// order, zone, the merchant's locale and texts) and inputs that do not
// (brand, colours, a text for a language not shown, a blank text). Sites
// with equal keys share one banner (proxy), so a key that missed an input
// would give one shop another's banner.
func TestStaleBannerKey(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	type input struct {
		name string
		site *Site
		st   State
		own  map[string]string
	}
	base := func() *Site {
		return &Site{Name: "a", Branding: Branding{Brand: "A"}, Languages: []string{"nl", "en"}, Location: time.UTC}
	}
	var in []input
	add := func(name string, f func(*Site, *State, *map[string]string)) {
		site, st, own := base(), State{}, map[string]string(nil)
		f(site, &st, &own)
		in = append(in, input{name, site, st, own})
	}
	add("base", func(*Site, *State, *map[string]string) {})
	add("other brand", func(s *Site, _ *State, _ *map[string]string) { s.Name, s.Branding.Brand = "b", "B" })
	add("other colours", func(_ *Site, st *State, _ *map[string]string) { st.Branding = &Branding{Color: "#ff0000"} })
	add("languages reversed", func(s *Site, _ *State, _ *map[string]string) { s.Languages = []string{"en", "nl"} })
	add("one language", func(s *Site, _ *State, _ *map[string]string) { s.Languages = []string{"nl"} })
	add("zone", func(s *Site, _ *State, _ *map[string]string) { s.Location = berlin })
	add("merchant languages", func(_ *Site, st *State, _ *map[string]string) {
		st.Branding = &Branding{Languages: []string{"de", "fr"}}
	})
	add("merchant zone", func(_ *Site, st *State, _ *map[string]string) { st.Branding = &Branding{TimeZone: "Europe/Berlin"} })
	add("own nl", func(_ *Site, _ *State, own *map[string]string) { *own = map[string]string{"nl": "Bel ons."} })
	add("own en", func(_ *Site, _ *State, own *map[string]string) { *own = map[string]string{"en": "Bel ons."} })
	add("own de, not shown", func(_ *Site, _ *State, own *map[string]string) { *own = map[string]string{"de": "Ruf an."} })
	add("own blank", func(_ *Site, _ *State, own *map[string]string) { *own = map[string]string{"nl": "  "} })
	// A text that spells the key of a two-language site must not read as
	// one: "nl" with this text against "nl", "en" with texts "X" and "Y".
	add("own text spelling parts", func(s *Site, _ *State, own *map[string]string) {
		s.Languages = []string{"nl"}
		*own = map[string]string{"nl": "1:X2:en1:Y"}
	})
	add("texts of two languages", func(_ *Site, _ *State, own *map[string]string) {
		*own = map[string]string{"nl": "X", "en": "Y"}
	})

	copied := time.Date(2025, 1, 14, 13, 5, 0, 0, time.UTC)
	bytesOf := func(b *Banner) string {
		var out []byte
		for i := range b.Variants() {
			out, _ = b.AppendVariant(append(out, '|'), i, copied, copied.Add(time.Hour))
			out, _ = b.AppendVariant(append(out, '|'), i, copied, copied.Add(48*time.Hour))
		}
		return string(out)
	}
	keys := make([]string, len(in))
	bodies := make([]string, len(in))
	for i, x := range in {
		keys[i] = StaleBannerKey(x.site, x.st, x.own)
		bodies[i] = bytesOf(StaleBanner(x.site, x.st, x.own))
	}
	sameAsBase := map[string]bool{"base": true, "other brand": true, "other colours": true, "own de, not shown": true, "own blank": true}
	for i := range in {
		if got, want := bodies[i] == bodies[0], sameAsBase[in[i].name]; got != want {
			t.Fatalf("%s: same bytes as base %v; the table expects %v", in[i].name, got, want)
		}
		for j := range in {
			if (keys[i] == keys[j]) != (bodies[i] == bodies[j]) {
				t.Errorf("%s and %s: keys equal %v, bytes equal %v", in[i].name, in[j].name, keys[i] == keys[j], bodies[i] == bodies[j])
			}
		}
	}
}
