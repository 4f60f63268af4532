package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestAnswersMemoryBounded: one origin sending large bodies to many
// requests at once holds at most limits.answers_memory of the node's
// memory. Each answer here is 3 MiB, sent up to its last 64 KiB and held
// there; with 5 MiB for the node, two fit (each counts what it holds beyond
// its first MiB) and the others are not read on: their shoppers get the
// outage page at once, with the reason. A page meanwhile is untouched, and
// once the held answers are written the memory is given back.
func TestAnswersMemoryBounded(t *testing.T) {
	const size = 3 << 20
	body := strings.Repeat("x", size)
	gate := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	startRawOrigin(t, ln, func(req *http.Request, c net.Conn) bool {
		if !strings.HasPrefix(req.URL.Path, "/big/") {
			c.Write(testkit.Response(200, "<p>small page</p>", "Content-Type: text/html"))
			return true
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", size)
		if _, err := c.Write([]byte(body[:size-64<<10])); err != nil {
			return false
		}
		select {
		case <-gate:
		case <-time.After(10 * time.Second):
		}
		c.Write([]byte(body[size-64<<10:]))
		return true
	})
	p := startProxy(t, oneSite("http://"+ln.Addr().String())+"limits: {response_body: 4MiB, answers_memory: 5MiB}\n")

	type result struct {
		status      int
		served, why string
		size        int
	}
	ask := func(path string) chan result {
		ch := make(chan result, 1)
		go func() {
			resp, b, err := bigGet(p.addr, path)
			if err != nil {
				ch <- result{why: err.Error()}
				return
			}
			ch <- result{resp.StatusCode, resp.Header.Get("Awning-Served"), resp.Header.Get("Cache-Status"), len(b)}
		}()
		return ch
	}
	// Two answers, one after the other, each read up to where the origin
	// holds it: about 2 MiB each beyond their first MiB.
	first := ask("/big/1")
	testkit.WaitFor(t, 10*time.Second, "the first answer to be read up to the hold", func() bool { return p.answers.held.Load() >= 2<<20 })
	second := ask("/big/2")
	testkit.WaitFor(t, 10*time.Second, "the second answer to be read up to the hold", func() bool { return p.answers.held.Load() >= 4<<20 })
	// The next ones do not fit: refused at once, while the two are held.
	for i := range 3 {
		select {
		case r := <-ask(fmt.Sprintf("/big/%d", 3+i)):
			if r.status != 503 || r.served != "outage" || !strings.Contains(r.why, "node-memory") {
				t.Errorf("a large answer past the node's answer memory: %d %q %q; want the outage page, detail node-memory", r.status, r.served, r.why)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a large answer past the node's answer memory waited; want it refused at once")
		}
	}
	if st := p.Stats(); st.AnswersMemory > 5<<20 || st.AnswersMemory < 4<<20 || st.AnswersMemoryMax != 5<<20 {
		t.Errorf("answers hold %d bytes beyond their first MiB (max %d); want the two held answers' ~4 MiB, at most limits.answers_memory (5 MiB)", st.AnswersMemory, st.AnswersMemoryMax)
	}
	if resp, _ := p.get(t, "shop.example", "/small"); resp.StatusCode != 200 || resp.Header.Get("Awning-Served") != "origin" {
		t.Errorf("a page while the memory is full: %d %q; want the origin's", resp.StatusCode, resp.Header.Get("Awning-Served"))
	}
	close(gate)
	for _, ch := range []chan result{first, second} {
		if r := <-ch; r.status != 200 || r.served != "origin" || r.size != size {
			t.Errorf("an admitted large answer: %d %q %d bytes %q; want 200 from the origin, %d bytes", r.status, r.served, r.size, r.why, size)
		}
	}
	testkit.WaitFor(t, 5*time.Second, "the answers' memory to be given back", func() bool { return p.answers.held.Load() == 0 })
	if r := <-ask("/big/again"); r.status != 200 || r.size != size {
		t.Errorf("a large answer once the memory was given back: %d, %d bytes %q; want 200 and the whole body", r.status, r.size, r.why)
	}
}

// bigGet asks the proxy for path on shop.example with a client of its own
// (the shared one's timeout is not the point here).
func bigGet(addr, path string) (*http.Response, []byte, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Host = "shop.example"
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}
