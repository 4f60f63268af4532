package state

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// sentinelClient is the client OpenRedis returns for a Sentinel URL: a
// plain go-redis client whose every connection is dialled to the master the
// sentinels name, and whose connections to a former master are closed the
// moment any sentinel announces a new one (+switch-master) — the pooled
// ones and the pub/sub one alike, so that commands and subscriptions move
// together. go-redis's own failover client listens to one sentinel (which
// may learn of a switch seconds after the others) and leaves the pub/sub
// connection on the old master until that is demoted, about ten seconds
// later; a change published meanwhile reaches no node.
type sentinelClient struct {
	*redis.Client
	w *sentinelWatch
}

// Close closes the client and stops following the sentinels.
func (c *sentinelClient) Close() error {
	err := c.Client.Close()
	c.w.close()
	return err
}

// masterReport says who the master is by run id, as Redis itself reports
// it: the sentinels learn a new master's run id only at their next INFO,
// seconds after they announced it.
func (c *sentinelClient) masterReport(ctx context.Context) (sentinelReport, error) {
	r, addr, err := c.w.report(ctx)
	if err != nil {
		return r, err
	}
	c.w.mu.Lock()
	following := c.w.master
	c.w.mu.Unlock()
	if addr != following {
		// This client still follows the previous master; the switch is
		// a moment away.
		r.runID = ""
		return r, nil
	}
	info, err := c.Client.Info(ctx, "server").Result()
	if err != nil {
		return r, err
	}
	r.runID = ""
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			r.runID = v
		}
	}
	return r, nil
}

// How often the sentinels are asked who the master is, besides listening to
// their announcements (which a restarted sentinel connection can miss), and
// how a failed dial is tried again.
const (
	sentinelPoll        = time.Second
	sentinelDialRetries = 40
	sentinelDialPause   = 25 * time.Millisecond
)

func newSentinelClient(opt *redis.FailoverOptions) *sentinelClient {
	w := &sentinelWatch{
		name:  opt.MasterName,
		tls:   opt.TLSConfig,
		dial:  net.Dialer{Timeout: opt.DialTimeout, KeepAlive: 30 * time.Second},
		conns: map[*trackedConn]struct{}{},
		known: make(chan struct{}),
		stop:  make(chan struct{}),
		epoch: -1,
	}
	for _, addr := range opt.SentinelAddrs {
		w.sentinels = append(w.sentinels, redis.NewSentinelClient(&redis.Options{
			Addr: addr, Username: opt.SentinelUsername, Password: opt.SentinelPassword,
			TLSConfig: opt.TLSConfig, DialTimeout: opt.DialTimeout, ReadTimeout: opt.ReadTimeout,
			WriteTimeout: opt.WriteTimeout, ContextTimeoutEnabled: true, DisableIdentity: true,
			PoolSize: 2, MaxRetries: -1,
			MaintNotificationsConfig: noMaintNotifications(),
		}))
	}
	c := redis.NewClient(&redis.Options{
		Addr:            "sentinel:" + opt.MasterName, // names the pool; the dialler picks the address
		Dialer:          w.dialMaster,
		ClientName:      opt.ClientName,
		DB:              opt.DB,
		Protocol:        opt.Protocol,
		Username:        opt.Username,
		Password:        opt.Password,
		MaxRetries:      opt.MaxRetries,
		MinRetryBackoff: opt.MinRetryBackoff,
		MaxRetryBackoff: opt.MaxRetryBackoff,
		DialTimeout:     opt.DialTimeout,
		// A dial that fails is tried again every 25ms for up to a second
		// (within the caller's deadline), each time to the master the
		// sentinels name then: a connection made during a failover lands
		// on the new master the moment it is named. It also keeps go-redis's
		// dial breaker shut: once a pool counts PoolSize failed dials, it
		// fails every dial until a probe, once a second, gets through.
		DialerRetries:         sentinelDialRetries,
		DialerRetryBackoff:    func(int) time.Duration { return sentinelDialPause },
		ReadTimeout:           opt.ReadTimeout,
		WriteTimeout:          opt.WriteTimeout,
		ContextTimeoutEnabled: opt.ContextTimeoutEnabled,
		PoolFIFO:              opt.PoolFIFO,
		PoolSize:              opt.PoolSize,
		PoolTimeout:           opt.PoolTimeout,
		MinIdleConns:          opt.MinIdleConns,
		MaxIdleConns:          opt.MaxIdleConns,
		MaxActiveConns:        opt.MaxActiveConns,
		ConnMaxIdleTime:       opt.ConnMaxIdleTime,
		ConnMaxLifetime:       opt.ConnMaxLifetime,
		DisableIdentity:       opt.DisableIdentity,
		// The dialler does TLS itself (to the address it chose); go-redis
		// must not wrap it again.
		MaintNotificationsConfig: noMaintNotifications(),
	})
	w.start()
	return &sentinelClient{Client: c, w: w}
}

