package proxy

import (
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// What a shopper's connection (guardConn) keeps between requests beyond
// framing: the deadlines fasthttp asks for, applied lazily, and the fetch
// whose answer the last response's body still points into.

// Deadlines. fasthttp sets a read deadline twice per request (the idle
// timeout before the next request, the read timeout once it began) and a
// write deadline once; each is a change to a runtime timer, and on a busy
// connection none of them ever fires. On a connection that makes its own
// system calls (rawTCP) the guard records them and applies the read
// deadline before a read and the write deadline before a write, rounded
// down to deadlineGrain, and only when that changed: a request that is
// read whole in one read (most) never applies the read timeout, and
// requests within the same second share the idle timeout already set. A
// deadline is never later than asked, at most deadlineGrain earlier.
const deadlineGrain = time.Second

// applyReadDeadline sets the read deadline fasthttp last asked for, if it
// changed; called before every read.
func (c *guardConn) applyReadDeadline() error {
	d := c.rdl.Truncate(deadlineGrain)
	if d.Equal(c.ardl) {
		return nil
	}
	c.ardl = d
	return c.Conn.SetReadDeadline(d)
}

// applyWriteDeadline sets the write deadline fasthttp last asked for, if
// it changed; called before every write.
func (c *guardConn) applyWriteDeadline() error {
	if c.raw == nil {
		return nil
	}
	d := c.wdl.Truncate(deadlineGrain)
	if d.Equal(c.awdl) {
		return nil
	}
	c.awdl = d
	return c.Conn.SetWriteDeadline(d)
}

// Lending. An origin's answer is read into its fetch's buffer; rather than
// copy the body into the shopper's response, the response points at it
// (SetBodyRaw), and the fetch is released once fasthttp wrote the response:
// at the connection's next read (fasthttp reads the next request only after
// it wrote the answer to this one), at the next request's handler (a
// pipelined request is read from the buffer, without a read), or when the
// connection closes. An idle connection holds nothing.

// connOf returns the guard of ctx's connection, or nil for a request that
// came another way (HTTP/2 and HTTP/3 through the bridge, tests).
func connOf(ctx *fasthttp.RequestCtx) *guardConn {
	switch c := ctx.Conn().(type) {
	case *guardConn:
		return c
	case *guardTLSConn:
		return c.guardConn
	}
	return nil
}

// lend keeps f until the response being written, whose body points into
// f's buffer, is out.
func (c *guardConn) lend(f *fetch) {
	if old := c.lent.Swap(f); old != nil {
		releaseFetch(old)
	}
}

// reclaim releases the fetch lent to the last response, if any: that
// response is written.
func (c *guardConn) reclaim() {
	if c.lent.Load() == nil {
		return
	}
	if f := c.lent.Swap(nil); f != nil {
		releaseFetch(f)
	}
}

// lentFetch is the slot a guardConn keeps a lent fetch in: swapped
// atomically, because fasthttp may close an idle connection from another
// goroutine (Close reclaims).
type lentFetch = atomic.Pointer[fetch]
