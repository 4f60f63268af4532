// Command scale measures what a node costs per site: for each site count
// it writes a configuration of that many sites (two hosts each, every one
// in front of one origin with a health probe), starts `awning serve` on it
// and reports
//
//   - start: from exec until the node logs that it serves (listeners open),
//   - reload: from SIGHUP (the file with one site more) until it logs the
//     reload,
//   - the node's CPU time in each (on a shared machine it varies far less
//     than the wall-clock time),
//   - RSS: the resident memory once started and settled, and its peak,
//
// beside an empty node (no site in the file, an ops token), so that the
// memory per site is the difference divided by the sites.
//
//	go build -o /tmp/awning ./cmd/awning
//	go run ./bench/cmd/scale -awning /tmp/awning -sites 100,1000,10000,50000
//
// With -write N it only writes the configuration of N sites to stdout,
// and with -warm ADDR -n N [-pages P] it requests P pages of each of N
// sites from a node at ADDR so that each has a copy (bench/run.sh workload
// S uses both).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("awning", "", "the awning binary (go build -o /tmp/awning ./cmd/awning)")
	counts := flag.String("sites", "100,1000,10000,50000", "site counts to measure, comma-separated")
	settle := flag.Duration("settle", 5*time.Second, "wait after start before reading RSS")
	write := flag.Int("write", -1, "only write the config of this many sites to stdout")
	origin := flag.String("origin", "", "with -write: the origin URL (default: an unreachable one)")
	listen := flag.String("listen", "127.0.0.1:18700", "with -write: listen.http")
	admin := flag.String("admin", "127.0.0.1:18790", "with -write: listen.admin")
	dir := flag.String("dir", "", "with -write: state.dir (default: a temporary directory)")
	extra := flag.String("extra", "", "with -write: YAML added at the top level (cache: {memory: 1GiB})")
	warmAddr := flag.String("warm", "", "only warm copies: GET -path for the first host of each of -n sites from this address")
	warmN := flag.Int("n", 0, "with -warm: how many sites")
	warmPages := flag.Int("pages", 1, "with -warm: request /product/1 to /product/<pages> of each site")
	warmServed := flag.String("served", "origin", "with -warm: the Awning-Served every answer must have (origin, or stale to build each copy's stale form once)")
	flag.Parse()
	switch {
	case *warmAddr != "":
		if err := warm(*warmAddr, *warmN, *warmPages, *warmServed); err != nil {
			log.Fatal(err)
		}
		return
	case *write >= 0:
		d := *dir
		if d == "" {
			d = os.TempDir()
		}
		o := *origin
		if o == "" {
			o = "http://127.0.0.1:9"
		}
		os.Stdout.WriteString(config(*write, o, *listen, *admin, d, *extra))
		return
	}
	if *bin == "" {
		log.Fatal("scale: -awning is required")
	}
	var ns []int
	for _, f := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("scale: bad site count %q", f)
		}
		ns = append(ns, n)
	}
	originURL, stop := startOrigin()
	defer stop()
	empty, err := measure(*bin, 0, originURL, *settle)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("| sites | start | start CPU | reload | reload CPU | RSS | RSS peak | RSS per site above empty |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Printf("| 0 (empty) | %s | %s | %s | %s | %s | %s | |\n", ms(empty.start), ms(empty.startCPU), ms(empty.reload), ms(empty.reloadCPU), mib(empty.rss), mib(empty.peak))
	for _, n := range ns {
		r, err := measure(*bin, n, originURL, *settle)
		if err != nil {
			log.Fatal(err)
		}
		per := float64(r.rss-empty.rss) / float64(n)
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %s | %.1f KB |\n", n, ms(r.start), ms(r.startCPU), ms(r.reload), ms(r.reloadCPU), mib(r.rss), mib(r.peak), per)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func mib(kb int64) string       { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

type result struct {
	start, reload       time.Duration
	startCPU, reloadCPU time.Duration // the node's CPU time (user and system) in each
	rss, peak           int64         // KiB
}

// opsHash is the SHA-256 of the token "bench-ops" (the empty node needs an
// ops token to be a valid configuration).
const opsHash = "e0d8c5b1f4b9c2a05a3ff8e6bd0a4c5a0e1a8ab1d1a2c7cf47f0b3d5d3b0c7a1"

// config is a configuration of n sites shop0..shop<n-1>, each on
// shop<i>.example and www.shop<i>.example, in front of origin.
func config(n int, origin, listen, admin, dir, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: {http: %q, admin: %q}\nstate: {dir: %q}\ntls: {mode: \"off\"}\nlog: {level: info}\n", listen, admin, dir)
	fmt.Fprintf(&b, "admin: {tokens: [{name: ops, sha256: %q, sites: [\"*\"]}]}\n", opsHash)
	b.WriteString(extra)
	if extra != "" && !strings.HasSuffix(extra, "\n") {
		b.WriteByte('\n')
	}
	if n == 0 {
		b.WriteString("sites: []\n")
		return b.String()
	}
	b.WriteString("sites:\n")
	for i := 0; i < n; i++ {
		writeSite(&b, i, origin)
	}
	return b.String()
}

func writeSite(b *strings.Builder, i int, origin string) {
	fmt.Fprintf(b, "  - name: shop%d\n    hosts: [shop%d.example, www.shop%d.example]\n"+
		"    origin: {urls: [%q], health: {path: /healthz, interval: 2s}}\n"+
		"    page: {brand: \"Shop %d\", languages: [nl, en]}\n", i, i, i, origin, i)
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// measure starts a node of n sites, waits for it to serve, reads its
// memory, reloads it with one site more and stops it.
func measure(bin string, n int, origin string, settle time.Duration) (result, error) {
	var r result
	dir, err := os.MkdirTemp("", "awning-scale-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "awning.yaml")
	listen := fmt.Sprintf("127.0.0.1:%d", freePort())
	admin := fmt.Sprintf("127.0.0.1:%d", freePort())
	cfg := config(n, origin, listen, admin, dir, "")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		return r, err
	}
	cmd := exec.Command(bin, "serve", "--config", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return r, err
	}
	lines := make(chan string, 1024)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody waits: drop
			}
		}
		close(lines)
	}()
	if err := waitLog(lines, "awning is serving", 5*time.Minute); err != nil {
		return r, fmt.Errorf("%d sites: start: %w", n, err)
	}
	r.start = time.Since(t0)
	r.startCPU = cpuTime(cmd.Process.Pid)
	time.Sleep(settle)
	r.rss, r.peak = memory(cmd.Process.Pid)

	// Reload with one site more, as a day's signup would.
	if n == 0 {
		cfg = strings.Replace(cfg, "sites: []\n", "sites:\n", 1)
	}
	var b strings.Builder
	b.WriteString(cfg)
	writeSite(&b, n, origin)
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		return r, err
	}
	t1, c1 := time.Now(), cpuTime(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGHUP)
	if err := waitLog(lines, "config reloaded", 5*time.Minute); err != nil {
		return r, fmt.Errorf("%d sites: reload: %w", n, err)
	}
	r.reload = time.Since(t1)
	r.reloadCPU = cpuTime(cmd.Process.Pid) - c1
	return r, nil
}

