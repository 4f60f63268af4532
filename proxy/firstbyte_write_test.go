package proxy

import (
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestFirstByteTimeoutSparesOrders: origin.first_byte_timeout bounds how
// long a page may take to start; an order (any method but GET and HEAD)
// has write_timeout for the whole exchange, "a checkout is worth the wait"
// (issue 17). A checkout that takes longer than first_byte_timeout to
// answer is relayed, not cut into an unconfirmed page, and a page that
// slow still is cut at first_byte_timeout.
func TestFirstByteTimeoutSparesOrders(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.Slow(700*time.Millisecond, testkit.OK("thank you for your order")))
	p := startProxy(t, oneSite(o.URL(), "first_byte_timeout: 200ms", "write_timeout: 5s",
		"health: {hang_after: 2s}"))

	resp, body := p.post(t, "shop.example", "/checkout", "order=1")
	if resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" || body != "thank you for your order" {
		t.Errorf("a checkout slower than first_byte_timeout: got %d %q (%d bytes); want the origin's 200",
			resp.StatusCode, resp.Header.Get("Awning-Served"), len(body))
	}
	if n := o.RequestsFor("/checkout"); n != 1 {
		t.Errorf("the origin received the order %d times; want once", n)
	}

	start := time.Now()
	resp, _ = p.get(t, "shop.example", "/product/1")
	if resp.StatusCode != 503 || resp.Header.Get("Awning-Served") != "outage" {
		t.Errorf("a page slower than first_byte_timeout: got %d %q; want the outage page", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	if d := time.Since(start); d > 650*time.Millisecond {
		t.Errorf("the page took %s; want it cut at first_byte_timeout (200ms)", d)
	}
}
