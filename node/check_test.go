package node

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCheckReportsEverythingAtOnce: mistakes that the decoder, validation
// and four components find are all reported in one run, sorted by line.
func TestCheckReportsEverythingAtOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte(`listen: {http: ":80", https: ":443", admin: "127.0.0.1:0"}
state: {redis: "redis+sentinel://127.0.0.1:1"}
tls: {mode: acme, ca_root: missing.pem}
sites:
  - name: bakkerij
    hosts: [bakkerij.example, "bad host"]
    origin: {urls: ["http://127.0.0.1:1"], timeout: soon}
    page: {languages: [nl, tlh], logo: nowhere.png}
  - name: slager
    hosts: [slager.example, BAKKERIJ.example]
    origin: {urls: ["http://127.0.0.1:1"], max_inflight: -1}
    page: {timezone: Mars/Olympus}
`), 0o600)
	_, err := Check(path)
	want := []string{
		`c.yaml:2:16: state.redis: state: redis sentinel URL needs ?master_name=`,
		`c.yaml:3:6: tls.agree_terms: acme mode needs agree_terms: true`,
		`c.yaml:3:28: tls.ca_root: open ` + filepath.Join(dir, "missing.pem"),
		`c.yaml:6:31: sites[0].hosts[1]: "bad host" is not a valid host name`,
		`c.yaml:7:53: sites[0].origin.timeout: invalid duration "soon"`,
		`c.yaml:8:28: sites[0].page.languages[1]: no translations for "tlh"`,
		`c.yaml:8:40: sites[0].page.logo: open ` + filepath.Join(dir, "nowhere.png"),
		`c.yaml:10:29: sites[1].hosts[1]: "BAKKERIJ.example" is already listed at sites[0].hosts[0]`,
		`c.yaml:11:58: sites[1].origin.max_inflight: must not be negative`,
		`c.yaml:12:22: sites[1].page.timezone: unknown time zone "Mars/Olympus"`,
	}
	if err == nil {
		t.Fatal("Check passed a broken file")
	}
	got := strings.Split(err.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d problems:\n%s\nwant %d", len(got), err, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], dir+"/"+want[i]) {
			t.Errorf("problem %d:\n got %s\nwant %s…", i, got[i], dir+"/"+want[i])
		}
	}
}

// TestCheckOnlyChecks: check-config of a file whose origins, Redis and ACME
// CA are listeners of the test opens no connection to any of them, leaves
// no goroutine behind and writes nothing, not even the state directory.
func TestCheckOnlyChecks(t *testing.T) {
	accepted := make(chan string, 100)
	listen := func(name string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- name
				c.Close()
			}
		}()
		return ln.Addr().String()
	}
	origin, redisAddr, ca := listen("origin"), listen("redis"), listen("acme CA")
	stateDir := filepath.Join(t.TempDir(), "state")
	var b strings.Builder
	fmt.Fprintf(&b, `listen: {http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0"}
state: {redis: "redis://%s", dir: %q}
tls: {mode: acme, agree_terms: true, ca: "https://%s/dir"}
notify: {webhook: "http://%s/hook"}
sites:
`, redisAddr, stateDir, ca, origin)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "  - name: s%d\n    hosts: [s%d.example]\n    origin: {urls: [\"http://%s\"], health: {path: /healthz, interval: 100ms, timeout: 50ms}}\n", i, i, origin)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(b.String()), 0o600)

	before := runtime.NumGoroutine()
	cfg, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sites) != 200 {
		t.Errorf("%d sites; want 200", len(cfg.Sites))
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Check; %d before", n, before)
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("state.dir exists after Check (%v); check-config writes nothing", err)
	}
	// Absence takes a while to see: probes would have started after one
	// 100ms interval, a Redis client at once.
	select {
	case who := <-accepted:
		t.Errorf("Check connected to the %s", who)
	case <-time.After(500 * time.Millisecond):
	}
}
