package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/internal/testkit/pebble"
	"github.com/redis/go-redis/v9"
)

// acmeEnv is Pebble validating on two fixed loopback ports, where the
// tests' first node listens.
type acmeEnv struct {
	ca              *pebble.CA
	httpPort, tlsPt int
	origin          *testkit.Origin
}

func newACMEEnv(t *testing.T) *acmeEnv {
	t.Helper()
	e := &acmeEnv{httpPort: testkit.FreePort(t), tlsPt: testkit.FreePort(t)}
	e.ca = pebble.Start(t, e.httpPort, e.tlsPt)
	e.origin = testkit.NewOrigin(t, testkit.OK("shop"))
	return e
}

// nodeSpec is what differs between the nodes of these tests.
type nodeSpec struct {
	httpPort, tlsPort int    // 0: the ports Pebble validates on
	state             string // state.dir; "" for a fresh one
	redis             string // state.redis
	hosts             []string
	tls               string // extra tls keys, ", key: value"
}

func (e *acmeEnv) config(t *testing.T, s nodeSpec) string {
	if s.httpPort == 0 {
		s.httpPort, s.tlsPort = e.httpPort, e.tlsPt
	}
	if s.state == "" {
		s.state = t.TempDir()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "listen: {http: \"127.0.0.1:%d\", https: \"127.0.0.1:%d\", admin: \"127.0.0.1:0\"}\n", s.httpPort, s.tlsPort)
	fmt.Fprintf(&b, "state: {dir: %q, redis: %q}\n", s.state, s.redis)
	fmt.Fprintf(&b, "tls: {mode: acme, agree_terms: true, email: ops@awning.test, ca: %q, ca_root: %q, handshake_timeout: 30s%s}\n", e.ca.URL, e.ca.RootFile, s.tls)
	fmt.Fprintf(&b, "log: {level: debug}\nsites:\n")
	for i, h := range s.hosts {
		fmt.Fprintf(&b, "  - name: site%d\n    hosts: [%s]\n    origin: {urls: [%q]}\n", i, h, e.origin.URL())
	}
	return b.String()
}

