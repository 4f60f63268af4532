package certs

import (
	"errors"
	"fmt"
	"time"
)

// Handshake refusals. They reach the client only as a failed handshake; the
// counters tell them apart.
var (
	errUnknownName = errors.New("certs: no site serves this name")
	errNoOnDemand  = errors.New("certs: on-demand certificates are off and this name is not managed")
	errBackoff     = errors.New("certs: issuance for this name failed recently; waiting before the next try")
	errRateLimited = errors.New("certs: on-demand issuance rate limit reached")
	errClosed      = errors.New("certs: manager is closed")
)

// failure is a name's entry in the negative cache.
type failure struct {
	until time.Time
	n     int // failures in a row
	err   error
}

// backedOffLocked reports whether name is in the negative cache. m.mu must be
// held.
func (m *Manager) backedOffLocked(name string) bool {
	f, ok := m.failures[name]
	return ok && m.now().Before(f.until)
}

// recordFailure puts name in the negative cache for a backoff that doubles
// with each failure in a row, from backoffFirst up to backoffMax. It logs
// the failure (once per failure, never per handshake) and returns the wait.
func (m *Manager) recordFailure(name string, err error) time.Duration {
	m.mu.Lock()
	f := m.failures[name]
	f.n++
	wait := backoffFirst
	for i := 1; i < f.n && wait < backoffMax; i++ {
		wait *= 2
	}
	wait = min(wait, backoffMax)
	f.until, f.err = m.now().Add(wait), err
	if m.reg.Load().LookupString(name) != nil { // bounded by the registry
		m.failures[name] = f
	}
	m.mu.Unlock()
	m.log.Warn("no certificate for host; will try again", "host", name, "err", err, "retry_in", wait, "failures", f.n)
	return wait
}

func (m *Manager) clearFailure(name string) {
	m.mu.Lock()
	delete(m.failures, name)
	m.mu.Unlock()
}

// limiter is a token bucket: burst tokens, refilled at burst per window. It
// is not safe for concurrent use; Manager.mu guards it.
type limiter struct {
	burst  float64
	perSec float64
	tokens float64
	last   time.Time
}

func newLimiter(burst int, window time.Duration, now time.Time) *limiter {
	return &limiter{burst: float64(burst), perSec: float64(burst) / window.Seconds(), tokens: float64(burst), last: now}
}

// take spends a token if there is one; else it reports how long until the
// next one.
func (l *limiter) take(now time.Time) (bool, time.Duration) {
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.tokens = min(l.burst, l.tokens+el*l.perSec)
		l.last = now
	}
	if l.tokens >= 1 {
		l.tokens--
		return true, 0
	}
	return false, time.Duration((1 - l.tokens) / l.perSec * float64(time.Second))
}

// allowIssue spends an on-demand issuance token. When none is left the name
// waits in the negative cache until one is due (without counting a
// failure), so that its handshakes do not ask again and again.
func (m *Manager) allowIssue(name string) error {
	m.mu.Lock()
	ok, wait := m.limiter.take(m.now())
	if !ok {
		wait = max(wait, limitedRetry)
		f := m.failures[name]
		f.until, f.err = m.now().Add(wait), errRateLimited
		m.failures[name] = f
	}
	m.mu.Unlock()
	if !ok {
		m.c.limited.Add(1)
		m.log.Warn("on-demand certificate refused: issuance rate limit reached", "host", name, "retry_in", wait,
			"limit", fmt.Sprintf("%d per %s", m.cfg.OnDemandLimit, m.cfg.OnDemandWindow))
		return errRateLimited
	}
	return nil
}

// decide is the on-demand decision (certmagic calls its equivalent
// DecisionFunc): may a handshake for name lead to an issuance? It reads
// only memory: the registry, the names kept, the negative cache.
func (m *Manager) decide(name string) (upfront bool, err error) {
	if m.reg.Load().LookupString(name) == nil {
		m.c.refused.Add(1)
		return false, errUnknownName
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	upfront, kept := m.names[name]
	if !kept && !m.onDemand {
		m.c.refused.Add(1)
		return false, errNoOnDemand
	}
	if m.backedOffLocked(name) {
		m.c.backedOff.Add(1)
		return upfront, errBackoff
	}
	return upfront, nil
}
