package proxy

import (
	"github.com/awningproxy/awning/fallback/cache"
	"github.com/valyala/fasthttp"
)

// failurePage reports whether resp, a good-looking 2xx HTML answer, is a
// platform's error page (cache.Markers: a database error page, a PHP fatal
// error, a web server's error page passed on with 200). Bodies found clean
// are remembered by a keyed hash of their bytes and the site's markers, in
// a table every site shares: a page unchanged since its last answer costs a
// hash, not an inflate and a scan. Only clean verdicts are kept, so a memo
// can never hide a failure; the seed is secret, so an origin cannot make an
// error page collide with a clean one.
func (p *pool) failurePage(resp *fasthttp.Response) bool {
	if p.markers == nil || !cache.MayFail(resp) {
		return false
	}
	sum := (p.clean.sum(resp.Body()) ^ p.markers.Salt()) | 1
	if p.clean.has(sum) {
		return false
	}
	if p.markers.Check(resp) != cache.OK {
		return true
	}
	p.clean.add(sum)
	return false
}
