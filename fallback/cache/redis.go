package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/internal/supervisor"
	"github.com/redis/go-redis/v9"
)

// remote is the Redis tier: copies shared by every node, so a node that
// never saw a page (or just restarted) can still serve it when the origin
// fails. Writes go through a bounded queue to one writer goroutine and never
// delay a shopper. Health is kept per shard: a shard (the one server, or one
// Cluster master) that fails is skipped, its writes dropped (counted) and
// its reads not tried, until a PING every probeEvery finds it back; the
// other shards of a Cluster go on serving their copies. go-redis itself
// reconnects, and OpenRedis's cluster client reloads its slot map when a
// master fails, so a promoted replica serves its shard's copies again as
// soon as the slot map names it: it is a shard of its own, not the one
// marked down.
type remote struct {
	client    redis.UniversalClient
	cluster   *redis.ClusterClient // the same client, when it is a Cluster
	retention time.Duration
	log       *slog.Logger
	queue     chan writeJob

	mu      sync.Mutex
	down    map[string]*shard // shards found failing, by id
	numDown atomic.Int32      // len(down), read without the lock on every call

	writes, writeErrors, dropped atomic.Uint64
	reads, readHits, readErrors  atomic.Uint64

	writer, prober supervisor.Loop // restart the two loops after a panic
	ctx            context.Context // ends at close
	cancel         context.CancelFunc
	wg             sync.WaitGroup
}

// shard is a part of Redis that fails on its own: the one server (or
// Sentinel master), or one Cluster master, named by its address.
type shard struct {
	id   string
	node redis.Cmdable // pinged to find it back
}

type writeJob struct {
	key      string
	variants []*Copy
	ttl      time.Duration
	at       time.Time
}

// Timing of the Redis tier: writeTimeout bounds one write (reads take the
// caller's deadline); probeEvery is how often a failed shard is pinged.
const (
	writeTimeout = time.Second
	probeEvery   = 500 * time.Millisecond
)

func newRemote(client redis.UniversalClient, retention time.Duration, log *slog.Logger) *remote {
	r := &remote{client: client, retention: retention, log: log, queue: make(chan writeJob, 1024), down: map[string]*shard{}}
	r.cluster, _ = client.(*redis.ClusterClient)
	r.writer = supervisor.Loop{Name: "redis copy writer", Log: log}
	r.prober = supervisor.Loop{Name: "redis shard prober", Log: log}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// redisKey names a page's entry: its site, then a hash of the whole primary
// key (paths and queries can be long and hold any bytes).
func redisKey(primary []byte) string {
	site, _, _ := bytes.Cut(primary, []byte{0})
	sum := sha256.Sum256(primary)
	return "awning:copy:" + string(site) + ":" + hex.EncodeToString(sum[:16])
}

// RedisKey is the Redis key of the copies of k's page, for operators and
// tests that look into Redis.
func RedisKey(k *Key) string { return redisKey(k.Primary) }

// shardOf returns the shard that holds key.
func (r *remote) shardOf(ctx context.Context, key string) *shard {
	if r.cluster == nil {
		return &shard{node: r.client}
	}
	node, err := r.cluster.MasterForKey(ctx, key)
	if err != nil {
		// No slot map: the cluster as a whole is the shard.
		return &shard{id: "cluster", node: r.client}
	}
	return &shard{id: node.Options().Addr, node: node}
}

// available reports whether sh is not marked down.
func (r *remote) available(sh *shard) bool {
	if r.numDown.Load() == 0 {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.down[sh.id] == nil
}

// get reads the variants stored for primary; (nil, nil) when there are none
// or its shard is down.
func (r *remote) get(ctx context.Context, primary []byte) ([]*Copy, error) {
	key := redisKey(primary)
	sh := r.shardOf(ctx, key)
	if !r.available(sh) {
		return nil, nil
	}
	r.reads.Add(1)
	data, err := r.client.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		r.readErrors.Add(1)
		r.markDown(sh, err)
		return nil, err
	}
	variants, err := decodeEntry(data)
	if err != nil {
		r.readErrors.Add(1)
		r.log.Warn("unreadable copy in redis; ignored", "key", key, "err", err)
		return nil, nil
	}
	r.readHits.Add(1)
	return variants, nil
}

// put queues a write of every variant of primary; it never blocks.
func (r *remote) put(primary []byte, variants []*Copy, ttl time.Duration, now time.Time) {
	select {
	case r.queue <- writeJob{key: redisKey(primary), variants: variants, ttl: ttl, at: now}:
	default:
		r.dropped.Add(1)
	}
}

func (r *remote) start() {
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		r.writer.Run(r.ctx, r.writeLoop)
	}()
	go func() {
		defer r.wg.Done()
		r.prober.Run(r.ctx, r.probeLoop)
	}()
}

func (r *remote) close() {
	r.cancel()
	r.wg.Wait()
}

// writeLoop writes queued copies. A panic ends it; start's supervisor runs
// it again after a backoff, and Stats reports Redis unhealthy meanwhile.
func (r *remote) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-r.queue:
			r.write(ctx, job)
		}
	}
}

// probeLoop pings the shards marked down every probeEvery.
func (r *remote) probeLoop(ctx context.Context) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.probe(ctx)
		}
	}
}

// probe pings every shard marked down, at once, and marks up those that
// answer. A ping that fails on a Cluster also makes the client reload its
// slot map (OpenRedis's hook), which is how a promoted replica is found.
func (r *remote) probe(ctx context.Context) {
	if r.numDown.Load() == 0 {
		return
	}
	r.mu.Lock()
	down := make([]*shard, 0, len(r.down))
	for _, sh := range r.down {
		down = append(down, sh)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, sh := range down {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			defer cancel()
			err := sh.node.Ping(pctx).Err()
			if err == nil || errors.Is(err, redis.ErrClosed) {
				// Back, or a node the cluster client dropped: nothing
				// routes to it any more.
				r.markUp(sh, err == nil)
			}
		}()
	}
	wg.Wait()
}

func (r *remote) write(ctx context.Context, job writeJob) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	sh := r.shardOf(ctx, job.key)
	if !r.available(sh) {
		r.dropped.Add(1)
		return
	}
	err := r.client.Set(ctx, job.key, encodeEntry(job.variants), job.ttl).Err()
	if err != nil {
		r.writeErrors.Add(1)
		r.markDown(sh, err)
		return
	}
	r.writes.Add(1)
	for _, c := range job.variants {
		c.redisWrote.Store(job.at.UnixNano())
	}
}

// markDown records that sh failed, logging it once.
func (r *remote) markDown(sh *shard, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down[sh.id] != nil {
		return
	}
	r.down[sh.id] = sh
	r.numDown.Store(int32(len(r.down)))
	if sh.id == "" {
		r.log.Warn("redis unavailable: copies are kept in memory only until it is back", "err", err)
	} else {
		r.log.Warn("redis shard unavailable: its copies are kept in memory only until it is back; other shards serve theirs", "shard", sh.id, "err", err)
	}
}

// markUp forgets that sh failed; back says whether it answered again.
func (r *remote) markUp(sh *shard, back bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down[sh.id] == nil {
		return
	}
	delete(r.down, sh.id)
	r.numDown.Store(int32(len(r.down)))
	switch {
	case !back:
	case sh.id == "":
		r.log.Info("redis is back: copies are shared again")
	default:
		r.log.Info("redis shard is back: its copies are shared again", "shard", sh.id)
	}
}
