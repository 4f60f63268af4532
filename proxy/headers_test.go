package proxy

import (
	"os"
	"strings"
	"testing"
)

// TestHeaderTableDocumented: docs/caching.md lists exactly the request
// headers requestHeaderRules holds, each with what Awning does with it.
func TestHeaderTableDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/caching.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "<!-- request header table")
	table, _, ok2 := strings.Cut(table, "<!-- end of request header table -->")
	if !ok || !ok2 {
		t.Fatal("docs/caching.md has no request header table between its markers")
	}
	words := map[uint8]string{hdrHop: "never passed on", hdrNever: "dropped", hdrUntrusted: "trusted_proxies"}
	documented := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		documented[strings.Trim(strings.TrimSpace(cells[1]), "`")] = cells[2]
	}
	for _, r := range requestHeaderRules {
		what, ok := documented[r.name]
		switch {
		case !ok:
			t.Errorf("%s is in requestHeaderRules but not in docs/caching.md", r.name)
		case !strings.Contains(what, words[r.class]):
			t.Errorf("docs/caching.md says %s is %q; want %q", r.name, strings.TrimSpace(what), words[r.class])
		}
		delete(documented, r.name)
	}
	for name := range documented {
		t.Errorf("docs/caching.md lists %s, which requestHeaderRules does not hold", name)
	}
}

// TestClassifyRequest: every spelling of a listed header finds its row,
// prefixes cover what they start, and names with "_" are always dropped.
func TestClassifyRequest(t *testing.T) {
	for _, tt := range []struct {
		name string
		want uint8
	}{
		{"X-Forwarded-Host", hdrNever},
		{"x-forwarded-host", hdrNever},
		{"X_Forwarded_Host", hdrNever},
		{"X-Forwarded-For", hdrUntrusted},
		{"X_Forwarded_For", hdrNever},
		{"X-Forwarded-Anything-New", hdrNever},
		{"X-Forwarded-" + strings.Repeat("long", 30), hdrNever},
		{"X-Original-Url", hdrNever},
		{"x-middleware-subrequest", hdrNever},
		{"X-Host", hdrNever},
		{"Forwarded", hdrUntrusted},
		{"Connection", hdrHop},
		{"Cookie", hdrKeep},
		{"Accept-Language", hdrKeep},
		{"X-Forwarded", hdrKeep}, // not a prefix match: nothing follows "x-forwarded-"
		{"X-Requested-With", hdrKeep},
		{strings.Repeat("a", 200), hdrKeep},
	} {
		if got := classifyRequest([]byte(tt.name)); got != tt.want {
			t.Errorf("classifyRequest(%q) = %d; want %d", tt.name, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { classifyRequest([]byte("X-Forwarded-Server")) }); n != 0 {
		t.Errorf("classifyRequest allocates %v times; want 0", n)
	}
}
