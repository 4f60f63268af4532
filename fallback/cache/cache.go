package cache

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
)

// Config builds a Cache.
type Config struct {
	// Memory bounds the in-memory tier, in bytes. Required.
	Memory int64
	// Redis is the shared tier; nil keeps copies in memory only.
	Redis redis.UniversalClient
	// Retention is how long Redis keeps a copy after it was last written.
	Retention time.Duration
	// RedisRefresh is how often an unchanged copy is written to Redis again,
	// which renews its retention there. A changed copy is written at once.
	RedisRefresh time.Duration
	// Log receives tier state changes. Default slog.Default().
	Log *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Cache holds last known good copies in two tiers: memory on this node and
// (optionally) Redis shared by all nodes. It is safe for concurrent use; the
// memory tier, its byte count and its counters live under one lock. Start
// runs the Redis writer; Close stops it.
type Cache struct {
	mu  sync.Mutex
	mem *memory
	// pending holds the pages whose copies are being built (Pending), by
	// the memory tier's hash of their key: Lookup waits for them.
	pending map[uint64]chan struct{}

	remote       *remote
	retention    time.Duration
	redisRefresh time.Duration
	log          *slog.Logger
	now          func() time.Time

	hits, misses, expired, evicted, stored, unchanged atomic.Uint64
	notStored                                         sync.Map // Reason → *atomic.Uint64
}

// New builds a Cache.
func New(cfg Config) *Cache {
	c := &Cache{
		mem:          newMemory(cfg.Memory),
		pending:      map[uint64]chan struct{}{},
		retention:    cfg.Retention,
		redisRefresh: cfg.RedisRefresh,
		log:          cfg.Log,
		now:          cfg.Now,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.Redis != nil {
		c.remote = newRemote(cfg.Redis, cfg.Retention, c.log)
	}
	return c
}

// Start runs the Redis writer, when there is a Redis tier.
func (c *Cache) Start() {
	if c.remote != nil {
		c.remote.start()
	}
}

// Close stops the Redis writer; queued writes are dropped.
func (c *Cache) Close() {
	if c.remote != nil {
		c.remote.close()
	}
}

// Shared reports whether copies are shared through Redis.
func (c *Cache) Shared() bool { return c.remote != nil }

// Resize changes the memory bound (on reload), evicting what no longer fits.
func (c *Cache) Resize(max int64) {
	c.mu.Lock()
	c.mem.max = max
	evicted := c.mem.evict()
	c.mu.Unlock()
	c.evicted.Add(uint64(len(evicted)))
}

// Lookup returns the memory tier's copy for a request, or nil. An expired
// copy is dropped and not returned. It does not allocate.
func (c *Cache) Lookup(k *Key, req *fasthttp.Request) *Copy {
	now := c.now()
	c.mu.Lock()
	if len(c.pending) > 0 {
		c.waitPendingLocked(k)
	}
	_, found := c.mem.variant(k, req)
	if found != nil && found.Expired(now) {
		c.mem.drop(k.Primary, found)
		found = nil
		c.expired.Add(1)
	}
	c.mu.Unlock()
	if found == nil {
		c.misses.Add(1)
	} else {
		c.hits.Add(1)
	}
	return found
}

// maxPendingWait bounds how long Lookup waits for a copy being built: the
// store worker builds one in well under a millisecond, unless it is queued
// behind many.
const maxPendingWait = time.Second

// Pending marks k's page as having a copy being built off the request
// path, after the answer that makes it was sent: until Store or Abandon for
// k, Lookup for k waits for it (at most maxPendingWait), so that a request
// that follows that answer finds the copy. Call it before the answer is
// sent.
func (c *Cache) Pending(k *Key) {
	h := c.mem.hash(k.Primary)
	c.mu.Lock()
	if c.pending[h] == nil {
		c.pending[h] = make(chan struct{})
	}
	c.mu.Unlock()
}

// Abandon ends k's Pending without a copy: the answer was not kept after
// all.
func (c *Cache) Abandon(k *Key) {
	c.mu.Lock()
	c.donePendingLocked(c.mem.hash(k.Primary))
	c.mu.Unlock()
}

func (c *Cache) donePendingLocked(h uint64) {
	if ch := c.pending[h]; ch != nil {
		close(ch)
		delete(c.pending, h)
	}
}

// waitPendingLocked waits, with c.mu released, while k's copy is being
// built. A wait that runs out drops the mark: its build is lost.
func (c *Cache) waitPendingLocked(k *Key) {
	h := c.mem.hash(k.Primary)
	ch := c.pending[h]
	if ch == nil {
		return
	}
	c.mu.Unlock()
	t := time.NewTimer(maxPendingWait)
	select {
	case <-ch:
	case <-t.C:
	}
	t.Stop()
	c.mu.Lock()
	if c.pending[h] == ch {
		c.donePendingLocked(h)
	}
}

// LookupRemote reads a request's copy from Redis, within ctx's deadline,
// and keeps it in memory too. It returns nil without Redis, while Redis is
// unavailable, or when no fresh copy is there.
func (c *Cache) LookupRemote(ctx context.Context, k *Key, req *fasthttp.Request) *Copy {
	if c.remote == nil {
		return nil
	}
	variants, err := c.remote.get(ctx, k.Primary)
	if err != nil || len(variants) == 0 {
		return nil
	}
	now := c.now()
	var found *Copy
	c.mu.Lock()
	for _, v := range variants {
		if v.Expired(now) {
			continue
		}
		if _, evicted := c.mem.put(k.Primary, v); len(evicted) > 0 {
			c.evicted.Add(uint64(len(evicted)))
		}
		if found == nil && v.matches(req, k.Lang) {
			found = v
		}
	}
	c.mu.Unlock()
	return found
}

// Recent returns the request's copy in memory when it was validated within
// d, else nil: a busy page is then not stored again, which bounds the cost
// of keeping copies to one store per page per d, however many shoppers ask.
func (c *Cache) Recent(k *Key, req *fasthttp.Request, d time.Duration) *Copy {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, v := c.mem.variant(k, req); v != nil && v.ValidatedWithin(now, d) {
		return v
	}
	return nil
}

// Revalidate marks the copy for req validated when the origin's answer,
// identified by WireSum, is the one the copy was built from, and returns
// it; nil when the answer is new. It spares Build's work for the page that
// did not change, which is most refreshes.
func (c *Cache) Revalidate(k *Key, req *fasthttp.Request, wireSum uint64) *Copy {
	now := c.now()
	c.mu.Lock()
	e, v := c.mem.variant(k, req)
	if v == nil || v.wireSum.Load() != wireSum {
		c.mu.Unlock()
		return nil
	}
	c.unchangedLocked(k, e, v, now) // unlocks c.mu
	return v
}

// unchangedLocked marks v, a variant of e, validated at now, and rewrites
// e to Redis once RedisRefresh has passed, renewing its retention there.
// It is called with c.mu held and releases it.
func (c *Cache) unchangedLocked(k *Key, e *entry, v *Copy, now time.Time) {
	v.validated.Store(now.UnixNano())
	c.unchanged.Add(1)
	var write []*Copy
	if c.remote != nil && now.UnixNano()-v.redisWrote.Load() >= int64(c.redisRefresh) {
		write = append([]*Copy(nil), e.variants...)
	}
	c.mu.Unlock()
	if write != nil {
		c.remote.put(k.Primary, write, c.retention, now)
	}
}

// Store keeps cp as the copy for its request. When the content did not
// change, the copy in place is only marked validated (see unchangedLocked);
// a new content replaces it in memory and is written to Redis at once.
func (c *Cache) Store(k *Key, cp *Copy) {
	now := c.now()
	c.mu.Lock()
	if len(c.pending) > 0 {
		c.donePendingLocked(c.mem.hash(k.Primary))
	}
	e := c.mem.get(k.Primary)
	if e != nil {
		for _, v := range e.variants {
			if v.Sum == cp.Sum && slices.Equal(v.Vary, cp.Vary) && slices.Equal(v.VaryValues, cp.VaryValues) {
				// The same content, perhaps sent differently (or v came
				// from Redis): the next refresh knows it by this answer.
				v.wireSum.Store(cp.wireSum.Load())
				c.unchangedLocked(k, e, v, now)
				return
			}
		}
	}
	var write []*Copy
	_, evicted := c.mem.put(k.Primary, cp)
	if c.remote != nil {
		if e = c.mem.get(k.Primary); e != nil {
			write = append([]*Copy(nil), e.variants...)
		}
	}
	// Counted before the copy can be seen: whoever finds it finds it
	// counted, so Stats never trails what a shopper was served.
	c.stored.Add(1)
	c.evicted.Add(uint64(len(evicted)))
	c.mu.Unlock()
	if write != nil {
		c.remote.put(k.Primary, write, c.retention, now)
	}
}

// NotStored counts an answer that was not stored, by reason.
func (c *Cache) NotStored(r Reason) {
	v, ok := c.notStored.Load(r)
	if !ok {
		v, _ = c.notStored.LoadOrStore(r, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// Stats is a snapshot of the cache's counters, for metrics and tests.
type Stats struct {
	Entries, Bytes, MaxBytes                          int64
	Hits, Misses, Expired, Evicted, Stored, Unchanged uint64
	NotStored                                         map[Reason]uint64
	// RedisHealthy: every Redis shard answers, and the writer loop runs (it
	// is not waiting to restart after a panic, which RedisWriterPanics
	// counts). RedisShardsDown counts the shards that do not answer (a
	// Cluster's other shards serve their copies meanwhile).
	Shared, RedisHealthy                        bool
	RedisWrites, RedisWriteErrors, RedisDropped uint64
	RedisReads, RedisHits, RedisReadErrors      uint64
	RedisWriterPanics                           uint64
	RedisShardsDown                             int
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	s := Stats{Entries: int64(c.mem.lru.Len()), Bytes: c.mem.bytes, MaxBytes: c.mem.max}
	c.mu.Unlock()
	s.Hits, s.Misses, s.Expired = c.hits.Load(), c.misses.Load(), c.expired.Load()
	s.Evicted, s.Stored, s.Unchanged = c.evicted.Load(), c.stored.Load(), c.unchanged.Load()
	s.NotStored = map[Reason]uint64{}
	c.notStored.Range(func(k, v any) bool {
		s.NotStored[k.(Reason)] = v.(*atomic.Uint64).Load()
		return true
	})
	if r := c.remote; r != nil {
		s.RedisShardsDown = int(r.numDown.Load())
		s.Shared, s.RedisHealthy = true, s.RedisShardsDown == 0 && r.writer.Healthy()
		s.RedisWriterPanics = r.writer.Panics()
		s.RedisWrites, s.RedisWriteErrors, s.RedisDropped = r.writes.Load(), r.writeErrors.Load(), r.dropped.Load()
		s.RedisReads, s.RedisHits, s.RedisReadErrors = r.reads.Load(), r.readHits.Load(), r.readErrors.Load()
	}
	return s
}
