package health

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/internal/supervisor"
)

// Event is one origin state change, as announced to ops.
type Event struct {
	Site     string    `json:"site"`
	Origin   string    `json:"origin"`
	State    string    `json:"state"`    // up, degraded or down
	Previous string    `json:"previous"` // the state before
	Reason   string    `json:"reason"`
	Time     time.Time `json:"time"`
	// SiteOpen is false when every origin of the site is down: shoppers get
	// copies or the outage page.
	SiteOpen bool `json:"site_open"`
}

// Notifier receives state changes. Notify must not block.
type Notifier interface {
	Notify(Event)
}

// Webhook posts each Event as JSON to a URL (notify.webhook), from its own
// goroutine: a slow or dead webhook never delays a shopper. Events wait in a
// bounded queue; when it is full, new events are dropped and counted. Each
// event is tried up to three times, with a timeout per try. Start runs it;
// Close delivers what is queued (within a deadline) and stops.
type Webhook struct {
	url     string
	client  *http.Client
	log     *slog.Logger
	queue   chan Event
	backoff time.Duration
	loop    supervisor.Loop // restarts the delivery loop after a panic

	sent, failed, dropped atomic.Uint64
	// Drops are logged once a minute at most: a platform-wide outage
	// drops thousands at once (one event per site behind a shared origin).
	droppedLogged atomic.Int64 // unix nanos of the last log line
	droppedQuiet  atomic.Uint64

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// webhookQueue is how many events may wait: one per site of a platform
// whose shared origin went down, for a few thousand sites (~150 bytes
// each).
const webhookQueue = 4096

// NewWebhook returns a Webhook posting to url.
func NewWebhook(url string, log *slog.Logger) *Webhook {
	ctx, cancel := context.WithCancel(context.Background())
	return &Webhook{
		url:     url,
		client:  &http.Client{Timeout: 5 * time.Second},
		log:     log,
		queue:   make(chan Event, webhookQueue),
		backoff: time.Second,
		loop:    supervisor.Loop{Name: "webhook", Log: log},
		ctx:     ctx,
		cancel:  cancel,
	}
}

// Notify queues e for delivery; it never blocks.
func (w *Webhook) Notify(e Event) {
	select {
	case w.queue <- e:
	default:
		w.dropped.Add(1)
		now := time.Now().UnixNano()
		last := w.droppedLogged.Load()
		if now-last < int64(time.Minute) || !w.droppedLogged.CompareAndSwap(last, now) {
			w.droppedQuiet.Add(1)
			return
		}
		w.log.Warn("webhook queue full; events dropped", "site", e.Site, "origin", e.Origin, "state", e.State,
			"dropped_since_last_log", w.droppedQuiet.Swap(0)+1, "queue", cap(w.queue))
	}
}

// Start runs the delivery loop, again after a panic (the event it was
// delivering is lost, the rest are not).
func (w *Webhook) Start() {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.loop.Run(w.ctx, w.run)
		w.drain()
	}()
}

// Healthy reports whether the delivery loop runs (it is not waiting to
// restart after a panic).
func (w *Webhook) Healthy() bool { return w.loop.Healthy() }

// Close stops the loop after delivering queued events, waiting at most 10s.
func (w *Webhook) Close() {
	w.cancel()
	w.wg.Wait()
}

// Counts returns how many events were delivered, given up on, and dropped.
func (w *Webhook) Counts() (sent, failed, dropped uint64) {
	return w.sent.Load(), w.failed.Load(), w.dropped.Load()
}

// run delivers events until ctx ends.
func (w *Webhook) run(ctx context.Context) {
	for {
		select {
		case e := <-w.queue:
			w.deliver(context.Background(), e, ctx.Done())
		case <-ctx.Done():
			return
		}
	}
}

// drain delivers what is queued at Close, within 10 seconds.
func (w *Webhook) drain() {
	defer func() {
		if v := recover(); v != nil {
			w.log.Error("webhook delivery panicked while stopping", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		select {
		case e := <-w.queue:
			w.deliver(ctx, e, nil)
		default:
			return
		}
	}
}

// deliver posts e, trying up to three times. A closed interrupt ends the
// waits between tries (Close then delivers the rest under its deadline).
func (w *Webhook) deliver(ctx context.Context, e Event, interrupt <-chan struct{}) {
	body, _ := json.Marshal(e)
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			select {
			case <-time.After(w.backoff << (try - 1)):
			case <-interrupt:
				interrupt = nil // stop waiting, keep trying
			case <-ctx.Done():
				return
			}
		}
		if err = w.post(ctx, body); err == nil {
			w.sent.Add(1)
			return
		}
	}
	w.failed.Add(1)
	w.log.Warn("webhook delivery failed", "url", w.url, "site", e.Site, "origin", e.Origin, "state", e.State, "err", err)
}

func (w *Webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Awning")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
