package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// A node keeps its state on disk in two files: the snapshot (state.json),
// all of it, and the journal (state.journal), the changes made since the
// snapshot was written, one JSON line each. A change appends its lines and
// syncs the journal, so it costs what it changed, not the size of the
// whole state: with 50,000 sites the snapshot is about 15 MB, which a
// rewrite per change made quadratic when a platform created its shops
// through the API. The journal is folded into a new snapshot once it is
// as large as the snapshot (and on every start), so it stays bounded.
//
// A crash leaves each file whole or with a partial last line, which the
// next start ignores: the change it carried was not acknowledged, since
// Change answers only after the sync. Lines carry the generation of the
// snapshot they follow, so lines a crash left behind after a newer
// snapshot replaced theirs are never applied over it.

// snapshot is the file format of state.json.
type snapshot struct {
	// Epoch is the generation of the Redis state the node followed, RunID
	// the run id of its master when the node last checked it, at RunSeen.
	Epoch   string    `json:"epoch,omitempty"`
	RunID   string    `json:"run_id,omitempty"`
	RunSeen time.Time `json:"run_seen,omitzero"`
	// Counter is the shared counter of snapshots written before stamps.
	Counter int64             `json:"counter,omitempty"`
	Scopes  map[string]record `json:"scopes"`
	// Audit holds the audit entries the node knows, oldest first, so that
	// an audit stream Redis lost can be written back.
	Audit []auditRecord `json:"audit,omitempty"`
	// Gen names this snapshot; journal lines written after it carry it.
	Gen string `json:"gen,omitempty"`
}

// journalLine is one change in state.journal: the scope's record as it now
// is (nil when the scope was dropped) and the audit entries it came with,
// and the snapshot fields as they were after it.
type journalLine struct {
	Gen     string        `json:"gen"`
	Scope   string        `json:"scope,omitempty"`
	Record  *record       `json:"record,omitempty"`
	Audit   []auditRecord `json:"audit,omitempty"`
	Epoch   string        `json:"epoch,omitempty"`
	RunID   string        `json:"run_id,omitempty"`
	RunSeen time.Time     `json:"run_seen,omitzero"`
}

// Folding a journal into the snapshot: when it reaches the snapshot's size
// (at least journalMin, so that a small state is not rewritten every few
// changes), and whenever one step changed more than journalMaxScopes
// scopes (a resync after a failover), where one rewrite is cheaper.
const (
	journalMin       = 256 << 10
	journalMaxScopes = 256
)

// load reads the snapshot and replays the journal over it, then folds the
// journal into a new snapshot, so that appends start on a clean file.
func (s *Store) load() error {
	gen, err := s.loadSnapshot()
	if err != nil {
		return err
	}
	journal, err := s.replayJournal(gen)
	if err != nil {
		return err
	}
	if journal {
		s.mu.Lock()
		s.saveLocked()
		s.mu.Unlock()
	}
	return nil
}

// loadSnapshot reads state.json and returns its generation ("" when there
// is none or it could not be read).
func (s *Store) loadSnapshot() (string, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("state: read snapshot: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		// A damaged snapshot must not stop a node from serving; Redis (or
		// the next change) brings the state back.
		s.log.Error("state snapshot unreadable; starting without it", "file", s.path, "err", err)
		return "", nil
	}
	for name, r := range snap.Scopes {
		if r.Stamp.IsZero() && r.Legacy > 0 {
			r.Stamp = Stamp{Seq: r.Legacy} // older than every stamp from a clock
		}
		r.Legacy = 0
		s.scopes[localName(name)] = r
		s.clock.Observe(r.Stamp)
	}
	for _, a := range snap.Audit {
		s.audit.add(a)
	}
	s.epoch, s.runID, s.runSeen = snap.Epoch, snap.RunID, snap.RunSeen
	s.log.Info("state loaded from snapshot", "file", s.path, "scopes", len(s.scopes), "epoch", s.epoch)
	return snap.Gen, nil
}

