package proxy

import (
	"net"
	"sync"
	"time"
)

// writeBufferSize is the shoppers' servers' fasthttp write buffer.
const writeBufferSize = 512

// Write coalescing. fasthttp writes a response through a bufio.Writer of
// writeBufferSize bytes; one that does not fit (a 15 KB page is typical)
// goes out as a full buffer and then the rest: two write syscalls, and over
// TLS two records. fasthttp sends both with one writev only when the
// connection is a bare *net.TCPConn, which the framing guard hides. So the
// guard holds a full-buffer write back and sends it together with the next
// write: one writev on TCP, one record on TLS when both fit.
//
// Held bytes never wait for anything but the next call on the connection:
// the rest of the same response follows at once (bufio writes a full buffer
// only when more is coming, and a head longer than the buffer is followed
// by its body), and an answer that happens to end on a buffer boundary
// (or a head-only answer with a long head) goes out at the next Read,
// SetReadDeadline (fasthttp sets the idle deadline before every next
// request, pipelined or not) or Close.

// heldCap sizes the pooled buffers held writes are copied into: room to
// put a held buffer and the rest of a typical page into one TLS record.
const heldCap = 16 << 10

var heldPool = sync.Pool{New: func() any {
	b := make([]byte, 0, heldCap)
	return &b
}}

// holdUpTo bounds the writes held back beyond a full write buffer: bufio
// passes a write larger than its buffer straight through when it holds
// nothing, which is how a response head longer than writeBufferSize (an
// origin's CSP, Link and Set-Cookie fields) reaches the connection, and the
// body follows at once. Held, head and body go out in one writev.
const holdUpTo = 4 << 10

// write sends p, or holds it back when it is a full write buffer (or a
// response head longer than one, see holdUpTo).
func (c *guardConn) write(p []byte) (int, error) {
	if c.held == nil {
		if len(p) < writeBufferSize || len(p) > holdUpTo {
			if err := c.applyWriteDeadline(); err != nil {
				return 0, err
			}
			return c.Conn.Write(p)
		}
		// A copy: bufio reuses its buffer for the rest of the response.
		h := heldPool.Get().(*[]byte)
		*h = append((*h)[:0], p...)
		c.held = h
		return len(p), nil
	}
	if err := c.flushHeld(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flushHeld sends the held bytes followed by more (which may be empty).
func (c *guardConn) flushHeld(more []byte) error {
	h := c.held
	c.held = nil
	defer heldPool.Put(h)
	if err := c.applyWriteDeadline(); err != nil {
		return err
	}
	held := *h
	switch {
	case len(more) == 0:
		_, err := c.Conn.Write(held)
		return err
	case c.raw != nil:
		_, err := c.raw.writev(held, more)
		return err
	case c.vectored:
		c.vec[0], c.vec[1] = held, more
		c.bufs = c.vec[:]
		_, err := c.bufs.WriteTo(c.Conn)
		c.vec[0], c.vec[1], c.bufs = nil, nil, nil // hold no response bytes
		return err
	case len(held)+len(more) <= cap(held):
		b := append(held, more...)
		*h = b[:0]
		_, err := c.Conn.Write(b)
		return err
	}
	if _, err := c.Conn.Write(held); err != nil {
		return err
	}
	_, err := c.Conn.Write(more)
	return err
}

// flush sends held bytes, if any, before the connection is read or closed.
func (c *guardConn) flush() error {
	if c.held == nil {
		return nil
	}
	return c.flushHeld(nil)
}

func (c *guardConn) SetReadDeadline(t time.Time) error {
	if err := c.flush(); err != nil {
		return err
	}
	if c.raw != nil {
		c.rdl = t // applied before the next read (connstate.go)
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *guardConn) SetWriteDeadline(t time.Time) error {
	if c.raw != nil {
		c.wdl = t // applied before the next write (connstate.go)
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *guardConn) SetDeadline(t time.Time) error {
	if err := c.flush(); err != nil {
		return err
	}
	if c.raw != nil {
		c.rdl, c.wdl = t, t
		return nil
	}
	return c.Conn.SetDeadline(t)
}

func (c *guardConn) Close() error {
	c.flush() // best effort: the peer may be gone, and Close must still close
	err := c.Conn.Close()
	c.reclaim()
	return err
}

// vectored reports whether net.Buffers writes to c with one writev.
func vectored(c net.Conn) bool {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
		return true
	}
	return false
}
