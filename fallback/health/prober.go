package health

import (
	"container/heap"
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/internal/supervisor"
)

// ProberConfig builds a Prober.
type ProberConfig struct {
	// Log receives endpoint state changes and panics. Default
	// slog.Default().
	Log *slog.Logger
	// Now is the clock of states and windows. Default time.Now. Probes are
	// scheduled on the real clock.
	Now func() time.Time
}

// Prober runs the active probes of every origin endpoint of a node: one
// scheduler goroutine, and one short-lived goroutine per probe round, so
// an idle endpoint (or a site) costs no goroutine. Endpoints live as long
// as a site uses them: a config reload that keeps an endpoint keeps its
// state and its schedule.
//
// The scheduler survives a panic (internal/supervisor): it logs it, waits
// (1s, doubling up to 30s) and starts again; meanwhile Healthy reports
// false. A Prober is safe
// for concurrent use. Start runs it; Close stops it and waits.
type Prober struct {
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	endpoints map[EndpointKey]*Endpoint
	queue     dueQueue
	started   bool
	closed    bool
	rounds    sync.WaitGroup // probe rounds in flight

	kick    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	loopWG  sync.WaitGroup
	loop    supervisor.Loop
	running atomic.Bool // between Start and Close
	// roundPanics counts panics in probe rounds (recoverRound).
	roundPanics atomic.Uint64

	// tick, when set (tests), runs at every wake-up of the scheduler.
	tick func()
}

// NewProber returns a Prober. It starts nothing; see Start.
func NewProber(cfg ProberConfig) *Prober {
	p := &Prober{
		log: cfg.Log, now: cfg.Now, endpoints: map[EndpointKey]*Endpoint{},
		kick: make(chan struct{}, 1),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.loop = supervisor.Loop{Name: "health prober", Log: p.log, MinBackoff: time.Second}
	if p.now == nil {
		p.now = time.Now
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// Start runs the scheduler until Close.
func (p *Prober) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed {
		return
	}
	p.started = true
	p.running.Store(true)
	p.loopWG.Add(1)
	go func() {
		defer p.loopWG.Done()
		p.loop.Run(p.ctx, p.run)
	}()
}

// Close stops the scheduler, cuts probes in flight short and waits.
func (p *Prober) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.loopWG.Wait()
	p.rounds.Wait()
	p.running.Store(false)
}

// Healthy reports whether the scheduler runs: false before Start, after
// Close, and while it waits to restart after a panic.
func (p *Prober) Healthy() bool { return p.running.Load() && p.loop.Healthy() }

// acquire returns the endpoint for key, made with tr and failurePage when
// it is new, and counts one more user.
func (p *Prober) acquire(key EndpointKey, tr Transport, failurePage func([]byte) bool) *Endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep := p.endpoints[key]
	if ep == nil {
		ep = newEndpoint(p, key, tr)
		ep.failed = failurePage
		p.endpoints[key] = ep
		ep.due = time.Now().Add(key.Interval)
		heap.Push(&p.queue, ep)
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	ep.refs++
	return ep
}

// release counts one user less; the last one removes the endpoint.
func (p *Prober) release(ep *Endpoint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep.refs--
	if ep.refs > 0 || ep.removed {
		return
	}
	ep.removed = true
	delete(p.endpoints, ep.key)
	if ep.heapIdx >= 0 {
		heap.Remove(&p.queue, ep.heapIdx)
	}
}

// run is the scheduler: it starts the rounds that are due and sleeps
// until the next, until ctx ends. p.loop restarts it after a panic (with
// backoff, logged), reporting the prober unhealthy meanwhile.
func (p *Prober) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if p.tick != nil {
			p.tick()
		}
		wait := p.startDue(time.Now())
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-t.C:
		}
	}
}

// startDue starts every round that is due at now and returns how long
// until the next one.
func (p *Prober) startDue(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.queue.Len() > 0 && !p.queue[0].due.After(now) {
		ep := p.queue[0]
		ep.due = ep.due.Add(ep.key.Interval)
		if ep.due.Before(now) { // fell behind (a long pause): no catching up
			ep.due = now.Add(ep.key.Interval)
		}
		heap.Fix(&p.queue, 0)
		if p.closed || !ep.needsRound() || !ep.running.CompareAndSwap(false, true) {
			continue // nothing to do, or the last round is still on
		}
		p.rounds.Add(1)
		go func() {
			defer p.rounds.Done()
			defer ep.running.Store(false)
			defer p.recoverRound(ep, "probe round")
			ep.round(p.ctx)
		}()
	}
	if p.queue.Len() == 0 {
		return time.Hour
	}
	return p.queue[0].due.Sub(now)
}

func (p *Prober) logEndpoint(ep *Endpoint, from, to State, reason string, sites int) {
	attrs := []any{"origin", ep.key.URL, "host", ep.key.Host, "from", from.String(), "reason", reason, "sites", sites}
	if to == Down {
		p.log.Error("origin endpoint down: every site on it serves its fallback", attrs...)
	} else {
		p.log.Info("origin endpoint "+to.String(), attrs...)
	}
}

// ProberStats counts what the Prober does.
type ProberStats struct {
	Healthy   bool
	Panics    uint64
	Endpoints int
}

// Stats returns the Prober's counters.
func (p *Prober) Stats() ProberStats {
	p.mu.Lock()
	n := len(p.endpoints)
	p.mu.Unlock()
	return ProberStats{Healthy: p.Healthy(), Panics: p.loop.Panics() + p.roundPanics.Load(), Endpoints: n}
}

// Endpoints returns a snapshot of every endpoint.
func (p *Prober) Endpoints() []EndpointStats {
	p.mu.Lock()
	eps := make([]*Endpoint, 0, len(p.endpoints))
	for _, ep := range p.endpoints {
		eps = append(eps, ep)
	}
	p.mu.Unlock()
	out := make([]EndpointStats, len(eps))
	for i, ep := range eps {
		out[i] = ep.Stats()
	}
	return out
}

// dueQueue is a min-heap of endpoints by due time.
type dueQueue []*Endpoint

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].heapIdx, q[j].heapIdx = i, j
}
func (q *dueQueue) Push(x any) {
	ep := x.(*Endpoint)
	ep.heapIdx = len(*q)
	*q = append(*q, ep)
}
func (q *dueQueue) Pop() any {
	old := *q
	ep := old[len(old)-1]
	old[len(old)-1] = nil
	ep.heapIdx = -1
	*q = old[:len(old)-1]
	return ep
}

// recoverRound recovers a panic in a probe round's goroutine (applying a
// verdict, telling a site, a notifier): logged and counted, and the next
// round runs as usual, rather than taking the process down.
func (p *Prober) recoverRound(ep *Endpoint, what string) {
	if v := recover(); v != nil {
		p.roundPanics.Add(1)
		p.log.Error("health: "+what+" panicked; the next one runs as usual", "origin", ep.key.URL, "panic", v, "stack", string(debug.Stack()))
	}
}
