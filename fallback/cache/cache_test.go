package cache

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
	"github.com/valyala/fasthttp"
)

func keys() *KeyPolicy {
	return NewKeyPolicy(KeyConfig{Site: "shop", IgnoreQuery: config.DefaultIgnoreQuery, AnonymousCookies: config.DefaultAnonymousCookies, Languages: []string{"nl", "en"}})
}

func request(uri string, header ...string) *fasthttp.Request {
	req := &fasthttp.Request{}
	req.Header.SetRequestURI(uri)
	req.Header.SetHost("shop.example")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func TestKeyBuild(t *testing.T) {
	p := keys()
	tests := []struct {
		name     string
		req      *fasthttp.Request
		primary  string
		lang     string
		storable bool
	}{
		{"plain", request("/product/1"), "shop\x00shop.example\x00/product/1", "", true},
		{"sorted query", request("/search?q=brood&page=2&a=1"), "shop\x00shop.example\x00/search?a=1&page=2&q=brood", "", true},
		{"repeated names keep their order", request("/f?c=2&b=1&c=1"), "shop\x00shop.example\x00/f?b=1&c=2&c=1", "", true},
		{"tracking dropped", request("/product/1?utm_source=x&gclid=y"), "shop\x00shop.example\x00/product/1", "", false},
		{"tracking among others", request("/p?fbclid=z&color=red"), "shop\x00shop.example\x00/p?color=red", "", false},
		{"empty params", request("/p?&&a=1&"), "shop\x00shop.example\x00/p?a=1", "", true},
		{"session cookie", request("/p", "Cookie", "_ga=GA1; PHPSESSID=abc"), "shop\x00shop.example\x00/p", "", false},
		{"unknown session cookie", request("/p", "Cookie", "JSESSIONID=abc"), "shop\x00shop.example\x00/p", "", false},
		{"any cookie not on the list", request("/p", "Cookie", "theme=dark"), "shop\x00shop.example\x00/p", "", false},
		{"comma-separated session", request("/p", "Cookie", "_ga=GA1, PHPSESSID=abc"), "shop\x00shop.example\x00/p", "", false},
		{"comma in a name", request("/p", "Cookie", "_gid, PHPSESSID=abc"), "shop\x00shop.example\x00/p", "", false},
		{"valueless name before a comma", request("/p", "Cookie", "PHPSESSID, _ga=GA1"), "shop\x00shop.example\x00/p", "", true},
		{"commas inside a consent value", request("/p", "Cookie", "cookieyes-consent=consentid:abc,consent:yes,action:yes"), "shop\x00shop.example\x00/p", "", true},
		{"a value with =", request("/p", "Cookie", "OptanonConsent=isGpcEnabled=0&groups=C0001%3A1; _ga=GA1.2"), "shop\x00shop.example\x00/p", "", true},
		{"a session after commas in a value", request("/p", "Cookie", "cookieyes-consent=consent:yes,PHPSESSID=abc"), "shop\x00shop.example\x00/p", "", false},
		{"nameless cookie", request("/p", "Cookie", "PHPSESSID"), "shop\x00shop.example\x00/p", "", false},
		{"nameless analytics cookie", request("/p", "Cookie", "_ga"), "shop\x00shop.example\x00/p", "", true},
		{"analytics and consent cookies", request("/p", "Cookie", "_ga=GA1.2.3; _ga_ABC123=GS1; CookieConsent=yes, _fbp=fb.1"), "shop\x00shop.example\x00/p", "", true},
		{"empty cookie header", request("/p", "Cookie", ""), "shop\x00shop.example\x00/p", "", true},
		{"host in canonical form", request("/p", "Host", "SHOP.Example.:8443"), "shop\x00shop.example\x00/p", "", true},
		{"another host of the site", request("/p", "Host", "www.shop.example"), "shop\x00www.shop.example\x00/p", "", true},
		{"authorization", request("/p", "Authorization", "Basic Zm9vOmJhcg=="), "shop\x00shop.example\x00/p", "", false},
		{"dot segment", request("/a/../p"), "shop\x00shop.example\x00/a/../p", "", false},
		{"encoded slash", request("/a%2Fp"), "shop\x00shop.example\x00/a%2Fp", "", false},
		{"double slash", request("//p"), "shop\x00shop.example\x00//p", "", false},
		{"encoded dot", request("/a/%2e%2e/p"), "shop\x00shop.example\x00/a/%2e%2e/p", "", false},
		{"encoded letters are fine", request("/caf%C3%A9"), "shop\x00shop.example\x00/caf%C3%A9", "", true},
		{"language", request("/p", "Accept-Language", "de-DE,en-GB;q=0.8,nl;q=0.5"), "shop\x00shop.example\x00/p", "en", true},
		{"language wildcard", request("/p", "Accept-Language", "fr, *;q=0.1"), "shop\x00shop.example\x00/p", "nl", true},
		{"language garbage", request("/p", "Accept-Language", ";;;q=x,,"), "shop\x00shop.example\x00/p", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := p.Build(nil, tt.req)
			if string(k.Primary) != tt.primary || k.Lang != tt.lang || k.Storable() != tt.storable {
				t.Errorf("key = %q lang %q storable %v; want %q %q %v", k.Primary, k.Lang, k.Storable(), tt.primary, tt.lang, tt.storable)
			}
		})
	}
	var many strings.Builder
	for i := 0; i < 40; i++ {
		many.WriteString("&p" + string(rune('a'+i%26)) + "=1")
	}
	if k := p.Build(nil, request("/p?"+many.String())); !k.Overlong || k.Storable() {
		t.Error("40 parameters: want overlong, not storable")
	}
	fat := request("/p")
	fat.SetBodyString("x=CANARY")
	if k := p.Build(nil, fat); !k.Body || k.Storable() {
		t.Error("a GET with a body: want Body, not storable")
	}
}

