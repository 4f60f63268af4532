package state

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// keySession + the hash of a session's kind and ID: one record with a TTL.
const keySession = "{awning-state}:session:"

// Session is a browser's sign-in to the console: which token it signed in
// with (by hash, never the token) and until when. One-time sign-in links
// and the console's preview drafts are kept the same way.
type Session struct {
	// Token is the hex SHA-256 of the token the browser signed in with;
	// each request finds the token by it again, so a token revoked or
	// changed in the config ends its sessions at once.
	Token string `json:"token"`
	// Name is the token's name when the session began.
	Name string `json:"name"`
	// CSRF is the value cookie-authenticated changes must send back in a
	// header (a secret a page on another origin cannot read).
	CSRF    string    `json:"csrf,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Data is what a record carries beyond the sign-in: a preview draft.
	Data []byte `json:"data,omitempty"`
}

// SessionsConfig builds Sessions.
type SessionsConfig struct {
	// Redis shares sessions between nodes; nil keeps them on this node.
	Redis redis.UniversalClient
	// MaxLocal bounds the sessions kept in this node's memory. Default
	// 10,000; past it, the ones that expire first are dropped.
	MaxLocal int
	// Log receives Redis errors. Default slog.Default().
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Sessions keeps console sessions and one-time sign-in links by ID, each
// until it expires. Records are stored under the SHA-256 of their ID, so
// neither Redis nor a memory dump holds a usable cookie.
//
// With Redis, every node accepts a session any node created (behind a load
// balancer a browser may reach any of them), and a sign-out on one node
// ends it on all. Each node also keeps what it wrote or read in memory and
// falls back on that while Redis does not answer, so that a Redis outage —
// when ops most need the console — does not sign everyone out; a session
// ended elsewhere during such an outage may then live on here until it
// expires. Without Redis, sessions live in this node's memory only and end
// when it restarts.
//
// Sessions is safe for concurrent use; it starts no goroutine.
type Sessions struct {
	cfg SessionsConfig

	mu        sync.Mutex
	local     map[string]Session // by key
	downUntil time.Time          // Redis failed: until then, ask only memory
}

// Bounds of a Redis call for a session, and how long a failed one sends
// lookups to memory only: a console page makes several calls, and each
// must not wait out Redis' retries.
const (
	sessionRedisTimeout = 300 * time.Millisecond
	sessionRedisPause   = 2 * time.Second
)

// redisUp reports whether to ask Redis now.
func (s *Sessions) redisUp() bool {
	if s.cfg.Redis == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.cfg.Now().Before(s.downUntil)
}

func (s *Sessions) redisFailed(what string, err error) {
	s.mu.Lock()
	s.downUntil = s.cfg.Now().Add(sessionRedisPause)
	s.mu.Unlock()
	s.cfg.Log.Warn("console sessions: redis unavailable; "+what, "err", err)
}

// NewSessions builds a session store.
func NewSessions(cfg SessionsConfig) *Sessions {
	if cfg.MaxLocal <= 0 {
		cfg.MaxLocal = 10_000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sessions{cfg: cfg, local: map[string]Session{}}
}

// Shared reports whether sessions are shared through Redis.
func (s *Sessions) Shared() bool { return s.cfg.Redis != nil }

func sessionKey(kind, id string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + id))
	return keySession + hex.EncodeToString(sum[:])
}

// Put stores v under kind and id until v.Expires. With Redis down it is
// kept on this node only, and Put still succeeds: the caller's browser
// can go on here.
func (s *Sessions) Put(ctx context.Context, kind, id string, v Session) error {
	ttl := v.Expires.Sub(s.cfg.Now())
	if ttl <= 0 {
		return errors.New("state: session already expired")
	}
	key := sessionKey(kind, id)
	s.keep(key, v)
	if s.cfg.Redis == nil {
		return nil
	}
	if !s.redisUp() {
		return nil
	}
	data, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(ctx, sessionRedisTimeout)
	defer cancel()
	if err := s.cfg.Redis.Set(ctx, key, data, ttl).Err(); err != nil {
		s.redisFailed("kept on this node only", err)
	}
	return nil
}

// Get returns the record under kind and id, if there is one that has not
// expired.
func (s *Sessions) Get(ctx context.Context, kind, id string) (Session, bool) {
	return s.read(ctx, kind, id, false)
}

// Take returns the record under kind and id and removes it, so that it
// can be used once (a sign-in link): of two nodes taking it at once, one
// gets it.
func (s *Sessions) Take(ctx context.Context, kind, id string) (Session, bool) {
	return s.read(ctx, kind, id, true)
}

func (s *Sessions) read(ctx context.Context, kind, id string, take bool) (Session, bool) {
	key := sessionKey(kind, id)
	if s.redisUp() {
		ctx, cancel := context.WithTimeout(ctx, sessionRedisTimeout)
		defer cancel()
		var data string
		var err error
		if take {
			data, err = s.cfg.Redis.GetDel(ctx, key).Result()
		} else {
			data, err = s.cfg.Redis.Get(ctx, key).Result()
		}
		switch {
		case errors.Is(err, redis.Nil):
			s.forget(key) // ended or taken on another node
			return Session{}, false
		case err == nil:
			var v Session
			if json.Unmarshal([]byte(data), &v) != nil {
				return Session{}, false
			}
			if take {
				s.forget(key)
			} else {
				s.keep(key, v)
			}
			return v, s.cfg.Now().Before(v.Expires)
		default:
			s.redisFailed("looked up on this node only", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.local[key]
	if !ok || !s.cfg.Now().Before(v.Expires) {
		delete(s.local, key)
		return Session{}, false
	}
	if take {
		delete(s.local, key)
	}
	return v, true
}

// Delete removes the record under kind and id everywhere it can: the error
// says Redis could not be reached (it is gone from this node all the same).
func (s *Sessions) Delete(ctx context.Context, kind, id string) error {
	key := sessionKey(kind, id)
	s.forget(key)
	if s.cfg.Redis == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sessionRedisTimeout)
	defer cancel()
	if err := s.cfg.Redis.Del(ctx, key).Err(); err != nil {
		s.redisFailed("ended on this node only", err)
		return err
	}
	return nil
}

func (s *Sessions) keep(key string, v Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.local[key] = v
	if len(s.local) <= s.cfg.MaxLocal {
		return
	}
	now := s.cfg.Now()
	for k, x := range s.local {
		if !now.Before(x.Expires) {
			delete(s.local, k)
		}
	}
	for len(s.local) > s.cfg.MaxLocal {
		first := ""
		for k, x := range s.local {
			if first == "" || x.Expires.Before(s.local[first].Expires) {
				first = k
			}
		}
		delete(s.local, first)
	}
}

func (s *Sessions) forget(key string) {
	s.mu.Lock()
	delete(s.local, key)
	s.mu.Unlock()
}
