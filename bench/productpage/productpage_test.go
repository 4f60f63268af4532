package productpage

import (
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPage: the page is about 60 KB, the same on every call, and its gzip
// form decompresses to it.
func TestPage(t *testing.T) {
	p := New()
	if n := len(p.HTML); n < 55<<10 || n > 70<<10 {
		t.Errorf("page is %d bytes; want about 60 KB", n)
	}
	if !bytes.Equal(p.HTML, New().HTML) {
		t.Error("two calls built different pages")
	}
	plain, err := fasthttp.AppendGunzipBytes(nil, p.Gzip)
	if err != nil || !bytes.Equal(plain, p.HTML) {
		t.Errorf("gzip form does not decompress to the page: %v", err)
	}
	t.Logf("page %d bytes, gzip %d bytes", len(p.HTML), len(p.Gzip))
}
