package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/awningproxy/awning/node"
	"github.com/spf13/cobra"
)

func serveCommand(logOut io.Writer) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run Awning with a configuration file",
		Long: `Run Awning with a configuration file. SIGHUP reloads the file; a file with
errors is refused and the running configuration keeps serving. SIGTERM and
SIGINT stop accepting connections and let requests in flight finish.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), path, logOut)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "awning.yaml", "configuration file")
	return cmd
}

// serve runs a node from the file at path until ctx ends, reloading it on
// SIGHUP.
func serve(ctx context.Context, path string, logOut io.Writer) error {
	n, err := node.New(node.Options{ConfigPath: path, LogOutput: logOut, Version: versionNumber()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				n.Reload() // logs its own outcome
			case <-ctx.Done():
				return
			}
		}
	}()
	err = n.Run(ctx)
	// Stop the reload loop before waiting for it: a Run that failed at
	// once (a port taken) must end the process, not wait for a signal.
	cancel()
	<-done
	signal.Stop(hup)
	return err
}
