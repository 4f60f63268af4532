package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/qpack"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/quicvarint"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Raw HTTP/2 and HTTP/3 clients: one request written field by field and
// frame by frame, exactly as an attacker writes it (repeated cookie
// fields, a host field beside :authority, upper-case names, a body on a
// GET, a content-length that disagrees with the DATA), which Go's and
// quic-go's clients would not send.

// rawField is one header field as it goes on the wire, pseudo-fields too.
type rawField struct{ name, value string }

// rawRequest builds the fields of a request: the pseudo-fields, then
// extra in order.
func rawRequest(method, authority, path string, extra ...string) []rawField {
	f := []rawField{{":method", method}, {":scheme", "https"}, {":authority", authority}, {":path", path}}
	for i := 0; i+1 < len(extra); i += 2 {
		f = append(f, rawField{extra[i], extra[i+1]})
	}
	return f
}

// rawAnswer is what came back for one stream: an answer, or the stream (or
// connection) refused.
type rawAnswer struct {
	status int
	header http.Header
	body   []byte
	reset  string // why the stream or connection ended without an answer
}

// refused reports whether the request was refused: a 4xx status, or the
// stream or connection reset.
func (a rawAnswer) refused() bool { return a.reset != "" || (a.status >= 400 && a.status < 500) }

func (a rawAnswer) String() string {
	if a.reset != "" {
		return "reset: " + a.reset
	}
	return strconv.Itoa(a.status) + " " + a.header.Get("Awning-Served") + " " + a.header.Get("Cache-Status")
}

// rawH2 sends one request on a new HTTP/2 connection to the proxy, SNI
// sni: fields in one HEADERS frame, then each of data as a DATA frame (the
// last with END_STREAM; END_STREAM on HEADERS when data is empty).
func rawH2(p *tlsProxy, sni string, fields []rawField, data ...string) (rawAnswer, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.addr,
		&tls.Config{ServerName: sni, RootCAs: p.pool, NextProtos: []string{"h2"}})
	if err != nil {
		return rawAnswer{}, err
	}
	defer c.Close()
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		return rawAnswer{}, fmt.Errorf("ALPN %q; want h2", c.ConnectionState().NegotiatedProtocol)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return rawAnswer{}, err
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(64<<10, nil)
	fr.MaxHeaderListSize = 1 << 20
	if err := fr.WriteSettings(); err != nil {
		return rawAnswer{}, err
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range fields {
		enc.WriteField(hpack.HeaderField{Name: f.name, Value: f.value})
	}
	block := hb.Bytes()
	// Split into HEADERS and CONTINUATION frames of at most 16 KiB.
	const maxFrame = 16 << 10
	first := block[:min(len(block), maxFrame)]
	block = block[len(first):]
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first,
		EndStream: len(data) == 0, EndHeaders: len(block) == 0}); err != nil {
		return rawAnswer{}, err
	}
	for len(block) > 0 {
		n := min(len(block), maxFrame)
		if err := fr.WriteContinuation(1, n == len(block), block[:n]); err != nil {
			return rawAnswer{reset: "writing CONTINUATION: " + err.Error()}, nil
		}
		block = block[n:]
	}
	for i, d := range data {
		if err := fr.WriteData(1, i == len(data)-1, []byte(d)); err != nil {
			return rawAnswer{reset: "writing DATA: " + err.Error()}, nil
		}
	}
	var a rawAnswer
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if a.status != 0 {
				return a, nil
			}
			return rawAnswer{reset: "connection: " + err.Error()}, nil
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.GoAwayFrame:
			if a.status != 0 {
				return a, nil
			}
			return rawAnswer{reset: "GOAWAY " + f.ErrCode.String() + " " + string(f.DebugData())}, nil
		case *http2.RSTStreamFrame:
			if a.status != 0 {
				return a, nil
			}
			return rawAnswer{reset: "RST_STREAM " + f.ErrCode.String()}, nil
		case *http2.MetaHeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			if a.header == nil { // the answer, not trailers
				a.header = http.Header{}
				for _, hf := range f.Fields {
					if hf.Name == ":status" {
						a.status, _ = strconv.Atoi(hf.Value)
						continue
					}
					a.header.Add(hf.Name, hf.Value)
				}
			}
			if f.StreamEnded() {
				return a, nil
			}
		case *http2.DataFrame:
			if f.StreamID != 1 {
				continue
			}
			a.body = append(a.body, f.Data()...)
			if len(f.Data()) > 0 {
				fr.WriteWindowUpdate(0, uint32(len(f.Data())))
				fr.WriteWindowUpdate(1, uint32(len(f.Data())))
			}
			if f.StreamEnded() {
				return a, nil
			}
		}
	}
}

