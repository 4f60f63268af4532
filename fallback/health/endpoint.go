package health

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/awningproxy/awning/config"
)

// Transport sends probe requests to one origin URL, the way shoppers'
// requests reach it (same address, TLS name, connection pool). The proxy
// provides it.
type Transport interface {
	// Probe sends method path with the Host header host and returns the
	// status and (the start of) the body, within ctx's deadline.
	Probe(ctx context.Context, method, path, host string) (status int, body []byte, err error)
}

// EndpointKey identifies an origin endpoint and its probe request. Sites
// whose origin URLs have the same key share one Endpoint: one probe per
// interval, however many sites a platform serves from it.
type EndpointKey struct {
	// URL is the origin URL as configured: scheme and address.
	URL string
	// ServerName is the TLS name sent and verified for https URLs.
	ServerName string
	// Host is the Host header probes send.
	Host string
	// Path is health.path; "" when the endpoint is probed only while it,
	// or a site on it, is down (with HEAD /).
	Path string
	// Expect is health.expect_status (comma-separated) and expect_body.
	ExpectStatus, ExpectBody string
	// Interval, Timeout, Rise and Fall are the probe schedule and verdict.
	Interval, Timeout time.Duration
	Rise, Fall        int
	// Markers is origin.failure_markers: a probe answer showing one fails.
	Markers string
}

// KeyFor returns the endpoint key of origin URL raw of a site with origin
// config oc. The probe's Host is health.host, else origin.host_header,
// else the URL's own host: never a site's host, so that every site on a
// platform shares the probe.
func KeyFor(raw string, oc *config.Origin) EndpointKey {
	h := &oc.Health
	k := EndpointKey{
		URL: raw, Path: h.Path, ExpectBody: h.ExpectBody,
		Interval: h.Interval.D(), Timeout: h.Timeout.D(), Rise: h.Rise, Fall: h.Fall,
	}
	var urlHost, scheme string
	if u, err := url.Parse(raw); err == nil {
		urlHost, scheme = u.Host, u.Scheme
	}
	switch {
	case h.Host != "":
		k.Host = h.Host
	case oc.HostHeader != "":
		k.Host = oc.HostHeader
	default:
		k.Host = urlHost
	}
	if scheme == "https" {
		switch {
		case oc.TLSServerName != "":
			k.ServerName = oc.TLSServerName
		case oc.HostHeader != "":
			k.ServerName = oc.HostHeader
		default:
			k.ServerName = strings.Split(urlHost, ":")[0]
		}
	}
	k.Markers = strings.Join(oc.FailureMarkers, "\x00")
	if len(h.ExpectStatus) > 0 {
		var b strings.Builder
		for i, st := range h.ExpectStatus {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(st))
		}
		k.ExpectStatus = b.String()
	}
	return k
}

// Endpoint is the active health of one origin endpoint, shared by every
// site that uses it. Its probes are sent by the Prober that made it: with
// a probe path, every interval; without one, only while the endpoint or a
// site on it is down. Rise good probes in a row mark it up, fall bad ones
// down; while it is down, every site on it treats that origin as down.
//
// It also runs the recovery probes of the sites on it whose own answers
// put the origin down (a shop broken on a healthy platform), with each
// site's own Host: only while the endpoint itself answers, so a platform
// outage costs one probe per interval, not one per shop.
type Endpoint struct {
	key       EndpointKey
	transport Transport
	prober    *Prober
	expect    []int
	failed    func(body []byte) bool // the failure markers; nil for none

	// Guarded by prober.mu.
	refs    int
	removed bool
	due     time.Time
	heapIdx int

	running atomic.Bool // a probe round is in flight

	mu       sync.Mutex
	state    State // Up or Down
	reason   string
	since    time.Time
	okRun    int  // probes that succeeded in a row
	failRun  int  // probes that failed in a row
	answered bool // the last probe got a sane answer
	subs     map[*originState]struct{}
	down     map[*originState]struct{} // subs whose passive state is Down

	probesOK, probesFailed atomic.Uint64
}

