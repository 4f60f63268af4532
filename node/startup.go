package node

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/awningproxy/awning/config"
)

// Start-up checks. A node that cannot do its job says so at once, in one
// line that names the config key (or environment variable) that fixes it,
// and Run returns: a process that stays alive without serving looks
// healthy to systemd and Kubernetes while shoppers get nothing (issue 19).

// openListeners opens every listener the node serves on: listen.http,
// listen.https (unless tls.mode is off) and listen.admin, or takes the
// sockets systemd passed for them (socket activation, activation.go).
// Either all open or none stays open.
func (n *Node) openListeners(cfg *config.Config) (httpLns, httpsLns, adminLns []net.Listener, err error) {
	inherited, err := inheritedListeners(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	keys := []struct {
		key, addr string
		dst       *[]net.Listener
	}{
		{"listen.http", cfg.Listen.HTTP, &httpLns},
		{"listen.https", cfg.Listen.HTTPS, &httpsLns},
		{"listen.admin", cfg.Listen.Admin, &adminLns},
	}
	for _, k := range keys {
		lns, ok := inherited[k.key]
		delete(inherited, k.key)
		switch {
		case k.key == "listen.https" && n.certs == nil:
			if ok {
				closeAll(lns)
				n.log.Warn("systemd passed a socket named https, but tls.mode is off: it is closed", "key", k.key)
			}
			continue
		case ok:
			n.log.Info("serving on a socket from systemd", "key", k.key, "addr", addrsOf(lns))
		default:
			shared := cfg.Listen.ReusePortOn() && portTaken(k.addr)
			lns, err = listenOn(cfg, k.key, k.addr, cfg.Listen.ReusePortOn())
			if err == nil && shared {
				// Taken, and bound all the same: another SO_REUSEPORT
				// socket of this user. Expected while an upgrade hands
				// over; otherwise a second Awning now takes part of the
				// traffic.
				n.log.Warn("another process already listens on this port; with listen.reuse_port the kernel now shares new connections between it and this node. "+
					"That is what an upgrade does; if it is not one, stop the other process, or set listen.reuse_port: false to make this fail at start",
					"key", k.key, "addr", k.addr)
			}
		}
		if err != nil {
			for _, open := range keys {
				closeAll(*open.dst)
			}
			return nil, nil, nil, err
		}
		*k.dst = lns
	}
	return httpLns, httpsLns, adminLns, nil
}

func addrsOf(lns []net.Listener) []string {
	out := make([]string, len(lns))
	for i, ln := range lns {
		out[i] = ln.Addr().String()
	}
	return out
}

// portTaken reports whether another socket already listens on addr's port
// (binding it without SO_REUSEPORT is refused): with listen.reuse_port the
// bind would succeed silently and share the traffic.
func portTaken(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" {
		return false
	}
	if host == "localhost" {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	ln.Close()
	return false
}

// listenOn opens the listeners of the listen.* key at addr, turning the
// kernel's refusal into what an operator can act on.
func listenOn(cfg *config.Config, key, addr string, reusePort bool) ([]net.Listener, error) {
	lns, err := listen(addr, reusePort)
	if err != nil {
		return nil, listenError(cfg, key, addr, err)
	}
	return lns, nil
}

// listenError explains why addr (the value of key) could not be listened on.
func listenError(cfg *config.Config, key, addr string, err error) error {
	_, port, _ := net.SplitHostPort(addr)
	var hint string
	switch {
	case errors.Is(err, syscall.EACCES):
		hint = fmt.Sprintf("permission denied: ports below 1024 need root or the capability CAP_NET_BIND_SERVICE "+
			"(systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE, see docs/operations.md \"The first hour\"); or set %s to a port above 1023", key)
	case errors.Is(err, syscall.EADDRINUSE):
		hint = fmt.Sprintf("port %s is already in use by another process (`ss -ltnp 'sport = :%s'` names it); stop it or set %s to a free port", port, port, key)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		hint = fmt.Sprintf("this host has no such address; set %s to one of its addresses, or :%s for all of them", key, port)
	default:
		hint = fmt.Sprintf("%v; check %s", unwrapAll(err), key)
	}
	return &startError{cfg.Errorf(key, "cannot listen on %q: %s", addr, hint), err}
}

// startError is a start-up failure said as a positioned config error (the
// key that fixes it), keeping its cause for errors.Is.
type startError struct {
	msg   *config.Error
	cause error
}

func (e *startError) Error() string { return e.msg.Error() }
func (e *startError) Unwrap() error { return e.cause }

// unwrapAll returns the innermost error: "bind: permission denied" rather
// than "listen tcp 127.0.0.1:80: bind: permission denied" when the address
// is said already.
func unwrapAll(err error) error {
	for {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err
			continue
		}
		return err
	}
}

