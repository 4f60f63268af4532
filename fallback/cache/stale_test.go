package cache

import (
	"bytes"
	"compress/gzip"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testBanner is a Banner of two variants whose text names the variant and
// the copy's time, and changes at the next full hour.
type testBanner struct{ word string } // word comes first in its text

func (testBanner) Variants() int { return 2 }
func (b testBanner) AppendVariant(dst []byte, i int, copied, now time.Time) ([]byte, time.Time) {
	dst = append(dst, `<div id="b">`+b.word+`v`...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, " at "...)
	dst = copied.UTC().AppendFormat(dst, "15:04:05")
	dst = append(dst, "</div>"...)
	return dst, copied.Truncate(time.Hour).Add(time.Hour)
}
func (testBanner) CSPSources() (string, string) { return "'sha256-S'", "'sha256-T'" }

// stale serves c stale with variant i and returns the page as the client
// reads it, decoding gzip with the standard library (which checks the
// trailer's CRC-32 and size).
func stale(t *testing.T, c *Copy, b Banner, i int, gz bool, now time.Time) ([]byte, [][2][]byte) {
	t.Helper()
	var buf bytes.Buffer
	h, gzipped := c.WriteStale(&buf, b, i, gz, now)
	if gzipped != (gz && c.Gzipped) {
		t.Fatalf("gzipped = %v; want %v", gzipped, gz && c.Gzipped)
	}
	if !gzipped {
		return buf.Bytes(), h
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("the stale page is not valid gzip: %v", err)
	}
	if rest, _ := io.ReadAll(&buf); len(rest) != 0 {
		t.Fatalf("%d bytes after the gzip member", len(rest))
	}
	return plain, h
}

func TestWriteStale(t *testing.T) {
	p := policy()
	k := keys().Build(nil, request("/p"))
	made := time.Date(2025, 1, 14, 13, 5, 0, 0, time.UTC)
	big := "<!doctype html><html><head><title>Brood</title></head><body class=x><h1>Desem</h1>" +
		strings.Repeat("<p>Vers gebakken desembrood met een knapperige korst.</p>", 2000) + "</body></html>"
	for _, body := range []string{page, big, "no body tag at all"} {
		c, r := p.Build(&k, request("/p"), response(200, "text/html", body, "Content-Security-Policy", "default-src 'self'", "X-Shop", "kept"), made)
		if r != OK {
			t.Fatal(r)
		}
		now := made.Add(10 * time.Minute)
		for _, gz := range []bool{true, false} {
			for i := range 2 {
				got, h := stale(t, c, testBanner{}, i, gz, now)
				want := body[:bannerAt([]byte(body))] + `<div id="b">v` + strconv.Itoa(i) + ` at 13:05:00</div>` + body[bannerAt([]byte(body)):]
				if string(got) != want {
					t.Fatalf("variant %d gzip %v:\n got %.200q\nwant %.200q", i, gz, got, want)
				}
				var csp string
				for _, kv := range h {
					if string(kv[0]) == "Content-Security-Policy" {
						csp = string(kv[1])
					}
				}
				if want := "default-src 'self'; script-src 'self' 'sha256-S'; style-src 'self' 'sha256-T'"; csp != want {
					t.Errorf("CSP %q; want %q", csp, want)
				}
			}
		}
		// The copy keeps its own headers; only the stale forms differ.
		for _, kv := range c.Header {
			if string(kv[0]) == "Content-Security-Policy" && string(kv[1]) != "default-src 'self'" {
				t.Errorf("the copy's own CSP changed to %q", kv[1])
			}
		}
	}
}

func TestWriteStaleAgeFollowsTheCopy(t *testing.T) {
	p := policy()
	k := keys().Build(nil, request("/p"))
	made := time.Date(2025, 1, 14, 13, 5, 0, 0, time.UTC)
	c, _ := p.Build(&k, request("/p"), response(200, "text/html", page), made)
	got, _ := stale(t, c, testBanner{}, 0, true, made)
	if !bytes.Contains(got, []byte("at 13:05:00")) {
		t.Fatalf("first: %s", got)
	}
	// The origin gave the same page again: the copy is validated anew, and
	// its age with it.
	c.validated.Store(made.Add(20 * time.Minute).UnixNano())
	if got, _ := stale(t, c, testBanner{}, 0, true, made.Add(21*time.Minute)); !bytes.Contains(got, []byte("at 13:25:00")) {
		t.Errorf("after validation: %s", got)
	}
	// A banner says when its text changes; after that it is rendered anew.
	calls := 0
	b := &countingBanner{calls: &calls}
	stale(t, c, b, 0, true, made.Add(21*time.Minute))
	stale(t, c, b, 0, true, made.Add(22*time.Minute))
	if calls != 1 {
		t.Errorf("rendered %d times within the hour; want 1", calls)
	}
	stale(t, c, b, 0, true, made.Add(2*time.Hour))
	if calls != 2 {
		t.Errorf("rendered %d times after the text changed; want 2", calls)
	}
}

type countingBanner struct {
	testBanner
	calls *int
}

func (b *countingBanner) AppendVariant(dst []byte, i int, copied, now time.Time) ([]byte, time.Time) {
	*b.calls++
	return b.testBanner.AppendVariant(dst, i, copied, now)
}

// TestWriteStaleAllocatesNothing: once a copy's forms exist, serving it
// stale copies slices and allocates nothing, in either encoding.
func TestWriteStaleAllocatesNothing(t *testing.T) {
	p := policy()
	k := keys().Build(nil, request("/p"))
	c, _ := p.Build(&k, request("/p"), response(200, "text/html", page), time.Now())
	b := testBanner{}
	now := time.Now()
	var buf bytes.Buffer
	buf.Grow(4 << 10)
	c.WriteStale(&buf, b, 1, true, now)
	c.WriteStale(&buf, b, 1, false, now)
	if n := testing.AllocsPerRun(100, func() {
		buf.Reset()
		c.WriteStale(&buf, b, 1, true, now)
		buf.Reset()
		c.WriteStale(&buf, b, 1, false, now)
	}); n != 0 {
		t.Errorf("serving a copy stale allocates %v times; want 0", n)
	}
	img, _ := p.Build(&k, request("/i.png"), response(200, "image/png", "\x89PNG...."), time.Now())
	buf.Reset()
	if _, gz := img.WriteStale(&buf, b, 0, true, now); gz || buf.String() != "\x89PNG...." {
		t.Errorf("image served as %q gzip %v; want untouched", buf.String(), gz)
	}
}

// TestStaleFormsDoNotMultiply: a copy served in every variant holds its
// page about once more, compressed, not once per variant.
func TestStaleFormsDoNotMultiply(t *testing.T) {
	p := policy()
	k := keys().Build(nil, request("/p"))
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	sb.WriteString("<html><body>")
	for sb.Len() < 200<<10 {
		sb.WriteString("<p>" + strconv.Itoa(rng.IntN(1e9)) + " brood</p>")
	}
	c, _ := p.Build(&k, request("/p"), response(200, "text/html", sb.String()), time.Now())
	for i := range 2 {
		stale(t, c, testBanner{}, i, true, time.Now())
	}
	f := c.stale.Load()
	held := len(f.head) + len(f.tail)
	for i := range f.variants {
		if v := f.variants[i].Load(); v != nil {
			held += len(v.banner) + len(v.z)
		}
	}
	if held > len(c.Body)*3/2 {
		t.Errorf("stale forms hold %d bytes for a copy of %d compressed bytes; want about one more copy", held, len(c.Body))
	}
}

// TestAnotherBannerKeepsTheHalves: a copy served with another banner (a
// reload, the merchant's texts) reads right in it, gzip checked end to
// end, and the page around the banner is not compressed again.
func TestAnotherBannerKeepsTheHalves(t *testing.T) {
	p := policy()
	k := keys().Build(nil, request("/p"))
	made := time.Date(2025, 1, 14, 13, 5, 0, 0, time.UTC)
	body := "<html><body>" + strings.Repeat("<p>desem</p>", 500) + "</body></html>"
	c, _ := p.Build(&k, request("/p"), response(200, "text/html", body), made)
	now := made.Add(time.Minute)
	stale(t, c, testBanner{"first "}, 0, true, now)
	before := c.stale.Load()
	for _, gz := range []bool{true, false} {
		got, _ := stale(t, c, testBanner{"second "}, 1, gz, now)
		if want := "<html><body>" + `<div id="b">second v1 at 13:05:00</div>` + body[len("<html><body>"):]; string(got) != want {
			t.Fatalf("gzip %v: got %.120q; want %.120q", gz, got, want)
		}
	}
	after := c.stale.Load()
	if after == before || after.banner != (testBanner{"second "}) {
		t.Fatal("the stale forms are still the first banner's")
	}
	if &after.head[0] != &before.head[0] || &after.tail[0] != &before.tail[0] {
		t.Error("the page's halves were compressed again for another banner")
	}
}

func TestCRC32Combine(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 3, 100, 4096, 100_000} {
		a := make([]byte, rng.IntN(5000))
		b := make([]byte, n)
		for i := range a {
			a[i] = byte(rng.Uint32())
		}
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		want := crc32.ChecksumIEEE(append(append([]byte(nil), a...), b...))
		if got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))); got != want {
			t.Errorf("len(b) %d: %08x; want %08x", n, got, want)
		}
	}
}

