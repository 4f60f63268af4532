package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/tls/localca"
	"github.com/caddyserver/certmagic"
	"golang.org/x/sync/singleflight"
)

// Options is what a Manager is built from.
type Options struct {
	// Config is the node's configuration: tls.*, state.dir and the listen
	// ports are used. Required.
	Config *config.Config
	// Sites is the routing table in force; Update replaces it. Required.
	Sites *sites.Registry
	// Storage is where certificates, ACME accounts and challenges are
	// shared between nodes (tls/redisstore). Default nil: a directory under
	// state.dir, for one node alone. With Storage set, that directory still
	// keeps a local copy of every certificate served.
	Storage certmagic.Storage
	// Logger receives certificate events. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of the rate limit and the backoffs. Default
	// time.Now.
	Now func() time.Time
}

// Timing of background work. Variables only so that they are named in one
// place; they are never changed.
const (
	sweepEvery     = time.Minute     // look for up-front names without a certificate
	issueTimeout   = 3 * time.Minute // one background issuance
	backoffFirst   = 5 * time.Minute // after a first failure
	backoffMax     = 6 * time.Hour   // at most
	maxConcurrency = 4               // issuances (or storage loads) at once
	leafCheckEvery = 6 * time.Hour   // self-signed: renew leaves nearing expiry
	limitedRetry   = 5 * time.Second // on-demand refused by the rate limit: retry after at least
)

// Manager chooses and keeps certificates. It is safe for concurrent use.
// Build it with New (no goroutines, no disk, no network), Start it once the
// listeners are open, and Close it.
type Manager struct {
	mode     string
	cfg      config.TLS
	dir      string // state.dir/certificates (acme) or state.dir/local-ca
	log      *slog.Logger
	now      func() time.Time
	onDemand bool
	roots    *x509.CertPool // extra roots for the ACME directory
	shared   certmagic.Storage
	httpHost string
	httpPort int
	tlsPort  int

	reg atomic.Pointer[sites.Registry]

	// Built by Start.
	ctx    context.Context
	cancel context.CancelFunc
	acme   atomic.Pointer[acmeState] // set by Start; plain HTTP may ask for challenges before
	ca     *localca.CA

	flights singleflight.Group
	sem     chan struct{}
	kick    chan struct{}

	mu       sync.Mutex
	names    map[string]bool // names being kept: true up front, false on demand
	failures map[string]failure
	leaves   map[string]*tls.Certificate // self-signed
	attempts map[string]*attempt         // issuances under way
	limiter  *limiter
	started  bool
	closed   bool
	wg       sync.WaitGroup

	c counters
}

type counters struct {
	obtained, renewed, failed, refused, limited, backedOff atomic.Uint64
}

// Stats are a Manager's counters since Start.
type Stats struct {
	// Obtained counts new certificates (ACME issuances, or local leaves).
	Obtained uint64
	// Renewed counts renewals.
	Renewed uint64
	// Failed counts failed issuances and renewals (ACME errors).
	Failed uint64
	// Refused counts handshakes for names no site claims.
	Refused uint64
	// Limited counts on-demand issuances refused by the rate limit.
	Limited uint64
	// BackedOff counts handshakes refused because the name's last issuance
	// failed recently (the negative cache).
	BackedOff uint64
}

// Certificate describes a certificate being served, for expiry metrics.
type Certificate struct {
	Name     string
	NotAfter time.Time
	Issuer   string
}

