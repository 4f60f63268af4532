package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// smuggling lists requests whose framing two parsers could read differently.
var smuggling = []struct {
	name string
	raw  string
}{
	{"CL and TE", "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE and CL", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"},
	{"duplicate CL", "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"},
	{"duplicate equal CL", "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd"},
	{"CL list", "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4, 4\r\n\r\nabcd"},
	{"CL plus sign", "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: +4\r\n\r\nabcd"},
	{"CL hex", "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 0x4\r\n\r\nabcd"},
	{"CL negative", "POST / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: -1\r\n\r\nabcd"},
	{"TE identity", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: identity\r\n\r\nabcd"},
	{"TE xchunked", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
	{"TE twice", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"TE list", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
	{"TE space before colon", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: shop.example\r\nX-A: b\r\n c\r\n\r\n"},
	{"obs-fold tab", "GET / HTTP/1.1\r\nHost: shop.example\r\nX-A: b\r\n\tc\r\n\r\n"},
	{"obs-fold TE", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
	{"bare LF request line", "GET / HTTP/1.1\nHost: shop.example\r\n\r\n"},
	{"bare LF header", "GET / HTTP/1.1\r\nHost: shop.example\nX-A: b\r\n\r\n"},
	{"bare LF everywhere", "GET / HTTP/1.1\nHost: shop.example\n\n"},
	{"bare LF end of head", "GET / HTTP/1.1\r\nHost: shop.example\r\n\n"},
	{"bare LF in pipelined request", "GET /a HTTP/1.1\r\nHost: shop.example\r\n\r\nGET /b HTTP/1.1\nHost: shop.example\r\n\r\n"},
	{"bare LF after CL body", "POST /a HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3\r\n\r\na\nbGET /b HTTP/1.1\nHost: shop.example\r\n\r\n"},
	{"bare LF after chunked body", "POST /a HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\na\nb\r\n0\r\n\r\nGET /b HTTP/1.1\nHost: shop.example\r\n\r\n"},
	{"bare LF after chunked body with trailer", "POST /a HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\nGET /b HTTP/1.1\nHost: shop.example\r\n\r\n"},
	{"bad chunk size", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"},
	{"chunk size bare LF", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"},
	{"GET with body", "GET / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3\r\n\r\nabc"},
	{"GET chunked", "GET / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{"GET chunked empty", "GET / HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"HEAD with body", "HEAD / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3\r\n\r\nabc"},
	{"GET with body pipelined", "GET /a HTTP/1.1\r\nHost: shop.example\r\n\r\nGET / HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 1\r\n\r\nx"},
	{"underscore TE with CL", "POST / HTTP/1.1\r\nHost: shop.example\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
	{"underscore CL", "POST / HTTP/1.1\r\nHost: shop.example\r\nContent_Length: 5\r\nContent-Length: 3\r\n\r\nabc"},
	{"underscore TE alone", "POST / HTTP/1.1\r\nHost: shop.example\r\ntransfer_encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"Host with userinfo", "GET / HTTP/1.1\r\nHost: other.example@shop.example\r\n\r\n"},
	{"Host with quote", "GET / HTTP/1.1\r\nHost: shop.example\"\r\n\r\n"},
	{"Host with bad port", "GET / HTTP/1.1\r\nHost: shop.example:80x\r\n\r\n"},
	{"Host with bad percent", "GET / HTTP/1.1\r\nHost: shop%zz.example\r\n\r\n"},
	{"absolute-form with userinfo", "GET http://other.example@shop.example/ HTTP/1.1\r\nHost: shop.example\r\n\r\n"},
	{"two hosts", "GET / HTTP/1.1\r\nHost: shop.example\r\nHost: other.example\r\n\r\n"},
	{"no host", "GET / HTTP/1.1\r\n\r\n"},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: shop.example\r\nX-A: b\x00c\r\n\r\n"},
	{"CR in value", "GET / HTTP/1.1\r\nHost: shop.example\r\nX-A: b\rc\r\n\r\n"},
}

// TestSmugglingVectorsRefused sends each ambiguous request as exact bytes and
// checks that it gets 400, that the connection is closed, and that no part of
// it that could be misread reached the origin. A request that came before
// the bad one on the same connection may be served.
func TestSmugglingVectorsRefused(t *testing.T) {
	for _, tt := range smuggling {
		t.Run(tt.name, func(t *testing.T) {
			o := testkit.NewOrigin(t, testkit.Echo())
			p := startProxy(t, oneSite(o.URL()))
			raw := testkit.Dial(t, p.addr)
			raw.Send(tt.raw)
			var last *http.Response
			for {
				resp, _, err := raw.ReadResponse("GET", 3*time.Second)
				if err != nil {
					break
				}
				last = resp
				if resp.StatusCode != 200 {
					break
				}
			}
			if last == nil || last.StatusCode != http.StatusBadRequest {
				t.Fatalf("last response = %v; want 400", last)
			}
			if !raw.Closed(2 * time.Second) {
				t.Error("connection left open after 400")
			}
			for _, r := range o.Received() {
				if r.RequestURI != "/a" {
					t.Errorf("origin received %s %s", r.Method, r.RequestURI)
				}
			}
		})
	}
}

// TestCleanFramingAccepted guards against the guard refusing good requests:
// pipelined requests with bodies, chunked bodies, 100-continue, heads split
// into many writes, and keep-alive sequences.
func TestCleanFramingAccepted(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Echo())
	p := startProxy(t, oneSite(o.URL()))
	tests := []struct {
		name string
		raw  string
		n    int // responses expected
	}{
		{"simple", "GET /1 HTTP/1.1\r\nHost: shop.example\r\n\r\n", 1},
		{"leading empty line", "\r\nGET /1 HTTP/1.1\r\nHost: shop.example\r\n\r\n", 1},
		{"pipelined with CL body containing LF", "POST /1 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\na\nb\nGET /2 HTTP/1.1\r\nHost: shop.example\r\n\r\n", 2},
		{"chunked body with LF", "POST /1 HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\na\nb\r\n0\r\n\r\n", 1},
		{"TE chunked mixed case", "POST /1 HTTP/1.1\r\nHost: shop.example\r\ntransfer-encoding: Chunked\r\n\r\n0\r\n\r\n", 1},
		{"HTTP/1.0", "GET /1 HTTP/1.0\r\nHost: shop.example\r\n\r\n", 1},
		{"pipelined after chunked body", "POST /1 HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\na\nb\r\n0\r\nX-T: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: shop.example\r\n\r\n", 2},
		{"GET with zero length", "GET /1 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 0\r\n\r\n", 1},
		{"Host with port", "GET /1 HTTP/1.1\r\nHost: shop.example:8080\r\n\r\n", 1},
		{"Host upper case, trailing dot", "GET /1 HTTP/1.1\r\nHost: SHOP.example.\r\n\r\n", 1},
		{"absolute-form", "GET http://shop.example/1 HTTP/1.1\r\nHost: shop.example\r\n\r\n", 1},
		{"underscore in another header", "GET /1 HTTP/1.1\r\nHost: shop.example\r\nX_Custom_Thing: 1\r\n\r\n", 1},
		{"underscore in a header Awning drops", "GET /1 HTTP/1.1\r\nHost: shop.example\r\nX_Forwarded_For: 10.0.0.1\r\n\r\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := testkit.Dial(t, p.addr)
			raw.Send(tt.raw)
			for i := range tt.n {
				resp, body, err := raw.ReadResponse("GET", 3*time.Second)
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				if resp.StatusCode != 200 {
					t.Fatalf("response %d: status %d %q", i, resp.StatusCode, body)
				}
			}
		})
	}

	t.Run("byte by byte", func(t *testing.T) {
		raw := testkit.Dial(t, p.addr)
		req := "POST /1 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 3\r\n\r\na\nbGET /2 HTTP/1.1\r\nHost: shop.example\r\n\r\n"
		for i := range len(req) {
			raw.Send(req[i : i+1])
		}
		for i := range 2 {
			if resp, _, err := raw.ReadResponse("GET", 3*time.Second); err != nil || resp.StatusCode != 200 {
				t.Fatalf("response %d: %v %v", i, resp, err)
			}
		}
	})

	t.Run("100-continue", func(t *testing.T) {
		raw := testkit.Dial(t, p.addr)
		raw.Send("POST /1 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		resp, _, err := raw.ReadResponse("POST", 3*time.Second)
		if err != nil || resp.StatusCode != 100 {
			t.Fatalf("want 100 Continue, got %v %v", resp, err)
		}
		raw.Send("a\nb\nGET /2 HTTP/1.1\r\nHost: shop.example\r\n\r\n")
		for i := range 2 {
			if resp, _, err := raw.ReadResponse("GET", 3*time.Second); err != nil || resp.StatusCode != 200 {
				t.Fatalf("response %d: %v %v", i, resp, err)
			}
		}
		if got := o.Received(); len(got) < 2 || got[len(got)-2].Header.Get("Expect") != "" {
			t.Error("Expect header reached the origin")
		}
	})
}

// TestConnectRefused: CONNECT gets 405 with Allow, the connection is
// closed, and the origin hears nothing (it was forwarded and got a 200).
func TestConnectRefused(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Echo())
	p := startProxy(t, oneSite(o.URL()))
	for _, raw := range []string{
		"CONNECT shop.example:80 HTTP/1.1\r\nHost: shop.example:80\r\n\r\n",
		"CONNECT shop.example:443 HTTP/1.1\r\nHost: shop.example\r\n\r\n",
	} {
		c := testkit.Dial(t, p.addr)
		c.Send(raw)
		resp, _, err := c.ReadResponse("CONNECT", 3*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("%q: %d Allow %q; want 405 with Allow", raw, resp.StatusCode, resp.Header.Get("Allow"))
		}
		if !c.Closed(2 * time.Second) {
			t.Errorf("%q: connection left open", raw)
		}
	}
	if n := o.Requests(); n != 0 {
		t.Errorf("origin got %d requests; want 0", n)
	}
}

// TestTraceRefused: TRACE and TRACK get 405 with Allow and never reach the
// origin, which would echo the request's cookies and Awning's own headers.
func TestTraceRefused(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Echo())
	p := startProxy(t, oneSite(o.URL()))
	for _, method := range []string{"TRACE", "TRACK"} {
		c := testkit.Dial(t, p.addr)
		c.Send(method + " / HTTP/1.1\r\nHost: shop.example\r\nCookie: sid=SECRET\r\n\r\n")
		resp, body, err := c.ReadResponse(method, 3*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("%s: %d Allow %q; want 405 with Allow", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
		if strings.Contains(string(body), "SECRET") {
			t.Errorf("%s: the answer echoes the cookie: %q", method, body)
		}
	}
	if n := o.Requests(); n != 0 {
		t.Errorf("origin got %d requests; want 0", n)
	}
}

func TestValidHost(t *testing.T) {
	for _, tt := range []struct {
		host string
		want bool
	}{
		{"shop.example", true}, {"shop.example:8443", true}, {"SHOP.example.", true}, {"[::1]", true},
		{"[::1]:80", true}, {"127.0.0.1:80", true}, {"a_b.example", true}, {"xn--bcher-kva.example", true},
		{"caf%C3%A9.example", true}, {"", true},
		{"a@b.example", false}, {"a b", false}, {"shop.example:", true}, {"shop.example:80:80", false},
		{"shop.example:99999999", false}, {"[::1", false}, {"[]", false}, {"[::1]x", false},
		{"shop.example/", false}, {"shop.example\\", false}, {"%zz", false}, {"%4", false}, {"shop\x00", false},
		{"\"shop\"", false}, {"<shop>", false}, {"shop.example#x", false}, {"shop.example?x", false},
	} {
		if got := validHost([]byte(tt.host)); got != tt.want {
			t.Errorf("validHost(%q) = %v; want %v", tt.host, got, tt.want)
		}
	}
}

// scanAll runs a guard over input split into chunks of size n and returns
// its verdict.
func scanAll(input []byte, n int) error {
	g := &guardConn{}
	g.resetHead()
	for len(input) > 0 {
		k := min(n, len(input))
		if err := g.scan(input[:k]); err != nil {
			return err
		}
		input = input[k:]
	}
	return nil
}

func TestGuardVerdictIndependentOfChunking(t *testing.T) {
	inputs := []string{}
	for _, s := range smuggling {
		inputs = append(inputs, s.raw)
	}
	inputs = append(inputs, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n\n\nGET / HTTP/1.1\n")
	for _, in := range inputs {
		want := scanAll([]byte(in), len(in))
		for n := 1; n < len(in); n++ {
			if got := scanAll([]byte(in), n); got != want {
				t.Errorf("%q in chunks of %d: %v; in one chunk: %v", in, n, got, want)
				break
			}
		}
	}
}

func FuzzGuardConn(f *testing.F) {
	for _, s := range smuggling {
		f.Add([]byte(s.raw), uint8(3))
	}
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\r\n\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		n := int(chunk)%64 + 1
		if got, want := scanAll(in, n), scanAll(in, len(in)+1); got != want {
			t.Errorf("chunks of %d: %v; whole: %v", n, got, want)
		}
		checkRawHeaders(in) // must not panic
		validHost(in)
	})
}

// BenchmarkGuardScan measures the framing guard on a browser's request
// head: long User-Agent, Accept and Cookie lines, as shoppers send them.
func BenchmarkGuardScan(b *testing.B) {
	head := []byte("GET /product/desem-waldkorn?utm_source=newsletter HTTP/1.1\r\n" +
		"Host: shop.example\r\n" +
		"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n" +
		"Accept-Language: nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Cookie: _ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; consent=necessary,analytics,marketing; recently_viewed=101,102,103,104,105\r\n" +
		"Sec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\nUpgrade-Insecure-Requests: 1\r\n\r\n")
	g := &guardConn{}
	g.resetHead()
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		if err := g.scan(head); err != nil {
			b.Fatal(err)
		}
	}
}
