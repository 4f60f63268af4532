//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// peeker looks, without blocking or consuming, at what an idle connection
// holds: an idle HTTP/1.1 connection has nothing to read, so bytes mean
// the origin sent what no request asked for, and an end or an error that
// it is done with it. It looks at the socket through RawConn.Control, not
// RawConn.Read: Read first checks the connection's read deadline, and an
// idle connection's deadline is the one its last exchange left, long past
// after a quiet spell, so every connection idle longer than an exchange
// would look closed. It is built once per connection so the check
// allocates nothing.
type peeker struct {
	raw   syscall.RawConn
	fn    func(fd uintptr)
	state idleState
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
		switch n, err := peekFD(fd, p.buf[:]); {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			p.state = idleQuiet
		case err == nil && n > 0:
			p.state = idleBytes
		default:
			p.state = idleClosed
		}
	}
	return p
}

// check says what the connection holds; idleQuiet where it cannot look.
func (p *peeker) check() idleState {
	if p == nil {
		return idleQuiet
	}
	p.state = idleClosed
	if p.raw.Control(p.fn) != nil {
		return idleClosed
	}
	return p.state
}