func TestKeyBuildDoesNotAllocate(t *testing.T) {
	p := keys()
	req := request("/search?q=brood&utm_source=mail&page=2", "Cookie", "_ga=GA1.2.3; CookieConsent=yes, _fbp=1", "Accept-Language", "nl-NL,nl;q=0.9")
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { p.Build(buf, req) }); n != 0 {
		t.Errorf("Build allocates %v times; want 0", n)
	}
}

func response(status int, ctype, body string, header ...string) *Answer {
	resp := &fasthttp.Response{}
	resp.SetStatusCode(status)
	resp.Header.SetContentType(ctype)
	for i := 0; i+1 < len(header); i += 2 {
		resp.Header.Add(header[i], header[i+1])
	}
	resp.SetBodyString(body)
	return AnswerOf(resp)
}

func policy() *Policy {
	return &Policy{
		Statuses: map[int]bool{200: true}, Retention: time.Hour, ShortLifetime: time.Minute,
		MaxObject: 1 << 20, APIPaths: [][]byte{[]byte("/api/")},
	}
}

const page = "<!doctype html><html><head><title>Brood</title></head><body class=x><h1>Desem</h1></body></html>"

// TestPolicyRules proves each storability rule on its own.
func TestPolicyRules(t *testing.T) {
	p := policy()
	clean := keys().Build(nil, request("/p"))
	tests := []struct {
		name string
		key  Key
		path string
		resp *Answer
		want Reason
	}{
		{"page", clean, "/p", response(200, "text/html; charset=utf-8", page), OK},
		{"css", clean, "/s.css", response(200, "text/css", "a{}"), OK},
		{"js", clean, "/a.js", response(200, "application/javascript", "1"), OK},
		{"image", clean, "/i.png", response(200, "image/png", "\x89PNG"), OK},
		{"font", clean, "/f.woff2", response(200, "font/woff2", "wOF2"), OK},
		{"json off api", clean, "/p", response(200, "application/json", "{}"), TypeNotKept},
		{"json on api", clean, "/api/products", response(200, "application/json", "{}"), OK},
		{"pdf", clean, "/p", response(200, "application/pdf", "%PDF"), TypeNotKept},
		{"status 404", clean, "/p", response(404, "text/html", page), StatusNotKept},
		{"status 206", clean, "/p", response(206, "text/html", page), StatusNotKept},
		{"set-cookie", clean, "/p", response(200, "text/html", page, "Set-Cookie", "session=1"), SetCookie},
		{"private", clean, "/p", response(200, "text/html", page, "Cache-Control", "max-age=60, PRIVATE"), Private},
		{"private with field", clean, "/p", response(200, "text/html", page, "Cache-Control", `private="set-cookie"`), Private},
		{"no-store", clean, "/p", response(200, "text/html", page, "Cache-Control", "no-store, no-cache"), NoStore},
		{"no-cache is fine", clean, "/p", response(200, "text/html", page, "Cache-Control", "no-cache"), OK},
		{"vary star", clean, "/p", response(200, "text/html", page, "Vary", "*"), VaryUnkeyable},
		{"vary cookie", clean, "/p", response(200, "text/html", page, "Vary", "Accept-Encoding, Cookie"), VaryUnkeyable},
		{"vary language", clean, "/p", response(200, "text/html", page, "Vary", "Accept-Language"), OK},
		{"vary many", clean, "/p", response(200, "text/html", page, "Vary", "A, B, C, D, E"), TooManyVariants},
		{"brotli", clean, "/p", response(200, "text/html", page, "Content-Encoding", "br"), Encoding},
		{"cloudflare challenge header", clean, "/p", response(200, "text/html", page, "cf-mitigated", "challenge"), CDNErrorPage},
		{"personal request", keys().Build(nil, request("/p", "Cookie", "PHPSESSID=1")), "/p", response(200, "text/html", page), PersonalRequest},
		{"tracking request", keys().Build(nil, request("/p?utm_source=x")), "/p", response(200, "text/html", page), TrackingParam},
		{"unclean path", keys().Build(nil, request("/a/../p")), "/p", response(200, "text/html", page), UncleanPath},
		{"request with a body", Key{Body: true}, "/p", response(200, "text/html", page), RequestBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Check(&tt.key, []byte(tt.path), tt.resp); got != tt.want {
				t.Errorf("Check = %q; want %q", got, tt.want)
			}
		})
	}

	p.IgnoreNoStore = true
	if got := p.Check(&clean, []byte("/p"), response(200, "text/html", page, "Cache-Control", "no-store")); got != OK {
		t.Errorf("ignore_no_store: %q; want OK", got)
	}
	if got := p.Check(&clean, []byte("/p"), response(200, "text/html", page, "Cache-Control", "no-store, private")); got != Private {
		t.Errorf("ignore_no_store must still honour private: %q", got)
	}
	p.Statuses[404] = true
	if got := p.Check(&clean, []byte("/p"), response(404, "text/html", page)); got != OK {
		t.Errorf("configured 404: %q; want OK", got)
	}
}

