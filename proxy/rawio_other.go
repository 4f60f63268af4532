//go:build !linux

package proxy

import "net"

// rawTCP makes its system calls through Go's net package on this platform
// (see rawio_linux.go): newRawTCP returns nil.
type rawTCP struct{ net.Conn }

func newRawTCP(net.Conn) *rawTCP { return nil }

func (r *rawTCP) writev(a, b []byte) (int, error) {
	bufs := net.Buffers{a, b}
	n, err := bufs.WriteTo(r.Conn)
	return int(n), err
}

func (r *rawTCP) writevNow(a, b []byte) (int, error) { return r.writev(a, b) }
