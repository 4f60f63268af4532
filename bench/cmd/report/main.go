// Command report turns a results directory of bench/run.sh into Markdown:
// for each workload and server the median and range over the rounds, and
// one table of ratios (Awning / nginx, Awning / limit, and Awning against
// the others), each ratio taken within a round and then its median, so that
// machine noise between rounds cancels out.
//
//	report bench/results/20250101-120000
//	report -pagesize     # the sample page's sizes
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/awningproxy/awning/bench/productpage"
)

func main() {
	pagesize := flag.Bool("pagesize", false, "print the sample page's sizes and exit")
	flag.Parse()
	if *pagesize {
		p := productpage.New()
		fmt.Printf("%d bytes, %d gzip\n", len(p.HTML), len(p.Gzip))
		return
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: report RESULTS_DIR")
		os.Exit(2)
	}
	if err := report(os.Stdout, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// run is one server's figures in one round.
type run struct {
	rps, p50, p99, hs, cpu, secs, load float64
	errs                               int // socket errors, failed connections
	non2xx                             int // answers other than 2xx or 3xx (C expects 503s)
}

// workload holds rounds by server.
type workload struct {
	name    string
	servers map[string]map[int]run
	order   []string
}

var titles = map[string]string{
	"A":           "A — a copy served (origin down, page stored; nginx and Varnish: cache hit)",
	"B":           "B — pass-through to a healthy origin, one page (limit: the origin itself, no proxy)",
	"B-many":      "B — pass-through to a healthy origin, 1000 pages at random (limit: the origin itself)",
	"C":           "C — the outage page, no copy (origin down)",
	"D-circuit":   "D — origin black-holed, load once the circuit is open (issue 4)",
	"E-keepalive": "E — TLS, requests over kept-alive connections (the copy of A)",
	"E-full":      "E — TLS, new connections with full handshakes",
	"E-resumed":   "E — TLS, new connections with resumed sessions",
	"H-A":         "H — HTTP/2 over TLS (h2load, 64 connections × 10 streams): a copy served, as A (limit: the same bytes from Go's net/http HTTP/2 server; p50 column: h2load's mean time per request, it gives no percentiles)",
	"H-C":         "H — HTTP/2 over TLS (h2load, 64 connections × 10 streams): the outage page, as C (limit: Go's net/http HTTP/2 server; p50 column: h2load's mean)",
	"S":           "S — origin down, copies served: a page of each of 10,000 sites at random (awning), 10,000 pages of one site at random (awning-1site: as many copies), one page of one site (awning-1page)",
}

var workloadOrder = []string{"A", "B", "B-many", "C", "D-circuit", "E-keepalive", "E-full", "E-resumed", "H-A", "H-C", "S"}

func report(w io.Writer, dir string) error {
	if b, err := os.ReadFile(filepath.Join(dir, "machine.txt")); err == nil {
		fmt.Fprintf(w, "```\n%s```\n\n", b)
	}
	var wls []*workload
	for _, name := range workloadOrder {
		wl, err := readWorkload(filepath.Join(dir, name), name)
		if err != nil {
			return err
		}
		if wl != nil {
			wls = append(wls, wl)
		}
	}
	for _, wl := range wls {
		printWorkload(w, wl)
	}
	if err := printWaits(w, filepath.Join(dir, "D-wait", "waits.txt")); err != nil {
		return err
	}
	printRatios(w, wls)
	return nil
}

var fileRe = regexp.MustCompile(`^(.+)\.(\d+)\.txt$`)

func readWorkload(dir, name string) (*workload, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	wl := &workload{name: name, servers: map[string]map[int]run{}}
	for _, e := range entries {
		m := fileRe.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		round, _ := strconv.Atoi(m[2])
		r, err := parseRun(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if wl.servers[m[1]] == nil {
			wl.servers[m[1]] = map[int]run{}
			wl.order = append(wl.order, m[1])
		}
		wl.servers[m[1]][round] = r
	}
	sort.Slice(wl.order, func(i, j int) bool { return serverRank(wl.order[i]) < serverRank(wl.order[j]) })
	return wl, nil
}

// serverRank orders servers in tables: Awning first, the limit last.
func serverRank(s string) string {
	switch {
	case strings.HasPrefix(s, "awning"):
		return "0" + s
	case strings.HasPrefix(s, "limit"):
		return "9" + s
	}
	return "5" + s
}

// parseRun reads a wrk, hsload or h2load output file.
func parseRun(path string) (run, error) {
	f, err := os.Open(path)
	if err != nil {
		return run{}, err
	}
	defer f.Close()
	var r run
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch {
		case fields[0] == "Requests/sec:":
			r.rps, _ = strconv.ParseFloat(fields[1], 64)
		case fields[0] == "finished" && fields[1] == "in" && len(fields) >= 4: // h2load
			r.secs, _ = strconv.ParseFloat(strings.TrimSuffix(fields[2], "s,"), 64)
			r.rps, _ = strconv.ParseFloat(fields[3], 64)
		case fields[0] == "requests:" && len(fields) >= 15: // h2load: errored, timeout
			for _, i := range []int{11, 13} {
				n, _ := strconv.Atoi(fields[i])
				r.errs += n
			}
		case fields[0] == "status" && fields[1] == "codes:" && len(fields) >= 10: // h2load
			a, _ := strconv.Atoi(fields[6])
			b, _ := strconv.Atoi(fields[8])
			r.non2xx = a + b
		case fields[0] == "time" && len(fields) >= 6 && fields[2] == "request:": // h2load: min max mean
			r.p50 = parseDuration(fields[5])
		case fields[0] == "50%":
			r.p50 = parseDuration(fields[1])
		case fields[0] == "99%":
			r.p99 = parseDuration(fields[1])
		case fields[0] == "handshakes/s:":
			r.hs, _ = strconv.ParseFloat(fields[1], 64)
		case len(fields) >= 4 && fields[1] == "requests" && fields[2] == "in":
			r.secs, _ = strconv.ParseFloat(strings.TrimSuffix(fields[3], "s,"), 64)
		case fields[0] == "seconds:":
			r.secs, _ = strconv.ParseFloat(fields[1], 64)
		case fields[0] == "server_cpu_s:":
			r.cpu, _ = strconv.ParseFloat(fields[1], 64)
		case fields[0] == "loadavg:":
			r.load, _ = strconv.ParseFloat(fields[1], 64)
		case fields[0] == "failed:":
			n, _ := strconv.Atoi(fields[1])
			r.errs += n
		case fields[0] == "Non-2xx":
			r.non2xx, _ = strconv.Atoi(fields[len(fields)-1])
		case fields[0] == "Socket" && len(fields) >= 11:
			for _, i := range []int{4, 6, 8, 10} { // connect, read, write, timeout counts
				n, _ := strconv.Atoi(strings.TrimSuffix(fields[i], ","))
				r.errs += n
			}
		}
	}
	return r, sc.Err()
}

// parseDuration reads wrk's 1.23ms / 456.00us / 1.20s, in milliseconds.
func parseDuration(s string) float64 {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60000}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f * u.ms
			}
		}
	}
	return 0
}

