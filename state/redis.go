package state

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Timeouts applied when the URL does not set its own. They are short on
// purpose: Redis is shared state, never on the path that decides whether a
// shopper is served, and a stalled Redis must cost a request milliseconds,
// not the go-redis defaults of seconds.
const (
	DefaultDialTimeout  = time.Second
	DefaultReadTimeout  = 500 * time.Millisecond
	DefaultWriteTimeout = 500 * time.Millisecond
	DefaultPoolTimeout  = time.Second
)

// OpenRedis returns a client for the state.redis URL. Forms:
//
//	redis://[user:pass@]host:port[/db]          one server (rediss:// for TLS)
//	unix:///path/to/redis.sock[?db=N]           one server on a Unix socket
//	redis+sentinel://host:port?master_name=M&addr=host2:port
//	                                             Sentinel (rediss+sentinel:// for TLS)
//	redis+cluster://host:port?addr=host2:port   Cluster (rediss+cluster:// for TLS)
//
// Query parameters set go-redis options (dial_timeout=2s, pool_size=50),
// except those that would read from replicas (read_only, route_by_latency,
// route_randomly), which are ignored: nodes adopt the state they read, so
// they read it from masters. Every client honours context deadlines
// (ContextTimeoutEnabled), so a caller's deadline bounds each call.
//
// The Sentinel client follows every listed sentinel and moves all its
// connections, pub/sub included, to a new master the moment one announces
// it; its goroutines stop with Close. The Cluster client reloads its slot
// map as soon as a node refuses a connection, times out or answers
// CLUSTERDOWN (at most every 200ms), so writes to a failed master's slots
// resume once its replica is promoted rather than a minute later.
// OpenRedis does not wait for a connection.
func OpenRedis(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("state: redis URL: %w", err)
	}
	base, mode, _ := strings.Cut(u.Scheme, "+")
	plain := strings.Replace(rawURL, u.Scheme+"://", base+"://", 1)
	switch {
	case mode == "sentinel" && (base == "redis" || base == "rediss"):
		opt, err := redis.ParseFailoverURL(plain)
		if err != nil {
			return nil, fmt.Errorf("state: redis sentinel URL: %w", err)
		}
		if opt.MasterName == "" {
			return nil, fmt.Errorf("state: redis sentinel URL needs ?master_name=")
		}
		if len(opt.SentinelAddrs) == 0 {
			return nil, fmt.Errorf("state: redis sentinel URL names no sentinel")
		}
		defaults(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.DialerRetries, &opt.ContextTimeoutEnabled, &opt.DisableIdentity)
		return newSentinelClient(opt), nil
	case mode == "cluster" && (base == "redis" || base == "rediss"):
		opt, err := redis.ParseClusterURL(plain)
		if err != nil {
			return nil, fmt.Errorf("state: redis cluster URL: %w", err)
		}
		defaults(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.DialerRetries, &opt.ContextTimeoutEnabled, &opt.DisableIdentity)
		opt.MaintNotificationsConfig = noMaintNotifications()
		// The state must be read where it is written: a replica may lag,
		// and nodes adopt what they read.
		opt.ReadOnly, opt.RouteByLatency, opt.RouteRandomly = false, false, false
		c := redis.NewClusterClient(opt)
		watchSlots(c)
		return c, nil
	case mode == "" && (base == "redis" || base == "rediss" || base == "unix"):
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("state: redis URL: %w", err)
		}
		defaults(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.DialerRetries, &opt.ContextTimeoutEnabled, &opt.DisableIdentity)
		opt.MaintNotificationsConfig = noMaintNotifications()
		return redis.NewClient(opt), nil
	}
	return nil, fmt.Errorf("state: unsupported redis URL scheme %q (want redis, rediss, unix, redis+sentinel or redis+cluster)", u.Scheme)
}

// defaults sets what every topology's options share: Awning's timeouts
// where the URL set none, one dial retry instead of go-redis's five (a
// refused connection is an answer: the caller, or Change, tries again, and
// a cluster reloads its slot map at once), context deadlines honoured, and
// no CLIENT SETINFO on connect (older servers log it as an unknown command).
func defaults(dial, read, write, pool *time.Duration, dialRetries *int, ctxTimeout, noIdentity *bool) {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{dial, DefaultDialTimeout}, {read, DefaultReadTimeout}, {write, DefaultWriteTimeout}, {pool, DefaultPoolTimeout}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if *dialRetries == 0 {
		*dialRetries = 1
	}
	*ctxTimeout, *noIdentity = true, true
}

// noMaintNotifications turns off go-redis's maintenance notifications
// (a Redis Enterprise feature): in their default "auto" mode every new
// connection asks for them, and an ordinary Redis answers with an error.
func noMaintNotifications() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}
