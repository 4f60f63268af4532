// Command limit is a bare fasthttp server with default settings that
// serves the benchmarks' product page from memory (gzip when accepted, with
// the origin's headers) and, at /outage, the bytes of an outage page read
// from a file with status 503 (and of FILE.gz, when there is one, to
// clients that take gzip): what any HTTP server written on fasthttp can do
// on this machine, the ceiling Awning is measured against.
//
// With -h2, it also serves the same bytes over TLS and HTTP/2 from Go's
// net/http server with a plain handler: the ceiling of Go's HTTP/2 server,
// which Awning's HTTP/2 (the same server, with a bridge into the fasthttp
// pipeline) is measured against in workload H.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/awningproxy/awning/bench/productpage"
	"github.com/valyala/fasthttp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18100", "address")
	outage := flag.String("outage", "", "file whose bytes /outage serves (503)")
	h2 := flag.String("h2", "", "address to serve HTTP/2 over TLS on too (needs -cert and -key)")
	cert := flag.String("cert", "", "certificate file for -h2")
	key := flag.String("key", "", "key file for -h2")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *outage, *h2, *cert, *key); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, listen, outagePath, h2, certFile, keyFile string) error {
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
	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe(listen) }()
	var hs *http.Server
	if h2 != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		hs = &http.Server{
			Addr:      h2,
			Handler:   h2Handler(page, outage, outageGzip),
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		}
		go func() { errc <- hs.ListenAndServeTLS("", "") }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		if hs != nil {
			hs.Close()
		}
		return srv.Shutdown()
	}
}

// h2Handler serves what the fasthttp handler does, as a net/http handler.
func h2Handler(page *productpage.Page, outage, outageGzip []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/html; charset=utf-8"}
		gz := strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
		body, status := page.HTML, http.StatusOK
		if r.URL.Path == "/outage" {
			h["Cache-Control"] = []string{"no-store"}
			body, status = outage, http.StatusServiceUnavailable
			if outageGzip != nil && gz {
				h["Vary"] = []string{"Accept-Encoding"}
				h["Content-Encoding"] = []string{"gzip"}
				body = outageGzip
			}
		} else {
			h["Cache-Control"] = []string{"public, max-age=3600"}
			h["Vary"] = []string{"Accept-Encoding"}
			if gz {
				h["Content-Encoding"] = []string{"gzip"}
				body = page.Gzip
			}
		}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(status)
		w.Write(body)
	})
}