// runNode runs a node from yaml until stop is called or the test ends.
func runNode(t *testing.T, yaml string) (n *Node, path string, logs *testkit.Buffer, stop func()) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "awning.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	logs = &testkit.Buffer{}
	t.Setenv("STATE_DIRECTORY", t.TempDir()) // for a config without state.dir
	n, err := New(Options{ConfigPath: path, LogOutput: logs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	select {
	case <-n.Ready():
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("node not ready within 10s")
	}
	return n, path, logs, stop
}

// waitCert shakes hands with addr for name until a certificate that chains
// to Pebble's root is served.
func (e *acmeEnv) waitCert(t *testing.T, addr, name string) *tls.ConnectionState {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var st *tls.ConnectionState
		if st, err = handshake(addr, name, e.ca.Roots()); err == nil {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no certificate for %s from Pebble within 60s: %v", name, err)
	return nil
}

func orderNames(os []pebble.Order) []string {
	var out []string
	for _, o := range os {
		out = append(out, strings.Join(o.Names, ","))
	}
	return out
}

// TestACMEChallenges obtains one certificate by HTTP-01 on the node's
// plain listener and one by TLS-ALPN-01 on its TLS listener, from Pebble,
// and serves shoppers with them.
func TestACMEChallenges(t *testing.T) {
	e := newACMEEnv(t)
	for _, tc := range []struct {
		host, challenge string
	}{
		{"http01.awning.test", "http-01"},
		{"alpn.awning.test", "tls-alpn-01"},
	} {
		t.Run(tc.challenge, func(t *testing.T) {
			n, _, _, stop := runNode(t, e.config(t, nodeSpec{hosts: []string{tc.host}, tls: ", challenges: [" + tc.challenge + "]"}))
			defer stop()
			st := e.waitCert(t, n.Addrs().HTTPS[0], tc.host)
			if got := st.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != tc.host {
				t.Errorf("certificate names %v; want [%s]", got, tc.host)
			}
			orders := e.ca.OrdersFor(tc.host)
			if len(orders) != 1 {
				t.Fatalf("orders for %s: %v; want one", tc.host, orderNames(orders))
			}
			if got := orders[0].Validated[tc.host]; got != tc.challenge {
				t.Errorf("%s validated by %q; want %s", tc.host, got, tc.challenge)
			}

			// A browser (ALPN h2, http/1.1) is served over HTTP/2.
			resp, body := httpsGet(t, httpsClient(n.Addrs().HTTPS[0], e.ca.Roots(), nil), tc.host, "/")
			if resp.StatusCode != 200 || body != "shop" || resp.TLS.NegotiatedProtocol != "h2" {
				t.Errorf("HTTPS: %d %q over %q; want the shop over h2", resp.StatusCode, body, resp.TLS.NegotiatedProtocol)
			}
		})
	}
	if got := len(e.ca.Orders()); got != 2 {
		t.Errorf("orders at Pebble: %d (%v); want 2", got, orderNames(e.ca.Orders()))
	}
}

// TestOnDemand starts with one host and adds more by reload: hosts the
// registry knows are obtained at their first handshake; unknown names, a
// name whose last issuance failed, and a name over the rate limit place no
// order at Pebble.
func TestOnDemand(t *testing.T) {
	e := newACMEEnv(t)
	e.ca.DNS.AddDNSARecord("broken.awning.test", []string{"127.0.0.2"}) // nothing listens there: validation fails
	spec := nodeSpec{state: t.TempDir(), hosts: []string{"managed.awning.test"}, tls: ", on_demand_limit: 2, on_demand_window: 1h"}
	n, path, _, _ := runNode(t, e.config(t, spec))
	https := n.Addrs().HTTPS[0]
	e.waitCert(t, https, "managed.awning.test")
	orders := func() int { return len(e.ca.Orders()) }
	if got := orders(); got != 1 {
		t.Fatalf("orders after start: %d; want 1 (the managed host)", got)
	}

	for _, name := range []string{"unknown.awning.test", "evil.example", "managed.awning.test.evil"} {
		if _, err := handshake(https, name, e.ca.Roots()); err == nil {
			t.Errorf("handshake for unknown %s succeeded", name)
		}
	}
	if got := orders(); got != 1 {
		t.Errorf("orders after unknown names: %d (%v); want still 1", got, orderNames(e.ca.Orders()))
	}
	if got := n.CertManager().Stats().Refused; got < 3 {
		t.Errorf("refused = %d; want the 3 unknown names counted", got)
	}

	spec.hosts = append(spec.hosts, "late.awning.test", "broken.awning.test", "third.awning.test")
	os.WriteFile(path, []byte(e.config(t, spec)), 0o600)
	if err := n.Reload(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // an up-front issuance would have begun
	if got := orders(); got != 1 {
		t.Errorf("orders right after the reload: %d; want 1: new hosts wait for their first handshake", got)
	}

	st, err := handshake(https, "late.awning.test", e.ca.Roots())
	if err != nil {
		t.Fatalf("on-demand handshake: %v", err)
	}
	if st.PeerCertificates[0].DNSNames[0] != "late.awning.test" {
		t.Errorf("served %v", st.PeerCertificates[0].DNSNames)
	}
	if got := len(e.ca.OrdersFor("late.awning.test")); got != 1 {
		t.Errorf("orders for late.awning.test: %d; want 1", got)
	}

	if _, err := handshake(https, "broken.awning.test", e.ca.Roots()); err == nil {
		t.Fatal("handshake for broken.awning.test succeeded; want its validation to fail")
	}
	// One issuance attempt; within it acmez may try each challenge type,
	// with an order each.
	first := len(e.ca.OrdersFor("broken.awning.test"))
	if first == 0 {
		t.Fatal("no order for broken.awning.test; want one issuance attempt")
	}
	for range 2 {
		if _, err := handshake(https, "broken.awning.test", e.ca.Roots()); err == nil {
			t.Fatal("a later handshake for broken.awning.test succeeded")
		}
	}
	if got := len(e.ca.OrdersFor("broken.awning.test")); got != first {
		t.Errorf("orders for broken.awning.test after 2 more handshakes: %d; want still %d (the negative cache)", got, first)
	}
	if got := n.CertManager().Stats().BackedOff; got < 2 {
		t.Errorf("backed off = %d; want the later handshakes refused by the negative cache", got)
	}

	if _, err := handshake(https, "third.awning.test", e.ca.Roots()); err == nil {
		t.Error("handshake for third.awning.test succeeded; want the rate limit (2 per hour) to refuse it")
	}
	if got := len(e.ca.OrdersFor("third.awning.test")); got != 0 {
		t.Errorf("orders for third.awning.test: %d; want 0", got)
	}
	if got := n.CertManager().Stats().Limited; got != 1 {
		t.Errorf("limited = %d; want 1", got)
	}
}

// TestTwoNodesShareRedis runs two nodes on one Redis: they obtain one
// certificate between them and serve the same one; a lock left by a killed
// node is taken over once its TTL ends; with Redis gone, nodes keep
// serving, and a node restarted without Redis serves its local copy.
func TestTwoNodesShareRedis(t *testing.T) {
	e := newACMEEnv(t)
	r := testkit.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	ctx := context.Background()
	// A node killed while obtaining stale.awning.test left its lock.
	if err := rdb.Set(ctx, "{awning-certs}/lock/issue_cert_stale.awning.test", "dead-node", 3*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	hosts := []string{"shared.awning.test", "stale.awning.test"}
	stateA := t.TempDir()
	a, _, _, stopA := runNode(t, e.config(t, nodeSpec{state: stateA, redis: r.URL(), hosts: hosts}))
	b, _, _, _ := runNode(t, e.config(t, nodeSpec{httpPort: testkit.FreePort(t), tlsPort: testkit.FreePort(t), redis: r.URL(), hosts: hosts}))

	for _, host := range hosts {
		sa := e.waitCert(t, a.Addrs().HTTPS[0], host)
		sb := e.waitCert(t, b.Addrs().HTTPS[0], host)
		if !sa.PeerCertificates[0].Equal(sb.PeerCertificates[0]) {
			t.Errorf("%s: the nodes serve different certificates", host)
		}
		if got := e.ca.OrdersFor(host); len(got) != 1 {
			t.Errorf("%s: %d orders at Pebble (%v); want one between the two nodes", host, len(got), orderNames(got))
		}
	}
	if got := a.CertStorageStats().LocksRecovered + b.CertStorageStats().LocksRecovered; got == 0 {
		t.Error("no node waited for the dead node's lock; want it taken over after its TTL")
	}

	r.Stop() // Redis is gone: certificates in memory keep serving
	for _, n := range []*Node{a, b} {
		if _, err := handshake(n.Addrs().HTTPS[0], "shared.awning.test", e.ca.Roots()); err != nil {
			t.Errorf("with Redis down: %v", err)
		}
	}
	stopA()
	a2, _, _, _ := runNode(t, e.config(t, nodeSpec{state: stateA, redis: r.URL(), hosts: hosts}))
	if _, err := handshake(a2.Addrs().HTTPS[0], "shared.awning.test", e.ca.Roots()); err != nil {
		t.Errorf("a node restarted while Redis is down: %v; want its local copy served", err)
	}
}

// TestCAStoppedKeepsServing obtains a certificate, stops the CA, and
// checks it is still served, also by a node restarted on the same state.
func TestCAStoppedKeepsServing(t *testing.T) {
	e := newACMEEnv(t)
	state := t.TempDir()
	spec := nodeSpec{state: state, hosts: []string{"shop.awning.test"}}
	n, _, _, stop := runNode(t, e.config(t, spec))
	e.waitCert(t, n.Addrs().HTTPS[0], "shop.awning.test")
	e.ca.Stop()
	if _, err := handshake(n.Addrs().HTTPS[0], "shop.awning.test", e.ca.Roots()); err != nil {
		t.Errorf("with the CA down: %v", err)
	}
	stop()
	n2, _, _, _ := runNode(t, e.config(t, spec))
	if _, err := handshake(n2.Addrs().HTTPS[0], "shop.awning.test", e.ca.Roots()); err != nil {
		t.Errorf("restarted with the CA down: %v", err)
	}
	resp, body := httpsGet(t, httpsClient(n2.Addrs().HTTPS[0], e.ca.Roots(), nil), "shop.awning.test", "/")
	if resp.StatusCode != 200 || body != "shop" {
		t.Errorf("shopper with the CA down: %d %q", resp.StatusCode, body)
	}
}
