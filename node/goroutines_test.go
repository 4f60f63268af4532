package node

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// TestStopEndsEveryGoroutine: every goroutine a node starts has an owner
// that stops it. A node with every part on (Redis, HTTPS with HTTP/2 and
// HTTP/3, the console, a webhook, sitemap warming, probes) serves origin
// answers, copies and the outage page, takes admin changes, then stops:
// the process is back to the goroutines it had before the node.
func TestStopEndsEveryGoroutine(t *testing.T) {
	r := testkit.StartRedis(t)
	o := testkit.NewOrigin(t, scenarioOrigin)
	hook := testkit.NewOrigin(t, testkit.Respond(204, ""))
	dir := t.TempDir()
	token := strings.Repeat("t", 32)
	sum := sha256.Sum256([]byte(token))
	tokenHash := hex.EncodeToString(sum[:])
	settle(t) // what earlier tests left stopping
	before := len(ownGoroutines())

	n, _, _, stop := runNode(t, `listen: {http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0", console: "127.0.0.1:0", http3: "127.0.0.1:0"}
state: {redis: "`+r.URL()+`", dir: "`+dir+`"}
tls: {mode: self-signed}
notify: {webhook: "`+hook.URL()+`/hook"}
admin: {tokens: [{name: ops, sha256: "`+tokenHash+`", sites: ["*"]}]}
sites:
  - name: shop
    hosts: [shop.example]
    origin:
      urls: ["`+o.URL()+`"]
      fallback_after: 300ms
      health: {path: /healthz, interval: 100ms, timeout: 100ms, rise: 1, fall: 1}
    cache:
      warm: {sitemap: /sitemap.xml, rate: 50}
`)
	roots := caPool(t, filepath.Join(dir, "local-ca", "ca.crt"))
	h2 := httpsClient(n.Addrs().HTTPS[0], roots, nil)
	httpsGet(t, h2, "shop.example", "/product/1")
	httpsGet(t, h2, "shop.example", "/never-seen")
	if rep := n.proxy.Warmer("shop").Run(context.Background()); rep.Stored == 0 {
		t.Errorf("warming stored nothing: %+v", rep)
	}
	addr := n.Addrs().HTTP3[0]
	h3 := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddr(ctx, addr, tc, qc)
		},
	}
	if resp, err := (&http.Client{Transport: h3}).Get("https://shop.example/product/1"); err != nil {
		t.Errorf("HTTP/3: %v", err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	admin := &http.Client{Transport: &http.Transport{}}
	call := func(method, path string) {
		req, _ := http.NewRequest(method, "http://"+n.Addrs().Admin[0]+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := admin.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Errorf("%s %s: %d", method, path, resp.StatusCode)
		}
	}
	call(http.MethodPut, "/v1/sites/shop/fallback")
	httpsGet(t, h2, "shop.example", "/product/1") // a copy
	httpsGet(t, h2, "shop.example", "/cart")      // the outage page
	call(http.MethodDelete, "/v1/sites/shop/fallback")
	if resp, err := admin.Get("http://" + n.Addrs().Console[0] + "/ui/"); err != nil {
		t.Errorf("console: %v", err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	stop()
	h3.Close()
	h2.CloseIdleConnections()
	admin.CloseIdleConnections()
	var left []string
	if !testkit.Poll(10*time.Second, func() bool { left = ownGoroutines(); return len(left) <= before }) {
		t.Errorf("%d goroutines after the node stopped; %d before it started:\n%s", len(left), before, strings.Join(left, "\n\n"))
	}
}

// libraryOwned are goroutines a library starts once for the whole process
// (fasthttp's stackless workers and its dialer's DNS cache), or that stop
// by themselves within a bounded time with no way to stop them sooner:
// fasthttp's idle-connection cleaner at its next tick after its pool is
// emptied, and its server's idle-worker cleaner at its next tick after
// Shutdown (MaxIdleWorkerDuration, 10s).
var libraryOwned = []string{
	"fasthttp/stackless.funcWorker",
	"fasthttp.(*TCPDialer).tcpAddrsClean",
	"fasthttp.(*HostClient).connsCleaner",
	"fasthttp.(*workerPool).Start.func2",
}

// ownGoroutines returns the stacks of the process's goroutines but those
// libraryOwned.
func ownGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var own []string
next:
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, lib := range libraryOwned {
			if strings.Contains(g, lib) {
				continue next
			}
		}
		own = append(own, g)
	}
	return own
}

// settle waits until the number of goroutines has held still for five
// samples in a row.
func settle(t *testing.T) {
	last, same := -1, 0
	testkit.WaitFor(t, 5*time.Second, "the goroutines of earlier tests to settle", func() bool {
		n := runtime.NumGoroutine()
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		return same >= 5
	})
}