// replayJournal applies the journal lines that follow the snapshot of
// generation gen, in order, and reports whether there was a journal. It
// stops at the first line it cannot read: a crash cut it, and nothing
// after it was written.
func (s *Store) replayJournal(gen string) (bool, error) {
	data, err := os.ReadFile(s.journalPath())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: read journal: %w", err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		var l journalLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			s.log.Warn("state journal ends in a line a crash cut; the change it held was never acknowledged", "file", s.journalPath(), "err", err)
			break
		}
		if gen == "" || l.Gen != gen {
			continue // written after an older snapshot, which this one includes
		}
		if l.Scope != "" {
			if l.Record == nil {
				delete(s.scopes, localName(l.Scope))
			} else {
				s.scopes[localName(l.Scope)] = *l.Record
				s.clock.Observe(l.Record.Stamp)
			}
		}
		for _, a := range l.Audit {
			s.audit.add(a)
			s.clock.Observe(a.ID)
		}
		s.epoch, s.runID, s.runSeen = l.Epoch, l.RunID, l.RunSeen
		n++
	}
	if n > 0 {
		s.log.Info("state journal replayed", "file", s.journalPath(), "changes", n)
	}
	return len(data) > 0, nil
}

func (s *Store) journalPath() string {
	return filepath.Join(filepath.Dir(s.path), "state.journal")
}

// recordLocked keeps on disk that the named scopes changed (to what
// s.scopes now holds; dropped when absent) along with the audit entries:
// as journal lines, or in a new snapshot when the journal has grown as
// large as the snapshot or the step changed many scopes. It is called
// with s.mu held.
func (s *Store) recordLocked(names []string, audit []auditRecord) {
	if s.gen == "" || len(names) > journalMaxScopes || s.journalSize >= max(s.snapSize, journalMin) {
		s.saveLocked()
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one line each
	line := journalLine{Gen: s.gen, Epoch: s.epoch, RunID: s.runID, RunSeen: s.runSeen, Audit: audit}
	if len(names) == 0 {
		enc.Encode(line)
	}
	for _, name := range names {
		line.Scope, line.Record = redisName(name), nil
		if r, ok := s.scopes[name]; ok {
			line.Record = &r
		}
		if err := enc.Encode(line); err != nil {
			s.log.Error("state change not encoded for the journal; writing a snapshot", "scope", name, "err", err)
			s.saveLocked()
			return
		}
		line.Audit = nil
	}
	if err := appendSynced(s.journalPath(), buf.Bytes()); err != nil {
		s.log.Error("state journal not written; writing a snapshot", "file", s.journalPath(), "err", err)
		s.saveLocked()
		return
	}
	s.journalSize += int64(buf.Len())
}

// saveLocked writes the snapshot atomically, then empties the journal: a
// crash leaves the old file or the new one, never half of either, and the
// journal's lines name the old one. It is called with s.mu held.
func (s *Store) saveLocked() {
	snap := snapshot{Epoch: s.epoch, RunID: s.runID, RunSeen: s.runSeen, Scopes: map[string]record{}, Audit: s.audit.recs, Gen: newID(8)}
	for name, r := range s.scopes {
		snap.Scopes[redisName(name)] = r
	}
	data, err := json.Marshal(snap)
	if err == nil {
		err = writeFileAtomic(s.path, data)
	}
	if err != nil {
		s.gen = "" // the next change tries the snapshot again
		s.log.Error("state snapshot not written; the state is kept in memory and in redis", "file", s.path, "err", err)
		return
	}
	s.gen, s.snapSize, s.journalSize = snap.Gen, int64(len(data)), 0
	if err := os.Remove(s.journalPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Harmless: its lines name the old snapshot. Appends go after them.
		s.log.Warn("state journal not removed", "file", s.journalPath(), "err", err)
	}
}

// appendSynced appends data to the file at path and syncs it.
func appendSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".state-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func jsonScope(sc Scope) (string, error) {
	b, err := json.Marshal(sc)
	if err != nil {
		return "", fmt.Errorf("state: encode scope: %w", err)
	}
	return string(b), nil
}

// mustJSON encodes plain data, which cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
