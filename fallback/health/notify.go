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

	sent, failed, dropped atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// NewWebhook returns a Webhook posting to url.
func NewWebhook(url string, log *slog.Logger) *Webhook {
	return &Webhook{
		url:     url,
		client:  &http.Client{Timeout: 5 * time.Second},
		log:     log,
		queue:   make(chan Event, 256),
		backoff: time.Second,
		stop:    make(chan struct{}),
	}
}

// Notify queues e for delivery; it never blocks.
func (w *Webhook) Notify(e Event) {
	select {
	case w.queue <- e:
	default:
		w.dropped.Add(1)
		w.log.Warn("webhook queue full; event dropped", "site", e.Site, "origin", e.Origin, "state", e.State)
	}
}

// Start runs the delivery loop.
func (w *Webhook) Start() {
	w.wg.Add(1)
	go w.loop()
}

// Close stops the loop after delivering queued events, waiting at most 10s.
func (w *Webhook) Close() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// Counts returns how many events were delivered, given up on, and dropped.
func (w *Webhook) Counts() (sent, failed, dropped uint64) {
	return w.sent.Load(), w.failed.Load(), w.dropped.Load()
}

func (w *Webhook) loop() {
	defer w.wg.Done()
	defer func() {
		if v := recover(); v != nil {
			w.log.Error("webhook loop panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	for {
		select {
		case e := <-w.queue:
			w.deliver(context.Background(), e, w.stop)
		case <-w.stop:
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
