package proxy

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/awningproxy/awning/internal/testkit"
	"github.com/valyala/fasthttp"
)

// TestSiteStateHotLine holds the layout the request path counts on with
// thousands of sites (siteState, dynamic): what every request reads of a
// site's state and of its run-time part is in the first 64 bytes, and each
// struct's size is in a size class whose objects start on a cache line
// (Go's 256-byte class: the spans start on a page, and the sizes
// are multiples of 64). A field added to either must go below the hot
// ones, and may need the size changed (or padding taken away) to keep this.
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
	hot["dynamic.keys"] = unsafe.Offsetof(d.keys) + unsafe.Sizeof(d.keys)
	hot["dynamic.keyName (16 bytes)"] = unsafe.Offsetof(d.keyName) + 16
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
	if n := unsafe.Sizeof(d); n <= 240 || n > 256 {
		t.Errorf("dynamic is %d bytes; want 241..256, the 256-byte size class", n)
	}
	if n := unsafe.Sizeof(hostRef{}); n != 16 {
		t.Errorf("hostRef is %d bytes; want 16, so that a host table slot is one cache line (sites.Table)", n)
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
// dynamic part, for names of every length a site may have (1 to 63 bytes),
// and a reload or a new run-time state keeps them.
func TestKeysNameTheSite(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("ok"))
	long := strings.Repeat("a", 62) + "z"
	yaml := "tls: {mode: off}\nsites:\n" +
		"  - {name: b, hosts: [b.example], origin: {urls: [" + o.URL() + "]}}\n" +
		"  - {name: " + long + ", hosts: [long.example], origin: {urls: [" + o.URL() + "]}}\n"
	p := startProxy(t, yaml)
	check := func(when string) {
		t.Helper()
		snap := p.snap.Load()
		for _, c := range []struct{ name, host string }{{"b", "b.example"}, {long, "long.example"}} {
			var req fasthttp.Request
			req.SetRequestURI("/p")
			req.Header.SetHost(c.host)
			k := snap.states[snap.sites.Named(c.name).Index].dyn.Load().keys.Build(nil, &req)
			if want := c.name + "\x00" + c.host + "\x00/p"; string(k.Primary) != want {
				t.Errorf("%s: key %q; want %q", when, k.Primary, want)
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
