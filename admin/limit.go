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
	// tokensTracked bounds the tokens a limiter remembers (buckets).
	tokensTracked = 4096
)

// tokenLimiter is a token bucket per token (by hash) on this node.
type tokenLimiter struct {
	mu sync.Mutex
	b  buckets[[sha256.Size]byte]
}

func newTokenLimiter(burst float64, every time.Duration) tokenLimiter {
	return tokenLimiter{b: buckets[[sha256.Size]byte]{burst: burst, every: every, tracked: tokensTracked}}
}

// take uses one of the allowance of the token whose hash is h: 0 when it
// may act now, else how long until it may (and nothing is used).
func (l *tokenLimiter) take(h [sha256.Size]byte, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := l.b.wait(h, now); d > 0 {
		return d
	}
	l.b.spend(h, now)
	return 0
}

// buckets is a token bucket per key (a token's hash, a client's address):
// burst actions at once, then one per every. It remembers at most tracked
// keys: when full, those whose allowance has refilled are forgotten first,
// then the one seen longest ago. Its owner locks it.
type buckets[K comparable] struct {
	burst   float64
	every   time.Duration
	tracked int
	m       map[K]*allowance
}

// allowance is one key's bucket: actions left at the time it was last
// updated.
type allowance struct {
	left float64
	at   time.Time
}

func (b *buckets[K]) refilled(a *allowance, now time.Time) float64 {
	return min(b.burst, a.left+float64(now.Sub(a.at))/float64(b.every))
}

// wait returns how long until k may act; 0 when it may now.
func (b *buckets[K]) wait(k K, now time.Time) time.Duration {
	a := b.m[k]
	if a == nil {
		return 0
	}
	left := b.refilled(a, now)
	if left >= 1 {
		return 0
	}
	return time.Duration((1 - left) * float64(b.every))
}

// spend uses one of k's allowance, below nothing if it has none left.
func (b *buckets[K]) spend(k K, now time.Time) {
	a := b.m[k]
	if a == nil {
		if b.m == nil {
			b.m = map[K]*allowance{}
		}
		if len(b.m) >= b.tracked {
			b.forget(now)
		}
		a = &allowance{left: b.burst, at: now}
		b.m[k] = a
	}
	a.left, a.at = b.refilled(a, now)-1, now
}

// forget drops the keys whose allowance has refilled; if none has, the one
// seen longest ago.
func (b *buckets[K]) forget(now time.Time) {
	var oldest K
	var oldestAt time.Time
	for k, a := range b.m {
		if b.refilled(a, now) >= b.burst {
			delete(b.m, k)
			continue
		}
		if oldestAt.IsZero() || a.at.Before(oldestAt) {
			oldest, oldestAt = k, a.at
		}
	}
	if len(b.m) >= b.tracked {
		delete(b.m, oldest)
	}
}
