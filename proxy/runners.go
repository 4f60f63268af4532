package proxy

import (
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
)

// runners run the pipeline of bridged requests on long-lived goroutines.
// net/http and quic-go start a goroutine per request, with a small stack
// that the pipeline then grows (the cache key's buffers live on the stack),
// copying it two or three times: 9% of the CPU of an HTTP/2 outage page in
// profiles. fasthttp avoids the same cost with its worker pool; these
// goroutines keep their grown stacks from one request to the next. Only
// the pipeline runs there (reading the request and writing the answer stay
// on the request's goroutine), so a runner is busy for the pipeline's work
// and its origin exchange, never for a slow shopper. A request that finds
// every runner busy runs on its own goroutine, as it would without them,
// so nothing ever waits for a runner.
//
// The Server owns them: started with the first bridged request, stopped
// (after the requests they run) by Server.Close.
type runners struct {
	once sync.Once
	jobs chan *bridgeCtx // unbuffered: a send succeeds only to an idle runner
	stop chan struct{}
	wg   sync.WaitGroup
	log  *slog.Logger
	run  func(*bridgeCtx)
}

func (p *runners) start(n int) {
	p.once.Do(func() {
		p.jobs = make(chan *bridgeCtx)
		p.stop = make(chan struct{})
		for range n {
			p.wg.Add(1)
			go p.loop()
		}
	})
}

func (p *runners) loop() {
	defer p.wg.Done()
	for {
		select {
		case x := <-p.jobs:
			p.runOne(x)
		case <-p.stop:
			return
		}
	}
}

// runOne runs x and signals its handler, even if the request panicked
// outside the pipeline's own recovery (writing the answer): the runner
// lives on and the handler's goroutine re-panics for net/http to report.
func (p *runners) runOne(x *bridgeCtx) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("bridged request panicked", "panic", v, "stack", string(debug.Stack()))
			x.panicked = v
		}
		x.done <- struct{}{}
	}()
	p.run(x)
}

// do runs x on an idle runner and waits for it, or runs it on the calling
// goroutine when none is idle.
func (p *runners) do(x *bridgeCtx) {
	if p.jobs != nil {
		select {
		case p.jobs <- x:
			<-x.done
			if v := x.panicked; v != nil {
				x.panicked = nil
				panic(v)
			}
			return
		default:
		}
	}
	p.run(x)
}

// close stops the runners once the requests they run are done.
func (p *runners) close() {
	p.once.Do(func() {}) // none started after this
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
	}
}

// defaultRunners is how many requests run on runners at once: enough to
// keep every core busy, few enough that their stacks cost little.
func defaultRunners() int { return 4 * runtime.GOMAXPROCS(0) }
