package redisstore

import (
	"context"
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/state"
	"github.com/redis/go-redis/v9"
)

// newStore returns a Store on its own client to r, closed with the test.
func newStore(t *testing.T, r *testkit.Redis, opt Options) (*Store, redis.UniversalClient) {
	t.Helper()
	rdb, err := state.OpenRedis(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(rdb, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		rdb.Close()
	})
	return s, rdb
}

// admin is a plain client for inspecting and changing Redis behind a
// Store's back.
func admin(t *testing.T, r *testkit.Redis) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStorageSemantics(t *testing.T) {
	r := testkit.StartRedis(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, rdb := newStore(t, r, Options{Now: func() time.Time { return at }})
	ctx := ctxT(t)
	files := map[string]string{
		"a/b/c.txt": "c", "a/b/d.txt": "dd", "a/e.txt": "eee", "f.txt": "ffff", "ab/x": "x",
	}
	for k, v := range files {
		if err := s.Store(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}

	for k, v := range files {
		got, err := s.Load(ctx, k)
		if err != nil || string(got) != v {
			t.Errorf("Load(%q) = %q, %v; want %q", k, got, err, v)
		}
	}
	if _, err := s.Load(ctx, "a/b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a directory: %v; want fs.ErrNotExist", err)
	}
	if _, err := s.Load(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(nope): %v; want fs.ErrNotExist", err)
	}

	for _, tt := range []struct {
		key  string
		want bool
	}{
		{"a", true}, {"a/b", true}, {"a/b/c.txt", true}, {"ab", true}, {"f.txt", true},
		{"a/b/c", false}, {"a/bb", false}, {"nope", false}, {"f", false},
	} {
		if got := s.Exists(ctx, tt.key); got != tt.want {
			t.Errorf("Exists(%q) = %v; want %v", tt.key, got, tt.want)
		}
	}

	info, err := s.Stat(ctx, "a/e.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsTerminal || info.Size != 3 || !info.Modified.Equal(at) || info.Key != "a/e.txt" {
		t.Errorf("Stat(file) = %+v; want terminal, size 3, modified %s", info, at)
	}
	if info, err := s.Stat(ctx, "a/b"); err != nil || info.IsTerminal {
		t.Errorf("Stat(dir) = %+v, %v; want a non-terminal key", info, err)
	}
	if _, err := s.Stat(ctx, "a/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) = %v; want fs.ErrNotExist", err)
	}

	for _, tt := range []struct {
		dir       string
		recursive bool
		want      []string
	}{
		{"a", false, []string{"a/b", "a/e.txt"}},
		{"a", true, []string{"a/b", "a/b/c.txt", "a/b/d.txt", "a/e.txt"}},
		{"a/b", false, []string{"a/b/c.txt", "a/b/d.txt"}},
		{"", false, []string{"a", "ab", "f.txt"}},
	} {
		got, err := s.List(ctx, tt.dir, tt.recursive)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("List(%q, %v) = %q, %v; want %q", tt.dir, tt.recursive, got, err, tt.want)
		}
	}
	if _, err := s.List(ctx, "nope", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List(nope) = %v; want fs.ErrNotExist", err)
	}

	if err := s.Store(ctx, "a/e.txt", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "a/e.txt"); string(got) != "new" {
		t.Errorf("after overwrite: %q; want new", got)
	}

	if err := s.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.List(ctx, "a", true); err != nil || !reflect.DeepEqual(got, []string{"a/e.txt"}) {
		t.Errorf("after Delete(a/b): List(a) = %q, %v", got, err)
	}
	if s.Exists(ctx, "a/b/c.txt") {
		t.Error("a/b/c.txt survived Delete(a/b)")
	}
	if err := s.Delete(ctx, "a/b"); err != nil {
		t.Errorf("Delete of a missing key: %v; want nil", err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if !s.Exists(ctx, "ab/x") {
		t.Error("Delete(a) removed ab/x: a prefix is a whole path component")
	}

	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, DefaultPrefix) {
			t.Errorf("key %q is outside the hash tag %s", k, DefaultPrefix)
		}
	}
}

