package proxy

import (
	"runtime"
	"testing"
	"time"

	"github.com/awningproxy/awning/internal/testkit"
)

// TestServedTableSlots: every site's counters get a slot of their own
// (across chunks), counting from zero, and a slot comes back to the table,
// zeroed, only once no site holds its counters.
func TestServedTableSlots(t *testing.T) {
	var tab servedTable
	const n = 2*servedChunkSites + 10
	held := make([]*siteCounters, n)
	seen := map[servedSlot]bool{}
	for i := range held {
		c := &siteCounters{}
		tab.take(c)
		if seen[c.served] {
			t.Fatalf("slot %v handed out twice", c.served)
		}
		seen[c.served] = true
		for range i % 3 {
			c.served.answered(OutcomeStale)
		}
		held[i] = c
	}
	for i, c := range held {
		var got [NumOutcomes]uint64
		c.served.loadAll(&got)
		if got != ([NumOutcomes]uint64{OutcomeStale: uint64(i % 3)}) {
			t.Fatalf("site %d counted %v", i, got)
		}
	}
	// An answer the circuit kept from the origin counts with its outcome,
	// and as not asked.
	slot := held[1].served
	slot.answeredNotAsked(OutcomeOutage, true)
	slot.answeredNotAsked(OutcomeStale, true)
	slot.answeredNotAsked(OutcomeStale, false)
	var got [NumOutcomes]uint64
	if notAsked := held[1].served.loadAll(&got); notAsked != 2 || got != ([NumOutcomes]uint64{OutcomeStale: 1 + 2, OutcomeOutage: 1}) {
		t.Errorf("counted %v, %d not asked; want stale 3, outage 1, 2 not asked", got, notAsked)
	}
	if got := tab.inUse(); got != n {
		t.Fatalf("%d slots in use; want %d", got, n)
	}
	keep := append([]*siteCounters(nil), held[:5]...)
	clear(held)
	testkit.WaitFor(t, 10*time.Second, "the dropped counters' slots back", func() bool {
		runtime.GC()
		return tab.inUse() == len(keep)
	})
	for range n {
		c := &siteCounters{}
		tab.take(c)
		var got [NumOutcomes]uint64
		if c.served.loadAll(&got); got != ([NumOutcomes]uint64{}) {
			t.Fatalf("a reused slot starts at %v", got)
		}
		for _, k := range keep {
			if k.served == c.served {
				t.Fatalf("slot %v of a live site handed out again", c.served)
			}
		}
	}
	runtime.KeepAlive(keep)
}

// TestRemovedSiteCountsGoWithIt: a site removed by a reload and another
// added count apart; the one that stays keeps its count.
func TestRemovedSiteCountsGoWithIt(t *testing.T) {
	o := testkit.NewOrigin(t, testkit.OK("a"))
	two := func(second string) string {
		return "tls: {mode: off}\nsites:\n" +
			"  - {name: a, hosts: [a.example], origin: {urls: [" + o.URL() + "]}}\n" +
			"  - {name: " + second + ", hosts: [" + second + ".example], origin: {urls: [" + o.URL() + "]}}\n"
	}
	p := startProxy(t, two("b"))
	p.get(t, "a.example", "/")
	p.get(t, "b.example", "/")
	p.get(t, "b.example", "/")
	if err := p.Update(options(t, two("c"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "b's counters collected", func() bool {
		runtime.GC()
		return p.served.inUse() == 2
	})
	p.get(t, "c.example", "/")
	got := map[string]uint64{}
	for _, s := range p.Stats().Sites {
		got[s.Name] = s.Served[OutcomeOrigin]
	}
	if got["a"] != 1 || got["c"] != 1 || len(got) != 2 {
		t.Errorf("origin answers by site %v; want a 1, c 1", got)
	}
}
