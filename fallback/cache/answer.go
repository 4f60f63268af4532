package cache

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// Answer is an origin's answer as the cache judges and keeps it: the
// status, the header fields as the origin sent them, and the body as it
// came (gzip when the origin compressed it). The proxy fills it from its
// one parse of the answer's head, so that judging an answer costs no second
// parse and no copy; its slices alias the proxy's buffers and are valid for
// the call they are passed to. The zero value is an empty answer.
type Answer struct {
	Status int
	// Header holds the header fields in the order sent: names as the origin
	// spelled them, values without surrounding whitespace. Framing fields
	// (Content-Length, Transfer-Encoding) may be among them.
	Header []Field
	// ContentType and ContentEncoding are the values of those fields (the
	// last one, as HTTP libraries keep them), or nil when absent.
	ContentType, ContentEncoding []byte
	// Body is the body as sent, de-chunked.
	Body []byte
}

// Field is one header field of an Answer.
type Field struct{ Name, Value []byte }

// Peek returns the value of the first field named name (case aside), or
// nil. name must be lower case.
func (a *Answer) Peek(name string) []byte {
	for i := range a.Header {
		if equalLower(a.Header[i].Name, name) {
			return a.Header[i].Value
		}
	}
	return nil
}

// Values yields the value of every field named name (case aside). name
// must be lower case.
func (a *Answer) Values(name string) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for i := range a.Header {
			if equalLower(a.Header[i].Name, name) && !yield(a.Header[i].Value) {
				return
			}
		}
	}
}

// Has reports whether a field named name (case aside) is present. name
// must be lower case.
func (a *Answer) Has(name string) bool {
	for i := range a.Header {
		if equalLower(a.Header[i].Name, name) {
			return true
		}
	}
	return false
}

// Gzip reports whether the body is gzip-compressed.
func (a *Answer) Gzip() bool { return bytes.EqualFold(a.ContentEncoding, []byte("gzip")) }

// equalLower reports whether b equals lower, a lower-case ASCII name, case
// aside. It does not allocate.
func equalLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// AnswerOf returns resp as an Answer, for callers that hold a
// fasthttp.Response (tests, tools). It copies nothing but allocates the
// field list; the Answer aliases resp.
func AnswerOf(resp *fasthttp.Response) *Answer {
	a := &Answer{Status: resp.StatusCode(), Body: resp.Body()}
	for k, v := range resp.Header.All() {
		a.Header = append(a.Header, Field{Name: k, Value: v})
		switch {
		case equalLower(k, "content-type"):
			a.ContentType = v
		case equalLower(k, "content-encoding"):
			a.ContentEncoding = v
		}
	}
	return a
}
