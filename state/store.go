package state

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/internal/supervisor"
	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is returned by Change when the shared state cannot be
// written (Redis down): the change is not applied anywhere, so nodes never
// disagree about it.
var ErrUnavailable = errors.New("state: shared state (redis) unavailable; nothing was changed")

// ErrUnconfirmed is returned by Change when the change reached Redis but
// could not be confirmed durable before the caller's deadline: no replica
// acknowledged it while the topology has one, or Redis' answer was lost. It
// may still be in force, or be lost in a failover; read the state before
// trying again. errors.Is(ErrUnconfirmed, ErrUnavailable) holds, so callers
// that map outages to 503 need no change.
var ErrUnconfirmed error = unconfirmedError{}

type unconfirmedError struct{}

func (unconfirmedError) Error() string {
	return "state: the change reached redis but was not confirmed durable in time (no replica acknowledged it); it may or may not be in force, read the state before trying again"
}

func (unconfirmedError) Is(target error) bool { return target == ErrUnavailable }

// StoreConfig builds a Store.
type StoreConfig struct {
	// Redis shares the state between nodes; nil keeps it on this node, in
	// memory and in the snapshot file. Use a client from OpenRedis: with
	// Sentinel it knows the sentinels, which Change asks before it accepts
	// a write no replica confirmed.
	Redis redis.UniversalClient
	// Dir holds the snapshot file (state.json). Required.
	Dir string
	// OnChange is called with the names of the scopes that changed (Global
	// for every site), outside the store's locks and one call at a time, so
	// that it may read the store. Optional.
	OnChange func(scopes []string)
	// Log receives state events. Default slog.Default().
	Log *slog.Logger
	// CheckEvery is how often a node compares its state with Redis', to
	// catch anything pub/sub lost. Default 1s.
	CheckEvery time.Duration
	// WaitTimeout bounds how long one write waits for a replica to confirm
	// it (Redis WAIT). Default 1s.
	WaitTimeout time.Duration
	// Now is the wall clock stamps follow. Default time.Now.
	Now func() time.Time
}

