package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// What a topology promises for an acknowledged change (docs/operations.md
// says the same to operators):
//
//   - A master with a connected replica: Change answers only after WAIT saw
//     a replica take the write, so a failover to that replica keeps it.
//   - Sentinel, master without a live replica (it died, or is being turned
//     into one after a failover): the write is accepted once the sentinels
//     agree that the server written to is the master, no failover is under
//     way and no replica is healthy. It lives on that master and on every
//     node; if the master dies too, it comes back empty and the nodes write
//     their state back.
//   - Cluster, shard without a connected replica: the same, on the word of
//     the master (the cluster refuses writes to a master it demoted).
//   - One server: no failover to lose a write to; a restart empties it and
//     the nodes write their state back.
type topology struct {
	kind      topologyKind
	sentinels sentinelView // with Sentinel
}

type topologyKind int

const (
	oneServer topologyKind = iota
	sentinelSet
	redisCluster
)

// sentinelView is what the store asks the sentinels; OpenRedis's Sentinel
// client provides it.
type sentinelView interface {
	masterReport(ctx context.Context) (sentinelReport, error)
}

// sentinelReport is the sentinels' view of the master, taken from those
// that know the newest configuration.
type sentinelReport struct {
	runID    string // the master's run id; "" when not sure which server is master
	failover bool   // a failover is under way
	healthy  int    // replicas that are up, replicating and linked to the master
}

func topologyOf(c redis.UniversalClient) topology {
	switch v := c.(type) {
	case *redis.ClusterClient:
		return topology{kind: redisCluster}
	case sentinelView:
		return topology{kind: sentinelSet, sentinels: v}
	}
	return topology{kind: oneServer}
}

// Results of casScript.
const (
	casOK       = 1
	casConflict = -1
	casEpoch    = -2
)

type writeResult struct {
	status    int
	stamp     Stamp
	confirmed bool
	epoch     string // the state's epoch the write went into
}

// write runs the compare-and-set of one change on the state's master and,
// when it succeeded, confirms it on the same connection (WAIT counts the
// writes of the connection that asks).
func (s *Store) write(ctx context.Context, name string, base Version, next Scope, id, auditJSON string) (writeResult, error) {
	data, err := json.Marshal(next)
	if err != nil {
		return writeResult{}, fmt.Errorf("state: encode scope: %w", err)
	}
	s.mu.Lock()
	epoch := s.epoch
	s.mu.Unlock()
	rn := redisName(name)
	res := writeResult{epoch: epoch}
	err = s.onMaster(ctx, func(conn *redis.Conn) error {
		vals, err := casScript.Run(ctx, conn, []string{keyPrefix + rn, keyHead, keyScopes, keyAudit, keyEpoch},
			base.key(), data, rn, channel, s.clock.Now().String(), s.writer, auditJSON, epoch, id).Slice()
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return errors.New("state: empty answer from the change script")
		}
		if res.status = int(asInt(vals[0])); res.status != casOK {
			return nil
		}
		if len(vals) != 4 {
			return fmt.Errorf("state: unexpected answer from the change script: %v", vals)
		}
		if res.stamp, err = ParseStamp(asString(vals[1])); err != nil {
			return err
		}
		s.clock.Observe(res.stamp)
		res.confirmed, err = s.confirm(ctx, conn, asInt(vals[2]), asString(vals[3]))
		return err
	})
	return res, err
}

// reconfirm has a replica confirm the change id of scope name, whose
// confirmation was interrupted, on the master that holds it now (see
// confirmScript). It returns the scope as that master holds it, whether it
// holds the change (held: false means the change must be made again, on
// top of what this master holds) and whether the change is confirmed.
func (s *Store) reconfirm(ctx context.Context, name, id, epoch string) (rec record, held, ok bool, err error) {
	err = s.onMaster(ctx, func(conn *redis.Conn) error {
		vals, err := confirmScript.Run(ctx, conn, []string{keyConfirm, keyPrefix + redisName(name), keyEpoch}, id, epoch).Slice()
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return errors.New("state: empty answer from the confirm script")
		}
		switch asInt(vals[0]) {
		case 1:
		case -2:
			return errNewEpoch
		default:
			return nil // not on this master
		}
		fields, _ := vals[3].([]any)
		if len(vals) != 4 || len(fields) != len(scopeFields) {
			return fmt.Errorf("state: unexpected answer from the confirm script: %v", vals)
		}
		if rec, err = decodeRemote(fields); err != nil {
			return err
		}
		held = true
		ok, err = s.confirm(ctx, conn, asInt(vals[1]), asString(vals[2]))
		return err
	})
	return rec, held, ok, err
}

// confirm decides whether the connection's last write is durable enough to
// answer: a replica took it, or the topology has no replica that could
// take over without it (see topology).
func (s *Store) confirm(ctx context.Context, conn *redis.Conn, replicas int64, runID string) (bool, error) {
	if replicas > 0 {
		n, err := conn.Wait(ctx, 1, s.wait).Result()
		if err != nil {
			return false, err
		}
		if n >= 1 {
			return true, nil
		}
	}
	ok, err := s.unreplicatedOK(ctx, replicas, runID)
	if !ok {
		s.unconfirmed.Add(1)
	}
	return ok, err
}

func (s *Store) unreplicatedOK(ctx context.Context, replicas int64, runID string) (bool, error) {
	switch s.topo.kind {
	case redisCluster:
		return replicas == 0, nil
	case sentinelSet:
		r, err := s.topo.sentinels.masterReport(ctx)
		if err != nil {
			return false, err
		}
		return runID != "" && r.runID == runID && !r.failover && r.healthy == 0, nil
	}
	return true, nil
}

// onMaster runs fn on one connection to the master that holds the state.
func (s *Store) onMaster(ctx context.Context, fn func(*redis.Conn) error) error {
	var conn *redis.Conn
	switch c := s.redis.(type) {
	case *redis.ClusterClient:
		node, err := c.MasterForKey(ctx, keyScopes)
		if err != nil {
			return err
		}
		conn = node.Conn()
	case interface{ Conn() *redis.Conn }:
		conn = c.Conn()
	default:
		return fmt.Errorf("state: unsupported redis client %T", s.redis)
	}
	defer conn.Close()
	return fn(conn)
}

// nothingSent reports whether err means the command never reached Redis or
// Redis refused it unexecuted: no connection, or an error reply (MOVED,
// CLUSTERDOWN, READONLY, LOADING, …). A timeout or a connection lost while
// waiting for the answer may hide an executed command.
func nothingSent(err error) bool {
	var op *net.OpError
	var re redis.Error
	switch {
	case errors.As(err, &op) && op.Op == "dial",
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, redis.ErrClosed),
		errors.As(err, &re):
		return true
	}
	return false
}

func asInt(v any) int64 {
	n, _ := v.(int64)
	return n
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}