// stat is a median with its range.
type stat struct{ med, lo, hi float64 }

func summarize(vals []float64) stat {
	if len(vals) == 0 {
		return stat{}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med, s[0], s[len(s)-1]}
}

func (s stat) num(prec int) string {
	return fmt.Sprintf("%s [%s–%s]", fmtNum(s.med, prec), fmtNum(s.lo, prec), fmtNum(s.hi, prec))
}

func fmtNum(v float64, prec int) string {
	if prec == 0 && v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func values(rounds map[int]run, f func(run) float64) []float64 {
	var out []float64
	for _, r := range rounds {
		out = append(out, f(r))
	}
	return out
}

func printWorkload(w io.Writer, wl *workload) {
	title := titles[wl.name]
	if title == "" {
		title = wl.name
	}
	fmt.Fprintf(w, "### %s\n\n", title)
	tls := strings.HasPrefix(wl.name, "E-full") || strings.HasPrefix(wl.name, "E-resumed")
	if tls {
		fmt.Fprintln(w, "| server | handshakes/s | handshakes per server CPU-second | server CPU busy | failed | rounds | load avg |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	} else {
		fmt.Fprintln(w, "| server | req/s | req per server CPU-second | p50 ms | p99 ms | socket errors | non-2xx share | rounds | load avg |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	}
	for _, s := range wl.order {
		rs := wl.servers[s]
		errs, non2xx := 0, 0.0
		for _, r := range rs {
			errs += r.errs
			if r.rps > 0 && r.secs > 0 {
				non2xx += float64(r.non2xx) / (r.rps * r.secs) / float64(len(rs))
			}
		}
		load := summarize(values(rs, func(r run) float64 { return r.load }))
		if tls {
			hs := summarize(values(rs, func(r run) float64 { return r.hs }))
			per := summarize(values(rs, func(r run) float64 { return perCPU(r) }))
			busy := summarize(values(rs, func(r run) float64 {
				if r.hs == 0 {
					return 0
				}
				return perCPUBusy(r)
			}))
			fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %d | %s |\n", s, hs.num(0), per.num(0), busy.num(2), errs, len(rs), fmtNum(load.med, 2))
			continue
		}
		rps := summarize(values(rs, func(r run) float64 { return r.rps }))
		p50 := summarize(values(rs, func(r run) float64 { return r.p50 }))
		p99 := summarize(values(rs, func(r run) float64 { return r.p99 }))
		eff := summarize(values(rs, reqPerCPU)).num(0)
		if eff == "0 [0–0]" {
			eff = "—"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %.0f%% | %d | %s |\n", s, rps.num(0), eff, p50.num(2), p99.num(2), errs, 100*non2xx, len(rs), fmtNum(load.med, 2))
	}
	fmt.Fprintln(w)
}

// perCPU is handshakes per second of server CPU time: what one core of the
// server would do if the load generator were not the bottleneck.
func perCPU(r run) float64 {
	if r.cpu <= 0 || r.hs <= 0 {
		return 0
	}
	return r.hs * r.secs / r.cpu
}

// reqPerCPU is requests answered per second of the server's CPU time: its
// own cost per request, which other load on the machine disturbs far less
// than throughput does.
func reqPerCPU(r run) float64 {
	if r.cpu <= 0 {
		return 0
	}
	return r.rps * r.secs / r.cpu
}

// perCPUBusy is the share of one core the server used during the run.
func perCPUBusy(r run) float64 {
	if r.secs <= 0 {
		return 0
	}
	return r.cpu / r.secs
}

func printRatios(w io.Writer, wls []*workload) {
	fmt.Fprintln(w, "### Ratios (within each round; median [range] over rounds)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | metric | Awning | Awning / nginx | Awning / limit | Awning / others |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, wl := range wls {
		type metric struct {
			name string
			f    func(run) float64
		}
		metrics := []metric{{"req/s", func(r run) float64 { return r.rps }}, {"req per server CPU-second", reqPerCPU}}
		switch {
		case strings.HasPrefix(wl.name, "E-full"), strings.HasPrefix(wl.name, "E-resumed"):
			metrics = []metric{{"handshakes/s", func(r run) float64 { return r.hs }}, {"handshakes per server CPU-second", perCPU}}
		case wl.name == "D-circuit":
			continue // latency, shown above
		}
		aw := wl.servers["awning"]
		if aw == nil {
			continue
		}
		for _, m := range metrics {
			f := m.f
			ratio := func(other string) string {
				o := wl.servers[other]
				if o == nil {
					return "—"
				}
				var rs []float64
				for round, a := range aw {
					if b, ok := o[round]; ok && f(b) > 0 && f(a) > 0 {
						rs = append(rs, f(a)/f(b))
					}
				}
				if len(rs) == 0 {
					return "—"
				}
				return summarize(rs).num(2)
			}
			var others []string
			for _, s := range wl.order {
				if s != "awning" && s != "nginx" && s != "limit" {
					if r := ratio(s); r != "—" {
						others = append(others, s+" "+r)
					}
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", wl.name, m.name,
				summarize(values(aw, f)).num(0), ratio("nginx"), ratio("limit"), strings.Join(others, "; "))
		}
	}
	fmt.Fprintln(w)
}

// printWaits summarizes D-wait: one shopper a second at each proxy while
// the origin is black-holed; how long each waited, and what they got.
func printWaits(w io.Writer, path string) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	type wait struct {
		t    int
		secs float64
		code string
	}
	by := map[string][]wait{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		t, _ := strconv.Atoi(f[1])
		s, _ := strconv.ParseFloat(f[2], 64)
		by[f[0]] = append(by[f[0]], wait{t, s, f[3]})
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return serverRank(names[i]) < serverRank(names[j]) })
	fmt.Fprintln(w, "### D — origin black-holed: how long shoppers wait (one shopper a second for 40 s, each giving up after 65 s)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| proxy, timeouts | first shopper | shoppers 1–10 s in, median [max] | 10–30 s in, median [max] | 30–40 s in, median [max] | answers (status × count; 000 = gave up at 65 s) |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, n := range names {
		ws := by[n]
		sort.Slice(ws, func(i, j int) bool { return ws[i].t < ws[j].t })
		var early, mid, late []float64
		codes := map[string]int{}
		for _, x := range ws {
			codes[x.code]++
			switch {
			case x.t >= 1 && x.t < 10:
				early = append(early, x.secs)
			case x.t >= 10 && x.t < 30:
				mid = append(mid, x.secs)
			case x.t >= 30:
				late = append(late, x.secs)
			}
		}
		var cs []string
		for c, k := range codes {
			cs = append(cs, fmt.Sprintf("%s × %d", c, k))
		}
		sort.Strings(cs)
		first := "—"
		if len(ws) > 0 && ws[0].t == 0 {
			first = fmtSecs(ws[0].secs)
		}
		e, m, l := summarize(early), summarize(mid), summarize(late)
		fmt.Fprintf(w, "| %s | %s | %s [%s] | %s [%s] | %s [%s] | %s |\n", n, first, fmtSecs(e.med), fmtSecs(e.hi),
			fmtSecs(m.med), fmtSecs(m.hi), fmtSecs(l.med), fmtSecs(l.hi), strings.Join(cs, ", "))
	}
	fmt.Fprintln(w)
	return nil
}

func fmtSecs(s float64) string {
	switch {
	case s == 0:
		return "—"
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1000)
	}
	return fmt.Sprintf("%.1f s", s)
}
