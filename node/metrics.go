package node

import (
	"time"

	"github.com/awningproxy/awning/metrics"
)

// newMetrics builds the node's metrics; the admin listener serves them at
// GET /metrics.
func (n *Node) newMetrics(version string) error {
	opt := metrics.Options{
		Proxy:   n.proxy,
		Redis:   n.redis,
		State:   n.state.Stats,
		Webhook: n.webhookCounts,
		Node:    n.nodeStats,
		Version: version,
		Log:     n.log,
	}
	if n.certs != nil {
		opt.TLS = n.tlsStats
	}
	m, err := metrics.New(opt)
	if err != nil {
		return err
	}
	n.metrics = m
	return nil
}

// webhookCounts reads the counters of the webhook in force. A reload may
// replace the webhook (a new URL); reloadMu keeps the read off a half-done
// swap.
func (n *Node) webhookCounts() (sent, failed, dropped uint64, ok bool) {
	n.reloadMu.Lock()
	w := n.webhook
	n.reloadMu.Unlock()
	if w == nil {
		return 0, 0, 0, false
	}
	sent, failed, dropped = w.Counts()
	return sent, failed, dropped, true
}

func (n *Node) nodeStats() metrics.NodeStats {
	return metrics.NodeStats{
		Reloads:      n.reloads.Load(),
		ReloadErrors: n.reloadErrors.Load(),
		LastConfig:   time.Unix(0, n.loadedAt.Load()),
	}
}

// tlsStats gathers the HTTPS counters for metrics: the listeners'
// handshakes and the certificate manager's issuances and certificates.
func (n *Node) tlsStats() metrics.TLSStats {
	hs := n.HandshakeStats()
	cs := n.certs.Stats()
	t := metrics.TLSStats{
		FullHandshakes:       sub(hs.Handshakes, hs.Resumed),
		ResumedHandshakes:    hs.Resumed,
		HandshakeFailures:    sub(hs.Failed, hs.TimedOut),
		HandshakeTimeouts:    hs.TimedOut,
		HandshakesInProgress: hs.InProgress,
		HandshakesWaiting:    hs.Waiting,
		CertificatesObtained: cs.Obtained,
		CertificatesRenewed:  cs.Renewed,
		ACMEErrors:           cs.Failed,
		UnknownHost:          cs.Refused,
		RateLimited:          cs.Limited,
		BackedOff:            cs.BackedOff,
	}
	for _, c := range n.certs.Certificates() {
		t.Certificates = append(t.Certificates, metrics.Certificate{Name: c.Name, NotAfter: c.NotAfter})
	}
	return t
}

// sub is a - b, or 0: two counters read one after the other may be a tick
// apart.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