func newEndpoint(p *Prober, key EndpointKey, tr Transport) *Endpoint {
	ep := &Endpoint{
		key: key, transport: tr, prober: p, heapIdx: -1, answered: true,
		since: p.now(), subs: map[*originState]struct{}{}, down: map[*originState]struct{}{},
	}
	for _, f := range strings.Split(key.ExpectStatus, ",") {
		if n, err := strconv.Atoi(f); err == nil {
			ep.expect = append(ep.expect, n)
		}
	}
	return ep
}

// Key returns the endpoint's key.
func (ep *Endpoint) Key() EndpointKey { return ep.key }

// verdict returns the endpoint's state and why.
func (ep *Endpoint) verdict() (State, string) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.state, ep.reason
}

func (ep *Endpoint) subscribe(o *originState) {
	ep.mu.Lock()
	ep.subs[o] = struct{}{}
	ep.mu.Unlock()
}

func (ep *Endpoint) unsubscribe(o *originState) {
	ep.mu.Lock()
	delete(ep.subs, o)
	delete(ep.down, o)
	ep.mu.Unlock()
}

// passiveFell records that o's own answers put it down: the endpoint's
// rounds now include o's recovery probes. It wakes the Prober, since an
// endpoint without a probe path may have been idle.
func (ep *Endpoint) passiveFell(o *originState) {
	ep.mu.Lock()
	_, sub := ep.subs[o]
	if sub {
		ep.down[o] = struct{}{}
	}
	ep.mu.Unlock()
}

// needsRound reports whether a probe round is due at all: always with a
// probe path, else only while something on the endpoint is down.
func (ep *Endpoint) needsRound() bool {
	if ep.key.Path != "" {
		return true
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.state == Down || len(ep.down) > 0
}

// round is one probe round: the endpoint's own probe, then, if the
// endpoint answered sanely, the recovery probes of the sites on it that
// are down by their own answers, in parallel. ctx ends at Prober.Close.
func (ep *Endpoint) round(ctx context.Context) {
	ep.probeEndpoint(ctx)
	ep.mu.Lock()
	answered := ep.answered && ep.state == Up
	var down []*originState
	if answered {
		down = make([]*originState, 0, len(ep.down))
		for o := range ep.down {
			down = append(down, o)
		}
	}
	ep.mu.Unlock()
	var wg sync.WaitGroup
	for _, o := range down {
		if !o.passiveDown() {
			ep.mu.Lock()
			delete(ep.down, o)
			ep.mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ep.prober.recoverRound(ep, "recovery probe")
			ep.probeSite(ctx, o)
		}()
	}
	wg.Wait()
}

// probeEndpoint sends the endpoint's probe and applies the verdict.
func (ep *Endpoint) probeEndpoint(ctx context.Context) {
	method, path := "GET", ep.key.Path
	if path == "" {
		method, path = "HEAD", "/"
	}
	r, ok := ep.send(ctx, method, path, ep.key.Host, ep.key.Path != "")
	if !ok {
		return
	}
	if r.Failed {
		ep.probesFailed.Add(1)
	} else {
		ep.probesOK.Add(1)
	}
	ep.apply(r)
}

// send sends one probe and judges the answer: with strict, against
// expect_status and expect_body; else (a recovery probe) any answer but a
// server error will do. ok is false when the probe was cut short by Close.
func (ep *Endpoint) send(ctx context.Context, method, path, host string, strict bool) (r Result, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ep.prober.log.Error("health probe panicked", "origin", ep.key.URL, "panic", v, "stack", string(debug.Stack()))
			r, ok = Result{Failed: true, Reason: "probe panicked"}, ctx.Err() == nil
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, ep.key.Timeout)
	defer cancel()
	start := ep.prober.now()
	status, body, err := ep.transport.Probe(pctx, method, path, host)
	r = Result{Latency: ep.prober.now().Sub(start)}
	switch {
	case err != nil:
		r.Failed, r.Reason = true, err.Error()
	case !strict:
		// A recovery probe asks only whether the server answers sanely.
		r.Failed = status >= 500 && status != 501
		r.Reason = fmt.Sprintf("status %d", status)
	case !ep.expected(status):
		r.Failed, r.Reason = true, fmt.Sprintf("status %d", status)
	case ep.key.ExpectBody != "" && !bytes.Contains(body, []byte(ep.key.ExpectBody)):
		r.Failed, r.Reason = true, "body lacks expect_body"
	case ep.failed != nil && ep.failed(body):
		// A health page that shows the platform's error page (a database
		// error behind a 200) is no sign of health.
		r.Failed, r.Reason = true, "failure marker"
	}
	return r, ctx.Err() == nil // a probe cut short by Close says nothing
}

