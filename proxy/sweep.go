package proxy

import (
	"sync"
	"time"
)

// sweeper closes origin connections that stayed idle longer than idleFor,
// every sweepEvery, so that a site gone quiet does not hold connections its
// origin has long closed. One goroutine, owned by the Server: stop ends it
// and waits; a panic in a sweep is logged and the next sweep runs.
type sweeper struct {
	quit chan struct{}
	done sync.WaitGroup
}

const sweepEvery = 10 * time.Second

func (s *Server) startSweeper() {
	s.sweeper.quit = make(chan struct{})
	s.sweeper.done.Add(1)
	go func() {
		defer s.sweeper.done.Done()
		t := time.NewTicker(sweepEvery)
		defer t.Stop()
		for {
			select {
			case <-s.sweeper.quit:
				return
			case now := <-t.C:
				s.sweep(now)
			}
		}
	}()
}

func (s *Server) sweep(now time.Time) {
	defer func() {
		if v := recover(); v != nil {
			s.recovered("sweeping idle origin connections", v)
		}
	}()
	for _, st := range s.snap.Load().states {
		st.pool.sweep(now)
	}
}

func (sw *sweeper) stop() {
	close(sw.quit)
	sw.done.Wait()
}
