package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"

	"github.com/awningproxy/awning/config"
	"github.com/caddyserver/certmagic"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// acmeState is certmagic, set up for one Manager.
type acmeState struct {
	cache     *certmagic.Cache
	magic     *certmagic.Config
	iss       *certmagic.ACMEIssuer
	challenge fasthttp.RequestHandler
}

func (m *Manager) newACME() *acmeState {
	zl := zap.New(newSlogCore(m.log))
	a := &acmeState{}
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		Logger:           zl,
	})
	storage := certmagic.Storage(&certmagic.FileStorage{Path: m.dir})
	var local certmagic.Storage
	if m.shared != nil {
		storage, local = m.shared, storage // the directory becomes the local copy
	}
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage:    storage,
		LocalCache: local,
		KeySource:  certmagic.StandardKeyGenerator{KeyType: certmagic.P256},
		OnEvent:    m.onEvent,
		// Only the events onEvent acts on: certmagic otherwise builds a
		// map for every handshake (tls_get_certificate).
		ShouldEmitFunc: func(event string) bool {
			return event == "cert_obtaining" || event == "cert_obtained" || event == "cert_failed"
		},
		Logger: zl,
	})
	has := func(ch string) bool {
		for _, c := range m.cfg.Challenges {
			if c == ch {
				return true
			}
		}
		return false
	}
	// The challenge ports are Awning's own listeners: certmagic's solvers
	// find them taken and leave the answering to HandleHTTPChallenge and
	// GetCertificate, instead of opening listeners of their own.
	a.iss = certmagic.NewACMEIssuer(a.magic, certmagic.ACMEIssuer{
		CA:                      m.cfg.CA,
		Email:                   m.cfg.Email,
		Agreed:                  m.cfg.AgreeTerms,
		TrustedRoots:            m.roots,
		DisableHTTPChallenge:    !has(config.ChallengeHTTP01),
		DisableTLSALPNChallenge: !has(config.ChallengeTLSALPN01),
		ListenHost:              m.httpHost,
		AltHTTPPort:             m.httpPort,
		AltTLSALPNPort:          m.tlsPort,
		Logger:                  zl,
	})
	a.magic.Issuers = []certmagic.Issuer{a.iss}
	a.challenge = fasthttpadaptor.NewFastHTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.iss.HandleHTTPChallenge(w, r) {
			http.Error(w, "no such challenge", http.StatusNotFound)
		}
	})
	return a
}

// splitPort splits a listen address; an empty host stays empty.
func splitPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, err
	}
	return host, n, nil
}

// cached reports whether a managed certificate for name is in memory.
func (a *acmeState) cached(name string) bool {
	for _, c := range a.cache.AllMatchingCertificates(name) {
		if !c.Expired() {
			return true
		}
	}
	return false
}

var acmeChallengePrefix = []byte("/.well-known/acme-challenge/")

// HandleHTTPChallenge answers an ACME HTTP-01 challenge request, whichever
// node started the challenge, and reports whether it did. It answers only
// the challenge path; the caller has already checked that a site claims
// the host.
func (m *Manager) HandleHTTPChallenge(ctx *fasthttp.RequestCtx) bool {
	a := m.acme.Load()
	if a == nil || !bytes.HasPrefix(ctx.Path(), acmeChallengePrefix) {
		return false
	}
	a.challenge(ctx)
	return true
}

// ensureAsync starts keeping name in the background, or joins the run
// already under way for it, and returns the channel of its outcome. The
// run is the Manager's: Close waits for it, and it never runs after Close.
func (m *Manager) ensureAsync(name string, onDemand bool) <-chan singleflight.Result {
	return m.flights.DoChan(name, func() (any, error) {
		if !m.enter() {
			return nil, errClosed
		}
		defer m.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				m.log.Error("certificate issuance panicked", "host", name, "panic", r)
			}
		}()
		return nil, m.ensure(name, onDemand)
	})
}

// ensure loads name's certificate from storage into memory, or obtains
// it, within issueTimeout of the Manager's own lifetime (never a
// handshake's).
func (m *Manager) ensure(name string, onDemand bool) error {
	ctx, cancel := context.WithTimeout(m.ctx, issueTimeout)
	defer cancel()
	select {
	case m.sem <- struct{}{}:
		defer func() { <-m.sem }()
	case <-ctx.Done():
		return ctx.Err()
	}
	a := m.acme.Load()
	if a.cached(name) {
		return nil
	}
	m.mu.Lock()
	if _, kept := m.names[name]; !kept {
		m.names[name] = false // kept on demand from now on
	}
	m.mu.Unlock()

	_, err := a.magic.CacheManagedCertificate(ctx, name)
	if err == nil {
		m.clearFailure(name)
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("load from storage: %w", err)
		m.recordFailure(name, err)
		return err
	}
	if onDemand {
		if err := m.allowIssue(name); err != nil {
			return err
		}
	}
	if err := m.obtainOnce(ctx, name); err != nil {
		m.recordFailure(name, err)
		return err
	}
	if _, err := a.magic.CacheManagedCertificate(ctx, name); err != nil {
		err = fmt.Errorf("load after issuance: %w", err)
		m.recordFailure(name, err)
		return err
	}
	m.clearFailure(name)
	return nil
}

// attempt is one issuance under way, so that onEvent can end it at its
// first failure.
type attempt struct {
	cancel context.CancelFunc
	err    error
}

// obtainOnce makes one issuance attempt for name. certmagic offers one
// attempt only on its interactive path, which prompts on stdin for an
// e-mail address when none is configured; its background path retries for
// up to 30 days on a schedule of its own. Awning keeps its own schedule
// (the negative cache), so it takes the background path and cuts it short
// when the attempt fails (onEvent's cert_failed), returning that failure.
func (m *Manager) obtainOnce(ctx context.Context, name string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	at := &attempt{cancel: cancel}
	m.mu.Lock()
	m.attempts[name] = at
	m.mu.Unlock()
	err := m.acme.Load().magic.ObtainCertAsync(ctx, name)
	m.mu.Lock()
	delete(m.attempts, name)
	failed := at.err
	m.mu.Unlock()
	if failed != nil {
		return failed
	}
	return err
}

// onEvent turns certmagic's events into counters and one log line each.
func (m *Manager) onEvent(ctx context.Context, event string, data map[string]any) error {
	id, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch event {
	case "cert_obtaining":
		if renewal {
			m.log.Info("renewing certificate", "host", id, "remaining", data["remaining"])
		} else {
			m.log.Info("obtaining certificate", "host", id)
		}
	case "cert_obtained":
		if renewal {
			m.c.renewed.Add(1)
			m.log.Info("certificate renewed", "host", id, "issuer", data["issuer"])
		} else {
			m.c.obtained.Add(1)
			m.log.Info("certificate obtained", "host", id, "issuer", data["issuer"])
		}
	case "cert_failed":
		m.c.failed.Add(1)
		if renewal { // a failed issuance is logged once, with its retry, by ensure
			m.log.Warn("certificate renewal failed; certmagic retries with backoff, the current certificate keeps serving", "host", id, "err", data["error"], "remaining", data["remaining"])
		} else {
			err, _ := data["error"].(error)
			if err == nil {
				err = errors.New("issuance failed")
			}
			m.mu.Lock()
			if at := m.attempts[id]; at != nil && at.err == nil {
				at.err = err
				at.cancel()
			}
			m.mu.Unlock()
		}
	}
	return nil
}
