//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// connAlive peeks at an idle connection without blocking or consuming: an
// idle HTTP/1.1 connection has nothing to read, so data, EOF or an error
// mean the origin is done with it. (A read deadline in the past cannot do
// this: Go's poller fails such a read without looking at the socket.)
func connAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait for readability
	})
	return err == nil && alive
}
