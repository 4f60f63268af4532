package localca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Lifetimes.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 90 * 24 * time.Hour
	RenewBefore  = 30 * 24 * time.Hour
)

// CA is a local certificate authority. It is safe for concurrent use; two
// Leaf calls for one host may both write the host's files, and the last
// complete pair wins (writes are atomic renames).
type CA struct {
	dir     string
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	now     func() time.Time
	created bool
}

// Open loads the CA kept in dir, or makes one there when dir holds none.
// now is the clock (nil for time.Now).
func Open(dir string, now func() time.Time) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(dir, "leaves"), 0o700); err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	ca := &CA{dir: dir, now: now}
	certPEM, err := os.ReadFile(ca.CertPath())
	switch {
	case err == nil:
		keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
		if err != nil {
			return nil, fmt.Errorf("localca: %w", err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("localca: %s: %w", dir, err)
		}
		ca.cert, ca.key, ca.certPEM = pair.Leaf, pair.PrivateKey.(crypto.Signer), certPEM
		if !ca.cert.IsCA {
			return nil, fmt.Errorf("localca: %s is not a CA certificate", ca.CertPath())
		}
		return ca, nil
	case errors.Is(err, fs.ErrNotExist):
		if err := ca.create(); err != nil {
			return nil, fmt.Errorf("localca: create in %s: %w", dir, err)
		}
		ca.created = true
		return ca, nil
	default:
		return nil, fmt.Errorf("localca: %w", err)
	}
}

// CertPath is the file of the CA certificate: what users trust.
func (ca *CA) CertPath() string { return filepath.Join(ca.dir, "ca.crt") }

// Created reports whether Open made the CA (rather than loading it).
func (ca *CA) Created() bool { return ca.created }

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a pool holding only the CA, for clients in tests.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func (ca *CA) create() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			Organization: []string{"Awning local CA"},
			CommonName:   "Awning local CA " + host + " " + dirTag(ca.dir),
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	ca.cert, _ = x509.ParseCertificate(der)
	ca.key = key
	ca.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// The key first: a crash in between leaves no certificate without key.
	if err := writeAtomic(filepath.Join(ca.dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(ca.CertPath(), ca.certPEM, 0o644)
}

// dirTag tells CAs of different state directories on one machine apart in a
// browser's certificate list.
func dirTag(dir string) string {
	abs, _ := filepath.Abs(dir)
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:4])
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// LeafFiles returns where the leaf for host is kept.
func (ca *CA) LeafFiles(host string) (certFile, keyFile string) {
	base := filepath.Join(ca.dir, "leaves", fileName(host))
	return base + ".crt", base + ".key"
}

// fileName turns a canonical host (a name, or an IP address) into a file
// name: IPv6 colons are not portable in file names.
func fileName(host string) string {
	return strings.ReplaceAll(host, ":", "_")
}

// Leaf returns a certificate for host (a canonical name or IP address):
// the one on disk when it is valid for host and not within RenewBefore of
// expiry, else a new one signed by the CA and written to disk.
func (ca *CA) Leaf(host string) (*tls.Certificate, error) {
	if host == "" {
		return nil, errors.New("localca: empty host")
	}
	certFile, keyFile := ca.LeafFiles(host)
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && ca.usable(pair.Leaf, host) {
		return &pair, nil
	}
	return ca.issue(host, certFile, keyFile)
}

func (ca *CA) usable(leaf *x509.Certificate, host string) bool {
	now := ca.now()
	return leaf != nil && leaf.VerifyHostname(host) == nil &&
		now.After(leaf.NotBefore) && now.Add(RenewBefore).Before(leaf.NotAfter)
}

func (ca *CA) issue(host, certFile, keyFile string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("localca: sign %s: %w", host, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	chainPEM := append(leafPEM, ca.certPEM...)
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	if err := writeAtomic(certFile, chainPEM, 0o644); err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// writeAtomic writes data to path through a temporary file and a rename, so
// readers never see half a file.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
