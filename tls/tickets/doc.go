// Package tickets shares TLS session ticket keys between Awning nodes
// through Redis and rotates them, so that a shopper whose connection lands
// on another node resumes the session (an abbreviated handshake, no
// certificate sent, no signature computed) instead of paying a full one.
//
// Redis holds the keys in one sorted set scored by creation time. Each
// node's Keeper reads it every Refresh; when the newest key is older than
// Rotate, the first node to notice adds a fresh random key and trims the set
// to Keep keys, in one Lua script, so concurrent nodes never rotate twice.
// Every attached tls.Config then encrypts new tickets with the newest key
// and still accepts tickets sealed with the older ones, which bounds a
// ticket's life to about Rotate × Keep.
//
// Without Redis Awning does not use this package: crypto/tls rotates its own
// per-process keys, and sessions resume on the node that issued them.
//
// Whoever can read the Redis can decrypt session tickets sealed with keys it
// holds; Redis must be as private as the nodes themselves (the certificate
// keys live there too).
package tickets
