package proxy

import (
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestHeaderNamesCanonical: names the hot path sets with SetCanonical, which
// skips fasthttp's normalization, must already be in its canonical form, or
// Peek (and anything reading the header through fasthttp) would miss them.
func TestHeaderNamesCanonical(t *testing.T) {
	names := [][]byte{hAwningServed, hCacheControl, hRetryAfter, hContentLanguage, hXContentType,
		hCacheStatus, hAge, hVary, hXRobotsTag, hCSP}
	s, err := New(options(t, brandedSite(t, "http://127.0.0.1:1")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	r := s.snap.Load().states[0].dyn.Load().pages.get()
	answers := []*answer{misdirectedAnswer, badRequest, requestTimeout, bodyTooLarge, headerTooLarge, wellKnownUnknown, unavailable, r.outage.json}
	answers = append(answers, r.outage.html...)
	if r.logo != nil {
		answers = append(answers, r.logo)
	}
	for _, a := range answers {
		for _, h := range a.headers {
			names = append(names, h[0])
		}
	}
	for _, n := range names {
		if got := fasthttp.AppendNormalizedHeaderKeyBytes(nil, n); !bytes.Equal(got, n) {
			t.Errorf("header name %q is not canonical; fasthttp's form is %q", n, got)
		}
	}
}
