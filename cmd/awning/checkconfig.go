package main

import (
	"fmt"
	"io"

	"github.com/awningproxy/awning/node"
	"github.com/spf13/cobra"
)

func checkConfigCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE",
		Short: "Check a configuration file without starting",
		Long: `Check a configuration file the way serve and a SIGHUP reload would, and
report every problem as file:line:column: key.path: message.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := node.Check(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: OK (%d sites)\n", args[0], len(cfg.Sites))
			return nil
		},
	}
}
