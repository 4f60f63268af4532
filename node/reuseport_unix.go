//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package node

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setReusePort sets SO_REUSEPORT on a socket before it is bound. Linux then
// lets every process of the same user bind the port and spreads new
// connections over their listeners; closing one hands the rest to the
// others.
func setReusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
