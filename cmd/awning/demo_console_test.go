package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// checkConsoleLinks: `awning demo` prints the console's address with a
// one-time sign-in link for ops and one for the merchant; each signs in
// once, as whom it says. TestDemo calls it with what the demo printed.
func checkConsoleLinks(t *testing.T, out *testkit.Buffer) {
	t.Helper()
	re := regexp.MustCompile(`as ops +(http://[0-9.:]+)(/ui/#code=\S+)\n +as the merchant +http://[0-9.:]+(/ui/#code=\S+)`)
	testkit.WaitFor(t, 15*time.Second, "the demo to print the console's links", func() bool { return re.MatchString(out.String()) })
	m := re.FindStringSubmatch(out.String())
	admin := m[1]
	if resp, body := fetch(t, "GET", admin+"/ui/"); resp.StatusCode != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("GET /ui/: %d", resp.StatusCode)
	}
	signIn := func(path string) (int, string) {
		code := strings.TrimPrefix(path, "/ui/#code=")
		req, _ := http.NewRequest("POST", admin+"/v1/session", strings.NewReader(`{"code": "`+code+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct{ Role, Name string }
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v.Role + " " + v.Name
	}
	for _, c := range []struct{ path, want string }{{m[2], "ops demo-ops"}, {m[3], "merchant bakkerij"}} {
		if st, who := signIn(c.path); st != 201 || who != c.want {
			t.Errorf("sign-in link %s: %d %q; want 201 %q", c.path, st, who, c.want)
		}
		if st, _ := signIn(c.path); st != 401 {
			t.Errorf("sign-in link %s used twice: %d; want 401", c.path, st)
		}
	}
}
