package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
	"github.com/valyala/fasthttp"
)

const productPage = `<!doctype html><html lang="nl"><head><title>Desem</title></head><body><h1>Desem waldkorn</h1><p>€ 4,25</p></body></html>`

func htmlPage(body string) testkit.Behavior {
	return testkit.Respond(200, body, "Content-Type: text/html; charset=utf-8")
}

// staleSite is a site that waits fallback_after = 300ms for its origin when
// a copy exists.
func staleSite(origin string, extra ...string) string {
	return oneSite(origin, append([]string{"fallback_after: 300ms"}, extra...)...)
}

func assertStale(t *testing.T, resp *http.Response, body, want string) {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "stale" {
		t.Fatalf("got %d %q; want a copy served stale", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	if !strings.Contains(body, want) {
		t.Errorf("stale body lacks %q: %.300s", want, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Age") == "" || !strings.HasPrefix(resp.Header.Get("Cache-Status"), "Awning; ") {
		t.Errorf("stale headers: Cache-Control %q Age %q Cache-Status %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Age"), resp.Header.Get("Cache-Status"))
	}
}

// TestStaleWhenOriginFails: whichever way the origin fails, a stored page is
// served stale within fallback_after (plus generous scheduling slack), with
// the banner in the site's languages.
func TestStaleWhenOriginFails(t *testing.T) {
	for _, tt := range []struct {
		name string
		fail func(o *testkit.Origin)
	}{
		{"refused", func(o *testkit.Origin) { o.Refuse() }},
		{"hanging", func(o *testkit.Origin) { o.Set(testkit.Hang()) }},
		{"500", func(o *testkit.Origin) { o.Set(testkit.Status(500)) }},
		{"502", func(o *testkit.Origin) { o.Set(testkit.Status(502)) }},
		{"522", func(o *testkit.Origin) { o.Set(testkit.Status(522)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, htmlPage(productPage))
			p := startProxy(t, staleSite(o.URL()))
			resp, _ := p.get(t, "shop.example", "/product/1")
			if resp.Header.Get("Awning-Served") != "origin" || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
				t.Fatalf("first answer: %q %q; want origin, stored", resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"))
			}
			tt.fail(o)
			start := time.Now()
			resp, body := p.get(t, "shop.example", "/product/1")
			elapsed := time.Since(start)
			assertStale(t, resp, body, "Desem waldkorn")
			if !strings.Contains(body, `id="awning-banner"`) || !strings.Contains(body, `lang="nl"`) || !strings.Contains(body, "Tijdelijke storing") || !strings.Contains(body, "You are seeing a saved copy of this page") {
				t.Errorf("no bilingual banner: %.400s", body)
			}
			if limit := 300*time.Millisecond + 2*time.Second; elapsed > limit {
				t.Errorf("stale copy took %s; want within fallback_after 300ms plus slack", elapsed)
			}
		})
	}
}

// TestCopySurvivesHourLongOutage uses an injected clock: an hour into the
// outage the copy is still served (with its Age); past the retention, it is
// gone and shoppers get the outage page.
func TestCopySurvivesHourLongOutage(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC))
	o := testkit.NewOrigin(t, htmlPage(productPage))
	opt := options(t, "cache: {retention: 168h}\n"+staleSite(o.URL()))
	opt.Now = clk.Now
	p := startProxyWith(t, opt)
	p.get(t, "shop.example", "/product/1")
	// The store worker builds the copy after the answer is sent: the clock
	// moves on only once it is stored, at 10:00.
	testkit.WaitFor(t, 5*time.Second, "the copy stored", func() bool { return p.Cache().Stats().Stored == 1 })
	o.Refuse()
	clk.Add(time.Hour)
	resp, body := p.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "Desem waldkorn")
	if resp.Header.Get("Age") != "3600" {
		t.Errorf("Age = %q; want 3600", resp.Header.Get("Age"))
	}
	clk.Add(7 * 24 * time.Hour)
	if resp, _ := p.get(t, "shop.example", "/product/1"); resp.Header.Get("Awning-Served") != "outage" {
		t.Errorf("past retention: %q; want outage", resp.Header.Get("Awning-Served"))
	}
}

