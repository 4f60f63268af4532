package proxy

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestSlowOriginStillRefreshesCopy: an origin slower than fallback_after
// costs the shopper fallback_after (the copy answers), is asked once, not
// twice, and its answer, once complete, refreshes the copy in the
// background: a slow origin does not leave its copies to age.
func TestSlowOriginStillRefreshesCopy(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, "cache: {refresh: 1ms}\n"+staleSite(o.URL()))
	p.get(t, "shop.example", "/product/1")
	before := o.Requests()

	o.Set(testkit.Slow(900*time.Millisecond, htmlPage(strings.Replace(productPage, "4,25", "3,99", 1))))
	resp, body := p.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "4,25")
	testkit.WaitFor(t, 10*time.Second, "the background refresh to finish", func() bool { return p.refreshes.Load() == 1 })
	if got := p.refreshStarts.Load(); got != 1 {
		t.Errorf("background refreshes started = %d; want 1", got)
	}
	if got := o.Requests() - before; got != 1 {
		t.Errorf("origin asked %d times for the slow page; want 1 (the refresh goes on with the shopper's exchange)", got)
	}

	o.Refuse()
	resp, body = p.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "3,99")
}

// TestSlowRequestsStartOneRefreshPerPage: a hundred concurrent requests
// for two pages whose origin has become slow all get their copies at
// fallback_after, and start one background refresh per page, not one per
// request: the origin is asked once per page however many shoppers wait.
func TestSlowRequestsStartOneRefreshPerPage(t *testing.T) {
	pages := []string{"/held/product/1", "/held/product/2"}
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open)

	o := testkit.NewOrigin(t, htmlPage(productPage))
	// timeout is long enough that the held exchanges outlast a hundred
	// requests on a busy machine: the copies must refresh, not time out.
	p := startProxy(t, "cache: {refresh: 1ms}\n"+strings.Replace(staleSite(o.URL()), "timeout: 2s", "timeout: 20s", 1))
	for _, pg := range pages {
		if resp, _ := p.get(t, "shop.example", pg); resp.Header.Get("Awning-Served") != "origin" {
			t.Fatalf("priming %s: %q", pg, resp.Header.Get("Awning-Served"))
		}
	}
	testkit.WaitFor(t, 5*time.Second, "both copies stored", func() bool { return p.Cache().Stats().Stored >= 2 })
	before := make([]int, len(pages))
	for i, pg := range pages {
		before[i] = o.RequestsFor(pg)
	}

	o.Set(heldOrigin(release, htmlPage(strings.Replace(productPage, "4,25", "3,99", 1))))
	const n = 100
	type answer struct {
		served string
		err    error
	}
	answers := make(chan answer, n)
	for i := range n {
		go func() {
			resp, _, err := rawGet(p.addr, "shop.example", pages[i%len(pages)])
			if err != nil {
				answers <- answer{err: err}
				return
			}
			answers <- answer{served: resp.Header.Get("Awning-Served")}
		}()
	}
	stale := 0
	deadline := time.After(20 * time.Second)
	for range n {
		select {
		case a := <-answers:
			if a.err != nil {
				t.Fatalf("GET: %v", a.err)
			}
			if a.served == "stale" {
				stale++
			}
		case <-deadline:
			t.Fatalf("%d answers of %d: requests wait on the slow origin", stale, n)
		}
	}
	if stale != n {
		t.Errorf("%d of %d answers were the copy; want all", stale, n)
	}
	// Every shopper has its answer and the origin still holds every
	// request: what it was asked is all that was started.
	for i, pg := range pages {
		if got := o.RequestsFor(pg) - before[i]; got != 1 {
			t.Errorf("origin asked %d times for %s while slow; want 1", got, pg)
		}
	}
	if got := p.refreshStarts.Load(); got != uint64(len(pages)) {
		t.Errorf("background refreshes started = %d; want %d, one per page", got, len(pages))
	}

	open()
	testkit.WaitFor(t, 10*time.Second, "the refreshes to finish", func() bool { return p.refreshes.Load() == uint64(len(pages)) })
	o.Refuse()
	for _, pg := range pages {
		resp, body := p.get(t, "shop.example", pg)
		assertStale(t, resp, body, "3,99")
	}
	if got := p.refreshStarts.Load(); got != uint64(len(pages)) {
		t.Errorf("background refreshes started = %d after all; want %d", got, len(pages))
	}
}

// TestFallbackAfterHoldsAcrossOrigins: when the first origin tried fails
// at once (refused) and the next is slow, the shopper with a copy still
// gets it at fallback_after: moving to another origin does not lift the
// soft deadline. Two requests, so that round robin starts one of them at
// the refusing origin.
func TestFallbackAfterHoldsAcrossOrigins(t *testing.T) {
	a := testkit.NewOrigin(t, htmlPage(productPage))
	b := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, "cache: {refresh: 1ms}\n"+staleSite(a.URL()+", "+b.URL()))
	p.get(t, "shop.example", "/product/1")
	testkit.WaitFor(t, 5*time.Second, "the copy stored", func() bool { return p.Cache().Stats().Stored >= 1 })

	a.Refuse()
	b.Set(testkit.Slow(1200*time.Millisecond, htmlPage(productPage)))
	for i := range 2 {
		resp, body := p.get(t, "shop.example", "/product/1")
		assertStale(t, resp, body, "4,25")
		if t.Failed() {
			t.Fatalf("request %d: the copy did not answer at fallback_after", i)
		}
	}
}
