package pages

import (
	"html"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The banner's style and script. They never change, so that a shop's own
// Content-Security-Policy can allow exactly them by hash (BannerCSP); what
// differs per site and per copy is in the HTML around them.
var (
	bannerCSS     = strings.ReplaceAll(mustAsset("assets/banner.css"), "\n", "")
	bannerJS      = stripComments(mustAsset("assets/banner.js"))
	bannerCSSHash = cspHash(bannerCSS)
	bannerJSHash  = cspHash(bannerJS)
)

// Banner is the notice put at the top of pages served from a copy: in the
// shopper's language first (one variant per language order, picked as the
// pages pick theirs), compact (a one-line summary that opens to the full
// text), and saying how old the copy is ("as it was at 14:05", in the
// site's zone). Its script pauses the page's forms that would send to the
// shop, saying why when a shopper tries one, and loads the live page once
// the shop is open again.
//
// Everything but the copy's age is rendered when the Banner is built (once
// per configuration or run-time state); AppendVariant adds the age, once per
// copy, never per request. A Banner is immutable and safe for concurrent
// use.
type Banner struct {
	langs    []string
	loc      *time.Location
	variants [][]bannerPart // by language order, as Page.Variants
}

// bannerPart is literal HTML followed by the copy's age in one language, as
// a short phrase in the summary or as a sentence.
type bannerPart struct {
	lit  string
	lang int  // index into langs of the age that follows; -1 for none
	long bool // the sentence rather than the short phrase
}

// ageMarker stands for the copy's age while a banner is assembled: a rune
// of the Private Use Area (U+E000 + 2·language + long), which no text of a
// banner contains (noMarkers drops them from merchants' texts, and the
// translations have none).
const ageMarker = 0xE000

// StaleBanner builds the banner of pages served stale because the origin
// failed, in the languages and zone of the site's pages in state st:
// Awning's words, or own (cache.banner_text) instead of the part after the
// age, per language. Its bytes depend on nothing but what StaleBannerKey
// names: any input added here must be added there.
func StaleBanner(site *Site, st State, own map[string]string) *Banner {
	return newBanner(site, st, func(l string, t *texts, age, sentence string) (summary, body, paused string) {
		rest := t.BannerBody
		if x := ownText(own, l); x != "" {
			rest = noMarkers(x)
		}
		summary = "<strong>" + esc(t.OutageBadge) + "</strong> · " + esc(t.Saved) + " (" + age + ")"
		body = "<p>" + sentence + " " + esc(rest) + "</p>"
		return summary, body, esc(t.Paused)
	}, func(t *texts) string { return t.OutageBadge })
}

// StaleBannerKey returns a name for what StaleBanner(site, st, own) is
// made of: the languages in order, the zone, and the merchant's text per
// language. Sites with equal keys get banners of the same bytes, so a node
// with thousands of shops keeps one banner for all those that did not make
// theirs their own, and a copy served stale for any of them reads memory
// that stays in the processor's cache.
func StaleBannerKey(site *Site, st State, own map[string]string) string {
	langs, loc := locale(site, st)
	// Each part prefixed with its length: no text a merchant writes can
	// make one site's key read as another's.
	b := appendPart(nil, loc.String())
	for _, l := range langs {
		b = appendPart(b, l)
		b = appendPart(b, ownText(own, l))
	}
	return string(b)
}

func appendPart(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	return append(append(dst, ':'), s...)
}

// ownText is the merchant's banner text for language l, "" for Awning's.
func ownText(own map[string]string, l string) string {
	if x, ok := own[l]; ok && strings.TrimSpace(x) != "" {
		return x
	}
	return ""
}

// MaintenanceBanner builds the banner of pages served from copies during
// read-only maintenance (st.Window): planned work, with its message (else
// Awning's words) and its announced end, as of now.
func MaintenanceBanner(site *Site, st State, now time.Time) *Banner {
	_, loc := locale(site, st)
	w := st.Window
	var end time.Time
	if w != nil && !w.End.IsZero() {
		end = w.End.In(loc)
	}
	return newBanner(site, st, func(l string, t *texts, age, sentence string) (summary, body, paused string) {
		msg := t.ReadOnlyBody
		if w != nil && strings.TrimSpace(w.Message[l]) != "" {
			msg = noMarkers(strings.Join(paragraphs(w.Message[l]), " "))
		}
		summary = "<strong>" + esc(t.MaintenanceBadge) + "</strong> · " + esc(t.ReadOnlyTitle)
		body = "<p>" + esc(msg) + "</p>"
		if !end.IsZero() {
			short := t.dates.formatShort(end)
			if sameDay(end, now.In(loc)) {
				short = t.dates.formatClock(end)
			}
			summary = "<strong>" + esc(t.MaintenanceBadge) + "</strong> · " + esc(t.ExpectedBack) + " " + esc(short)
			body += `<p>` + esc(t.ExpectedBack) + ` <time datetime="` + end.Format(time.RFC3339) + `">` +
				esc(t.dates.formatLong(end)) + "</time></p>"
		}
		body += "<p>" + sentence + "</p>"
		return summary, body, esc(msg)
	}, func(t *texts) string { return t.MaintenanceBadge })
}

// newBanner renders a banner in every language order from each language's
// summary line, body and paused message; age and sentence stand for the
// copy's age in that language, filled in by AppendVariant.
func newBanner(site *Site, st State, words func(l string, t *texts, age, sentence string) (summary, body, paused string), label func(*texts) string) *Banner {
	b := &Banner{}
	b.langs, b.loc = locale(site, st)
	type parts struct{ summary, body, paused string }
	by := make([]parts, len(b.langs))
	for i, l := range b.langs {
		t := translations[l]
		if t == nil {
			t = translations["en"]
		}
		age := string(rune(ageMarker + 2*i))
		sentence := string(rune(ageMarker + 2*i + 1))
		by[i].summary, by[i].body, by[i].paused = words(l, t, age, sentence)
	}
	for i := range b.langs {
		order := append([]int{i}, slices.Delete(seq(len(b.langs)), i, i+1)...)
		first := translations[b.langs[i]]
		if first == nil {
			first = translations["en"]
		}
		var sb strings.Builder
		sb.WriteString("<style>" + bannerCSS + "</style>")
		sb.WriteString(`<div id="awning-banner" role="region" lang="` + b.langs[i] + `" aria-label="` + esc(label(first)) + `">`)
		sb.WriteString("<details><summary>" + by[i].summary + "</summary><div class=\"awning-more\">")
		for j, k := range order {
			if j == 0 {
				sb.WriteString(`<div>` + by[k].body + `</div>`)
			} else {
				sb.WriteString(`<div lang="` + b.langs[k] + `">` + by[k].body + `</div>`)
			}
		}
		sb.WriteString(`</div></details><p class="awning-paused" role="alert" hidden>` + by[i].paused + `</p></div>`)
		sb.WriteString("<script>" + bannerJS + "</script>")
		b.variants = append(b.variants, splitAges(sb.String()))
	}
	return b
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// splitAges cuts a rendered banner at its age markers.
func splitAges(s string) []bannerPart {
	var out []bannerPart
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r >= ageMarker && r < ageMarker+2*maxLanguages {
			out = append(out, bannerPart{lit: s[start:i], lang: int(r-ageMarker) / 2, long: (r-ageMarker)%2 == 1})
			start = i + n
		}
		i += n
	}
	return append(out, bannerPart{lit: s[start:], lang: -1})
}

func esc(s string) string { return html.EscapeString(s) }

// noMarkers drops the runes ageMarker uses from a merchant's text, which
// has no business carrying private-use characters.
func noMarkers(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= ageMarker && r < ageMarker+2*maxLanguages {
			return -1
		}
		return r
	}, s)
}

