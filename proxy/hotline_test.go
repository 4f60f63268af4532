package proxy

import (
	"testing"
	"unsafe"
)

// TestSiteStateHotLine holds the layout the request path counts on with
// thousands of sites (siteState, dynamic): what every request reads of a
// site's state and of its run-time part is in the first 64 bytes, and each
// struct's size is in a size class whose objects start on a cache line
// (Go's 256- and 192-byte classes: the spans start on a page, and the sizes
// are multiples of 64). A field added to either must go below the hot
// ones, and may need the size changed (or padding taken away) to keep this.
func TestSiteStateHotLine(t *testing.T) {
	var st siteState
	hot := map[string]uintptr{
		"dyn":    unsafe.Offsetof(st.dyn) + unsafe.Sizeof(st.dyn),
		"health": unsafe.Offsetof(st.health) + unsafe.Sizeof(st.health),
		"keys":   unsafe.Offsetof(st.keys) + unsafe.Sizeof(st.keys),
		"served": unsafe.Offsetof(st.served) + unsafe.Sizeof(st.served),
		"hsts":   unsafe.Offsetof(st.hsts) + unsafe.Sizeof(st.hsts),
	}
	var d dynamic
	hot["dynamic.maint"] = unsafe.Offsetof(d.maint) + unsafe.Sizeof(d.maint)
	hot["dynamic.banner"] = unsafe.Offsetof(d.banner) + unsafe.Sizeof(d.banner)
	for f, end := range hot {
		if end > 64 {
			t.Errorf("%s ends at byte %d, past the first cache line", f, end)
		}
	}
	// The size class of an n-byte object is the smallest class >= n; for
	// these two it must be 256 and 192 (the classes below are 240 and 176).
	if n := unsafe.Sizeof(st); n <= 240 || n > 256 {
		t.Errorf("siteState is %d bytes; want 241..256, the 256-byte size class", n)
	}
	if n := unsafe.Sizeof(d); n <= 176 || n > 192 {
		t.Errorf("dynamic is %d bytes; want 177..192, the 192-byte size class", n)
	}
	states, dyns := make([]*siteState, 64), make([]*dynamic, 64)
	for i := range states {
		states[i], dyns[i] = new(siteState), new(dynamic)
		if a, b := uintptr(unsafe.Pointer(states[i]))%64, uintptr(unsafe.Pointer(dyns[i]))%64; a != 0 || b != 0 {
			t.Fatalf("allocated at %d and %d bytes into a cache line; want 0", a, b)
		}
	}
}