// Store keeps the shared state: one Scope per site plus the Global one.
//
// Every change gets a Version: a stamp from a hybrid logical clock and the
// writer's id. With Redis, a change is a compare-and-set on the scope's
// version, written with its audit entry by one script and announced on
// pub/sub; when the master has replicas, Change answers only once one of
// them confirmed the write (WAIT), so a failover does not lose it. Redis is
// the authority: every node adopts what Redis holds, applying what it hears
// on pub/sub, re-reading everything after each (re)subscription and when
// Redis' newest stamp differs from the one it last read (checked every
// CheckEvery). A Redis that lost the state (flushed, restarted empty) has
// lost its epoch key too, and a master that restarted may have come back
// from an older save; the nodes then merge their state back into it, each
// scope only where theirs is newer, so the newest change of every scope
// wins and the nodes converge on it. Every node also keeps the last state it
// saw in a snapshot file, so a node restarted while Redis is down still knows
// a shop is in maintenance.
//
// A Store is safe for concurrent use. Start runs its Redis loop; Close stops
// it.
type Store struct {
	redis    redis.UniversalClient
	topo     topology
	path     string
	onChange func([]string)
	log      *slog.Logger
	every    time.Duration
	wait     time.Duration
	writer   string // this node's id in the versions it writes
	clock    clock

	// syncMu makes each read of Redis and the apply of what it read one
	// step, so that a slow read never overwrites what a later one applied.
	syncMu sync.Mutex
	// notifyMu makes OnChange calls one at a time.
	notifyMu sync.Mutex

	mu      sync.Mutex
	scopes  map[string]record
	epoch   string    // the generation of the Redis state this node follows
	head    Stamp     // Redis' newest change as last read in full
	runID   string    // the run id of the master at the last check
	runSeen time.Time // when that was
	audit   auditLog
	// The files on disk (snapshot.go): the snapshot's generation and
	// size, and the bytes appended to the journal since.
	gen                   string
	snapSize, journalSize int64

	loop        supervisor.Loop // runs the sync loop again after a panic
	redisOK     atomic.Bool
	syncing     atomic.Bool   // the sync loop is running
	applied     atomic.Uint64 // changes adopted from Redis
	resyncs     atomic.Uint64
	restores    atomic.Uint64 // merges that wrote scopes Redis had lost
	unconfirmed atomic.Uint64 // writes no replica confirmed at the first try

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// record is a scope as stored: its data and the version that wrote it.
type record struct {
	Version
	// Chain holds the IDs of the last changes the data includes, newest
	// first: a writer whose confirmation was interrupted finds its own.
	Chain []string `json:"chain,omitempty"`
	Scope Scope    `json:"data"`
	// Legacy is the shared counter of snapshots written before stamps.
	Legacy int64 `json:"version,omitempty"`
	// audit is the audit entry of the change that wrote it, when known.
	audit *auditRecord
}

func (r record) includes(id string) bool { return slices.Contains(r.Chain, id) }

// NewStore builds a Store and loads the snapshot file, if there is one.
func NewStore(cfg StoreConfig) (*Store, error) {
	s := &Store{
		redis:    cfg.Redis,
		topo:     topologyOf(cfg.Redis),
		path:     filepath.Join(cfg.Dir, "state.json"),
		onChange: cfg.OnChange,
		log:      cfg.Log,
		every:    cfg.CheckEvery,
		wait:     cfg.WaitTimeout,
		writer:   newID(6),
		clock:    clock{wall: cfg.Now},
		scopes:   map[string]record{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.every <= 0 {
		s.every = time.Second
	}
	if s.wait <= 0 {
		s.wait = time.Second
	}
	if s.clock.wall == nil {
		s.clock.wall = time.Now
	}
	s.loop = supervisor.Loop{Name: "state sync", Log: s.log}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func newID(n int) string {
	b := make([]byte, n)
	crand.Read(b)
	return hex.EncodeToString(b)
}

// Scope returns the named scope (Global for every site). The value must be
// treated as read-only.
func (s *Store) Scope(name string) Scope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scopes[name].Scope
}

// VersionOf returns the version of the named scope as this node holds it;
// the zero Version when it was never changed.
func (s *Store) VersionOf(name string) Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scopes[name].Version
}

// Version returns the newest version this node holds, as one number (the
// milliseconds and counter of its stamp): nodes that hold the same state
// show the same number, and it grows with every change.
func (s *Store) Version() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var newest Stamp
	for _, r := range s.scopes {
		if r.Stamp.Compare(newest) > 0 {
			newest = r.Stamp
		}
	}
	return newest.Ms<<20 | min(newest.Seq, 1<<20-1)
}

// Names returns the names of every scope that holds something.
func (s *Store) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name, r := range s.scopes {
		if !r.Scope.IsZero() {
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
// the scope's version (fn runs again on the newer scope when another node
// changed it meanwhile), and confirmed by a replica when the master has
// one. While Redis does not answer, Change tries again until ctx ends (10s
// when ctx has no deadline), so a change made during a failover lands on
// the new master; then it returns ErrUnavailable (nothing changed) or
// ErrUnconfirmed (the change may be in force).
func (s *Store) Change(ctx context.Context, name string, fn func(*Scope) error) (Scope, error) {
	return s.change(ctx, name, nil, fn)
}

// ChangeAudited is Change with the audit entry that records it, written in
// the same step as the change: the audit stream holds every change that is
// in the state and no change that is not. The entry's Scope is set to name.
func (s *Store) ChangeAudited(ctx context.Context, name string, e AuditEntry, fn func(*Scope) error) (Scope, error) {
	e.Scope = redisName(name)
	return s.change(ctx, name, &e, fn)
}

// Bounds of Change's attempts.
const (
	defaultChangeTime = 10 * time.Second
	maxConflicts      = 30
	retryPause        = 100 * time.Millisecond // the longest pause between attempts while Redis fails
)

func (s *Store) change(ctx context.Context, name string, e *AuditEntry, fn func(*Scope) error) (sc Scope, err error) {
	if e != nil {
		defer func() {
			if err == nil {
				s.log.Info("admin change", "who", e.Who, "from", e.From, "action", e.Action, "scope", e.Scope, "detail", e.Detail)
			}
		}()
	}
	if s.redis == nil {
		return s.changeLocal(name, e, fn)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultChangeTime)
		defer cancel()
	}
	var auditJSON string
	if e != nil {
		b, _ := json.Marshal(e)
		auditJSON = string(b)
	}
	id := newID(8)
	var (
		conflicts    int
		failures     int
		maybeWritten bool  // a write of this change may have reached Redis
		written      Stamp // its stamp, when Redis' answer came
		lastErr      error
	)
	fail := func(err error) (Scope, error) {
		if maybeWritten {
			return Scope{}, fmt.Errorf("%w: %w", ErrUnconfirmed, err)
		}
		return Scope{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			if lastErr == nil {
				lastErr = err
			}
			return fail(lastErr)
		}
		if lastErr != nil {
			s.log.Debug("shared state change not done yet; trying again", "scope", name, "change", id, "err", lastErr)
			failures++
			if err := pause(ctx, min(time.Duration(failures)*5*time.Millisecond, retryPause)); err != nil {
				return fail(lastErr)
			}
		}
		cur, epoch, err := s.readWithEpoch(ctx, name)
		if err != nil {
			lastErr = cause(lastErr, err)
			continue
		}
		if epoch != s.currentEpoch() {
			// Redis lost the state, or this node has not synced with it
			// yet: merge first, so the change is based on the real scope.
			lastErr = errNewEpoch
			if err := s.merge(ctx); err != nil {
				lastErr = cause(lastErr, err)
			}
			continue
		}
		if maybeWritten && cur.includes(id) {
			// Our change is in Redis; it only needs a replica to confirm
			// it, on the master that holds it now: the read above may have
			// come from a master that was replaced since.
			held, heldOK, ok, err := s.reconfirm(ctx, name, id, epoch)
			switch {
			case errors.Is(err, errNewEpoch):
				lastErr = errNewEpoch
				if err := s.merge(ctx); err != nil {
					lastErr = cause(lastErr, err)
				}
				continue
			case err == nil && !heldOK:
				// The master now named never had it (it was written to
				// the one it replaced): read again and make it anew.
				lastErr = errChangeMissing
				continue
			case err != nil || !ok:
				lastErr = cause(lastErr, cmp(err, errNotConfirmed))
				continue
			}
			if s.settle(name, held, auditOf(written, e), epoch) {
				return held.Scope, nil
			}
			lastErr = errStateLost
			continue
		}
		next := cur.Scope.clone()
		if err := fn(&next); err != nil {
			return Scope{}, err
		}
		w, err := s.write(ctx, name, cur.Version, next, id, auditJSON)
		switch {
		case err != nil:
			if w.status == casOK || !nothingSent(err) {
				maybeWritten = true
			}
			if !w.stamp.IsZero() {
				written = w.stamp
			}
			lastErr = cause(lastErr, err)
			continue
		case w.status == casEpoch:
			lastErr = errNewEpoch
			if err := s.merge(ctx); err != nil {
				lastErr = cause(lastErr, err)
			}
			continue
		case w.status == casConflict:
			conflicts++
			if conflicts > maxConflicts {
				return Scope{}, errors.New("state: too many concurrent changes to one scope; try again")
			}
			// Another node changed the scope between our read and our
			// write; wait a little (with jitter, so racing nodes spread
			// out) and base the change on the newer scope.
			backoff := min(time.Millisecond<<min(conflicts, 6), 50*time.Millisecond)
			if err := pause(ctx, backoff+time.Duration(rand.Int64N(int64(backoff)))); err != nil {
				return fail(err)
			}
			lastErr = nil
			continue
		}
		maybeWritten, written = true, w.stamp
		if !w.confirmed {
			lastErr = errNotConfirmed
			continue
		}
		chain := append([]string{id}, cur.Chain[:min(len(cur.Chain), chainLength-1)]...)
		rec := record{Version: Version{Stamp: w.stamp, Writer: s.writer}, Chain: chain, Scope: next}
		if s.settle(name, rec, auditOf(w.stamp, e), w.epoch) {
			return next, nil
		}
		// Redis lost the state between the write and its confirmation
		// (this node merged since): the write may be gone with it.
		lastErr = errStateLost
	}
}

// auditOf is the audit record of a change written under stamp; nil without
// an entry or when the stamp is not known (Redis' answer was lost: the
// entry is in the stream all the same).
func auditOf(stamp Stamp, e *AuditEntry) *auditRecord {
	if e == nil || stamp.IsZero() {
		return nil
	}
	return &auditRecord{ID: stamp, Entry: *e}
}

var (
	errNotConfirmed  = errors.New("no replica confirmed the write")
	errStateLost     = errors.New("redis lost the state while the change was being confirmed")
	errChangeMissing = errors.New("the change was written to a master that has been replaced; making it again")
	errNewEpoch      = errors.New("redis lost the state, or another node wrote it back; merged this node's")
)

func (s *Store) currentEpoch() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// cause picks the error to report: the new one, unless it only says the
// deadline ran out while an earlier one says why.
func cause(prev, err error) error {
	if prev != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return prev
	}
	return err
}

func cmp(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle applies a confirmed change on this node, unless the node already
// holds a newer version (adopted from Redis meanwhile), and keeps its audit
// entry. It reports false, and applies nothing, when the node no longer
// follows epoch, the state the change was written to: Redis lost it since
// (this node merged its own state back, without the change), so the change
// must be made again.
func (s *Store) settle(name string, rec record, a *auditRecord, epoch string) bool {
	s.clock.Observe(rec.Stamp)
	s.syncMu.Lock()
	s.mu.Lock()
	if s.epoch != epoch {
		s.mu.Unlock()
		s.syncMu.Unlock()
		return false
	}
	var changed []string
	if cur, ok := s.scopes[name]; !ok || rec.Version.Compare(cur.Version) > 0 {
		s.scopes[name] = rec
		changed = append(changed, name)
	}
	var audit []auditRecord
	if a != nil {
		s.audit.add(*a)
		audit = append(audit, *a)
	}
	s.recordLocked(changed, audit)
	s.mu.Unlock()
	s.syncMu.Unlock()
	s.notify(changed)
	return true
}

func (s *Store) changeLocal(name string, e *AuditEntry, fn func(*Scope) error) (Scope, error) {
	s.mu.Lock()
	next := s.scopes[name].Scope.clone()
	if err := fn(&next); err != nil {
		s.mu.Unlock()
		return Scope{}, err
	}
	stamp := s.clock.Now()
	s.scopes[name] = record{Version: Version{Stamp: stamp, Writer: s.writer}, Scope: next}
	var audit []auditRecord
	if e != nil {
		a := auditRecord{ID: stamp, Entry: *e}
		s.audit.add(a)
		audit = append(audit, a)
	}
	s.recordLocked([]string{name}, audit)
	s.mu.Unlock()
	s.notify([]string{name})
	return next, nil
}

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

var scopeFields = []string{fieldData, fieldStamp, fieldWriter, fieldChain, fieldAudit, fieldLegacy}

// decodeRemote reads HMGET's answer for scopeFields.
func decodeRemote(vals []any) (record, error) {
	var r record
	if len(vals) != len(scopeFields) || vals[0] == nil {
		return r, nil
	}
	str := func(i int) string { v, _ := vals[i].(string); return v }
	if err := json.Unmarshal([]byte(str(0)), &r.Scope); err != nil {
		return record{}, fmt.Errorf("state: bad scope: %w", err)
	}
	stamp := str(1)
	if stamp == "" && str(5) != "" {
		stamp = "0-" + str(5) // written before stamps: the old counter
	}
	var err error
	if r.Stamp, err = ParseStamp(stamp); err != nil {
		return record{}, err
	}
	r.Writer = str(2)
	r.Chain = strings.Fields(str(3))
	if a := str(4); a != "" {
		var e AuditEntry
		if json.Unmarshal([]byte(a), &e) == nil {
			r.audit = &auditRecord{ID: r.Stamp, Entry: e}
		}
	}
	return r, nil
}

// notify tells OnChange, one call at a time: a call reads the state as it
// is when it runs, so the last one to run sees the newest, and two calls
// must not interleave (an older reading applied after a newer one).
func (s *Store) notify(changed []string) {
	if len(changed) > 0 && s.onChange != nil {
		sort.Strings(changed)
		s.notifyMu.Lock()
		defer s.notifyMu.Unlock()
		s.onChange(changed)
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

// running reports whether the sync loop runs: started, subscribed, and not
// waiting to restart after a panic.
func (s *Store) running() bool { return s.syncing.Load() && s.loop.Healthy() }

// StoreStats counts what the store did, for metrics and tests.
type StoreStats struct {
	// Version is the store's Version.
	Version int64
	// Shared: the state is in Redis. RedisOK: Redis answered the last
	// check. Syncing: the sync loop runs (false while it restarts after a
	// panic).
	Shared, RedisOK, Syncing bool
	// Applied counts changes adopted from Redis; Resyncs full re-reads;
	// Restores merges that wrote back scopes Redis had lost; Unconfirmed
	// writes no replica confirmed at the first try; Panics sync loop panics.
	Applied, Resyncs, Restores, Unconfirmed, Panics uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() StoreStats {
	return StoreStats{
		Version: s.Version(), Shared: s.redis != nil, RedisOK: s.redisOK.Load(), Syncing: s.running(),
		Applied: s.applied.Load(), Resyncs: s.resyncs.Load(), Restores: s.restores.Load(),
		Unconfirmed: s.unconfirmed.Load(), Panics: s.loop.Panics(),
	}
}

// Healthy returns nil while the store follows Redis (or needs no Redis),
// and what is wrong otherwise: the sync loop restarting after a panic, or
// Redis not answering. The node keeps serving its last state either way.
func (s *Store) Healthy() error {
	switch {
	case s.redis == nil:
		return nil
	case !s.running():
		return errors.New("state: sync loop not running (restarting after a panic, or not started)")
	case !s.redisOK.Load():
		return errors.New("state: redis unreachable; serving the last state seen")
	}
	return nil
}

// Versions returns the version of every scope this node holds.
func (s *Store) Versions() map[string]Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Version, len(s.scopes))
	for name, r := range s.scopes {
		out[name] = r.Version
	}
	return out
}

// RemoteVersions reads the version of every scope Redis holds, for
// operators and tests that check nodes agree with it.
func RemoteVersions(ctx context.Context, client redis.UniversalClient) (map[string]Version, error) {
	names, err := client.SMembers(ctx, keyScopes).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]Version{}
	for _, n := range names {
		vals, err := client.HMGet(ctx, keyPrefix+n, scopeFields...).Result()
		if err != nil {
			return nil, err
		}
		r, err := decodeRemote(vals)
		if err != nil {
			return nil, err
		}
		if !r.Stamp.IsZero() {
			out[localName(n)] = r.Version
		}
	}
	return out, nil
}