func TestContextIsHonoured(t *testing.T) {
	r := testkit.StartRedis(t)
	s, _ := newStore(t, r, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Store(ctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Errorf("Store with a canceled context: %v; want context.Canceled", err)
	}
	if _, err := s.Load(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context: %v; want context.Canceled", err)
	}
	if err := s.Lock(ctx, "l"); err == nil {
		t.Error("Lock with a canceled context succeeded")
	}
}

func TestLockExcludesAndUnlockReleases(t *testing.T) {
	r := testkit.StartRedis(t)
	a, _ := newStore(t, r, Options{LockPoll: 20 * time.Millisecond})
	b, _ := newStore(t, r, Options{LockPoll: 20 * time.Millisecond})
	ctx := ctxT(t)
	if err := a.Lock(ctx, "issue_cert_shop.example"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "issue_cert_shop.example"); ok || err != nil {
		t.Fatalf("TryLock while held = %v, %v; want false", ok, err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "issue_cert_shop.example"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while held = %v; want the context's deadline", err)
	}
	if err := b.Lock(ctx, "another_name"); err != nil {
		t.Fatalf("a different name: %v", err)
	}

	got := make(chan error, 1)
	go func() { got <- b.Lock(ctx, "issue_cert_shop.example") }()
	for b.Stats().Waiting == 0 { // b must be waiting, or it never has to recover the lock
		time.Sleep(time.Millisecond)
	}
	if err := a.Unlock(ctx, "issue_cert_shop.example"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if st := b.Stats(); st.LocksRecovered != 1 || st.Held != 2 {
		t.Errorf("b stats = %+v; want 1 recovered, 2 held", st)
	}
	if err := a.Unlock(ctx, "issue_cert_shop.example"); err == nil {
		t.Error("Unlock of a lock a no longer holds succeeded")
	}
}

// TestWatchdogKeepsLiveLock holds a lock for several TTLs: the watchdog
// must keep it.
func TestWatchdogKeepsLiveLock(t *testing.T) {
	r := testkit.StartRedis(t)
	ttl := 300 * time.Millisecond
	a, _ := newStore(t, r, Options{LockTTL: ttl})
	b, _ := newStore(t, r, Options{LockTTL: ttl})
	ctx := ctxT(t)
	if err := a.Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * ttl)
	if ok, err := b.TryLock(ctx, "x"); ok || err != nil {
		t.Fatalf("TryLock after 4 TTLs = %v, %v; want false: the holder is alive", ok, err)
	}
	if err := a.RenewLockLease(ctx, "x", time.Hour); err != nil {
		t.Errorf("RenewLockLease: %v", err)
	}
	if pttl := admin(t, r).PTTL(ctx, DefaultPrefix+"/lock/x").Val(); pttl > ttl || pttl <= 0 {
		t.Errorf("lock TTL after RenewLockLease = %s; want at most %s (a dead holder must not block for an hour)", pttl, ttl)
	}
	if err := a.Unlock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
}

// TestLockOfKilledNodeRecovered kills a holder (its Redis connection goes
// away without Unlock, as with SIGKILL): another node gets the lock once the
// TTL runs out.
func TestLockOfKilledNodeRecovered(t *testing.T) {
	r := testkit.StartRedis(t)
	ttl := 500 * time.Millisecond
	a, ardb := newStore(t, r, Options{LockTTL: ttl})
	b, _ := newStore(t, r, Options{LockTTL: ttl, LockPoll: 50 * time.Millisecond})
	ctx := ctxT(t)
	if err := a.Lock(ctx, "issue_cert_shop.example"); err != nil {
		t.Fatal(err)
	}
	ardb.Close() // the node is gone: no more watchdog extensions, no Unlock

	if err := b.Lock(ctx, "issue_cert_shop.example"); err != nil {
		t.Fatalf("Lock after the holder died: %v; want it recovered after the TTL", err)
	}
	if st := b.Stats(); st.LocksRecovered != 1 {
		t.Errorf("b stats = %+v; want the lock counted as recovered", st)
	}
	if err := b.Unlock(ctx, "issue_cert_shop.example"); err != nil {
		t.Fatal(err)
	}
}

// TestUnlockNeverReleasesAnothersLock lets a's lock expire (a stall longer
// than the TTL), has b take it, and checks a's Unlock leaves b's lock alone.
func TestUnlockNeverReleasesAnothersLock(t *testing.T) {
	r := testkit.StartRedis(t)
	a, _ := newStore(t, r, Options{})
	b, _ := newStore(t, r, Options{})
	ctx := ctxT(t)
	if err := a.Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	admin(t, r).Del(ctx, DefaultPrefix+"/lock/x") // what a TTL running out during a stall does
	if ok, err := b.TryLock(ctx, "x"); !ok || err != nil {
		t.Fatalf("b.TryLock = %v, %v", ok, err)
	}
	if err := a.Unlock(ctx, "x"); !errors.Is(err, ErrLockLost) {
		t.Errorf("a.Unlock = %v; want ErrLockLost", err)
	}
	if ok, _ := a.TryLock(ctx, "x"); ok {
		t.Error("a.Unlock released b's lock")
	}
	if st := a.Stats(); st.LocksLost != 1 {
		t.Errorf("a stats = %+v; want one lost lock", st)
	}
}

// TestRedisKilledAndRestarted kills Redis under a store: calls fail within
// their deadline with an error that is not fs.ErrNotExist, a waiting Lock
// honours its context, and once Redis is back (empty) the store works again
// and a lock held across the restart is reported lost.
func TestRedisKilledAndRestarted(t *testing.T) {
	r := testkit.StartRedis(t)
	s, _ := newStore(t, r, Options{LockTTL: 300 * time.Millisecond, LockPoll: 50 * time.Millisecond, Timeout: time.Second})
	ctx := ctxT(t)
	if err := s.Store(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(ctx, "held"); err != nil {
		t.Fatal(err)
	}

	r.Stop()
	start := time.Now()
	_, err := s.Load(ctx, "k")
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load with Redis down = %v; want a connection error, not fs.ErrNotExist", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Load with Redis down took %s; want it bounded by the call timeout", d)
	}
	if s.Exists(ctx, "k") {
		t.Error("Exists with Redis down = true")
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.Lock(short, "other"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock with Redis down = %v; want the context's deadline", err)
	}

	r.Restart()
	testkit.WaitFor(t, 5*time.Second, "the store to work again", func() bool { return s.Store(ctx, "k2", []byte("v2")) == nil })
	if _, err := s.Load(ctx, "k"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load after an empty restart = %v; want fs.ErrNotExist", err)
	}
	testkit.WaitFor(t, 5*time.Second, "the watchdog to notice the lost lock", func() bool { return s.Stats().LocksLost == 1 })
	if err := s.Unlock(ctx, "held"); !errors.Is(err, ErrLockLost) {
		t.Errorf("Unlock of a lock lost in the restart = %v; want ErrLockLost", err)
	}
	if err := s.Lock(ctx, "held"); err != nil {
		t.Errorf("Lock after the restart: %v", err)
	}
}

func TestNewRejectsPrefixWithoutHashTag(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	if _, err := New(rdb, Options{Prefix: "awning-certs"}); err == nil {
		t.Error("New accepted a prefix without a hash tag")
	}
}