// sharedProxies starts two proxies (two nodes) whose caches share one real
// redis-server, each with its own memory tier.
func sharedProxies(t *testing.T, yaml string) (*testProxy, *testProxy, *testkit.Redis) {
	t.Helper()
	r := testkit.StartRedis(t)
	mk := func() *testProxy {
		client, err := state.OpenRedis(r.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		opt := options(t, yaml)
		c := cache.New(cache.Config{Memory: 1 << 20, Redis: client, Retention: time.Hour, RedisRefresh: time.Minute, Log: discardLogger()})
		c.Start()
		t.Cleanup(c.Close)
		opt.Cache = c
		return startProxyWith(t, opt)
	}
	return mk(), mk(), r
}

// canaryOrigin answers with secrets that must never reach another shopper.
func canaryOrigin() testkit.Behavior {
	return func(x *testkit.Exchange) {
		r := x.Request
		var resp []byte
		switch {
		case r.Header.Get("Authorization") != "":
			resp = testkit.Response(200, "<p>secret for the Authorization holder</p>")
		case strings.Contains(r.Header.Get("Cookie"), "session=alice"):
			resp = testkit.Response(200, "<p>secret for alice</p>")
		case r.URL.Path == "/welcome":
			resp = testkit.Response(200, "<p>secret session for bob</p>", "Set-Cookie: session=bob; HttpOnly")
		case r.URL.Path == "/account":
			resp = testkit.Response(200, "<p>secret account page</p>", "Cache-Control: private")
		default:
			resp = testkit.Response(200, "<p>public page "+r.URL.Path+"</p>")
		}
		x.Write(resp)
		x.KeepAlive = true
	}
}

// TestPersonalPagesNeverReachAnotherShopper is the canary: answers to
// personal requests, and answers that set cookies or are private, are never
// kept, in either tier, so another shopper gets the outage page, never them.
func TestPersonalPagesNeverReachAnotherShopper(t *testing.T) {
	o := testkit.NewOrigin(t, canaryOrigin())
	a, b, _ := sharedProxies(t, staleSite(o.URL()))
	a.get(t, "shop.example", "/product/1", "Cookie", "session=alice")
	a.get(t, "shop.example", "/product/2", "Authorization", "Bearer carol")
	a.get(t, "shop.example", "/welcome")
	a.get(t, "shop.example", "/account")
	a.get(t, "shop.example", "/public") // the control: this one must be kept
	testkit.WaitFor(t, 10*time.Second, "the public copy in redis", func() bool { return a.Cache().Stats().RedisWrites >= 1 })

	o.Refuse()
	for _, node := range []*testProxy{a, b} {
		for _, path := range []string{"/product/1", "/product/2", "/welcome", "/account"} {
			resp, body := node.get(t, "shop.example", path)
			if strings.Contains(body, "secret") {
				t.Fatalf("%s leaked to another shopper: %q", path, body)
			}
			if resp.Header.Get("Awning-Served") != "outage" {
				t.Errorf("%s: %q; want outage (no copy)", path, resp.Header.Get("Awning-Served"))
			}
		}
		resp, body := node.get(t, "shop.example", "/public")
		assertStale(t, resp, body, "public page /public")
	}
	st := a.Cache().Stats()
	if st.NotStored[cache.PersonalRequest] != 2 || st.NotStored[cache.SetCookie] != 1 || st.NotStored[cache.Private] != 1 {
		t.Errorf("not-stored counters = %v", st.NotStored)
	}
}

// TestBrokenAnswersNeverReplaceACopy: truncated, reset and short bodies are
// not stored, and the previous copy stays.
func TestBrokenAnswersNeverReplaceACopy(t *testing.T) {
	newer := strings.Repeat("<p>new product text</p>", 200)
	for _, tt := range []struct {
		name string
		b    testkit.Behavior
	}{
		{"truncated", testkit.Truncated(newer)},
		{"reset mid-body", testkit.ResetMidBody(newer)},
		{"wrong content-length", testkit.WrongLength(newer)},
		{"chunked without last chunk", testkit.ChunkedTruncated(newer)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, htmlPage(productPage))
			p := startProxy(t, staleSite(o.URL()))
			p.get(t, "shop.example", "/product/1")
			// Copies are built after the answer is sent (store.go).
			testkit.WaitFor(t, 5*time.Second, "the first answer stored", func() bool { return p.Cache().Stats().Stored == 1 })
			stored := p.Cache().Stats().Stored
			o.Set(tt.b)
			resp, body := p.get(t, "shop.example", "/product/1")
			assertStale(t, resp, body, "Desem waldkorn")
			if strings.Contains(body, "new product text") {
				t.Error("a broken answer reached the shopper")
			}
			if got := p.Cache().Stats().Stored; got != stored {
				t.Errorf("stored %d copies after a broken answer; want %d", got, stored)
			}
			o.Refuse()
			_, body = p.get(t, "shop.example", "/product/1")
			if !strings.Contains(body, "Desem waldkorn") {
				t.Errorf("the good copy is gone: %.200s", body)
			}
		})
	}
}

