package redisstore

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLockLost is returned by Unlock and RenewLockLease when the lock expired
// and may since have been taken by another holder.
var ErrLockLost = errors.New("redisstore: lock lost (expired before it was released)")

// heldLock is a lock this Store holds, with the watchdog that extends it.
type heldLock struct {
	key   string
	token string
	stop  chan struct{}
	done  chan struct{}
	lost  atomic.Bool
}

// counters are the Store's lock events, for metrics.
type counters struct {
	acquired, lost, recovered atomic.Uint64
	waiting                   atomic.Int64
}

// Stats are a Store's lock counters since New.
type Stats struct {
	// LocksAcquired counts successful Lock and TryLock calls.
	LocksAcquired uint64
	// LocksLost counts locks whose TTL ran out while held (a stall longer
	// than the TTL, or Redis losing its data).
	LocksLost uint64
	// LocksRecovered counts Lock calls that had to wait for another
	// holder's lock to expire or be released.
	LocksRecovered uint64
	// Held is the number of locks held now.
	Held int
	// Waiting is the number of Lock calls waiting for another holder now.
	Waiting int64
}

// Stats returns the lock counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	held := len(s.locks)
	s.mu.Unlock()
	return Stats{
		LocksAcquired:  s.counters.acquired.Load(),
		LocksLost:      s.counters.lost.Load(),
		LocksRecovered: s.counters.recovered.Load(),
		Held:           held,
		Waiting:        s.counters.waiting.Load(),
	}
}

func (s *Store) lockKey(name string) string { return s.prefix + "/lock/" + name }

func newToken() string {
	var b [16]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Lock takes the named lock, waiting while another holder has it, until ctx
// ends. A lock left by a holder that died expires after Options.LockTTL.
func (s *Store) Lock(ctx context.Context, name string) error {
	waited := false
	for {
		ok, err := s.TryLock(ctx, name)
		if ok {
			if waited {
				s.counters.recovered.Add(1)
			}
			return nil
		}
		if err != nil && ctx.Err() != nil {
			return err
		}
		// A Redis error is retried like a busy lock: certmagic gives up
		// only when its context says so, and Redis may be back by then.
		if !waited {
			waited = true
			s.counters.waiting.Add(1)
			defer s.counters.waiting.Add(-1)
		}
		jitter := time.Duration(rand.Int64N(int64(s.poll) / 2))
		t := time.NewTimer(s.poll/2 + jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("redisstore: lock %q: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// TryLock takes the named lock if it is free and reports whether it did.
func (s *Store) TryLock(ctx context.Context, name string) (bool, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, errors.New("redisstore: store is closed")
	}
	_, mine := s.locks[name]
	s.mu.Unlock()
	if mine {
		return false, nil // another goroutine of this node holds it
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	token := newToken()
	key := s.lockKey(name)
	ok, err := s.rdb.SetNX(cctx, key, token, s.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: lock %q: %w", name, err)
	}
	if !ok {
		return false, nil
	}
	l := &heldLock{key: key, token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed || s.locks[name] != nil {
		s.mu.Unlock()
		s.release(context.WithoutCancel(ctx), l)
		return false, nil
	}
	s.locks[name] = l
	s.mu.Unlock()
	s.counters.acquired.Add(1)
	go s.watch(name, l)
	return true, nil
}

// refreshScript extends a lock's TTL only while it still holds our token.
var refreshScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// unlockScript deletes a lock only while it still holds our token.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// watch extends l every third of the TTL until it is released, so that a
// live holder keeps its lock through long operations and a dead one loses
// it within one TTL.
func (s *Store) watch(name string, l *heldLock) {
	defer close(l.done)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("redisstore: lock watchdog panicked", "lock", name, "panic", r)
		}
	}()
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ok, err := s.refresh(context.Background(), l)
		switch {
		case err != nil:
			// Keep trying: the lock is still ours until its TTL runs out.
			s.log.Debug("redisstore: could not extend lock", "lock", name, "err", err)
		case !ok:
			s.counters.lost.Add(1)
			l.lost.Store(true)
			s.log.Warn("redisstore: lock expired while held; another node may take over the work", "lock", name)
			return
		}
	}
}

func (s *Store) refresh(ctx context.Context, l *heldLock) (bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	n, err := refreshScript.Run(ctx, s.rdb, []string{l.key}, l.token, s.ttl.Milliseconds()).Int()
	return n == 1, err
}

// RenewLockLease confirms the named lock is still held and extends it by
// the TTL. certmagic asks for leases of hours around its retries; the
// watchdog already keeps a live holder's lock, and a longer lease would
// only make others wait that long after the holder died.
func (s *Store) RenewLockLease(ctx context.Context, name string, _ time.Duration) error {
	s.mu.Lock()
	l := s.locks[name]
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("redisstore: renew lock %q: not held", name)
	}
	ok, err := s.refresh(ctx, l)
	if err != nil {
		return fmt.Errorf("redisstore: renew lock %q: %w", name, err)
	}
	if !ok {
		return fmt.Errorf("redisstore: renew lock %q: %w", name, ErrLockLost)
	}
	return nil
}

// Unlock releases the named lock. It returns ErrLockLost when the lock had
// expired (it is then left alone: it may be someone else's now).
func (s *Store) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	l := s.locks[name]
	delete(s.locks, name)
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("redisstore: unlock %q: not held", name)
	}
	close(l.stop)
	<-l.done
	if err := s.release(ctx, l); err != nil {
		return fmt.Errorf("redisstore: unlock %q: %w", name, err)
	}
	return nil
}

func (s *Store) release(ctx context.Context, l *heldLock) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	n, err := unlockScript.Run(ctx, s.rdb, []string{l.key}, l.token).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		if !l.lost.Swap(true) {
			s.counters.lost.Add(1)
		}
		return ErrLockLost
	}
	return nil
}

// Close stops every watchdog and releases the locks still held, for a node
// that shuts down cleanly (a killed node leaves them to expire).
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	held := s.locks
	s.locks = make(map[string]*heldLock)
	s.mu.Unlock()
	var errs []error
	for name, l := range held {
		close(l.stop)
		<-l.done
		if err := s.release(context.Background(), l); err != nil {
			errs = append(errs, fmt.Errorf("release %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
