package proxy

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/sites"
	"github.com/valyala/fasthttp"
)

// TestSiteStateHotLine holds the layout the request path counts on with
// thousands of sites: a host's slot in the host table (hostRef and the
// table's 48 bytes) is three whole cache lines, the whole of what a copy
// served stale reads of its site besides the served table; what every
// other request reads of a site's state is in its first 64 bytes; and the
// state's size is in a size class whose objects start on a cache line
// (Go's 256-byte class: the spans start on a page, and the size is a
// multiple of 64). A field added to siteState must go below the hot ones,
// and may need the size changed (or padding taken away) to keep this.
func TestSiteStateHotLine(t *testing.T) {
	var st siteState
	hot := map[string]uintptr{
		"dyn":    unsafe.Offsetof(st.dyn) + unsafe.Sizeof(st.dyn),
		"health": unsafe.Offsetof(st.health) + unsafe.Sizeof(st.health),
		"served": unsafe.Offsetof(st.served) + unsafe.Sizeof(st.served),
		"hsts":   unsafe.Offsetof(st.hsts) + unsafe.Sizeof(st.hsts),
	}
	for f, end := range hot {
		if end > 64 {
			t.Errorf("%s ends at byte %d, past the first cache line", f, end)
		}
	}
	// The size class of an n-byte object is the smallest class >= n; for
	// siteState it must be 256 (the class below is 240).
	if n := unsafe.Sizeof(st); n <= 240 || n > 256 {
		t.Errorf("siteState is %d bytes; want 241..256, the 256-byte size class", n)
	}
	if n := sites.SlotSize[hostRef](); n != 192 {
		t.Errorf("a host table slot is %d bytes; want 192, three cache lines (sites.Table)", n)
	}
	var ref hostRef
	if n := len(ref.name); n < sites.MaxNameLen {
		t.Errorf("a slot holds site names of up to %d bytes; want %d", n, sites.MaxNameLen)
	}
	states := make([]*siteState, 64)
	for i := range states {
		states[i] = new(siteState)
		if a := uintptr(unsafe.Pointer(states[i])) % 64; a != 0 {
			t.Fatalf("allocated at %d bytes into a cache line; want 0", a)
		}
	}
}

// TestKeysNameTheSite: a site's keys start with its name, as its hosts'
// slots build them for requests and its state for warming, for names of
// every length a site may have (1 to 63 bytes), and a reload or a new
// run-time state keeps them.
func TestKeysNameTheSite(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	named := []struct{ name, host string }{{"b", "b.example"}}
	yaml := "tls: {mode: off}\nsites:\n" +
		"  - {name: b, hosts: [b.example], origin: {urls: [" + o.URL() + "]}}\n"
	for _, n := range []int{32, 62, 63} { // up to the most a name has
		name, host := strings.Repeat("a", n-1)+"z", fmt.Sprintf("n%d.example", n)
		named = append(named, struct{ name, host string }{name, host})
		yaml += "  - {name: " + name + ", hosts: [" + host + "], origin: {urls: [" + o.URL() + "]}}\n"
	}
	p := startProxy(t, yaml)
	long := named[len(named)-1].name
	check := func(when string) {
		t.Helper()
		snap := p.snap.Load()
		for _, c := range named {
			var req fasthttp.Request
			req.SetRequestURI("/p")
			req.Header.SetHost(c.host)
			want := c.name + "\x00" + c.host + "\x00/p"
			// As the request path builds it (from the host's slot), and as
			// warming does (from the site state).
			keys := snap.hosts.Lookup([]byte(c.host)).keys()
			if k := keys.Build(nil, &req); string(k.Primary) != want {
				t.Errorf("%s: key %q; want %q", when, k.Primary, want)
			}
			stKeys := snap.states[snap.sites.Named(c.name).Index].keys()
			if k := stKeys.Build(nil, &req); string(k.Primary) != want {
				t.Errorf("%s: site state's key %q; want %q", when, k.Primary, want)
			}
		}
	}
	check("at start")
	if err := p.Update(options(t, yaml+"cache: {refresh: 2s}\n")); err != nil {
		t.Fatal(err)
	}
	check("after a reload")
	if err := p.ApplyState(long, SiteState{ForceFallback: true}); err != nil {
		t.Fatal(err)
	}
	check("after a new state")
}
