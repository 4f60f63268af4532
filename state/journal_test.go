package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fillScopes gives s n sites in maintenance, written as one snapshot, as a
// start with that many sites in state.json leaves it.
func fillScopes(s *Store, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		s.scopes[fmt.Sprintf("shop-%05d", i)] = record{
			Version: Version{Stamp: s.clock.Now(), Writer: s.writer},
			Scope:   Scope{Maintenance: &Maintenance{Enabled: true, Mode: "full", Message: map[string]string{"en": "Back soon"}}},
		}
	}
	s.saveLocked()
}

// TestChangeCostsWhatItChanges: with thousands of sites, a change appends a
// line to the journal instead of rewriting the whole state, and a node
// started again has every change.
func TestChangeCostsWhatItChanges(t *testing.T) {
	dir := t.TempDir()
	s, err := NewStore(StoreConfig{Dir: dir, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	fillScopes(s, 5000)
	snapPath := filepath.Join(dir, "state.json")
	before, err := os.Stat(snapPath)
	if err != nil {
		t.Fatal(err)
	}
	const changes = 50
	for i := range changes {
		if _, err := s.Change(context.Background(), fmt.Sprintf("shop-%05d", i), maintenanceOff); err != nil {
			t.Fatal(err)
		}
	}
	after, err := os.Stat(snapPath)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("state.json (%d bytes) was rewritten by %d changes; want them in the journal", before.Size(), changes)
	}
	j, err := os.Stat(filepath.Join(dir, "state.journal"))
	if err != nil {
		t.Fatal(err)
	}
	if per := j.Size() / changes; per > 1024 {
		t.Errorf("a change wrote %d bytes to the journal; want a line of its own scope", per)
	}

	again, err := NewStore(StoreConfig{Dir: dir, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		name := fmt.Sprintf("shop-%05d", i)
		if got, want := again.Scope(name).Maintenance != nil, i >= changes; got != want {
			t.Fatalf("%s after restart: in maintenance %v; want %v", name, got, want)
		}
		if got, want := again.VersionOf(name), s.VersionOf(name); got != want {
			t.Fatalf("%s after restart: version %+v; want %+v", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state.journal")); !os.IsNotExist(err) {
		t.Errorf("the journal was not folded into the snapshot at start: %v", err)
	}
}

// TestJournalLeftByACrash: a line a crash cut is ignored with what follows
// it, lines that name an older snapshot are not applied over the newer
// one, and the node starts with everything acknowledged before.
func TestJournalLeftByACrash(t *testing.T) {
	dir := t.TempDir()
	s, err := NewStore(StoreConfig{Dir: dir, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Change(ctx, "old", maintenanceOn("full")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Change(ctx, "acked", maintenanceOn("read-only")); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "state.journal")
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	// After them a line from before the snapshot (another generation) that
	// would turn "old" off, and a last line cut short.
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	stale := strings.Replace(strings.SplitAfter(string(data), "\n")[0], gen, "0000000000000000", 1)
	stale = strings.Replace(stale, `"maintenance"`, `"maintenance_was"`, 1)
	cut := `{"gen":"` + gen + `","scope":"cut","record":{"stamp`
	if err := os.WriteFile(journal, []byte(string(data)+stale+cut), 0o600); err != nil {
		t.Fatal(err)
	}

	again, err := NewStore(StoreConfig{Dir: dir, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if !inMaintenance(again, "old", "full") || !inMaintenance(again, "acked", "read-only") {
		t.Errorf("a change acknowledged before the crash was lost: old %+v, acked %+v", again.Scope("old"), again.Scope("acked"))
	}
	if again.VersionOf("cut") != (Version{}) {
		t.Errorf("the cut line was applied: %+v", again.VersionOf("cut"))
	}
	// The next change after such a start lands after a clean journal.
	if _, err := again.Change(ctx, "later", maintenanceOn("full")); err != nil {
		t.Fatal(err)
	}
	third, err := NewStore(StoreConfig{Dir: dir, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if !inMaintenance(third, "later", "full") || !inMaintenance(third, "acked", "read-only") {
		t.Errorf("after a second start: later %+v, acked %+v", third.Scope("later"), third.Scope("acked"))
	}
}

// TestJournalFoldsAtSnapshotSize: the journal never grows much past the
// snapshot (or journalMin): it is folded into a new snapshot.
func TestJournalFoldsAtSnapshotSize(t *testing.T) {
	dir := t.TempDir()
	s, err := NewStore(StoreConfig{Dir: dir, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 4000)
	for i := range 200 { // 200 × ~4 KB: past journalMin
		if _, err := s.Change(context.Background(), "shop", func(sc *Scope) error {
			sc.Maintenance = &Maintenance{Enabled: true, Mode: "full", Message: map[string]string{"en": fmt.Sprint(i, long)}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	j, err := os.Stat(filepath.Join(dir, "state.journal"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err == nil && j.Size() > journalMin+8<<10 {
		t.Errorf("journal is %d bytes; want it folded at %d", j.Size(), journalMin)
	}
	again, err := NewStore(StoreConfig{Dir: dir, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Scope("shop").Maintenance.Message["en"]; !strings.HasPrefix(got, "199x") {
		t.Errorf("after restart the message starts %.8q; want the last change's", got)
	}
}

// BenchmarkChangeWith10000Sites: one change on a node that holds 10,000
// sites, on local disk (each change is synced).
func BenchmarkChangeWith10000Sites(b *testing.B) {
	s, err := NewStore(StoreConfig{Dir: b.TempDir(), Log: quiet(), Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	fillScopes(s, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Change(context.Background(), fmt.Sprintf("shop-%05d", i%10000), maintenanceOn("full")); err != nil {
			b.Fatal(err)
		}
	}
}
