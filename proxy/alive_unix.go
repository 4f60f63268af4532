//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// peeker checks without blocking or consuming whether the origin closed an
// idle connection: an idle HTTP/1.1 connection has nothing to read, so data,
// EOF or an error mean the origin is done with it. (A read deadline in the
// past cannot do this: Go's poller fails such a read without looking at the
// socket.) It is built once per connection so the check allocates nothing.
type peeker struct {
	raw   syscall.RawConn
	fn    func(fd uintptr) bool
	alive bool
	buf   [1]byte
}

func newPeeker(c net.Conn) *peeker {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &peeker{raw: raw}
	p.fn = func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		p.alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait for readability
	}
	return p
}

func (p *peeker) check() bool {
	if p == nil {
		return true
	}
	p.alive = false
	return p.raw.Read(p.fn) == nil && p.alive
}
