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
// delay a shopper; when Redis is slow or down, writes are dropped (counted)
// and reads skipped until a periodic PING finds it back. go-redis itself
// reconnects.
type remote struct {
	client    redis.UniversalClient
	retention time.Duration
	log       *slog.Logger
	queue     chan writeJob
	healthy   atomic.Bool

	writes, writeErrors, dropped atomic.Uint64
	reads, readHits, readErrors  atomic.Uint64

	writer supervisor.Loop // restarts the writer loop after a panic
	ctx    context.Context // ends at close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type writeJob struct {
	key      string
	variants []*Copy
	ttl      time.Duration
	at       time.Time
}

// writeTimeout bounds one write; reads take the caller's deadline.
const writeTimeout = time.Second

func newRemote(client redis.UniversalClient, retention time.Duration, log *slog.Logger) *remote {
	r := &remote{client: client, retention: retention, log: log, queue: make(chan writeJob, 1024)}
	r.writer = supervisor.Loop{Name: "redis copy writer", Log: log}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.healthy.Store(true)
	return r
}

// redisKey names a page's entry: its site, then a hash of the whole primary
// key (paths and queries can be long and hold any bytes).
func redisKey(primary []byte) string {
	site, _, _ := bytes.Cut(primary, []byte{0})
	sum := sha256.Sum256(primary)
	return "awning:copy:" + string(site) + ":" + hex.EncodeToString(sum[:16])
}

// get reads the variants stored for primary; (nil, nil) when there are none.
func (r *remote) get(ctx context.Context, primary []byte) ([]*Copy, error) {
	if !r.healthy.Load() {
		return nil, nil
	}
	r.reads.Add(1)
	data, err := r.client.Get(ctx, redisKey(primary)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		r.readErrors.Add(1)
		r.setHealthy(false, err)
		return nil, err
	}
	variants, err := decodeEntry(data)
	if err != nil {
		r.readErrors.Add(1)
		r.log.Warn("unreadable copy in redis; ignored", "key", redisKey(primary), "err", err)
		return nil, nil
	}
	r.readHits.Add(1)
	return variants, nil
}

// put queues a write of every variant of primary; it never blocks.
func (r *remote) put(primary []byte, variants []*Copy, ttl time.Duration, now time.Time) {
	if !r.healthy.Load() {
		r.dropped.Add(1)
		return
	}
	select {
	case r.queue <- writeJob{key: redisKey(primary), variants: variants, ttl: ttl, at: now}:
	default:
		r.dropped.Add(1)
	}
}

func (r *remote) start() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.writer.Run(r.ctx, r.loop)
	}()
}

func (r *remote) close() {
	r.cancel()
	r.wg.Wait()
}

// loop writes queued copies and, while Redis is unavailable, pings it
// every two seconds. A panic ends it; start's supervisor runs it again
// after a backoff, and Stats reports Redis unhealthy meanwhile.
func (r *remote) loop(ctx context.Context) {
	ping := time.NewTicker(2 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-r.queue:
			r.write(job)
		case <-ping.C:
			if !r.healthy.Load() {
				pctx, cancel := context.WithTimeout(ctx, writeTimeout)
				err := r.client.Ping(pctx).Err()
				cancel()
				if err == nil {
					r.setHealthy(true, nil)
				}
			}
		}
	}
}

func (r *remote) write(job writeJob) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	err := r.client.Set(ctx, job.key, encodeEntry(job.variants), job.ttl).Err()
	if err != nil {
		r.writeErrors.Add(1)
		r.setHealthy(false, err)
		return
	}
	r.writes.Add(1)
	for _, c := range job.variants {
		c.redisWrote.Store(job.at.UnixNano())
	}
}

// setHealthy records whether Redis answers, logging each change once.
func (r *remote) setHealthy(ok bool, err error) {
	if r.healthy.Swap(ok) == ok {
		return
	}
	if ok {
		r.log.Info("redis is back: copies are shared again")
	} else {
		r.log.Warn("redis unavailable: copies are kept in memory only until it is back", "err", err)
	}
}
