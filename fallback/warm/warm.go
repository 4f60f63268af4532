package warm

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/internal/supervisor"
)

// Outcome is what warming one page did.
type Outcome int

const (
	// Stored: the page was fetched and kept.
	Stored Outcome = iota
	// Fresh: a recent copy exists; the page was not fetched.
	Fresh
	// NotKept: the page was fetched but may not be kept (Set-Cookie, type).
	NotKept
	// Failed: the origin failed.
	Failed
	// Skipped: the site was down or busy; the page was not fetched.
	Skipped
)

// Config builds a Warmer.
type Config struct {
	Site     string
	Hosts    []string // the site's hosts, canonical: URLs elsewhere are ignored
	Sitemap  string   // path, such as /sitemap.xml
	Rate     float64  // pages per second
	Interval time.Duration
	// Fetch gets a sitemap (path and query) from the origin, decompressed.
	Fetch func(ctx context.Context, path string) ([]byte, error)
	// Warm fetches and keeps one page (one of Hosts, path and query, as
	// the sitemap lists it) unless a copy of it is younger than fresh.
	Warm func(ctx context.Context, host, path string, fresh time.Duration) Outcome
	// Log receives one line when a crawl starts and one when it ends.
	Log *slog.Logger
	// FirstAfter delays the first crawl. Default 10s.
	FirstAfter time.Duration
}

// Bounds on what a sitemap may make Awning do.
const (
	maxURLs     = 200_000 // pages per crawl
	maxSitemaps = 1_000   // sitemap files per crawl
	maxDepth    = 3       // sitemap index nesting
)

// Warmer crawls one site. It is safe for concurrent use; Start runs its
// loop, Close stops it and waits.
type Warmer struct {
	cfg Config

	runs     atomic.Uint64
	totals   [Skipped + 1]atomic.Uint64 // pages by Outcome, over every run
	lastURLs atomic.Int64
	running  atomic.Bool

	loop   supervisor.Loop // restarts the crawl loop after a panic
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// page is one page to warm.
type page struct{ host, path string }

// New builds a Warmer.
func New(cfg Config) *Warmer {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.FirstAfter == 0 {
		cfg.FirstAfter = 10 * time.Second
	}
	w := &Warmer{cfg: cfg}
	w.loop = supervisor.Loop{Name: "sitemap warming " + cfg.Site, Log: cfg.Log}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w
}

// Start runs the crawl loop: first after FirstAfter, then every Interval.
func (w *Warmer) Start() {
	w.wg.Add(1)
	go w.run()
}

// Close stops the crawl (a crawl in progress ends at its next page) and
// waits.
func (w *Warmer) Close() {
	w.cancel()
	w.wg.Wait()
}

func (w *Warmer) run() {
	defer w.wg.Done()
	w.loop.Run(w.ctx, w.crawlLoop)
}

// crawlLoop crawls after FirstAfter, then every Interval, until ctx ends.
// A panic ends it; run starts it again (after a backoff) and reports the
// warmer unhealthy meanwhile.
func (w *Warmer) crawlLoop(ctx context.Context) {
	t := time.NewTimer(w.cfg.FirstAfter)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.Run(ctx)
		t.Reset(w.cfg.Interval)
	}
}

// Report counts what one crawl did.
type Report struct {
	URLs                                    int
	Stored, Fresh, NotKept, Failed, Skipped int
	Took                                    time.Duration
	Err                                     error
}

// Run crawls the sitemap once, now, and reports.
func (w *Warmer) Run(ctx context.Context) Report {
	w.running.Store(true)
	defer w.running.Store(false)
	start := time.Now()
	w.runs.Add(1)
	urls, err := w.collect(ctx)
	rep := Report{URLs: len(urls), Err: err}
	w.lastURLs.Store(int64(len(urls)))
	log := w.cfg.Log.With("site", w.cfg.Site, "sitemap", w.cfg.Sitemap)
	if err != nil && len(urls) == 0 {
		log.Warn("sitemap warming could not read the sitemap", "err", err)
		return rep
	}
	log.Info("sitemap warming started", "pages", len(urls), "rate", w.cfg.Rate)
	every := time.Duration(float64(time.Second) / w.cfg.Rate)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for _, u := range urls {
		select {
		case <-ctx.Done():
			rep.Took = time.Since(start)
			log.Info("sitemap warming stopped", "stored", rep.Stored, "fresh", rep.Fresh, "took", rep.Took.Round(time.Second))
			return rep
		case <-tick.C:
		}
		o := w.cfg.Warm(ctx, u.host, u.path, w.cfg.Interval)
		w.totals[o].Add(1)
		switch o {
		case Stored:
			rep.Stored++
		case Fresh:
			rep.Fresh++
		case NotKept:
			rep.NotKept++
		case Failed:
			rep.Failed++
		case Skipped:
			rep.Skipped++
		}
	}
	rep.Took = time.Since(start)
	log.Info("sitemap warming done", "pages", rep.URLs, "stored", rep.Stored, "fresh", rep.Fresh,
		"not_kept", rep.NotKept, "failed", rep.Failed, "skipped", rep.Skipped, "took", rep.Took.Round(time.Second))
	return rep
}

