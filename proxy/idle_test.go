package proxy

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// shortTimeoutSite is oneSite with a 300ms origin timeout, so that an idle
// pooled connection outlives the read deadline of its last exchange within
// a short test.
func shortTimeoutSite(origin string) string {
	return `
tls: {mode: off}
sites:
  - name: shop
    hosts: [shop.example]
    origin:
      urls: [` + origin + `]
      timeout: 300ms
      connect_timeout: 200ms
`
}

// TestIdleConnectionReusedPastItsDeadline: a pooled connection idle for
// longer than its last exchange's deadline is still open and is reused. (The
// liveness check once went through the poller, which fails a read whose
// deadline has passed without looking: every connection idle longer than
// origin.timeout looked closed and was thrown away.)
func TestIdleConnectionReusedPastItsDeadline(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("page"))
	p := startProxy(t, shortTimeoutSite(o.URL()))

	for i := range 3 {
		resp, _ := p.get(t, "shop.example", "/product/1")
		if got := resp.Header.Get("Awning-Served"); got != "origin" {
			t.Fatalf("request %d: Awning-Served = %q; want origin", i, got)
		}
		time.Sleep(400 * time.Millisecond) // past the 300ms deadline of the exchange
	}
	if n := o.Conns(); n != 1 {
		t.Errorf("origin accepted %d connections; want 1, kept alive and reused", n)
	}
}

// warmPool leaves n idle pooled connections from p to o, then has o close
// them: n concurrent requests for different pages, each held by the origin
// until all n have arrived.
func warmPool(t *testing.T, p *testProxy, o *testkit.Origin, n int) {
	t.Helper()
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	o.Set(func(x *testkit.Exchange) {
		arrived.Done()
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
		testkit.OK("page")(x)
	})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { p.get(t, "shop.example", fmt.Sprintf("/product/%d", i)) })
	}
	wg.Wait()
	o.Set(testkit.OK("page"))
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("%d idle connections at the origin", n), func() bool { return o.Idle() == n })
	if got := o.CloseIdle(); got != n {
		t.Fatalf("origin closed %d idle connections; want %d, one per concurrent request", got, n)
	}
	time.Sleep(50 * time.Millisecond) // let the FINs reach Awning's sockets
}

// TestOriginClosedIdleConnectionsDoNotFail: after a busy spell left many
// pooled connections and the origin closed them all while idle (its
// keep-alive timeout), the next shopper is served by the origin, not the
// fallback, and the next probe succeeds. fasthttp tries at most four
// connections per request; the pool here holds twelve stale ones. (Before,
// the attempts ran out on stale connections: the shopper got the fallback
// and two such probes marked a healthy origin down.)
func TestOriginClosedIdleConnectionsDoNotFail(t *testing.T) {
	const pooled = 12
	o := testkit.NewOrigin(t, testkit.OK("page"))
	p := startProxy(t, oneSite(o.URL()))

	warmPool(t, p, o, pooled)
	resp, body := p.get(t, "shop.example", "/product/1")
	if got := resp.Header.Get("Awning-Served"); resp.StatusCode != 200 || got != "origin" || body != "page" {
		t.Fatalf("after the origin closed its idle connections: %d, Awning-Served %q, body %q; want 200 from the origin",
			resp.StatusCode, got, body)
	}
	if n := o.Conns(); n != pooled+1 {
		t.Errorf("origin accepted %d connections; want %d: the stale ones dropped, one new", n, pooled+1)
	}

	warmPool(t, p, o, pooled)
	pl := p.Server.snap.Load().states[0].pool
	status, _, err := pl.probe(context.Background(), 0, "GET", "/healthz", "shop.example")
	if err != nil || status != 200 {
		t.Fatalf("probe after the origin closed its idle connections: %d, %v; want 200", status, err)
	}
}