// headerEcho reflects every request header it received into the page, as a
// careless origin might.
func headerEcho() testkit.Behavior {
	return func(x *testkit.Exchange) {
		var b strings.Builder
		b.WriteString("<html><body>")
		for k, v := range x.Request.Header {
			fmt.Fprintf(&b, "<p>%s: %s</p>", k, v)
		}
		fmt.Fprintf(&b, "<p>uri: %s</p></body></html>", x.Request.RequestURI)
		x.Write(testkit.Response(200, b.String()))
		x.KeepAlive = true
	}
}

// TestUnkeyedHeadersCannotPoisonACopy: a client's X-Forwarded-Host or
// X-Original-URL never reaches the origin, so a stored copy cannot carry it.
func TestUnkeyedHeadersCannotPoisonACopy(t *testing.T) {
	o := testkit.NewOrigin(t, headerEcho())
	p := startProxy(t, staleSite(o.URL()))
	resp, body := p.get(t, "shop.example", "/product/1",
		"X-Forwarded-Host", "evil.example", "X-Original-URL", "/evil", "X-Rewrite-URL", "/evil",
		"X-HTTP-Method-Override", "EVIL", "X-Forwarded-Server", "evil.example")
	if strings.Contains(strings.ToLower(body), "evil") || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
		t.Fatalf("poisoned answer or not stored: %q %.300s", resp.Header.Get("Cache-Status"), body)
	}
	o.Refuse()
	resp, body = p.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "uri: /product/1")
	if strings.Contains(strings.ToLower(body), "evil") {
		t.Errorf("the copy carries the attacker's header: %.300s", body)
	}
}

// TestTrackingParameters: /product/1?utm_source=x&gclid=y gets /product/1's
// copy in an outage, and an answer to a request with tracking parameters is
// never stored (the origin may have reflected them).
func TestTrackingParameters(t *testing.T) {
	o := testkit.NewOrigin(t, headerEcho())
	p := startProxy(t, staleSite(o.URL()))
	p.get(t, "shop.example", "/product/1")
	resp, _ := p.get(t, "shop.example", "/product/2?utm_source=x%3Cscript%3E")
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail=tracking-parameter") {
		t.Errorf("answer to a tracked request: Cache-Status %q; want not stored", cs)
	}
	if got := o.Last().RequestURI; got != "/product/2?utm_source=x%3Cscript%3E" {
		t.Errorf("origin got %q; tracking parameters must still reach it", got)
	}
	o.Refuse()
	resp, body := p.get(t, "shop.example", "/product/1?utm_source=x&gclid=y")
	assertStale(t, resp, body, "uri: /product/1<")
	if resp, _ := p.get(t, "shop.example", "/product/2"); resp.Header.Get("Awning-Served") != "outage" {
		t.Errorf("/product/2 has a copy made from a tracked request")
	}
}

// TestTwoNodesShareCopies: a page stored through node A is served stale by
// node B, which never saw it, once the origin dies.
func TestTwoNodesShareCopies(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	a, b, _ := sharedProxies(t, staleSite(o.URL()))
	a.get(t, "shop.example", "/product/1")
	testkit.WaitFor(t, 10*time.Second, "the copy in redis", func() bool { return a.Cache().Stats().RedisWrites >= 1 })
	o.Refuse()
	resp, body := b.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "Desem waldkorn")
}

