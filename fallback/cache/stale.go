package cache

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/flate"
)

// Banner is the notice put at the top of pages served stale, in a few
// variants (one per language order). pages.Banner implements it. It must
// be safe for concurrent use; the cache tells banners apart by identity.
type Banner interface {
	// Variants is how many variants the banner has.
	Variants() int
	// AppendVariant appends variant i as it reads on a copy the origin
	// gave at copied, shown at now, and says until when that text holds
	// (the zero time: for good).
	AppendVariant(dst []byte, i int, copied, now time.Time) (out []byte, changes time.Time)
	// CSPSources returns the CSP hash sources of the banner's inline
	// script and style.
	CSPSources() (script, style string)
}

// A page served stale is its copy with a banner inserted after <body>. The
// banner differs per language order and per copy (it says how old the copy
// is), so storing whole pages per variant would multiply a copy's memory
// by the site's languages, for every copy served in an outage. Instead a
// copy keeps its page cut at the banner's place, each half compressed as
// a raw DEFLATE stream of its own: the head ending in a sync flush (a
// non-final block boundary), the tail final. Independent DEFLATE streams
// concatenate into one when all but the last end so, and a gzip member is
// a header, DEFLATE data and a trailer (RFC 1952): so a gzip body is the
// fixed header, the head, the banner's own small stream, the tail, and a
// trailer whose CRC-32 is combined from the parts' (crc32Combine). Serving
// copies those few slices into the response; nothing is compressed or
// rendered per request, and a copy costs about its compressed size once
// more, however many variants are served.

// staleForms are a copy's halves, for one banner.
type staleForms struct {
	banner           Banner
	at               int    // where the banner goes in the plain body
	head, tail       []byte // raw DEFLATE of plain[:at] (sync-flushed) and plain[at:] (final)
	headCRC, tailCRC uint32
	tailLen          int
	header           [][2][]byte // the copy's headers, its CSP allowing the banner
	variants         []atomic.Pointer[staleVariant]
}

// staleVariant is one banner variant as it reads on this copy now.
type staleVariant struct {
	validated int64 // the copy's validation it tells the age of
	changes   int64 // unix nanos when its text changes; 0 never
	banner    []byte
	z         []byte  // raw DEFLATE of banner, sync-flushed
	trailer   [8]byte // CRC-32 and size of the whole page, for gzip
}

// gzipHeader is a gzip member header: deflate, no name, no time, unknown
// OS (RFC 1952 §2.3).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// WriteStale writes to w the body of the copy served stale with variant i
// of banner b: gzip when acceptGzip (and the copy is compressed), else
// plain. It returns the headers to send with it: the copy's, with its
// Content-Security-Policy allowing the banner's script and style. The
// halves are built on first use per banner, the variant once per
// validation of the copy; after that a write is a few copies into w and no
// allocation. A copy that is not a page is written as Serve writes it.
func (c *Copy) WriteStale(w io.Writer, b Banner, i int, acceptGzip bool, now time.Time) (header [][2][]byte, gzipped bool) {
	if !c.HTML || b == nil {
		body, gz := c.Serve(acceptGzip)
		w.Write(body)
		return c.Header, gz
	}
	f := c.stale.Load()
	if f == nil || f.banner != b {
		f = c.buildStale(b)
	}
	v := f.variants[i].Load()
	if v == nil || v.validated != c.validated.Load() || (v.changes != 0 && now.UnixNano() >= v.changes) {
		v = c.buildVariant(f, i, now)
	}
	if c.Gzipped && acceptGzip {
		w.Write(gzipHeader)
		w.Write(f.head)
		w.Write(v.z)
		w.Write(f.tail)
		w.Write(v.trailer[:])
		return f.header, true
	}
	plain := c.PlainBody()
	w.Write(plain[:f.at])
	w.Write(v.banner)
	w.Write(plain[f.at:])
	return f.header, false
}