func TestBuildChecksBody(t *testing.T) {
	p := policy()
	k := keys().Build(nil, request("/p"))
	now := time.Now()

	c, r := p.Build(&k, request("/p"), response(200, "text/html", page, "X-Shop", "kept", "Date", "x", "Set-Cookie", "a=1"), now)
	if r != OK || !c.Gzipped || !c.HTML || c.Size != len(page) {
		t.Fatalf("build: %v gz %v html %v size %d", r, c.Gzipped, c.HTML, c.Size)
	}
	if got, gz := c.Serve(false); string(got) != page || gz {
		t.Errorf("plain form = %q", got)
	}
	for _, h := range c.Header {
		if string(h[0]) == "Date" || string(h[0]) == "Set-Cookie" {
			t.Errorf("kept header %s", h[0])
		}
	}

	gz := response(200, "text/html", "", "Content-Encoding", "gzip")
	gz.Body = fasthttp.AppendGzipBytes(nil, []byte(page))
	if c, r := p.Build(&k, request("/p"), gz, now); r != OK || string(c.PlainBody()) != page {
		t.Errorf("gzip from origin: %v", r)
	}
	bad := response(200, "text/html", "", "Content-Encoding", "gzip")
	full := fasthttp.AppendGzipBytes(nil, []byte(strings.Repeat(page, 50)))
	bad.Body = full[:len(full)/2]
	if _, r := p.Build(&k, request("/p"), bad, now); r != CorruptBody {
		t.Errorf("truncated gzip: %v; want corrupt-body", r)
	}
	p.MaxObject = 10
	if _, r := p.Build(&k, request("/p"), response(200, "text/html", page), now); r != TooLarge {
		t.Errorf("large body: %v", r)
	}
	p.MaxObject = 1 << 20
	for _, marker := range cdnMarkers {
		body := "<html><body>" + string(marker) + "</body></html>"
		if _, r := p.Build(&k, request("/p"), response(200, "text/html", body), now); r != CDNErrorPage {
			t.Errorf("marker %q: %v; want cdn-error-page", marker, r)
		}
	}
}

