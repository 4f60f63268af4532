//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// peeker checks without blocking or consuming whether the origin closed an
// idle connection: an idle HTTP/1.1 connection has nothing to read, so data,
// EOF or an error mean the origin is done with it. It looks at the socket
// through RawConn.Control, not RawConn.Read: Read first checks the
// connection's read deadline, and an idle connection's deadline is the one
// its last exchange left, long past after a quiet spell, so every connection
// idle longer than an exchange would look closed. It is built once per
// connection so the check allocates nothing.
type peeker struct {
	raw   syscall.RawConn
	fn    func(fd uintptr)
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
	p.fn = func(fd uintptr) {
		_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		p.alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	}
	return p
}

func (p *peeker) check() bool {
	if p == nil {
		return true
	}
	p.alive = false
	return p.raw.Control(p.fn) == nil && p.alive
}