// Variants returns how many variants the banner has: one per language
// order, as Page.Variants.
func (b *Banner) Variants() int { return len(b.variants) }

// Pick returns the variant an Accept-Language header asks for, as
// Page.Pick does. It does not allocate.
func (b *Banner) Pick(acceptLanguage []byte) int { return negotiate(acceptLanguage, b.langs) }

// AppendVariant appends variant i to dst as it reads on a copy the origin
// gave at copied, shown at now. The text stays the same until changes (the
// zero time: for good): a copy of today says its time of day, and its date
// once the day is over.
func (b *Banner) AppendVariant(dst []byte, i int, copied, now time.Time) (out []byte, changes time.Time) {
	c, n := copied.In(b.loc), now.In(b.loc)
	today := sameDay(c, n)
	if today {
		changes = time.Date(c.Year(), c.Month(), c.Day()+1, 0, 0, 0, 0, b.loc)
	}
	for _, p := range b.variants[i] {
		dst = append(dst, p.lit...)
		if p.lang < 0 {
			continue
		}
		t := translations[b.langs[p.lang]]
		if t == nil {
			t = translations["en"]
		}
		var s string
		switch {
		case !p.long && today:
			s = t.dates.formatClock(c)
		case !p.long:
			s = t.dates.formatShort(c)
		case today:
			s = strings.Replace(t.StaleAt, "{time}", t.dates.formatClock(c), 1)
		default:
			s = strings.Replace(t.StaleOn, "{date}", t.dates.formatShort(c), 1)
		}
		dst = append(dst, esc(s)...)
	}
	return dst, changes
}

// CSPSources returns the hash sources that allow the banner's inline
// script and style, for a copy served with its shop's own
// Content-Security-Policy.
func (b *Banner) CSPSources() (script, style string) { return bannerJSHash, bannerCSSHash }

// sameDay reports whether a and b (in one zone) fall on the same date.
func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
