package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
)

// listen opens the listeners for addr. "localhost:port" listens on every
// loopback address (127.0.0.1 and, where the host has IPv6, ::1), because
// browsers and curl resolve localhost to ::1 first. With reusePort, each
// socket is bound with SO_REUSEPORT, so a new process can bind while this
// one serves (listen.reuse_port).
func listen(addr string, reusePort bool) ([]net.Listener, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = setReusePort
	}
	one := func(a string) (net.Listener, error) { return lc.Listen(context.Background(), "tcp", a) }
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != "localhost" {
		ln, err := one(addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		return []net.Listener{ln}, nil
	}
	ln4, err := one(net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if port == "0" {
		return []net.Listener{ln4}, nil // two loopbacks would get two different ports
	}
	ln6, err := one(net.JoinHostPort("::1", port))
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) {
			return []net.Listener{ln4}, nil // no IPv6 loopback on this host
		}
		ln4.Close()
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return []net.Listener{ln4, ln6}, nil
}