func TestMemoryBoundedByBytesAndVariants(t *testing.T) {
	clk := time.Now()
	c := New(Config{Memory: 64 << 10, Now: func() time.Time { return clk }})
	p := policy()
	body := strings.Repeat("x", 20<<10) // incompressible enough? no: make it vary
	for i := 0; i < 20; i++ {
		uri := "/p" + string(rune('a'+i))
		req := request(uri)
		k := keys().Build(nil, req)
		rnd := make([]byte, 20<<10)
		for j := range rnd {
			rnd[j] = byte((i*7919 + j*31) % 251)
		}
		cp, r := p.Build(&k, req, response(200, "image/png", string(rnd)+body[:0]), clk)
		if r != OK {
			t.Fatal(r)
		}
		c.Store(&k, cp)
	}
	st := c.Stats()
	if st.Bytes > 64<<10 || st.Evicted == 0 || st.Entries >= 20 {
		t.Errorf("bytes %d (max %d), entries %d, evicted %d", st.Bytes, 64<<10, st.Entries, st.Evicted)
	}

	// Variants by Accept-Language.
	for _, lang := range []string{"nl", "en"} {
		req := request("/v", "Accept-Language", lang)
		k := keys().Build(nil, req)
		cp, _ := p.Build(&k, req, response(200, "text/html", "page-"+lang, "Vary", "Accept-Language"), clk)
		c.Store(&k, cp)
	}
	for _, lang := range []string{"nl", "en"} {
		req := request("/v", "Accept-Language", lang+"-XX")
		k := keys().Build(nil, req)
		if got := c.Lookup(&k, req); got == nil || string(got.PlainBody()) != "page-"+lang {
			t.Errorf("%s variant: %v", lang, got)
		}
	}
	req := request("/v", "Accept-Language", "fr")
	k := keys().Build(nil, req)
	if got := c.Lookup(&k, req); got != nil {
		t.Errorf("fr got variant %q", got.PlainBody())
	}
}

func TestExpiry(t *testing.T) {
	clk := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	c := New(Config{Memory: 1 << 20, Now: func() time.Time { return clk }})
	p := policy()
	req := request("/p")
	k := keys().Build(nil, req)
	cp, _ := p.Build(&k, req, response(200, "text/html", page), clk)
	c.Store(&k, cp)
	clk = clk.Add(59 * time.Minute)
	if c.Lookup(&k, req) == nil {
		t.Fatal("gone before its retention")
	}
	clk = clk.Add(2 * time.Minute)
	if c.Lookup(&k, req) != nil {
		t.Error("served after its retention")
	}
	if st := c.Stats(); st.Expired != 1 || st.Entries != 0 {
		t.Errorf("expired %d entries %d", st.Expired, st.Entries)
	}
}

func TestStoreUnchangedOnlyValidates(t *testing.T) {
	clk := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	c := New(Config{Memory: 1 << 20, Now: func() time.Time { return clk }})
	p := policy()
	req := request("/p")
	k := keys().Build(nil, req)
	first, _ := p.Build(&k, req, response(200, "text/html", page), clk)
	c.Store(&k, first)
	clk = clk.Add(time.Minute)
	again, _ := p.Build(&k, req, response(200, "text/html", page), clk)
	c.Store(&k, again)
	if got := c.Lookup(&k, req); got != first || !got.Validated().Equal(clk) {
		t.Errorf("unchanged answer replaced the copy or did not validate it")
	}
	if st := c.Stats(); st.Stored != 1 || st.Unchanged != 1 {
		t.Errorf("stored %d unchanged %d", st.Stored, st.Unchanged)
	}
}

