package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/tls/listener"
	"github.com/awningproxy/awning/tls/localca"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// tlsProxy is a Server on a tls/listener on loopback, as a node serves
// HTTPS: HTTP/1.1 through fasthttp, HTTP/2 through the bridge, and HTTP/3
// on a UDP socket of the same port number when with3.
type tlsProxy struct {
	*Server
	addr  string // TCP
	addr3 string // UDP; "" without HTTP/3
	pool  *x509.CertPool
	ca    *localca.CA
}

// startTLSProxy serves opt's sites over HTTPS with certificates from a
// local CA for every host the test names (and 127.0.0.1).
func startTLSProxy(t testing.TB, opt Options, with3 bool, hosts ...string) *tlsProxy {
	t.Helper()
	s, err := New(opt)
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	ca, err := localca.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	certs := map[string]*tls.Certificate{}
	for _, h := range append(hosts, "127.0.0.1") {
		c, err := ca.Leaf(h)
		if err != nil {
			t.Fatal(err)
		}
		certs[h] = c
	}
	getCert := func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c := certs[hello.ServerName]; c != nil {
			return c, nil
		}
		return certs["127.0.0.1"], nil
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := listener.New(inner, listener.Options{TLS: listener.ServerConfig(getCert)})
	p := &tlsProxy{Server: s, addr: inner.Addr().String(), pool: ca.Pool(), ca: ca}
	done := make(chan struct{}, 3)
	n := 2
	go func() { s.Serve(tl); done <- struct{}{} }()
	go func() { s.ServeHTTP2(tl.HTTP2()); done <- struct{}{} }()
	var pc net.PacketConn
	if with3 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		conf := listener.ServerConfig(getCert)
		conf.MinVersion = tls.VersionTLS13
		s.EnableHTTP3(conf, pc.LocalAddr().(*net.UDPAddr).Port, opt.Config)
		p.addr3 = pc.LocalAddr().String()
		n++
		go func() { s.ServeHTTP3(pc); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		tl.Close()
		if pc != nil {
			pc.Close()
		}
		for range n {
			<-done
		}
		s.Close()
	})
	return p
}

// client returns an HTTP client of the given protocol ("http/1.1", "h2" or
// "h3") that dials the proxy whatever the URL's host, trusting its CA, and
// never follows redirects.
func (p *tlsProxy) client(t testing.TB, proto string) *http.Client {
	t.Helper()
	tc := &tls.Config{RootCAs: p.pool}
	c := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	switch proto {
	case "h3":
		addr := p.addr3
		tr := &http3.Transport{
			TLSClientConfig: tc,
			// Every request to the proxy's UDP address; the URL's host
			// stays the SNI and :authority.
			Dial: func(ctx context.Context, _ string, tlsConf *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				return quic.DialAddr(ctx, addr, tlsConf, qc)
			},
		}
		c.Transport = tr
		t.Cleanup(func() { tr.Close() })
	default:
		d := &net.Dialer{Timeout: 5 * time.Second}
		tr := &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, p.addr)
			},
			TLSClientConfig:    tc,
			DisableCompression: true,
			Protocols:          new(http.Protocols),
		}
		if proto == "h2" {
			tr.Protocols.SetHTTP2(true)
		} else {
			tr.Protocols.SetHTTP1(true)
		}
		c.Transport = tr
		t.Cleanup(tr.CloseIdleConnections)
	}
	return c
}

// fetchTLS sends one request to https://host+path over c.
func fetchTLS(t testing.TB, c *http.Client, method, host, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s https://%s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// protoOf names the protocol an answer came over, as the clients name them.
func protoOf(resp *http.Response) string {
	switch {
	case resp.ProtoMajor == 3:
		return "h3"
	case resp.ProtoMajor == 2:
		return "h2"
	case strings.HasPrefix(resp.Proto, "HTTP/1"):
		return "http/1.1"
	}
	return resp.Proto
}