// sentinelWatch follows the sentinels' choice of master. It is safe for
// concurrent use; start runs its goroutines and close stops them.
type sentinelWatch struct {
	name      string
	sentinels []*redis.SentinelClient
	tls       *tls.Config
	dial      net.Dialer

	mu     sync.Mutex
	master string // host:port; "" until known
	epoch  int64  // the sentinels' config epoch master was learnt at
	conns  map[*trackedConn]struct{}
	known  chan struct{} // closed once master is known
	closed bool

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func (w *sentinelWatch) start() {
	for _, sc := range w.sentinels {
		w.wg.Add(1)
		go w.guard(func() { w.listen(sc) })
	}
	w.wg.Add(1)
	go w.guard(w.pollLoop)
}

// guard runs fn until the watch stops, and again a second after it
// returned or panicked (logged) before that.
func (w *sentinelWatch) guard(fn func()) {
	defer w.wg.Done()
	for {
		func() {
			defer func() {
				if v := recover(); v != nil {
					slog.Error("redis sentinel watch panicked; restarting it", "panic", v, "stack", string(debug.Stack()))
				}
			}()
			fn()
		}()
		select {
		case <-w.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

func (w *sentinelWatch) close() {
	w.once.Do(func() {
		close(w.stop)
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
	})
	w.wg.Wait()
	for _, sc := range w.sentinels {
		sc.Close()
	}
}

// listen follows one sentinel's +switch-master announcements; go-redis
// reconnects the subscription when the sentinel restarts.
func (w *sentinelWatch) listen(sc *redis.SentinelClient) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := sc.Subscribe(ctx, "+switch-master")
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-w.stop:
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			// "<name> <old-ip> <old-port> <new-ip> <new-port>"
			f := strings.Fields(m.Payload)
			if len(f) != 5 || f[0] != w.name {
				continue
			}
			// Ask the announcing sentinel for the epoch of its new
			// configuration, so that a poll of a sentinel that has not
			// heard yet cannot switch back.
			qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
			if addr, epoch, err := masterOf(qctx, sc, w.name); err == nil {
				w.setMaster(addr, epoch)
			}
			qcancel()
		}
	}
}

func (w *sentinelWatch) pollLoop() {
	t := time.NewTicker(sentinelPoll)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		w.poll(ctx)
		cancel()
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
	}
}

// poll asks every sentinel and takes the master of the newest configuration.
func (w *sentinelWatch) poll(ctx context.Context) {
	type answer struct {
		addr  string
		epoch int64
	}
	answers := make(chan answer, len(w.sentinels))
	var wg sync.WaitGroup
	for _, sc := range w.sentinels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if addr, epoch, err := masterOf(ctx, sc, w.name); err == nil {
				answers <- answer{addr, epoch}
			}
		}()
	}
	wg.Wait()
	close(answers)
	best := answer{epoch: -1}
	for a := range answers {
		if a.epoch > best.epoch {
			best = a
		}
	}
	if best.addr != "" {
		w.setMaster(best.addr, best.epoch)
	}
}

// masterOf reads one sentinel's view of the master: address and config
// epoch.
func masterOf(ctx context.Context, sc *redis.SentinelClient, name string) (string, int64, error) {
	m, err := sc.Master(ctx, name).Result()
	if err != nil {
		return "", 0, err
	}
	epoch, _ := strconv.ParseInt(m["config-epoch"], 10, 64)
	if m["ip"] == "" || m["port"] == "" {
		return "", 0, errors.New("sentinel: no master address")
	}
	return net.JoinHostPort(m["ip"], m["port"]), epoch, nil
}

// setMaster records the master of a configuration epoch, unless a newer
// one is known, and closes every connection to another server.
func (w *sentinelWatch) setMaster(addr string, epoch int64) {
	w.mu.Lock()
	if epoch < w.epoch || (addr == w.master && epoch == w.epoch) {
		w.mu.Unlock()
		return
	}
	w.epoch = epoch
	if w.master == addr {
		w.mu.Unlock()
		return
	}
	first := w.master == ""
	if w.master != "" {
		slog.Info("redis sentinel: following the new master", "master_name", w.name, "from", w.master, "to", addr, "config_epoch", epoch)
	}
	w.master = addr
	var stale []*trackedConn
	for c := range w.conns {
		if c.addr != addr {
			stale = append(stale, c)
		}
	}
	w.mu.Unlock()
	if first {
		close(w.known)
	}
	for _, c := range stale {
		c.Close()
	}
}

