package state

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// AuditEntry records one change made through the admin API.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Who    string    `json:"who"`    // the token's name
	From   string    `json:"from"`   // the caller's address
	Action string    `json:"action"` // method and path, such as "PUT /v1/sites/bakkerij/maintenance"
	Scope  string    `json:"scope"`  // the site, or "*" for every site
	Detail string    `json:"detail,omitempty"`
}

// auditKeepLocal bounds the entries each node keeps (in memory and in its
// snapshot) to write back to a Redis that lost its audit stream.
const auditKeepLocal = 1_000

// auditRecord is an entry with its ID in the audit stream: the stamp of the
// change it records.
type auditRecord struct {
	ID    Stamp      `json:"id"`
	Entry AuditEntry `json:"entry"`
}

// auditLog keeps the newest entries a node knows, in ID order, each once.
// It is not safe for concurrent use; the Store's mu guards it.
type auditLog struct {
	recs []auditRecord
}

func (l *auditLog) add(r auditRecord) {
	i := sort.Search(len(l.recs), func(i int) bool { return l.recs[i].ID.Compare(r.ID) >= 0 })
	if i < len(l.recs) && l.recs[i].ID == r.ID {
		return
	}
	if len(l.recs) >= auditKeepLocal {
		if i == 0 {
			return // older than everything kept
		}
		copy(l.recs, l.recs[1:i])
		l.recs[i-1] = r
		return
	}
	l.recs = append(l.recs, auditRecord{})
	copy(l.recs[i+1:], l.recs[i:])
	l.recs[i] = r
}

func auditJSON(a *auditRecord) string {
	if a == nil {
		return ""
	}
	return mustJSON(a.Entry)
}

// Audit records e, an admin action that changed no scope, in the process
// log, on this node and, with Redis, in the audit stream every node reads.
// A change records its entry itself (ChangeAudited). A Redis failure is
// logged and does not fail the caller.
func (s *Store) Audit(ctx context.Context, e AuditEntry) {
	if e.Scope == Global {
		e.Scope = globalName
	}
	s.log.Info("admin action", "who", e.Who, "from", e.From, "action", e.Action, "scope", e.Scope, "detail", e.Detail)
	id := s.clock.Now()
	if s.redis != nil {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		got, err := auditScript.Run(ctx, s.redis, []string{keyHead, keyAudit}, id.String(), mustJSON(e)).Text()
		if err == nil {
			id, err = ParseStamp(got)
		}
		if err != nil {
			s.log.Warn("audit entry not written to redis; it is in this log", "err", err)
		}
		s.clock.Observe(id)
	}
	s.mu.Lock()
	a := auditRecord{ID: id, Entry: e}
	s.audit.add(a)
	s.recordLocked(nil, []auditRecord{a})
	s.mu.Unlock()
}

// AuditLog returns up to n entries, newest first: from Redis when shared
// (every node's changes), else from this node's memory.
func (s *Store) AuditLog(ctx context.Context, n int) ([]AuditEntry, error) {
	if s.redis != nil {
		msgs, err := s.redis.XRevRangeN(ctx, keyAudit, "+", "-", int64(n)).Result()
		if err != nil {
			return nil, fmt.Errorf("state: read audit log: %w", err)
		}
		out := make([]AuditEntry, 0, len(msgs))
		for _, m := range msgs {
			var e AuditEntry
			if s, ok := m.Values["entry"].(string); ok && json.Unmarshal([]byte(s), &e) == nil {
				out = append(out, e)
			}
		}
		return out, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]AuditEntry, 0, min(n, len(s.audit.recs)))
	for i := len(s.audit.recs) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, s.audit.recs[i].Entry)
	}
	return out, nil
}