// New checks the TLS configuration that only this package understands
// (agreeing to the CA's terms, the CA root file) and returns a Manager. It
// reports problems as positioned config errors.
func New(opt Options) (*Manager, error) {
	if opt.Config == nil || opt.Sites == nil {
		return nil, errors.New("certs: Options.Config and Options.Sites are required")
	}
	c := opt.Config
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	m := &Manager{
		mode:     c.TLS.Mode,
		cfg:      c.TLS,
		log:      opt.Logger,
		now:      opt.Now,
		onDemand: c.TLS.OnDemandTLS(),
		shared:   opt.Storage,
		sem:      make(chan struct{}, maxConcurrency),
		kick:     make(chan struct{}, 1),
		names:    make(map[string]bool),
		failures: make(map[string]failure),
		leaves:   make(map[string]*tls.Certificate),
		attempts: make(map[string]*attempt),
		limiter:  newLimiter(c.TLS.OnDemandLimit, c.TLS.OnDemandWindow.D(), opt.Now()),
	}
	m.reg.Store(opt.Sites)
	switch m.mode {
	case "acme":
		m.dir = filepath.Join(c.State.Dir, "certificates")
		if errs := Check(c); len(errs) > 0 {
			return nil, errs
		}
		if c.TLS.CARoot != "" {
			m.roots, _ = loadRoots(c.TLS.CARoot, c.File)
		}
		m.httpHost, m.httpPort, _ = splitPort(c.Listen.HTTP)
		_, m.tlsPort, _ = splitPort(c.Listen.HTTPS)
	case "self-signed":
		m.dir = filepath.Join(c.State.Dir, "local-ca")
	default:
		return nil, fmt.Errorf("certs: tls.mode %q has no certificates", m.mode)
	}
	return m, nil
}

// Check reports the problems of c's TLS configuration that only this
// package understands (agreeing to the CA's terms, the CA root file, the
// ports challenges are answered on), as positioned config errors. It
// reads the CA root file and nothing else: check-config runs it.
func Check(c *config.Config) config.Errors {
	var errs config.Errors
	if c.TLS.Mode != "acme" {
		return nil
	}
	if !c.TLS.AgreeTerms {
		errs = append(errs, c.Errorf("tls.agree_terms", "acme mode needs agree_terms: true, to say you agree to the CA's terms of service (Let's Encrypt: https://letsencrypt.org/repository/); or use mode self-signed or off"))
	}
	if c.TLS.CARoot != "" {
		if _, err := loadRoots(c.TLS.CARoot, c.File); err != nil {
			errs = append(errs, c.Errorf("tls.ca_root", "%v", err))
		}
	}
	if _, _, err := splitPort(c.Listen.HTTP); err != nil {
		errs = append(errs, c.Errorf("listen.http", "%v", err))
	}
	if _, _, err := splitPort(c.Listen.HTTPS); err != nil {
		errs = append(errs, c.Errorf("listen.https", "%v", err))
	}
	return errs
}

func loadRoots(file, configFile string) (*x509.CertPool, error) {
	if !filepath.IsAbs(file) && configFile != "" {
		file = filepath.Join(filepath.Dir(configFile), file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// Start begins keeping certificates: in acme mode it loads or obtains the
// certificate of every configured host in the background; in self-signed
// mode it opens (or makes) the local CA and its leaves at once. Call it
// once the listeners are open: ACME validation reaches them.
func (m *Manager) Start() error {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return errors.New("certs: Start called twice or after Close")
	}
	m.started = true
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.Unlock()

	switch m.mode {
	case "acme":
		m.acme.Store(m.newACME())
		m.setUpfront(m.reg.Load(), true)
	case "self-signed":
		ca, err := localca.Open(m.dir, m.now)
		if err != nil {
			return fmt.Errorf("certs: %w", err)
		}
		m.ca = ca
		if ca.Created() {
			m.log.Info("made a local CA for tls.mode self-signed", "ca", ca.CertPath())
		}
		for _, s := range m.reg.Load().All() {
			for _, h := range s.Hosts {
				if _, err := m.leaf(h); err != nil {
					return err
				}
			}
		}
	}
	m.wg.Add(1)
	go m.loop()
	return nil
}

// Close stops background work and waits for it. Certificates already
// handed to connections stay valid; later handshakes fail.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	started := m.started
	m.mu.Unlock()
	if !started {
		return nil
	}
	m.cancel()
	m.wg.Wait()
	if a := m.acme.Load(); a != nil {
		a.cache.Stop()
	}
	return nil
}

// enter registers a background job, unless the Manager is closing; the
// job calls m.wg.Done when it ends.
func (m *Manager) enter() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.started {
		return false
	}
	m.wg.Add(1)
	return true
}

