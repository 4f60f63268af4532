package listener

import "crypto/tls"

// ACMETLS1 is the ALPN protocol of ACME's TLS-ALPN-01 challenge (RFC 8737).
const ACMETLS1 = "acme-tls/1"

// ALPN protocols of HTTP (RFC 9113 §3.2, RFC 9112).
const (
	H2     = "h2"
	HTTP11 = "http/1.1"
)

// NextProtos is what the listener offers in ALPN, in the server's order of
// preference (crypto/tls picks the first the client also offers): h2, then
// http/1.1. A connection that agreed on h2 is handed to HTTP2's listener,
// every other one to Accept. acme-tls/1 must be listed for TLS-ALPN-01
// validation, but on its own (as certmagic's TLSConfig sets it) it makes
// every browser handshake fail: browsers offer h2 and http/1.1, and find no
// protocol in common.
var NextProtos = []string{H2, HTTP11, ACMETLS1}

// cipherSuites are the TLS 1.2 suites offered: forward secret AEADs only,
// for ECDSA certificates first and RSA ones (a certificate given for a
// benchmark may be RSA). TLS 1.3 suites are not configurable in crypto/tls
// and are all modern.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerConfig returns Awning's server TLS configuration with getCert
// choosing the certificate: TLS 1.2 and 1.3, the suites above, ALPN
// NextProtos. Key exchange uses crypto/tls's defaults (X25519MLKEM768,
// X25519, P-256). Session tickets are on; tls/tickets may set shared keys.
func ServerConfig(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		GetCertificate: getCert,
		MinVersion:     tls.VersionTLS12,
		MaxVersion:     tls.VersionTLS13,
		CipherSuites:   cipherSuites,
		NextProtos:     append([]string(nil), NextProtos...),
	}
}
