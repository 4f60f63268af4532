package gunzip

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/awningproxy/awning/internal/testkit"
)

func gz(t testing.TB, parts ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, p := range parts { // one member each
		w := stdgzip.NewWriter(&out)
		if _, err := io.WriteString(w, p); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func TestCheckAndAppend(t *testing.T) {
	page := strings.Repeat("<p>product page</p>", 100)
	good := gz(t, page)
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-8] ^= 1
	badLen := bytes.Clone(good)
	badLen[len(badLen)-1] ^= 1
	for _, tt := range []struct {
		name  string
		in    []byte
		limit int
		want  string // decoded, when no error
		err   error
	}{
		{"whole", good, 1 << 20, page, nil},
		{"exactly the limit", good, len(page), page, nil},
		{"one byte over the limit", good, len(page) - 1, "", ErrTooLarge},
		{"two members", gz(t, "abc", "def"), 100, "abcdef", nil},
		{"empty member", gz(t, ""), 100, "", nil},
		{"not gzip", []byte("NOTGZIP!!!"), 100, "", ErrCorrupt},
		{"empty", nil, 100, "", ErrCorrupt},
		{"truncated", good[:len(good)/2], 1 << 20, "", ErrCorrupt},
		{"no trailer", good[:len(good)-8], 1 << 20, "", ErrCorrupt},
		{"bad CRC", badCRC, 1 << 20, "", ErrCorrupt},
		{"bad length", badLen, 1 << 20, "", ErrCorrupt},
		{"trailing garbage", append(bytes.Clone(good), "junk"...), 1 << 20, "", ErrCorrupt},
		{"trailing zeros", append(bytes.Clone(good), 0, 0, 0, 0), 1 << 20, "", ErrCorrupt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Check(tt.in, tt.limit)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Check: %v; want %v", err, tt.err)
			}
			if err == nil && n != len(tt.want) {
				t.Errorf("Check: size %d; want %d", n, len(tt.want))
			}
			out, err := Append([]byte("x"), tt.in, tt.limit)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Append: %v; want %v", err, tt.err)
			}
			if err == nil && string(out) != "x"+tt.want {
				t.Errorf("Append: %q; want %q", out, "x"+tt.want)
			}
			if len(out)-1 > tt.limit {
				t.Errorf("Append returned %d bytes; limit %d", len(out)-1, tt.limit)
			}
		})
	}
}

// TestBombStaysBounded: a body that decompresses to 256 MiB is refused
// after the limit, with memory of the order of the limit, not of the body.
func TestBombStaysBounded(t *testing.T) {
	bomb := testkit.GzipBomb(256)
	const limit = 1 << 20
	if _, err := Check(bomb, limit); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Check: %v; want ErrTooLarge", err)
	}
	out, err := Append(nil, bomb, limit)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append: %v; want ErrTooLarge", err)
	}
	if cap(out) > 2*limit {
		t.Errorf("Append grew to %d bytes for a limit of %d", cap(out), limit)
	}
}

// TestCheckAllocatesNothing: with a reader at hand (the pool's, in Check),
// checking a body allocates nothing.
func TestCheckAllocatesNothing(t *testing.T) {
	good := gz(t, strings.Repeat("<p>product page</p>", 800))
	r := new(reader)
	r.check(good, 1<<20)
	if n := testing.AllocsPerRun(100, func() { r.check(good, 1<<20) }); n > 0 {
		t.Errorf("check allocates %.1f times per call", n)
	}
}

func FuzzGunzip(f *testing.F) {
	f.Add(gz(f, "hello"), uint16(100))
	f.Add(gz(f, "a", "b"), uint16(1))
	f.Add([]byte("NOTGZIP"), uint16(10))
	f.Fuzz(func(t *testing.T, in []byte, limit uint16) {
		n, cerr := Check(in, int(limit))
		out, aerr := Append(nil, in, int(limit))
		if (cerr == nil) != (aerr == nil) || errors.Is(cerr, ErrTooLarge) != errors.Is(aerr, ErrTooLarge) {
			t.Fatalf("Check: %v; Append: %v", cerr, aerr)
		}
		if len(out) > int(limit) {
			t.Fatalf("Append returned %d bytes over a limit of %d", len(out), limit)
		}
		if cerr != nil {
			return
		}
		if n != len(out) {
			t.Fatalf("Check says %d bytes, Append gave %d", n, len(out))
		}
		// What we accept, the standard library decodes to the same bytes.
		zr, err := stdgzip.NewReader(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("accepted, but compress/gzip: %v", err)
		}
		want, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(want, out) {
			t.Fatalf("accepted %q, but compress/gzip gives %q, %v", out, want, err)
		}
	})
}