// Update swaps in the routing table of a reloaded configuration. Names no
// site claims any more stop being kept (their certificates leave memory;
// storage keeps them). New hosts are obtained on demand at their first
// handshake, or at once when tls.on_demand is off.
func (m *Manager) Update(reg *sites.Registry) {
	m.reg.Store(reg)
	m.mu.Lock()
	var gone []certmagic.SubjectIssuer
	for name := range m.names {
		if reg.LookupString(name) == nil {
			delete(m.names, name)
			delete(m.failures, name)
			gone = append(gone, certmagic.SubjectIssuer{Subject: name})
		}
	}
	for name := range m.failures {
		if reg.LookupString(name) == nil {
			delete(m.failures, name)
		}
	}
	for name := range m.leaves {
		if reg.LookupString(name) == nil {
			delete(m.leaves, name)
		}
	}
	started := m.started && !m.closed
	m.mu.Unlock()
	if !started {
		return
	}
	a := m.acme.Load()
	if a != nil && len(gone) > 0 {
		a.cache.RemoveManaged(gone)
	}
	if a != nil && !m.onDemand {
		m.setUpfront(reg, false)
	}
}

// setUpfront marks the public names of reg to be kept up front and wakes
// the loop. With all, every host counts (Start); else only hosts not kept
// yet (a reload with on_demand off).
func (m *Manager) setUpfront(reg *sites.Registry, all bool) {
	m.mu.Lock()
	for _, s := range reg.All() {
		for _, h := range s.Hosts {
			if !certmagic.SubjectQualifiesForPublicCert(h) {
				if all {
					m.log.Warn("host cannot get a certificate from a public CA; HTTPS fails for it", "site", s.Name, "host", h)
				}
				continue
			}
			if _, kept := m.names[h]; all || !kept {
				m.names[h] = true
			}
		}
	}
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// loop is the Manager's one long-lived goroutine: it starts up-front
// issuances that are due (acme) or renews local leaves (self-signed).
func (m *Manager) loop() {
	defer m.wg.Done()
	every := sweepEvery
	if m.mode == "self-signed" {
		every = leafCheckEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.sweep()
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

func (m *Manager) sweep() {
	defer func() {
		if r := recover(); r != nil {
			m.log.Error("certificate maintenance panicked", "panic", r)
		}
	}()
	if m.mode == "self-signed" {
		m.renewLeaves()
		return
	}
	m.mu.Lock()
	var due []string
	for name, upfront := range m.names {
		if upfront && !m.backedOffLocked(name) {
			due = append(due, name)
		}
	}
	m.mu.Unlock()
	sort.Strings(due)
	for _, name := range due {
		if m.acme.Load().cached(name) {
			continue
		}
		m.ensureAsync(name, false)
	}
}

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	return Stats{
		Obtained:  m.c.obtained.Load(),
		Renewed:   m.c.renewed.Load(),
		Failed:    m.c.failed.Load(),
		Refused:   m.c.refused.Load(),
		Limited:   m.c.limited.Load(),
		BackedOff: m.c.backedOff.Load(),
	}
}

// Certificates lists the certificates being served, one per name, for
// expiry metrics.
func (m *Manager) Certificates() []Certificate {
	var out []Certificate
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.acme.Load(); a != nil {
		for name := range m.names {
			for _, c := range a.cache.AllMatchingCertificates(name) {
				if c.Leaf != nil {
					out = append(out, Certificate{Name: name, NotAfter: c.Leaf.NotAfter, Issuer: c.Leaf.Issuer.CommonName})
					break
				}
			}
		}
	}
	for name, c := range m.leaves {
		out = append(out, Certificate{Name: name, NotAfter: c.Leaf.NotAfter, Issuer: c.Leaf.Issuer.CommonName})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CAPath returns the file of the local CA certificate in self-signed mode
// (what users trust), or "" before Start and in acme mode.
func (m *Manager) CAPath() string {
	if m.ca == nil {
		return ""
	}
	return m.ca.CertPath()
}
