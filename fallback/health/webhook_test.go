package health

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// panicOnce is a transport that panics on its first request.
type panicOnce struct {
	done atomic.Bool
	next http.RoundTripper
}

func (p *panicOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.done.CompareAndSwap(false, true) {
		panic("injected")
	}
	return p.next.RoundTrip(r)
}

// TestWebhookSurvivesPanic: a panic while delivering costs that event
// only; the loop runs again and delivers the next ones.
func TestWebhookSurvivesPanic(t *testing.T) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	defer srv.Close()
	logs := &testkit.Buffer{}
	w := NewWebhook(srv.URL, slog.New(slog.NewTextHandler(logs, nil)))
	w.client.Transport = &panicOnce{next: http.DefaultTransport}
	w.loop.MinBackoff = time.Millisecond
	w.Start()
	defer w.Close()
	w.Notify(Event{Site: "shop", State: "down"}) // panics
	testkit.WaitFor(t, 5*time.Second, "the panic to be counted", func() bool { return w.loop.Panics() == 1 })
	w.Notify(Event{Site: "shop", State: "up"})
	testkit.WaitFor(t, 5*time.Second, "the next event delivered", func() bool { return got.Load() == 1 })
	if !w.Healthy() {
		t.Error("the loop delivered again but reports itself down")
	}
	if !strings.Contains(logs.String(), "injected") {
		t.Errorf("the panic was not logged:\n%s", logs.String())
	}
}

// TestWebhookDropsAreLoggedOnce: a flood of events past the queue (a
// platform's shared origin down behind thousands of sites) is counted in
// full and logged once, not once per event.
func TestWebhookDropsAreLoggedOnce(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	logs := &testkit.Buffer{}
	w := NewWebhook(srv.URL, slog.New(slog.NewTextHandler(logs, nil)))
	w.client.Timeout = 50 * time.Millisecond
	w.backoff = time.Millisecond
	w.Start()
	defer w.Close()
	defer close(block)
	const over = 1000
	for range cap(w.queue) + over {
		w.Notify(Event{Site: "shop", State: "down"})
	}
	// The loop holds an event or two it is trying to deliver meanwhile.
	if _, _, dropped := w.Counts(); dropped < over-10 {
		t.Errorf("dropped %d; want about %d", dropped, over)
	}
	if n := strings.Count(logs.String(), "events dropped"); n != 1 {
		t.Errorf("%d log lines about dropped events; want 1", n)
	}
}
