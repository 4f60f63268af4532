package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/metrics"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/state"
	"github.com/awningproxy/awning/tls/certs"
	"github.com/awningproxy/awning/tls/listener"
	"github.com/awningproxy/awning/tls/redisstore"
	"github.com/awningproxy/awning/tls/tickets"
	"github.com/redis/go-redis/v9"
)

// Options configure a Node.
type Options struct {
	// ConfigPath is the configuration file; Reload reads it again. Required.
	ConfigPath string
	// LogOutput receives the log. Default os.Stderr.
	LogOutput io.Writer
	// Version is the running version, for metrics. Default "(devel)".
	Version string
}

// Node is one running Awning. It is safe for concurrent use: Reload may be
// called while Run serves.
type Node struct {
	path  string
	level *slog.LevelVar
	log   *slog.Logger

	reloadMu sync.Mutex
	cfg      atomic.Pointer[config.Config]
	reg      atomic.Pointer[sites.Registry] // the file's sites and the API's
	fileReg  *sites.Registry                // the file's; guarded by reloadMu
	api      map[string]*apiSite            // sites registered through the admin API; guarded by reloadMu
	redis    redis.UniversalClient          // nil without state.redis
	state    *state.Store                   // maintenance, updates, branding: shared through redis
	webhook  *health.Webhook                // nil without notify.webhook
	cache    *cache.Cache                   // outlives reloads: copies stay
	proxy    *proxy.Server
	admin    *admin.Server
	metrics  *metrics.Metrics
	console  nodeConsole // the web console's sessions, fleet heartbeat and files

	reloads, reloadErrors atomic.Uint64
	loadedAt              atomic.Int64           // unix nanos the config in force was loaded
	reloadErr             atomic.Pointer[string] // the last reload's error; nil after a good one
	phase                 atomic.Int32           // phaseStarting, phaseServing, phaseDraining
	dirProbe              dirProbe
	windows               *windowLog    // logs maintenance windows starting and ending
	updates               *updateKeeper // ends incident updates (updates.go)

	// HTTPS; all nil with tls.mode off.
	certs    *certs.Manager
	store    *redisstore.Store // certificates in Redis; nil without state.redis
	tickets  *tickets.Keeper   // shared session ticket keys; nil without state.redis
	tlsConf  *tls.Config
	tlsLns   []*listener.Listener
	tlsLnsMu sync.Mutex

	ready chan struct{}
	addrs Addrs
}

// Addrs are the addresses a running node listens on, known once Ready is
// closed (useful with port 0).
type Addrs struct {
	HTTP  []string
	HTTPS []string // empty with tls.mode off
	HTTP3 []string // UDP; empty without listen.http3
	Admin []string
	// Console is listen.console's addresses; empty without it.
	Console []string
}

// New reads the configuration and builds every component, without listening
// or starting goroutines. A configuration error is returned as
// config.Errors, positioned in the file.
func New(opt Options) (*Node, error) {
	cfg, err := config.Load(opt.ConfigPath)
	if err != nil {
		return nil, allProblems(opt.ConfigPath, err)
	}
	out := opt.LogOutput
	if out == nil {
		out = os.Stderr
	}
	n := &Node{path: opt.ConfigPath, level: new(slog.LevelVar), ready: make(chan struct{})}
	n.log = NewLogger(cfg.Log, out, n.level)
	fileReg, err := sites.New(cfg)
	if err != nil {
		return nil, allProblems(opt.ConfigPath, err)
	}
	if err := checkStateDir(cfg, true); err != nil {
		return nil, err
	}
	if cfg.State.Redis != "" {
		if n.redis, err = state.OpenRedis(cfg.State.Redis); err != nil {
			return nil, config.Errors{cfg.Errorf("state.redis", "%v", err)}
		}
	}
	n.state, err = state.NewStore(state.StoreConfig{Redis: n.redis, Dir: cfg.State.Dir, Log: n.log, OnChange: n.applyState})
	if err != nil {
		n.Close()
		return nil, err
	}
	n.fileReg = fileReg
	n.loadAPISites() // what the snapshot file remembers; Redis may bring more
	reg := n.siteTable(fileReg)
	n.windows = newWindowLog(n.log, n.maintenanceWindows)
	n.updates = n.newUpdateKeeper()
	n.webhook = n.newWebhook(cfg, nil)
	n.cache = cache.New(cache.Config{
		Memory:       int64(cfg.Cache.Memory),
		Redis:        n.redis,
		Retention:    cfg.Cache.Retention.D(),
		RedisRefresh: cfg.Cache.RedisRefresh.D(),
		Log:          n.log,
	})
	popt := n.proxyOptions(cfg, reg)
	if cfg.TLS.Mode != "off" {
		if err := n.newTLS(cfg, reg); err != nil {
			n.Close()
			return nil, err
		}
		popt.Plain = &proxy.PlainOptions{
			Challenge: n.certs.HandleHTTPChallenge,
			Redirect:  cfg.TLS.RedirectHTTP(),
			HTTPSPort: portOf(cfg.Listen.HTTPS),
		}
	}
	n.proxy, err = proxy.New(popt)
	if err != nil {
		n.Close()
		return nil, err
	}
	n.cfg.Store(cfg)
	n.reg.Store(reg)
	n.applyAll() // what the snapshot file remembers, before the first request
	if err := n.newMetrics(opt.Version); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.newConsole(opt.Version); err != nil {
		n.Close()
		return nil, err
	}
	n.admin = admin.New(n.adminConsoleOptions(admin.Options{Config: cfg, Sites: reg, Store: n.state, Proxy: n.proxy, Metrics: n.metrics.Handler(), Log: n.log,
		Checks: n.checks, SiteURL: n.siteURL}))
	n.console.events.admin.Store(n.admin)
	n.loadedAt.Store(time.Now().UnixNano())
	returnMemory()
	return n, nil
}

