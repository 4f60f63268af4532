// Package gunzip decompresses gzip bodies that came from someone Awning
// does not trust (an origin, a sitemap, a copy read back from Redis) within
// a bound on the decompressed size, and only when they decode to their end.
//
// A few hundred kilobytes of gzip can stand for gigabytes of zeros, so every
// place Awning gunzips goes through here with the limit that applies to it
// (limits.response_body for an origin's answer, cache.max_object for a copy).
// Decoding stops as soon as the output passes the limit: memory grows with
// the limit, never with what the body claims to hold. A body is accepted
// only when every member decodes to its end with a matching CRC-32 and
// length, and nothing but another member follows: a truncated body or
// trailing garbage is an error, never a silently shortened page.
//
// Readers are pooled, so Check allocates nothing and costs one inflate.
package gunzip
