// Command limit is a bare fasthttp server with default settings that
// serves the benchmarks' product page from memory (gzip when accepted, with
// the origin's headers) and, at /outage, the bytes of an outage page read
// from a file with status 503 (and of FILE.gz, when there is one, to
// clients that take gzip): what any HTTP server written on fasthttp can do
// on this machine, the ceiling Awning is measured against.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/awningproxy/awning/bench/productpage"
	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18100", "address")
	outage := flag.String("outage", "", "file whose bytes /outage serves (503)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *outage); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, listen, outagePath string) error {
	page := productpage.New()
	var outage, outageGzip []byte
	if outagePath != "" {
		var err error
		if outage, err = os.ReadFile(outagePath); err != nil {
			return err
		}
		if outageGzip, err = os.ReadFile(outagePath + ".gz"); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	gzip := []byte("gzip")
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		h := &ctx.Response.Header
		h.SetContentType("text/html; charset=utf-8")
		if string(ctx.Path()) == "/outage" {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			h.Set("Cache-Control", "no-store")
			if outageGzip != nil && ctx.Request.Header.HasAcceptEncodingBytes(gzip) {
				h.Set("Vary", "Accept-Encoding")
				h.SetContentEncodingBytes(gzip)
				ctx.Response.SetBodyRaw(outageGzip)
				return
			}
			ctx.Response.SetBodyRaw(outage)
			return
		}
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Vary", "Accept-Encoding")
		if ctx.Request.Header.HasAcceptEncodingBytes(gzip) {
			h.SetContentEncodingBytes(gzip)
			ctx.Response.SetBodyRaw(page.Gzip)
			return
		}
		ctx.Response.SetBodyRaw(page.HTML)
	}}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(listen) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return srv.Shutdown()
	}
}
