package config

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// keyPaths lists the key paths of the configuration file as the structs
// decode them: "listen.http", "sites[].origin.health.path". A struct field
// whose type has its own decoding (Duration, Size, CookieNames) is a leaf.
func keyPaths(t reflect.Type, prefix string, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		path := tag
		if prefix != "" {
			path = prefix + "." + tag
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			keyPaths(ft.Elem(), path+"[]", out)
		case ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(reflect.TypeFor[yaml.Unmarshaler]()) &&
			hasYAMLFields(ft):
			keyPaths(ft, path, out)
		default:
			*out = append(*out, path)
		}
	}
}

func hasYAMLFields(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).IsExported() && t.Field(i).Tag.Get("yaml") != "" {
			return true
		}
	}
	return false
}

// documentedKeys reads docs/config.md: the key of every table row, under
// the section heading it sits in ("## `listen`", "### `sites[].origin`"),
// and the sections that describe their keys in prose (no table).
func documentedKeys(t *testing.T) (rows map[string]bool, prose map[string]bool) {
	t.Helper()
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("^#{2,4} `([a-z0-9_.\\[\\]]+)`$")
	row := regexp.MustCompile("^\\| `([a-z0-9_.]+)` \\|")
	rows, prose = map[string]bool{}, map[string]bool{}
	section, tabled := "", false
	flush := func() {
		if section != "" && !tabled {
			prose[section] = true
		}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			flush()
			section, tabled = m[1], false
			if section == "sites" {
				section = "sites[]" // "## `sites`": the keys of each entry
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			flush()
			section, tabled = "", false
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && section != "" {
			rows[section+"."+m[1]] = true
			tabled = true
		}
	}
	flush()
	return rows, prose
}

// TestEveryKeyDocumented: every key the file may hold is in
// docs/config.md, in the table of its section (or a section that
// describes it in prose), and the docs name no key that does not exist.
func TestEveryKeyDocumented(t *testing.T) {
	var keys []string
	keyPaths(reflect.TypeFor[Config](), "", &keys)
	if len(keys) < 80 {
		t.Fatalf("found %d keys in the structs; the walk broke?", len(keys))
	}
	rows, prose := documentedKeys(t)
	exists := map[string]bool{}
	for _, k := range keys {
		exists[k] = true
		for p := k; ; {
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
			exists[p] = true // sites[].cache.warm: a row may name a group
		}
	}
	for _, k := range keys {
		if rows[k] {
			continue
		}
		documented := false
		for p := k; p != ""; {
			if prose[p] {
				documented = true
				break
			}
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
		}
		if !documented {
			t.Errorf("%s is a config key but docs/config.md has no row for it", k)
		}
	}
	var extra []string
	for k := range rows {
		if !exists[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		t.Errorf("docs/config.md documents %s, which is no config key", k)
	}
}

// TestDocumentedDefaults: a default docs/config.md writes as one literal
// (`25s`, `256MiB`, `:80`, `true`, `[en]`) is the value the code fills in,
// read from a file that sets nothing but what is required.
func TestDocumentedDefaults(t *testing.T) {
	cfg, err := Load("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("^#{2,4} `([a-z0-9_.\\[\\]]+)`$")
	// | `key` | `literal` | or | `key` | `literal` (a remark) |
	row := regexp.MustCompile("^\\| `([a-z0-9_.]+)` \\| `([^`]*)`(?: \\([^)]*\\))? \\|")
	section, checked := "", 0
	for i, line := range strings.Split(string(b), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			section = strings.Replace(m[1], "sites", "sites[]", 1)
			section = strings.Replace(section, "sites[][]", "sites[]", 1)
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil || section == "" {
			continue
		}
		path := section + "." + m[1]
		got, ok := valueAt(reflect.ValueOf(cfg).Elem(), path)
		if !ok {
			continue // a nil pointer: the default lives in a method (ReusePortOn)
		}
		want := reflect.New(got.Type()).Elem()
		// A default that names another key (`timeout`, `limits.request_header`)
		// is that key's value.
		if ref, ok := valueAt(reflect.ValueOf(cfg).Elem(), m[2]); ok {
			want = ref
		} else if ref, ok := valueAt(reflect.ValueOf(cfg).Elem(), section+"."+m[2]); ok {
			want = ref
		} else {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(quoteIfNeeded(m[2])), &doc); err != nil || len(doc.Content) == 0 {
				t.Errorf("docs/config.md:%d: %s: default %q does not parse: %v", i+1, path, m[2], err)
				continue
			}
			if err := doc.Content[0].Decode(want.Addr().Interface()); err != nil {
				t.Errorf("docs/config.md:%d: %s: default %q is not a %s: %v", i+1, path, m[2], got.Type(), err)
				continue
			}
		}
		checked++
		if !reflect.DeepEqual(want.Interface(), got.Interface()) {
			t.Errorf("docs/config.md:%d: %s: the docs say the default is %s; the code fills in %v", i+1, path, m[2], got.Interface())
		}
	}
	if checked < 40 {
		t.Errorf("checked %d defaults; the table format changed?", checked)
	}
}

// quoteIfNeeded makes a literal YAML reads as the string it shows: ":80"
// and "#1f6feb" would otherwise be a mapping and a comment.
func quoteIfNeeded(s string) string {
	if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "#") {
		return `"` + s + `"`
	}
	return s
}

// valueAt follows path ("sites[].origin.timeout") from v; a list is
// followed into its first element. It reports false for a key that is
// not there and for a nil pointer on the way.
func valueAt(v reflect.Value, path string) (reflect.Value, bool) {
	for _, key := range strings.Split(strings.ReplaceAll(path, "[]", ""), ".") {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		if v.Kind() == reflect.Slice {
			if v.Len() == 0 {
				return v, false
			}
			v = v.Index(0)
		}
		found := false
		for i := 0; i < v.NumField(); i++ {
			tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if tag == key && v.Type().Field(i).IsExported() {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return v, false
		}
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return v, false
		}
		v = v.Elem()
	}
	return v, true
}
