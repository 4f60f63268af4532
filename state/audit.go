package state

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"
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

// Bounds of the audit log.
const (
	auditKeepRemote = 10_000 // entries in the Redis stream (approximately)
	auditKeepLocal  = 1_000  // entries kept in memory on each node
)

// Audit records e in the process log, in memory and, with Redis, in a
// bounded stream every node can read. A Redis failure is logged and does not
// fail the caller: the change it records has already happened.
func (s *Store) Audit(ctx context.Context, e AuditEntry) {
	if e.Scope == Global {
		e.Scope = globalName
	}
	s.log.Info("admin change", "who", e.Who, "from", e.From, "action", e.Action, "scope", e.Scope, "detail", e.Detail)
	s.mu.Lock()
	s.audit = append(s.audit, e)
	if len(s.audit) > auditKeepLocal {
		s.audit = append(s.audit[:0], s.audit[len(s.audit)-auditKeepLocal:]...)
	}
	s.mu.Unlock()
	if s.redis == nil {
		return
	}
	data, _ := json.Marshal(e)
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	err := s.redis.XAdd(ctx, &redis.XAddArgs{
		Stream: keyAudit, MaxLen: auditKeepRemote, Approx: true,
		Values: []any{"entry", string(data)},
	}).Err()
	if err != nil {
		s.log.Warn("audit entry not written to redis; it is in this log", "err", err)
	}
}

// AuditLog returns up to n entries, newest first: from Redis when shared
// (every node's changes), else from this node's memory.
func (s *Store) AuditLog(ctx context.Context, n int) ([]AuditEntry, error) {
	if s.redis != nil {
		msgs, err := s.redis.XRevRangeN(ctx, keyAudit, "+", "-", int64(n)).Result()
		if err != nil {
			return nil, err
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
	out := make([]AuditEntry, 0, min(n, len(s.audit)))
	for i := len(s.audit) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, s.audit[i])
	}
	return out, nil
}