// returnMemory gives the memory a (re)load used only while it ran back to
// the system at once: decoding a file of thousands of sites takes several
// times what the sites then keep, and the runtime would otherwise return
// it over minutes. It costs one garbage collection per load.
func returnMemory() { debug.FreeOSMemory() }

// Close releases what New opened (probes, the webhook, certificate locks,
// the Redis client) for a node that will not Run; Run releases them itself
// when it returns, after the listeners drained. The order matters: nothing
// is closed while something started later may still use it, so the proxy
// (whose background fetches still store copies) goes before the cache,
// and everything that talks to Redis goes before the Redis client.
func (n *Node) Close() {
	if n.admin != nil {
		n.admin.Close()
	}
	if n.console.fleet != nil {
		n.console.fleet.Close()
	}
	if n.metrics != nil {
		n.metrics.Close()
	}
	if n.proxy != nil {
		n.proxy.Close()
	}
	if n.cache != nil {
		n.cache.Close()
	}
	if n.webhook != nil {
		n.webhook.Close()
	}
	if n.state != nil {
		n.state.Close()
	}
	if n.certs != nil {
		n.certs.Close()
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			n.log.Warn("releasing certificate locks", "err", err)
		}
	}
	if n.redis != nil {
		n.redis.Close()
	}
}

func (n *Node) proxyOptions(cfg *config.Config, reg *sites.Registry) proxy.Options {
	return proxy.Options{Config: cfg, Sites: reg, Logger: n.log, Cache: n.cache, Notifier: n.notifier()}
}

// newWebhook starts the webhook for cfg, or returns old when the URL is
// unchanged. The caller closes old when it is replaced.
func (n *Node) newWebhook(cfg *config.Config, old *health.Webhook) *health.Webhook {
	if cfg.Notify.Webhook == "" {
		return nil
	}
	if old != nil && n.Config().Notify.Webhook == cfg.Notify.Webhook {
		return old
	}
	w := health.NewWebhook(cfg.Notify.Webhook, n.log)
	w.Start()
	return w
}

// Config returns the configuration in force.
func (n *Node) Config() *config.Config { return n.cfg.Load() }

// Logger returns the node's logger.
func (n *Node) Logger() *slog.Logger { return n.log }

// Ready is closed once every listener is open.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Addrs returns the listening addresses; call it after Ready is closed.
func (n *Node) Addrs() Addrs { return n.addrs }

