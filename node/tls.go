package node

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/sites"
	"github.com/awningproxy/awning/tls/certs"
	"github.com/awningproxy/awning/tls/listener"
	"github.com/awningproxy/awning/tls/redisstore"
	"github.com/awningproxy/awning/tls/tickets"
	"github.com/caddyserver/certmagic"
)

// newTLS builds the HTTPS components for cfg (tls.mode acme or
// self-signed): the certificate manager, with certificates in Redis when
// the node has one, and the shared session ticket keys.
func (n *Node) newTLS(cfg *config.Config, reg *sites.Registry) error {
	var storage certmagic.Storage
	if n.redis != nil {
		st, err := redisstore.New(n.redis, redisstore.Options{Logger: n.log})
		if err != nil {
			return err
		}
		n.store, storage = st, st
		if n.tickets, err = tickets.New(tickets.Options{Redis: n.redis, Logger: n.log}); err != nil {
			return err
		}
	}
	m, err := certs.New(certs.Options{Config: cfg, Sites: reg, Storage: storage, Logger: n.log})
	if err != nil {
		return err
	}
	n.certs = m
	n.tlsConf = listener.ServerConfig(m.GetCertificate)
	if n.tickets != nil {
		n.tickets.Attach(n.tlsConf)
	}
	return nil
}

// startTLS serves HTTPS on lns and starts keeping certificates; the
// returned stop ends the background work once the listeners are shut.
func (n *Node) startTLS(lns []net.Listener, serve func(net.Listener, func(net.Listener) error)) (stop func(), err error) {
	cfg := n.Config()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop = func() {
		cancel()
		wg.Wait()
		n.certs.Close()
	}
	if n.tickets != nil {
		// One sync before the first handshake, so that sessions resume
		// across nodes from the start; Redis being down is not fatal.
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		n.tickets.Sync(sctx)
		scancel()
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.tickets.Run(ctx)
		}()
	}
	// Certificates first: the listeners are bound already, so ACME
	// validation waits in the kernel's queue until they are served, and no
	// handshake meets a manager that has not started.
	if err := n.certs.Start(); err != nil {
		stop()
		closeAll(lns)
		return nil, cfg.Errorf("tls.mode", "%s certificates cannot be used: %v; their store is %s (under state.dir)",
			cfg.TLS.Mode, err, stateDirs(cfg)[1])
	}
	for _, ln := range lns {
		tl := listener.New(ln, listener.Options{
			TLS:              n.tlsConf,
			HandshakeTimeout: cfg.TLS.HandshakeTimeout.D(),
			MaxHandshakes:    cfg.TLS.MaxHandshakes,
			Logger:           n.log,
		})
		n.tlsLnsMu.Lock()
		n.tlsLns = append(n.tlsLns, tl)
		n.tlsLnsMu.Unlock()
		n.addrs.HTTPS = append(n.addrs.HTTPS, ln.Addr().String())
		serve(tl, n.proxy.Serve)
		serve(tl.HTTP2(), n.proxy.ServeHTTP2)
	}
	if len(lns) > 0 {
		n.proxy.SetHTTPSPort(lns[0].Addr().(*net.TCPAddr).Port)
	}
	if path := n.certs.CAPath(); path != "" {
		host := "localhost"
		if all := n.reg.Load().All(); len(all) > 0 {
			host = all[0].Hosts[0]
		}
		if strings.Contains(host, ":") { // an IPv6 literal
			host = "[" + host + "]"
		}
		url := "https://" + host
		if p := n.proxy.HTTPSPort(); p != 443 {
			url += ":" + strconv.Itoa(p)
		}
		n.log.Info("HTTPS certificates come from a local CA (tls.mode self-signed); trust it to avoid warnings",
			"ca", path,
			"curl", "curl --cacert "+path+" "+url+"/",
			"browser", "import "+path+" as a trusted certificate authority (Firefox: Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import; Chrome and Edge: Settings > Privacy and security > Security > Manage certificates)")
	}
	return stop, nil
}

// portOf returns the port of a host:port listen address (0 when absent).
func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// CertManager returns the node's certificate manager, nil with tls.mode off.
func (n *Node) CertManager() *certs.Manager { return n.certs }

// HandshakeStats sums the counters of the node's TLS listeners.
func (n *Node) HandshakeStats() listener.Stats {
	n.tlsLnsMu.Lock()
	defer n.tlsLnsMu.Unlock()
	var s listener.Stats
	for _, l := range n.tlsLns {
		st := l.Stats()
		s.Accepted += st.Accepted
		s.Handshakes += st.Handshakes
		s.Resumed += st.Resumed
		s.Failed += st.Failed
		s.TimedOut += st.TimedOut
		s.Challenges += st.Challenges
		s.HTTP2 += st.HTTP2
		s.InProgress += st.InProgress
		s.Waiting += st.Waiting
	}
	return s
}

// TLSConfig returns the HTTPS listener's configuration (nil with tls.mode
// off), for tests and benchmarks that shake hands with a node.
func (n *Node) TLSConfig() *tls.Config { return n.tlsConf }

// CertStorageStats returns the lock counters of the node's Redis
// certificate storage (zero without state.redis).
func (n *Node) CertStorageStats() redisstore.Stats {
	if n.store == nil {
		return redisstore.Stats{}
	}
	return n.store.Stats()
}

// TicketStats returns the session ticket key counters (zero without
// state.redis).
func (n *Node) TicketStats() tickets.Stats {
	if n.tickets == nil {
		return tickets.Stats{}
	}
	return n.tickets.Stats()
}
