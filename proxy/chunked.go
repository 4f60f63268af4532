package proxy

import "errors"

// errBadChunk reports chunked framing that is not RFC 9112 §7.1's.
var errBadChunk = errors.New("proxy: malformed chunked body")

// chunkedBody follows a chunked body (RFC 9112 §7.1) as it streams past:
// chunk-size [; extension] CRLF, data CRLF, ..., 0 CRLF, trailer lines,
// CRLF. It is strict where parsers differ: only hex digits in a size (no
// whitespace after it: fasthttp reads "5 ;a" and "5 " differently), CRLF
// and never a bare LF, no obs-fold in the trailer. Chunk data is skipped in
// bulk. The request guard (framing.go) and the origin answer guard
// (originresp.go) both use it, so a body ends where both agree.
type chunkedBody struct {
	state   uint8
	left    int64 // bytes left of the current chunk's data
	digits  int   // hex digits of the chunk size so far
	lineLen int   // bytes of the current trailer line
}

const (
	cbSize      = iota // in a chunk-size, before any extension
	cbExt              // in a chunk extension
	cbSizeLF           // after the CR of a chunk-size line
	cbData             // in chunk data
	cbDataCR           // after chunk data
	cbDataLF           // after chunk data and CR
	cbTrailer          // at the start of a trailer line
	cbTrailerIn        // in a trailer line
	cbTrailerLF        // after a trailer line's CR
	cbDone             // after the final CRLF
)

// maxChunkDigits bounds a chunk size: 15 hex digits stay within int64.
const maxChunkDigits = 15

func (c *chunkedBody) reset() { *c = chunkedBody{} }

// feed takes bytes of the body from the start of b. It returns how many it
// took and whether the body ended with them; on a framing error it returns
// errBadChunk and the offset of the offending byte.
func (c *chunkedBody) feed(b []byte) (int, bool, error) {
	for i := 0; i < len(b); {
		if c.state == cbData {
			k := min(int64(len(b)-i), c.left)
			c.left -= k
			i += int(k)
			if c.left == 0 {
				c.state = cbDataCR
			}
			continue
		}
		if !c.step(b[i]) {
			return i, false, errBadChunk
		}
		i++
		if c.state == cbDone {
			return i, true, nil
		}
	}
	return len(b), false, nil
}

// step takes one framing byte and reports whether it was allowed.
func (c *chunkedBody) step(ch byte) bool {
	switch c.state {
	case cbSize:
		switch v := unhex(ch); {
		case v >= 0:
			if c.digits++; c.digits > maxChunkDigits {
				return false
			}
			c.left = c.left<<4 | int64(v)
		case c.digits == 0:
			return false
		case ch == ';':
			c.state = cbExt
		case ch == '\r':
			c.state = cbSizeLF
		default:
			return false
		}
	case cbExt:
		switch ch {
		case '\r':
			c.state = cbSizeLF
		case '\n':
			return false
		}
	case cbSizeLF:
		if ch != '\n' {
			return false
		}
		if c.left == 0 {
			c.state = cbTrailer
		} else {
			c.state = cbData
		}
	case cbDataCR:
		if ch != '\r' {
			return false
		}
		c.state = cbDataLF
	case cbDataLF:
		if ch != '\n' {
			return false
		}
		c.state, c.left, c.digits = cbSize, 0, 0
	case cbTrailer:
		switch ch {
		case '\r':
			c.state = cbTrailerLF
		case '\n', ' ', '\t', 0:
			return false
		default:
			c.state, c.lineLen = cbTrailerIn, 1
		}
	case cbTrailerIn:
		switch ch {
		case '\r':
			c.state = cbTrailerLF
		case '\n', 0:
			return false
		default:
			c.lineLen++
		}
	case cbTrailerLF:
		if ch != '\n' {
			return false
		}
		if c.lineLen == 0 {
			c.state = cbDone // the empty line that ends the trailer section
		} else {
			c.state, c.lineLen = cbTrailer, 0
		}
	default:
		return false
	}
	return true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
