package testkit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// RawConn is a client connection that writes exact bytes, for requests no
// well-behaved client library would send.
type RawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// Dial opens a raw connection to addr; it is closed by the test's Cleanup.
func Dial(t testing.TB, addr string) *RawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("testkit: dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &RawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// Send writes raw as is.
func (r *RawConn) Send(raw string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(r.c, raw); err != nil {
		r.t.Fatalf("testkit: write: %v", err)
	}
}

// ReadResponse reads one response (for method, which tells whether a body
// follows) within timeout. The body is read whole.
func (r *RawConn) ReadResponse(method string, timeout time.Duration) (*http.Response, []byte, error) {
	r.c.SetReadDeadline(time.Now().Add(timeout))
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// Closed reports whether the server closed the connection within timeout:
// a read returns EOF or a reset. Bytes read meanwhile are discarded.
func (r *RawConn) Closed(timeout time.Duration) bool {
	r.c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 4096)
	for {
		_, err := r.br.Read(buf)
		if err == nil {
			continue
		}
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
}

// Close closes the connection.
func (r *RawConn) Close() { r.c.Close() }
