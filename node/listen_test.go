package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestReusePortHandover: with listen.reuse_port (the default) a second
// node binds the ports the first one serves; once the first has drained
// and stopped, the second serves alone. With reuse_port false, the second
// node fails at start.
func TestReusePortHandover(t *testing.T) {
	a := testkit.NewOrigin(t, testkit.OK("old"))
	b := testkit.NewOrigin(t, testkit.OK("new"))
	port := strconv.Itoa(testkit.FreePort(t))
	cfg := func(origin, extra string) string {
		return strings.Replace(siteConfig(origin), `http: "127.0.0.1:0"`, `http: "127.0.0.1:`+port+`"`+extra, 1)
	}
	addr := "127.0.0.1:" + port

	oldPath := filepath.Join(t.TempDir(), "awning.yaml")
	os.WriteFile(oldPath, []byte(cfg(a.URL(), "")), 0o600)
	oldLog := &testkit.Buffer{}
	old, err := New(Options{ConfigPath: oldPath, LogOutput: oldLog})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stopOld := context.WithCancel(context.Background())
	oldDone := make(chan error, 1)
	go func() { oldDone <- old.Run(ctx) }()
	<-old.Ready()
	if got := get(t, addr, "shop.example"); got != "old" {
		t.Fatalf("old node: %q", got)
	}

	if strings.Contains(oldLog.String(), "another process already listens") {
		t.Errorf("the first node warned of a shared port it has alone; its log:\n%s", oldLog.String())
	}

	// The new node binds the same port while the old one serves, and
	// says that it shares it.
	newer, _, newLog := startNode(t, cfg(b.URL(), ""))
	if !strings.Contains(newLog.String(), "another process already listens on this port") {
		t.Errorf("the second node did not warn that it shares the port; its log:\n%s", newLog.String())
	}
	if got := newer.Addrs().HTTP[0]; got != addr {
		t.Fatalf("new node listens on %s; want %s", got, addr)
	}
	stopOld()
	if err := <-oldDone; err != nil {
		t.Fatalf("old node: %v", err)
	}
	for i := 0; i < 20; i++ {
		if got := get(t, addr, "shop.example"); got != "new" {
			t.Fatalf("after the old node stopped, request %d got %q; want the new node's", i, got)
		}
	}

	// Without reuse_port the port is the old node's alone.
	path := filepath.Join(t.TempDir(), "awning.yaml")
	os.WriteFile(path, []byte(cfg(b.URL(), ", reuse_port: false")), 0o600)
	solo, err := New(Options{ConfigPath: path, LogOutput: &testkit.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := solo.Run(rctx); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a node without reuse_port on a port in use: Run = %v; want EADDRINUSE", err)
	}
}
