package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// answers lists origin answers as exact bytes and what the guard makes of
// them: nil for a complete answer it accepts (or one read until the origin
// closes), else the error that refuses it.
var answers = []struct {
	name string
	raw  string
	head bool // the answer to a HEAD request
	want error
}{
	{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, nil},
	{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false, nil},
	{"chunked upper case", "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", false, nil},
	{"chunk extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", false, nil},
	{"100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, nil},
	{"103 then 200", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, nil},
	{"204", "HTTP/1.1 204 No Content\r\n\r\n", false, nil},
	{"204 with zero length", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false, nil},
	{"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n", false, nil},
	{"HEAD with length", "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", true, nil},
	{"until close", "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>any bytes\n\r\x00</p>", false, nil},
	{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, nil},
	{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", false, nil},
	{"empty reason phrase", "HTTP/1.1 404 \r\nContent-Length: 2\r\n\r\nno", false, nil},
	{"long header value", "HTTP/1.1 200 OK\r\nSet-Cookie: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 2\r\n\r\nok", false, nil},
	{"space in value", "HTTP/1.1 200 OK\r\nContent-Length:  2 \r\n\r\nok", false, nil},

	{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false, errRespCLandTE},
	{"TE and CL", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false, errRespCLandTE},
	{"duplicate CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", false, errRespBadCL},
	{"duplicate equal CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", false, errRespBadCL},
	{"CL list", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", false, errRespBadCL},
	{"CL plus", "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc", false, errRespBadCL},
	{"CL negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc", false, errRespBadCL},
	{"CL empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nabc", false, errRespBadCL},
	{"CL huge", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nabc", false, errRespBadCL},
	{"TE identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc", false, errRespBadTE},
	{"TE list", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", false, errRespBadTE},
	{"TE twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, errRespBadTE},
	{"chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", false, errRespBadChunk},
	{"chunk size empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", false, errRespBadChunk},
	{"chunk size space", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", false, errRespBadChunk},
	{"chunk size space then ext", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 ;a\r\nhello\r\n0\r\n\r\n", false, errRespBadChunk},
	{"chunk size bare LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", false, errRespBadChunk},
	{"chunk size overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000000\r\nhello\r\n0\r\n\r\n", false, errRespBadChunk},
	{"chunk longer than said", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", false, errRespBadChunk},
	{"chunk ext with LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n", false, errRespBadChunk},
	{"trailer bare LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n", false, errRespBadChunk},
	{"bytes after CL body", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil", false, errRespExtra},
	{"bytes after chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", false, errRespExtra},
	{"CRLF after body", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\r\n", false, errRespExtra},
	{"body on 204", "HTTP/1.1 204 No Content\r\n\r\nbody", false, errRespExtra},
	{"body on 304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\nbody", false, errRespExtra},
	{"body on HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", true, errHeadBody},
	{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false, errRespUpgrade},
	{"101 then frames", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", false, errRespUpgrade},
	{"102", "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, errRespInterim},
	{"199", "HTTP/1.1 199 Whatever\r\n\r\n", false, errRespInterim},
	{"bare LF status line", "HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok", false, errRespHead},
	{"bare LF header", "HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok", false, errRespHead},
	{"bare LF end of head", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok", false, errRespHead},
	{"bare CR", "HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 2\r\n\r\nok", false, errRespHead},
	{"NUL in value", "HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 2\r\n\r\nok", false, errRespHead},
	{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok", false, errRespHead},
	{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", false, errRespHead},
	{"no colon", "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok", false, errRespHead},
	{"empty name", "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 2\r\n\r\nok", false, errRespHead},
	{"HTTP/2 status line", "HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok", false, errRespHead},
	{"status not digits", "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok", false, errRespHead},
	{"status too long", "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", false, errRespHead},
	{"not HTTP", "ICY 200 OK\r\n\r\nstream", false, errRespHead},
	{"empty line first", "\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, errRespHead},
}

// scanAnswer runs a scanner over in, split into reads of n bytes, and
// returns its verdict and whether it ended between answers (or in a body
// read until close).
func scanAnswer(in []byte, head bool, n int) (error, bool) {
	var s respScanner
	s.start(head)
	for len(in) > 0 {
		k := min(n, len(in))
		if _, err := s.feed(in[:k]); err != nil {
			return err, false
		}
		in = in[k:]
	}
	return nil, s.state == rsIdle || s.state == rsUntilClose
}

func TestResponseFraming(t *testing.T) {
	for _, tt := range answers {
		t.Run(tt.name, func(t *testing.T) {
			err, complete := scanAnswer([]byte(tt.raw), tt.head, len(tt.raw))
			if err != tt.want {
				t.Fatalf("got %v; want %v", err, tt.want)
			}
			if err == nil && !complete {
				t.Errorf("answer not complete at its end")
			}
			for n := 1; n < len(tt.raw); n++ {
				if got, _ := scanAnswer([]byte(tt.raw), tt.head, n); got != err {
					t.Fatalf("in reads of %d bytes: %v; in one: %v", n, got, err)
				}
			}
		})
	}
}

// TestGuardHandsNoCompleteRefusedAnswer: what the guard hands fasthttp
// before refusing never holds a complete answer, so fasthttp cannot succeed
// on it and reuse the connection.
func TestGuardHandsNoCompleteRefusedAnswer(t *testing.T) {
	for _, tt := range answers {
		if tt.want == nil || tt.want == errHeadBody { // a HEAD's head is whole: handed on, connection dropped
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			var s respScanner
			s.start(tt.head)
			n, err := s.feed([]byte(tt.raw))
			if err == nil {
				t.Fatal("not refused")
			}
			var resp fasthttp.Response
			resp.SkipBody = tt.head
			br := bufio.NewReader(bytes.NewReader([]byte(tt.raw[:n])))
			if rerr := resp.Read(br); rerr == nil {
				t.Errorf("fasthttp read a whole answer from the %d bytes handed before %v", n, err)
			}
		})
	}
}

// openReader is in followed by a connection that stays open: a read past
// the end fails as a read deadline would, never with EOF, so an answer
// fasthttp completes is one it would complete on a live connection.
type openReader struct{ *bytes.Reader }

var errStillOpen = errors.New("no more bytes yet")

func (r openReader) Read(p []byte) (int, error) {
	if r.Len() == 0 {
		return 0, errStillOpen
	}
	return r.Reader.Read(p)
}

// readFasthttp reads one answer from in as fasthttp's client does and
// returns how many bytes it took, or an error.
func readFasthttp(in []byte, head bool) (int, error) {
	var resp fasthttp.Response
	resp.SkipBody = head
	r := openReader{bytes.NewReader(in)}
	br := bufio.NewReaderSize(r, 64<<10)
	if err := resp.ReadLimitBody(br, 1<<20); err != nil { // bounded: a fuzzed chunk size can claim terabytes
		return 0, err
	}
	return len(in) - r.Len() - br.Buffered(), nil
}

// FuzzResponseFraming checks the guard against fasthttp on arbitrary
// answers: its verdict does not depend on how the bytes are split, and
// whenever both accept an answer they agree on where it ends. Where
// fasthttp alone accepts, the guard refused first: the answer is a failure.
func FuzzResponseFraming(f *testing.F) {
	for _, a := range answers {
		f.Add([]byte(a.raw), a.head, uint8(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, head bool, chunk uint8) {
		whole, complete := scanAnswer(in, head, len(in)+1)
		if got, _ := scanAnswer(in, head, int(chunk)%32+1); got != whole {
			t.Fatalf("reads of %d: %v; one read: %v", int(chunk)%32+1, got, whole)
		}
		k, ferr := readFasthttp(in, head)
		if ferr != nil {
			return
		}
		// fasthttp took in[:k] as one answer; the guard must refuse it or
		// see an answer that ends exactly there (or reads until close).
		err, done := scanAnswer(in[:k], head, k+1)
		if err == nil && !done {
			t.Fatalf("fasthttp read an answer of %d bytes that the guard would still be reading: %q", k, in[:k])
		}
		if whole == nil && complete && k != len(in) {
			var s respScanner
			s.start(head)
			if _, err := s.feed(in); err == nil && s.state == rsIdle {
				t.Fatalf("guard accepts %d bytes as one answer, fasthttp reads %d: %q", len(in), k, in)
			}
		}
	})
}

func TestRefusalReasons(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{errRespCLandTE, "framing"},
		{errRespBadChunk, "framing"},
		{errRespHead, "malformed"},
		{errRespExtra, "extra-bytes"},
		{errRespUpgrade, "upgrade"},
		{errRespInterim, "interim"},
		{errGzipCorrupt, "bad-gzip"},
		{errGzipTooLarge, "gzip-too-large"},
		{errNoOrigin, "no-origin"},
		{errors.New("something new"), "error"},
		{fasthttp.ErrBrokenChunk{}, "malformed"},
	} {
		if got := failureReason(tt.err); got != tt.want {
			t.Errorf("failureReason(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
}

// BenchmarkCheckAnswer measures the gzip check on a 16 KB page (3 KB
// compressed): "known" is an answer byte-identical to one checked before
// (a hash of its body), "new" one never seen (an inflate), and "guard" the
// framing guard reading the answer's head and body as they arrive.
func BenchmarkCheckAnswer(b *testing.B) {
	gz := benchGzipPage()
	var resp fasthttp.Response
	resp.Header.Set("Content-Encoding", "gzip")
	resp.SetBody(gz)
	b.Run("known", func(b *testing.B) {
		o := &origin{limit: 64 << 20, check: newCheckedBodies()}
		b.SetBytes(int64(len(gz)))
		b.ReportAllocs()
		for b.Loop() {
			if err := o.checkAnswer(&resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		o := &origin{limit: 64 << 20}
		b.SetBytes(int64(len(gz)))
		b.ReportAllocs()
		for b.Loop() {
			if err := o.checkAnswer(&resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("guard", func(b *testing.B) {
		raw := []byte(withLength(head("200 OK", "Content-Type: text/html; charset=utf-8", "Cache-Control: public, max-age=60",
			"Date: Sun, 06 Dec 2026 21:55:28 GMT", "Server: nginx", "Vary: Accept-Encoding", "Content-Encoding: gzip"), gz))
		var s respScanner
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			s.start(false)
			if _, err := s.feed(raw); err != nil || s.state != rsIdle {
				b.Fatal(err)
			}
		}
	})
}
