// Command hungorigin measures what shoppers live through when a shop's
// origin hangs (accepts connections and requests, never answers): how long
// Awning takes to declare it down, and how long shoppers asking for pages
// without a copy wait. It runs an Awning proxy with the default origin and
// health settings (plus -origin's YAML) in front of a hung origin on
// loopback, sends a shopper every -every for -for, and prints one line.
// Everything runs in-process on 127.0.0.1 and stops by itself.
//
//	go run ./bench/cmd/hungorigin -every 250ms
//	go run ./bench/cmd/hungorigin -every 4s
//	go run ./bench/cmd/hungorigin -every 250ms -origin ', health: {path: /healthz}'
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/proxy"
	"github.com/awningproxy/awning/sites"
)

func main() {
	every := flag.Duration("every", 250*time.Millisecond, "a shopper arrives this often")
	span := flag.Duration("for", 20*time.Second, "shoppers arrive for this long")
	extra := flag.String("origin", "", "YAML added to the site's origin mapping, such as ', health: {path: /healthz}'")
	flag.Parse()
	if err := run(*every, *span, *extra); err != nil {
		log.Fatal(err)
	}
}

func run(every, span time.Duration, extra string) error {
	origin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer origin.Close()
	var conns []net.Conn
	var connsMu sync.Mutex
	go func() {
		for {
			c, err := origin.Accept()
			if err != nil {
				return
			}
			connsMu.Lock()
			conns = append(conns, c)
			connsMu.Unlock()
			go io.Copy(io.Discard, c) // reads every request, answers none
		}
	}()
	defer func() {
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
	}()

	cfg, err := config.Parse("hungorigin.yaml", []byte(`
tls: {mode: off}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: [http://`+origin.Addr().String()+`]`+extra+`}
`))
	if err != nil {
		return err
	}
	reg, err := sites.New(cfg)
	if err != nil {
		return err
	}
	s, err := proxy.New(proxy.Options{Config: cfg, Sites: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go s.Serve(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		s.Close()
	}()

	start := time.Now()
	down := make(chan time.Duration, 1)
	go func() {
		for time.Since(start) < span+30*time.Second {
			if s.Stats().Sites[0].Health.Tripped {
				down <- time.Since(start)
				return
			}
			time.Sleep(time.Millisecond) // a sampling clock for the measurement
		}
		down <- -1
	}()
	client := &http.Client{Timeout: time.Minute}
	var mu sync.Mutex
	var waits []time.Duration
	var wg sync.WaitGroup
	for i := 0; time.Duration(i)*every < span; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/never/visited/%d", ln.Addr(), i), nil)
			req.Host = "shop.example"
			t0 := time.Now()
			resp, err := client.Do(req)
			d := time.Since(t0)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
		}()
		time.Sleep(every) // the shoppers' arrival rate
	}
	wg.Wait()
	slices.Sort(waits)
	var sum time.Duration
	over := 0
	for _, w := range waits {
		sum += w
		if w > time.Second {
			over++
		}
	}
	d := <-down
	fmt.Printf("declared down after %.2fs; shoppers without a copy: worst wait %.2fs, mean %.2fs, %d of %d waited over 1s\n",
		d.Seconds(), waits[len(waits)-1].Seconds(), (sum / time.Duration(len(waits))).Seconds(), over, len(waits))
	return nil
}
