//go:build unix && !linux

package proxy

import "syscall"

// peekFD reads what fd holds without consuming it or waiting.
func peekFD(fd uintptr, buf []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
