package state

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

func TestSessionsLocal(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC))
	s := NewSessions(SessionsConfig{Now: clock.Now, Log: quiet(), MaxLocal: 3})
	ctx := context.Background()
	v := Session{Token: "ab", Name: "ops", Created: clock.Now(), Expires: clock.Now().Add(time.Hour)}
	if err := s.Put(ctx, "session", "id1", v); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Get(ctx, "session", "id1"); !ok || got.Name != "ops" {
		t.Fatalf("Get = %+v, %v; want the session", got, ok)
	}
	if _, ok := s.Get(ctx, "link", "id1"); ok {
		t.Error("a session was found as a link: kinds must not mix")
	}
	if err := s.Put(ctx, "session", "old", Session{Expires: clock.Now().Add(-time.Second)}); err == nil {
		t.Error("Put of an expired session succeeded")
	}

	clock.Add(time.Hour)
	if _, ok := s.Get(ctx, "session", "id1"); ok {
		t.Error("the session outlived its expiry")
	}

	// One-time: Take gives it once.
	s.Put(ctx, "link", "code", Session{Expires: clock.Now().Add(time.Minute)})
	if _, ok := s.Take(ctx, "link", "code"); !ok {
		t.Fatal("Take did not find the link")
	}
	if _, ok := s.Take(ctx, "link", "code"); ok {
		t.Fatal("the link was taken twice")
	}

	// Bounded: past MaxLocal, the ones expiring first go.
	for i := range 5 {
		s.Put(ctx, "session", fmt.Sprint(i), Session{Expires: clock.Now().Add(time.Duration(i+1) * time.Minute)})
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := s.Get(ctx, "session", fmt.Sprint(i)); ok != want {
			t.Errorf("session %d kept = %v; want %v", i, ok, want)
		}
	}
}

// TestSessionsShared: a session made on one node works on another; signing
// out on one ends it on both; a link is taken once across nodes; with
// Redis down a node keeps accepting the sessions it knows.
func TestSessionsShared(t *testing.T) {
	r := testkit.StartRedis(t)
	node := func() *Sessions {
		c, err := OpenRedis(r.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return NewSessions(SessionsConfig{Redis: c, Log: quiet()})
	}
	a, b := node(), node()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if err := a.Put(ctx, "session", "s1", Session{Name: "ops", Expires: exp}); err != nil {
		t.Fatal(err)
	}
	if got, ok := b.Get(ctx, "session", "s1"); !ok || got.Name != "ops" {
		t.Fatalf("node b: Get = %+v, %v; want node a's session", got, ok)
	}
	if err := b.Delete(ctx, "session", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Get(ctx, "session", "s1"); ok {
		t.Fatal("node a still accepts a session signed out on node b")
	}

	a.Put(ctx, "link", "code", Session{Name: "bakkerij", Expires: exp})
	_, okA := a.Take(ctx, "link", "code")
	_, okB := b.Take(ctx, "link", "code")
	if !okA || okB {
		t.Fatalf("link taken by a: %v, by b: %v; want a only", okA, okB)
	}

	// Records are stored under a hash: the ID is nowhere in Redis.
	keys, _ := a.cfg.Redis.Keys(ctx, "*").Result()
	for _, k := range keys {
		if k == keySession+"s1" || k == keySession+"code" {
			t.Errorf("Redis key %q holds a session ID in the clear", k)
		}
	}

	a.Put(ctx, "session", "s2", Session{Name: "ops", Expires: exp})
	r.Stop()
	if _, ok := a.Get(ctx, "session", "s2"); !ok {
		t.Error("with Redis down, node a refuses the session it made")
	}
	if _, ok := b.Get(ctx, "session", "s2"); ok {
		t.Error("with Redis down, node b accepts a session it never saw")
	}
	if err := a.Put(ctx, "session", "s3", Session{Name: "ops", Expires: exp}); err != nil {
		t.Errorf("Put with Redis down: %v; want the session kept on this node", err)
	}
	if _, ok := a.Get(ctx, "session", "s3"); !ok {
		t.Error("a session made while Redis was down is not accepted on its node")
	}
}
