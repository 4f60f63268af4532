package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"
)

// run executes the command line args, writing to stdout and stderr, until
// ctx ends. It is what main calls, and what tests call in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := rootCommand(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// rootCommand is the whole command tree, for run and for tests that check
// command lines written elsewhere (deploy/) against it.
func rootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "awning",
		Short: "Awning keeps online shops open when their platform fails",
		Long: `Awning is an edge proxy for online shops. It forwards shoppers to each
shop's origin and, when the origin or the CDN in front of it fails, serves
the last known good copy of the page or a branded outage page instead of an
error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		serveCommand(stderr),
		checkConfigCommand(stdout),
		demoCommand(stdout, stderr),
		pageCommand(stdout),
		maintenanceCommand(stdout),
		updateCommand(stdout),
		fallbackCommand(stdout),
		tokenCommand(stdout),
		siteCommand(stdout),
		versionCommand(stdout),
	)
	return root
}