func (ep *Endpoint) expected(status int) bool {
	if len(ep.expect) == 0 {
		return status >= 200 && status < 400
	}
	for _, want := range ep.expect {
		if status == want {
			return true
		}
	}
	return false
}

// apply applies the endpoint probe's verdict and tells the sites on it of
// a change.
func (ep *Endpoint) apply(r Result) {
	now := ep.prober.now()
	ep.mu.Lock()
	ep.answered = !r.Failed
	var from State
	changed := false
	if r.Failed {
		ep.okRun = 0
		ep.failRun++
		if ep.state == Up && ep.failRun >= ep.key.Fall {
			from, changed = ep.state, true
			ep.state, ep.reason, ep.since = Down, "probe: "+r.Reason, now
		}
	} else {
		ep.failRun = 0
		ep.okRun++
		if ep.state == Down && ep.okRun >= ep.key.Rise {
			from, changed = ep.state, true
			ep.state, ep.reason, ep.since = Up, "probe succeeded", now
			clear(ep.down) // rising clears every site's own verdict
		}
	}
	var subs []*originState
	if changed {
		subs = make([]*originState, 0, len(ep.subs))
		for o := range ep.subs {
			subs = append(subs, o)
		}
	}
	to, reason := ep.state, ep.reason
	ep.mu.Unlock()
	if !changed {
		return
	}
	ep.prober.logEndpoint(ep, from, to, reason, len(subs))
	for _, o := range subs {
		var t transition
		var ch bool
		if to == Up {
			t, ch = o.endpointRose(now)
		} else {
			t, ch = o.endpointChanged(now)
		}
		if ch {
			o.site.changed(o.i, t)
		}
	}
}

// probeSite sends o's own recovery probe (HEAD / with the site's Host,
// what a shopper's request would reach) and applies it.
func (ep *Endpoint) probeSite(ctx context.Context, o *originState) {
	s := o.site
	r, ok := ep.send(ctx, "HEAD", "/", s.probeHost, false)
	if !ok {
		return
	}
	if r.Failed {
		s.probesFailed.Add(1)
	} else {
		s.probesOK.Add(1)
	}
	if t, changed := o.recoveryProbe(&s.p, ep.prober.now(), r); changed {
		ep.mu.Lock()
		delete(ep.down, o)
		ep.mu.Unlock()
		s.changed(o.i, t)
	}
}

// EndpointStats is what is known of one endpoint, for metrics and the
// admin API.
type EndpointStats struct {
	Key          EndpointKey
	State        State
	Reason       string
	Since        time.Time
	Sites        int // site origins that use it
	SitesDown    int // of those, down by their own answers
	ProbesOK     uint64
	ProbesFailed uint64
}

// Stats returns a snapshot of the endpoint.
func (ep *Endpoint) Stats() EndpointStats {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return EndpointStats{
		Key: ep.key, State: ep.state, Reason: ep.reason, Since: ep.since,
		Sites: len(ep.subs), SitesDown: len(ep.down),
		ProbesOK: ep.probesOK.Load(), ProbesFailed: ep.probesFailed.Load(),
	}
}
