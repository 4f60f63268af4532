package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCAIsMadeOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Created() {
		t.Error("first Open did not report the CA as created")
	}
	b, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Created() || !b.Certificate().Equal(a.Certificate()) {
		t.Error("second Open made a new CA; want the one on disk")
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func TestLeavesVerifyAgainstTheCA(t *testing.T) {
	ca, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"shop.example", "localhost", "127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			c, err := ca.Leaf(host)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := c.PrivateKey.(*ecdsa.PrivateKey); !ok {
				t.Errorf("key is %T; want ECDSA", c.PrivateKey)
			}
			_, err = c.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()})
			if err != nil {
				t.Errorf("verify: %v", err)
			}
			again, err := ca.Leaf(host)
			if err != nil || !again.Leaf.Equal(c.Leaf) {
				t.Errorf("second Leaf(%s) issued anew; want the one on disk", host)
			}
		})
	}
}

func TestLeafRenewedNearExpiry(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	ca, err := Open(t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := ca.Leaf("shop.example")
	now = now.Add(LeafLifetime - RenewBefore + time.Hour)
	second, err := ca.Leaf("shop.example")
	if err != nil {
		t.Fatal(err)
	}
	if second.Leaf.Equal(first.Leaf) {
		t.Error("a leaf within RenewBefore of expiry was kept; want a new one")
	}
}

// TestGivenCertificateIsServed drops a certificate of someone else's into the
// leaves directory (what a benchmark does to give nginx and Awning the same
// certificate): Leaf returns it unchanged.
func TestGivenCertificateIsServed(t *testing.T) {
	ca, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "bench.example"},
		DNSNames: []string{"bench.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := ca.LeafFiles("bench.example")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	got, err := ca.Leaf("bench.example")
	if err != nil {
		t.Fatal(err)
	}
	if got.Leaf.SerialNumber.Int64() != 42 {
		t.Errorf("served serial %v; want the given certificate (42)", got.Leaf.SerialNumber)
	}
	if _, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		t.Fatal(err)
	}
}
