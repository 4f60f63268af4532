package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
)

// Defaults for Options.
const (
	DefaultPrefix   = "{awning-certs}"
	DefaultLockTTL  = 30 * time.Second
	DefaultLockPoll = time.Second
	DefaultTimeout  = 5 * time.Second
)

// Options configure a Store.
type Options struct {
	// Prefix starts every key. It must be one Redis Cluster hash tag (in
	// braces) so that every key lands in one slot. Default DefaultPrefix.
	Prefix string
	// LockTTL is how long a lock outlives a holder that stopped extending
	// it (a killed node). Default DefaultLockTTL.
	LockTTL time.Duration
	// LockPoll is how often a waiting Lock tries again. Default
	// DefaultLockPoll.
	LockPoll time.Duration
	// Timeout bounds each Redis call, within the caller's context. Default
	// DefaultTimeout.
	Timeout time.Duration
	// Logger receives lock losses and watchdog errors. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock for modification times. Default time.Now.
	Now func() time.Time
}

// Store is a certmagic.Storage on Redis. It is safe for concurrent use. Its
// zero value is not usable; call New. Close stops the lock watchdogs.
type Store struct {
	rdb      redis.UniversalClient
	prefix   string
	index    string
	ttl      time.Duration
	poll     time.Duration
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time
	counters counters

	mu     sync.Mutex
	locks  map[string]*heldLock // by lock name
	closed bool
}

var (
	_ certmagic.Storage          = (*Store)(nil)
	_ certmagic.TryLocker        = (*Store)(nil)
	_ certmagic.LockLeaseRenewer = (*Store)(nil)
)

// New returns a Store using rdb, which stays owned by the caller (Close
// does not close it).
func New(rdb redis.UniversalClient, opt Options) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("redisstore: a Redis client is required")
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if !strings.HasPrefix(opt.Prefix, "{") || !strings.Contains(opt.Prefix, "}") {
		return nil, fmt.Errorf("redisstore: prefix %q must start with a {hash tag}", opt.Prefix)
	}
	if opt.LockTTL <= 0 {
		opt.LockTTL = DefaultLockTTL
	}
	if opt.LockPoll <= 0 {
		opt.LockPoll = DefaultLockPoll
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
	return &Store{
		rdb:     rdb,
		prefix:  opt.Prefix,
		index:   opt.Prefix + "/index",
		ttl:     opt.LockTTL,
		poll:    opt.LockPoll,
		timeout: opt.Timeout,
		log:     opt.Logger,
		now:     opt.Now,
		locks:   make(map[string]*heldLock),
	}, nil
}

// String names the store in certmagic's logs.
func (s *Store) String() string { return "redis:" + s.prefix }

func (s *Store) fileKey(key string) string { return s.prefix + "/f/" + key }

// call bounds one Redis call by the caller's context and s.timeout.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// notExist wraps fs.ErrNotExist with the key, as certmagic tests errors with
// errors.Is.
func notExist(key string) error {
	return fmt.Errorf("redisstore: %q: %w", key, fs.ErrNotExist)
}

// dirRange returns the ZRANGEBYLEX bounds covering every key under dir.
func dirRange(dir string) (min, max string) {
	if dir == "" {
		return "-", "+"
	}
	return "[" + dir + "/", "(" + dir + "0"
}

// storeScript writes a file's bytes and time and indexes its key in one step,
// so the index never lists a file that is not there (or misses one that is).
var storeScript = redis.NewScript(`
redis.call("HSET", KEYS[1], "v", ARGV[2], "m", ARGV[3])
redis.call("ZADD", KEYS[2], 0, ARGV[1])
return 1`)

// Store writes value at key, replacing what was there.
func (s *Store) Store(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return errors.New("redisstore: empty key")
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	mod := strconv.FormatInt(s.now().UnixMilli(), 10)
	if err := storeScript.Run(ctx, s.rdb, []string{s.fileKey(key), s.index}, key, value, mod).Err(); err != nil {
		return fmt.Errorf("redisstore: store %q: %w", key, err)
	}
	return nil
}

// Load returns the bytes at key, or an error wrapping fs.ErrNotExist.
func (s *Store) Load(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	b, err := s.rdb.HGet(ctx, s.fileKey(key), "v").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, notExist(key)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %q: %w", key, err)
	}
	return b, nil
}

// deleteScript removes files and their index entries. KEYS are the file
// keys, ARGV the matching storage keys; KEYS[1] is the index.
var deleteScript = redis.NewScript(`
for i = 2, #KEYS do redis.call("DEL", KEYS[i]) end
if #ARGV > 0 then redis.call("ZREM", KEYS[1], unpack(ARGV)) end
return 1`)

// Delete removes key and, when key is a directory, every key under it. A
// key that does not exist is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return errors.New("redisstore: refusing to delete the root")
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	min, max := dirRange(key)
	under, err := s.rdb.ZRangeByLex(ctx, s.index, &redis.ZRangeBy{Min: min, Max: max}).Result()
	if err != nil {
		return fmt.Errorf("redisstore: delete %q: %w", key, err)
	}
	names := append([]string{key}, under...)
	// Delete in batches: one script call must not block Redis for long.
	for len(names) > 0 {
		n := min2(len(names), 256)
		keys := []string{s.index}
		args := make([]any, 0, n)
		for _, name := range names[:n] {
			keys = append(keys, s.fileKey(name))
			args = append(args, name)
		}
		if err := deleteScript.Run(ctx, s.rdb, keys, args...).Err(); err != nil {
			return fmt.Errorf("redisstore: delete %q: %w", key, err)
		}
		names = names[n:]
	}
	return nil
}

func min2(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// Exists reports whether key is a file or a directory. An error reaching
// Redis reports false, as certmagic's interface has no room for it.
func (s *Store) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// Stat describes key: a file with its size and modification time, or a
// directory (IsTerminal false).
func (s *Store) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var mod *redis.StringCmd
	var size *redis.IntCmd
	var child *redis.StringSliceCmd
	min, max := dirRange(key)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		mod = p.HGet(ctx, s.fileKey(key), "m")
		size = p.HStrLen(ctx, s.fileKey(key), "v")
		child = p.ZRangeByLex(ctx, s.index, &redis.ZRangeBy{Min: min, Max: max, Count: 1})
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %q: %w", key, err)
	}
	if ms, err := mod.Int64(); err == nil {
		return certmagic.KeyInfo{Key: key, Modified: time.UnixMilli(ms), Size: size.Val(), IsTerminal: true}, nil
	}
	if len(child.Val()) > 0 {
		return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
	}
	return certmagic.KeyInfo{}, notExist(key)
}

// List returns the keys under dir in key order: its direct children (files
// and directories) or, when recursive, every file and directory below it,
// as certmagic's FileStorage does. A dir with nothing under it is reported
// as fs.ErrNotExist.
func (s *Store) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	min, max := dirRange(dir)
	files, err := s.rdb.ZRangeByLex(ctx, s.index, &redis.ZRangeBy{Min: min, Max: max}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list %q: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, notExist(dir)
	}
	base := ""
	if dir != "" {
		base = dir + "/"
	}
	seen := make(map[string]bool)
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, f := range files {
		rest := f[len(base):]
		if !recursive {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[:i]
			}
			add(base + rest)
			continue
		}
		for i := 0; i < len(rest); i++ { // the directories leading to f
			if rest[i] == '/' {
				add(base + rest[:i])
			}
		}
		add(f)
	}
	sort.Strings(out)
	return out, nil
}
