package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/node"
)

// TestSiteAndTokenCommands drives `awning site` and `awning token` against
// a node in this process: a site added by flags and one from a YAML file
// are served, listed and removed; a bad site is refused naming the field;
// a token created is shown once, works, is listed without its hash and is
// revoked.
func TestSiteAndTokenCommands(t *testing.T) {
	const ops = "awn_site_command_test_token_0123"
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	dir := t.TempDir()
	sum := sha256.Sum256([]byte(ops))
	cfg := fmt.Sprintf(`listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0"}
state: {dir: %q}
tls: {mode: "off"}
admin: {tokens: [{name: ops, sha256: %q, sites: ["*"]}]}
sites: []
`, dir, hex.EncodeToString(sum[:]))
	path := filepath.Join(dir, "awning.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	n, err := node.New(node.Options{ConfigPath: path, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-n.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("node not ready")
	}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		args = append(args, "--admin", n.Addrs().Admin[0], "--token", ops)
		err := run(context.Background(), args, &out, io.Discard)
		return out.String(), err
	}
	served := func(host string) int {
		req, _ := http.NewRequest("GET", "http://"+n.Addrs().HTTP[0]+"/", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	out, err := cli("site", "add", "bakkerij", "--host", "bakkerij.example", "--host", "www.bakkerij.example",
		"--origin", o.URL(), "--lang", "nl", "--lang", "en", "--brand", "Bakkerij de Vries")
	if err != nil || !strings.Contains(out, "Site bakkerij registered for bakkerij.example, www.bakkerij.example") {
		t.Fatalf("site add: %v %q", err, out)
	}
	file := filepath.Join(dir, "slager.yaml")
	os.WriteFile(file, []byte("hosts: [slager.example]\norigin:\n  urls: [\""+o.URL()+"\"]\n  health: {path: /healthz}\n"), 0o600)
	if _, err := cli("site", "add", "slager", "--file", file); err != nil {
		t.Fatalf("site add --file: %v", err)
	}
	for _, h := range []string{"www.bakkerij.example", "slager.example"} {
		if code := served(h); code != 200 {
			t.Errorf("%s: %d; want served", h, code)
		}
	}
	if _, err := cli("site", "add", "kapot", "--host", "kapot.example", "--origin", "ftp://x"); err == nil ||
		!strings.Contains(err.Error(), `origin.urls[0]: want a http or https URL, got "ftp://x"`) || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("a bad site: %v; want the field named", err)
	}
	out, err = cli("site", "list")
	if err != nil || !regexp.MustCompile(`bakkerij\s+api\s+yes\s+bakkerij.example, www.bakkerij.example`).MatchString(out) || !strings.Contains(out, "slager") {
		t.Errorf("site list: %v\n%s", err, out)
	}
	if _, err := cli("site", "remove", "slager"); err != nil {
		t.Fatal(err)
	}
	if code := served("slager.example"); code != http.StatusMisdirectedRequest {
		t.Errorf("removed site: %d; want 421", code)
	}

	out, err = cli("token", "create", "--name", "bakker", "--sites", "bakkerij")
	tok := regexp.MustCompile(`token:  (awn_\S+)`).FindStringSubmatch(out)
	if err != nil || tok == nil || !strings.Contains(out, "shown this once") {
		t.Fatalf("token create: %v %q", err, out)
	}
	var status bytes.Buffer
	merchant := []string{"--admin", n.Addrs().Admin[0], "--token", tok[1]}
	if err := run(context.Background(), append([]string{"maintenance", "status", "--site", "bakkerij"}, merchant...), &status, io.Discard); err != nil ||
		!strings.Contains(status.String(), "bakkerij") {
		t.Errorf("the merchant token on its own site: %v %q", err, status.String())
	}
	if err := run(context.Background(), append([]string{"site", "add", "x", "--host", "x.example", "--origin", o.URL()}, merchant...), io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "needs an ops token") {
		t.Errorf("a merchant token registering a site: %v; want refused", err)
	}
	out, err = cli("token", "list")
	if err != nil || !regexp.MustCompile(`bakker\s+api\s+bakkerij\s+\d`).MatchString(out) || !regexp.MustCompile(`ops\s+config\s+\*`).MatchString(out) ||
		strings.Contains(out, tok[1]) {
		t.Errorf("token list: %v\n%s", err, out)
	}
	if _, err := cli("token", "revoke", "bakker"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+n.Addrs().Admin[0]+"/v1/sites/bakkerij", nil)
	req.Header.Set("Authorization", "Bearer "+tok[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("revoked token: %d; want 401", resp.StatusCode)
	}
}
