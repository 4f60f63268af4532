package proxy

import (
	"hash/maphash"
	"net/http"
	"sync/atomic"
	"time"
)

// interner turns the header names and values of bridged answers into the
// strings net/http's header map wants without a new string per request for
// the ones that repeat: the pipeline's answers are mostly precomputed bytes
// (Awning-Served, Cache-Control, an outage page's Content-Security-Policy, a
// copy's ETag and Vary), the same bytes request after request.
//
// It is a two-way table: a value's hash picks two slots, and a value found
// in neither takes an empty one or else the second, overwriting it. So it
// never grows, a value seen once costs what a plain conversion would (plus
// the slot), and a value seen again costs a hash and a compare or two; two
// hot values that share a slot (a one-way table meets one such pair in a
// few of its runs) both stay. Slots are atomic pointers to immutable
// entries: safe for concurrent use, no lock.
type interner struct {
	seed  maphash.Seed
	slots [internSlots]atomic.Pointer[internEntry]
	today atomic.Pointer[dateEntry]
}

const (
	internSlots = 4096 // a power of two
	// internMax bounds what is interned: longer values are rare and
	// seldom repeat (a long Set-Cookie, a Link list).
	internMax = 2048
)

// internEntry is a string and a one-element slice of it, the form a header
// map holds. The slice's capacity is 1, so an append copies it.
type internEntry struct {
	s   string
	one []string
}

type dateEntry struct {
	unix int64
	one  []string
}

func newInterner() *interner { return &interner{seed: maphash.MakeSeed()} }

func (in *interner) entry(b []byte) *internEntry {
	if len(b) > internMax {
		s := string(b)
		return &internEntry{s: s, one: []string{s}}
	}
	h := maphash.Bytes(in.seed, b)
	s1, s2 := &in.slots[h&(internSlots-1)], &in.slots[(h>>32)&(internSlots-1)]
	e1 := s1.Load()
	if e1 != nil && e1.s == string(b) {
		return e1
	}
	if e := s2.Load(); e != nil && e.s == string(b) {
		return e
	}
	s := string(b)
	e := &internEntry{s: s, one: []string{s}}
	if e1 == nil {
		s1.Store(e)
	} else {
		s2.Store(e)
	}
	return e
}

// str returns b as a string.
func (in *interner) str(b []byte) string { return in.entry(b).s }

// one returns b as a one-element header value. The caller must not write
// into it.
func (in *interner) one(b []byte) []string { return in.entry(b).one }

// date returns the Date header value for now, formatted once a second.
func (in *interner) date() []string {
	now := time.Now()
	if d := in.today.Load(); d != nil && d.unix == now.Unix() {
		return d.one
	}
	d := &dateEntry{unix: now.Unix(), one: []string{now.UTC().Format(http.TimeFormat)}}
	in.today.Store(d)
	return d.one
}
