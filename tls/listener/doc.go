// Package listener terminates TLS for Awning's shopper-facing listener: it
// holds the TLS defaults (versions, suites, ALPN) and a net.Listener that
// completes each handshake before handing the connection on, within a
// deadline and a bound on concurrent handshakes.
//
// Why handshakes happen here and not lazily in the HTTP server: a TLS storm
// (an incident behind Awning: HTTPS visitors waiting seconds or dropped
// because a server's accept queue was tiny) is a CPU storm. The Listener
// keeps draining the kernel's accept queue into a bounded queue of its own
// and runs at most MaxHandshakes at once, so handshakes in progress finish
// quickly instead of all of them crawling together past their timeout.
// A connection that waited or shook hands longer than HandshakeTimeout is
// closed; only when the queue is full does the kernel queue take the
// overflow. The HTTP server then sees only connections with a finished
// handshake, as *tls.Conn, so request handling still knows it is TLS.
//
// Certificate selection is not this package's business: the tls.Config
// comes from ServerConfig with a GetCertificate from tls/certs.
package listener
