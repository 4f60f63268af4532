package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/awningproxy/awning/internal/demoshop"
	"github.com/awningproxy/awning/node"
	"github.com/spf13/cobra"
)

//go:embed demo.yaml.tmpl
var demoConfigTemplate string

type demoFlags struct {
	listen, https, admin, shop, control, stateDir string
	shopOnly                                      bool
}

func demoCommand(stdout, stderr io.Writer) *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a sample shop behind Awning, and break it on purpose",
		Long: `Run a sample web shop on loopback with Awning in front of it, using
in-memory state. The shop can be broken (refusing, hanging, slow, 5xx) through
its control endpoints, to watch what shoppers get from Awning.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo(cmd.Context(), f, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&f.listen, "listen", "localhost:8080", "where Awning serves shoppers")
	cmd.Flags().StringVar(&f.https, "https", "localhost:8443", "where Awning serves shoppers over HTTPS (certificates from a local CA)")
	cmd.Flags().StringVar(&f.stateDir, "state-dir", defaultDemoState(), "where the demo keeps its local CA, so that trusting it once is enough")
	cmd.Flags().StringVar(&f.admin, "admin", "127.0.0.1:9090", "where Awning's admin API listens")
	cmd.Flags().StringVar(&f.shop, "shop", "127.0.0.1:8082", "where the sample shop (the origin) listens")
	cmd.Flags().StringVar(&f.control, "control", "127.0.0.1:8081", "where the shop's break/heal endpoints listen")
	cmd.Flags().BoolVar(&f.shopOnly, "shop-only", false, "run only the sample shop and its break/heal endpoints, as the origin of Awning nodes run elsewhere (deploy/compose.yaml)")
	return cmd
}

func demo(ctx context.Context, f demoFlags, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	shop := demoshop.New(log)
	if err := shop.Start(f.shop); err != nil {
		return err
	}
	defer shop.Close()
	controlLn, err := net.Listen("tcp", f.control)
	if err != nil {
		return fmt.Errorf("demo control: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	controlDone := make(chan error, 1)
	go func() { controlDone <- demoshop.ServeControl(ctx, controlLn, shop.Control()) }()
	defer func() { <-controlDone }()
	if f.shopOnly {
		log.Info("the sample shop is open", "shop", "http://"+shop.Addr(), "control", "http://"+controlLn.Addr().String()+"/_demo/break?mode=down")
		<-ctx.Done()
		return nil
	}

	dir, err := os.MkdirTemp("", "awning-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "awning.yaml")
	var cfg bytes.Buffer
	if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
		return fmt.Errorf("demo state: %w", err)
	}
	var tb [24]byte
	rand.Read(tb[:])
	token := "awn_demo_" + base64.RawURLEncoding.EncodeToString(tb[:])
	sum := sha256.Sum256([]byte(token))
	rand.Read(tb[:])
	merchantToken := "awn_demo_" + base64.RawURLEncoding.EncodeToString(tb[:])
	merchantSum := sha256.Sum256([]byte(merchantToken))
	template.Must(template.New("demo").Parse(demoConfigTemplate)).Execute(&cfg, map[string]string{
		"Listen": f.listen, "HTTPS": f.https, "Admin": f.admin, "StateDir": f.stateDir, "ShopURL": "http://" + shop.Addr(),
		"TokenHash": hex.EncodeToString(sum[:]), "MerchantHash": hex.EncodeToString(merchantSum[:]),
	})
	if err := os.WriteFile(path, cfg.Bytes(), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "logo.png"), demoshop.Logo(), 0o600); err != nil {
		return err
	}

	n, err := node.New(node.Options{ConfigPath: path, LogOutput: stderr, Version: versionNumber()})
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	go func() {
		select {
		case <-n.Ready():
			printDemoHelp(stdout, n.Addrs(), shop.Addr(), controlLn.Addr().String(), path, n.CertManager().CAPath(), token)
			printConsoleLinks(stdout, n.Addrs().Admin[0], token, merchantToken)
			fmt.Fprintln(stdout, "Ctrl-C stops the demo.")
		case <-ctx.Done():
		}
	}()
	return n.Run(ctx)
}

// defaultDemoState is where the demo keeps its state between runs: the
// user's cache directory, so that the local CA, once trusted, stays
// trusted.
func defaultDemoState() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "awning-demo")
	}
	return filepath.Join(os.TempDir(), "awning-demo")
}

// loopbackName turns a listening address into what a browser would type.
func loopbackName(addrs []string) string {
	a := addrs[0]
	if _, port, _ := net.SplitHostPort(a); len(addrs) > 1 || strings.HasPrefix(a, "127.0.0.1:") {
		return "localhost:" + port
	}
	return a
}

func printDemoHelp(w io.Writer, a node.Addrs, shop, control, path, ca, token string) {
	web, secure := loopbackName(a.HTTP), loopbackName(a.HTTPS)
	fmt.Fprintf(w, `
Awning demo: the sample shop "Bakkerij de Vries" is open through Awning.

  Shop, through Awning    http://%[1]s/product/1   (also http://bakkerij.%[1]s/)
  Shop, over HTTPS        https://%[6]s/product/1
  Shop, direct (origin)   http://%[2]s/
  Admin API               http://%[3]s/healthz
  Configuration in use    %[4]s

Try it:
  curl -si http://%[1]s/product/1 | grep -i -e ^awning-served -e ^cache-status
        # origin, and Awning keeps a copy (Cache-Status: ...; stored)
  curl -X POST 'http://%[5]s/_demo/break?mode=down'           # or hang, slow, 500, 502, 503, reset
  curl -si http://%[1]s/product/1 | grep -i -e ^awning-served -e ^age:
        # stale: the last known good copy, with a banner; open it in a browser too
  curl -si http://%[1]s/cart | grep -i ^awning-served         # outage: a cart is never kept
  curl -s http://%[1]s/.well-known/awning/health               # {"open":false} once probes see it down
  curl -si http://%[1]s/api/orders                             # API clients get JSON
  (in a browser, the outage page brings you back by itself once the shop heals)
  curl -X POST http://%[5]s/_demo/heal

Ops in control (every Awning node would obey at once):
  export AWNING_ADMIN=http://%[3]s AWNING_TOKEN=%[8]s
  awning maintenance on --site bakkerij --for 30m --bypass     # prints a bypass link
  awning update post --site bakkerij --message nl="De oven draait weer" --message en="The oven is back on"
  awning maintenance status
  awning maintenance off --site bakkerij
  (go run ./cmd/awning ... when awning is not installed)

HTTPS certificates come from a local CA made for this demo and kept at
  %[7]s
  curl --cacert %[7]s -si https://%[6]s/product/1
Browsers warn until the CA is trusted: import that file as a certificate
authority (Firefox: Settings > Privacy & Security > Certificates > View
Certificates > Authorities > Import; Chrome and Edge: Settings > Privacy and
security > Security > Manage certificates). Remove it again when done.

`, web, shop, a.Admin[0], path, control, secure, ca, token)
}
