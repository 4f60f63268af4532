package state

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// slotReloadEvery is the least time between two slot map reloads one client
// asks for.
const slotReloadEvery = 200 * time.Millisecond

// slotReloader makes a cluster client reload its slot map as soon as a node
// fails: go-redis does so only on MOVED, ASK and READONLY answers, or every
// 60 seconds, and a refused connection to a dead master is none of these,
// so without it writes to that master's slots fail for up to a minute after
// its replica took over. It is a go-redis hook on the cluster client and on
// every node client (whose dials and pub/sub connections it sees too).
type slotReloader struct {
	c       *redis.ClusterClient
	last    atomic.Int64 // unix nanos of the last reload asked for
	reloads atomic.Uint64
}

func watchSlots(c *redis.ClusterClient) *slotReloader {
	r := &slotReloader{c: c}
	c.AddHook(r)
	c.OnNewNode(func(node *redis.Client) { node.AddHook(r) })
	return r
}

// saw reloads the slot map when err says the node asked is gone, hung or
// no longer serves its slots, at most once per slotReloadEvery.
func (r *slotReloader) saw(err error) {
	if !nodeFailure(err) {
		return
	}
	now := time.Now().UnixNano()
	last := r.last.Load()
	if now-last < int64(slotReloadEvery) || !r.last.CompareAndSwap(last, now) {
		return
	}
	r.reloads.Add(1)
	r.c.ReloadState(context.Background()) // in the background, coalesced by go-redis
}

// nodeFailure reports whether err comes from a node that is down, hung,
// demoted or cut off from its cluster, rather than from the command.
func nodeFailure(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "LOADING", "READONLY", "MOVED", "ASK "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// DialHook implements redis.Hook.
func (r *slotReloader) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		r.saw(err)
		return c, err
	}
}

// ProcessHook implements redis.Hook.
func (r *slotReloader) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		r.saw(err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (r *slotReloader) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		r.saw(err)
		for _, c := range cmds {
			if err := c.Err(); nodeFailure(err) {
				r.saw(err)
				break
			}
		}
		return err
	}
}
