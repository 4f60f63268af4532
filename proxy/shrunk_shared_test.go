package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
)

// TestShrunkPageDoesNotReplaceASharedCopy: the shrunk-page rule (a 200
// HTML page a tenth the size of its copy is a platform's bare error page,
// not the page) holds on a node that has the copy only in Redis: another
// node made it, or this one restarted. Node B, which never saw the page,
// gets the shrunk answer first: it must not store it over the copy in
// Redis, nor keep it in memory to serve as the page in the next outage.
func TestShrunkPageDoesNotReplaceASharedCopy(t *testing.T) {
	big := `<!doctype html><html><head><title>Desem</title></head><body>` + strings.Repeat("<p>Desem waldkorn, 36 uur gerezen.</p>", 200) + `</body></html>`
	o := testkit.NewOrigin(t, htmlPage(big))
	site := staleSite(o.URL(), "health: {passive_failures: 1000}")
	a, b, r := sharedProxies(t, site)
	a.get(t, "shop.example", "/product/1")
	testkit.WaitFor(t, 10*time.Second, "the copy in redis", func() bool { return a.Cache().Stats().RedisWrites >= 1 })

	o.Set(htmlPage(`<html><body>Database connection failed</body></html>`))
	resp, _ := b.get(t, "shop.example", "/product/1")
	if !strings.Contains(resp.Header.Get("Cache-Status"), "detail=shrunk") {
		t.Errorf("node B: Cache-Status %q; want detail=shrunk (the copy is in redis)", resp.Header.Get("Cache-Status"))
	}
	if n := b.Cache().Stats().NotStored[cache.Shrunk]; n != 1 {
		t.Errorf("node B: not_stored{reason=shrunk} = %d; want 1", n)
	}
	// Node B's writes to Redis go in order: once a later page's copy is
	// written, a wrongly queued write of the shrunk page has landed too.
	o.Set(htmlPage(big))
	b.get(t, "shop.example", "/product/2")
	testkit.WaitFor(t, 10*time.Second, "node B's later write", func() bool { return b.Cache().Stats().RedisWrites >= 1 })

	b.Health("shop").SetForce(health.ForceFallback)
	if _, body := b.get(t, "shop.example", "/product/1"); !strings.Contains(body, "36 uur gerezen") {
		t.Errorf("node B serves %.80q as the page's copy; want the copy from redis", body)
	}
	o.Refuse()
	c := proxyOnRedis(t, site, r)
	if _, body := c.get(t, "shop.example", "/product/1"); !strings.Contains(body, "36 uur gerezen") {
		t.Errorf("a third node reads %.80q from redis; want the good copy", body)
	}
}

// proxyOnRedis starts one more node on sharedProxies' Redis, with an empty
// memory tier.
func proxyOnRedis(t *testing.T, yaml string, r *testkit.Redis) *testProxy {
	t.Helper()
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