// TestRevalidateByWireSum: an origin answer identical on the wire to the
// one a copy was built from validates the copy without a Build; any change
// that would build another copy (body, status, type, encoding, Vary), or
// another variant's request, does not; a copy read from Redis has no wire
// sum until a Store finds its content unchanged.
func TestRevalidateByWireSum(t *testing.T) {
	clk := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	c := New(Config{Memory: 1 << 20, Now: func() time.Time { return clk }})
	p := policy()
	nl := request("/p", "Accept-Language", "nl")
	k := keys().Build(nil, nl)
	answer := func(body string, header ...string) *Answer {
		return response(200, "text/html", body, append([]string{"Vary", "Accept-Language"}, header...)...)
	}
	first, _ := p.Build(&k, nl, answer(page), clk)
	c.Store(&k, first)

	clk = clk.Add(time.Minute)
	if c.Revalidate(&k, nl, WireSum(answer(page))) != first {
		t.Fatal("the same answer did not revalidate the copy")
	}
	if got := c.Lookup(&k, nl); got != first || !got.Validated().Equal(clk) {
		t.Error("revalidation replaced the copy or did not mark it validated")
	}
	if st := c.Stats(); st.Stored != 1 || st.Unchanged != 1 {
		t.Errorf("stored %d unchanged %d; want 1 and 1", st.Stored, st.Unchanged)
	}

	changed := map[string]*Answer{
		"body":     answer(page + " "),
		"status":   response(203, "text/html", page, "Vary", "Accept-Language"),
		"type":     response(200, "text/plain", page, "Vary", "Accept-Language"),
		"encoding": answer(page, "Content-Encoding", "br"),
		"vary":     response(200, "text/html", page, "Vary", "Accept-Language, Accept"),
	}
	for name, resp := range changed {
		if c.Revalidate(&k, nl, WireSum(resp)) != nil {
			t.Errorf("a different %s revalidated the copy", name)
		}
	}
	en := request("/p", "Accept-Language", "en")
	ken := keys().Build(nil, en)
	if c.Revalidate(&ken, en, WireSum(answer(page))) != nil {
		t.Error("the nl copy was revalidated for an en request")
	}

	decoded, err := decodeEntry(encodeEntry([]*Copy{first}))
	if err != nil {
		t.Fatal(err)
	}
	c2 := New(Config{Memory: 1 << 20, Now: func() time.Time { return clk }})
	c2.Store(&k, decoded[0])
	if c2.Revalidate(&k, nl, WireSum(answer(page))) != nil {
		t.Error("a copy from Redis revalidated by a wire sum it never had")
	}
	again, _ := p.Build(&k, nl, answer(page), clk)
	c2.Store(&k, again) // unchanged content: the copy in place learns the wire sum
	if c2.Revalidate(&k, nl, WireSum(answer(page))) == nil || c2.Lookup(&k, nl) != decoded[0] {
		t.Error("after an unchanged Store, the same answer did not revalidate the copy in place")
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	p := policy()
	req := request("/v", "Accept-Language", "nl")
	k := keys().Build(nil, req)
	a, _ := p.Build(&k, req, response(200, "text/html", page, "Vary", "Accept-Language", "Link", "</s.css>; rel=preload"), time.Now())
	b, _ := p.Build(&k, req, response(200, "image/png", "\x89PNG"), time.Now())
	got, err := decodeEntry(encodeEntry([]*Copy{a, b}))
	if err != nil || len(got) != 2 {
		t.Fatalf("decode: %v, %d", err, len(got))
	}
	g := got[0]
	if g.Status != 200 || string(g.ContentType) != string(a.ContentType) || !bytes.Equal(g.Body, a.Body) ||
		g.Sum != a.Sum || !g.Gzipped || !g.HTML || g.Vary[0] != "accept-language" || g.VaryValues[0] != "nl" ||
		g.Validated().UnixNano() != a.Validated().UnixNano() || len(g.Header) != len(a.Header) || string(g.PlainBody()) != page {
		t.Errorf("round trip changed the copy: %+v", g)
	}
	for _, bad := range [][]byte{nil, []byte("AWC\x01"), []byte("XXXX\x01"), encodeEntry([]*Copy{a})[:40]} {
		if _, err := decodeEntry(bad); err == nil {
			t.Errorf("decoded garbage %q", bad)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	p := policy()
	req := request("/p")
	k := keys().Build(nil, req)
	a, _ := p.Build(&k, req, response(200, "text/html", page), time.Now())
	f.Add(encodeEntry([]*Copy{a}))
	f.Add([]byte("AWC\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		copies, err := decodeEntry(data)
		if err != nil {
			return
		}
		for _, c := range copies {
			c.Serve(true) // a decoded copy must be servable without panicking
		}
		// Re-encoding canonicalizes (varints, say); after that, the
		// encoding is a fixed point.
		once := encodeEntry(copies)
		again, err := decodeEntry(once)
		if err != nil || !bytes.Equal(encodeEntry(again), once) {
			t.Fatalf("re-encoded entry does not round-trip: %v", err)
		}
	})
}

func FuzzKeyBuild(f *testing.F) {
	f.Add("/search?q=a&utm_source=x&b=2", "consent=1; PHPSESSID=2", "nl;q=0.5,en")
	f.Fuzz(func(t *testing.T, uri, cookie, lang string) {
		req := &fasthttp.Request{}
		req.Header.SetRequestURI(uri)
		req.Header.Set("Cookie", cookie)
		req.Header.Set("Accept-Language", lang)
		k := keys().Build(nil, req)
		if !bytes.HasPrefix(k.Primary, []byte("shop\x00")) {
			t.Fatalf("key %q lost its site", k.Primary)
		}
		if k.Lang != "" && k.Lang != "nl" && k.Lang != "en" {
			t.Fatalf("lang %q is not a site language", k.Lang)
		}
		// Sorting is idempotent: building from the key's own query gives it back.
		_, q, _ := bytes.Cut(k.Primary, []byte("?"))
		if k.Storable() && len(q) > 0 {
			k2 := keys().Build(nil, request("/p?"+string(q)))
			_, q2, _ := bytes.Cut(k2.Primary, []byte("?"))
			if !bytes.Equal(q, q2) {
				t.Fatalf("query %q normalizes to %q", q, q2)
			}
		}
	})
}

// TestRedisTier shares copies between two caches through a real Redis, and
// keeps serving from memory while Redis is down.
func TestRedisTier(t *testing.T) {
	r := testkit.StartRedis(t)
	client, err := state.OpenRedis(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	mk := func() *Cache {
		c := New(Config{Memory: 1 << 20, Redis: client, Retention: time.Hour, RedisRefresh: time.Minute})
		c.Start()
		t.Cleanup(c.Close)
		return c
	}
	a, b := mk(), mk()
	p := policy()
	req := request("/p")
	k := keys().Build(nil, req)
	cp, _ := p.Build(&k, req, response(200, "text/html", page), time.Now())
	a.Store(&k, cp)
	testkit.WaitFor(t, 15*time.Second, "the write to reach redis", func() bool { return a.Stats().RedisWrites == 1 })
	ttl, _ := client.TTL(context.Background(), redisKey(k.Primary)).Result()
	if ttl <= 0 || ttl > time.Hour {
		t.Errorf("redis TTL = %s; want the retention", ttl)
	}

	ctx := context.Background()
	got := b.LookupRemote(ctx, &k, req)
	if got == nil || string(got.PlainBody()) != page {
		t.Fatalf("node b did not get node a's copy: %v", got)
	}
	if b.Lookup(&k, req) == nil {
		t.Error("a copy read from redis was not kept in memory")
	}

	r.Stop()
	if a.Lookup(&k, req) == nil {
		t.Error("memory tier lost the copy when redis died")
	}
	req2 := request("/q")
	k2 := keys().Build(nil, req2)
	cp2, _ := p.Build(&k2, req2, response(200, "text/html", page+"2"), time.Now())
	a.Store(&k2, cp2)
	testkit.WaitFor(t, 15*time.Second, "the failed write to be counted", func() bool { st := a.Stats(); return st.RedisWriteErrors > 0 || st.RedisDropped > 0 })
	if a.Stats().RedisHealthy {
		t.Error("redis reported healthy while down")
	}
	if a.LookupRemote(ctx, &k2, req2) != nil {
		t.Error("read from a dead redis")
	}

	r.Restart()
	testkit.WaitFor(t, 15*time.Second, "redis to be found back", func() bool { return a.Stats().RedisHealthy })
	req3 := request("/r")
	k3 := keys().Build(nil, req3)
	cp3, _ := p.Build(&k3, req3, response(200, "text/html", page+"3"), time.Now())
	a.Store(&k3, cp3)
	testkit.WaitFor(t, 15*time.Second, "writes to resume", func() bool { return b.LookupRemote(ctx, &k3, req3) != nil })
}

// TestRedisWriterSurvivesPanic: a write that panics (here a nil copy, which
// no caller queues; any bug in encoding would do the same) is logged, the
// tier reports itself unhealthy while the writer waits to restart, and the
// writer then writes again.
func TestRedisWriterSurvivesPanic(t *testing.T) {
	r := testkit.StartRedis(t)
	client, err := state.OpenRedis(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var logs testkit.Buffer
	c := New(Config{Memory: 1 << 20, Redis: client, Retention: time.Hour, RedisRefresh: time.Minute,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	c.Start()
	t.Cleanup(c.Close)
	c.remote.put([]byte("shop\x00shop.example\x00/bug"), []*Copy{nil}, time.Hour, time.Now())
	sawDown := false
	testkit.WaitFor(t, 10*time.Second, "the writer's panic", func() bool {
		st := c.Stats()
		sawDown = sawDown || (st.RedisWriterPanics == 1 && !st.RedisHealthy)
		return st.RedisWriterPanics == 1
	})
	if !sawDown {
		t.Error("the tier reported healthy while its writer waited to restart")
	}
	// The supervisor counts the panic before it logs it.
	testkit.WaitFor(t, 5*time.Second, "the panic to be logged", func() bool {
		return strings.Contains(logs.String(), "panicked") && strings.Contains(logs.String(), "redis copy writer")
	})
	p := policy()
	req := request("/p")
	k := keys().Build(nil, req)
	cp, _ := p.Build(&k, req, response(200, "text/html", page), time.Now())
	c.Store(&k, cp)
	testkit.WaitFor(t, 10*time.Second, "the restarted writer to write", func() bool { return c.Stats().RedisWrites == 1 })
	if st := c.Stats(); !st.RedisHealthy {
		t.Errorf("after the restart: %+v; want healthy", st)
	}
}

// TestPersonalAsParsed: requests as a shopper's bytes make them, with the
// fields repeated: any Authorization field, even an empty one first, and a
// session cookie in any Cookie field make the request personal.
func TestPersonalAsParsed(t *testing.T) {
	p := keys()
	for _, tt := range []struct {
		name, fields string
		personal     bool
	}{
		{"empty authorization", "Authorization: \r\n", true},
		{"empty authorization, then credentials", "Authorization: \r\nAuthorization: Bearer secret\r\n", true},
		{"analytics cookie, then a session in a second field", "Cookie: _ga=GA1\r\nCookie: PHPSESSID=abc\r\n", true},
		{"two analytics cookie fields", "Cookie: _ga=GA1\r\nCookie: _gid=GA2\r\n", false},
		{"nothing", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := "GET /p HTTP/1.1\r\nHost: shop.example\r\n" + tt.fields + "\r\n"
			var req fasthttp.Request
			if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				t.Fatal(err)
			}
			if k := p.Build(nil, &req); k.Storable() == tt.personal {
				t.Errorf("storable = %v; want %v", k.Storable(), !tt.personal)
			}
		})
	}
}
