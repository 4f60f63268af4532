package config

import (
	"strings"
	"testing"
)

func TestParseSite(t *testing.T) {
	s, errs := ParseSite("bakkerij", []byte(`{"hosts": ["bakkerij.example"], "origin": {"urls": ["http://10.0.0.5:8080"], "timeout": "5s"},
		"page": {"languages": ["nl", "en"]}}`))
	if errs != nil {
		t.Fatal(errs)
	}
	if s.Name != "bakkerij" || s.Page.Brand != "bakkerij" || s.Origin.Timeout.D().String() != "5s" || s.Origin.Health.Interval.D().String() != "2s" {
		t.Errorf("site = %+v; want the name filled in and defaults applied", s)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"hosts": "x.example", "origin": {"urls": ["ftp://x"], "timeout": "soon", "max_inflight": -1}, "colour": 1}`,
			`hosts: want a list, got "x.example"` + "\n" +
				`origin.urls[0]: want a http or https URL, got "ftp://x"` + "\n" +
				`origin.timeout: invalid duration "soon": write it like 3s, 500ms, 2m or 7d` + "\n" +
				`origin.max_inflight: must not be negative` + "\n" +
				`colour: unknown key "colour" (did you mean "color"?)`},
		{`{"name": "other", "hosts": ["x.example"], "origin": {"urls": ["http://x"]}}`,
			`name: "other" differs from the site in the path, "bakkerij"; leave it out or make them equal`},
		{`{"hosts": ["x.example"], "origin": {"urls": ["http://x"], "health": {"interval": "10ms"}}, "page": {"color": "red"}}`,
			`origin.health.interval: must be at least 100ms, got 10ms` + "\n" + `page.color: want a hex colour such as #b5651d, got "red"`},
		{`{"hosts": ["x.example"], "hosts": ["y.example"], "origin": {"urls": ["http://x"]}}`,
			`hosts: mapping key "hosts" already defined`},
		{`["x"]`, `the body must be a JSON object: a sites: entry of the config file`},
		{`{"hosts": [`, `the body is not valid JSON`},
		{`{}`, "hosts: at least one host is required\norigin.urls: at least one origin URL is required"},
	} {
		_, errs := ParseSite("bakkerij", []byte(tt.body))
		var got []string
		for _, e := range errs {
			got = append(got, strings.TrimPrefix(e.Path+": "+e.Msg, ": "))
		}
		if strings.Join(got, "\n") != tt.want {
			t.Errorf("ParseSite(%s):\n got %s\nwant %s", tt.body, strings.Join(got, "\n"), tt.want)
		}
	}
}

// FuzzParseSite: whatever a body holds, ParseSite either refuses it with
// at least one problem or returns a site that passes the file's checks.
func FuzzParseSite(f *testing.F) {
	f.Add([]byte(`{"hosts": ["x.example"], "origin": {"urls": ["http://10.0.0.5"]}}`))
	f.Add([]byte(`{"hosts": ["x.example"], "origin": {"urls": ["http://10.0.0.5"], "health": {"path": "/h", "interval": "1s"}}, "page": {"languages": ["nl"]}}`))
	f.Add([]byte(`{"name": "a", "hosts": [1, {}], "origin": []}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, errs := ParseSite("shop", body)
		if (s == nil) == (len(errs) == 0) {
			t.Fatalf("site %v with %d errors", s != nil, len(errs))
		}
		if s == nil {
			return
		}
		if s.Name != "shop" || len(s.Hosts) == 0 || len(s.Origin.URLs) == 0 || s.Origin.Health.Interval.D() <= 0 {
			t.Fatalf("accepted %+v", s)
		}
	})
}