// TestRedisKilledMidTest: with Redis dead, shoppers keep getting copies
// from memory; when Redis is back, writes resume.
func TestRedisKilledMidTest(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	a, b, r := sharedProxies(t, staleSite(o.URL()))
	a.get(t, "shop.example", "/product/1")
	testkit.WaitFor(t, 10*time.Second, "the first write", func() bool { return a.Cache().Stats().RedisWrites >= 1 })
	r.Stop()
	a.get(t, "shop.example", "/product/2") // its write fails
	testkit.WaitFor(t, 10*time.Second, "redis to be seen down", func() bool { return !a.Cache().Stats().RedisHealthy })

	o.Refuse()
	resp, body := a.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "Desem waldkorn")
	resp, _ = a.get(t, "shop.example", "/product/2")
	if resp.Header.Get("Awning-Served") != "stale" {
		t.Errorf("a page stored while redis was down: %q; want stale from memory", resp.Header.Get("Awning-Served"))
	}

	r.Restart()
	o.Heal(htmlPage(productPage))
	testkit.WaitFor(t, 10*time.Second, "redis to be found back", func() bool { return a.Cache().Stats().RedisHealthy })
	a.get(t, "shop.example", "/product/3")
	testkit.WaitFor(t, 10*time.Second, "writes to resume", func() bool { return a.Cache().Stats().RedisWrites >= 2 })
	o.Refuse()
	// b's pooled Redis connections died with the server: its first reads
	// after the restart may fail (and mark the shard down for a moment) on
	// a loaded machine. What must hold is that b serves a copy a wrote
	// after the restart once its client is back, so ask until it does.
	testkit.WaitFor(t, 10*time.Second, "b to serve /product/3 from redis", func() bool {
		resp, body := b.get(t, "shop.example", "/product/3")
		return resp.Header.Get("Awning-Served") == "stale" && strings.Contains(body, "Desem waldkorn")
	})
}

func TestHeadServedFromGetCopyAndPostNever(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, staleSite(o.URL()))
	p.get(t, "shop.example", "/product/1")
	o.Refuse()
	raw := testkit.Dial(t, p.addr)
	raw.Send("HEAD /product/1 HTTP/1.1\r\nHost: shop.example\r\n\r\n")
	resp, body, err := raw.ReadResponse("HEAD", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "stale" || len(body) != 0 || resp.ContentLength <= 0 {
		t.Errorf("HEAD: %d %q len %d body %d", resp.StatusCode, resp.Header.Get("Awning-Served"), resp.ContentLength, len(body))
	}
	resp2, body2 := p.do(t, http.MethodPost, "shop.example", "/product/1")
	if resp2.StatusCode != 503 || resp2.Header.Get("Awning-Served") != "outage" || strings.Contains(body2, "Desem") {
		t.Errorf("POST answered from a copy: %d %q", resp2.StatusCode, resp2.Header.Get("Awning-Served"))
	}
}

// TestConcurrentFetchesCollapse: twenty shoppers asking for one page at once
// cost the origin one request.
func TestConcurrentFetchesCollapse(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Slow(300*time.Millisecond, htmlPage(productPage)))
	p := startProxy(t, staleSite(o.URL()))
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := p.get(t, "shop.example", "/product/1")
			if resp.StatusCode == 200 && strings.Contains(body, "Desem waldkorn") {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 20 {
		t.Errorf("%d of 20 shoppers got the page", ok.Load())
	}
	if n := o.RequestsFor("/product/1"); n != 1 {
		t.Errorf("origin got %d requests for one page; want 1", n)
	}
}

// TestCollapseNeverSharesPersonalAnswers: an answer that sets a cookie is
// never handed to the requests that waited for it; each gets its own.
func TestCollapseNeverSharesPersonalAnswers(t *testing.T) {
	var n atomic.Int64
	o := testkit.NewOrigin(t, testkit.Slow(200*time.Millisecond, func(x *testkit.Exchange) {
		id := n.Add(1)
		x.Write(testkit.Response(200, fmt.Sprintf("<p>cart of shopper %d</p>", id), fmt.Sprintf("Set-Cookie: session=%d", id)))
		x.KeepAlive = true
	}))
	p := startProxy(t, staleSite(o.URL()))
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := p.get(t, "shop.example", "/welcome")
			mu.Lock()
			seen[body+"|"+resp.Header.Get("Set-Cookie")]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for k, c := range seen {
		if c > 1 {
			t.Errorf("%d shoppers got the same personal answer %q", c, k)
		}
	}
	if len(seen) != 10 {
		t.Errorf("%d distinct answers for 10 shoppers", len(seen))
	}
}

