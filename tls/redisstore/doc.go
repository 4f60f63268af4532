// Package redisstore is a certmagic.Storage kept in Redis, so that every
// Awning node sharing a Redis shares one set of certificates, ACME accounts
// and challenge tokens, and obtains each certificate once.
//
// Data layout. certmagic sees a file tree ("certificates/ca/name/name.crt");
// Redis has no directories, so each file is one hash holding its bytes and
// its modification time, and one sorted set indexes every file key. With all
// members at score 0 the index is ordered by key, so a directory is the range
// [dir/, dir0) ('0' sorts right after '/'): List, Exists and recursive Delete
// are one ZRANGEBYLEX each instead of a SCAN over the keyspace, which Redis
// Cluster could not even answer from one node. Every key carries the same
// hash tag ({awning-certs} by default), so they all live in one Cluster slot
// and the Lua scripts that touch several of them are valid there.
//
// Locks. Lock sets a random token with SET NX PX (the TTL), and a watchdog
// goroutine per held lock extends the TTL while the holder lives: certmagic
// may hold a lock through a long ACME exchange, and a node that dies stops
// extending it, so the others take over one TTL later instead of never.
// Unlock deletes the key only if it still holds this holder's token (compare
// and delete in Lua), so a holder whose lock expired during a stall cannot
// release the lock someone else took since.
//
// Every Redis call runs under the caller's context and a deadline of its
// own (Options.Timeout), so a stalled Redis costs a bounded wait, never a
// hung certificate operation. Missing keys are reported as fs.ErrNotExist,
// as certmagic requires.
package redisstore
