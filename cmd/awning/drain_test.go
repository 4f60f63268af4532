package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestSIGTERMDrainsUnderLoad runs the built binary in front of a slow
// origin, with a bounded loop of clients keeping requests in flight, and
// sends SIGTERM while every client waits on the origin: /readyz must turn
// 503 at once, each of those requests must complete with the origin's
// page, nothing sent after must get a broken answer (a refused connection
// is fine: the node stopped accepting), and the process must exit 0.
func TestSIGTERMDrainsUnderLoad(t *testing.T) {
	const (
		clients = 16
		slow    = 3 * time.Second
	)
	bin := binary(t)
	o := testkit.NewOrigin(t, testkit.Slow(slow, testkit.Respond(200, "baked", "Content-Type: text/plain")))
	port, admin := testkit.FreePort(t), testkit.FreePort(t)
	path := filepath.Join(t.TempDir(), "awning.yaml")
	os.WriteFile(path, []byte(`listen: {http: "127.0.0.1:`+itoa(port)+`", admin: "127.0.0.1:`+itoa(admin)+`", drain_timeout: 20s}
tls: {mode: "off"}
log: {format: text}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["`+o.URL()+`"], timeout: 10s}
`), 0o600)
	var logs testkit.Buffer
	cmd := exec.Command(bin, "serve", "--config", path)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	adminURL := "http://127.0.0.1:" + itoa(admin)
	testkit.WaitFor(t, 15*time.Second, "the node to be ready", func() bool {
		resp, err := http.Get(adminURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	type result struct {
		start time.Time
		code  int
		body  string
		err   error
	}
	var (
		mu        sync.Mutex
		results   []result
		termAt    atomic.Int64 // unix nanos SIGTERM was sent; 0 before
		wg        sync.WaitGroup
		shopURL   = "http://127.0.0.1:" + itoa(port) + "/product/1"
		transport = &http.Transport{MaxIdleConnsPerHost: clients}
	)
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 { // bounded: the loop ends even if SIGTERM never comes
				if termAt.Load() != 0 {
					return
				}
				r := result{start: time.Now()}
				req, _ := http.NewRequest(http.MethodGet, shopURL, nil)
				req.Host = "shop.example"
				resp, err := client.Do(req)
				if err == nil {
					b, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					r.code, r.body, r.err = resp.StatusCode, string(b), rerr
				} else {
					r.err = err
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				if r.err != nil {
					return
				}
			}
		}()
	}

	inFlight := regexp.MustCompile(`(?m)^awning_requests_in_flight (\d+)$`)
	testkit.WaitFor(t, 15*time.Second, "every client's request to be in flight", func() bool {
		resp, err := http.Get(adminURL + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := inFlight.FindSubmatch(b)
		if m == nil {
			return false
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n >= clients
	})
	termAt.Store(time.Now().UnixNano())
	cmd.Process.Signal(syscall.SIGTERM)
	// While it drains, the node tells load balancers to stop sending.
	testkit.WaitFor(t, 2*time.Second, "/readyz to say 503 during the drain", func() bool {
		resp, err := http.Get(adminURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})

	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; want 0\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30s of SIGTERM\n%s", logs.String())
	}
	wg.Wait()

	term := time.Unix(0, termAt.Load())
	completed := 0
	for _, r := range results {
		switch {
		case r.start.Before(term) && (r.err != nil || r.code != 200 || r.body != "baked"):
			t.Errorf("a request in flight at SIGTERM got %d %q, err %v; want the origin's page", r.code, r.body, r.err)
		case r.start.Before(term):
			completed++
		case r.err == nil && (r.code != 200 || r.body != "baked"):
			t.Errorf("a request sent after SIGTERM got %d %q; want the page or a refused connection", r.code, r.body)
		}
	}
	if completed < clients {
		t.Errorf("%d requests in flight at SIGTERM completed; want all %d", completed, clients)
	}
	if got := o.Requests(); got < clients {
		t.Errorf("the origin saw %d requests; want at least %d", got, clients)
	}
	for _, want := range []string{"awning is stopping: draining requests in flight", "awning stopped"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(logs.String()) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
