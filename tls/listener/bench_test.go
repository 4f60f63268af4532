package listener

import (
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkHandshake measures handshakes per second through the Listener on
// loopback, client and server in one process (so the figure counts both
// sides' CPU): full handshakes (ECDSA P-256 signature, X25519MLKEM768 key
// exchange) and resumed ones (a session ticket, no certificate sent).
// Each operation is dial, handshake, one read, close.
func BenchmarkHandshake(b *testing.B) {
	for _, bc := range []struct {
		name    string
		resume  bool
		version uint16
	}{
		{"full/TLS1.3", false, tls.VersionTLS13},
		{"resumed/TLS1.3", true, tls.VersionTLS13},
		{"full/TLS1.2", false, tls.VersionTLS12},
		{"resumed/TLS1.2", true, tls.VersionTLS12},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, Options{}, nil)
			b.ReportAllocs()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				cfg := &tls.Config{ServerName: "shop.example", RootCAs: f.pool, MinVersion: bc.version, MaxVersion: bc.version}
				if bc.resume {
					cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
					handshake(b, f.addr, cfg) // warm the cache
				}
				for pb.Next() {
					if resumed := handshake(b, f.addr, cfg); resumed != bc.resume {
						b.Fatalf("DidResume = %v; want %v", resumed, bc.resume)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "handshakes/s")
		})
	}
}

func handshake(b *testing.B, addr string, cfg *tls.Config) bool {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c := tls.Client(raw, cfg)
	defer c.Close()
	if _, err := io.ReadAll(c); err != nil {
		b.Fatal(err)
	}
	return c.ConnectionState().DidResume
}
