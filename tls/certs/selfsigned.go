package certs

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/awningproxy/awning/tls/localca"
)

// leaf returns the local CA's certificate for name (a host a site claims),
// from memory, else from disk or freshly signed. Concurrent first calls for
// one name collapse into one.
func (m *Manager) leaf(name string) (*tls.Certificate, error) {
	m.mu.Lock()
	c := m.leaves[name]
	m.mu.Unlock()
	if c != nil {
		return c, nil
	}
	v, err, _ := m.flights.Do("leaf:"+name, func() (any, error) {
		c, err := m.ca.Leaf(name)
		if err != nil {
			return nil, fmt.Errorf("certs: local certificate for %s: %w", name, err)
		}
		m.mu.Lock()
		_, had := m.leaves[name]
		if m.reg.Load().LookupString(name) != nil { // bounded by the registry
			m.leaves[name] = c
		}
		m.mu.Unlock()
		if !had {
			m.c.obtained.Add(1)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*tls.Certificate), nil
}

// renewLeaves replaces leaves that come within localca.RenewBefore of
// expiry.
func (m *Manager) renewLeaves() {
	soon := m.now().Add(localca.RenewBefore)
	m.mu.Lock()
	var due []string
	for name, c := range m.leaves {
		if c.Leaf.NotAfter.Before(soon) {
			due = append(due, name)
		}
	}
	m.mu.Unlock()
	for _, name := range due {
		c, err := m.ca.Leaf(name)
		if err != nil {
			m.log.Error("cannot renew local certificate", "host", name, "err", err)
			continue
		}
		m.mu.Lock()
		m.leaves[name] = c
		m.mu.Unlock()
		m.c.renewed.Add(1)
		m.log.Info("local certificate renewed", "host", name, "not_after", c.Leaf.NotAfter.Format(time.RFC3339))
	}
}
