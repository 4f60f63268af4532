package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/tls/localca"
	"github.com/valyala/fasthttp"
)

// startPlain serves yaml's sites on a plain listener with opt, as a node
// with HTTPS on does.
func startPlain(t *testing.T, yaml string, opt PlainOptions) *testProxy {
	t.Helper()
	o := options(t, yaml)
	o.Plain = &opt
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.ServePlain(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return &testProxy{Server: s, addr: ln.Addr().String()}
}

func TestPlainRedirectsAndAnswersChallenges(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	var challenges atomic.Int32
	challenge := func(ctx *fasthttp.RequestCtx) bool {
		if string(ctx.Path()) != "/.well-known/acme-challenge/tok" {
			return false
		}
		challenges.Add(1)
		ctx.SetBodyString("tok.thumbprint")
		return true
	}
	yaml := `
tls: {mode: acme}
sites:
  - name: shop
    hosts: [shop.example, "::1"]
    origin: {urls: [` + o.URL() + `]}
`
	p := startPlain(t, yaml, PlainOptions{Challenge: challenge, Redirect: true, HTTPSPort: 8443})
	tests := []struct {
		name, host, path string
		status           int
		location, served string
	}{
		{"page", "shop.example", "/product/1?x=1&y=%20", 308, "https://shop.example:8443/product/1?x=1&y=%20", "redirect"},
		{"host with port and case", "SHOP.Example:80", "/", 308, "https://shop.example:8443/", "redirect"},
		{"IPv6 literal", "[::1]:80", "/a", 308, "https://[::1]:8443/a", "redirect"},
		{"challenge", "shop.example", "/.well-known/acme-challenge/tok", 200, "", ""},
		{"unknown host", "evil.example", "/.well-known/acme-challenge/tok", 421, "", "misdirected"},
		{"no host", "", "/", 421, "", "misdirected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := p.get(t, tt.host, tt.path)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d; want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location = %q; want %q", got, tt.location)
			}
			if got := resp.Header.Get("Awning-Served"); got != tt.served {
				t.Errorf("Awning-Served = %q; want %q", got, tt.served)
			}
			if tt.status == 200 && body != "tok.thumbprint" {
				t.Errorf("body = %q; want the key authorization", body)
			}
		})
	}
	if got := challenges.Load(); got != 1 {
		t.Errorf("challenge hook answered %d requests; want 1 (never for an unknown host)", got)
	}
	if n := o.Conns(); n != 0 {
		t.Errorf("origin saw %d connections; want none while redirecting", n)
	}

	p443 := startPlain(t, yaml, PlainOptions{Redirect: true, HTTPSPort: 443})
	if resp, _ := p443.get(t, "shop.example", "/x"); resp.Header.Get("Location") != "https://shop.example/x" {
		t.Errorf("Location with port 443 = %q; want no port", resp.Header.Get("Location"))
	}
}

func TestPlainWithoutRedirectServesShoppers(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	p := startPlain(t, oneSite(o.URL()), PlainOptions{Redirect: false})
	resp, body := p.get(t, "shop.example", "/")
	if resp.StatusCode != 200 || body != "shop" || resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("got %d %q %q; want the origin's answer", resp.StatusCode, resp.Header.Get("Awning-Served"), body)
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on a plain-HTTP answer (RFC 6797 §7.2 forbids it)")
	}
}

// TestHSTSOnHTTPSOnly serves one site with hsts over TLS and over plain
// HTTP: only TLS answers carry the header, and it replaces the origin's.
func TestHSTSOnHTTPSOnly(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Respond(200, "shop", "Strict-Transport-Security: max-age=1"))
	yaml := oneSite(o.URL()) + "    hsts: {max_age: 365d, include_subdomains: true}\n"
	p := startProxy(t, yaml)

	ca, err := localca.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := ca.Leaf("shop.example")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "shop.example"},
	}}
	req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/", nil)
	req.Host = "shop.example"
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != "max-age=31536000; includeSubDomains" {
		t.Errorf("HTTPS: Strict-Transport-Security = %q; want the site's, once", got)
	}

	resp, _ = p.get(t, "shop.example", "/")
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=1" {
		t.Errorf("plain HTTP: Strict-Transport-Security = %q; want only the origin's, untouched", got)
	}
}
