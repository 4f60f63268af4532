package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// tcpPair returns the two ends of a loopback TCP connection, the server's
// wrapped in the framing guard as the shoppers' listener wraps it.
func tcpPair(t *testing.T) (server net.Conn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = guardListener{ln}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// readsNothing reports whether nothing arrives on c within a short wait.
func readsNothing(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	n, err := c.Read(b[:])
	return n == 0 && err != nil
}

// TestCoalesceHoldsFullBuffer: a write of exactly one buffer is held back
// and sent with the next write, in order; anything else goes out at once.
func TestCoalesceHoldsFullBuffer(t *testing.T) {
	server, client := tcpPair(t)
	full := bytes.Repeat([]byte("a"), writeBufferSize)
	rest := bytes.Repeat([]byte("b"), 11000)
	if n, err := server.Write(full); n != len(full) || err != nil {
		t.Fatalf("Write(full) = %d, %v", n, err)
	}
	if !readsNothing(t, client) {
		t.Fatal("a full buffer went out before the rest of the response")
	}
	if n, err := server.Write(rest); n != len(rest) || err != nil {
		t.Fatalf("Write(rest) = %d, %v", n, err)
	}
	got := make([]byte, len(full)+len(rest))
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(full, rest...)) {
		t.Error("bytes arrived changed or out of order")
	}
	small := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	server.Write(small)
	if readsNothing(t, client) {
		t.Error("a short write was held back")
	}
}

// TestCoalesceFlushes: held bytes go out before the connection reads, sets
// its read deadline (fasthttp does before every next request) or closes.
func TestCoalesceFlushes(t *testing.T) {
	full := bytes.Repeat([]byte("x"), writeBufferSize)
	for _, tc := range []struct {
		name string
		then func(net.Conn)
	}{
		{"SetReadDeadline", func(c net.Conn) { c.SetReadDeadline(time.Now().Add(time.Minute)) }},
		{"SetDeadline", func(c net.Conn) { c.SetDeadline(time.Now().Add(time.Minute)) }},
		{"Read", func(c net.Conn) {
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			c.Read(make([]byte, 1))
		}},
		{"Close", func(c net.Conn) { c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			server.Write(full)
			tc.then(server)
			client.SetReadDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, len(full))
			if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, full) {
				t.Errorf("held bytes not sent: %v", err)
			}
		})
	}
}

// TestCoalescedResponses serves answers of sizes around the write buffer
// through fasthttp and the guard, one per connection and pipelined, and
// checks every byte arrives, none is held for good.
func TestCoalescedResponses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			path := ctx.Path()[1:]
			if len(path) > 0 && path[0] == 'L' {
				// A head longer than the write buffer (holdUpTo).
				ctx.Response.Header.Set("Content-Security-Policy", strings.Repeat("a", 1500))
				path = path[1:]
			}
			n, _ := strconv.Atoi(string(path))
			ctx.SetBody(bytes.Repeat([]byte{'0' + byte(n%10)}, n))
		},
		WriteBufferSize:       writeBufferSize,
		IdleTimeout:           time.Minute,
		NoDefaultServerHeader: true,
		NoDefaultDate:         true,
		NoDefaultContentType:  true,
	}
	go srv.Serve(guardListener{ln})
	t.Cleanup(func() { srv.Shutdown() })
	head := len("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
	sizes := []int{0, 10, writeBufferSize - head, writeBufferSize - head + 1, writeBufferSize, 2*writeBufferSize - head, 6000, 15000, 70000}
	var pipelined strings.Builder
	for _, n := range sizes {
		pipelined.WriteString(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: x\r\n\r\nGET /L%d HTTP/1.1\r\nHost: x\r\n\r\n", n, n))
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for _, n := range sizes { // one after the other on a kept-alive connection
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", n)
		readBody(t, br, n)
		fmt.Fprintf(c, "GET /L%d HTTP/1.1\r\nHost: x\r\n\r\n", n) // a long head, held and sent with the body or alone
		readBody(t, br, n)
	}
	io.WriteString(c, pipelined.String()) // all at once
	for _, n := range sizes {
		readBody(t, br, n)
		readBody(t, br, n)
	}
}

func readBody(t *testing.T, br *bufio.Reader, n int) {
	t.Helper()
	var resp fasthttp.Response
	if err := resp.Read(br); err != nil {
		t.Fatalf("answer of %d bytes: %v", n, err)
	}
	if want := bytes.Repeat([]byte{'0' + byte(n%10)}, n); !bytes.Equal(resp.Body(), want) {
		t.Errorf("answer of %d bytes: got %d bytes", n, len(resp.Body()))
	}
}