// TestBackgroundRefresh: with a copy in hand, a slow origin costs the
// shopper fallback_after, and its answer, once complete, refreshes the copy.
func TestBackgroundRefresh(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, "cache: {refresh: 1ms}\n"+staleSite(o.URL()))
	p.get(t, "shop.example", "/product/1")
	o.Set(testkit.Slow(800*time.Millisecond, htmlPage(strings.Replace(productPage, "4,25", "3,99", 1))))
	resp, body := p.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "4,25")
	if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "fwd=stale") || !strings.Contains(cs, "detail=timeout") {
		t.Errorf("Cache-Status = %q", cs)
	}
	testkit.WaitFor(t, 10*time.Second, "the slow answer to refresh the copy", func() bool { return p.Cache().Stats().Stored >= 2 })
	o.Refuse()
	_, body = p.get(t, "shop.example", "/product/1")
	if !strings.Contains(body, "3,99") {
		t.Errorf("copy not refreshed by the background answer: %.200s", body)
	}
}

// gzipOrigin answers with gzip when asked, and records what it was asked.
func gzipOrigin(page string) testkit.Behavior {
	return func(x *testkit.Exchange) {
		if strings.Contains(x.Request.Header.Get("Accept-Encoding"), "gzip") {
			gz := fasthttp.AppendGzipBytes(nil, []byte(page))
			x.Write(append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nVary: Accept-Encoding\r\nContent-Length: %d\r\n\r\n", len(gz))), gz...))
		} else {
			x.Write(testkit.Response(200, page))
		}
		x.KeepAlive = true
	}
}

func TestGzipStoredOnceServedEitherWay(t *testing.T) {
	o := testkit.NewOrigin(t, gzipOrigin(productPage))
	p := startProxy(t, staleSite(o.URL()))
	resp, body := p.get(t, "shop.example", "/product/1") // no Accept-Encoding
	if resp.Header.Get("Content-Encoding") != "" || body != productPage {
		t.Errorf("client without gzip got %q %.60q", resp.Header.Get("Content-Encoding"), body)
	}
	if got := o.Last().Header.Get("Accept-Encoding"); got != "gzip" {
		t.Errorf("origin was asked Accept-Encoding %q; want gzip", got)
	}
	resp, body = p.get(t, "shop.example", "/product/1", "Accept-Encoding", "gzip, br")
	if plain, err := fasthttp.AppendGunzipBytes(nil, []byte(body)); resp.Header.Get("Content-Encoding") != "gzip" || err != nil || string(plain) != productPage {
		t.Errorf("gzip client got Content-Encoding %q, %v", resp.Header.Get("Content-Encoding"), err)
	}
	o.Refuse()
	for _, ae := range []string{"", "gzip"} {
		resp, body = p.get(t, "shop.example", "/product/1", "Accept-Encoding", ae)
		if ae == "gzip" {
			plain, err := fasthttp.AppendGunzipBytes(nil, []byte(body))
			if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("stale gzip: %v %q", err, resp.Header.Get("Content-Encoding"))
			}
			body = string(plain)
		}
		if resp.Header.Get("Awning-Served") != "stale" || !strings.Contains(body, "Desem waldkorn") || resp.Header.Get("Vary") != "Accept-Encoding, Accept-Language" {
			t.Errorf("stale with Accept-Encoding %q: %q %q", ae, resp.Header.Get("Awning-Served"), resp.Header.Get("Vary"))
		}
	}
}

