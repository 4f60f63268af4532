package proxy

import (
	"sync"

	"github.com/valyala/fasthttp"
)

// storer builds the copies of new and changed pages after their shoppers
// got the answer, so that keeping a copy (decompressing a page to know its
// content, compressing one the origin sent plain, copying it) costs the
// shopper nothing. The page is marked pending in the cache meanwhile
// (cache.Pending), so that a request right after the one that made the
// copy finds it; the fetch, with the answer's bytes and a copy of the
// request's headers (for Vary), waits in a bounded queue, and a full queue
// builds in the handler instead. One goroutine, owned by the Server: Close
// waits for it; a panic in one build fails that build only.
type storer struct {
	jobs chan *fetch
	done sync.WaitGroup
}

// storeQueue bounds the fetches waiting to be stored: each holds a page.
const storeQueue = 256

func (s *Server) startStorer() {
	s.store.jobs = make(chan *fetch, storeQueue)
	s.store.done.Add(1)
	go func() {
		defer s.store.done.Done()
		for f := range s.store.jobs {
			s.storeOne(f)
		}
	}()
}

// stopStorer stores what is queued and stops; call it when no handler or
// refresh can queue any more.
func (s *Server) stopStorer() {
	close(s.store.jobs)
	s.store.done.Wait()
}

// storeLater queues f's copy to be built, and reports whether it did:
// then f belongs to the store worker, which ends its flight and releases
// it.
func (s *Server) storeLater(f *fetch, req *fasthttp.Request) bool {
	req.Header.CopyTo(&f.vreq.Header)
	f.req = &f.vreq
	select {
	case s.store.jobs <- f:
		return true
	default:
		f.req = req
		return false
	}
}

func (s *Server) storeOne(f *fetch) {
	defer func() {
		if v := recover(); v != nil {
			s.recovered("storing a copy", v)
			s.cache.Abandon(&f.key)
			f.failed(errPanicked)
		}
		s.endFlight(f)
		releaseFetch(f)
	}()
	s.buildNow(f)
}
