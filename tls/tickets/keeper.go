package tickets

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for Options.
const (
	DefaultKey     = "{awning-tickets}/keys"
	DefaultRotate  = 12 * time.Hour
	DefaultKeep    = 3
	DefaultRefresh = time.Minute
	DefaultTimeout = 2 * time.Second
)

// Options configure a Keeper.
type Options struct {
	// Redis is the client shared with the rest of the node. Required; the
	// Keeper does not close it.
	Redis redis.UniversalClient
	// Key is the Redis key of the sorted set of ticket keys. Default
	// DefaultKey.
	Key string
	// Rotate is how old the newest key may get before a new one is made.
	// Default DefaultRotate.
	Rotate time.Duration
	// Keep is how many keys are kept: the newest seals tickets, all of them
	// open tickets. Default DefaultKeep.
	Keep int
	// Refresh is how often the keys are read from Redis. Default
	// DefaultRefresh; it must be well under Rotate.
	Refresh time.Duration
	// Timeout bounds each Redis call. Default DefaultTimeout.
	Timeout time.Duration
	// Logger receives rotations and Redis trouble (once per change of
	// state). Default slog.Default().
	Logger *slog.Logger
	// Now is the clock that dates keys. Default time.Now.
	Now func() time.Time
}

// Stats are a Keeper's counters since New.
type Stats struct {
	// Syncs counts successful reads of the keys from Redis.
	Syncs uint64
	// SyncErrors counts failed ones; the last keys stay in use meanwhile.
	SyncErrors uint64
	// Rotations counts keys this node added.
	Rotations uint64
	// Keys is the number of keys in use now (0 before the first sync:
	// crypto/tls then uses keys of its own).
	Keys int
}

// Keeper keeps the session ticket keys of the attached tls.Configs in step
// with Redis. It is safe for concurrent use; Run is its one goroutine.
type Keeper struct {
	rdb     redis.UniversalClient
	key     string
	rotate  time.Duration
	keep    int
	refresh time.Duration
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	syncs, syncErrs, rotations atomic.Uint64
	failing                    atomic.Bool

	mu      sync.Mutex
	configs []*tls.Config
	keys    [][32]byte
}

// New returns a Keeper. It does not talk to Redis until Sync or Run.
func New(opt Options) (*Keeper, error) {
	if opt.Redis == nil {
		return nil, errors.New("tickets: a Redis client is required")
	}
	if opt.Key == "" {
		opt.Key = DefaultKey
	}
	if opt.Rotate <= 0 {
		opt.Rotate = DefaultRotate
	}
	if opt.Keep <= 0 {
		opt.Keep = DefaultKeep
	}
	if opt.Refresh <= 0 {
		opt.Refresh = DefaultRefresh
	}
	if opt.Refresh >= opt.Rotate {
		return nil, fmt.Errorf("tickets: refresh %s must be shorter than rotate %s", opt.Refresh, opt.Rotate)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Keeper{
		rdb: opt.Redis, key: opt.Key, rotate: opt.Rotate, keep: opt.Keep,
		refresh: opt.Refresh, timeout: opt.Timeout, log: opt.Logger, now: opt.Now,
	}, nil
}

// Attach makes cfg use the shared keys, now (when they are known) and after
// every change. cfg must be a server configuration owned by the caller.
func (k *Keeper) Attach(cfg *tls.Config) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.configs = append(k.configs, cfg)
	if len(k.keys) > 0 {
		cfg.SetSessionTicketKeys(k.keys)
	}
}

// Stats returns the Keeper's counters.
func (k *Keeper) Stats() Stats {
	k.mu.Lock()
	n := len(k.keys)
	k.mu.Unlock()
	return Stats{
		Syncs:      k.syncs.Load(),
		SyncErrors: k.syncErrs.Load(),
		Rotations:  k.rotations.Load(),
		Keys:       n,
	}
}

// rotateScript returns the keys newest first, adding a fresh one first when
// the newest is older than the rotation period (or there is none), and
// trimming to the number kept. Being one script, two nodes that notice at
// once rotate once.
var rotateScript = redis.NewScript(`
local now, period, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local newest = redis.call("ZREVRANGE", KEYS[1], 0, 0, "WITHSCORES")
local added = 0
if #newest == 0 or tonumber(newest[2]) + period <= now then
  redis.call("ZADD", KEYS[1], now, ARGV[3])
  redis.call("ZREMRANGEBYRANK", KEYS[1], 0, -(keep + 1))
  added = 1
end
return {added, redis.call("ZREVRANGE", KEYS[1], 0, -1)}`)

// Sync reads the keys from Redis, rotating them when due, and applies them
// to every attached config. On error the keys in use stay in use.
func (k *Keeper) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	var fresh [32]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return fmt.Errorf("tickets: new key: %w", err)
	}
	res, err := rotateScript.Run(ctx, k.rdb, []string{k.key},
		k.now().UnixMilli(), k.rotate.Milliseconds(), hex.EncodeToString(fresh[:]), k.keep).Slice()
	if err == nil {
		err = k.apply(res)
	}
	if err != nil {
		k.syncErrs.Add(1)
		if !k.failing.Swap(true) {
			k.log.Warn("TLS session ticket keys: cannot reach Redis; keeping the keys in use", "err", err)
		}
		return fmt.Errorf("tickets: sync: %w", err)
	}
	k.syncs.Add(1)
	if k.failing.Swap(false) {
		k.log.Info("TLS session ticket keys: Redis is back")
	}
	return nil
}

func (k *Keeper) apply(res []any) error {
	if len(res) != 2 {
		return fmt.Errorf("unexpected reply %v", res)
	}
	added, _ := res[0].(int64)
	members, _ := res[1].([]any)
	keys := make([][32]byte, 0, len(members))
	for _, m := range members {
		s, _ := m.(string)
		var key [32]byte
		if n, err := hex.Decode(key[:], []byte(s)); err != nil || n != len(key) {
			return fmt.Errorf("malformed key in %s", k.key)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return fmt.Errorf("no keys in %s", k.key)
	}
	if added == 1 {
		k.rotations.Add(1)
		k.log.Info("TLS session ticket keys rotated", "keys", len(keys))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if slices.Equal(k.keys, keys) {
		return nil
	}
	k.keys = keys
	for _, c := range k.configs {
		c.SetSessionTicketKeys(keys)
	}
	return nil
}

// Run syncs at once and then every Refresh until ctx ends.
func (k *Keeper) Run(ctx context.Context) error {
	t := time.NewTicker(k.refresh)
	defer t.Stop()
	for {
		k.syncSafely(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (k *Keeper) syncSafely(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			k.log.Error("TLS session ticket keys: sync panicked", "panic", r)
		}
	}()
	k.Sync(ctx) // logs its own failures, once per outage
}
