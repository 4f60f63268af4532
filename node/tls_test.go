package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// httpsClient dials addr whatever the URL says, trusts roots, and offers
// ALPN h2 and http/1.1 as browsers do (ForceAttemptHTTP2). It never
// follows redirects.
func httpsClient(addr string, roots *x509.CertPool, cache tls.ClientSessionCache) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots, ClientSessionCache: cache},
			ForceAttemptHTTP2: true,
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// httpsGet fetches https://host/path from addr.
func httpsGet(t *testing.T, c *http.Client, host, path string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get("https://" + host + path)
	if err != nil {
		t.Fatalf("GET https://%s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// handshake shakes hands with addr for serverName and reports the
// verified chain's error, if any.
func handshake(addr, serverName string, roots *x509.CertPool, protos ...string) (*tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: roots, NextProtos: protos})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st := c.ConnectionState()
	return &st, nil
}

func caPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no certificate", file)
	}
	return p
}

func selfSignedConfig(origin, stateDir string, extra string) string {
	return `listen: {http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0"}
state: {dir: "` + stateDir + `"}
tls: {mode: self-signed` + extra + `}
sites:
  - name: shop
    hosts: [shop.example, 127.0.0.1]
    origin: {urls: ["` + origin + `"]}
    hsts: {max_age: 1d}
`
}

// TestSelfSignedServesHTTPS runs a node in self-signed mode: shoppers are
// served over HTTPS with a certificate of the local CA (kept in state.dir
// and announced in the log), browsers offering h2 get HTTP/2, plain HTTP
// redirects, unknown names fail the handshake.
func TestSelfSignedServesHTTPS(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	dir := t.TempDir()
	n, _, logs := startNode(t, selfSignedConfig(o.URL(), dir, ""))
	https := n.Addrs().HTTPS[0]
	caFile := filepath.Join(dir, "local-ca", "ca.crt")
	if !strings.Contains(logs.String(), "curl --cacert "+caFile) {
		t.Errorf("the log does not say how to trust the CA at %s:\n%s", caFile, logs.String())
	}
	roots := caPool(t, caFile)

	resp, body := httpsGet(t, httpsClient(https, roots, nil), "shop.example", "/")
	if resp.StatusCode != 200 || body != "shop" || resp.Header.Get("Awning-Served") != "origin" {
		t.Fatalf("HTTPS: %d %q %q; want the shop", resp.StatusCode, resp.Header.Get("Awning-Served"), body)
	}
	if resp.Proto != "HTTP/2.0" || resp.TLS.NegotiatedProtocol != "h2" {
		t.Errorf("a client offering h2 got %s over ALPN %q; want HTTP/2", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=86400" {
		t.Errorf("Strict-Transport-Security = %q; want max-age=86400", got)
	}

	// https://127.0.0.1/: clients send no SNI for an IP address, so the
	// address dialled picks the site.
	c, err := tls.Dial("tcp", https, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Errorf("handshake for 127.0.0.1: %v", err)
	} else {
		c.Close()
	}

	if _, err := handshake(https, "unknown.example", roots); err == nil {
		t.Error("a handshake for an unknown name succeeded")
	}
	if got := n.CertManager().Stats().Refused; got == 0 {
		t.Errorf("refused = %d; want the unknown name counted", got)
	}

	req, _ := http.NewRequest("GET", "http://"+n.Addrs().HTTP[0]+"/p?q=1", nil)
	req.Host = "shop.example"
	r2, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	_, port, _ := net.SplitHostPort(https)
	if want := "https://shop.example:" + port + "/p?q=1"; r2.StatusCode != 308 || r2.Header.Get("Location") != want {
		t.Errorf("plain HTTP: %d Location %q; want 308 to %s", r2.StatusCode, r2.Header.Get("Location"), want)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := n.HandshakeStats(); got.Handshakes < 2 || got.Failed < 1; got = n.HandshakeStats() {
		if time.Now().After(deadline) {
			t.Fatalf("handshake stats = %+v; want the handshakes and the refusal counted", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSelfSignedCAKeptAcrossRestarts restarts a node on the same state
// directory: the CA (what users trusted) is the same.
func TestSelfSignedCAKeptAcrossRestarts(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	dir := t.TempDir()
	yaml := selfSignedConfig(o.URL(), dir, "")
	caFile := filepath.Join(dir, "local-ca", "ca.crt")
	for i := range 2 {
		path := filepath.Join(t.TempDir(), "awning.yaml")
		os.WriteFile(path, []byte(yaml), 0o600)
		n, err := New(Options{ConfigPath: path, LogOutput: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		<-n.Ready()
		roots := caPool(t, caFile) // the CA of the first run
		if i == 1 {
			if _, err := handshake(n.Addrs().HTTPS[0], "shop.example", roots); err != nil {
				t.Errorf("after a restart: %v; want a certificate from the same CA", err)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestRedirectOffKeepsPlainHTTP is the demo's setting: HTTPS on, and plain
// HTTP still serving shoppers.
func TestRedirectOffKeepsPlainHTTP(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	n, _, _ := startNode(t, selfSignedConfig(o.URL(), t.TempDir(), ", redirect: false"))
	if got := get(t, n.Addrs().HTTP[0], "shop.example"); got != "shop" {
		t.Errorf("plain HTTP = %q; want the shop", got)
	}
}

func TestAgreeTermsRequiredForACME(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(`tls: {mode: acme}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["http://127.0.0.1:1"]}
`), 0o600)
	_, err := Check(path)
	if err == nil || !strings.Contains(err.Error(), "c.yaml:1:6: tls.agree_terms: acme mode needs agree_terms: true") {
		t.Errorf("Check = %v; want the missing agreement positioned at tls", err)
	}
	os.WriteFile(path, []byte(`tls: {mode: acme, agree_terms: true, ca_root: missing.pem}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["http://127.0.0.1:1"]}
`), 0o600)
	if _, err := Check(path); err == nil || !strings.Contains(err.Error(), "tls.ca_root") {
		t.Errorf("Check = %v; want the missing CA root file reported", err)
	}
}

// TestSessionsResumeAcrossNodes runs two self-signed nodes on one Redis
// (and one state directory, so one local CA): a session made with the
// first resumes on the second, through the shared ticket keys.
func TestSessionsResumeAcrossNodes(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	r := testkit.StartRedis(t)
	dir := t.TempDir()
	yaml := strings.Replace(selfSignedConfig(o.URL(), dir, ""), `state: {dir: "`+dir+`"}`, `state: {dir: "`+dir+`", redis: "`+r.URL()+`"}`, 1)
	a, _, _ := startNode(t, yaml)
	b, _, _ := startNode(t, yaml)
	roots := caPool(t, filepath.Join(dir, "local-ca", "ca.crt"))
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := tls.NewLRUClientSessionCache(4)
		get := func(n *Node) *http.Response {
			c := httpsClient(n.Addrs().HTTPS[0], roots, cache)
			c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = v
			resp, body := httpsGet(t, c, "shop.example", "/")
			if body != "shop" {
				t.Fatalf("body %q", body)
			}
			return resp
		}
		if get(a).TLS.DidResume {
			t.Fatal("first connection resumed")
		}
		if !get(b).TLS.DidResume {
			t.Errorf("TLS %x: node B did not resume node A's session", v)
		}
	}
	if got := b.HandshakeStats().Resumed; got == 0 {
		t.Errorf("node B counted %d resumed handshakes", got)
	}
}