func (c *Copy) buildStale(b Banner) *staleForms {
	c.staleMu.Lock()
	defer c.staleMu.Unlock()
	old := c.stale.Load()
	if old != nil && old.banner == b {
		return old
	}
	plain := c.PlainBody()
	f := &staleForms{banner: b, at: bannerAt(plain), variants: make([]atomic.Pointer[staleVariant], b.Variants())}
	switch {
	case old != nil && c.Gzipped:
		// Another banner (a reload, the merchant's texts): the page's
		// halves around it are the same bytes, compressed already.
		f.head, f.tail, f.headCRC, f.tailCRC, f.tailLen = old.head, old.tail, old.headCRC, old.tailCRC, old.tailLen
	case c.Gzipped:
		// Once per copy, sent on every stale hit through an outage: the
		// smallest form is worth the one-off cost (a few ms for 60 KB).
		f.head = deflate(plain[:f.at], false)
		f.tail = deflate(plain[f.at:], true)
		f.headCRC = crc32.ChecksumIEEE(plain[:f.at])
		f.tailCRC = crc32.ChecksumIEEE(plain[f.at:])
		f.tailLen = len(plain) - f.at
	}
	script, style := b.CSPSources()
	f.header = c.Header
	cloned := false
	for i, h := range c.Header {
		if !isCSP(h[0]) {
			continue
		}
		if !cloned {
			f.header, cloned = append([][2][]byte(nil), c.Header...), true
		}
		f.header[i][1] = []byte(AllowInline(string(h[1]), script, style))
	}
	c.stale.Store(f)
	return f
}

func (c *Copy) buildVariant(f *staleForms, i int, now time.Time) *staleVariant {
	c.staleMu.Lock()
	defer c.staleMu.Unlock()
	validated := c.validated.Load()
	if v := f.variants[i].Load(); v != nil && v.validated == validated && (v.changes == 0 || now.UnixNano() < v.changes) {
		return v
	}
	v := &staleVariant{validated: validated}
	var changes time.Time
	v.banner, changes = f.banner.AppendVariant(nil, i, time.Unix(0, validated), now)
	if !changes.IsZero() {
		v.changes = changes.UnixNano()
	}
	if c.Gzipped {
		v.z = deflate(v.banner, false)
		crc := crc32Combine(f.headCRC, crc32.ChecksumIEEE(v.banner), int64(len(v.banner)))
		crc = crc32Combine(crc, f.tailCRC, int64(f.tailLen))
		size := f.at + len(v.banner) + f.tailLen
		binary.LittleEndian.PutUint32(v.trailer[:4], crc)
		binary.LittleEndian.PutUint32(v.trailer[4:], uint32(size)) // ISIZE is the size mod 2^32
	}
	f.variants[i].Store(v)
	return v
}

// bannerAt returns where a banner goes in page: right after the opening
// <body> tag, or at the start when there is none.
func bannerAt(page []byte) int {
	if i := indexFold(page, []byte("<body")); i >= 0 {
		if j := bytes.IndexByte(page[i:], '>'); j >= 0 {
			return i + j + 1
		}
	}
	return 0
}

var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestCompression) // a valid level never fails
	return w
}}

// deflate compresses p as a raw DEFLATE stream of its own: final, or ending
// in a sync flush so that another stream may follow it.
func deflate(p []byte, final bool) []byte {
	var buf bytes.Buffer
	buf.Grow(len(p)/3 + 64)
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(&buf)
	w.Write(p) // writes to a bytes.Buffer do not fail
	if final {
		w.Close()
	} else {
		w.Flush()
	}
	return bytes.Clone(buf.Bytes()) // exactly its size: kept as long as the copy
}

// crc32Combine returns the CRC-32 (IEEE) of A followed by B from the
// CRC-32 of A, that of B and the length of B, as zlib's crc32_combine does:
// appending len2 zero bytes to A is a linear map on its CRC, applied by
// repeated squaring of the one-zero-bit operator.
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [32]uint32
	odd[0] = crc32.IEEE // the operator for one zero bit
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // one zero byte, then 4, 16, ...
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range square {
		square[n] = gf2Times(mat, mat[n])
	}
}

func isCSP(name []byte) bool {
	return strings.EqualFold(string(name), "Content-Security-Policy") ||
		strings.EqualFold(string(name), "Content-Security-Policy-Report-Only")
}
