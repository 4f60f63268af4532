package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/node"
	"github.com/awningproxy/awning/pages"
)

const opsToken = "awn_ops_test_token_0123456789abcdef"

// startAdminNode runs a node in-process with two sites in different zones
// (bakkerij in Europe/Amsterdam, pub in Europe/London) and an ops token,
// and returns its admin address.
func startAdminNode(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256([]byte(opsToken))
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0"}
state: {dir: %q}
tls: {mode: "off"}
log: {format: text}
admin: {tokens: [{name: ops, sha256: %q, sites: ["*"]}]}
sites:
  - name: bakkerij
    hosts: [bakkerij.example]
    origin: {urls: ["http://127.0.0.1:1"]}
    page: {languages: [nl, en], timezone: Europe/Amsterdam}
  - name: pub
    hosts: [pub.example]
    origin: {urls: ["http://127.0.0.1:1"]}
    page: {timezone: Europe/London}
`, dir, hex.EncodeToString(sum[:]))
	path := filepath.Join(dir, "awning.yaml")
	os.WriteFile(path, []byte(cfg), 0o600)
	var logs testkit.Buffer
	n, err := node.New(node.Options{ConfigPath: path, LogOutput: &logs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-n.Ready():
	case err := <-done:
		t.Fatalf("node: %v", err)
	}
	return n.Addrs().Admin[0]
}

// cliIn runs the awning binary in the time zone tz (TZ), against adm.
func cliIn(t *testing.T, tz, adm string, args ...string) (string, error) {
	t.Helper()
	var out, errb strings.Builder
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "TZ="+tz, "AWNING_ADMIN="+adm, "AWNING_TOKEN="+opsToken)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, errb.String())
	}
	return out.String(), nil
}

func apiGet(t *testing.T, adm, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+adm+path, nil)
	req.Header.Set("Authorization", "Bearer "+opsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// nextAt is the next h:00 in loc after now, as parseWhen reads "h:00".
func nextAt(now time.Time, h int, loc *time.Location) time.Time {
	n := now.In(loc)
	at := time.Date(n.Year(), n.Month(), n.Day(), h, 0, 0, 0, loc)
	if !at.After(n) {
		at = at.AddDate(0, 0, 1)
	}
	return at
}

// TestCLITimesInSiteZone runs the CLI in New York against sites in
// Amsterdam and London: what it reads and what it prints are the site's
// times, each with its zone.
func TestCLITimesInSiteZone(t *testing.T) {
	adm := startAdminNode(t)
	const cliZone = "America/New_York" // the machine's zone: neither site's
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	london, _ := time.LoadLocation("Europe/London")

	// --until 10:00 is 10:00 in Amsterdam.
	before := time.Now()
	out, err := cliIn(t, cliZone, adm, "maintenance", "on", "--site", "bakkerij", "--until", "10:00")
	if err != nil {
		t.Fatal(err)
	}
	var m admin.MaintenanceView
	apiGet(t, adm, "/v1/sites/bakkerij/maintenance", &m)
	want := nextAt(before, 10, ams)
	if m.End == nil || !m.End.Equal(want) {
		if after := nextAt(time.Now(), 10, ams); m.End == nil || !m.End.Equal(after) { // 10:00 passed meanwhile
			t.Fatalf("--until 10:00 stored end %v; want %v (10:00 in Amsterdam)", m.End, want)
		}
	}
	wantUntil := "until " + m.End.In(ams).Format("Mon 2 Jan 15:04 MST") // 10:00 CET or CEST
	if !strings.Contains(out, wantUntil) {
		t.Errorf("maintenance on printed %q; want %q", out, wantUntil)
	}

	// status: the site's zone, or --tz.
	out, err = cliIn(t, cliZone, adm, "maintenance", "status", "--site", "bakkerij")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "active: full, until "+m.End.In(ams).Format("Mon 2 Jan 15:04 MST")) {
		t.Errorf("status printed %q; want the end in Amsterdam time", out)
	}
	out, err = cliIn(t, cliZone, adm, "maintenance", "status", "--site", "bakkerij", "--tz", "Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "until "+m.End.In(london).Format("Mon 2 Jan 15:04 MST")) {
		t.Errorf("status --tz Europe/London printed %q; want the end in London time", out)
	}

	// update list: the site's zone.
	if _, err := cliIn(t, cliZone, adm, "update", "post", "--site", "bakkerij", "--message", "nl=De oven is stuk"); err != nil {
		t.Fatal(err)
	}
	var us []pages.Update
	apiGet(t, adm, "/v1/sites/bakkerij/updates", &us)
	out, err = cliIn(t, cliZone, adm, "update", "list", "--site", "bakkerij")
	if err != nil || len(us) != 1 {
		t.Fatalf("update list: %v (%d updates)", err, len(us))
	}
	if w := us[0].Time.In(ams).Format("Mon 2 Jan 15:04 MST"); !strings.Contains(out, w) {
		t.Errorf("update list printed %q; want the time as %q", out, w)
	}

	// --all: the sites differ, so a wall-clock time needs --tz; a
	// duration does not, and is printed in UTC.
	_, err = cliIn(t, cliZone, adm, "maintenance", "on", "--all", "--start", "+1h", "--until", "18:00")
	if err == nil || !strings.Contains(err.Error(), "different zones (Europe/Amsterdam, Europe/London)") || !strings.Contains(err.Error(), "--tz") {
		t.Errorf("--all --until 18:00 across zones: %v; want a request for --tz", err)
	}
	before = time.Now()
	out, err = cliIn(t, cliZone, adm, "maintenance", "on", "--all", "--start", "+1h", "--until", "18:00", "--tz", "Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	apiGet(t, adm, "/v1/maintenance", &m)
	if want := nextAt(before, 18, london); m.End == nil || !m.End.Equal(want) && !m.End.Equal(nextAt(time.Now(), 18, london)) {
		t.Errorf("--until 18:00 --tz Europe/London stored %v; want %v", m.End, want)
	}
	if !strings.Contains(out, "Maintenance is scheduled for every shop") {
		t.Errorf("printed %q", out)
	}
	if _, err := cliIn(t, cliZone, adm, "maintenance", "on", "--all", "--for", "2h", "--replace"); err != nil {
		t.Errorf("--all --for 2h across zones: %v; a duration needs no zone", err)
	}
}

// TestMaintenanceWindowLifecycle: a second `maintenance on` does not
// silently replace a scheduled window; --replace does; a window whose end
// passed shows as ended, and no longer stands in the way.
func TestMaintenanceWindowLifecycle(t *testing.T) {
	adm := startAdminNode(t)
	cli := func(args ...string) (string, error) {
		var out strings.Builder
		err := run(context.Background(), append(args, "--admin", adm, "--token", opsToken), &out, io.Discard)
		return out.String(), err
	}
	if out, err := cli("maintenance", "on", "--site", "bakkerij", "--start", "+1h", "--for", "1h", "--message", "nl=Nieuwe oven"); err != nil || !strings.Contains(out, "Maintenance is scheduled for bakkerij: full, from ") {
		t.Fatalf("schedule: %q %v", out, err)
	}
	_, err := cli("maintenance", "on", "--site", "bakkerij", "--for", "30m")
	if err == nil || !strings.Contains(err.Error(), "bakkerij already has maintenance scheduled (full, from ") ||
		!strings.Contains(err.Error(), "set by ops") || !strings.Contains(err.Error(), "add --replace") {
		t.Fatalf("a second maintenance on: %v; want a refusal naming the scheduled window and --replace", err)
	}
	var m admin.MaintenanceView
	apiGet(t, adm, "/v1/sites/bakkerij/maintenance", &m)
	if m.Status != "scheduled" || m.Message["nl"] != "Nieuwe oven" {
		t.Errorf("after the refusal: %+v; want the scheduled window unchanged", m)
	}
	if out, _ := cli("maintenance", "status", "--site", "bakkerij"); !strings.Contains(out, "scheduled: full, from ") {
		t.Errorf("status: %q", out)
	}

	end := time.Now().Add(time.Second) // ahead of a loaded machine's CLI call
	if _, err := cli("maintenance", "on", "--site", "bakkerij", "--until", end.Format(time.RFC3339Nano), "--replace"); err != nil {
		t.Fatalf("--replace: %v", err)
	}
	testkit.WaitFor(t, 5*time.Second, "status to show the window ended", func() bool {
		out, _ := cli("maintenance", "status", "--site", "bakkerij")
		return strings.Contains(out, "ended: full, ended ")
	})
	if out, _ := cli("maintenance", "status", "--site", "bakkerij"); strings.Contains(out, "maintenance page") {
		t.Errorf("status after the end: %q; shoppers are not on the maintenance page", out)
	}
	if _, err := cli("maintenance", "on", "--site", "bakkerij", "--for", "1h"); err != nil {
		t.Errorf("maintenance on after the last window ended: %v", err)
	}
}
