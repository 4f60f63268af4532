package cache

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// Error pages of common platforms as they come, trimmed to what matters.
var errorPages = map[string]string{
	"nginx 502":          `<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>`,
	"Apache 503":         "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>503 Service Unavailable</title>\n</head><body><h1>Service Unavailable</h1></body></html>",
	"WordPress database": `<!DOCTYPE html><html dir="ltr"><head><meta charset="utf-8"><title>Database Error</title></head><body id="error-page"><div class="wp-die-message"><h1>Error establishing a database connection</h1></div></body></html>`,
	"WordPress die":      `<html><head><title>WordPress &rsaquo; Error</title></head><body></body></html>`,
	"Magento":            `<!doctype html><html><head><title>There has been an error processing your request</title></head><body><h1>There has been an error processing your request</h1><p>Exception printing is disabled by default for security reasons.</p><p>Error log record number: 1a2b3c</p></body></html>`,
	"PHP fatal mid-page": `<!doctype html><html><head><title>Desem waldkorn · Bakkerij</title></head><body><h1>Desem waldkorn</h1><br />` + "\n" + `<b>Fatal error</b>:  Uncaught PDOException: SQLSTATE[HY000] [2002] Connection refused in /var/www/shop/db.php:12`,
	"PDO":                `<html><body><h1>Error</h1><p>SQLSTATE[08006] [7] could not connect to server</p></body></html>`,
	"Drupal":             `<html><head><title>Error | Bakkerij</title></head><body>The website encountered an unexpected error. Please try again later.</body></html>`,
	"Varnish":            `<!DOCTYPE html><html><head><title>503 Backend fetch failed</title></head><body><h1>Error 503 Backend fetch failed</h1><h3>Guru Meditation:</h3><p>XID: 32770</p></body></html>`,
	"Symfony/Shopware":   `<!DOCTYPE html><html><head><title>An Error Occurred: Internal Server Error</title></head><body><h1>Oops! An Error Occurred</h1></body></html>`,
	"Laravel":            `<!DOCTYPE html><html lang="en"><head><title>Server Error</title></head><body><div>500 | Server Error</div></body></html>`,
	"Django":             `<!doctype html><html lang="en"><head><title>Server Error (500)</title></head><body><h1>Server Error (500)</h1></body></html>`,
	"Rails":              `<!DOCTYPE html><html><head><title>We're sorry, but something went wrong (500)</title></head><body></body></html>`,
	"PrestaShop":         `<html><body>Link to database cannot be established: SQLSTATE[HY000] [2002]</body></html>`,
}

// Good pages that talk about errors, servers or databases.
var goodPages = []string{
	`<!doctype html><html><head><title>Desem waldkorn · Bakkerij</title></head><body><h1>Desem</h1></body></html>`,
	`<html><head><title>Server Error Codes Explained: 502 Bad Gateway and friends</title></head><body><p>What does 503 Service Unavailable mean?</p></body></html>`,
	`<html><head><title>Databases · Tech shop</title></head><body><p>Our MySQL book explains every error, from Too many connections to deadlocks.</p></body></html>`,
}

func TestMarkersFindErrorPages(t *testing.T) {
	m := NewMarkers([]string{"<title>Store unavailable</title>"})
	for name, page := range errorPages {
		if got := m.Check(response(200, "text/html; charset=utf-8", page)); got != FailureMarker {
			t.Errorf("%s: %q; want failure-marker", name, got)
		}
		gz := response(200, "text/html", "", "Content-Encoding", "gzip")
		gz.SetBodyRaw(fasthttp.AppendGzipBytes(nil, []byte(page)))
		if got := m.Check(gz); got != FailureMarker {
			t.Errorf("%s gzipped: %q; want failure-marker", name, got)
		}
	}
	for _, page := range goodPages {
		if got := m.Check(response(200, "text/html", page)); got != OK {
			t.Errorf("a good page is a failure: %.80s", page)
		}
	}
	custom := `<html><head><title>Store unavailable</title></head><body>Back soon</body></html>`
	if m.Check(response(200, "text/html", custom)) != FailureMarker {
		t.Error("the site's own marker is not found")
	}
	if (&Markers{}).Check(response(200, "text/html", custom)) != OK {
		t.Error("another site's marker is found")
	}
}