// Stats counts pages warmed since the Warmer was built.
type Stats struct {
	Runs, Stored, Fresh, NotKept, Failed, Skipped uint64
	LastURLs                                      int64
	Running                                       bool
	// Healthy is false while the crawl loop waits to restart after a
	// panic; Panics counts them.
	Healthy bool
	Panics  uint64
}

// Stats returns the counters.
func (w *Warmer) Stats() Stats {
	return Stats{
		Runs: w.runs.Load(), Stored: w.totals[Stored].Load(), Fresh: w.totals[Fresh].Load(),
		NotKept: w.totals[NotKept].Load(), Failed: w.totals[Failed].Load(), Skipped: w.totals[Skipped].Load(), LastURLs: w.lastURLs.Load(), Running: w.running.Load(),
		Healthy: w.loop.Healthy(), Panics: w.loop.Panics(),
	}
}

// collect reads the sitemap and its nested indexes, breadth first, and
// returns the site's pages, each once.
func (w *Warmer) collect(ctx context.Context) ([]page, error) {
	seen := map[page]bool{}
	var pages []page
	queue := []struct {
		path  string
		depth int
	}{{w.cfg.Sitemap, 0}}
	fetched := 0
	var firstErr error
	for len(queue) > 0 && fetched < maxSitemaps && len(pages) < maxURLs {
		item := queue[0]
		queue = queue[1:]
		fetched++
		body, err := w.cfg.Fetch(ctx, item.path)
		if err != nil {
			firstErr = errors.Join(firstErr, fmt.Errorf("%s: %w", item.path, err))
			continue
		}
		locs, index, err := parse(body)
		if err != nil {
			firstErr = errors.Join(firstErr, fmt.Errorf("%s: %w", item.path, err))
			continue
		}
		for _, loc := range locs {
			p, ok := w.local(loc)
			if !ok {
				continue
			}
			if index {
				sm := page{path: p.path} // nested sitemaps are fetched by path from the site's origin
				if !seen[sm] && item.depth+1 <= maxDepth {
					queue = append(queue, struct {
						path  string
						depth int
					}{p.path, item.depth + 1})
				}
				seen[sm] = true
				continue
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			pages = append(pages, p)
			if len(pages) == maxURLs {
				break
			}
		}
	}
	return pages, firstErr
}

// local returns the host (canonical), path and query of a sitemap
// location on one of the site's hosts; locations elsewhere are never
// crawled.
func (w *Warmer) local(loc string) (page, bool) {
	u, err := url.Parse(strings.TrimSpace(loc))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return page{}, false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	for _, h := range w.cfg.Hosts {
		if host == h {
			p := u.EscapedPath()
			if p == "" {
				p = "/"
			}
			if u.RawQuery != "" {
				p += "?" + u.RawQuery
			}
			return page{host: h, path: p}, true
		}
	}
	return page{}, false
}

// parse reads a sitemap (urlset) or sitemap index (sitemapindex) and
// returns its locations and whether it is an index.
func parse(body []byte) (locs []string, index bool, err error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	depth := 0
	inLoc := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return locs, index, fmt.Errorf("not a sitemap: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				switch t.Name.Local {
				case "sitemapindex":
					index = true
				case "urlset":
				default:
					return nil, false, fmt.Errorf("not a sitemap: root element <%s>", t.Name.Local)
				}
			}
			inLoc = t.Name.Local == "loc" && depth == 3
		case xml.EndElement:
			depth--
			inLoc = false
		case xml.CharData:
			if inLoc {
				locs = append(locs, string(t))
				if len(locs) > maxURLs {
					return locs, index, nil
				}
			}
		}
	}
	return locs, index, nil
}
