package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as people write it: "3s", "500ms",
// "1h30m", or in whole days, "7d". A bare 0 means zero.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way it is written in a config file.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode {
		err = fmt.Errorf("want a duration such as 3s, 500ms or 7d")
	}
	if err != nil {
		return valueError(n, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ParseDuration reads a duration in Go syntax, with "d" for days, and
// refuses negative values and numbers without a unit (other than 0).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok && !strings.ContainsAny(days, "hmsµun") {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: want whole days such as 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: write it like 3s, 500ms, 2m or 7d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return d, nil
}

// Size is a byte count written as people write it: "256MiB", "10MB", "16KiB"
// or a plain number of bytes.
type Size int64

// String formats s with binary units.
func (s Size) String() string { return humanize.IBytes(uint64(s)) }

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if n.Kind != yaml.ScalarNode {
		err = fmt.Errorf("want a size such as 256MiB, 10MB or 4096")
	}
	if err != nil {
		return valueError(n, err)
	}
	*s = Size(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// maxSize keeps sizes far from overflowing an int on any platform we build.
const maxSize = 1 << 40

// ParseSize reads a byte count such as "256MiB", "10MB" or "4096".
func ParseSize(s string) (int64, error) {
	v, err := humanize.ParseBytes(strings.TrimSpace(s))
	if err != nil || strings.HasPrefix(strings.TrimSpace(s), "-") {
		return 0, fmt.Errorf("invalid size %q: write it like 256MiB, 10MB or 4096", s)
	}
	if v > maxSize {
		return 0, fmt.Errorf("invalid size %q: larger than 1TiB", s)
	}
	return int64(v), nil
}

// Prefix is a network prefix written as a CIDR ("10.0.0.0/8") or a single
// address ("203.0.113.7", meaning /32 or /128).
type Prefix struct{ netip.Prefix }

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *Prefix) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParsePrefix(n.Value)
	if n.Kind != yaml.ScalarNode {
		err = fmt.Errorf("want a CIDR such as 10.0.0.0/8 or an address")
	}
	if err != nil {
		return valueError(n, err)
	}
	p.Prefix = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (p Prefix) MarshalYAML() (any, error) { return p.String(), nil }

// ParsePrefix reads a CIDR or a single address. Addresses are unmapped
// (::ffff:10.0.0.1 is 10.0.0.1) so that matching does not depend on how the
// socket reported the peer.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address or CIDR %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