func TestAPICopiesAreJSONWithoutBanner(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Respond(200, `{"products":[1,2]}`, "Content-Type: application/json"))
	p := startProxy(t, staleSite(o.URL()))
	p.get(t, "shop.example", "/api/products")
	o.Refuse()
	resp, body := p.get(t, "shop.example", "/api/products", "Accept", "application/json")
	if resp.Header.Get("Awning-Served") != "stale" || body != `{"products":[1,2]}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("API copy: %q %q %q", resp.Header.Get("Awning-Served"), resp.Header.Get("Content-Type"), body)
	}
}

func TestCircuitOpenServesCopiesWithoutOrigin(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	p := startProxy(t, staleSite(o.URL()))
	p.get(t, "shop.example", "/product/1")
	p.Health("shop").SetForce(health.ForceFallback)
	n := o.Requests()
	resp, body := p.get(t, "shop.example", "/product/1")
	assertStale(t, resp, body, "Desem waldkorn")
	if cs := resp.Header.Get("Cache-Status"); cs != "Awning; hit; detail=forced" {
		t.Errorf("Cache-Status = %q", cs)
	}
	if o.Requests() != n {
		t.Error("the origin was contacted with the fallback forced")
	}
}

// TestStaleHitDoesNotAllocate: serving a copy allocates nothing of ours per
// request: headers and bodies were prepared once per copy.
func TestStaleHitDoesNotAllocate(t *testing.T) {
	s, ctx := staleHitServer(t)
	h := s.Handler()
	h(ctx) // builds the banner form once
	// The body is copied into the response's buffer, which fasthttp takes
	// from its pool and the server's Reset returns there: that pool is
	// left out (under the race detector sync.Pool drops items on purpose),
	// by keeping the one buffer across requests.
	ctx.Response.KeepBodyBuffer = true
	if n := testing.AllocsPerRun(200, func() {
		ctx.Response.Reset()
		h(ctx)
	}); n != 0 {
		t.Errorf("a stale hit allocates %v times; want 0", n)
	}
	if string(ctx.Response.Header.Peek("Awning-Served")) != "stale" {
		t.Fatalf("not a stale hit: %s", ctx.Response.Header.Header())
	}
}

// staleHitServer returns a Server holding a copy of /product/1 with the
// fallback forced, and a request context asking for that page.
func staleHitServer(tb testing.TB) (*Server, *fasthttp.RequestCtx) {
	tb.Helper()
	body := strings.Repeat("<p>Desem waldkorn, 36 uur gerezen.</p>", 1500) // ~60 KB
	origin := startOriginForBench(tb, []byte("<html><body>"+body+"</body></html>"))
	s, err := New(options(tb, staleSite(origin)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	ctx := &fasthttp.RequestCtx{}
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI("/product/1")
	req.Header.SetHost("shop.example")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9,nl;q=0.5") // the banner's second variant
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4242}, nil)
	s.Handler()(ctx)
	if string(ctx.Response.Header.Peek("Awning-Served")) != "origin" {
		tb.Fatalf("priming failed: %s", ctx.Response.Header.Header())
	}
	s.Health("shop").SetForce(health.ForceFallback)
	ctx.Response.Reset()
	return s, ctx
}

func startOriginForBench(tb testing.TB, body []byte) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.SetBody(body)
	}}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// BenchmarkStaleHit measures serving a ~60 KB page from its copy, gzip, with
// the banner: the path shoppers take during an outage.
func BenchmarkStaleHit(b *testing.B) {
	s, ctx := staleHitServer(b)
	h := s.Handler()
	h(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Response.Reset()
		h(ctx)
	}
}

// BenchmarkStoreCopy measures turning a ~60 KB origin answer into a copy and
// storing it (compression included): what one store costs, which
// cache.refresh bounds to once per page per interval.
func BenchmarkStoreCopy(b *testing.B) {
	page := []byte("<html><body>" + strings.Repeat("<p>Desem waldkorn, 36 uur gerezen.</p>", 1500) + "</body></html>")
	c := cache.New(cache.Config{Memory: 256 << 20})
	kp := cache.NewKeyPolicy(cache.KeyConfig{Site: "shop", Languages: []string{"nl", "en"}})
	p := &cache.Policy{Statuses: map[int]bool{200: true}, Retention: time.Hour, MaxObject: 8 << 20}
	var req fasthttp.Request
	req.SetRequestURI("/product/1")
	var resp fasthttp.Response
	resp.Header.SetContentType("text/html; charset=utf-8")
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		page[20] = byte(i) // a new content each time: a real store, not a validation
		resp.SetBodyRaw(page)
		a := cache.AnswerOf(&resp)
		k := kp.Build(buf, &req)
		if r := p.Check(&k, []byte("/product/1"), a); r != cache.OK {
			b.Fatal(r)
		}
		cp, r := p.Build(&k, &req, a, time.Now())
		if r != cache.OK {
			b.Fatal(r)
		}
		c.Store(&k, cp)
	}
}

// TestSitemapWarming: a crawl of the sitemap (through an index) leaves a copy
// of every page on the site, so pages nobody visited are served in an outage.
func TestSitemapWarming(t *testing.T) {
	base := "https://shop.example" // set before the origin serves: read by its goroutines
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		switch x.Request.URL.Path {
		case "/sitemap.xml":
			x.Write(testkit.Response(200, `<sitemapindex><sitemap><loc>`+base+`/products.xml</loc></sitemap></sitemapindex>`, "Content-Type: application/xml"))
		case "/products.xml":
			x.Write(testkit.Response(200, `<urlset><url><loc>`+base+`/product/7</loc></url><url><loc>`+base+`/product/8</loc></url><url><loc>https://elsewhere.example/x</loc></url></urlset>`, "Content-Type: application/xml"))
		default:
			x.Write(testkit.Response(200, "<p>warm "+x.Request.URL.Path+"</p>"))
		}
		x.KeepAlive = true
	})
	p := startProxy(t, staleSite(o.URL())+"    cache: {warm: {sitemap: /sitemap.xml, rate: 100, interval: 1h}}\n")
	rep := p.Warmer("shop").Run(context.Background())
	if rep.URLs != 2 || rep.Stored != 2 {
		t.Fatalf("warming report %+v; want 2 pages stored", rep)
	}
	if ua := o.Last().Header.Get("User-Agent"); !strings.HasPrefix(ua, "Awning-Warm/") {
		t.Errorf("warming User-Agent %q", ua)
	}
	if rep := p.Warmer("shop").Run(context.Background()); rep.Fresh != 2 {
		t.Errorf("second crawl %+v; want both pages fresh, not fetched again", rep)
	}
	o.Refuse()
	for _, path := range []string{"/product/7", "/product/8"} {
		resp, body := p.get(t, "shop.example", path)
		assertStale(t, resp, body, "warm "+path)
	}
}

