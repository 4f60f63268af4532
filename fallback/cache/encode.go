package cache

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/awningproxy/awning/internal/gunzip"
)

// The Redis tier stores all variants of a page as one value, in a small
// versioned binary format: a page is read with one GET, and a value written
// by another node (or an older Awning) is decoded defensively, since it
// comes over the network. Bodies are stored as kept in memory, compressed.

var magic = []byte("AWC\x01")

// errCorrupt is returned for a value that is not a valid encoded entry.
var errCorrupt = errors.New("cache: corrupt stored entry")

// Bounds on what a decoded value may claim, far above anything Build makes.
const (
	maxHeaders = 256
	maxField   = 64 << 20
)

func encodeEntry(variants []*Copy) []byte {
	n := len(magic) + 8
	for _, c := range variants {
		n += len(c.Body) + len(c.ContentType) + 128
		for _, h := range c.Header {
			n += len(h[0]) + len(h[1]) + 8
		}
	}
	b := append(make([]byte, 0, n), magic...)
	b = binary.AppendUvarint(b, uint64(len(variants)))
	for _, c := range variants {
		b = binary.AppendUvarint(b, uint64(c.Status))
		b = appendBytes(b, c.ContentType)
		b = binary.AppendUvarint(b, uint64(len(c.Header)))
		for _, h := range c.Header {
			b = appendBytes(b, h[0])
			b = appendBytes(b, h[1])
		}
		var flags byte
		if c.Gzipped {
			flags |= 1
		}
		if c.HTML {
			flags |= 2
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(len(c.Vary)))
		for i := range c.Vary {
			b = appendBytes(b, []byte(c.Vary[i]))
			b = appendBytes(b, []byte(c.VaryValues[i]))
		}
		b = binary.AppendVarint(b, c.Fetched.UnixNano())
		b = binary.AppendVarint(b, c.validated.Load())
		b = binary.AppendVarint(b, int64(c.Lifetime))
		b = binary.LittleEndian.AppendUint64(b, c.Sum)
		b = binary.AppendUvarint(b, uint64(c.Size))
		b = appendBytes(b, c.Body)
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decoder reads an encoded entry; the first problem sticks in err.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint(limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > limit {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint(maxField)
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = errCorrupt
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errCorrupt
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errCorrupt
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// decodeEntry parses an encoded entry. The copies it returns alias data,
// which must not be modified afterwards.
func decodeEntry(data []byte) ([]*Copy, error) {
	if len(data) < len(magic) || string(data[:len(magic)]) != string(magic) {
		return nil, errCorrupt
	}
	d := &decoder{b: data[len(magic):]}
	n := d.uvarint(maxVariants)
	var out []*Copy
	for i := uint64(0); i < n && d.err == nil; i++ {
		c := &Copy{}
		c.Status = int(d.uvarint(599))
		c.ContentType = d.bytes()
		nh := d.uvarint(maxHeaders)
		for j := uint64(0); j < nh && d.err == nil; j++ {
			c.Header = append(c.Header, [2][]byte{d.bytes(), d.bytes()})
		}
		flags := d.byte1()
		c.Gzipped, c.HTML = flags&1 != 0, flags&2 != 0
		nv := d.uvarint(maxVary)
		for j := uint64(0); j < nv && d.err == nil; j++ {
			c.Vary = append(c.Vary, string(d.bytes()))
			c.VaryValues = append(c.VaryValues, string(d.bytes()))
		}
		c.Fetched = time.Unix(0, d.varint())
		c.validated.Store(d.varint())
		c.Lifetime = time.Duration(d.varint())
		c.Sum = d.uint64()
		c.Size = int(d.uvarint(maxField))
		c.Body = d.bytes()
		if c.Status < 100 || c.Lifetime < 0 {
			d.err = errCorrupt
		}
		if d.err == nil && c.Gzipped {
			// A body that will be sent as gzip must be gzip: check it once
			// here, when a node first takes the copy from Redis, and only
			// as far as the size it claims.
			if n, err := gunzip.Check(c.Body, c.Size); err != nil || n != c.Size {
				d.err = errCorrupt
			}
		}
		out = append(out, c)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errCorrupt
	}
	return out, nil
}
