package testkit

import (
	"bytes"
	"sync"

	"github.com/klauspost/compress/gzip"
)

var (
	bombOnce   sync.Once
	bombMember []byte
)

// GzipBomb returns a gzip body that decompresses to mib MiB of zeros (mib
// rounded up to a multiple of 16): members of 16 MiB each, concatenated, so
// that a 1 GiB bomb costs one 16 MiB compression (milliseconds), not a
// gigabyte's. It holds about 1 KiB per MiB it stands for. The caller may
// modify the result.
func GzipBomb(mib int) []byte {
	bombOnce.Do(func() {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zeros := make([]byte, 1<<20)
		for range 16 {
			w.Write(zeros)
		}
		w.Close()
		bombMember = b.Bytes()
	})
	out := make([]byte, 0, len(bombMember)*((mib+15)/16))
	for range (mib + 15) / 16 {
		out = append(out, bombMember...)
	}
	return out
}

// Gzip compresses s into one gzip member.
func Gzip(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}
