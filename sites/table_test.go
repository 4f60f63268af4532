package sites

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// TestTable: a Table finds the value of every host of every site, in any
// spelling Lookup accepts, and nothing for hosts no site has; a site whose
// value is nil is left out.
func TestTable(t *testing.T) {
	long := strings.Repeat("x", 60) + ".example" // longer than a slot holds
	var b strings.Builder
	b.WriteString("sites:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "  - name: s%d\n    hosts: [s%d.example, www.s%d.example]\n    origin: {urls: [\"http://127.0.0.1:1\"]}\n", i, i, i)
	}
	fmt.Fprintf(&b, "  - name: long\n    hosts: [%s]\n    origin: {urls: [\"http://127.0.0.1:1\"]}\n", long)
	b.WriteString("  - name: out\n    hosts: [out.example]\n    origin: {urls: [\"http://127.0.0.1:1\"]}\n")
	r, err := registry(t, b.String())
	if err != nil {
		t.Fatal(err)
	}
	tab := NewTable(r, func(s *Site, v *string) bool {
		*v = s.Name
		return s.Name != "out"
	})
	for _, s := range r.All() {
		for _, h := range s.Hosts {
			for _, spelling := range []string{h, strings.ToUpper(h), h + ".", h + ":8443"} {
				got := tab.Lookup([]byte(spelling))
				if s.Name == "out" && got != nil || s.Name != "out" && (got == nil || *got != s.Name) {
					t.Fatalf("Lookup(%q) = %v; want site %q's value", spelling, got, s.Name)
				}
			}
		}
	}
	for _, h := range []string{"out.example", "s300.example", "example", "", "s1.example..", long[1:], long + "x"} {
		if got := tab.Lookup([]byte(h)); got != nil {
			t.Errorf("Lookup(%q) = %q; want nil", h, *got)
		}
	}
	if got := (&Table[string]{}).Lookup([]byte("s1.example")); got != nil {
		t.Error("the zero Table found a host")
	}
	if n := testing.AllocsPerRun(100, func() { tab.Lookup([]byte("WWW.S7.example:8443")) }); n != 0 {
		t.Errorf("Lookup allocates %v times; want 0", n)
	}
	if size := unsafe.Sizeof(tableSlot[string]{}); size != 64 {
		t.Errorf("a slot is %d bytes; want 64, one cache line", size)
	}
}

// TestTableCollision: a slot whose hash matches but whose name does not
// (a hash collision) is a miss, never the other site.
func TestTableCollision(t *testing.T) {
	long := strings.Repeat("y", 50) + ".example"
	r, err := registry(t, `
sites:
  - name: a
    hosts: [a.example, `+long+`]
    origin: {urls: ["http://127.0.0.1:1"]}
`)
	if err != nil {
		t.Fatal(err)
	}
	tab := NewTable(r, func(s *Site, v *string) bool { *v = s.Name; return true })
	for _, host := range []string{"a.example", long} {
		if got := tab.Lookup([]byte(host)); got == nil || *got != "a" {
			t.Fatalf("Lookup(%q) misses", host)
		}
	}
	// Put a copy of each of a's slots where b.example's lookup starts,
	// with b.example's hash: the lookup reads it and must not take it.
	hb := tab.hash("b.example")
	home := hb & tab.mask
	var slots []tableSlot[string]
	for _, host := range []string{"a.example", long} {
		h := tab.hash(host)
		for i := range tab.slots {
			if tab.hashes[i] == h {
				slots = append(slots, tab.slots[i])
			}
		}
	}
	if len(slots) != 2 {
		t.Fatalf("found %d slots of a's two hosts", len(slots))
	}
	for _, slot := range slots {
		tab.hashes[home] = hb
		tab.slots[home] = slot
		if slot.n == longHost {
			tab.long[home] = long
		}
		if got := tab.Lookup([]byte("b.example")); got != nil {
			t.Fatalf("b.example, colliding with a slot of a (%d bytes long), found a site", slot.n)
		}
	}
}
