package state

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Stamp orders changes: a hybrid logical clock reading, milliseconds of
// wall time and a counter for changes within one millisecond. It is written
// "ms-seq", the form of a Redis stream ID, so a change's stamp is also its
// audit entry's ID. Stamps never go backwards: a new one is later than the
// writer's wall clock, than every stamp the writer has seen, than the
// scope's current stamp and than the newest stamp Redis has issued, so the
// order survives a Redis that lost its counter (a failover to a replica
// that lagged, a flush) and clocks that disagree a little.
type Stamp struct {
	Ms, Seq int64
}

// String formats s as "ms-seq"; the zero Stamp is "".
func (s Stamp) String() string {
	if s.IsZero() {
		return ""
	}
	return strconv.FormatInt(s.Ms, 10) + "-" + strconv.FormatInt(s.Seq, 10)
}

// IsZero reports whether s is the zero Stamp (no change yet).
func (s Stamp) IsZero() bool { return s == Stamp{} }

// Compare returns -1, 0 or +1 as s is before, equal to or after t.
func (s Stamp) Compare(t Stamp) int {
	switch {
	case s.Ms != t.Ms:
		return cmpInt(s.Ms, t.Ms)
	default:
		return cmpInt(s.Seq, t.Seq)
	}
}

// next is the smallest stamp after s.
func (s Stamp) next() Stamp { return Stamp{s.Ms, s.Seq + 1} }

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ParseStamp reads "ms-seq"; "" is the zero Stamp.
func ParseStamp(s string) (Stamp, error) {
	if s == "" {
		return Stamp{}, nil
	}
	ms, seq, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseInt(ms, 10, 64)
	b, err2 := strconv.ParseInt(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil || a < 0 || b < 0 {
		return Stamp{}, fmt.Errorf("state: bad stamp %q", s)
	}
	return Stamp{a, b}, nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Stamp) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Stamp) UnmarshalText(b []byte) error {
	v, err := ParseStamp(string(b))
	*s = v
	return err
}

// Version identifies one change of a scope: its stamp, then the writer's
// id, which breaks the tie between two changes stamped alike by two Redis
// masters that both believed they were the master.
type Version struct {
	Stamp  Stamp  `json:"stamp"`
	Writer string `json:"writer,omitempty"`
}

// Compare orders versions by stamp, then writer.
func (v Version) Compare(w Version) int {
	if c := v.Stamp.Compare(w.Stamp); c != 0 {
		return c
	}
	return strings.Compare(v.Writer, w.Writer)
}

// key is the form the compare-and-set script compares.
func (v Version) key() string { return v.Stamp.String() + " " + v.Writer }

// clock is a node's hybrid logical clock: Now is later than every stamp it
// issued or observed, and follows the wall clock when that is ahead. It is
// safe for concurrent use.
type clock struct {
	wall func() time.Time
	mu   sync.Mutex
	last Stamp
}

// Now returns a stamp later than every stamp seen so far.
func (c *clock) Now() Stamp {
	ms := c.wall().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	if ms > c.last.Ms {
		c.last = Stamp{Ms: ms}
	} else {
		c.last = c.last.next()
	}
	return c.last
}

// Observe moves the clock past s, a stamp seen from another writer.
func (c *clock) Observe(s Stamp) {
	c.mu.Lock()
	if s.Compare(c.last) > 0 {
		c.last = s
	}
	c.mu.Unlock()
}
