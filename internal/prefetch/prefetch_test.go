package prefetch

import (
	"testing"
	"unsafe"
)

// TestLineChangesNothing: a prefetch of every line of a buffer, and of
// nil, neither faults nor changes a byte.
func TestLineChangesNothing(t *testing.T) {
	buf := make([]byte, 1<<16)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	Line(nil)
	for i := 0; i < len(buf); i += 64 {
		Line(unsafe.Pointer(&buf[i]))
	}
	for i := range buf {
		if buf[i] != byte(i*7) {
			t.Fatalf("byte %d is %d after prefetching; want %d", i, buf[i], byte(i*7))
		}
	}
}
