package main

import (
	"context"
	"fmt"
	"io"
	"strings"

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
	strictGroups(root)
	root.SetFlagErrorFunc(usageError)
	wrapArgs(root)
	return root
}

// usageError says which command an argument or flag error is about, and
// how it is used: cobra's own "accepts 1 arg(s), received 0" or "unknown
// flag: --sit" name neither.
func usageError(cmd *cobra.Command, err error) error {
	msg := fmt.Errorf("%w; usage: %s (`%s --help` says more)", err, cmd.UseLine(), cmd.CommandPath())
	if cmd == cmd.Root() {
		return msg
	}
	return fmt.Errorf("%s: %w", strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), msg)
}

// wrapArgs makes every command that takes arguments report a wrong number
// of them through usageError.
func wrapArgs(c *cobra.Command) {
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
	if c.Args == nil || (!c.Runnable() || c.HasSubCommands()) {
		return
	}
	check := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(cmd, err)
		}
		return nil
	}
}

// strictGroups makes every command that only groups others (maintenance,
// page, update, ...) refuse a subcommand it does not know, with the ones
// it might have meant. Left to cobra, `awning maintenance stauts` prints
// the help and exits 0, which a script or an operator at 3 a.m. takes for
// success. Given no subcommand, a group still prints its help.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if c.Runnable() || !c.HasSubCommands() {
		return
	}
	c.SuggestionsMinimumDistance = 2 // cobra's own default, which SuggestionsFor does not apply
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return unknownCommand(cmd, args[0])
	}
	// Flags are parsed before the subcommand is checked: `awning page sett
	// --site x` would say "unknown flag: --site" about the wrong word.
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if args := cmd.Flags().Args(); cmd.HasSubCommands() && len(args) > 0 {
			return unknownCommand(cmd, args[0])
		}
		return usageError(cmd, err)
	})
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
	}
	return fmt.Errorf("%s (`%s --help` lists its commands)", msg, cmd.CommandPath())
}
