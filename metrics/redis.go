package metrics

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// redisBuckets suit a Redis on the local network: most commands take well
// under a millisecond, and state's timeouts cut a stalled one at 500ms.
var redisBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// redisHook times every command (and pipeline) the node's Redis client
// sends, whoever sends it: the cache tier, shared state, certificate
// storage. Pub/sub does not pass through go-redis process hooks, so a
// subscription's long wait is never timed as a slow command.
type redisHook struct {
	duration prometheus.Histogram
	errors   prometheus.Counter
}

func newRedisHook() *redisHook {
	return &redisHook{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "awning_redis_command_duration_seconds",
			Help:    "Time a Redis command (or pipeline) of this node took, errors included.",
			Buckets: redisBuckets,
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "awning_redis_command_errors_total",
			Help: "Redis commands (or pipelines) that failed: refused, timed out, or answered with an error. A key not found is not an error.",
		}),
	}
}

func (h *redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

func (h *redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		if setupCommand(cmd.Name()) {
			// go-redis probes optional features when it opens a connection
			// (CLIENT MAINT_NOTIFICATIONS fails on every Redis but Redis
			// Enterprise) and expects refusals; a real failure to connect
			// fails the command that needed the connection, counted then.
			h.observe(start, nil)
			return err
		}
		h.observe(start, err)
		return err
	}
}

// setupCommand reports whether name is one go-redis sends when it opens a
// connection.
func setupCommand(name string) bool { return name == "hello" || name == "client" }

func (h *redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.observe(start, err)
		return err
	}
}

func (h *redisHook) observe(start time.Time, err error) {
	h.duration.Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, redis.Nil) {
		h.errors.Inc()
	}
}
