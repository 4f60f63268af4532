package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/awningproxy/awning/config"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis logs every failed dial through a package-wide logger, many
	// lines a second while Redis is down. Awning logs each Redis state
	// change once itself; go-redis's detail goes to debug.
	redis.SetLogger(redisLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		report(os.Stderr, err)
		stop()
		os.Exit(1)
	}
}

// report writes the error a command ended with. Configuration problems
// are written one a line as file:line:column: key.path: message, nothing
// before them, so that editors and CI logs link every one (a prefix on the
// first line only would hide the first problem from them), then how many
// there were.
func report(w io.Writer, err error) {
	var ce config.Errors
	if errors.As(err, &ce) && err.Error() == ce.Error() {
		fmt.Fprintln(w, err)
		if len(ce) == 1 {
			fmt.Fprintln(w, "awning: 1 problem in the configuration")
		} else {
			fmt.Fprintf(w, "awning: %d problems in the configuration\n", len(ce))
		}
		return
	}
	fmt.Fprintln(w, "awning:", err)
}

// redisLogger sends go-redis's messages to slog's default logger at debug.
type redisLogger struct{}

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
