package admin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/awningproxy/awning/config"
)

// Guessing a token is hopeless (128 bits and more), but the console may be
// open to merchants on listen.console, and a client that keeps failing is
// either guessing or misconfigured: either way it is slowed down and seen.
// Each client address may fail authentication guessBurst times, then once
// per guessEvery; past that it is answered 429 with Retry-After before its
// credential is even looked at. A success does not reset the count:
// guessing with one good token at hand must not buy more guesses.
const (
	guessBurst = 10
	guessEvery = 6 * time.Second
	// guessTracked bounds the addresses remembered; when full, those whose
	// allowance has refilled are forgotten first, then the oldest.
	guessTracked = 4096
	// guessLogEvery bounds the log lines about refused clients.
	guessLogEvery = time.Minute
)

// guessLimiter counts failed authentications per client address (IPv6 by
// its /64, which one client can change at will within).
type guessLimiter struct {
	mu      sync.Mutex
	clients buckets[netip.Prefix] // guessBurst, guessEvery, guessTracked
	logged  time.Time             // the last log line about refused clients
	quiet   int                   // refusals since then
	// failed and refused count for metrics and tests.
	failed, refused uint64
}

// clientPrefix is the key of r's client: the address the request came
// from, or, from a trusted proxy, the nearest address before the trusted
// ones in X-Forwarded-For.
func clientPrefix(r *http.Request, trusted []config.Prefix) netip.Prefix {
	addr := remoteAddr(r.RemoteAddr)
	if isTrusted(addr, trusted) {
		hops := r.Header.Values("X-Forwarded-For")
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return prefixOf(addr) // unreadable: the proxy is the client
				}
				if a = a.Unmap(); !isTrusted(a, trusted) {
					return prefixOf(a)
				}
				addr = a
			}
		}
	}
	return prefixOf(addr)
}

func remoteAddr(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []config.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func prefixOf(a netip.Addr) netip.Prefix {
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// wait returns how long the client must wait before it may try again; 0
// when it may try now.
func (l *guessLimiter) wait(client netip.Prefix, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.clients.wait(client, now)
	if d > 0 {
		l.refused++
	}
	return d
}

// fail records a failed authentication of client.
func (l *guessLimiter) fail(client netip.Prefix, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed++
	if l.clients.tracked == 0 {
		l.clients = buckets[netip.Prefix]{burst: guessBurst, every: guessEvery, tracked: guessTracked}
	}
	l.clients.spend(client, now)
}

// shouldLog reports whether a refusal may be logged now, and how many
// went unlogged before it.
func (l *guessLimiter) shouldLog(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.logged) < guessLogEvery {
		l.quiet++
		return false, 0
	}
	n := l.quiet
	l.logged, l.quiet = now, 0
	return true, n
}

// counts returns the failed authentications and the refusals so far.
func (l *guessLimiter) counts() (failed, refused uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed, l.refused
}

// refuseGuess answers 429 when r's client has failed too often, and
// reports whether it did.
func (s *Server) refuseGuess(w http.ResponseWriter, r *http.Request, v *view) bool {
	now := s.now()
	client := clientPrefix(r, trustedOf(v))
	d := s.guesses.wait(client, now)
	if d <= 0 {
		return false
	}
	if ok, unlogged := s.guesses.shouldLog(now); ok {
		s.log.Warn("admin: refusing a client that failed to authenticate too often", "client", client.String(), "retry_after", d.Round(time.Second), "refused_since_last_log", unlogged)
	}
	writeTooMany(w, d, "too many failed sign-ins or invalid tokens from this address")
	return true
}

// failedAuth records that r's client presented a credential that is not
// valid.
func (s *Server) failedAuth(r *http.Request, v *view) {
	s.guesses.fail(clientPrefix(r, trustedOf(v)), s.now())
}

func trustedOf(v *view) []config.Prefix {
	if v == nil || v.cfg == nil {
		return nil
	}
	return v.cfg.TrustedProxies
}