// stateDirs returns the directories under state.dir the node writes: the
// directory itself (the state snapshot) and, with HTTPS, the certificate
// store (certificates of tls.mode acme, the local CA of tls.mode
// self-signed; with Redis the certificates live there and the directory is
// this node's copy).
func stateDirs(cfg *config.Config) []string {
	dirs := []string{cfg.State.Dir}
	switch cfg.TLS.Mode {
	case "acme":
		dirs = append(dirs, filepath.Join(cfg.State.Dir, "certificates"))
	case "self-signed":
		dirs = append(dirs, filepath.Join(cfg.State.Dir, "local-ca"))
	}
	return dirs
}

// maxProbeFiles bounds how many files checkStateDir opens to see that they
// can be read: enough for thousands of certificates, not a disk scan.
const maxProbeFiles = 20_000

// checkStateDir makes sure the node can keep its state: each directory of
// stateDirs can be created and written, and, with readAll, what is already
// in it can be read (at start; /readyz asks often and only writes). It
// writes and removes one small file per directory.
func checkStateDir(cfg *config.Config, readAll bool) error {
	for i, dir := range stateDirs(cfg) {
		if err := probeDir(dir, readAll, readAll && i > 0); err != nil {
			return stateDirError(cfg, dir, err)
		}
	}
	return nil
}

// probeDir creates dir when missing and writes a file in it; with read it
// opens the state snapshot, and with deep every file below it (a
// certificate store).
func probeDir(dir string, read, deep bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, pathCause(err))
	}
	f, err := os.CreateTemp(dir, ".awning-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, pathCause(err))
	}
	name := f.Name()
	_, werr := f.Write([]byte("awning\n"))
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, cerr, rerr); err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, pathCause(err))
	}
	if !read {
		return nil
	}
	if !deep {
		return errors.Join(readable(filepath.Join(dir, "state.json")), readable(filepath.Join(dir, "state.journal")))
	}
	seen := 0
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", path, pathCause(err))
		}
		if seen++; seen > maxProbeFiles {
			return filepath.SkipAll
		}
		if d.Type().IsRegular() {
			return readable(path)
		}
		return nil
	})
}

// readable checks that the file at path, if there is one, can be opened.
func readable(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, pathCause(err))
	}
	return f.Close()
}

// pathCause drops the path from a *fs.PathError, which the caller's message
// names already.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// stateDirError says what to change when the state directory is unusable:
// state.dir in the file, or systemd's StateDirectory= when the directory
// came from $STATE_DIRECTORY.
func stateDirError(cfg *config.Config, dir string, err error) error {
	who := "this user"
	if uid := os.Getuid(); uid >= 0 {
		who = fmt.Sprintf("this user (uid %d)", uid)
	}
	fix := fmt.Sprintf("set state.dir to a directory %s can write, or give %s to it (chown)", who, cfg.State.Dir)
	if env := os.Getenv("STATE_DIRECTORY"); env != "" && env == cfg.State.Dir {
		fix = fmt.Sprintf("the directory comes from $STATE_DIRECTORY (systemd's StateDirectory=); check its owner, or set state.dir to a directory %s can write", who)
	}
	return &startError{cfg.Errorf("state.dir", "%v; %s", err, fix), err}
}
