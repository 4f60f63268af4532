package proxy

import (
	"errors"
	"net"
)

// Early answers. An origin may answer before it has read the whole
// request: 413 to an upload too large for it, 401 or 403 to a POST it will
// not take, a redirect to a login page, 400, 417. Most then close the
// connection, and a close with unread bytes in the receive buffer is a
// reset, so the write of the rest of the body fails (EPIPE, ECONNRESET)
// while the answer waits in Awning's receive buffer; others keep the
// connection open without reading, and the write would wait for room that
// never comes. RFC 9112 §9.6 asks a client sending a body to watch for such
// an answer and stop sending; HAProxy, nginx and Go's Transport relay it.
//
// So the exchange does two things (originexchange.go's write):
//
//   - A write that fails for any reason but a deadline is not the end:
//     the exchange reads what the origin sent (x.early). A whole,
//     well-framed answer is relayed as any answer is, after the same checks
//     (issue 14); only when none can be read does the exchange end in the
//     write's error, and the shopper get what a failed write gets today
//     (the unconfirmed 504 for an order, the fallback for a page).
//   - While a body waits for room in the socket, a watcher reads the
//     origin's answer in a goroutine of its own: once it has the status
//     line of a final answer other than a success (or a whole answer, or
//     the origin closed), it stops the write by moving its deadline to the
//     past; the rest of the body is not sent. The writer
//     owns the watcher: it stops it when the write ends either way and
//     waits for it before going on, so the watcher never outlives the
//     write, and the bytes it read are the answer's first ones. Bodies that
//     go out at once (most: a form fits in the socket's buffer) start no
//     watcher.
//
// The connection that carried an early answer is never reused: the origin
// and Awning no longer agree on where the request ended. The answer is
// never stored (an early answer is to a request with a body, never a GET,
// and even so fetch.go keeps none), it tells health the origin works
// unless its status says otherwise (a 413 is an origin at work), and it is
// counted (awning_origin_early_answers_total).
//
// The shopper's connection needs nothing: fasthttp reads the whole request
// body (limits.request_body) before the handler runs, so after the answer
// the connection stands at the start of the shopper's next request, and
// keep-alive is safe. Were the body ever streamed, the shopper's
// connection would have to close after such an answer.

// earlyWatch is the watcher's state. The watcher writes it and signals
// done; the writer reads it only after done.
type earlyWatch struct {
	done chan struct{} // made once per pooled exchange
	// answered: the origin refused the body (respScanner.refusing), sent a
	// whole answer (whole) or one the scanner refused (err), or closed the
	// connection (readErr).
	answered bool
	whole    bool
	err      error
	readErr  error
	panicked any
}

// startWatch starts the watcher on x's connection, whose read deadline the
// caller set.
func (x *exchange) startWatch() {
	w := &x.watch
	if w.done == nil {
		w.done = make(chan struct{}, 1)
	}
	w.answered, w.whole, w.err, w.readErr, w.panicked = false, false, nil, nil, nil
	go x.watchAnswer()
}

// watchAnswer reads the origin's answer while the request is written, until
// the origin refuses the body or closes, the answer is whole, or the writer
// stops it.
// What it reads goes through took, as read's bytes do.
func (x *exchange) watchAnswer() {
	w := &x.watch
	c := x.c
	defer func() {
		if v := recover(); v != nil {
			w.panicked = v // the writer panics with it, in a goroutine that recovers
		}
		w.done <- struct{}{}
	}()
	for {
		if err := x.makeRoom(); err != nil {
			w.answered, w.err = true, err
			c.Conn.SetWriteDeadline(aLongTimeAgo)
			return
		}
		start := len(x.buf)
		n, err := c.Conn.Read(x.buf[start:cap(x.buf)])
		if n > 0 {
			x.gotByte = true
			x.buf = x.buf[:start+n]
			whole, terr := x.took(start)
			if whole || terr != nil || x.scan.refusing() {
				w.answered, w.whole, w.err = true, whole, terr
				c.Conn.SetWriteDeadline(aLongTimeAgo)
				return
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return // stopped by the writer, or the exchange's deadline: the writer sees to it
			}
			w.answered, w.readErr = true, err
			c.Conn.SetWriteDeadline(aLongTimeAgo)
			return
		}
	}
}

// stopWatch stops the watcher and waits for it, and reports whether the
// origin answered or closed meanwhile.
func (x *exchange) stopWatch() bool {
	c := x.c
	c.Conn.SetReadDeadline(aLongTimeAgo)
	<-x.watch.done
	// Both deadlines were moved behind the cache's back.
	c.rdl, c.wdl = aLongTimeAgo, aLongTimeAgo
	if v := x.watch.panicked; v != nil {
		x.watch.panicked = nil
		panic(v)
	}
	return x.watch.answered
}

// watched goes on from what the watcher found: an answer that began (or
// ended) before the request was whole is early; one that came just as the
// last byte went out is an answer like any other.
func (x *exchange) watched() error {
	w := &x.watch
	if x.wrote < len(x.req)+len(x.body) {
		x.early = true
	}
	if w.err != nil {
		return w.err
	}
	x.pendErr = w.readErr
	if w.whole {
		x.phase = phDone
	}
	return nil
}

// ended is the error an exchange ends in. After an early answer, an answer
// that could not be read whole ends in what stopped the write, as it did
// before Awning looked for early answers; what the checks refused, Awning's
// limits, and deadlines are told as they are.
func (x *exchange) ended(err error) error {
	if !x.early || x.writeErr == nil {
		return err
	}
	switch err {
	case errSlow, errReleased, errTimeout, errRetryFresh, errBodyTooLarge, errHeadTooLarge, errAnswersMemory:
		return err
	}
	if _, ok := refusalOf(err); ok {
		return err
	}
	return x.writeErr
}

// refusing reports whether the scanner has passed the status line of a
// final answer that is not a success: the origin does not want the rest of
// the body (RFC 9112 §9.6). 100 Continue and 103 Early Hints, which an
// origin may send while it takes the body, are not final; a 2xx is read on
// while the body is still sent (an origin may answer as it reads, as one
// that echoes or transcodes an upload does), and stops the write only once
// it is whole or the origin closes.
func (s *respScanner) refusing() bool {
	return s.lines > 0 && s.status >= 300 // status is the current head's, once its first line is in
}
