package proxy

import (
	"github.com/awningproxy/awning/fallback/cache"
)

// failurePage reports whether a, a good-looking 2xx HTML answer, is a
// platform's error page (cache.Markers: a database error page, a PHP fatal
// error, a web server's error page passed on with 200). An answer byte for
// byte the copy it refreshes (same) was found clean when that copy was
// kept, by the same markers when the copy says so: that costs nothing more.
// Other bodies found clean are remembered by a keyed hash of their bytes
// and the site's markers, in a table every site shares: a page unchanged
// since its last answer costs a hash, not an inflate and a scan. Only clean
// verdicts are kept, so a memo can never hide a failure; the seed is
// secret, so an origin cannot make an error page collide with a clean one.
func (p *pool) failurePage(a *cache.Answer, vouch *cache.Copy, same bool) bool {
	if p.markers == nil || !cache.MayFail(a) {
		return false
	}
	salt := p.markers.Salt()
	if same && vouch.CleanFor(salt) {
		return false
	}
	sum := (p.clean.sum(a.Body) ^ salt) | 1
	if !p.clean.has(sum) {
		if p.markers.Check(a) != cache.OK {
			return true
		}
		p.clean.add(sum)
	}
	if same {
		vouch.MarkClean(salt)
	}
	return false
}
