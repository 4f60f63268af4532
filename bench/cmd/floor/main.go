// Command floor is the least an HTTP/1.1 server or proxy written in Go can
// spend per request, measured beside Awning so that its goals can be set
// against what the language's runtime allows: no HTTP parsing beyond
// finding the end of a request's head (and, proxying, the origin's
// Content-Length), no header rewritten, no check, no timeout, no pool (one
// origin connection per shopper connection), one goroutine per connection
// on Go's netpoller — the read, write and park every Go server pays.
//
//	floor -listen 127.0.0.1:18700 -origin 127.0.0.1:18000   pass every request through
//	floor -listen 127.0.0.1:18701 -answer FILE               answer every request with FILE's bytes
//
// It is not a server to use: it trusts both sides completely.
package main

import (
	"bytes"
	"context"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18700", "address")
	origin := flag.String("origin", "", "origin address to pass requests to")
	answer := flag.String("answer", "", "file holding a whole HTTP/1.1 response, sent for every request")
	flag.Parse()
	var fixed []byte
	if *answer != "" {
		b, err := os.ReadFile(*answer)
		if err != nil {
			log.Fatal(err)
		}
		fixed = b
	} else if *origin == "" {
		log.Fatal("floor: -origin or -answer")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c, *origin, fixed)
	}
}

var headEnd = []byte("\r\n\r\n")

// serve answers the requests of one connection, one at a time (no
// pipelining: wrk does not pipeline).
func serve(c net.Conn, origin string, fixed []byte) {
	defer c.Close()
	var o net.Conn
	if fixed == nil {
		var err error
		if o, err = net.Dial("tcp", origin); err != nil {
			return
		}
		defer o.Close()
	}
	in := make([]byte, 16<<10)
	out := make([]byte, 256<<10)
	n := 0
	for {
		end := bytes.Index(in[:n], headEnd)
		if end < 0 {
			if n == len(in) {
				return
			}
			m, err := c.Read(in[n:])
			if err != nil {
				return
			}
			n += m
			continue
		}
		head := end + len(headEnd)
		if fixed != nil {
			if _, err := c.Write(fixed); err != nil {
				return
			}
		} else {
			if _, err := o.Write(in[:head]); err != nil {
				return
			}
			size, err := response(o, out)
			if err != nil {
				return
			}
			if _, err := c.Write(out[:size]); err != nil {
				return
			}
		}
		n = copy(in, in[head:n])
	}
}

var contentLength = []byte("\r\ncontent-length:")

// response reads one response with a Content-Length into out and returns
// its size.
func response(o net.Conn, out []byte) (int, error) {
	k, total := 0, -1
	for total < 0 || k < total {
		if k == len(out) {
			return 0, errTooLarge
		}
		m, err := o.Read(out[k:])
		if err != nil {
			return 0, err
		}
		k += m
		if total >= 0 {
			continue
		}
		end := bytes.Index(out[:k], headEnd)
		if end < 0 {
			continue
		}
		i := indexFold(out[:end+2], contentLength)
		if i < 0 {
			return 0, errNoLength
		}
		v := out[i+len(contentLength) : end]
		if j := bytes.IndexByte(v, '\r'); j >= 0 {
			v = v[:j]
		}
		cl, err := strconv.Atoi(string(bytes.TrimSpace(v)))
		if err != nil {
			return 0, errNoLength
		}
		total = end + len(headEnd) + cl
	}
	return total, nil
}

// indexFold is bytes.Index for an ASCII-lowercase sep, ignoring case,
// without allocating.
func indexFold(s, sep []byte) int {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i] == sep[0] && bytes.EqualFold(s[i:i+len(sep)], sep) {
			return i
		}
	}
	return -1
}

type floorError string

func (e floorError) Error() string { return string(e) }

const (
	errTooLarge = floorError("floor: response larger than the buffer")
	errNoLength = floorError("floor: response without a Content-Length")
)