// TestCircuitOpenCountsOneMiss: with the origin known down and no copy, a
// request asks the memory tier once, and the cache counts one miss.
func TestCircuitOpenCountsOneMiss(t *testing.T) {
	s, ctx := staleHitServer(t) // fallback forced; /product/1 has a copy
	ctx.Request.SetRequestURI("/product/never-stored")
	before := s.Cache().Stats()
	s.Handler()(ctx)
	after := s.Cache().Stats()
	if got := string(ctx.Response.Header.Peek("Awning-Served")); got != "outage" {
		t.Fatalf("Awning-Served %q; want outage", got)
	}
	if d := after.Misses - before.Misses; d != 1 {
		t.Errorf("one request counted %d misses; want 1", d)
	}
}

// TestOneLookupPerRequest: a page with a copy, fetched again and again from
// a healthy origin, is looked up once per request (the lookups metric
// counts requests, not internal steps), and identical answers past
// cache.refresh revalidate the copy rather than store it anew.
func TestOneLookupPerRequest(t *testing.T) {
	o := testkit.NewOrigin(t, htmlPage(productPage))
	clk := testkit.NewClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	opt := options(t, oneSite(o.URL()))
	opt.Now = clk.Now
	p := startProxyWith(t, opt)
	const n = 6
	for i := range n {
		if resp, _ := p.get(t, "shop.example", "/product/1"); resp.Header.Get("Awning-Served") != "origin" {
			t.Fatalf("Awning-Served = %q; want origin", resp.Header.Get("Awning-Served"))
		}
		if i%2 == 1 {
			clk.Add(time.Minute) // past cache.refresh: the next answer is checked against the copy
		}
	}
	st := p.Cache().Stats()
	if st.Hits+st.Misses != n || st.Misses != 1 {
		t.Errorf("%d hits, %d misses for %d requests; want one lookup each, the first a miss", st.Hits, st.Misses, n)
	}
	if st.Stored != 1 || st.Unchanged != n/2-1 {
		t.Errorf("stored %d, unchanged %d; want 1 and %d", st.Stored, st.Unchanged, n/2-1)
	}
}
