//go:build linux

package proxy

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawTCP is a TCP connection whose reads and writes make their system
// calls without telling the Go scheduler (syscall.RawSyscall), through the
// connection's RawConn, which keeps Go's locking, deadlines and
// netpoller wait. A read or write on a non-blocking socket never blocks:
// when nothing can be read or sent it returns EAGAIN at once, and RawConn
// waits in the netpoller as net.Conn does. What it saves is the
// scheduler's bookkeeping around every call (entersyscall/exitsyscall) and,
// worse, what a busy single-core server pays when a call outlasts a
// sysmon tick: the processor is handed to another thread and taken back,
// two context switches per such call. A proxy makes six calls a request;
// on a loopback they take microseconds, and under load some take longer
// than the tick. It is what nginx and HAProxy's event loops do: plain
// non-blocking system calls.
type rawTCP struct {
	*net.TCPConn
	rc syscall.RawConn
	// Arguments and results of the call in progress, and the calls
	// themselves, bound once so that a call allocates nothing. A
	// connection is read by one goroutine and written by one at a time.
	rp, wp         []byte
	rn, wn         int
	rerr, werr     syscall.Errno
	readFn, wrFn   func(fd uintptr) bool
	wvFn           func(fd uintptr) bool
	iov            [2]syscall.Iovec
	iovN, iovTotal int
	// nowait: a writev returns what the socket took at once rather than
	// waiting for room (writevNow).
	nowait bool
}

// newRawTCP wraps c, or returns nil when c is not a TCP connection whose
// descriptor can be reached.
func newRawTCP(c net.Conn) *rawTCP {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawTCP{TCPConn: tc, rc: rc}
	r.readFn = r.readOnce
	r.wrFn = r.writeOnce
	r.wvFn = r.writevOnce
	return r
}

// peekFD reads what fd holds without consuming it or waiting, without
// telling the scheduler (see rawTCP): every reused origin connection is
// looked at so before a request goes on it (peeker).
func peekFD(fd uintptr, buf []byte) (int, error) {
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return 0, e
		}
		return int(n), nil
	}
}

func (r *rawTCP) readOnce(fd uintptr) bool {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.rp[0])), uintptr(len(r.rp)))
	switch e {
	case syscall.EAGAIN:
		return false
	case syscall.EINTR:
		return r.readOnce(fd)
	}
	r.rn, r.rerr = int(n), e
	return true
}

func (r *rawTCP) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rp, r.rn, r.rerr = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.rp = nil
	switch {
	case err != nil:
		return 0, err
	case r.rerr != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: r.rerr}
	case r.rn == 0:
		return 0, io.EOF
	}
	return r.rn, nil
}

func (r *rawTCP) writeOnce(fd uintptr) bool {
	for r.wn < len(r.wp) {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.wp[r.wn])), uintptr(len(r.wp)-r.wn))
		switch e {
		case 0:
			r.wn += int(n)
		case syscall.EAGAIN:
			return false
		case syscall.EINTR:
		default:
			r.werr = e
			return true
		}
	}
	return true
}

func (r *rawTCP) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.wp, r.wn, r.werr = p, 0, 0
	err := r.rc.Write(r.wrFn)
	r.wp = nil
	return r.wn, r.writeErr(err)
}

func (r *rawTCP) writeErr(err error) error {
	switch {
	case err != nil:
		return err
	case r.werr != 0:
		return &net.OpError{Op: "write", Net: "tcp", Source: r.LocalAddr(), Addr: r.RemoteAddr(), Err: r.werr}
	}
	return nil
}

// writevNow sends what the socket takes of a and then b now, without
// waiting for room, and returns how many bytes went out: a body the socket
// has no room for is written on with its exchange watching for an early
// answer (originearly.go).
func (r *rawTCP) writevNow(a, b []byte) (int, error) {
	r.nowait = true
	n, err := r.writev(a, b)
	r.nowait = false
	return n, err
}

// writev sends a and then b with one system call where the socket takes
// them at once (writev), and returns how many bytes went out.
func (r *rawTCP) writev(a, b []byte) (int, error) {
	r.iov[0] = syscall.Iovec{Base: unsafe.SliceData(a)}
	r.iov[0].SetLen(len(a))
	r.iov[1] = syscall.Iovec{Base: unsafe.SliceData(b)}
	r.iov[1].SetLen(len(b))
	r.iovN, r.iovTotal, r.wn, r.werr = 0, len(a)+len(b), 0, 0
	r.wp = b // keeps b (and a, through iov) reachable during the call
	err := r.rc.Write(r.wvFn)
	r.wp = nil
	r.iov = [2]syscall.Iovec{}
	return r.wn, r.writeErr(err)
}

func (r *rawTCP) writevOnce(fd uintptr) bool {
	for r.wn < r.iovTotal {
		iov := r.iov[r.iovN:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		switch e {
		case 0:
		case syscall.EAGAIN:
			return r.nowait
		case syscall.EINTR:
			continue
		default:
			r.werr = e
			return true
		}
		r.wn += int(n)
		// Advance past what went out.
		for left := int(n); left > 0 && r.iovN < len(r.iov); {
			v := &r.iov[r.iovN]
			if l := int(v.Len); left >= l {
				left -= l
				r.iovN++
				continue
			}
			v.Base = (*byte)(unsafe.Add(unsafe.Pointer(v.Base), left))
			v.SetLen(int(v.Len) - left)
			left = 0
		}
	}
	return true
}
