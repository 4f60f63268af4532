package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is returned by Change when the shared state cannot be
// written (Redis down): the change is not applied anywhere, so nodes never
// disagree about it.
var ErrUnavailable = errors.New("state: shared state (redis) unavailable; nothing was changed")

// Redis keys, all under one hash tag so scripts touch one Cluster slot.
const (
	keyCounter = "{awning-state}:version"
	keyScopes  = "{awning-state}:scopes"
	keyPrefix  = "{awning-state}:scope:"
	keyAudit   = "{awning-state}:audit"
	channel    = "awning:state"
	globalName = "*" // the Global scope's name in Redis and in the snapshot
)

// StoreConfig builds a Store.
type StoreConfig struct {
	// Redis shares the state between nodes; nil keeps it on this node, in
	// memory and in the snapshot file.
	Redis redis.UniversalClient
	// Dir holds the snapshot file (state.json). Required.
	Dir string
	// OnChange is called, outside any lock, with the names of the scopes
	// that changed (Global for every site). Optional.
	OnChange func(scopes []string)
	// Log receives state events. Default slog.Default().
	Log *slog.Logger
	// CheckEvery is how often a node compares its version with Redis', to
	// catch anything pub/sub lost. Default 1s.
	CheckEvery time.Duration
}

// Store keeps the shared state: one Scope per site plus the Global one,
// each with a version. With Redis, every change is written there with a new
// version (a compare-and-set, so concurrent changes through different nodes
// never overwrite each other) and announced on pub/sub; every node applies
// what it hears, re-reads everything after each (re)subscription, and
// compares versions every CheckEvery to catch what pub/sub lost. Every node
// also keeps the last state it saw in a snapshot file, so a node restarted
// while Redis is down still knows a shop is in maintenance; a Redis that
// comes back empty is restored from the nodes, never taken as "no
// maintenance".
//
// A Store is safe for concurrent use. Start runs its Redis loop; Close stops
// it.
type Store struct {
	redis    redis.UniversalClient
	path     string
	onChange func([]string)
	log      *slog.Logger
	every    time.Duration

	mu      sync.Mutex
	scopes  map[string]versioned
	counter int64 // the highest version seen
	audit   []AuditEntry

	redisOK    atomic.Bool
	applied    atomic.Uint64 // changes applied from other nodes
	resyncs    atomic.Uint64
	restores   atomic.Uint64
	lastRemote atomic.Int64 // the Redis counter at the last check

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type versioned struct {
	Version int64 `json:"version"`
	Scope   Scope `json:"data"`
}

// snapshot is the file format of state.json.
type snapshot struct {
	Counter int64                `json:"counter"`
	Scopes  map[string]versioned `json:"scopes"`
}

// NewStore builds a Store and loads the snapshot file, if there is one.
func NewStore(cfg StoreConfig) (*Store, error) {
	s := &Store{
		redis:    cfg.Redis,
		path:     filepath.Join(cfg.Dir, "state.json"),
		onChange: cfg.OnChange,
		log:      cfg.Log,
		every:    cfg.CheckEvery,
		scopes:   map[string]versioned{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.every == 0 {
		s.every = time.Second
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) load() error {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: read snapshot: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		// A damaged snapshot must not stop a node from serving; Redis (or
		// the next change) brings the state back.
		s.log.Error("state snapshot unreadable; starting without it", "file", s.path, "err", err)
		return nil
	}
	for name, v := range snap.Scopes {
		if name == globalName {
			name = Global
		}
		s.scopes[name] = v
	}
	s.counter = snap.Counter
	s.log.Info("state loaded from snapshot", "file", s.path, "version", s.counter, "scopes", len(s.scopes))
	return nil
}

// saveLocked writes the snapshot atomically: a crash leaves the old file or
// the new one, never half of either.
func (s *Store) saveLocked() {
	snap := snapshot{Counter: s.counter, Scopes: map[string]versioned{}}
	for name, v := range s.scopes {
		if name == Global {
			name = globalName
		}
		snap.Scopes[name] = v
	}
	data, err := json.MarshalIndent(snap, "", " ")
	if err == nil {
		err = writeFileAtomic(s.path, data)
	}
	if err != nil {
		s.log.Error("state snapshot not written; the state is kept in memory and in redis", "file", s.path, "err", err)
	}
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Scope returns the named scope (Global for every site). The value must be
// treated as read-only.
func (s *Store) Scope(name string) Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scopes[name].Scope
}

// Version returns the highest version this node has seen.
func (s *Store) Version() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counter
}

// Names returns the names of every scope that holds something.
func (s *Store) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, v := range s.scopes {
		if !v.Scope.IsZero() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Shared reports whether the state is shared through Redis.
func (s *Store) Shared() bool { return s.redis != nil }

// Change applies fn to a copy of the named scope and stores the result
// under a new version. fn's error aborts the change (nothing is written).
// With Redis, the change is written there first, with a compare-and-set on
// the scope's version (retried when another node changed it meanwhile);
// when Redis cannot be written, Change returns ErrUnavailable and nothing
// changes.
func (s *Store) Change(ctx context.Context, name string, fn func(*Scope) error) (Scope, error) {
	if s.redis == nil {
		return s.changeLocal(name, fn)
	}
	backoff := time.Millisecond
	for try := 0; try < 30; try++ {
		if try > 0 {
			// Another node changed the scope between our read and our
			// write; wait a little (with jitter, so racing nodes spread out)
			// and base the change on the newer scope.
			select {
			case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
			case <-ctx.Done():
				return Scope{}, ctx.Err()
			}
			backoff = min(2*backoff, 50*time.Millisecond)
		}
		cur, version, err := s.readRemote(ctx, name)
		if err != nil {
			return Scope{}, fmt.Errorf("%w (%v)", ErrUnavailable, err)
		}
		next := cur.clone()
		if err := fn(&next); err != nil {
			return Scope{}, err
		}
		data, _ := json.Marshal(next)
		v, err := casScript.Run(ctx, s.redis, []string{keyPrefix + redisName(name), keyCounter, keyScopes},
			version, data, redisName(name), channel).Int64()
		if err != nil {
			return Scope{}, fmt.Errorf("%w (%v)", ErrUnavailable, err)
		}
		if v < 0 {
			continue
		}
		s.apply(map[string]versioned{name: {Version: v, Scope: next}})
		return next, nil
	}
	return Scope{}, errors.New("state: too many concurrent changes to one scope; try again")
}

func (s *Store) changeLocal(name string, fn func(*Scope) error) (Scope, error) {
	s.mu.Lock()
	next := s.scopes[name].Scope.clone()
	if err := fn(&next); err != nil {
		s.mu.Unlock()
		return Scope{}, err
	}
	s.counter++
	s.scopes[name] = versioned{Version: s.counter, Scope: next}
	s.saveLocked()
	s.mu.Unlock()
	s.notify([]string{name})
	return next, nil
}

// casScript writes a scope if its version is still the one the change was
// based on, under a new version from the shared counter, and announces it.
var casScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if cur ~= tonumber(ARGV[1]) then return -1 end
local v = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'version', v)
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[3] .. ' ' .. v)
return v
`)

// restoreScript writes a node's whole state back to a Redis that lost it,
// unless Redis already holds a newer state (another node restored first).
var restoreScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local mine = tonumber(ARGV[1])
if cur >= mine then return 0 end
for i = 2, #ARGV, 3 do
  redis.call('HSET', KEYS[3] .. ARGV[i], 'data', ARGV[i+1], 'version', ARGV[i+2])
  redis.call('SADD', KEYS[2], ARGV[i])
end
redis.call('SET', KEYS[1], mine)
return 1
`)

