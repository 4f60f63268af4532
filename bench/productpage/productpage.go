// Package productpage makes the sample product page of the load
// benchmarks: about 60 KB of HTML shaped like a real shop's product page
// (inline critical CSS, navigation, gallery, description, specifications,
// reviews, related products, JSON-LD, footer), with text drawn from a
// fixed vocabulary by a seeded generator so that it compresses like real
// prose rather than like a repeated string. The same bytes are served by
// the sample origin and by the bare limit server.
package productpage

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/valyala/fasthttp"
)

// Page is the product page, plain and gzip-compressed once.
type Page struct {
	HTML []byte
	Gzip []byte
}

// New builds the page. The result is the same on every call.
func New() *Page {
	html := render()
	return &Page{HTML: html, Gzip: fasthttp.AppendGzipBytesLevel(nil, html, fasthttp.CompressDefaultCompression)}
}

var words = []string{
	"sourdough", "rye", "spelt", "crust", "crumb", "oven", "stone", "baked", "fresh", "flour",
	"organic", "wholegrain", "seeds", "walnut", "honey", "butter", "croissant", "loaf", "slice",
	"morning", "hours", "proofed", "slowly", "natural", "starter", "local", "mill", "farm",
	"delivery", "tomorrow", "weekend", "gift", "box", "family", "recipe", "since", "1921", "village",
	"light", "dark", "sweet", "savory", "toasted", "sesame", "poppy", "oat", "barley", "malt",
	"the", "a", "and", "with", "for", "of", "in", "our", "your", "every", "from", "is", "to", "on",
	"we", "it", "that", "you", "this", "made", "by", "hand", "each", "day", "only", "best", "taste",
}

func render() []byte {
	r := rand.New(rand.NewPCG(2024, 9))
	sentence := func(n int) string {
		var b bytes.Buffer
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			w := words[r.IntN(len(words))]
			if i == 0 {
				w = string(w[0]-'a'+'A') + w[1:]
			}
			b.WriteString(w)
		}
		b.WriteByte('.')
		return b.String()
	}
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<!doctype html><html lang="en"><head><meta charset="utf-8">`)
	p(`<meta name="viewport" content="width=device-width,initial-scale=1">`)
	p(`<title>Desem Waldkorn 800g | Bakkerij de Vries</title>`)
	p(`<meta name="description" content="%s">`, sentence(24))
	p(`<link rel="canonical" href="https://shop.example/product/desem-waldkorn">`)
	p(`<style>`)
	for i := 0; i < 120; i++ {
		p(`.c%d{margin:%dpx %dpx;padding:%dpx;color:#%06x;font-size:%d.%dpx}`, i, r.IntN(24), r.IntN(24), r.IntN(16), r.IntN(1<<24), 12+r.IntN(10), r.IntN(10))
	}
	p(`</style></head><body class="product-page">`)
	p(`<header class="site-header"><a class="logo" href="/">Bakkerij de Vries</a><nav><ul>`)
	for i := 0; i < 24; i++ {
		p(`<li><a href="/category/%d">%s</a></li>`, i, sentence(2))
	}
	p(`</ul></nav><form action="/search"><input name="q" placeholder="Search"></form><a href="/cart">Cart (0)</a></header>`)
	p(`<main><nav class="breadcrumbs"><a href="/">Home</a> / <a href="/category/bread">Bread</a> / Desem Waldkorn</nav>`)
	p(`<section class="gallery">`)
	for i := 0; i < 8; i++ {
		p(`<img src="/img/desem-%d.webp" srcset="/img/desem-%d-480.webp 480w, /img/desem-%d-960.webp 960w" sizes="(max-width:600px) 480px, 960px" alt="%s" width="960" height="720" loading="lazy">`, i, i, i, sentence(5))
	}
	p(`</section><section class="buy"><h1>Desem Waldkorn 800g</h1><p class="price">€ 4,95</p>`)
	p(`<p class="stock">In stock: %d</p><form action="/cart/add" method="post"><input type="hidden" name="sku" value="DW-800"><button>Add to cart</button></form></section>`, 17)
	p(`<section class="description"><h2>About this bread</h2>`)
	for i := 0; i < 70; i++ {
		p(`<p>%s %s %s</p>`, sentence(14), sentence(11), sentence(17))
	}
	p(`</section><section class="specs"><h2>Specifications</h2><table>`)
	for i := 0; i < 40; i++ {
		p(`<tr><th>%s</th><td>%s</td></tr>`, sentence(2), sentence(6))
	}
	p(`</table></section><section class="reviews"><h2>Reviews</h2>`)
	for i := 0; i < 60; i++ {
		p(`<article class="review"><h3>%s</h3><p class="stars" aria-label="%d of 5">%d</p><p>%s %s</p><footer>%s, %d-%02d-%02d</footer></article>`,
			sentence(4), 3+r.IntN(3), 3+r.IntN(3), sentence(15), sentence(12), sentence(2), 2020+r.IntN(5), 1+r.IntN(12), 1+r.IntN(28))
	}
	p(`</section><section class="related"><h2>You may also like</h2><ul>`)
	for i := 0; i < 24; i++ {
		p(`<li><a href="/product/%d"><img src="/img/p%d-240.webp" alt="%s" width="240" height="180" loading="lazy"><span>%s</span><span class="price">€ %d,%02d</span></a></li>`,
			100+i, 100+i, sentence(3), sentence(3), 2+r.IntN(9), r.IntN(100))
	}
	p(`</ul></section></main>`)
	p(`<script type="application/ld+json">{"@context":"https://schema.org","@type":"Product","name":"Desem Waldkorn 800g","sku":"DW-800","description":"%s","offers":{"@type":"Offer","price":"4.95","priceCurrency":"EUR","availability":"https://schema.org/InStock"}}</script>`, sentence(30))
	p(`<footer class="site-footer">`)
	for i := 0; i < 4; i++ {
		p(`<div><h4>%s</h4><ul>`, sentence(2))
		for j := 0; j < 8; j++ {
			p(`<li><a href="/page/%d-%d">%s</a></li>`, i, j, sentence(3))
		}
		p(`</ul></div>`)
	}
	p(`<p>%s</p></footer></body></html>`, sentence(20))
	return b.Bytes()
}
