package gunzip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
)

var (
	// ErrTooLarge reports a body that decompresses past the limit.
	ErrTooLarge = errors.New("gunzip: decompressed body over the limit")
	// ErrCorrupt reports a body that is not complete gzip: a bad header, a
	// broken deflate stream, a truncated body, a CRC-32 or length that does
	// not match, or bytes after the last member. It wraps the decoder's
	// error.
	ErrCorrupt = errors.New("gunzip: not a complete gzip body")
)

// reader is a pooled gzip reader with its input and a scratch buffer.
type reader struct {
	zr  gzip.Reader
	src bytes.Reader
	buf [32 << 10]byte // Check's output, discarded
}

var readers = sync.Pool{New: func() any { return new(reader) }}

// yieldEvery is how much output a decode produces between yields of the
// processor. Inflating is CPU-bound for as long as the limit allows (about
// 40 ms for 64 MiB of zeros): with a node's few processors all busy on
// bombs, every other request would wait a whole scheduling slice (10 ms)
// at each step. Yielding each MiB (under a millisecond) keeps them moving,
// at no measurable cost to the decode.
const yieldEvery = 1 << 20

// Check decodes src to its end, discarding the output, and returns the
// decompressed size. It fails with ErrTooLarge as soon as the output passes
// limit bytes, and with ErrCorrupt when src is not complete gzip. Memory
// stays that of one pooled reader whatever src holds.
func Check(src []byte, limit int) (int, error) {
	r := readers.Get().(*reader)
	defer readers.Put(r)
	return r.check(src, limit)
}

// check is Check with the reader r.
func (r *reader) check(src []byte, limit int) (int, error) {
	r.src.Reset(src)
	defer r.src.Reset(nil) // hold no reference to the body in the pool
	if err := r.zr.Reset(&r.src); err != nil {
		return 0, corrupt(err)
	}
	n, yield := 0, yieldEvery
	for {
		k, err := r.zr.Read(r.buf[:])
		n += k
		if n > limit {
			return n, ErrTooLarge
		}
		if n >= yield {
			runtime.Gosched()
			yield += yieldEvery
		}
		switch {
		case err == io.EOF:
			return n, nil
		case err != nil:
			return n, corrupt(err)
		}
	}
}

// Append decodes src to its end and appends the result to dst. It fails
// with ErrTooLarge as soon as the output would pass limit bytes (dst then
// holds what was decoded so far, and never more than limit bytes more than
// it did), and with ErrCorrupt when src is not complete gzip.
func Append(dst, src []byte, limit int) ([]byte, error) {
	r := readers.Get().(*reader)
	defer readers.Put(r)
	r.src.Reset(src)
	defer r.src.Reset(nil)
	if err := r.zr.Reset(&r.src); err != nil {
		return dst, corrupt(err)
	}
	start, yield := len(dst), yieldEvery
	for {
		if len(dst) == cap(dst) {
			// Grow by doubling, never past the limit plus one byte (to see
			// a body that goes past it).
			dst = slices.Grow(dst, min(max(len(dst)-start, 4<<10), limit+1-(len(dst)-start)))
		}
		k, err := r.zr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+k]
		if len(dst)-start > limit {
			return dst[:start+limit], ErrTooLarge
		}
		if len(dst)-start >= yield {
			runtime.Gosched()
			yield += yieldEvery
		}
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, corrupt(err)
		}
	}
}

func corrupt(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // an empty body is no gzip either
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}
