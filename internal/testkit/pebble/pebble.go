package pebble

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/letsencrypt/challtestsrv"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// CA is a running Pebble.
type CA struct {
	// URL is the ACME directory URL (tls.ca).
	URL string
	// RootFile is a PEM file of the certificate of the directory's own
	// HTTPS server (tls.ca_root).
	RootFile string
	// DNS answers the validation authority's lookups: every name resolves
	// to 127.0.0.1 unless a test says otherwise; there are no AAAA answers,
	// so validation never dials ::1.
	DNS *challtestsrv.ChallSrv

	t    testing.TB
	db   *db.MemoryStore
	ca   *ca.CAImpl
	srv  *httptest.Server
	logs *orderLog
	stop sync.Once
}

// Start runs Pebble with its validation authority checking HTTP-01 on
// httpPort and TLS-ALPN-01 on tlsPort of 127.0.0.1 (Awning's listeners in
// the test), never the privileged 80 and 443. It is stopped with the test.
func Start(t testing.TB, httpPort, tlsPort int) *CA {
	t.Helper()
	// Validate at once instead of sleeping up to 15s, and never reject a
	// good nonce (Pebble's default rejects 5%, to test clients' retries).
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")

	dnsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testkit.FreePort(t)))
	chall, err := challtestsrv.New(challtestsrv.Config{DNSAddrs: []string{dnsAddr}, Log: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatalf("pebble: challtestsrv: %v", err)
	}
	chall.SetDefaultDNSIPv4("127.0.0.1")
	chall.SetDefaultDNSIPv6("")
	chall.Run()
	waitDNS(t, dnsAddr)

	logs := &orderLog{}
	logger := log.New(logs, "pebble ", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	srv := httptest.NewUnstartedServer(front.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()

	rootFile := filepath.Join(t.TempDir(), "pebble-wfe.pem")
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &CA{
		URL: srv.URL + wfe.DirectoryPath, RootFile: rootFile, DNS: chall,
		t: t, db: store, ca: authority, srv: srv, logs: logs,
	}
	t.Cleanup(func() {
		c.Stop()
		chall.Shutdown()
	})
	return c
}

func waitDNS(t testing.TB, addr string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("probe.test.", dns.TypeA)
	client := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, err := client.Exchange(m, addr); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pebble: DNS server on %s did not answer within 10s", addr)
}

// Stop takes the CA down, as a CA outage does: the directory stops
// answering.
func (c *CA) Stop() {
	c.stop.Do(func() {
		c.srv.CloseClientConnections()
		c.srv.Close()
	})
}

// Roots returns Pebble's issuing root, to verify the chains it issued.
func (c *CA) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.ca.GetRootCert(0).Cert)
	return p
}

// Order is what Pebble's database holds of one order.
type Order struct {
	ID    string
	Names []string
	// Validated maps each name to the challenge type that validated it
	// ("" when none did).
	Validated map[string]string
	Status    string
}

// Orders returns every order placed with Pebble, from its own database,
// in the order they were placed.
func (c *CA) Orders() []Order {
	var out []Order
	for _, id := range c.logs.ids() {
		o := c.db.GetOrderByID(id)
		if o == nil {
			c.t.Fatalf("pebble: order %s was logged but is not in the database", id)
		}
		status, _ := o.GetStatus()
		o.RLock()
		ord := Order{ID: id, Validated: map[string]string{}, Status: status}
		for _, ident := range o.Identifiers {
			ord.Names = append(ord.Names, ident.Value)
		}
		authzs := o.AuthorizationObjects
		o.RUnlock()
		for _, a := range authzs {
			a.RLock()
			name := a.Identifier.Value
			ord.Validated[name] = ""
			for _, ch := range a.Challenges {
				ch.RLock()
				if ch.Status == "valid" {
					ord.Validated[name] = ch.Type
				}
				ch.RUnlock()
			}
			a.RUnlock()
		}
		sort.Strings(ord.Names)
		out = append(out, ord)
	}
	return out
}

// OrdersFor returns the orders that name a host.
func (c *CA) OrdersFor(host string) []Order {
	var out []Order
	for _, o := range c.Orders() {
		for _, n := range o.Names {
			if n == host {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// Certificates counts the certificates Pebble issued, from its database.
func (c *CA) Certificates() int {
	n := 0
	for _, o := range c.Orders() {
		o := c.db.GetOrderByID(o.ID)
		o.RLock()
		if o.CertificateObject != nil {
			n++
		}
		o.RUnlock()
	}
	return n
}

// orderLog reads Pebble's log for the IDs of orders added to its database
// ("Added order %q to the db"): the database has no listing of its own.
type orderLog struct {
	mu      sync.Mutex
	partial []byte
	orders  []string
}

var reAdded = regexp.MustCompile(`Added order "([^"]+)" to the db`)

func (l *orderLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if m := reAdded.FindStringSubmatch(line); m != nil {
			l.orders = append(l.orders, m[1])
		}
		if os.Getenv("PEBBLE_LOG") != "" { // to watch Pebble while debugging a test
			fmt.Fprintln(os.Stderr, line)
		}
	}
	l.partial = append([]byte(nil), l.partial...)
	return len(p), nil
}

func (l *orderLog) ids() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.orders...)
}
