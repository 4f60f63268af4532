package tickets

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
	"github.com/redis/go-redis/v9"
)

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop.example"},
		DNSNames: []string{"shop.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// server is one "node": a TLS listener that writes one byte per connection
// (so that TLS 1.3 tickets, sent after the handshake, reach the client).
func server(t *testing.T, cert tls.Certificate, k *Keeper) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if k != nil {
		k.Attach(cfg)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte{1})
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// connect makes one connection and reports whether it resumed a session.
func connect(t *testing.T, addr string, pool *x509.CertPool, cache tls.ClientSessionCache, version uint16) bool {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{
		ServerName: "shop.example", RootCAs: pool, ClientSessionCache: cache,
		MinVersion: version, MaxVersion: version,
	})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil { // TLS 1.3 tickets arrive with the first read
		t.Fatalf("read: %v", err)
	}
	return c.ConnectionState().DidResume
}

func newKeeper(t *testing.T, url string, clk *testkit.Clock) *Keeper {
	t.Helper()
	rdb, err := state.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	k, err := New(Options{Redis: rdb, Rotate: time.Hour, Keep: 2, Refresh: time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestResumeAcrossNodes runs two nodes sharing keys through one Redis and a
// third with its own: a session from node A resumes on node B, never on C.
func TestResumeAcrossNodes(t *testing.T) {
	r := testkit.StartRedis(t)
	clk := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ka, kb := newKeeper(t, r.URL(), clk), newKeeper(t, r.URL(), clk)
	ctx := context.Background()
	for _, k := range []*Keeper{ka, kb} {
		if err := k.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ra, rb := ka.Stats().Rotations, kb.Stats().Rotations; ra+rb != 1 {
		t.Errorf("rotations a=%d b=%d; want one key made between them", ra, rb)
	}
	cert, pool := selfSigned(t)
	a, b, c := server(t, cert, ka), server(t, cert, kb), server(t, cert, nil)

	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			cache := tls.NewLRUClientSessionCache(4)
			if connect(t, a, pool, cache, v.version) {
				t.Fatal("first connection resumed; want a full handshake")
			}
			if !connect(t, b, pool, cache, v.version) {
				t.Error("node B did not resume node A's session; want DidResume")
			}
			if connect(t, c, pool, cache, v.version) {
				t.Error("node C, with keys of its own, resumed; the test cannot tell shared keys apart")
			}
		})
	}
}

// TestRotation ages the keys: after one rotation an old ticket still
// resumes (the old key still opens tickets); after the old key is dropped,
// it does not.
func TestRotation(t *testing.T) {
	r := testkit.StartRedis(t)
	clk := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ka, kb := newKeeper(t, r.URL(), clk), newKeeper(t, r.URL(), clk)
	ctx := context.Background()
	sync := func() {
		for _, k := range []*Keeper{ka, kb} {
			if err := k.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	sync()
	cert, pool := selfSigned(t)
	a, b := server(t, cert, ka), server(t, cert, kb)
	old := tls.NewLRUClientSessionCache(4)
	connect(t, a, pool, old, tls.VersionTLS12)

	clk.Add(time.Hour)
	sync()
	if got := ka.Stats().Keys; got != 2 {
		t.Fatalf("keys after one rotation = %d; want 2", got)
	}
	if ka.Stats().Rotations+kb.Stats().Rotations != 2 {
		t.Errorf("rotations = %d + %d; want 2 in all", ka.Stats().Rotations, kb.Stats().Rotations)
	}
	if !connect(t, b, pool, old, tls.VersionTLS12) {
		t.Error("a ticket sealed with the previous key did not resume")
	}

	clk.Add(time.Hour)
	sync()
	if got := kb.Stats().Keys; got != 2 {
		t.Fatalf("keys after two rotations = %d; want 2 (Keep)", got)
	}
	stale := tls.NewLRUClientSessionCache(4)
	connect(t, a, pool, stale, tls.VersionTLS12) // a ticket under today's key…
	for range 2 {                                // two more rotations: today's key is dropped (Keep is 2)
		clk.Add(time.Hour)
		sync()
	}
	if connect(t, b, pool, stale, tls.VersionTLS12) {
		t.Error("a ticket sealed with a dropped key resumed")
	}
}

// TestRedisDownKeepsKeys kills Redis: the keys in use stay in use, and the
// keeper recovers when Redis is back.
func TestRedisDownKeepsKeys(t *testing.T) {
	r := testkit.StartRedis(t)
	clk := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ka, kb := newKeeper(t, r.URL(), clk), newKeeper(t, r.URL(), clk)
	ctx := context.Background()
	ka.Sync(ctx)
	kb.Sync(ctx)
	cert, pool := selfSigned(t)
	a, b := server(t, cert, ka), server(t, cert, kb)
	cache := tls.NewLRUClientSessionCache(4)
	connect(t, a, pool, cache, tls.VersionTLS13)

	r.Stop()
	if err := kb.Sync(ctx); err == nil {
		t.Fatal("Sync with Redis down succeeded")
	}
	if st := kb.Stats(); st.SyncErrors != 1 || st.Keys != 1 {
		t.Errorf("stats with Redis down = %+v; want one error and the key kept", st)
	}
	if !connect(t, b, pool, cache, tls.VersionTLS13) {
		t.Error("no resumption across nodes while Redis is down; want the last keys kept")
	}
	r.Restart()
	if err := kb.Sync(ctx); err != nil {
		t.Errorf("Sync after Redis came back: %v", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	k, err := New(Options{Redis: rdb, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