// Run opens the listeners and serves until ctx ends, then stops accepting,
// lets requests in flight finish (up to listen.drain_timeout) and returns.
// A listener that fails ends Run with its error.
//
// Shutdown goes in this order: readiness off (load balancers stop sending),
// shopper listeners closed and requests in flight finished, the admin
// listener closed, TLS background work stopped, then Close: metrics,
// background origin fetches, the cache's Redis writer, the webhook's queue,
// shared state, certificates and their locks in Redis, and last the Redis
// client.
func (n *Node) Run(ctx context.Context) error {
	defer n.Close()
	cfg := n.Config()
	httpLns, httpsLns, adminLns, err := n.openListeners(cfg)
	if err != nil {
		return err
	}
	consoleLns, err := n.listenConsole(cfg)
	if err != nil {
		closeAll(httpLns)
		closeAll(httpsLns)
		closeAll(adminLns)
		return err
	}
	var h3Conns []net.PacketConn
	if n.certs != nil && cfg.Listen.HTTP3 != "" {
		if h3Conns, err = listenUDP(cfg.Listen.HTTP3, cfg.Listen.ReusePortOn()); err != nil {
			closeAll(httpLns)
			closeAll(httpsLns)
			closeAll(adminLns)
			closeAll(consoleLns)
			return listenError(cfg, "listen.http3", cfg.Listen.HTTP3, err)
		}
	}

	n.cache.Start()
	n.state.Start()
	n.metrics.Start()
	n.admin.Start()
	wctx, stopWindows := context.WithCancel(context.Background())
	windowsDone := make(chan struct{})
	go func() {
		defer close(windowsDone)
		n.windows.run(wctx)
	}()
	updatesDone := make(chan struct{})
	go func() {
		defer close(updatesDone)
		n.updates.run(wctx)
	}()
	defer func() { // before Close: the loops read the state store
		stopWindows()
		<-windowsDone
		<-updatesDone
	}()
	errc := make(chan error, 2*len(httpsLns)+len(httpLns)+len(h3Conns)+len(adminLns)+len(consoleLns)+1)
	var wg sync.WaitGroup
	serveFunc := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", name, err)
			}
		}()
	}
	serve := func(ln net.Listener, f func(net.Listener) error) {
		serveFunc(ln.Addr().String(), func() error { return f(ln) })
	}
	adminSrv := &http.Server{
		Handler:           n.admin,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	for _, ln := range httpLns {
		n.addrs.HTTP = append(n.addrs.HTTP, ln.Addr().String())
		serve(ln, n.proxy.ServePlain)
	}
	stopTLS := func() {}
	if n.certs != nil {
		if stopTLS, err = n.startTLS(httpsLns, serve); err != nil {
			n.proxy.Shutdown(context.Background())
			adminSrv.Close()
			closeAll(adminLns)
			closePackets(h3Conns)
			closeAll(consoleLns)
			wg.Wait()
			return err
		}
		n.startHTTP3(h3Conns, serveFunc)
	}
	for _, ln := range adminLns {
		n.addrs.Admin = append(n.addrs.Admin, ln.Addr().String())
		serve(ln, adminSrv.Serve)
	}
	consoleSrv := n.consoleServer()
	for _, ln := range consoleLns {
		n.addrs.Console = append(n.addrs.Console, ln.Addr().String())
		serve(ln, consoleSrv.Serve)
	}
	n.console.fleet.Start() // announces the addresses just opened
	n.phase.Store(phaseServing)
	n.admin.SetReady(true)
	close(n.ready)
	n.log.Info("awning is serving", "http", n.addrs.HTTP, "https", n.addrs.HTTPS, "http3", n.addrs.HTTP3, "admin", n.addrs.Admin, "sites", len(cfg.Sites))
	sdNotify(n.log, "READY=1\nSTATUS=serving")

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sdNotify(n.log, "STOPPING=1\nSTATUS=draining requests in flight")
	n.phase.Store(phaseDraining)
	n.admin.SetReady(false)
	drain := n.Config().Listen.DrainTimeout.D()
	n.log.Info("awning is stopping: draining requests in flight", "deadline", drain)
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if serr := n.proxy.Shutdown(sctx); serr != nil {
		n.log.Warn("drain ended before every request finished", "err", serr, "in_flight", n.proxy.Stats().InFlight)
	}
	// fasthttp's Shutdown closes only the listeners Serve has registered; a
	// Serve that had not got that far yet would serve on. Close them all.
	closeAll(httpLns)
	closeAll(httpsLns)
	closePackets(h3Conns)
	adminSrv.Shutdown(sctx)
	consoleSrv.Shutdown(sctx)
	wg.Wait()
	stopTLS()
	n.log.Info("awning stopped")
	return err
}

// Reload reads the configuration file again and swaps it in. A file with
// errors changes nothing: the running configuration keeps serving, and the
// error (positioned in the file) is logged and returned.
func (n *Node) Reload() error {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	err := n.reload()
	if err != nil {
		n.reloadErrors.Add(1)
		msg := err.Error()
		n.reloadErr.Store(&msg)
		n.log.Error("config reload failed; still serving the previous configuration", "file", n.path, "err", err)
		return err
	}
	n.reloads.Add(1)
	n.reloadErr.Store(nil)
	n.loadedAt.Store(time.Now().UnixNano())
	returnMemory()
	return nil
}

func (n *Node) reload() error {
	cfg, err := config.Load(n.path)
	if err != nil {
		return allProblems(n.path, err)
	}
	fileReg, err := sites.New(cfg)
	if err != nil {
		return allProblems(n.path, err)
	}
	if err := n.checkFileAgainstAPI(cfg, fileReg); err != nil {
		return err
	}
	reg := n.siteTable(fileReg)
	oldHook := n.webhook
	hook := n.newWebhook(cfg, oldHook)
	n.webhook = hook
	if err := n.proxy.Update(n.proxyOptions(cfg, reg)); err != nil {
		if hook != oldHook && hook != nil {
			hook.Close()
		}
		n.webhook = oldHook
		return err
	}
	if oldHook != nil && oldHook != hook {
		oldHook.Close()
	}
	old := n.cfg.Swap(cfg)
	n.fileReg = fileReg
	n.reg.Store(reg)
	n.applyAll() // sites the new config added get their state too
	n.admin.Update(cfg, reg)
	if n.certs != nil {
		n.certs.Update(reg)
	}
	n.cache.Resize(int64(cfg.Cache.Memory))
	n.level.Set(parseLevel(cfg.Log.Level))
	if old.Listen.Bound() != cfg.Listen.Bound() || old.Limits != cfg.Limits || old.HTTP2 != cfg.HTTP2 || old.Log.Format != cfg.Log.Format || old.State != cfg.State ||
		!reflect.DeepEqual(old.TLS, cfg.TLS) {
		n.log.Warn("listen, state, tls, http2, limits and log.format changes take effect at the next restart")
	}
	n.log.Info("config reloaded", "file", n.path, "sites", reg.Len())
	return nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}
