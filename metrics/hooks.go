package metrics

import "time"

// TLSStats is what the HTTPS side of a node reports, read at every scrape
// through Options.TLS. The TLS code keeps these as its own counters (the
// listener counts handshakes, the certificate manager issuances); the node
// adds them up into one TLSStats.
type TLSStats struct {
	// Handshakes completed with a full handshake, and with a resumed
	// session.
	FullHandshakes, ResumedHandshakes uint64
	// HandshakeFailures failed for any reason but the deadline (a bad
	// client, no certificate for the name); HandshakeTimeouts ran out of
	// time, waiting for a slot or shaking hands.
	HandshakeFailures, HandshakeTimeouts uint64
	// HandshakesInProgress are running now; HandshakesWaiting were accepted
	// and wait for a handshake slot (tls.max_handshakes): the TLS storm
	// gauge.
	HandshakesInProgress, HandshakesWaiting int64

	// CertificatesObtained and CertificatesRenewed count issuances.
	CertificatesObtained, CertificatesRenewed uint64
	// ACMEErrors counts failed issuances and renewals.
	ACMEErrors uint64
	// Handshakes refused without a certificate: the name belongs to no site
	// (UnknownHost), on-demand issuance is over its rate (RateLimited), or
	// the name's last issuance failed recently (BackedOff).
	UnknownHost, RateLimited, BackedOff uint64

	// Certificates are the certificates being served.
	Certificates []Certificate
}

// Certificate is one certificate being served.
type Certificate struct {
	// Name is the host name it is for; metrics report it by the site that
	// serves that host.
	Name     string
	NotAfter time.Time
}

// NodeStats is what the node itself counts.
type NodeStats struct {
	// Reloads and ReloadErrors count SIGHUP reloads that took effect and
	// that were refused.
	Reloads, ReloadErrors uint64
	// LastConfig is when the configuration in force was loaded.
	LastConfig time.Time
}
