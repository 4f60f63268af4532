package fallback

import "strconv"

// Answer is what a shopper gets: one of the Awning-Served values of a
// site's answers (DESIGN.md, "Contract").
type Answer uint8

const (
	// Origin: the origin's own answer, relayed; or, for a request that
	// waited on an equal request's origin exchange, the copy that exchange
	// just stored.
	Origin Answer = iota
	// Stale: the last known good copy of the page.
	Stale
	// Outage: the site's outage page (or JSON for API clients).
	Outage
	// Maintenance: the site's maintenance page (or JSON).
	Maintenance
	// Unconfirmed: a request that is not a GET or HEAD (an order, a
	// payment) was sent to the origin, which never gave an answer the
	// shopper may have: the unconfirmed page (or JSON), status 504. The
	// order may have gone through; the page says so, and not to pay again.
	Unconfirmed
)

var answerNames = [...]string{"origin", "stale", "outage", "maintenance", "unconfirmed"}

// String returns the answer's Awning-Served value.
func (a Answer) String() string { return answerNames[a] }

// Facts are what is known about one request when its answer is decided:
// maintenance, what the origin did (or why it was not asked), and whether a
// copy is at hand. The zero value is a request for which nothing happened
// yet: no maintenance, the origin asked and not answering, no copy.
type Facts struct {
	// Closed: maintenance is in force and did not let this request through
	// (no allowed address, no bypass cookie).
	Closed bool
	// ReadOnly: the maintenance in force keeps browsing open from copies.
	ReadOnly bool
	// Browse: the request is a GET or HEAD, which a copy may answer. In
	// read-only maintenance, requests for checkout paths are not browsing.
	Browse bool

	// NotAsked says why the origin was not asked, "" when it was: the
	// origin circuit is open ("tripped"), ops forced the fallback
	// ("forced"), the origin has max_inflight requests ("overloaded"), or
	// read-only maintenance ("read-only").
	NotAsked string
	// Sent: the request went out to the origin (a connection was open and
	// writing began), so the origin may have acted on it whatever came
	// back. A request refused before (circuit open, maintenance, no
	// connection) was not sent.
	Sent bool
	// Answered: the origin's answer may go to the shopper. It was received
	// whole, within the time allowed, and its status is not one of a
	// failing origin (500, 502-504, 520-530).
	Answered bool
	// Collapsed: the request waited on an equal request's origin exchange
	// and is answered with the copy that exchange stored (Answered is set
	// too). A collapsed request whose exchange failed has Failure
	// "collapsed".
	Collapsed bool
	// FwdStatus is the origin's status when it answered with a failure.
	FwdStatus int
	// Failure says how the origin failed when it did not answer: timeout,
	// refused, reset, malformed, failure-marker (a 2xx page that is a
	// platform's error page), origin-down (declared down while the request
	// waited), ...
	Failure string

	// HadCopy: a copy of the page existed when the origin was asked.
	HadCopy bool
	// Copy: a copy of the page is at hand to answer with. See WantsCopy.
	Copy bool
	// Stored: the origin's answer was kept as the page's copy. Otherwise
	// NotStored says why not, when it was considered.
	Stored    bool
	NotStored string
}

// WantsCopy reports whether the answer depends on a copy: only then does
// the proxy look for one (in memory, then in Redis) before Decide.
func (f *Facts) WantsCopy() bool {
	if f.Closed {
		return f.ReadOnly && f.Browse
	}
	return f.Browse && !f.Answered
}

// Decide returns what the shopper gets. These are the rules, in order:
//
//  1. Maintenance closes the shop to everyone not let through. In
//     read-only mode, browsing (a GET or HEAD outside the checkout paths)
//     is answered from the page's copy when there is one.
//  2. An origin answer that may go to the shopper goes to the shopper.
//  3. Otherwise a GET or HEAD gets the page's copy, whoever asks: during
//     an outage every shopper, anonymous or not, may see the anonymous
//     copy.
//  4. Any other method that was sent gets the unconfirmed page: the shop
//     did not confirm, and the order may have gone through. Saying "we'll
//     be right back" there makes shoppers pay twice.
//  5. Otherwise the outage page: nothing was sent.
//
// It is a pure function of f: the proxy writes what it returns.
func Decide(f *Facts) Answer {
	switch {
	case f.Closed:
		if f.ReadOnly && f.Browse && f.Copy {
			return Stale
		}
		return Maintenance
	case f.Answered:
		return Origin
	case f.Browse && f.Copy:
		return Stale
	case !f.Browse && f.Sent:
		return Unconfirmed
	}
	return Outage
}

// AppendCacheStatus appends the Cache-Status value (RFC 9211) of answer a
// to a request with facts f, or nothing when the answer has none (a
// maintenance page, or a method a cache never answers). A copy served
// without asking the origin is a hit; one served after the origin failed
// was forwarded because the copy was stale (fwd=stale), with the origin's
// status when it answered; no copy at all is fwd=uri-miss. It does not
// allocate when dst has room.
func AppendCacheStatus(dst []byte, f *Facts, a Answer) []byte {
	if a == Maintenance || a == Unconfirmed || !f.Browse {
		return dst
	}
	dst = append(dst, "Awning; "...)
	switch a {
	case Origin:
		if f.HadCopy {
			dst = append(dst, "fwd=stale"...)
		} else {
			dst = append(dst, "fwd=uri-miss"...)
		}
		switch {
		case f.Collapsed:
			dst = append(dst, "; collapsed"...)
		case f.Stored:
			dst = append(dst, "; stored"...)
		case f.NotStored != "":
			dst = appendDetail(dst, f.NotStored)
		}
		return dst
	case Stale:
		if f.NotAsked != "" {
			dst = append(dst, "hit"...)
		} else {
			dst = append(dst, "fwd=stale"...)
		}
	default:
		dst = append(dst, "fwd=uri-miss"...)
	}
	if f.FwdStatus > 0 {
		dst = append(dst, "; fwd-status="...)
		dst = strconv.AppendInt(dst, int64(f.FwdStatus), 10)
	}
	if f.NotAsked != "" {
		return appendDetail(dst, f.NotAsked)
	}
	if f.Failure != "" {
		dst = appendDetail(dst, f.Failure)
	}
	return dst
}

func appendDetail(dst []byte, detail string) []byte {
	return append(append(dst, "; detail="...), detail...)
}
