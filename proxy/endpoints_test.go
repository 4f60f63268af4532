package proxy

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// manySites is a config of n sites s0..s(n-1) on hosts s<i>.example and
// www.s<i>.example, all in front of one origin with the given health.
func manySites(n int, origin, health string) string {
	var b strings.Builder
	b.WriteString("tls: {mode: off}\nsites:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: s%d\n    hosts: [s%d.example, www.s%d.example]\n"+
			"    origin: {urls: [%q], timeout: 2s, connect_timeout: 500ms, health: %s}\n", i, i, i, origin, health)
	}
	return b.String()
}

// TestThousandSitesOneProbePerInterval: a thousand sites on one origin
// endpoint; the origin receives one probe per interval (counted where it
// arrives), sent with the origin's own host, not a shop's. One shop whose
// answers fail falls back alone, and comes back by its own recovery probe.
func TestThousandSitesOneProbePerInterval(t *testing.T) {
	const interval = 100 * time.Millisecond
	var broken atomic.Bool
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		status := 200
		if x.Request.Host == "s7.example" && broken.Load() {
			status = 500
		}
		x.Write(testkit.Response(status, "page of "+x.Request.Host))
		x.KeepAlive = true
	})
	p := startProxy(t, manySites(1000, o.URL(), "{path: /healthz, interval: 100ms, timeout: 80ms, rise: 1}"))
	if n := p.prober.Stats().Endpoints; n != 1 {
		t.Fatalf("%d endpoints for 1000 sites on one origin; want 1", n)
	}

	probes := func() int {
		n := 0
		for _, r := range o.Received() {
			if r.RequestURI == "/healthz" {
				n++
				if r.Host != o.Addr() {
					t.Fatalf("probe sent with Host %q; want the origin's own %q", r.Host, o.Addr())
				}
			}
		}
		return n
	}
	start, first := time.Now(), probes()
	testkit.WaitFor(t, 10*time.Second, "ten probes", func() bool { return probes() >= first+10 })
	n := probes() - first
	if per := time.Since(start) / time.Duration(n); per < interval*8/10 {
		t.Errorf("the origin got a probe every %v for 1000 sites; want one per %v interval", per, interval)
	}

	broken.Store(true)
	for i := 0; i < 3; i++ { // passive_failures: 3
		if resp, _ := p.get(t, "s7.example", "/product/1"); resp.StatusCode != 503 {
			t.Fatalf("broken shop answered %d; want 503", resp.StatusCode)
		}
	}
	before := o.RequestsFor("/product")
	resp, _ := p.get(t, "s7.example", "/product/1")
	if got := resp.Header.Get("Awning-Served"); got != "outage" || o.RequestsFor("/product") != before {
		t.Errorf("broken shop: Awning-Served %q, origin contacted %v; want its fallback without contacting the origin",
			got, o.RequestsFor("/product") != before)
	}
	for _, host := range []string{"s0.example", "www.s8.example", "s999.example"} {
		resp, body := p.get(t, host, "/product/1")
		if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || !strings.HasPrefix(body, "page of") {
			t.Errorf("%s with s7 broken: %d %q; want its origin", host, resp.StatusCode, resp.Header.Get("Awning-Served"))
		}
	}
	open := 0
	for i := 0; i < 1000; i++ {
		if p.Health(fmt.Sprintf("s%d", i)).Open() {
			open++
		}
	}
	if open != 999 || p.Health("s7").Open() {
		t.Errorf("%d sites open, s7 open %v; want 999 and s7 closed", open, p.Health("s7").Open())
	}

	broken.Store(false)
	testkit.WaitFor(t, 10*time.Second, "s7's recovery probe to reopen it", p.Health("s7").Open)
	heads := 0
	for _, r := range o.Received() {
		if r.Method == "HEAD" && r.RequestURI == "/" && r.Host == "s7.example" {
			heads++
		}
	}
	if heads == 0 {
		t.Error("no recovery probe with s7's own host reached the origin")
	}
}

// TestEndpointKeptAcrossReload: a reload that keeps an origin endpoint
// keeps what its probes found (the sites stay closed, without a flap) and
// its connection pool; one the new configuration drops stops being probed.
func TestEndpointKeptAcrossReload(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Status(503))
	yaml := manySites(20, o.URL(), "{path: /healthz, interval: 100ms, timeout: 80ms, fall: 1}")
	p := startProxy(t, yaml)
	testkit.WaitFor(t, 10*time.Second, "the endpoint to go down", func() bool { return !p.Health("s3").Open() })
	if err := p.Update(options(t, yaml)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if h := p.Health(fmt.Sprintf("s%d", i)); h.Open() {
			t.Fatalf("s%d open right after a reload; want the endpoint's verdict kept", i)
		}
	}
	if n := p.prober.Stats().Endpoints; n != 1 {
		t.Errorf("%d endpoints after the reload; want 1", n)
	}
	if p.origins.Len() != 1 {
		t.Errorf("%d origin pools; want the one shared", p.origins.Len())
	}
	if err := p.Update(options(t, manySites(20, "http://127.0.0.1:1", "{}"))); err != nil {
		t.Fatal(err)
	}
	eps := p.prober.Endpoints()
	if len(eps) != 1 || eps[0].Key.URL != "http://127.0.0.1:1" || p.origins.Len() != 1 {
		t.Errorf("after moving every site: endpoints %+v, %d pools; want only the new origin's", eps, p.origins.Len())
	}
}
