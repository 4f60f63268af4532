package node

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// listenUDP opens the UDP sockets of listen.http3, as listen does the TCP
// ones: "localhost:port" on every loopback address, SO_REUSEPORT with
// reusePort (so an upgrade's new process can bind while the old one
// drains; QUIC connections whose packets the kernel then hands to the new
// process are reset and their browsers carry on over TCP).
func listenUDP(addr string, reusePort bool) ([]net.PacketConn, error) {
	lc := net.ListenConfig{}
	if reusePort {
		lc.Control = setReusePort
	}
	one := func(a string) (net.PacketConn, error) { return lc.ListenPacket(context.Background(), "udp", a) }
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != "localhost" {
		pc, err := one(addr)
		if err != nil {
			return nil, err
		}
		return []net.PacketConn{pc}, nil
	}
	pc4, err := one(net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, err
	}
	if port == "0" {
		return []net.PacketConn{pc4}, nil
	}
	pc6, err := one(net.JoinHostPort("::1", port))
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) {
			return []net.PacketConn{pc4}, nil
		}
		pc4.Close()
		return nil, err
	}
	return []net.PacketConn{pc4, pc6}, nil
}

// startHTTP3 serves HTTP/3 on pcs with the HTTPS listener's certificates,
// and has HTTPS answers advertise it.
func (n *Node) startHTTP3(pcs []net.PacketConn, serve func(name string, f func() error)) {
	if len(pcs) == 0 {
		return
	}
	conf := n.tlsConf.Clone()
	conf.MinVersion = tls.VersionTLS13 // QUIC is TLS 1.3 only (RFC 9001 §4.2)
	if n.tickets != nil {
		n.tickets.Attach(conf) // sessions resume across nodes over QUIC too
	}
	n.proxy.EnableHTTP3(conf, pcs[0].LocalAddr().(*net.UDPAddr).Port, n.Config())
	for _, pc := range pcs {
		n.addrs.HTTP3 = append(n.addrs.HTTP3, pc.LocalAddr().String())
		serve(pc.LocalAddr().String(), func() error { return n.proxy.ServeHTTP3(pc) })
	}
}

func closePackets(pcs []net.PacketConn) {
	for _, pc := range pcs {
		pc.Close()
	}
}
