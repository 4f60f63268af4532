package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/tls/localca"
)

// fixture is a Listener on loopback with a certificate for shop.example
// from a local CA, serving each connection from Accept two bytes ("ok") and
// each from HTTP2's listener "h2", then EOF.
type fixture struct {
	ln   *Listener
	addr string
	pool *x509.CertPool
	cfg  *tls.Config
}

func newFixture(t testing.TB, opt Options, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *fixture {
	t.Helper()
	ca, err := localca.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Leaf("shop.example")
	if err != nil {
		t.Fatal(err)
	}
	if getCert == nil {
		getCert = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
	}
	opt.TLS = ServerConfig(getCert)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ln: New(inner, opt), addr: inner.Addr().String(), pool: ca.Pool(), cfg: opt.TLS}
	var wg sync.WaitGroup
	serve := func(ln net.Listener, answer string) {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if _, ok := c.(*tls.Conn); !ok {
				t.Errorf("Accept returned %T; want *tls.Conn", c)
			}
			c.Write([]byte(answer))
			c.Close()
		}
	}
	wg.Add(2)
	go serve(f.ln, "ok")
	go serve(f.ln.HTTP2(), "h2")
	t.Cleanup(func() {
		f.ln.Close()
		wg.Wait()
	})
	return f
}

func (f *fixture) dial(t testing.TB, protos []string, cache tls.ClientSessionCache) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", f.addr, &tls.Config{
		ServerName: "shop.example", RootCAs: f.pool, NextProtos: protos, ClientSessionCache: cache,
	})
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, nil
}

func TestALPN(t *testing.T) {
	f := newFixture(t, Options{}, nil)
	tests := []struct {
		name  string
		offer []string
		want  string
		by    string // which listener served it: "ok" Accept, "h2" HTTP2, "" none
	}{
		{"browser offering h2 and http/1.1", []string{"h2", "http/1.1"}, "h2", "h2"},
		{"client preferring http/1.1", []string{"http/1.1", "h2"}, "h2", "h2"},
		{"http/1.1 only", []string{"http/1.1"}, "http/1.1", "ok"},
		{"h2 only", []string{"h2"}, "h2", "h2"},
		{"no ALPN", nil, "", "ok"},
		{"ACME TLS-ALPN-01 validation", []string{ACMETLS1}, ACMETLS1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.dial(t, tt.offer, nil)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer c.Close()
			if got := c.ConnectionState().NegotiatedProtocol; got != tt.want {
				t.Errorf("negotiated %q; want %q", got, tt.want)
			}
			b, _ := io.ReadAll(c)
			if string(b) != tt.by {
				t.Errorf("served %q; want %q", b, tt.by)
			}
		})
	}
	testkit.WaitFor(t, 10*time.Second, "5 handshakes (3 h2) and 1 challenge counted", func() bool {
		st := f.ln.Stats()
		return st.Challenges == 1 && st.Handshakes == 5 && st.HTTP2 == 3
	})
}

func TestVersionsAndKeys(t *testing.T) {
	f := newFixture(t, Options{}, nil)
	d := &net.Dialer{Timeout: 5 * time.Second}
	_, err := tls.DialWithDialer(d, "tcp", f.addr, &tls.Config{ServerName: "shop.example", RootCAs: f.pool, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Error("a TLS 1.1 client completed a handshake; want TLS 1.2 at least")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c, err := tls.DialWithDialer(d, "tcp", f.addr, &tls.Config{ServerName: "shop.example", RootCAs: f.pool, MinVersion: v, MaxVersion: v})
		if err != nil {
			t.Fatalf("version %x: %v", v, err)
		}
		if st := c.ConnectionState(); st.PeerCertificates[0].PublicKeyAlgorithm != x509.ECDSA {
			t.Errorf("key algorithm %v; want ECDSA", st.PeerCertificates[0].PublicKeyAlgorithm)
		}
		c.Close()
	}
}

// TestHandshakeTimeout connects and says nothing: the connection is closed
// at the deadline and never reaches Accept.
func TestHandshakeTimeout(t *testing.T) {
	f := newFixture(t, Options{HandshakeTimeout: 200 * time.Millisecond}, nil)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from a connection that never shook hands")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the listener did not close the silent connection")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %s; want about the 200ms deadline", d)
	}
	testkit.WaitFor(t, 10*time.Second, "one timed-out failure counted", func() bool {
		st := f.ln.Stats()
		return st.TimedOut == 1 && st.Failed == 1 && st.Handshakes == 0
	})
}

// TestConcurrencyIsBounded holds every certificate lookup until released:
// at most MaxHandshakes run at once, the rest wait in the queue, and all of
// them finish once released.
func TestConcurrencyIsBounded(t *testing.T) {
	const max, clients = 2, 6
	var running, peak atomic.Int32
	release := make(chan struct{})
	var cert *tls.Certificate
	f := newFixture(t, Options{MaxHandshakes: max}, func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		return cert, nil
	})
	ca, _ := localca.Open(t.TempDir(), nil)
	cert, _ = ca.Leaf("shop.example")
	f.pool.AddCert(ca.Certificate())

	errs := make(chan error, clients)
	for range clients {
		go func() {
			c, err := f.dial(t, nil, nil)
			if err == nil {
				c.Close()
			}
			errs <- err
		}()
	}
	testkit.WaitFor(t, 10*time.Second, "the queue to fill", func() bool {
		st := f.ln.Stats()
		return st.InProgress == max && st.Waiting == clients-max
	})
	time.Sleep(50 * time.Millisecond) // would a third handshake sneak in?
	if p := peak.Load(); p != max {
		t.Errorf("peak concurrent handshakes = %d; want %d", p, max)
	}
	close(release)
	for range clients {
		if err := <-errs; err != nil {
			t.Errorf("queued handshake: %v", err)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "all handshakes counted", func() bool {
		st := f.ln.Stats()
		return st.Handshakes == clients && st.Waiting == 0 && st.InProgress == 0
	})
}

func TestCloseStopsEverything(t *testing.T) {
	block, entered := make(chan struct{}), make(chan struct{}, 1)
	defer close(block)
	f := newFixture(t, Options{}, func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		entered <- struct{}{}
		<-block
		return nil, errors.New("never")
	})
	go f.dial(t, nil, nil)
	<-entered
	done := make(chan struct{})
	go func() { f.ln.Close(); close(done) }()
	select {
	case <-done:
		t.Fatal("Close returned while a certificate lookup was still running")
	case <-time.After(50 * time.Millisecond):
	}
	block <- struct{}{}
	<-done
	if _, err := f.ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v; want net.ErrClosed", err)
	}
}

func TestResumptionIsCounted(t *testing.T) {
	f := newFixture(t, Options{}, nil)
	cache := tls.NewLRUClientSessionCache(1)
	for i := range 2 {
		c, err := f.dial(t, nil, cache)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(c) // the TLS 1.3 ticket arrives with the data
		if got := c.ConnectionState().DidResume; got != (i == 1) {
			t.Errorf("connection %d: DidResume = %v", i, got)
		}
		c.Close()
	}
	testkit.WaitFor(t, 10*time.Second, "2 handshakes, 1 resumed", func() bool {
		st := f.ln.Stats()
		return st.Resumed == 1 && st.Handshakes == 2
	})
}
