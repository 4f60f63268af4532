package proxy

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// trustList is the set of peers whose forwarding headers are believed
// (config trusted_proxies).
type trustList []netip.Prefix

func (t trustList) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr returns the address of the connection's other end, with IPv4
// mapped into IPv6 unmapped so that it matches IPv4 prefixes.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	a, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return a.Unmap()
}

// clientAddr returns the shopper's address: the peer itself, or, when the
// peer is a trusted proxy, the rightmost X-Forwarded-For entry that is not
// itself a trusted proxy. Entries left of that one were written by the
// shopper and prove nothing. An entry that does not parse stops the walk at
// the last trusted hop, which is the best address anyone vouched for.
func clientAddr(peer netip.Addr, xff []byte, trusted trustList) netip.Addr {
	if !trusted.contains(peer) {
		return peer
	}
	client := peer
	for len(xff) > 0 {
		i := bytes.LastIndexByte(xff, ',')
		entry := bytes.TrimSpace(xff[i+1:])
		if i < 0 {
			xff = nil
		} else {
			xff = xff[:i]
		}
		a, err := netip.ParseAddr(string(entry))
		if err != nil {
			return client
		}
		client = a.Unmap()
		if !trusted.contains(client) {
			return client
		}
	}
	return client
}