// waitLog reads log lines until one has msg.
func waitLog(lines <-chan string, msg string, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return fmt.Errorf("the node exited before logging %q", msg)
			}
			var e struct{ Msg, Level string }
			if json.Unmarshal([]byte(l), &e) == nil {
				if e.Msg == msg {
					return nil
				}
				if e.Level == "ERROR" {
					log.Printf("node: %s", l)
				}
			}
		case <-t.C:
			return fmt.Errorf("no %q within %s", msg, d)
		}
	}
}

// cpuTime returns the CPU time pid used so far (user and system): on a
// shared machine, what a start or reload cost the node itself, which other
// load disturbs far less than the wall-clock time.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	// The fields after the command (which may hold spaces) start after ')'.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// memory returns VmRSS and VmHWM of pid, in KiB.
func memory(pid int) (rss, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			peak = v
		}
	}
	return rss, peak
}

// warm requests /product/1 to /product/<pages> for the first host of each
// of n sites, 32 at a time, and fails unless every answer was served as
// want says (origin: so a copy is kept; stale: so the copy's stale form,
// banner and gzip, is built).
func warm(addr string, n, pages int, want string) error {
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	type job struct{ site, page int }
	jobs := make(chan job)
	errs := make(chan error, 32)
	for w := 0; w < 32; w++ {
		go func() {
			var err error
			for j := range jobs {
				if err != nil {
					continue
				}
				path := "/product/" + strconv.Itoa(j.page)
				req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
				req.Host = fmt.Sprintf("shop%d.example", j.site)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, rerr := c.Do(req)
				if rerr != nil {
					err = rerr
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if got := resp.Header.Get("Awning-Served"); resp.StatusCode != 200 || got != want {
					err = fmt.Errorf("%s%s: %d, Awning-Served %q; want 200, %s", req.Host, path, resp.StatusCode, got, want)
				}
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		for p := 1; p <= pages; p++ {
			jobs <- job{i, p}
		}
	}
	close(jobs)
	for w := 0; w < 32; w++ {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// startOrigin serves the sites' origin: 200 to probes and pages.
func startOrigin() (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Shutdown(context.Background()) }
}