// rawH3 sends one request on a new HTTP/3 connection to the proxy, SNI
// sni: fields in one HEADERS frame, each of data as a DATA frame, then the
// stream's end.
func rawH3(p *tlsProxy, sni string, fields []rawField, data ...string) (rawAnswer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, p.addr3, &tls.Config{ServerName: sni, RootCAs: p.pool, NextProtos: []string{"h3"}}, &quic.Config{})
	if err != nil {
		return rawAnswer{}, err
	}
	defer conn.CloseWithError(0, "")
	// The client's control stream with an empty SETTINGS frame.
	ctrl, err := conn.OpenUniStream()
	if err != nil {
		return rawAnswer{}, err
	}
	ctrl.Write([]byte{0x00, 0x04, 0x00})
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return rawAnswer{}, err
	}
	var hb bytes.Buffer
	enc := qpack.NewEncoder(&hb)
	for _, f := range fields {
		enc.WriteField(qpack.HeaderField{Name: f.name, Value: f.value})
	}
	enc.Close()
	var out []byte
	out = quicvarint.Append(out, 0x01) // HEADERS
	out = quicvarint.Append(out, uint64(hb.Len()))
	out = append(out, hb.Bytes()...)
	for _, d := range data {
		out = quicvarint.Append(out, 0x00) // DATA
		out = quicvarint.Append(out, uint64(len(d)))
		out = append(out, d...)
	}
	str.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := str.Write(out); err != nil {
		return rawAnswer{reset: "writing: " + err.Error()}, nil
	}
	str.Close()
	var a rawAnswer
	r := quicvarint.NewReader(str)
	dec := qpack.NewDecoder()
	for {
		typ, err := quicvarint.Read(r)
		if err != nil {
			if errors.Is(err, io.EOF) && a.status != 0 {
				return a, nil
			}
			var se *quic.StreamError
			if errors.As(err, &se) {
				return rawAnswer{reset: "stream: " + se.Error()}, nil
			}
			return rawAnswer{reset: "reading: " + err.Error()}, nil
		}
		n, err := quicvarint.Read(r)
		if err != nil {
			return rawAnswer{reset: "reading: " + err.Error()}, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return rawAnswer{reset: "reading: " + err.Error()}, nil
		}
		switch typ {
		case 0x01:
			if a.header != nil {
				continue // trailers
			}
			a.header = http.Header{}
			next := dec.Decode(payload)
			for {
				hf, err := next()
				if err != nil {
					break
				}
				if hf.Name == ":status" {
					a.status, _ = strconv.Atoi(hf.Value)
					continue
				}
				a.header.Add(hf.Name, hf.Value)
			}
		case 0x00:
			a.body = append(a.body, payload...)
		}
	}
}

// rawH1 sends raw, an HTTP/1.1 request as bytes, on a new TLS connection
// to the proxy (ALPN http/1.1) and reads one answer.
func rawH1(p *tlsProxy, sni, raw string) (rawAnswer, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.addr,
		&tls.Config{ServerName: sni, RootCAs: p.pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return rawAnswer{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, werr := io.WriteString(c, raw) // on an error the answer may be there still (431, 413)
	method, _, _ := strings.Cut(raw, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return rawAnswer{reset: fmt.Sprintf("connection: %v (writing: %v)", err, werr)}, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// h1Request writes fields (pseudo-fields first) and data as HTTP/1.1
// bytes: the same request as HTTP/1.1 carries it.
func h1Request(fields []rawField, data ...string) string {
	var method, path, authority string
	var b strings.Builder
	for _, f := range fields {
		switch f.name {
		case ":method":
			method = f.value
		case ":path":
			path = f.value
		case ":authority":
			authority = f.value
		}
	}
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + authority + "\r\n")
	body := strings.Join(data, "")
	hasLength := false
	for _, f := range fields {
		if !strings.HasPrefix(f.name, ":") {
			b.WriteString(f.name + ": " + f.value + "\r\n")
			hasLength = hasLength || f.name == "content-length"
		}
	}
	if len(body) > 0 && !hasLength {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	return b.String() + "\r\n" + body
}

// rawSendErr sends fields (and data) over proto: "h2", "h3", or
// "http/1.1" (as h1Request writes them). For use off the test's goroutine.
func rawSendErr(p *tlsProxy, proto, sni string, fields []rawField, data ...string) (rawAnswer, error) {
	switch proto {
	case "h3":
		return rawH3(p, sni, fields, data...)
	case "h2":
		return rawH2(p, sni, fields, data...)
	}
	return rawH1(p, sni, h1Request(fields, data...))
}

// rawSend is rawSendErr on the test's goroutine.
func rawSend(t testing.TB, p *tlsProxy, proto, sni string, fields []rawField, data ...string) rawAnswer {
	t.Helper()
	a, err := rawSendErr(p, proto, sni, fields, data...)
	if err != nil {
		t.Fatalf("%s: %v", proto, err)
	}
	return a
}
