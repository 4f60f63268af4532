// Package testkit is the harness Awning's tests share: a programmable origin
// that writes exact bytes (healthy, slow, hanging, refusing, 5xx, 52x,
// truncated, reset mid-body, wrong Content-Length) and logs every byte it
// reads, a raw client that sends exact bytes and tells whether the
// connection was closed, a real redis-server started on a free loopback
// port, a settable clock, and a poll for conditions that come true in the
// background.
//
// Nothing here is faked: tests talk to real sockets and real servers, and
// every helper stops what it starts through t.Cleanup.
package testkit
