package admin

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// registeredRoutes reads the routes this package registers from its
// source: "GET /v1/sites/{}" → who may call it ("ops", "both" or
// "anyone"), as docs/admin-api.md's table says it.
func registeredRoutes(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	api := regexp.MustCompile(`s\.handle\("([A-Z]+ /[^"]*)", (\w+),`)
	open := regexp.MustCompile(`s\.mux\.HandleFunc\("([A-Z]+ /[^"]*)"`)
	routes := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range api.FindAllStringSubmatch(string(b), -1) {
			who := "both"
			if m[2] == "opsOnly" {
				who = "ops"
			}
			routes[normRoute(m[1])] = who
		}
		for _, m := range open.FindAllStringSubmatch(string(b), -1) {
			routes[normRoute(m[1])] = "anyone"
		}
	}
	// /metrics is a Handle, not a HandleFunc.
	routes["GET /metrics"] = "anyone"
	return routes
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

func normRoute(r string) string { return pathParam.ReplaceAllString(r, "{}") }

// documentedRoutes reads the route table of docs/admin-api.md: a first
// cell such as "`GET·POST /v1/sites/{site}/updates`, `DELETE
// …/updates/{id}`" names several routes; "…" stands for the path before
// it without its last segment.
func documentedRoutes(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../docs/admin-api.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| (`[A-Z·]+ [^|]*(?:\\\\\\|[^|]*)*)\\| (\\w+) \\|")
	item := regexp.MustCompile("`([A-Z·]+) ([^` ]+)`")
	routes := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		prev := ""
		for _, it := range item.FindAllStringSubmatch(m[1], -1) {
			path, _, _ := strings.Cut(it[2], "?")
			if rest, ok := strings.CutPrefix(path, "…"); ok {
				path = prev[:strings.LastIndexByte(prev, '/')] + rest
			}
			prev = path
			for _, method := range strings.Split(it[1], "·") {
				routes[normRoute(method+" "+path)] = m[2]
			}
		}
	}
	return routes
}

// TestEveryRouteDocumented: docs/admin-api.md's route table lists every
// route the admin API serves, with who may call it, and no route it does
// not serve.
func TestEveryRouteDocumented(t *testing.T) {
	code, docs := registeredRoutes(t), documentedRoutes(t)
	if len(code) < 30 || len(docs) < 30 {
		t.Fatalf("%d routes in the code, %d in the docs; the patterns broke?", len(code), len(docs))
	}
	var names []string
	for r := range code {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		if strings.HasPrefix(r, "GET /ui") || r == "GET /{$}" {
			continue // the console itself: docs/console.md
		}
		who, ok := docs[r]
		switch {
		case !ok:
			t.Errorf("%s is served but not in docs/admin-api.md's route table", r)
		case who != code[r]:
			t.Errorf("%s: docs/admin-api.md says %q may call it; the code lets %q", r, who, code[r])
		}
	}
	for r := range docs {
		if _, ok := code[r]; !ok {
			t.Errorf("docs/admin-api.md documents %s, which is not served", r)
		}
	}
}