func redisName(name string) string {
	if name == Global {
		return globalName
	}
	return name
}

func localName(name string) string {
	if name == globalName {
		return Global
	}
	return name
}

func (s *Store) readRemote(ctx context.Context, name string) (Scope, int64, error) {
	vals, err := s.redis.HMGet(ctx, keyPrefix+redisName(name), "data", "version").Result()
	if err != nil {
		return Scope{}, 0, err
	}
	return decodeRemote(vals)
}

func decodeRemote(vals []any) (Scope, int64, error) {
	var sc Scope
	if len(vals) != 2 || vals[0] == nil {
		return sc, 0, nil
	}
	data, _ := vals[0].(string)
	vs, _ := vals[1].(string)
	version, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return sc, 0, fmt.Errorf("state: bad version %q", vs)
	}
	if err := json.Unmarshal([]byte(data), &sc); err != nil {
		return sc, 0, fmt.Errorf("state: bad scope: %w", err)
	}
	return sc, version, nil
}

// apply takes scopes that are newer than what this node has, saves the
// snapshot and tells OnChange.
func (s *Store) apply(in map[string]versioned) {
	s.mu.Lock()
	var changed []string
	for name, v := range in {
		if cur, ok := s.scopes[name]; ok && cur.Version >= v.Version {
			continue
		}
		s.scopes[name] = v
		s.counter = max(s.counter, v.Version)
		changed = append(changed, name)
	}
	if len(changed) > 0 {
		s.saveLocked()
	}
	s.mu.Unlock()
	s.notify(changed)
}

func (s *Store) notify(changed []string) {
	if len(changed) > 0 && s.onChange != nil {
		sort.Strings(changed)
		s.onChange(changed)
	}
}

// Start runs the Redis loop (subscription, checks, restores). Without Redis
// it does nothing.
func (s *Store) Start() {
	if s.redis == nil {
		return
	}
	s.wg.Add(1)
	go s.loop()
}

// Close stops the Redis loop and waits for it.
func (s *Store) Close() {
	s.cancel()
	s.wg.Wait()
}

