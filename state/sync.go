package state

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Start runs the sync loop (subscription, checks, merges). Without Redis it
// does nothing.
func (s *Store) Start() {
	if s.redis == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.syncing.Store(false)
		s.loop.Run(s.ctx, s.syncLoop)
	}()
}

// Close stops the sync loop and waits for it.
func (s *Store) Close() {
	s.cancel()
	s.wg.Wait()
}

// syncLoop follows Redis until ctx ends. A panic ends it (a bug in one
// change, or in OnChange); the supervisor in Start runs it again after a
// pause that grows, and the store reports itself unhealthy (Healthy,
// Stats().Syncing) in between, so that a node is never silently deaf to
// every later change.
func (s *Store) syncLoop(ctx context.Context) {
	s.syncing.Store(false)
	pubsub := s.redis.Subscribe(ctx, channel)
	defer pubsub.Close()
	msgs := pubsub.ChannelWithSubscriptions(redis.WithChannelSize(256))
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	s.syncing.Store(true)
	if s.loop.Panics() > 0 {
		// A panic may have come between applying a change and telling
		// OnChange about it.
		s.notify(s.allNames())
	}
	s.check()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				panic("state: the pub/sub channel closed")
			}
			switch m := m.(type) {
			case *redis.Subscription:
				// Subscribed, for the first time or after a reconnect (with
				// Sentinel, also after a switch of master): pub/sub lost
				// whatever was published meanwhile.
				s.check()
			case *redis.Message:
				s.heard(m.Payload)
			}
		case <-tick.C:
			s.check()
		}
	}
}

func (s *Store) allNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{Global}
	for name := range s.scopes {
		if name != Global {
			out = append(out, name)
		}
	}
	return out
}

// heard applies an announced change ("name stamp writer previous-head"),
// or re-reads everything after a merge ("! head").
func (s *Store) heard(payload string) {
	f := strings.Fields(payload)
	if len(f) >= 1 && f[0] == "!" {
		s.check()
		return
	}
	if len(f) < 3 {
		return
	}
	stamp, err := ParseStamp(f[1])
	if err != nil {
		return
	}
	var prev Stamp
	if len(f) > 3 {
		prev, _ = ParseStamp(f[3])
	}
	name, v := localName(f[0]), Version{Stamp: stamp, Writer: f[2]}
	s.clock.Observe(stamp)

	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	s.syncMu.Lock()
	var changed []string
	if s.VersionOf(name) != v {
		rec, epoch, err := s.readWithEpoch(ctx, name)
		if err != nil {
			s.syncMu.Unlock()
			s.setRedisOK(false, err)
			return
		}
		s.mu.Lock()
		sameEpoch := epoch != "" && epoch == s.epoch
		s.mu.Unlock()
		if !sameEpoch {
			// Redis lost the state or another node merged into it: adopting
			// its scope now could drop a newer one this node must merge.
			s.syncMu.Unlock()
			s.check()
			return
		}
		if !rec.Stamp.IsZero() {
			changed = s.adoptLocked(map[string]record{name: rec}, false)
		}
	}
	s.mu.Lock()
	if prev == s.head {
		s.head = stamp // nothing was missed between the last full read and this change
	}
	s.mu.Unlock()
	s.syncMu.Unlock()
	s.notify(changed)
}

// readWithEpoch reads one scope and the state's epoch in one round trip.
func (s *Store) readWithEpoch(ctx context.Context, name string) (record, string, error) {
	var scope *redis.SliceCmd
	var epoch *redis.StringCmd
	_, err := s.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		scope = p.HMGet(ctx, keyPrefix+redisName(name), scopeFields...)
		epoch = p.Get(ctx, keyEpoch)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return record{}, "", err
	}
	rec, err := decodeRemote(scope.Val())
	return rec, epoch.Val(), err
}

// check compares this node with Redis. A Redis without the epoch this node
// follows lost the state (or another node merged into it after it did), and
// a master that restarted since the last check (a new run id, up for less
// time than since then) may have come back from an older snapshot on disk:
// both get this node's state merged in, scope by scope where it is newer.
// A new master that has run for longer is a promoted replica: it holds
// every confirmed change, and is followed. A Redis whose newest change
// differs from the one this node last read in full is re-read.
func (s *Store) check() {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	vals, err := checkScript.Run(ctx, s.redis, []string{keyEpoch, keyHead}).Slice()
	if err == nil && len(vals) != 4 {
		err = fmt.Errorf("state: unexpected answer from the check script: %v", vals)
	}
	if err != nil {
		s.setRedisOK(false, err)
		return
	}
	s.setRedisOK(true, nil)
	epoch, run := asString(vals[0]), asString(vals[2])
	head, _ := ParseStamp(asString(vals[1]))
	uptime := time.Duration(asInt(vals[3])) * time.Second
	now := time.Now()
	s.mu.Lock()
	mine, seen, lastRun, lastSeen := s.epoch, s.head, s.runID, s.runSeen
	s.mu.Unlock()
	restarted := lastRun != "" && run != lastRun && uptime <= now.Sub(lastSeen)+2*time.Second
	switch {
	case epoch == "" || epoch != mine || restarted:
		if restarted && epoch == mine {
			s.log.Warn("redis restarted; writing back what it may have lost since it last saved", "run_id", run)
		}
		if err := s.merge(ctx); err != nil {
			s.setRedisOK(false, err)
			return
		}
	case head != seen:
		s.resync(ctx)
	}
	s.mu.Lock()
	s.runID, s.runSeen = run, now
	s.mu.Unlock()
}

