package node

import (
	"log/slog"
	"net"
	"os"
)

// sdNotify tells systemd about the node's state (sd_notify(3)) when it
// runs as a Type=notify service: READY=1 once every listener is open, so
// that `systemctl start` returns only then, and an upgrade that starts a
// second instance (docs/operations.md) knows when the new process serves.
// Outside systemd NOTIFY_SOCKET is unset and this does nothing.
func sdNotify(log *slog.Logger, state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	// Go maps a leading '@' to Linux's abstract socket namespace.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		log.Warn("could not tell systemd", "state", state, "err", err)
		return
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		log.Warn("could not tell systemd", "state", state, "err", err)
	}
}
