package health

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Start runs the site's probe loop in one goroutine until Close. With
// origin.health.path set, every origin is probed every interval; without
// it, only origins that are down are, with HEAD /, until they are back.
func (s *Site) Start() {
	if s.probe == nil {
		return
	}
	s.wg.Add(1)
	go s.loop()
}

// Close stops the probe loop, cutting probes in flight short, and the
// hang watch, and waits.
func (s *Site) Close() {
	s.cancel()
	s.hang.close()
	s.wg.Wait()
}

func (s *Site) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.hc.Interval.D())
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.probeAll()
		}
	}
}

// probeAll probes the origins that need it, in parallel, and waits: a
// black-holed origin costs one probe timeout per interval, whatever the
// number of origins.
func (s *Site) probeAll() {
	var wg sync.WaitGroup
	for i, o := range s.origins {
		if s.hc.Path == "" && State(o.cur.Load()) != Down {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.probeOne(i)
		}()
	}
	wg.Wait()
}

func (s *Site) probeOne(i int) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("health probe panicked", "site", s.name, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	ctx, cancel := context.WithTimeout(s.ctx, s.hc.Timeout.D())
	defer cancel()
	method, path := "GET", s.hc.Path
	if path == "" {
		method, path = "HEAD", "/"
	}
	start := s.now()
	status, body, err := s.probe(ctx, i, method, path)
	r := Result{Latency: s.now().Sub(start)}
	switch {
	case err != nil:
		r.Failed, r.Reason = true, err.Error()
	case s.hc.Path == "":
		// A recovery probe asks only whether the server answers sanely.
		r.Failed = status >= 500 && status != 501
		r.Reason = fmt.Sprintf("status %d", status)
	case !s.expected(status):
		r.Failed, r.Reason = true, fmt.Sprintf("status %d", status)
	case s.hc.ExpectBody != "" && !bytes.Contains(body, []byte(s.hc.ExpectBody)):
		r.Failed, r.Reason = true, "body lacks expect_body"
	case s.failed != nil && s.failed(body):
		// A health page that shows the platform's error page (a database
		// error behind a 200) is no sign of health.
		r.Failed, r.Reason = true, "failure marker"
	}
	if s.ctx.Err() != nil {
		return // a probe cut short by Close says nothing about the origin
	}
	if r.Failed {
		s.probesFailed.Add(1)
	} else {
		s.probesOK.Add(1)
	}
	if t, changed := s.origins[i].probe(&s.p, s.now(), r); changed {
		s.changed(i, t)
	}
}

func (s *Site) expected(status int) bool {
	if len(s.hc.ExpectStatus) == 0 {
		return status >= 200 && status < 400
	}
	for _, want := range s.hc.ExpectStatus {
		if status == want {
			return true
		}
	}
	return false
}
