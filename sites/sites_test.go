package sites

import (
	"strings"
	"testing"

	"github.com/awningproxy/awning/config"
)

func TestAppendCanonical(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means invalid
	}{
		{"shop.example", "shop.example"},
		{"SHOP.Example", "shop.example"},
		{"shop.example:8080", "shop.example"},
		{"shop.example:", "shop.example"},
		{"shop.example.", "shop.example"},
		{"shop.example.:443", "shop.example"},
		{"127.0.0.1:80", "127.0.0.1"},
		{"[::1]:8080", "::1"},
		{"[2001:DB8::1]", "2001:db8::1"},
		{"[2001:db8:0:0::1]", "2001:db8::1"},
		{"[.]", ""},
		{"[1.2.3.4]", ""},
		{"under_score.example", "under_score.example"},
		{"xn--bckerei-5wa.example", "xn--bckerei-5wa.example"},
		{"", ""},
		{".", ""},
		{"shop.example..", ""},
		{".shop.example", ""},
		{"shop..example", ""},
		{"shop.example:80:80", ""},
		{"shop.example:abc", ""},
		{"shop.example:123456", ""},
		{"shop example", ""},
		{"shop/example", ""},
		{"shop.example\x00", ""},
		{"bäckerei.example", ""},
		{"[::1", ""},
		{"[::1]x", ""},
		{"[]", ""},
		{"[fe80::1%eth0]", ""},
		{"user@shop.example", ""},
		{strings.Repeat("a", 64) + ".example", ""},
		{strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 126) + "a"}, // 253 bytes: the longest name
		{strings.Repeat("a.", 127) + "a", ""},                              // 255 bytes: too long
	}
	for _, tt := range tests {
		got, ok := AppendCanonical(nil, []byte(tt.in))
		if ok != (tt.want != "") || string(got) != tt.want {
			t.Errorf("AppendCanonical(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func TestCanonicalConfigHosts(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"Bäckerei.Example", "xn--bckerei-5wa.example", false},
		{"shop.example.", "shop.example", false},
		{"::1", "::1", false},
		{"127.0.0.1", "127.0.0.1", false},
		{"shop.example:8080", "", true},
		{"*.shop.example", "", true},
		{"", "", true},
		{"shop example", "", true},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func registry(t *testing.T, yaml string) (*Registry, error) {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg)
}

func TestRegistry(t *testing.T) {
	r, err := registry(t, `
sites:
  - name: a
    hosts: [a.example, WWW.A.example]
    origin: {urls: ["http://127.0.0.1:1"]}
  - name: b
    hosts: [b.example]
    origin: {urls: ["http://127.0.0.1:2"]}
`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 || r.All()[1].Index != 1 || r.Named("b").Index != 1 {
		t.Fatalf("registry shape wrong: len %d", r.Len())
	}
	for host, want := range map[string]string{"a.example": "a", "www.a.example:443": "a", "B.EXAMPLE.": "b", "c.example": "", "": ""} {
		got := ""
		if s := r.Lookup([]byte(host)); s != nil {
			got = s.Name
		}
		if got != want {
			t.Errorf("Lookup(%q) = %q; want %q", host, got, want)
		}
		if s := r.LookupString(host); (s == nil) != (want == "") {
			t.Errorf("LookupString(%q) disagrees with Lookup", host)
		}
	}
	if n := testing.AllocsPerRun(100, func() { r.Lookup([]byte("WWW.A.example:8443")) }); n != 0 {
		t.Errorf("Lookup allocates %v times; want 0", n)
	}
}

func TestRegistryErrors(t *testing.T) {
	_, err := registry(t, `
sites:
  - name: a
    hosts: [a.example, "bad host"]
    origin: {urls: ["http://127.0.0.1:1"]}
  - name: b
    hosts: [A.example.]
    origin: {urls: ["http://127.0.0.1:2"]}
`)
	want := `t.yaml:4:24: sites[0].hosts[1]: "bad host" is not a valid host name: invalid host
t.yaml:7:13: sites[1].hosts[0]: "A.example." is already listed at sites[0].hosts[0]`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"shop.example", "SHOP.example.:80", "[::1]:8080", "a..b", "xn--bckerei-5wa.example"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, host []byte) {
		c, ok := AppendCanonical(nil, host)
		if !ok {
			return
		}
		// The canonical form is a fixed point and has no upper case, port
		// or trailing dot.
		c2, ok := AppendCanonical(nil, c)
		if len(c) > 0 && strings.Contains(string(c), ":") {
			c2, ok = AppendCanonical(nil, []byte("["+string(c)+"]"))
		}
		if !ok || string(c2) != string(c) {
			t.Fatalf("canonical %q of %q is not a fixed point: %q %v", c, host, c2, ok)
		}
		if strings.ToLower(string(c)) != string(c) || strings.HasSuffix(string(c), ".") || len(c) > MaxHostLen {
			t.Fatalf("canonical %q of %q is not canonical", c, host)
		}
	})
}

// TestRegistryWith: sites registered through the admin API follow the
// file's, which keep their Index; a name or host already taken (by the
// file, or by an earlier registration) leaves the later site out, said
// why.
func TestRegistryWith(t *testing.T) {
	r, err := registry(t, `
sites:
  - name: a
    hosts: [a.example]
    origin: {urls: ["http://127.0.0.1:1"]}
`)
	if err != nil {
		t.Fatal(err)
	}
	site := func(name string, hosts ...string) *config.Site {
		return &config.Site{Name: name, Hosts: hosts}
	}
	w, errs := r.With([]*config.Site{
		site("b", "B.example", "www.b.example"),
		site("a", "other.example"),
		site("c", "A.example."),
		site("d", "www.b.example"),
		site("e", "e.example"),
		site(strings.Repeat("f", MaxNameLen+1), "f.example"),
	})
	var names []string
	for _, s := range w.All() {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,e" {
		t.Errorf("sites = %s; want a,b,e", got)
	}
	if w.Named("a") != r.Named("a") || w.Named("a").API || !w.Named("b").API || w.Named("e").Index != 2 {
		t.Error("the file's sites must be kept as they are, the API's marked and indexed after them")
	}
	if s := w.Lookup([]byte("WWW.B.EXAMPLE")); s == nil || s.Name != "b" {
		t.Errorf("Lookup(www.b.example) = %v; want b", s)
	}
	want := []string{
		`site "a" registered through the admin API is not served: site "a" (in the config file) already has that name`,
		`site "c" registered through the admin API is not served: its host "a.example" belongs to site "a" (in the config file)`,
		`site "d" registered through the admin API is not served: its host "www.b.example" belongs to site "b" (registered through the admin API)`,
		`site "` + strings.Repeat("f", MaxNameLen+1) + `" registered through the admin API is not served: a site's name has 1 to 63 bytes`,
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v; want %d", errs, len(want))
	}
	for i := range want {
		if errs[i].Error() != want[i] {
			t.Errorf("error %d = %q; want %q", i, errs[i], want[i])
		}
	}
	if r.Len() != 1 || r.Lookup([]byte("b.example")) != nil {
		t.Error("With changed the registry it was called on")
	}
}
