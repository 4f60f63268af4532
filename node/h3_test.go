package node

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// TestHTTP3 runs a node with listen.http3: HTTPS answers over HTTP/1.1 and
// HTTP/2 advertise it (Alt-Svc, the UDP port), and a Go HTTP/3 client gets
// the shop over it with the same certificate, its requests counted as h3.
func TestHTTP3(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	dir := t.TempDir()
	n, _, _ := startNode(t, strings.Replace(selfSignedConfig(o.URL(), dir, ""),
		`admin: "127.0.0.1:0"}`, `admin: "127.0.0.1:0", http3: "127.0.0.1:0"}`, 1))
	if len(n.Addrs().HTTP3) != 1 {
		t.Fatalf("HTTP/3 addresses %q; want one", n.Addrs().HTTP3)
	}
	_, port, _ := net.SplitHostPort(n.Addrs().HTTP3[0])
	roots := caPool(t, filepath.Join(dir, "local-ca", "ca.crt"))

	resp, _ := httpsGet(t, httpsClient(n.Addrs().HTTPS[0], roots, nil), "shop.example", "/")
	if want := `h3=":` + port + `"; ma=86400`; resp.Header.Get("Alt-Svc") != want || resp.ProtoMajor != 2 {
		t.Errorf("over %s: Alt-Svc %q; want %q", resp.Proto, resp.Header.Get("Alt-Svc"), want)
	}

	addr := n.Addrs().HTTP3[0]
	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			return quic.DialAddr(ctx, addr, tc, qc)
		},
	}
	defer tr.Close()
	c := &http.Client{Transport: tr}
	r3, err := c.Get("https://shop.example/")
	if err != nil {
		t.Fatalf("HTTP/3: %v", err)
	}
	body, _ := io.ReadAll(r3.Body)
	r3.Body.Close()
	if r3.ProtoMajor != 3 || r3.StatusCode != 200 || string(body) != "shop" || r3.Header.Get("Awning-Served") != "origin" {
		t.Errorf("HTTP/3: %s %d %q %q; want the shop", r3.Proto, r3.StatusCode, r3.Header.Get("Awning-Served"), body)
	}
	if got := r3.Header.Get("Strict-Transport-Security"); got != "max-age=86400" {
		t.Errorf("HTTP/3: Strict-Transport-Security %q", got)
	}
	if got := n.proxy.ProtocolStats()[2].Requests; got != 1 {
		t.Errorf("h3 requests counted: %s; want 1", strconv.FormatUint(got, 10))
	}
}
