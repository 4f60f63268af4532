package pages

import (
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/language"
)

func TestNegotiate(t *testing.T) {
	site := []string{"nl", "en", "de"}
	tests := []struct {
		name, header string
		want         string
	}{
		{"missing", "", "nl"},
		{"one language", "en", "en"},
		{"browser default", "en-GB,en;q=0.9", "en"},
		{"region only", "de-AT", "de"},
		{"case", "EN-us", "en"},
		{"script and region", "zh-Hant-TW, en;q=0.5", "en"},
		{"variant subtags", "en-GB-oxendict", "en"},
		{"main language wins its region", "nl-BE,fr;q=0.9", "nl"},
		{"German browser", "de-DE,de;q=0.9,en;q=0.8", "de"},
		{"first match down the list", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "en"},
		{"no match", "fr", "nl"},
		{"no match, several", "fr-CA, es;q=0.8, it;q=0.5", "nl"},

		{"q orders, not position", "en;q=0.5, de;q=0.8", "de"},
		{"equal q: named first wins", "en;q=0.8, de;q=0.8", "en"},
		{"equal q: named first wins, reversed", "de;q=0.8, en;q=0.8", "de"},
		{"highest q of a language counts", "en;q=0.1, en-GB;q=0.9, de;q=0.5", "en"},
		{"q=0 refuses", "en;q=0", "nl"},
		{"q=0 refuses, other wins", "nl;q=0, en;q=0.1", "en"},
		{"q=1.000", "de, en;q=1.000", "de"},
		{"three decimals", "de;q=0.001, en;q=0.002", "en"},
		{"upper-case Q", "en;Q=0.5, de;q=0.4", "en"},
		{"other parameters ignored", "en;level=1;q=0.5, de;q=0.4", "en"},
		{"whitespace", "  en  ;  q=0.5 ,\tde ; q=0.4 ", "en"},
		{"empty items", ",,en,,", "en"},

		{"wildcard alone", "*", "nl"},
		{"wildcard below a miss", "fr, *;q=0.5", "nl"},
		{"wildcard excludes named", "nl;q=0, *", "en"},
		{"named beats wildcard", "*;q=0.9, de", "de"},
		{"wildcard gives what named lack", "en;q=0.1, *;q=0.5", "nl"},

		{"q above 1", "en;q=1.5", "nl"},
		{"q 1.001", "en;q=1.001", "nl"},
		{"q letters", "en;q=abc, de", "de"},
		{"q four decimals", "en;q=0.1234, de;q=0.1", "de"},
		{"q empty", "en;q=, de;q=0.1", "de"},
		{"q negative", "en;q=-1, de;q=0.1", "de"},
		{"q 2", "en;q=2", "nl"},
		{"garbage bytes", "\x00\xff\xfe", "nl"},
		{"only separators", ";;;,,,", "nl"},
		{"bare parameter", "q=1", "nl"},
		{"dangling dash", "en-, de;q=0.1", "de"},
		{"leading dash", "-en, de;q=0.1", "de"},
		{"digit in primary", "e1, de;q=0.1", "de"},
		{"subtag too long", "en-abcdefghi, de;q=0.1", "de"},
		{"primary too long", "englishxx, de;q=0.1", "de"},
		{"three-letter code", "deu", "nl"},
		{"private use", "x-klingon, de", "de"},
		{"underscore", "en_US, de;q=0.1", "de"},
		{"many misses then a match", strings.Repeat("fr;q=0.9,", 2000) + "en;q=0.1", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := site[negotiate([]byte(tt.header), site)]
			if got != tt.want {
				t.Errorf("negotiate(%q) = %s; want %s", tt.header, got, tt.want)
			}
		})
	}
}

func TestNegotiateAllocatesNothing(t *testing.T) {
	site := []string{"nl", "en", "de", "fr"}
	h := []byte("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7,*;q=0.1")
	if n := testing.AllocsPerRun(100, func() { negotiate(h, site) }); n != 0 {
		t.Errorf("negotiate allocates %v times per call; want 0", n)
	}
}

var reSimpleRange = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)

// FuzzAcceptLanguage checks that negotiation never panics or goes out of
// range, and agrees with golang.org/x/text/language on every header both
// read the same way: well-formed ranges of known languages, no wildcard,
// no q=0 (x/text drops those, where RFC 9110 makes them refusals).
func FuzzAcceptLanguage(f *testing.F) {
	for _, s := range []string{
		"", "en", "en-GB,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr, *;q=0.5",
		"nl;q=0, *", "en;q=0.5, de;q=0.8", "en;q=abc", "\x00", "zh-Hant-TW, en",
		"da, sv;q=0.9, pl;q=0.8", "en;q=0.8, de;q=0.8",
	} {
		f.Add(s)
	}
	site := []string{"nl", "en", "de", "sv"}
	f.Fuzz(func(t *testing.T, header string) {
		got := negotiate([]byte(header), site)
		if got < 0 || got >= len(site) {
			t.Fatalf("negotiate(%q) = %d; want an index into %v", header, got, site)
		}
		want, ok := oracle(header, site)
		if ok && got != want {
			t.Errorf("negotiate(%q) = %s; x/text/language says %s", header, site[got], site[want])
		}
	})
}

// oracle negotiates with x/text, for headers where it and RFC 9110 agree.
func oracle(header string, site []string) (int, bool) {
	for _, item := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(item, ";")
		tag = strings.Trim(tag, " \t") // OWS: x/text also trims CR, LF and others
		if tag == "" && strings.TrimSpace(params) == "" {
			continue
		}
		if !reSimpleRange.MatchString(tag) {
			return 0, false
		}
		if w, ok := weight([]byte(params)); !ok || w == 0 || strings.Count(params, ";") > 0 && !strings.HasPrefix(strings.TrimSpace(params), "q=") {
			return 0, false
		}
		t, err := language.Parse(tag)
		if err != nil {
			return 0, false
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if b, _ := t.Base(); b.String() != primary {
			return 0, false // x/text canonicalised it (iw → he)
		}
	}
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil {
		return 0, false
	}
	for _, t := range tags {
		b, _ := t.Base()
		for i, l := range site {
			if b.String() == l {
				return i, true
			}
		}
	}
	return 0, true
}

func BenchmarkNegotiate(b *testing.B) {
	site := []string{"nl", "en"}
	h := []byte("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7")
	b.ReportAllocs()
	for b.Loop() {
		negotiate(h, site)
	}
}
