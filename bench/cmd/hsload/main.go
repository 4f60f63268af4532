// Command hsload measures new TLS connections per second against a server:
// each of -c workers dials, shakes hands, sends one GET with
// Connection: close, reads the answer to the end and starts again, for -d.
// With -resume each worker keeps a session cache, so every handshake after
// its first resumes (TLS 1.3 PSK with a fresh X25519 exchange). It offers
// one key exchange group (-group, X25519 by default) so that servers whose
// defaults differ (Go's X25519MLKEM768, OpenSSL 3.0's X25519) are measured
// on the same key exchange, and it does not verify the certificate chain,
// which would only add client work (the server's signature is still
// checked, as part of the handshake).
//
//	hsload -addr 127.0.0.1:18243 -sni shop.example -c 32 -d 10s [-resume]
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18243", "server address")
	sni := flag.String("sni", "shop.example", "server name (SNI and Host)")
	path := flag.String("path", "/.well-known/awning/health", "path to GET on each connection")
	conc := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "duration")
	resume := flag.Bool("resume", false, "resume sessions (after each worker's first handshake)")
	group := flag.String("group", "x25519", "key exchange group: x25519 or p256")
	flag.Parse()
	curve := tls.X25519
	if *group == "p256" {
		curve = tls.CurveP256
	}
	req := []byte("GET " + *path + " HTTP/1.1\r\nHost: " + *sni + "\r\nConnection: close\r\n\r\n")
	var ok, resumed, failed atomic.Uint64
	var firstErr atomic.Value
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := &tls.Config{
				ServerName:         *sni,
				InsecureSkipVerify: true,
				MinVersion:         tls.VersionTLS13,
				CurvePreferences:   []tls.CurveID{curve},
				NextProtos:         []string{"http/1.1"},
			}
			if *resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			for time.Now().Before(deadline) {
				did, err := once(*addr, cfg, req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ok.Add(1)
				if did {
					resumed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("connections: %d\nresumed: %d\nfailed: %d\nseconds: %.2f\nhandshakes/s: %.1f\n",
		ok.Load(), resumed.Load(), failed.Load(), el, float64(ok.Load())/el)
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Fprintln(os.Stderr, "first error:", err)
	}
	if ok.Load() == 0 {
		log.Fatal("no connection succeeded")
	}
}

// once makes one connection and reports whether its session resumed.
func once(addr string, cfg *tls.Config, req []byte) (bool, error) {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, err
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(raw, cfg)
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		return false, err
	}
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil {
		return false, err
	}
	if len(status) < 12 || status[9] != '2' {
		return false, fmt.Errorf("status line %q", status)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return false, err
	}
	return c.ConnectionState().DidResume, nil
}