func TestAllowInline(t *testing.T) {
	const s, y = "'sha256-S'", "'sha256-T'"
	for _, tt := range []struct{ in, want string }{
		{"default-src 'self'", "default-src 'self'; script-src 'self' 'sha256-S'; style-src 'self' 'sha256-T'"},
		{"script-src 'self' https://cdn.example; style-src 'self'", "script-src 'self' https://cdn.example 'sha256-S'; style-src 'self' 'sha256-T'"},
		// Inline allowed already: a hash would switch 'unsafe-inline' off.
		{"script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'", "script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'"},
		// With a nonce, 'unsafe-inline' is ignored already: add the hash.
		{"script-src 'nonce-abc' 'unsafe-inline' 'strict-dynamic'", "script-src 'nonce-abc' 'unsafe-inline' 'strict-dynamic' 'sha256-S'"},
		{"script-src-elem 'self'; script-src 'none'", "script-src-elem 'self' 'sha256-S'; script-src 'none'"},
		{"default-src 'none'", "default-src 'none'; script-src 'sha256-S'; style-src 'sha256-T'"},
		{"frame-ancestors 'none'; upgrade-insecure-requests", "frame-ancestors 'none'; upgrade-insecure-requests"},
		{"Script-Src 'self'", "script-src 'self' 'sha256-S'"},
		{"script-src 'self', style-src 'self'", "script-src 'self' 'sha256-S', style-src 'self' 'sha256-T'"},
	} {
		if got := AllowInline(tt.in, s, y); got != tt.want {
			t.Errorf("AllowInline(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// BenchmarkWriteStale is a stale hit's body: the slices copied into the
// response.
func BenchmarkWriteStale(b *testing.B) {
	p := policy()
	k := keys().Build(nil, request("/p"))
	body := "<html><body>" + strings.Repeat("<p>Vers gebakken desembrood.</p>", 2000) + "</body></html>"
	c, _ := p.Build(&k, request("/p"), response(200, "text/html", body), time.Now())
	var buf bytes.Buffer
	now := time.Now()
	c.WriteStale(&buf, testBanner{}, 0, true, now)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf.Reset()
		c.WriteStale(&buf, testBanner{}, 0, true, now)
	}
}
