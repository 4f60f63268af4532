package certs

import (
	"crypto/tls"
	"net"

	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/tls/listener"
)

// GetCertificate is the tls.Config callback: the certificate for the
// handshake's server name, or for the address dialled when the client sent
// no name (https://127.0.0.1/ in self-signed mode). A name no site claims
// is refused before anything else is looked at.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name, ok := serverName(hello)
	if !ok || m.reg.Load().LookupString(name) == nil {
		m.c.refused.Add(1)
		return nil, errUnknownName
	}
	if m.mode == "self-signed" {
		return m.leaf(name)
	}
	a := m.acme.Load()
	if a == nil {
		return nil, errClosed
	}
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == listener.ACMETLS1 {
		return a.magic.GetCertificate(hello) // the TLS-ALPN-01 challenge certificate
	}
	if cert, err := a.magic.GetCertificate(hello); err == nil {
		return cert, nil // from memory; certmagic never reads storage here
	}
	upfront, err := m.decide(name)
	if err != nil {
		return nil, err
	}
	select {
	case r := <-m.ensureAsync(name, !upfront):
		if r.Err != nil {
			return nil, r.Err
		}
	case <-hello.Context().Done():
		// The issuance carries on; a later handshake will find it.
		return nil, hello.Context().Err()
	}
	return a.magic.GetCertificate(hello)
}

// serverName is the canonical name a handshake asks for.
func serverName(hello *tls.ClientHelloInfo) (string, bool) {
	var buf [sites.MaxHostLen + 8]byte
	if hello.ServerName != "" {
		c, ok := sites.AppendCanonical(buf[:0], []byte(hello.ServerName))
		return string(c), ok
	}
	if hello.Conn == nil {
		return "", false
	}
	host, _, err := net.SplitHostPort(hello.Conn.LocalAddr().String())
	if err != nil {
		return "", false
	}
	c, ok := sites.AppendCanonical(buf[:0], []byte(host))
	return string(c), ok
}