func TestMarkersOnlyIn2xxHTMLWithinTheWindow(t *testing.T) {
	m := NewMarkers([]string{`<div id="db-down">`})
	page := errorPages["PDO"]
	for _, tt := range []struct {
		name   string
		status int
		ctype  string
		body   string
		want   Reason
	}{
		{"json", 200, "application/json", `{"error":"SQLSTATE[HY000]"}`, OK},
		{"css", 200, "text/css", "/* SQLSTATE[ */", OK},
		{"404", 404, "text/html", page, OK}, // not good-looking: no marker needed
		{"206", 206, "text/html", page, FailureMarker},
		{"past the window", 200, "text/html", "<html><body>" + strings.Repeat("x", BuiltinWindow) + page, OK},
		{"at the window's end", 200, "text/html", "<html><body>" + strings.Repeat("x", BuiltinWindow-40) + "<b>Fatal error</b>: x", FailureMarker},
		{"own marker past the built-in window", 200, "text/html", "<html><body>" + strings.Repeat("x", MarkerWindow-100) + `<div id="db-down">`, FailureMarker},
		{"own marker past its window", 200, "text/html", "<html><body>" + strings.Repeat("x", MarkerWindow) + `<div id="db-down">`, OK},
	} {
		if got := m.Check(response(tt.status, tt.ctype, tt.body)); got != tt.want {
			t.Errorf("%s: %q; want %q", tt.name, got, tt.want)
		}
	}
	// Gzip bodies are inflated as far as the windows reach.
	for _, tt := range []struct {
		m    *Markers
		body string
		want Reason
	}{
		{NewMarkers(nil), strings.Repeat("x", BuiltinWindow-40) + "<b>Fatal error</b>: x", FailureMarker},
		{NewMarkers(nil), strings.Repeat("x", BuiltinWindow) + "<b>Fatal error</b>: x", OK},
		{m, strings.Repeat("x", MarkerWindow-40) + `<div id="db-down">`, FailureMarker},
	} {
		gz := response(200, "text/html", "", "Content-Encoding", "gzip")
		gz.SetBodyRaw(fasthttp.AppendGzipBytes(nil, []byte(tt.body)))
		if got := tt.m.Check(gz); got != tt.want {
			t.Errorf("gzip, %d bytes: %q; want %q", len(tt.body), got, tt.want)
		}
	}
	bad := response(200, "text/html", "not gzip", "Content-Encoding", "gzip")
	if got := m.Check(bad); got != OK {
		t.Errorf("corrupt gzip: %q; Build judges that", got)
	}
}

// TestMarkersFindAllocatesNothing: looking costs no allocation (Check's
// pooled window is left out: under the race detector sync.Pool drops items
// on purpose).
func TestMarkersFindAllocatesNothing(t *testing.T) {
	m := NewMarkers([]string{"<title>Store unavailable</title>"})
	body := []byte(goodPages[0] + strings.Repeat("<p>brood</p>", 5000))
	if n := testing.AllocsPerRun(100, func() { m.Find(body) }); n != 0 {
		t.Errorf("Find allocates %v times; want 0", n)
	}
}

func TestPlainSize(t *testing.T) {
	page := strings.Repeat("<p>brood</p>", 1000)
	if got := PlainSize(response(200, "text/html", page)); got != len(page) {
		t.Errorf("plain: %d", got)
	}
	gz := response(200, "text/html", "", "Content-Encoding", "gzip")
	gz.SetBodyRaw(fasthttp.AppendGzipBytes(nil, []byte(page)))
	if got := PlainSize(gz); got != len(page) {
		t.Errorf("gzip: %d; want %d", got, len(page))
	}
}

// BenchmarkMarkersCheck is the cost added to a 2xx HTML answer the memo
// of clean bodies does not know: a gzip page of about 100 KB, inflated as
// far as the window and looked through, with the built-in markers only and
// with a site's own.
func BenchmarkMarkersCheck(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(goodPages[0][:len(goodPages[0])-len("</body></html>")])
	for i := 0; sb.Len() < 100<<10; i++ {
		sb.WriteString(`<div class="product"><a href="/product/` + strings.Repeat("7", i%5+1) + `">Desem waldkorn, 36 uur gerezen</a><span class="price">€ 4,95</span></div>`)
	}
	gz := response(200, "text/html", "", "Content-Encoding", "gzip")
	gz.SetBodyRaw(fasthttp.AppendGzipBytes(nil, []byte(sb.String())))
	for _, tt := range []struct {
		name string
		m    *Markers
	}{
		{"builtin", NewMarkers(nil)},
		{"own", NewMarkers([]string{"<title>Store unavailable</title>"})},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if tt.m.Check(gz) != OK {
					b.Fatal("a good page")
				}
			}
		})
	}
}
