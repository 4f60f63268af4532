package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

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
}

func (s *Store) load() error {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: read snapshot: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		// A damaged snapshot must not stop a node from serving; Redis (or
		// the next change) brings the state back.
		s.log.Error("state snapshot unreadable; starting without it", "file", s.path, "err", err)
		return nil
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
	return nil
}

// saveLocked writes the snapshot atomically: a crash leaves the old file or
// the new one, never half of either. It is called with s.mu held.
func (s *Store) saveLocked() {
	snap := snapshot{Epoch: s.epoch, RunID: s.runID, RunSeen: s.runSeen, Scopes: map[string]record{}, Audit: s.audit.recs}
	for name, r := range s.scopes {
		snap.Scopes[redisName(name)] = r
	}
	data, err := json.Marshal(snap)
	if err == nil {
		err = writeFileAtomic(s.path, data)
	}
	if err != nil {
		s.log.Error("state snapshot not written; the state is kept in memory and in redis", "file", s.path, "err", err)
	}
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
