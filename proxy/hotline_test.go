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
// thousands of sites (siteState, dynamic, hostRef): what every request
// reads of a site's state and of its run-time part is in their first 64
// bytes, each struct's size is in a size class whose objects start on a
// cache line (Go's 192- and 256-byte classes: the spans start on a page,
// and the sizes are multiples of 64), and a host's slot in the host table
// is two whole lines, the site's name in it (keys are built from it). A
// field added to one must go below the hot ones, and may need the size
// changed (or padding taken away) to keep this.
func TestSiteStateHotLine(t *testing.T) {
	var st siteState
	hot := map[string]uintptr{
		"dyn":     unsafe.Offsetof(st.dyn) + unsafe.Sizeof(st.dyn),
		"health":  unsafe.Offsetof(st.health) + unsafe.Sizeof(st.health),
		"served":  unsafe.Offsetof(st.served) + unsafe.Sizeof(st.served),
		"slot":    unsafe.Offsetof(st.slot) + unsafe.Sizeof(st.slot),
		"circuit": unsafe.Offsetof(st.circuit) + unsafe.Sizeof(st.circuit),
		"hsts":    unsafe.Offsetof(st.hsts) + unsafe.Sizeof(st.hsts),
	}
	var d dynamic
	hot["dynamic.maint"] = unsafe.Offsetof(d.maint) + unsafe.Sizeof(d.maint)
	hot["dynamic.bannerReady"] = unsafe.Offsetof(d.bannerReady) + unsafe.Sizeof(d.bannerReady)
	for f, end := range hot {
		if end > 64 {
			t.Errorf("%s ends at byte %d, past the first cache line", f, end)
		}
	}
	// The size class of an n-byte object is the smallest class >= n; for
	// these two it must be 256 (the class below is 240).
	if n := unsafe.Sizeof(st); n <= 240 || n > 256 {
		t.Errorf("siteState is %d bytes; want 241..256, the 256-byte size class", n)
	}
	if n := unsafe.Sizeof(d); n <= 176 || n > 192 {
		t.Errorf("dynamic is %d bytes; want 177..192, the 192-byte size class", n)
	}
	if n := sites.SlotSize[hostRef](); n != 128 {
		t.Errorf("a host table slot is %d bytes; want 128, two cache lines (sites.Table)", n)
	}
	var ref hostRef
	if n := len(ref.name); n < 32 {
		t.Errorf("a slot holds site names of up to %d bytes; want at least 32", n)
	}
	states, dyns := make([]*siteState, 64), make([]*dynamic, 64)
	for i := range states {
		states[i], dyns[i] = new(siteState), new(dynamic)
		if a, b := uintptr(unsafe.Pointer(states[i]))%64, uintptr(unsafe.Pointer(dyns[i]))%64; a != 0 || b != 0 {
			t.Fatalf("allocated at %d and %d bytes into a cache line; want 0", a, b)
		}
	}
}

// TestKeysNameTheSite: a site's keys start with its name, kept in its
// hosts' slots when it fits and in its run-time part, for names of every
// length a site may have (1 to 63 bytes; a slot holds up to 55), and a
// reload or a new run-time state keeps them.
func TestKeysNameTheSite(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	named := []struct{ name, host string }{{"b", "b.example"}}
	yaml := "tls: {mode: off}\nsites:\n" +
		"  - {name: b, hosts: [b.example], origin: {urls: [" + o.URL() + "]}}\n"
	for _, n := range []int{55, 56, 63} { // the most a slot holds, one more, the most a name has
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
			// warming does (from the run-time part).
			keys := snap.hosts.Lookup([]byte(c.host)).keys()
			if k := keys.Build(nil, &req); string(k.Primary) != want {
				t.Errorf("%s: key %q; want %q", when, k.Primary, want)
			}
			if k := snap.states[snap.sites.Named(c.name).Index].dyn.Load().keys.Build(nil, &req); string(k.Primary) != want {
				t.Errorf("%s: run-time part's key %q; want %q", when, k.Primary, want)
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
