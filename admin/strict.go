package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// duplicateKey finds the first object key that appears twice in one object
// of the JSON text data and returns its path ("enabled", "message.nl",
// "sites[2].name"). encoding/json keeps the last of two and matches keys to
// fields without regard to case, so {"enabled": false, "Enabled": true}
// would say two things and do one; keys are compared the way it matches
// them. It reports false for valid JSON without duplicates, and for text
// that is not JSON (the decoder says what is wrong with it).
func duplicateKey(data []byte) (string, bool) {
	type frame struct {
		object bool
		keys   map[string]bool // lower-cased keys seen, for objects
		key    string          // the current key, for objects
		inKey  bool            // the next token is a key, for objects
		index  int             // the next element's index, for arrays
		path   string
	}
	var stack []*frame
	child := func() string { // the path of the value about to be read
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			if f.path == "" {
				return f.key
			}
			return f.path + "." + f.key
		}
		return f.path + "[" + strconv.Itoa(f.index) + "]"
	}
	valueDone := func() {
		if len(stack) > 0 {
			if f := stack[len(stack)-1]; f.object {
				f.inKey = true
			} else {
				f.index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false // io.EOF, or not JSON
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &frame{object: t == '{', inKey: t == '{', keys: map[string]bool{}, path: child()})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		case string:
			if top != nil && top.object && top.inKey {
				k := strings.ToLower(t)
				top.key, top.inKey = t, false
				if top.keys[k] {
					return child(), true
				}
				top.keys[k] = true
				continue
			}
		}
		valueDone()
	}
}

// coverAll reports whether prefixes together cover every IPv4 address or
// every IPv6 address: an allowlist that lets the whole internet past
// maintenance (0.0.0.0/0, ::/0, or 0.0.0.0/1 with 128.0.0.0/1). An IPv6
// prefix holding the IPv4-mapped block (::ffff:0:0/96) covers every IPv4
// address too, as shoppers on a dual-stack listener may appear there.
func coverAll(prefixes []netip.Prefix) bool {
	var v4, v6 []netip.Prefix
	mapped := netip.MustParseAddr("::ffff:0.0.0.0")
	for _, p := range prefixes {
		p = p.Masked()
		if p.Addr().Is4() {
			v4 = append(v4, p)
			continue
		}
		v6 = append(v6, p)
		if p.Bits() <= 96 && p.Contains(mapped) {
			v4 = append(v4, netip.MustParsePrefix("0.0.0.0/0"))
		}
	}
	return covers(v4, netip.IPv4Unspecified()) || covers(v6, netip.IPv6Unspecified())
}

// covers reports whether the union of prefixes (one family, masked) is the
// whole address space that starts at first.
func covers(prefixes []netip.Prefix, first netip.Addr) bool {
	slices.SortFunc(prefixes, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	next := first // the lowest address not yet covered
	for _, p := range prefixes {
		if p.Addr().Compare(next) > 0 {
			return false // a gap
		}
		last := lastAddr(p)
		if !last.Next().IsValid() {
			return true // reaches the top of the space
		}
		if last.Next().Compare(next) > 0 {
			next = last.Next()
		}
	}
	return false
}

// lastAddr is the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// errEmptyBody is what decodeJSON reports for a body with no JSON in it.
var errEmptyBody = errors.New("the body is empty; send a JSON object")

// readJSON reads a JSON body for decodeJSON: the bytes, or an error to
// answer with.
func readJSON(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(r)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, err // answered 413
	case err != nil:
		return nil, badRequest("reading the body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, badRequest("%s", errEmptyBody)
	}
	return data, nil
}
