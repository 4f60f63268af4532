package node

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/awningproxy/awning/config"
)

// Socket activation (sd_listen_fds(3)): systemd opens the listening
// sockets, as root if the ports need it, and passes them to Awning, which
// then needs no privilege at all. Each socket is named after the listener
// it replaces (FileDescriptorName=http, https or admin in the .socket
// unit); the listen.* address of a key that has a socket is not used.

// listenFDsStart is the first file descriptor systemd passes.
const listenFDsStart = 3

// inheritedListeners returns the sockets systemd passed to this process,
// by the listen key they stand for, and unsets the variables that passed
// them so that no child process takes them for its own. Without socket
// activation it returns none.
func inheritedListeners(cfg *config.Config) (map[string][]net.Listener, error) {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return nil, nil
	}
	fds := os.Getenv("LISTEN_FDS")
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	count, err := strconv.Atoi(fds)
	if err != nil || count < 0 {
		return nil, fmt.Errorf("socket activation: LISTEN_FDS=%q is not a number of sockets", fds)
	}
	out := map[string][]net.Listener{}
	fail := func(err error) (map[string][]net.Listener, error) {
		for _, lns := range out {
			closeAll(lns)
		}
		return nil, err
	}
	for i := range count {
		fd := listenFDsStart + i
		name := ""
		if i < len(names) {
			name = names[i]
		}
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "systemd socket "+name)
		ln, err := net.FileListener(f)
		f.Close() // ln holds its own descriptor
		if err != nil {
			return fail(fmt.Errorf("socket activation: socket %d (%q) is not a listening TCP socket: %w", i, name, err))
		}
		switch name {
		case "http", "https", "admin":
			out["listen."+name] = append(out["listen."+name], ln)
		default:
			ln.Close()
			return fail(cfg.Errorf("listen", "socket activation: systemd passed a socket named %q; name each one after the listener it is for, FileDescriptorName=http, https or admin in the .socket unit", name))
		}
	}
	return out, nil
}