// dialMaster is the data client's dialler: it connects to the master the
// sentinels name now, waiting for the first answer when there is none yet.
func (w *sentinelWatch) dialMaster(ctx context.Context, network, _ string) (net.Conn, error) {
	select {
	case <-w.known:
	case <-ctx.Done():
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("sentinel: no master known for %q: %w", w.name, ctx.Err())}
	case <-w.stop:
		return nil, redis.ErrClosed
	}
	w.mu.Lock()
	addr := w.master
	w.mu.Unlock()
	var conn net.Conn
	var err error
	if w.tls != nil {
		cfg := w.tls.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		conn, err = (&tls.Dialer{NetDialer: &w.dial, Config: cfg}).DialContext(ctx, network, addr)
	} else {
		conn, err = w.dial.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, w: w, addr: addr}
	w.mu.Lock()
	if w.closed || w.master != addr {
		// The master changed while this connection was being made.
		w.mu.Unlock()
		conn.Close()
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("sentinel: master changed while connecting")}
	}
	w.conns[tc] = struct{}{}
	w.mu.Unlock()
	if _, ok := conn.(*net.TCPConn); ok {
		return &trackedTCPConn{tc}, nil
	}
	return tc, nil
}

// trackedConn is a connection to one master, closed when it stops being
// the master.
type trackedConn struct {
	net.Conn
	w    *sentinelWatch
	addr string
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.w.mu.Lock()
		delete(c.w.conns, c)
		c.w.mu.Unlock()
	})
	return c.Conn.Close()
}

// trackedTCPConn lets go-redis's pool look at the socket (syscall.Conn),
// so a connection closed by a switch is dropped when next taken from the
// pool instead of failing a command.
type trackedTCPConn struct{ *trackedConn }

func (c *trackedTCPConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(*net.TCPConn).SyscallConn()
}

// report asks every sentinel about the master and its replicas, and
// returns the view of those that know the newest configuration, with the
// master's address in it.
func (w *sentinelWatch) report(ctx context.Context) (sentinelReport, string, error) {
	type answer struct {
		epoch int64
		addr  string
		r     sentinelReport
	}
	answers := make(chan answer, len(w.sentinels))
	errs := make(chan error, len(w.sentinels))
	var wg sync.WaitGroup
	for _, sc := range w.sentinels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := sc.Master(ctx, w.name).Result()
			if err != nil {
				errs <- err
				return
			}
			replicas, err := sc.Replicas(ctx, w.name).Result()
			if err != nil {
				errs <- err
				return
			}
			a := answer{addr: net.JoinHostPort(m["ip"], m["port"])}
			a.epoch, _ = strconv.ParseInt(m["config-epoch"], 10, 64)
			a.r.failover = strings.Contains(m["flags"], "failover_in_progress")
			for _, r := range replicas {
				if healthyReplica(r) {
					a.r.healthy++
				}
			}
			answers <- a
		}()
	}
	wg.Wait()
	close(answers)
	close(errs)
	var out sentinelReport
	best, addr, n := int64(-1), "", 0
	for a := range answers {
		switch {
		case a.epoch > best:
			best, addr, out, n = a.epoch, a.addr, a.r, 1
		case a.epoch == best:
			n++
			if a.addr != addr {
				addr = "" // sentinels of one configuration disagree: trust neither
			}
			out.failover = out.failover || a.r.failover
			out.healthy = max(out.healthy, a.r.healthy)
		}
	}
	if n == 0 {
		return sentinelReport{}, "", fmt.Errorf("sentinel: no sentinel answered: %w", <-errs)
	}
	return out, addr, nil
}

// healthyReplica reports whether a sentinel sees a replica that takes the
// master's writes: up, reporting itself a replica, and linked.
func healthyReplica(r map[string]string) bool {
	flags := r["flags"]
	for _, bad := range []string{"s_down", "o_down", "disconnected", "promoted"} {
		if strings.Contains(flags, bad) {
			return false
		}
	}
	return r["role-reported"] == "slave" && r["master-link-status"] == "ok"
}
