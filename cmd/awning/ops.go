package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/awningproxy/awning/pages"
	"github.com/spf13/cobra"
)

func updateCommand(stdout io.Writer) *cobra.Command {
	var api apiFlags
	var tz zoneFlag
	var site string
	var all bool
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Post, list and retract incident updates shown on the outage and maintenance pages",
		Long: `Post, list and retract incident updates shown on the outage and
maintenance pages. Times are printed in the shop's zone (page.timezone), as
the pages show them; with --all, in the zone the shops share, else UTC;
--tz chooses another.`,
		Args: cobra.NoArgs,
	}
	api.register(cmd)
	tz.register(cmd)
	cmd.PersistentFlags().StringVar(&site, "site", "", "the shop")
	cmd.PersistentFlags().BoolVar(&all, "all", false, "every shop")

	var msgs []string
	var expires string
	post := &cobra.Command{
		Use:     "post",
		Short:   "Post an incident update",
		Example: `  awning update post --all --message nl="De database wordt hersteld" --message en="The database is being restored"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, path, err := api.scoped(site, all, "updates")
			if err != nil {
				return err
			}
			msg, err := messages("message", msgs)
			if err != nil {
				return err
			}
			if len(msg) == 0 {
				return fmt.Errorf("update post: give the update with --message lang=text (one per language)")
			}
			body := map[string]any{"message": msg}
			if expires != "" {
				body["expires"] = expires
			}
			data, err := c.call(cmd.Context(), "POST", path, body, "")
			if err != nil {
				return fmt.Errorf("update post: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			var u pages.Update
			json.Unmarshal(data, &u)
			fmt.Fprintf(stdout, "Posted update %s for %s.\n", u.ID, scopeWords(site))
			return nil
		},
	}
	post.Flags().StringArrayVar(&msgs, "message", nil, "the update per language, lang=text (repeat per language)")
	post.Flags().StringVar(&expires, "expires", "", "when the update ends: a duration (90m, 2h) or an RFC 3339 time; default an hour after the shop is back and its maintenance is over")

	list := &cobra.Command{
		Use:   "list",
		Short: "List incident updates, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, path, err := api.scoped(site, all, "updates")
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), "GET", path, nil, "")
			if err != nil {
				return fmt.Errorf("update list: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			var us []struct {
				pages.Update
				Live bool `json:"live"`
			}
			json.Unmarshal(data, &us)
			views, err := siteViews(cmd, c, site)
			if err != nil {
				return fmt.Errorf("update list: %w", err)
			}
			loc, err := tz.printZone(views...)
			if err != nil {
				return fmt.Errorf("update list: %w", err)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPOSTED\tSHOWN\tENDS\tMESSAGE")
			for _, u := range us {
				var parts []string
				for l, m := range u.Message {
					parts = append(parts, l+": "+m)
				}
				sort.Strings(parts)
				shown, ends := "live", "1h after the shop is back"
				if !u.Live {
					shown = "ended"
				}
				if !u.Expires.IsZero() {
					ends = at(u.Expires, loc)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, at(u.Time, loc), shown, ends, strings.Join(parts, " | "))
			}
			return tw.Flush()
		},
	}
	retract := &cobra.Command{
		Use:   "retract ID",
		Short: "Retract an incident update",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, path, err := api.scoped(site, all, "updates")
			if err != nil {
				return err
			}
			if _, err := c.call(cmd.Context(), "DELETE", path+"/"+args[0], nil, ""); err != nil {
				return fmt.Errorf("update retract: %w", err)
			}
			fmt.Fprintf(stdout, "Retracted update %s.\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(post, list, retract)
	return cmd
}

func fallbackCommand(stdout io.Writer) *cobra.Command {
	var api apiFlags
	var site string
	cmd := &cobra.Command{
		Use:   "fallback",
		Short: "Force a shop onto its fallback (copies and outage page), or release it",
		Long: `Ops declare a shop's origin down: shoppers get copies, else the outage
page, and the origin is not contacted until released.`,
		Args: cobra.NoArgs,
	}
	api.register(cmd)
	cmd.PersistentFlags().StringVar(&site, "site", "", "the shop (required)")
	set := func(method, verb string) *cobra.Command {
		return &cobra.Command{
			Use:   verb,
			Short: map[string]string{"force": "Serve the fallback without contacting the origin", "release": "Let health checks decide again"}[verb],
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if site == "" {
					return fmt.Errorf("fallback %s: say which shop with --site", verb)
				}
				c, err := api.client()
				if err != nil {
					return err
				}
				data, err := c.call(cmd.Context(), method, "/v1/sites/"+site+"/fallback", nil, "")
				if err != nil {
					return fmt.Errorf("fallback %s: %w", verb, err)
				}
				if api.json {
					printJSON(stdout, data)
					return nil
				}
				if verb == "force" {
					fmt.Fprintf(stdout, "%s is served from its fallback; the origin is not contacted.\n", site)
				} else {
					fmt.Fprintf(stdout, "%s: health checks decide again.\n", site)
				}
				return nil
			},
		}
	}
	cmd.AddCommand(set("PUT", "force"), set("DELETE", "release"))
	return cmd
}

func tokenCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Admin API tokens",
		Args:  cobra.NoArgs,
	}
	var name string
	var siteList []string
	newCmd := &cobra.Command{
		Use:   "new",
		Short: "Make a token and print it with the line to put in the config",
		Long: `Make a random admin token. The token is shown once; the config keeps only
its SHA-256, so a leaked config file does not leak the token.`,
		Example: `  awning token new --name ops --sites '*'
  awning token new --name bakkerij --sites bakkerij`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var b [32]byte
			if _, err := rand.Read(b[:]); err != nil {
				return err
			}
			tok := "awn_" + base64.RawURLEncoding.EncodeToString(b[:])
			sum := sha256.Sum256([]byte(tok))
			quoted := make([]string, len(siteList))
			for i, s := range siteList {
				quoted[i] = fmt.Sprintf("%q", s)
			}
			fmt.Fprintf(stdout, "token:  %s\n\nAdd to admin.tokens in the config:\n    - {name: %s, sha256: \"%s\", sites: [%s]}\n",
				tok, name, hex.EncodeToString(sum[:]), strings.Join(quoted, ", "))
			return nil
		},
	}
	newCmd.Flags().StringVar(&name, "name", "ops", "who the token is for, as the audit log names it")
	newCmd.Flags().StringSliceVar(&siteList, "sites", []string{"*"}, `sites the token reaches; "*" for every site and the ops operations`)
	cmd.AddCommand(append([]*cobra.Command{newCmd}, tokenAPICommands(stdout)...)...)
	return cmd
}
