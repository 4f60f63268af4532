// Package certs decides which certificate every TLS handshake gets, and
// keeps those certificates: from an ACME CA through certmagic in acme mode,
// from a local CA (tls/localca) in self-signed mode.
//
// Names. Every configured host that can have a public certificate is
// managed up front: at Start its certificate is loaded from storage or
// obtained in the background, and certmagic's maintenance renews it. Hosts
// that appear later (a reload) are obtained on demand, at their first
// handshake, when tls.on_demand allows it; the decision reads only the site
// registry in memory, so no helper service can break TLS and an unknown or
// hostile name causes no storage read and no ACME traffic at all. A name
// whose issuance failed is refused for a backoff that grows from 5m to 6h
// (the negative cache; it holds registry names only, so it cannot be grown
// by random names), and on-demand issuances share a global rate limit
// (tls.on_demand_limit per tls.on_demand_window).
//
// Issuance never runs on a handshake's time. A handshake that needs a
// certificate starts (or joins, through singleflight) a background
// issuance owned by the Manager and waits for it only as long as its own
// deadline; the issuance carries on if the handshake gives up, and the next
// handshake finds the certificate.
//
// certmagic is used without its package-level defaults: one Cache and one
// Config per Manager, built with certmagic.New and given their storage
// (tls/redisstore when the node has Redis, with a local directory as
// LocalCache so a Redis outage does not stop serving; else the local
// directory alone), logger and event hook. Its own logging goes to the
// node's slog logger one level down (its step-by-step info becomes debug);
// each certificate event (obtaining, obtained, renewed, failed) is logged
// once at info or warn by this package, never per request.
//
// HTTP-01 challenges are answered by HandleHTTPChallenge on the plain
// listener; TLS-ALPN-01 ones by GetCertificate on the TLS listener. Both
// read the challenge from storage, so a node answers challenges another
// node started.
package certs
