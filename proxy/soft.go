package proxy

import (
	"bytes"

	"github.com/awningproxy/awning/fallback/cache"
)

// judge applies the checks on a whole answer's body: a gzip body must
// decode to its end within limits.response_body (originresp.go), and a 2xx
// HTML page must not be a platform's error page (cache.Markers: a database
// error page, a PHP fatal error, a web server's error page passed on with
// 200). Both are costly (an inflate, a scan), and an unchanged page is the
// common answer, so an answer byte for byte the copy it would refresh
// (x.vouch), which passed the same checks when it was kept, costs one
// comparison (a 15 KB page: 0.2 µs, where hashing it costs 1.5 µs and
// inflating it 40 µs). Other bodies are known by a keyed hash of their
// bytes in the Server's table of checked bodies (the markers' verdict keyed
// with the site's markers' salt): an answer seen before costs a hash. Only
// good verdicts are remembered, so a memo can never hide a failure; the
// seed is secret, so an origin cannot make a bad body collide with a good
// one.
func (p *pool) judge(o *origin, x *exchange) error {
	a := &x.ans
	gz := a.Gzip() && len(a.Body) > 0
	page := p.markers != nil && cache.MayFail(a)
	if !gz && !page {
		return nil
	}
	salt := p.markers.Salt()
	if cp := x.vouch; cp != nil && gz && cp.Gzipped && cp.Size <= o.limit && bytes.Equal(a.Body, cp.Body) {
		if !page || cp.CleanFor(salt) {
			return nil
		}
		if p.markers.Check(a) != cache.OK {
			return errFailureMarker
		}
		cp.MarkClean(salt)
		return nil
	}
	sum := o.check.sum(a.Body)
	if gz && !o.check.has(sum) {
		if err := o.inflateCheck(a.Body); err != nil {
			return err // counted and logged by pool.do, as every refusal
		}
		o.check.add(sum)
	}
	if msum := (sum ^ salt) | 1; page && !o.check.has(msum) {
		if p.markers.Check(a) != cache.OK {
			return errFailureMarker
		}
		o.check.add(msum)
	}
	return nil
}
