//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package node

import (
	"errors"
	"syscall"
)

func setReusePort(network, address string, c syscall.RawConn) error {
	return errors.New("SO_REUSEPORT is not available on this system; set listen.reuse_port: false")
}
