// Command origin is the benchmarks' sample shop origin: every path but
// /healthz answers the product page (gzip when the client accepts it), with
// Cache-Control public, max-age=3600, or max-age=N for ?ttl=N. A control
// listener switches it between answering and black-holing: accepting
// connections and requests and never answering them (a hung platform), the
// origin of workload D.
//
//	origin -listen 127.0.0.1:18000 -control 127.0.0.1:18009
//	curl -X POST 'http://127.0.0.1:18009/mode?m=blackhole'   # or m=ok
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/awningproxy/awning/bench/productpage"
	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18000", "shop address")
	control := flag.String("control", "127.0.0.1:18009", "control address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *control); err != nil {
		log.Fatal(err)
	}
}

// origin answers shoppers, or holds their requests while black-holed.
type origin struct {
	page *productpage.Page
	mu   sync.Mutex
	hole chan struct{} // non-nil while black-holed; closed when it ends
	stop <-chan struct{}
}

var (
	ctHTML   = []byte("text/html; charset=utf-8")
	hCC      = []byte("Cache-Control")
	vCC      = []byte("public, max-age=3600")
	hVary    = []byte("Vary")
	vAE      = []byte("Accept-Encoding")
	vGzip    = []byte("gzip")
	pHealthz = []byte("/healthz")
)

func (o *origin) serve(ctx *fasthttp.RequestCtx) {
	o.mu.Lock()
	hole := o.hole
	o.mu.Unlock()
	if hole != nil {
		select { // never answer; give up only when the hole closes or we stop
		case <-hole:
		case <-o.stop:
		}
		ctx.SetConnectionClose()
		return
	}
	if string(ctx.Path()) == string(pHealthz) {
		ctx.SetBodyString("ok\n")
		return
	}
	h := &ctx.Response.Header
	h.SetContentTypeBytes(ctHTML)
	if ttl := ctx.QueryArgs().Peek("ttl"); len(ttl) > 0 {
		h.Set("Cache-Control", "public, max-age="+string(ttl))
	} else {
		h.SetBytesKV(hCC, vCC)
	}
	h.SetBytesKV(hVary, vAE)
	if ctx.Request.Header.HasAcceptEncodingBytes(vGzip) {
		h.SetContentEncodingBytes(vGzip)
		ctx.Response.SetBodyRaw(o.page.Gzip)
		return
	}
	ctx.Response.SetBodyRaw(o.page.HTML)
}

func (o *origin) control(ctx *fasthttp.RequestCtx) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch m := string(ctx.QueryArgs().Peek("m")); m {
	case "blackhole":
		if o.hole == nil {
			o.hole = make(chan struct{})
		}
	case "ok":
		if o.hole != nil {
			close(o.hole)
			o.hole = nil
		}
	default:
		ctx.Error("m must be ok or blackhole\n", fasthttp.StatusBadRequest)
		return
	}
	fmt.Fprintf(ctx, "mode %s\n", ctx.QueryArgs().Peek("m"))
}

func run(ctx context.Context, listen, control string) error {
	o := &origin{page: productpage.New(), stop: ctx.Done()}
	shop := &fasthttp.Server{Handler: o.serve, NoDefaultServerHeader: true}
	ctl := &fasthttp.Server{Handler: o.control}
	errc := make(chan error, 2)
	go func() { errc <- shop.ListenAndServe(listen) }()
	go func() { errc <- ctl.ListenAndServe(control) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	ctl.Shutdown()
	return shop.Shutdown()
}
