package pages

import (
	"strconv"
	"time"
)

// Page is one mode's page of one site, rendered in every language order: a
// Variant per site language, with that language first and the others after
// it in the site's order. Serving picks a Variant and writes its bytes;
// nothing is rendered per request. A Page is immutable and safe for
// concurrent use.
type Page struct {
	mode               Mode
	langs              []string
	variants           []Variant
	formVariants       []Variant // the answers to a form; see FormVariants
	csp                string
	retryAfter         int // seconds
	end                time.Time
	jsonHead, jsonTail []byte
}

// Variant is a page with one language first.
type Variant struct {
	// Lang is the language shown first.
	Lang string
	// ContentLanguage lists every language shown, in page order ("en, nl"),
	// for the Content-Language header.
	ContentLanguage string
	// HTML is the whole page. It must not be modified.
	HTML []byte
}

// Mode returns the page's mode.
func (p *Page) Mode() Mode { return p.mode }

// Variants returns the page in every language order, in the site's
// language order: Variants()[i] shows Languages[i] first. The slice must not
// be modified.
func (p *Page) Variants() []Variant { return p.variants }

// FormVariants returns the page in every language order, as Variants
// does, as the answer to a form (any request but a GET or HEAD): once the
// shop is open again it takes the shopper back to the page they came from,
// never to the form's target, which would be loaded with GET. The
// unconfirmed page is always the answer to a form, and never moves by
// itself.
func (p *Page) FormVariants() []Variant { return p.formVariants }

// Pick returns the index in Variants of the variant an Accept-Language
// header asks for: the best-matching site language first (see negotiate),
// or the site's main language when nothing matches. It does not allocate.
func (p *Page) Pick(acceptLanguage []byte) int {
	return negotiate(acceptLanguage, p.langs)
}

// Variant returns the variant with language lang first, or nil when lang is
// not one of the site's languages.
func (p *Page) Variant(lang string) *Variant {
	for i := range p.variants {
		if p.variants[i].Lang == lang {
			return &p.variants[i]
		}
	}
	return nil
}

// CSP returns the Content-Security-Policy the page must be served with: the
// page's own inline script and style (by hash) and nothing from anywhere
// else.
func (p *Page) CSP() string { return p.csp }

// End returns the announced end of maintenance, or the zero time.
func (p *Page) End() time.Time { return p.end }

// RetryAfter returns the seconds a client should wait before trying again
// at now: until the announced end of maintenance while it lies ahead, else
// the site's retry_after.
func (p *Page) RetryAfter(now time.Time) int {
	if !p.end.IsZero() && p.end.After(now) {
		return seconds(p.end.Sub(now))
	}
	return p.retryAfter
}

// StaticRetryAfter reports whether RetryAfter is the same at every moment,
// so that headers and JSON can be rendered once.
func (p *Page) StaticRetryAfter() bool { return p.end.IsZero() }

// AppendJSON appends the answer for API clients at now to dst:
// {"error":"outage"|"maintenance","retry_after":N,"message":{"nl":…,…}}
// with messages in the site's language order, and "until" (RFC 3339) when
// maintenance has an announced end; {"error":"unconfirmed","message":{…}}
// for the unconfirmed page, which invites no retry. It allocates only when dst is too small.
func (p *Page) AppendJSON(dst []byte, now time.Time) []byte {
	dst = append(dst, p.jsonHead...)
	if p.mode != Unconfirmed {
		dst = strconv.AppendInt(dst, int64(p.RetryAfter(now)), 10)
	}
	return append(dst, p.jsonTail...)
}
