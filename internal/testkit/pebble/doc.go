// Package pebble runs Let's Encrypt's test ACME server, Pebble, inside a
// test: its CA, database, validation authority and web front end from the
// pebble/v2 module, with challtestsrv as its DNS server, all on loopback.
// Tests then obtain real certificates through Awning's own listeners and
// make assertions on Pebble's own state (orders placed, challenges
// validated), never on timing.
//
// It is a package of its own, apart from testkit, so that only the tests
// that use it link Pebble.
//
// One CA at a time per test binary: challtestsrv registers its DNS handler
// in miekg/dns's global mux.
package pebble
