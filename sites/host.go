package sites

import (
	"errors"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// MaxHostLen bounds a canonical host name (RFC 1035 §2.3.4).
const MaxHostLen = 253

// ErrInvalidHost is returned for a Host that is not a syntactically valid
// host name or IP address.
var ErrInvalidHost = errors.New("sites: invalid host")

// AppendCanonical appends the canonical form of host (a Host header or an
// SNI name) to dst: ASCII lower case, port and one trailing dot removed,
// brackets removed from IPv6 literals. It reports false, and appends
// nothing, when host is not a valid name or address. It does not allocate
// when dst has room, so the request path can use a stack buffer.
func AppendCanonical(dst, host []byte) ([]byte, bool) {
	if len(host) == 0 {
		return dst, false
	}
	name := host
	if host[0] == '[' {
		end := indexByte(host, ']')
		if end < 0 || !validPort(host[end+1:]) {
			return dst, false
		}
		a, err := netip.ParseAddr(string(host[1:end]))
		if err != nil || !a.Is6() || a.Zone() != "" {
			return dst, false
		}
		return a.AppendTo(dst), true // one spelling per address: lower case, zeros compressed
	}
	if i := lastIndexByte(host, ':'); i >= 0 {
		if !validPort(host[i:]) {
			return dst, false
		}
		name = host[:i]
	}
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if len(name) == 0 || len(name) > MaxHostLen {
		return dst, false
	}
	start := len(dst)
	label := 0
	for _, c := range name {
		c = lower(c)
		switch {
		case c == '.':
			if label == 0 {
				return dst[:start], false
			}
			label = 0
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			label++
			if label > 63 {
				return dst[:start], false
			}
		default:
			return dst[:start], false
		}
		dst = append(dst, c)
	}
	if label == 0 {
		return dst[:start], false // an empty last label: "a..", after one dot was dropped
	}
	return dst, true
}

// Canonical returns the canonical form of a host name written by a person
// (in config, or in an admin call): like AppendCanonical, but Unicode names
// are converted to punycode first, and a port is refused rather than
// dropped, since a configured name with a port is a mistake.
func Canonical(host string) (string, error) {
	h := strings.TrimSpace(host)
	if h == "" {
		return "", ErrInvalidHost
	}
	if strings.HasPrefix(h, "*") {
		return "", errors.New("sites: wildcard hosts are not supported; list each host")
	}
	if !isASCII(h) {
		a, err := idna.Lookup.ToASCII(strings.TrimSuffix(h, "."))
		if err != nil {
			return "", ErrInvalidHost
		}
		h = a
	}
	if h[0] != '[' && strings.Count(h, ":") == 1 || strings.Contains(h, "]:") {
		return "", errors.New("sites: a host must not carry a port")
	}
	if h[0] != '[' && strings.Count(h, ":") > 1 {
		h = "[" + h + "]" // a bare IPv6 literal, as people write it in config
	}
	out, ok := AppendCanonical(nil, []byte(h))
	if !ok {
		return "", ErrInvalidHost
	}
	return string(out), nil
}

// validPort reports whether p is empty or ":" followed by at most five
// digits (RFC 3986 allows an empty port).
func validPort(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if p[0] != ':' || len(p) > 6 {
		return false
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}
