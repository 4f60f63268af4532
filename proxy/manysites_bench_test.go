package proxy

import (
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/valyala/fasthttp"
)

// manyCopies is how many copies the many-sites benchmarks serve: as many as
// workload S of bench/run.sh (10,000 shops with a page each, or one shop
// with 10,000 pages).
const manyCopies = 10000

// BenchmarkStaleHitManySites serves copies in an outage for shops picked at
// random among 10,000 (one page each, two hosts each), through the handler:
// what workload S's "awning" node does, without sockets. Compare it with
// BenchmarkStaleHitManyPages, the same number of copies of one shop, in the
// same run: the difference is what many sites cost per request.
func BenchmarkStaleHitManySites(b *testing.B) { benchStaleMany(b, manyCopies, 1) }

// BenchmarkStaleHitManyPages is BenchmarkStaleHitManySites for one shop
// with 10,000 pages, picked at random: as many copies, one site.
func BenchmarkStaleHitManyPages(b *testing.B) { benchStaleMany(b, 1, manyCopies) }

func benchStaleMany(b *testing.B, nSites, nPages int) {
	m := staleManyServer(b, nSites, nPages)
	b.ReportAllocs()
	// CPU time of the benchmark's thread as well as wall time: on a shared
	// machine the other processes' turns are in ns/op, not in cpu-ns/op.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := threadCPU()
	i := 0
	for b.Loop() {
		m.serve(i)
		i++
	}
	b.ReportMetric(float64(threadCPU()-cpu)/float64(i), "cpu-ns/op")
	m.check(b)
}

// BenchmarkStaleHitManySitesVsPages is both of the above in one run, in
// turns of 256 requests, and reports the ratio of their median turns
// (sites/pages: 1 when many sites cost what one does). A machine whose
// load changes during the run changes both alike, and a turn the process
// lost the processor in is an outlier the median ignores.
func BenchmarkStaleHitManySitesVsPages(b *testing.B) {
	sites := staleManyServer(b, manyCopies, 1)
	pages := staleManyServer(b, 1, manyCopies)
	b.ReportAllocs()
	const turn = 256
	var turns [2][]time.Duration
	for w := range turns {
		turns[w] = make([]time.Duration, 0, 1<<16) // beyond, turns are served but not timed
	}
	var t0 time.Time
	i := 0
	for b.Loop() {
		w := (i / turn) & 1
		if i%turn == 0 {
			t0 = time.Now()
		}
		if w == 0 {
			sites.serve(i)
		} else {
			pages.serve(i)
		}
		if i++; i%turn == 0 && len(turns[w]) < cap(turns[w]) {
			turns[w] = append(turns[w], time.Since(t0))
		}
	}
	sites.check(b)
	pages.check(b)
	if len(turns[0]) == 0 || len(turns[1]) == 0 {
		return // too short a run to compare
	}
	s, p := median(turns[0]), median(turns[1])
	b.ReportMetric(float64(s)/turn, "sites-ns/req")
	b.ReportMetric(float64(p)/turn, "pages-ns/req")
	b.ReportMetric(float64(s)/float64(p), "sites/pages")
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// staleMany is a Server of many copies, ready to serve them stale.
type staleMany struct {
	// serve asks for copy picks[i] (drawn at random beforehand, as wrk's
	// script draws them).
	serve func(i int)
	ctx   *fasthttp.RequestCtx
}

// check fails b unless the last answer was a copy served stale.
func (m *staleMany) check(b *testing.B) {
	if got := string(m.ctx.Response.Header.Peek("Awning-Served")); got != "stale" {
		b.Fatalf("served %q; want stale", got)
	}
}

// staleManyServer builds a Server of nSites shops with nPages pages each,
// a copy of every page stored and served stale once (its stale form is
// built), and the fallback forced.
func staleManyServer(b *testing.B, nSites, nPages int) *staleMany {
	b.Helper()
	// A small page keeps the setup short (each copy's stale form is
	// compressed once, at the best level): what is measured is the path
	// to the copy, which the page's size does not change.
	page := []byte("<!doctype html><html><head><title>Product</title></head><body>" +
		strings.Repeat("<p>Desem waldkorn, 36 uur gerezen.</p>", 40) + "</body></html>")
	origin := startFastOrigin(b, page)
	var cfg strings.Builder
	cfg.WriteString("tls: {mode: off}\ncache: {memory: 1GiB}\nsites:\n")
	for i := range nSites {
		fmt.Fprintf(&cfg, "  - name: shop%d\n    hosts: [shop%d.example, www.shop%d.example]\n"+
			"    origin: {urls: [%q], health: {path: /healthz, interval: 1h}}\n"+
			"    page: {brand: \"Shop %d\", languages: [nl, en]}\n", i, i, i, origin, i)
	}
	s, err := New(options(b, cfg.String()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	hosts := make([][]byte, nSites)
	for i := range hosts {
		hosts[i] = []byte(fmt.Sprintf("shop%d.example", i))
	}
	paths := make([][]byte, nPages)
	for i := range paths {
		paths[i] = []byte(fmt.Sprintf("/product/%d", i+1))
	}
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI("/product/1")
	req.Header.SetHost("shop0.example")
	req.Header.Set("Accept-Encoding", "gzip") // as wrk asks in workload S
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242}, nil)
	h := s.Handler()
	// ask asks for copy i (site i%nSites, page i%nPages) and says how it
	// was served.
	ask := func(site, page int) string {
		ctx.Response.Reset()
		ctx.Request.Header.SetHostBytes(hosts[site])
		ctx.Request.SetRequestURIBytes(paths[page])
		h(ctx)
		return string(ctx.Response.Header.Peek("Awning-Served"))
	}
	n := max(nSites, nPages)
	for i := range n {
		if got := ask(i%nSites, i%nPages); got != "origin" {
			b.Fatalf("priming copy %d: served %q", i, got)
		}
	}
	testkit.WaitFor(b, 30*time.Second, "every copy stored", func() bool { return s.cache.Stats().Entries == int64(n) })
	for _, st := range s.snap.Load().states {
		st.health.SetForce(health.ForceFallback)
	}
	for i := range n { // each copy's stale form is built on its first stale answer
		if got := ask(i%nSites, i%nPages); got != "stale" {
			b.Fatalf("copy %d: served %q; want stale", i, got)
		}
	}
	picks := make([]int32, 1<<16)
	r := rand.New(rand.NewPCG(11, uint64(nSites)))
	for i := range picks {
		picks[i] = int32(r.IntN(n))
	}
	ctx.Response.KeepBodyBuffer = true
	return &staleMany{ctx: ctx, serve: func(i int) {
		p := int(picks[i&(len(picks)-1)])
		ctx.Response.Reset()
		ctx.Request.Header.SetHostBytes(hosts[p%nSites])
		ctx.Request.SetRequestURIBytes(paths[p%nPages])
		h(ctx)
	}}
}
