package proxy

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/valyala/fasthttp"
)

// TestLentBodiesNeverCross: a relayed answer's body is the fetch's own
// buffer, lent to the response and reclaimed only once the response is
// written (connstate.go). Pipelined requests for different pages on
// several connections at once, each answer large enough to take several
// writes, must each get their own page whole: a fetch reused while its
// body was still being written would send one shopper another's bytes.
func TestLentBodiesNeverCross(t *testing.T) {
	o := testkit.NewOrigin(t, func(x *testkit.Exchange) {
		page := strings.Repeat(x.Request.URL.Path+";", 40<<10/len(x.Request.URL.Path))
		x.Write(testkit.Response(200, page, "Content-Type: text/html"))
		x.KeepAlive = true
	})
	p := startProxy(t, oneSite(o.URL()))
	const conns, each = 4, 8
	raws := make([]*testkit.RawConn, conns)
	for c := range raws {
		raws[c] = testkit.Dial(t, p.addr)
		var batch strings.Builder
		for i := range each {
			// A personal cookie: every request is its own pass-through,
			// never collapsed or answered from a copy.
			fmt.Fprintf(&batch, "GET /page/%d/%d HTTP/1.1\r\nHost: shop.example\r\nCookie: session=%d\r\n\r\n", c, i, c)
		}
		raws[c].Send(batch.String())
	}
	for c, raw := range raws {
		for i := range each {
			resp, body, err := raw.ReadResponse("GET", 10*time.Second)
			if err != nil {
				t.Fatalf("connection %d, answer %d: %v", c, i, err)
			}
			path := fmt.Sprintf("/page/%d/%d", c, i)
			want := strings.Repeat(path+";", 40<<10/len(path))
			if resp.StatusCode != 200 || string(body) != want {
				t.Errorf("connection %d, answer %d: %d, %d bytes starting %.40q; want %s's page whole", c, i, resp.StatusCode, len(body), body, path)
			}
		}
	}
}

// TestLentFetchHeldUntilWritten: a fetch whose body a response points
// into stays out of the pool while fasthttp may still write that response,
// and goes back once the connection is read again (fasthttp writes the
// answer before it reads the next request) or closed.
func TestLentFetchHeldUntilWritten(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	g := &guardConn{Conn: a}
	g.resetHead()
	var ctx fasthttp.RequestCtx
	ctx.Init2(g, nil, false)
	if connOf(&ctx) != g {
		t.Fatal("connOf does not find the guard")
	}

	f := fetchPool.Get().(*fetch)
	f.lent = true
	done(&ctx, f)
	if g.lent.Load() != f {
		t.Fatal("a lent fetch was released when its handler ended")
	}
	go b.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if _, err := g.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	if g.lent.Load() != nil {
		t.Error("the lent fetch was kept past the connection's next read")
	}

	f = fetchPool.Get().(*fetch)
	f.lent = true
	done(&ctx, f)
	g.Close()
	if g.lent.Load() != nil {
		t.Error("the lent fetch was kept past Close")
	}

	f = fetchPool.Get().(*fetch) // not lent: released at once
	done(&ctx, f)
	if g.lent.Load() != nil {
		t.Error("a fetch that lent nothing was held")
	}
}
