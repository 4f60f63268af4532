package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// TestStrictBodies: a key given twice (in any case, at any depth), an
// unknown key, or an allowlist that lets everyone past maintenance is a 400
// that names the problem and changes nothing.
func TestStrictBodies(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		name, method, path, body string
		want                     string // in the error
	}{
		{"duplicate enabled", "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": false, "enabled": true}`, `"enabled" is given twice`},
		{"duplicate in another case", "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": false, "Enabled": true}`, `"Enabled" is given twice`},
		{"duplicate language", "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true, "message": {"nl": "a", "nl": "b"}}`, `"message.nl" is given twice`},
		{"duplicate in update", "POST", "/v1/sites/bakkerij/updates", `{"message": {"en": "a"}, "message": {"en": "b"}}`, `"message" is given twice`},
		{"duplicate in page", "PUT", "/v1/sites/bakkerij/page", `{"brand": "A", "color": "#fff", "brand": "B"}`, `"brand" is given twice`},
		{"duplicate in reassurance", "PUT", "/v1/sites/bakkerij/page", `{"reassurance": {"nl": ["a"], "en": ["b"], "NL": ["c"]}}`, `"reassurance.NL" is given twice`},
		{"unknown key", "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true, "enable": true}`, `unknown field "enable"`},
		{"allow everyone v4", "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true, "allow": ["0.0.0.0/0"]}`, "maintenance off"},
		{"allow everyone v6", "PUT", "/v1/maintenance", `{"enabled": true, "allow": ["::/0"]}`, "maintenance off"},
		{"allow everyone in halves", "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true, "allow": ["128.0.0.0/1", "10.0.0.0/8", "0.0.0.0/1"]}`, "maintenance off"},
		{"allow everyone mapped", "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true, "allow": ["::ffff:0.0.0.0/96"]}`, "maintenance off"},
		{"bidi override in message", "PUT", "/v1/sites/bakkerij/maintenance", `{"enabled": true, "message": {"nl": "Gesloten \u202Egnidlemuk"}}`, "message.nl"},
		{"zero width space in brand", "PUT", "/v1/sites/bakkerij/page", `{"brand": "Bakk\u200Berij"}`, "brand"},
		{"BOM in update", "POST", "/v1/sites/bakkerij/updates", `{"message": {"en": "\uFEFFBack soon"}}`, "message.en"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.Version()
			status, raw := e.call(t, opsToken, tt.method, tt.path, "application/json", []byte(tt.body))
			var msg struct{ Error string }
			json.Unmarshal([]byte(raw), &msg)
			if status != http.StatusBadRequest || !strings.Contains(msg.Error, tt.want) {
				t.Errorf("got %d %s; want 400 naming %s", status, msg, tt.want)
			}
			if e.store.Version() != before {
				t.Error("a refused call changed the state")
			}
		})
	}
	// What is not a duplicate: the same key in sibling objects, and a
	// narrow allowlist.
	for _, body := range []string{
		`{"enabled": true, "message": {"nl": "a", "en": "b"}, "allow": ["10.0.0.0/8", "::1"]}`,
		`{"enabled": true, "allow": ["0.0.0.0/1"]}`,
	} {
		if status, msg := e.call(t, opsToken, "PUT", "/v1/sites/bakkerij/maintenance", "application/json", []byte(body)); status != 200 {
			t.Errorf("%s: %d %s; want 200", body, status, msg)
		}
	}
}

func TestDuplicateKey(t *testing.T) {
	for _, tt := range []struct {
		in, path string
	}{
		{`{"a": 1, "b": 2}`, ""},
		{`{"a": {"x": 1}, "b": {"x": 1}}`, ""},
		{`[{"a": 1}, {"a": 2}]`, ""},
		{`{"a": 1, "a": 2}`, "a"},
		{`{"a": {"x": [1, {"y": 1, "Y": 2}]}}`, "a.x[1].Y"},
		{`{"sites": [{"name": "a"}, {"name": "b", "hosts": [], "name": "c"}]}`, "sites[1].name"},
		{`{"a": "a", "b": "a"}`, ""},
		{`{"a": [], "b": {}, "a": null}`, "a"},
		{`not json`, ""},
	} {
		got, ok := duplicateKey([]byte(tt.in))
		if ok != (tt.path != "") || got != tt.path {
			t.Errorf("duplicateKey(%s) = %q, %v; want %q", tt.in, got, ok, tt.path)
		}
	}
}

func TestCoverAll(t *testing.T) {
	for _, tt := range []struct {
		allow []string
		want  bool
	}{
		{[]string{"0.0.0.0/0"}, true},
		{[]string{"::/0"}, true},
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, true},
		{[]string{"128.0.0.0/2", "0.0.0.0/1", "192.0.0.0/2"}, true},
		{[]string{"0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/3", "224.0.0.0/3"}, true},
		{[]string{"::/1", "8000::/1"}, true},
		{[]string{"::ffff:0.0.0.0/96"}, true},
		{[]string{"::/64"}, true}, // holds the IPv4-mapped block
		{[]string{"0.0.0.0/1"}, false},
		{[]string{"0.0.0.0/1", "128.0.0.0/2"}, false},
		{[]string{"0.0.0.0/1", "192.0.0.0/2"}, false},
		{[]string{"10.0.0.0/8", "::1/128"}, false},
		{[]string{"2000::/3"}, false},
		{nil, false},
	} {
		var ps []netip.Prefix
		for _, a := range tt.allow {
			ps = append(ps, netip.MustParsePrefix(a))
		}
		if got := coverAll(ps); got != tt.want {
			t.Errorf("coverAll(%v) = %v; want %v", tt.allow, got, tt.want)
		}
	}
}

// FuzzStrictJSON: duplicateKey never panics, finds no duplicate in JSON
// whose objects have distinct keys (as encoding/json writes a decoded
// value back), and finds one wherever decoding lost a key.
func FuzzStrictJSON(f *testing.F) {
	f.Add([]byte(`{"enabled": true, "message": {"nl": "x"}}`))
	f.Add([]byte(`{"a": [1, {"b": 2, "B": 3}]}`))
	f.Add([]byte(`{"a": 1, "a": 2}`))
	f.Add([]byte(`[[[{"x": {}}]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, dup := duplicateKey(data)
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, d := duplicateKey(again); d != foldedKeys(v) {
			t.Fatalf("duplicateKey(%s) = %v; want %v", again, d, foldedKeys(v))
		}
		if !dup && countKeys(data) != countKeysValue(v) {
			t.Fatalf("%s: decoding dropped a key duplicateKey did not see", data)
		}
	})
}

// foldedKeys reports whether some object in v has two keys equal without
// regard to case.
func foldedKeys(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		seen := map[string]bool{}
		for k, e := range v {
			if seen[strings.ToLower(k)] || foldedKeys(e) {
				return true
			}
			seen[strings.ToLower(k)] = true
		}
	case []any:
		for _, e := range v {
			if foldedKeys(e) {
				return true
			}
		}
	}
	return false
}

// countKeys counts object keys in JSON text; countKeysValue in a decoded
// value.
func countKeys(data []byte) int {
	var v json.RawMessage = data
	n := 0
	dec := json.NewDecoder(bytes.NewReader(v))
	var stack []bool // object?
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				stack = append(stack, t == '{')
				expectKey = t == '{'
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if expectKey {
				n++
				expectKey = false
				continue
			}
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1]
	}
}

func countKeysValue(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n += len(v)
		for _, e := range v {
			n += countKeysValue(e)
		}
	case []any:
		for _, e := range v {
			n += countKeysValue(e)
		}
	}
	return n
}
