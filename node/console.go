package node

import (
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/console"
	"github.com/awningproxy/awning/fallback/health"
	"github.com/awningproxy/awning/pages"
	"github.com/awningproxy/awning/state"
)

// nodeConsole is what a node runs for the web console: its files, the
// console sessions and the fleet heartbeat (both in the shared Redis when
// there is one), and the forwarding of origin events to the admin API's
// recent incidents.
type nodeConsole struct {
	handler  *console.Handler
	sessions *state.Sessions
	fleet    *state.Fleet
	events   adminEvents
	version  string
}

// adminEvents hands origin state changes to the admin API, once it exists
// (the proxy, and its health checks, are built first).
type adminEvents struct{ admin atomic.Pointer[admin.Server] }

func (e *adminEvents) Notify(ev health.Event) {
	if a := e.admin.Load(); a != nil {
		a.Notify(ev)
	}
}

// notifiers sends each origin event to the webhook (when configured) and
// to the admin API.
type notifiers struct {
	webhook *health.Webhook
	admin   *adminEvents
}

func (ns notifiers) Notify(ev health.Event) {
	if ns.webhook != nil {
		ns.webhook.Notify(ev)
	}
	ns.admin.Notify(ev)
}

// notifier is the health.Notifier of the proxy's sites.
func (n *Node) notifier() health.Notifier {
	return notifiers{webhook: n.webhook, admin: &n.console.events}
}

// newConsole builds the console's parts; the admin API is given them in
// adminConsoleOptions.
func (n *Node) newConsole(version string) error {
	h, err := console.New(console.Options{PageLanguages: pages.Languages()})
	if err != nil {
		return err
	}
	n.console.handler = h
	n.console.version = version
	n.console.sessions = state.NewSessions(state.SessionsConfig{Redis: n.redis, Log: n.log})
	n.console.fleet = state.NewFleet(state.FleetConfig{Redis: n.redis, Self: n.selfInfo, Log: n.log})
	return nil
}

func (n *Node) adminConsoleOptions(opt admin.Options) admin.Options {
	opt.Console = n.console.handler
	opt.Sessions = n.console.sessions
	opt.Fleet = n.console.fleet
	return opt
}

// selfInfo is what this node announces of itself to the fleet.
func (n *Node) selfInfo() state.NodeInfo {
	st := n.state.Stats()
	info := state.NodeInfo{
		Version: n.console.version, Admin: n.addrs.Admin, StateVersion: st.Version,
		Redis: st.Shared && st.RedisOK,
	}
	if reg := n.reg.Load(); reg != nil {
		info.Sites = reg.Len()
	}
	return info
}

// listenConsole opens listen.console, when set: the console and the API
// it calls.
func (n *Node) listenConsole(cfg *config.Config) ([]net.Listener, error) {
	if cfg.Listen.Console == "" {
		return nil, nil
	}
	return listenOn(cfg, "listen.console", cfg.Listen.Console, cfg.Listen.ReusePortOn())
}

func (n *Node) consoleServer() *http.Server {
	return &http.Server{
		Handler:           n.admin.ConsoleHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
}
