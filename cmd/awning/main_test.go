package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary builds the awning binary once per test run, for tests that need
// real processes (signals, several nodes).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "awning-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "awning")
		cmd := exec.Command("go", "build", "-o", builtBin, ".")
		cmd.Stderr = os.Stderr
		buildErr = cmd.Run()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	// Nodes started without state.dir (and the awning processes they run)
	// keep their state here, not in the machine's /var/lib/awning.
	stateDir, err := os.MkdirTemp("", "awning-cmd-test-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("STATE_DIRECTORY", stateDir)
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.RemoveAll(stateDir)
	os.Exit(code)
}

func fetch(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestDemo runs `awning demo` in-process and walks the steps it prints:
// the shop is served through Awning, breaking it brings the outage page,
// healing it brings the shop back.
func TestDemo(t *testing.T) {
	var out testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--https", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--shop", "127.0.0.1:0", "--control", "127.0.0.1:0", "--state-dir", t.TempDir()}, &out, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	reShop := regexp.MustCompile(`Shop, through Awning +http://(localhost:\d+)/product/1`)
	reCtl := regexp.MustCompile(`curl -X POST 'http://([0-9.:]+)/_demo/break`)
	testkit.WaitFor(t, 15*time.Second, "the demo to print its help", func() bool { return reCtl.MatchString(out.String()) })
	web := "http://" + strings.Replace(reShop.FindStringSubmatch(out.String())[1], "localhost", "127.0.0.1", 1)
	control := "http://" + reCtl.FindStringSubmatch(out.String())[1]

	resp, body := fetch(t, "GET", web+"/product/1")
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || !strings.Contains(body, "Desem waldkorn") {
		t.Fatalf("product page: %d %q", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	// HTTPS, trusting the local CA the help names, as its curl line does.
	reHTTPS := regexp.MustCompile(`curl --cacert (\S+) -si https://(localhost:\d+)/product/1`)
	m := reHTTPS.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the help has no curl line for HTTPS:\n%s", out.String())
	}
	pem, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, strings.Replace(addr, "localhost", "127.0.0.1", 1))
		},
	}}
	sresp, err := hc.Get("https://" + m[2] + "/product/1")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	sresp.Body.Close()
	if sresp.StatusCode != 200 || sresp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("HTTPS product page: %d %q", sresp.StatusCode, sresp.Header.Get("Awning-Served"))
	}

	for _, mode := range []string{"down", "500"} {
		fetch(t, "POST", control+"/_demo/break?mode="+mode)
		resp, body = fetch(t, "GET", web+"/product/1")
		if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(body, "Desem waldkorn") {
			t.Errorf("shop %s, visited page: %d %q; want its last known good copy", mode, resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
		resp, page := fetch(t, "GET", web+"/cart")
		if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" {
			t.Errorf("shop %s, cart (never kept): %d %q; want the outage page", mode, resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
		if logo := regexp.MustCompile(`/\.well-known/awning/logo/bakkerij-[0-9a-f]+\.png`).FindString(page); logo == "" {
			t.Errorf("shop %s: the outage page shows no logo", mode)
		} else if resp, _ := fetch(t, "GET", web+logo); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Errorf("logo %s: %d %q", logo, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		fetch(t, "POST", control+"/_demo/heal")
		resp, _ = fetch(t, "GET", web+"/product/1")
		if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" {
			t.Errorf("healed after %s: %d %q; want the shop", mode, resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
	}
	demoGrepLines(t, out.String(), web)

	// Ops in control, through the CLI and the token the demo printed.
	reEnv := regexp.MustCompile(`export AWNING_ADMIN=(\S+) AWNING_TOKEN=(\S+)`)
	env := reEnv.FindStringSubmatch(out.String())
	if env == nil {
		t.Fatalf("the demo printed no admin token:\n%s", out.String())
	}
	cli := func(args ...string) string {
		var buf bytes.Buffer
		args = append(args, "--admin", env[1], "--token", env[2])
		if err := run(context.Background(), args, &buf, io.Discard); err != nil {
			t.Fatalf("awning %s: %v", strings.Join(args, " "), err)
		}
		return buf.String()
	}
	got := cli("maintenance", "on", "--site", "bakkerij", "--for", "30m", "--bypass")
	if !strings.Contains(got, "Maintenance is on for bakkerij") || !strings.Contains(got, "/.well-known/awning/bypass/") {
		t.Errorf("maintenance on printed %q", got)
	}
	// The bypass link works as printed: the demo's HTTPS port is in it.
	if link := regexp.MustCompile(`Bypass \(sets a cookie for this shop\): (https://localhost:(\d+)/\S+)`).FindStringSubmatch(got); link == nil || "localhost:"+link[2] != m[2] {
		t.Errorf("maintenance on printed %q; want a bypass link on %s", got, m[2])
	} else {
		noRedirect := *hc
		noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := noRedirect.Get(link[1])
		if err != nil {
			t.Fatalf("bypass link: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Set-Cookie"), "awning_bypass=") {
			t.Errorf("bypass link %s: %d %q; want 303 with the bypass cookie", link[1], resp.StatusCode, resp.Header.Get("Set-Cookie"))
		}
	}
	resp, body = fetch(t, "GET", web+"/product/1")
	if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "maintenance" || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "noindex") {
		t.Errorf("in maintenance: %d %q", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	cli("update", "post", "--site", "bakkerij", "--message", "nl=De oven draait weer", "--message", "en=The oven is back on")
	if _, body = fetch(t, "GET", web+"/product/1"); !strings.Contains(body, "De oven draait weer") {
		t.Error("the posted update is not on the maintenance page")
	}
	// An update with an end is shown until then, and listed as ended after.
	cli("update", "post", "--site", "bakkerij", "--expires", "2s", "--message", "nl=Kort bericht", "--message", "en=A short note")
	if got := cli("update", "list", "--site", "bakkerij"); !regexp.MustCompile(`(?m)live .*en: A short note`).MatchString(got) ||
		!regexp.MustCompile(`(?m)live +1h after the shop is back +en: The oven is back on`).MatchString(got) {
		t.Errorf("update list printed %q; want both updates live, the second with its end", got)
	}
	testkit.WaitFor(t, 15*time.Second, "the short note to end", func() bool {
		_, body := fetch(t, "GET", web+"/product/1")
		return !strings.Contains(body, "Kort bericht") && strings.Contains(body, "De oven draait weer")
	})
	if got := cli("update", "list", "--site", "bakkerij"); !regexp.MustCompile(`(?m)ended .*en: A short note`).MatchString(got) {
		t.Errorf("update list printed %q; want the short note ended", got)
	}
	if got := cli("maintenance", "status"); !strings.Contains(got, "bakkerij") || !strings.Contains(got, "maintenance page") {
		t.Errorf("status printed %q", got)
	}
	cli("maintenance", "off", "--site", "bakkerij")

	// page set --json shows the page as shoppers see it: the config's
	// brand and logo, the contact changed here, and which is which.
	var page struct {
		Brand, Contact string
		Logo           bool
		Overrides      []string
	}
	json.Unmarshal([]byte(cli("page", "set", "--site", "bakkerij", "--contact", "help@bakkerij.example", "--json")), &page)
	if page.Brand != "Bakkerij de Vries" || page.Contact != "help@bakkerij.example" || !page.Logo || strings.Join(page.Overrides, ",") != "contact" {
		t.Errorf("page set --json: %+v; want the config's brand and logo, the new contact, overrides [contact]", page)
	}
	json.Unmarshal([]byte(cli("page", "set", "--site", "bakkerij", "--color", "#000000", "--json")), &page)
	if strings.Join(page.Overrides, ",") != "color,contact" {
		t.Errorf("a second page set: overrides %v; want color and contact, the config's values not pinned", page.Overrides)
	}
	if resp, _ = fetch(t, "GET", web+"/product/1"); resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("after maintenance off: %q", resp.Header.Get("Awning-Served"))
	}
	checkConsoleLinks(t, &out)
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("tls: {agree_terms: true}\nsites:\n  - name: shop\n    hosts: [shop.example]\n    origin: {urls: [\"http://127.0.0.1:8080\"]}\n"), 0o600)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"check-config", good}, &out, io.Discard); err != nil {
		t.Fatalf("good file: %v", err)
	}
	if got := out.String(); got != good+": OK (1 sites)\n" {
		t.Errorf("output = %q", got)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("sites:\n  - name: shop\n    hosts: [shop.example]\n    origin: {urls: [\"http://127.0.0.1:8080\"], timeout: soon}\n"), 0o600)
	err := run(context.Background(), []string{"check-config", bad}, io.Discard, io.Discard)
	if err == nil || err.Error() != bad+`:1:1: tls.agree_terms: acme mode needs agree_terms: true, to say you agree to the CA's terms of service (Let's Encrypt: https://letsencrypt.org/repository/); or use mode self-signed or off`+"\n"+
		bad+`:4:56: sites[0].origin.timeout: invalid duration "soon": write it like 3s, 500ms, 2m or 7d` {
		t.Errorf("bad file: %v", err)
	}
}

// TestServeBinarySignals builds the real binary and drives it with signals:
// SIGHUP with a good file switches the origin, SIGHUP with a bad file keeps
// the old one, SIGTERM exits cleanly.
func TestServeBinarySignals(t *testing.T) {
	bin := binary(t)
	a := testkit.NewOrigin(t, testkit.Respond(200, "a"))
	b := testkit.NewOrigin(t, testkit.Respond(200, "b"))
	port := testkit.FreePort(t)
	cfg := func(origin string) string {
		return "listen: {http: \"127.0.0.1:" + itoa(port) + "\", admin: \"127.0.0.1:0\"}\ntls: {mode: \"off\"}\nlog: {format: text}\n" +
			"sites:\n  - name: shop\n    hosts: [shop.example]\n    origin: {urls: [\"" + origin + "\"]}\n"
	}
	path := filepath.Join(t.TempDir(), "awning.yaml")
	os.WriteFile(path, []byte(cfg(a.URL())), 0o600)
	var logs testkit.Buffer
	cmd := exec.Command(bin, "serve", "--config", path)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	body := func() string {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+itoa(port)+"/", nil)
		req.Host = "shop.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	testkit.WaitFor(t, 10*time.Second, "serving origin a", func() bool { return body() == "a" })

	os.WriteFile(path, []byte(cfg(b.URL())), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	testkit.WaitFor(t, 10*time.Second, "serving origin b after SIGHUP", func() bool { return body() == "b" })

	os.WriteFile(path, []byte(strings.Replace(cfg(a.URL()), "hosts:", "hots:", 1)), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	testkit.WaitFor(t, 10*time.Second, "the failed reload in the log", func() bool {
		return strings.Contains(logs.String(), "config reload failed; still serving the previous configuration")
	})
	if got := body(); got != "b" {
		t.Errorf("after a bad reload: %q; want b still", got)
	}
	if !strings.Contains(logs.String(), `awning.yaml:6:5: sites[0].hots: unknown key`) {
		t.Errorf("log does not position the error: %s", logs.String())
	}

	cmd.Process.Signal(syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestDemoShopOnly runs `awning demo --shop-only`, what deploy/compose.yaml
// runs as its shop service: the sample shop and its break/heal endpoints,
// with no Awning in front.
func TestDemoShopOnly(t *testing.T) {
	var logs testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--shop-only", "--shop", "127.0.0.1:0", "--control", "127.0.0.1:0"}, io.Discard, &logs)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo --shop-only: %v", err)
		}
	}()
	re := regexp.MustCompile(`shop=(http://[0-9.:]+) control="?(http://[0-9.:]+)/_demo/break`)
	testkit.WaitFor(t, 10*time.Second, "the shop to open", func() bool { return re.MatchString(logs.String()) })
	m := re.FindStringSubmatch(logs.String())
	resp, body := fetch(t, "GET", m[1]+"/product/1")
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "" || !strings.Contains(body, "Desem waldkorn") {
		t.Fatalf("the shop: %d %q; want its own product page, not through Awning", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	fetch(t, "POST", m[2]+"/_demo/break?mode=500")
	if resp, _ := fetch(t, "GET", m[1]+"/product/1"); resp.StatusCode != 500 {
		t.Errorf("broken shop: %d; want 500", resp.StatusCode)
	}
}

// demoGrepLines runs the demo's printed `curl … | grep …` lines for the
// product page, as a newcomer pastes them: each prints its headers and
// nothing of the page.
func demoGrepLines(t *testing.T, help, web string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^  (curl -si http://\S+/product/1 \| grep .*)$`)
	lines := re.FindAllStringSubmatch(help, -1)
	if len(lines) < 2 {
		t.Fatalf("the demo's help has %d curl | grep lines for the product page; want 2", len(lines))
	}
	for _, l := range lines {
		cmd := regexp.MustCompile(`http://\S+/product/1`).ReplaceAllString(l[1], web+"/product/1")
		got, err := exec.Command("sh", "-c", cmd).Output()
		if err != nil {
			t.Errorf("%s: %v", cmd, err)
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
			name, _, ok := strings.Cut(line, ":")
			if !ok || strings.ContainsAny(name, " <>") {
				t.Errorf("%s printed %q, which is no header: the grep matches the page too", l[1], line)
			}
		}
	}
}
