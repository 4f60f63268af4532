package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
)

// TestWindowLogOnceEach moves a clock through a scheduled window and
// checks what is logged at each look: its start and its end, once each,
// and when the next look is due.
func TestWindowLogOnceEach(t *testing.T) {
	t0 := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
	var now time.Time
	start, end := t0.Add(time.Hour), t0.Add(2*time.Hour)
	windows := map[string]*state.Maintenance{"bakkerij": {Enabled: true, Mode: "full", Start: &start, End: &end, By: "ops"}}
	var buf bytes.Buffer
	w := newWindowLog(slog.New(slog.NewTextHandler(&buf, nil)), func() map[string]*state.Maintenance { return windows })
	w.now = func() time.Time { return now }
	steps := []struct {
		at       time.Time
		turnOff  bool
		wantLog  string // "" for nothing
		wantNext time.Time
	}{
		{at: t0, wantNext: start},
		{at: t0.Add(30 * time.Minute), wantNext: start},
		{at: start, wantLog: `msg="maintenance window started" scope=bakkerij mode=full start=2026-12-24T10:00:00.000Z end=2026-12-24T11:00:00.000Z by=ops`, wantNext: end},
		{at: start.Add(time.Minute), wantNext: end},
		{at: end, wantLog: `msg="maintenance window ended" scope=bakkerij`, wantNext: time.Time{}},
		{at: end.Add(time.Hour)},
	}
	for i, st := range steps {
		now = st.at
		buf.Reset()
		next := w.look()
		got := buf.String()
		if st.wantLog == "" && got != "" || st.wantLog != "" && !strings.Contains(got, st.wantLog) || strings.Count(got, "\n") > 1 {
			t.Errorf("step %d (%s): logged %q; want %q", i, st.at.Format("15:04"), got, st.wantLog)
		}
		if !next.Equal(st.wantNext) {
			t.Errorf("step %d: next look at %v; want %v", i, next, st.wantNext)
		}
	}

	// A window turned off while in force ends then, and says why; one in
	// force when the node starts is logged as such.
	now = end.Add(2 * time.Hour)
	windows = map[string]*state.Maintenance{state.Global: {Enabled: true, Mode: "read-only"}}
	w.last = nil // a node starting
	buf.Reset()
	w.look()
	if got := buf.String(); !strings.Contains(got, `msg="maintenance window in force" scope=* mode=read-only`) {
		t.Errorf("at start-up: %q", got)
	}
	windows = map[string]*state.Maintenance{}
	buf.Reset()
	w.look()
	if got := buf.String(); !strings.Contains(got, `msg="maintenance window ended" scope=*`) || !strings.Contains(got, `why="turned off"`) {
		t.Errorf("turned off: %q", got)
	}
}

// TestWindowLogOnNode sets a short window through the admin API of a
// running node: its start and its end are logged once each, by the
// node's own timer.
func TestWindowLogOnNode(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("a"))
	n, _, logs := startNode(t, siteConfig(o.URL())+"admin: {tokens: [{name: ops, sha256: \""+sha256hex("ops-token-0123456789")+"\", sites: [\"*\"]}]}\n")
	// Far enough ahead that a loaded machine still delivers the PUT before
	// the end (the API refuses an end in the past).
	start := time.Now().Add(500 * time.Millisecond).UTC()
	end := start.Add(500 * time.Millisecond)
	body := `{"enabled": true, "start": "` + start.Format(time.RFC3339Nano) + `", "end": "` + end.Format(time.RFC3339Nano) + `"}`
	req, _ := http.NewRequestWithContext(context.Background(), "PUT", "http://"+n.Addrs().Admin[0]+"/v1/sites/shop/maintenance", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer ops-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT maintenance: %d", resp.StatusCode)
	}
	testkit.WaitFor(t, 10*time.Second, "the window's end in the log", func() bool {
		return strings.Contains(logs.String(), "maintenance window ended")
	})
	if got := logs.String(); strings.Count(got, "maintenance window started") != 1 || strings.Count(got, "maintenance window ended") != 1 {
		t.Errorf("want one start and one end logged:\n%s", got)
	}
	if !strings.Contains(logs.String(), `"detail":"enabled=true mode=full start=`+start.Format(time.RFC3339)) {
		t.Errorf("the audit line lacks the start:\n%s", logs.String())
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