// resync re-reads every scope from Redis and adopts it.
func (s *Store) resync(ctx context.Context) {
	s.syncMu.Lock()
	changed, err := s.resyncLocked(ctx)
	s.syncMu.Unlock()
	if err != nil {
		s.setRedisOK(false, err)
	}
	s.notify(changed)
}

// resyncLocked adopts Redis' state as a whole: scopes it holds in another
// version are taken, scopes it does not hold are dropped. It does nothing
// when Redis' epoch is not the one this node follows (check merges then).
// It is called with syncMu held.
func (s *Store) resyncLocked(ctx context.Context) ([]string, error) {
	s.resyncs.Add(1)
	var epoch, head *redis.StringCmd
	var names *redis.StringSliceCmd
	_, err := s.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		epoch = p.Get(ctx, keyEpoch)
		head = p.Get(ctx, keyHead)
		names = p.SMembers(ctx, keyScopes)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	s.mu.Lock()
	mine := s.epoch
	s.mu.Unlock()
	if epoch.Val() == "" || epoch.Val() != mine {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(names.Val()))
	if len(cmds) > 0 {
		_, err = s.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range names.Val() {
				cmds[i] = p.HMGet(ctx, keyPrefix+n, scopeFields...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	in := map[string]record{}
	for i, n := range names.Val() {
		rec, err := decodeRemote(cmds[i].Val())
		if err != nil {
			s.log.Warn("unreadable shared state; ignored", "scope", n, "err", err)
			continue
		}
		if !rec.Stamp.IsZero() {
			in[localName(n)] = rec
		}
	}
	changed := s.adoptLocked(in, true)
	hs, _ := ParseStamp(head.Val())
	s.mu.Lock()
	s.head = hs
	s.mu.Unlock()
	return changed, nil
}

// adoptLocked takes Redis' versions of scopes: every one that differs from
// this node's, newer or not, for Redis is the authority within an epoch
// (a node that heard a change a failover then lost must let it go). With
// all, scopes Redis does not hold are dropped too. It returns the names
// that changed. It is called with syncMu held.
func (s *Store) adoptLocked(in map[string]record, all bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var changed []string
	var audit []auditRecord
	for name, r := range in {
		s.clock.Observe(r.Stamp)
		if r.audit != nil {
			s.audit.add(*r.audit)
			audit = append(audit, *r.audit)
		}
		if cur, ok := s.scopes[name]; ok && cur.Version == r.Version {
			continue
		}
		s.scopes[name] = r
		changed = append(changed, name)
	}
	if all {
		for name := range s.scopes {
			if _, ok := in[name]; !ok {
				delete(s.scopes, name)
				changed = append(changed, name)
			}
		}
	}
	if len(changed) > 0 {
		s.applied.Add(uint64(len(changed)))
		s.recordLocked(changed, audit)
	}
	return changed
}

// Merge batches: one script call must not hold Redis for long.
const mergeBatch = 100

// merge writes this node's state into Redis where Redis has none or an
// older version of a scope, and the audit entries Redis lacks; then it
// follows the epoch Redis names and adopts Redis' state.
func (s *Store) merge(ctx context.Context) error {
	s.syncMu.Lock()
	changed, err := s.mergeLocked(ctx)
	s.syncMu.Unlock()
	s.notify(changed)
	return err
}

func (s *Store) mergeLocked(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	names := make([]string, 0, len(s.scopes))
	for name := range s.scopes {
		names = append(names, name)
	}
	sort.Strings(names)
	recs := make([]record, len(names))
	for i, name := range names {
		recs[i] = s.scopes[name]
	}
	audit := append([]auditRecord(nil), s.audit.recs...)
	s.mu.Unlock()

	proposal := newID(8)
	for attempt := 0; attempt < 3; attempt++ {
		var epoch string
		var written, added int64
		same := true
		for i := 0; i == 0 || i < len(names); i += mergeBatch {
			end := min(i+mergeBatch, len(names))
			keys := []string{keyEpoch, keyHead, keyScopes, keyAudit}
			args := []any{proposal, channel, end - i}
			for j := i; j < end; j++ {
				rn := redisName(names[j])
				keys = append(keys, keyPrefix+rn)
				data, err := jsonScope(recs[j].Scope)
				if err != nil {
					return nil, err
				}
				args = append(args, rn, data, recs[j].Stamp.String(), recs[j].Writer, strings.Join(recs[j].Chain, " "), auditJSON(recs[j].audit))
			}
			if end == len(names) {
				for _, a := range audit {
					args = append(args, a.ID.String(), mustJSON(a.Entry))
				}
			}
			vals, err := mergeScript.Run(ctx, s.redis, keys, args...).Slice()
			if err != nil {
				return nil, err
			}
			if len(vals) != 3 {
				return nil, fmt.Errorf("state: unexpected answer from the merge script: %v", vals)
			}
			e := asString(vals[0])
			if epoch != "" && e != epoch {
				same = false // Redis lost the state again while this node merged
			}
			epoch = e
			written += asInt(vals[1])
			added += asInt(vals[2])
		}
		if !same {
			continue
		}
		s.mu.Lock()
		before := s.epoch
		s.epoch = epoch
		s.mu.Unlock()
		if written > 0 || added > 0 {
			s.restores.Add(1)
			s.log.Warn("redis had lost shared state; this node wrote its own back", "scopes", written, "audit_entries", added, "epoch", epoch)
		} else if before != epoch {
			s.log.Info("shared state: following redis' state", "epoch", epoch)
		}
		return s.resyncLocked(ctx)
	}
	return nil, errors.New("state: redis kept losing the state while this node merged it back")
}