func (s *Store) loop() {
	defer s.wg.Done()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("state loop panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	pubsub := s.redis.Subscribe(s.ctx, channel)
	defer pubsub.Close()
	msgs := pubsub.ChannelWithSubscriptions(redis.WithChannelSize(256))
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	s.check()
	for {
		select {
		case <-s.ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				// Subscribed, for the first time or after a reconnect:
				// pub/sub lost whatever was published meanwhile.
				s.resync()
			case *redis.Message:
				s.heard(m.Payload)
			}
		case <-tick.C:
			s.check()
		}
	}
}

// heard applies an announced change ("name version") if it is news.
func (s *Store) heard(payload string) {
	name, vs, ok := strings.Cut(payload, " ")
	v, err := strconv.ParseInt(vs, 10, 64)
	if !ok || err != nil {
		return
	}
	name = localName(name)
	s.mu.Lock()
	known := s.scopes[name].Version
	s.mu.Unlock()
	if v <= known {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	sc, version, err := s.readRemote(ctx, name)
	if err != nil {
		s.setRedisOK(false, err)
		return
	}
	s.applied.Add(1)
	s.apply(map[string]versioned{name: {Version: version, Scope: sc}})
}

// check compares this node's version with Redis': a newer Redis is
// re-read, an empty one restored.
func (s *Store) check() {
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	remote, ok := s.remoteVersion(ctx)
	if !ok {
		return
	}
	s.setRedisOK(true, nil)
	local := s.Version()
	switch {
	case remote < local:
		s.restore(ctx)
	case remote != s.lastRemote.Load():
		s.resync()
	}
}

// remoteVersion reads Redis' state version: 0 when Redis holds none (it
// was emptied), false when Redis did not answer, which is recorded.
func (s *Store) remoteVersion(ctx context.Context) (int64, bool) {
	v, err := s.redis.Get(ctx, keyCounter).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, true
	}
	if err != nil {
		s.setRedisOK(false, err)
		return 0, false
	}
	return v, true
}

// resync re-reads every scope from Redis and applies what is newer.
func (s *Store) resync() {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	s.resyncs.Add(1)
	remote, ok := s.remoteVersion(ctx)
	if !ok {
		return
	}
	if remote < s.Version() {
		s.restore(ctx)
		return
	}
	names, err := s.redis.SMembers(ctx, keyScopes).Result()
	if err != nil {
		s.setRedisOK(false, err)
		return
	}
	cmds := make([]*redis.SliceCmd, len(names))
	_, err = s.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			cmds[i] = p.HMGet(ctx, keyPrefix+n, "data", "version")
		}
		return nil
	})
	if err != nil {
		s.setRedisOK(false, err)
		return
	}
	in := map[string]versioned{}
	for i, n := range names {
		sc, v, err := decodeRemote(cmds[i].Val())
		if err != nil {
			s.log.Warn("unreadable shared state; ignored", "scope", n, "err", err)
			continue
		}
		in[localName(n)] = versioned{Version: v, Scope: sc}
	}
	s.lastRemote.Store(remote)
	s.apply(in)
}

// restore writes this node's state to a Redis that has less (it restarted
// empty, or was flushed): a maintenance set before must not end because
// Redis forgot it.
func (s *Store) restore(ctx context.Context) {
	s.mu.Lock()
	args := []any{s.counter}
	for name, v := range s.scopes {
		data, _ := json.Marshal(v.Scope)
		args = append(args, redisName(name), data, v.Version)
	}
	local := s.counter
	s.mu.Unlock()
	done, err := restoreScript.Run(ctx, s.redis, []string{keyCounter, keyScopes, keyPrefix}, args...).Int64()
	if err != nil {
		s.setRedisOK(false, err)
		return
	}
	if done == 1 {
		s.restores.Add(1)
		s.lastRemote.Store(local)
		s.log.Warn("redis had lost the shared state; restored it from this node", "version", local, "scopes", (len(args)-1)/3)
		s.redis.Publish(ctx, channel, globalName+" "+strconv.FormatInt(local, 10))
	}
}

func (s *Store) setRedisOK(ok bool, err error) {
	if s.redisOK.Swap(ok) == ok {
		return
	}
	if ok {
		s.log.Info("shared state: redis reachable")
	} else {
		s.log.Warn("shared state: redis unreachable; keeping the last state seen", "err", err)
	}
}

// StoreStats counts what the store did, for metrics and tests.
type StoreStats struct {
	Version                    int64
	Shared, RedisOK            bool
	Applied, Resyncs, Restores uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() StoreStats {
	return StoreStats{
		Version: s.Version(), Shared: s.redis != nil, RedisOK: s.redisOK.Load(),
		Applied: s.applied.Load(), Resyncs: s.resyncs.Load(), Restores: s.restores.Load(),
	}
}
