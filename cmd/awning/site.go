package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/awningproxy/awning/admin"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// siteCommand registers, removes and lists sites through the admin API
// (PUT|DELETE /v1/sites/{site}): what a platform's signup flow calls
// instead of editing the config file on every node.
func siteCommand(stdout io.Writer) *cobra.Command {
	var api apiFlags
	cmd := &cobra.Command{
		Use:   "site",
		Short: "Register, remove and list sites through the admin API (ops)",
		Long: `Sites registered through the admin API are kept in the shared state: every
node serves them within a second, without a reload, and keeps them across
restarts. Sites in the config file stay as they are; a name or host may
be registered one way only.`,
		Args: cobra.NoArgs,
	}
	api.register(cmd)

	var hosts, origins, langs []string
	var brand, file string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a site, or replace one registered before",
		Long: `Register a site from flags, or from a file holding a sites: entry of the
config file (YAML or JSON; flags given as well override its keys). It is
checked as check-config checks the file, and every problem is reported.`,
		Example: `  awning site add bakkerij --host bakkerij.example --host www.bakkerij.example \
      --origin http://10.0.0.5:8080 --lang nl --lang en --brand "Bakkerij de Vries"
  awning site add bakkerij --file bakkerij.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if file != "" {
				var err error
				if body, err = readSiteFile(file); err != nil {
					return err
				}
			}
			if len(hosts) > 0 {
				body["hosts"] = hosts
			}
			if len(origins) > 0 {
				sub(body, "origin")["urls"] = origins
			}
			if len(langs) > 0 {
				sub(body, "page")["languages"] = langs
			}
			if brand != "" {
				sub(body, "page")["brand"] = brand
			}
			if len(body) == 0 {
				return fmt.Errorf("site add: give the site with --host and --origin, or --file")
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), "PUT", "/v1/sites/"+args[0], body, "")
			if err != nil {
				return fmt.Errorf("site add %s: %w", args[0], err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			var v admin.SiteView
			json.Unmarshal(data, &v)
			fmt.Fprintf(stdout, "Site %s registered for %s; every node serves it within a second.\n", args[0], strings.Join(v.Hosts, ", "))
			return nil
		},
	}
	add.Flags().StringArrayVar(&hosts, "host", nil, "a host name of the site (repeat for each)")
	add.Flags().StringArrayVar(&origins, "origin", nil, "an origin URL (repeat for each)")
	add.Flags().StringArrayVar(&langs, "lang", nil, "a page language, the shop's main one first (repeat for each)")
	add.Flags().StringVar(&brand, "brand", "", "the shop's name on its pages")
	add.Flags().StringVar(&file, "file", "", "a file holding the site as a sites: entry (YAML or JSON)")

	remove := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a site registered through the admin API, with its maintenance and branding",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			if _, err := c.call(cmd.Context(), "DELETE", "/v1/sites/"+args[0], nil, ""); err != nil {
				return fmt.Errorf("site remove %s: %w", args[0], err)
			}
			fmt.Fprintf(stdout, "Site %s removed; its hosts are no longer served.\n", args[0])
			return nil
		},
	}

	list := &cobra.Command{
		Use:   "list",
		Short: "List the sites, from the config file and the admin API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := api.client()
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), "GET", "/v1/sites", nil, "")
			if err != nil {
				return fmt.Errorf("site list: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			var vs []admin.SiteView
			json.Unmarshal(data, &vs)
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tFROM\tOPEN\tHOSTS")
			for _, v := range vs {
				open := "yes"
				if !v.Open {
					open = "no"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, v.Source, open, strings.Join(v.Hosts, ", "))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(add, remove, list)
	return cmd
}

// sub returns m[key] as a mapping, making it when absent.
func sub(m map[string]any, key string) map[string]any {
	if v, ok := m[key].(map[string]any); ok {
		return v
	}
	v := map[string]any{}
	m[key] = v
	return v
}

// readSiteFile reads a sites: entry from a YAML or JSON file (JSON is
// YAML), as a JSON-ready mapping.
func readSiteFile(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("site add: %w", err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("site add: %s: %w", path, err)
	}
	if v == nil {
		return nil, fmt.Errorf("site add: %s holds no site", path)
	}
	return v, nil
}

// tokenAPICommands are the token commands that talk to the admin API:
// tokens made there are kept (hashed) in the shared state and work on
// every node at once, beside the config file's.
func tokenAPICommands(stdout io.Writer) []*cobra.Command {
	var api apiFlags
	var name string
	var siteList []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a token through the admin API (ops); it is shown once",
		Example: `  awning token create --name bakkerij --sites bakkerij
  awning token create --name deploy-bot --sites '*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return fmt.Errorf("token create: name the token with --name")
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), "POST", "/v1/tokens", map[string]any{"name": name, "sites": siteList}, "")
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}
			if api.json {
				printJSON(stdout, data)
				return nil
			}
			var v admin.TokenView
			json.Unmarshal(data, &v)
			fmt.Fprintf(stdout, "token:  %s\n\nFor %s, reaching %s. It is shown this once: only its SHA-256 is kept.\n",
				v.Token, v.Name, strings.Join(v.Sites, ", "))
			return nil
		},
	}
	api.register(create)
	create.Flags().StringVar(&name, "name", "", "who the token is for, as the audit log names it (required)")
	create.Flags().StringSliceVar(&siteList, "sites", nil, `sites the token reaches; "*" for every site and the ops operations (required)`)

	var rapi apiFlags
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token created through the admin API (ops)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rapi.client()
			if err != nil {
				return err
			}
			if _, err := c.call(cmd.Context(), "DELETE", "/v1/tokens/"+args[0], nil, ""); err != nil {
				return fmt.Errorf("token revoke %s: %w", args[0], err)
			}
			fmt.Fprintf(stdout, "Token %s revoked on every node.\n", args[0])
			return nil
		},
	}
	rapi.register(revoke)

	var lapi apiFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens, from the config file and the admin API (ops): names and sites, never the tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := lapi.client()
			if err != nil {
				return err
			}
			data, err := c.call(cmd.Context(), "GET", "/v1/tokens", nil, "")
			if err != nil {
				return fmt.Errorf("token list: %w", err)
			}
			if lapi.json {
				printJSON(stdout, data)
				return nil
			}
			var vs []admin.TokenView
			json.Unmarshal(data, &vs)
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tFROM\tSITES\tCREATED")
			for _, v := range vs {
				created := ""
				if !v.At.IsZero() {
					created = v.At.Local().Format(time.DateTime) + " by " + v.By
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Name, v.Source, strings.Join(v.Sites, ", "), created)
			}
			return tw.Flush()
		},
	}
	lapi.register(list)
	return []*cobra.Command{create, revoke, list}
}
