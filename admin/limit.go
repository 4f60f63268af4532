package admin

import (
	"crypto/sha256"
	"sync"
	"time"
)

// A valid token is bounded too. Console sessions are kept until they
// expire, in this node's memory (at most state.SessionsConfig.MaxLocal,
// dropping those that expire first) and in Redis, and every sign-in and
// change is an entry in the audit log, which keeps the newest 10,000: a
// merchant signing in or saving its page without end would push out
// everyone else's sessions and the platform's audit trail. Each token may
// sign in signInBurst times on a node, then once per signInEvery, and a
// merchant token may change its sites changeBurst times, then once per
// changeEvery: far more than a person at the console does, far too few to
// flush anyone else's records. Ops tokens change without limit.
const (
	signInBurst = 20
	signInEvery = 2 * time.Minute
	changeBurst = 60
	changeEvery = 10 * time.Second
	// tokensTracked bounds the tokens a limiter remembers; those whose
	// allowance has refilled are forgotten first.
	tokensTracked = 4096
)

// tokenLimiter is a token bucket per token (by hash) on this node. The
// zero value is not usable; burst and every must be set.
type tokenLimiter struct {
	burst float64
	every time.Duration

	mu     sync.Mutex
	tokens map[[sha256.Size]byte]*tokenAllowance
}

type tokenAllowance struct {
	left float64
	at   time.Time
}

func (l *tokenLimiter) refilled(a *tokenAllowance, now time.Time) float64 {
	return min(l.burst, a.left+float64(now.Sub(a.at))/float64(l.every))
}

// take uses one of the allowance of the token whose hash is h: 0 when it
// may act now, else how long until it may (and nothing is used).
func (l *tokenLimiter) take(h [sha256.Size]byte, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.tokens[h]
	if a == nil {
		if l.tokens == nil {
			l.tokens = map[[sha256.Size]byte]*tokenAllowance{}
		}
		if len(l.tokens) >= tokensTracked {
			for k, x := range l.tokens {
				if l.refilled(x, now) >= l.burst {
					delete(l.tokens, k)
				}
			}
		}
		if len(l.tokens) >= tokensTracked {
			// Every token remembered is still spending: forget one
			// rather than grow. It takes thousands of valid tokens
			// busy at once to get here.
			for k := range l.tokens {
				delete(l.tokens, k)
				break
			}
		}
		a = &tokenAllowance{left: l.burst, at: now}
		l.tokens[h] = a
	}
	left := l.refilled(a, now)
	if left < 1 {
		return time.Duration((1 - left) * float64(l.every))
	}
	a.left, a.at = left-1, now
	return 0
}
