package proxy

import (
	"time"

	"github.com/awningproxy/awning/config"
)

// originKey is what makes two sites' origin URLs one origin endpoint: the
// same URL reached the same way (TLS name, connection cap, timeouts) with
// the same limits. Sites whose origins have the same key share one
// origin and its connections (originConns): a platform serving thousands of
// shops from one address is one connection pool, capped by max_conns as a
// whole, not one pool per shop.
type originKey struct {
	url, serverName           string
	maxConns                  int
	connect, firstByte, total time.Duration
	responseBody, respHeader  int
}

func keyOf(raw string, oc *config.Origin, opt poolOptions) originKey {
	return originKey{
		url: raw, serverName: oc.TLSServerName + "\x00" + oc.HostHeader, maxConns: oc.MaxConns,
		connect: oc.ConnectTimeout.D(), firstByte: oc.FirstByteTimeout.D(), total: oc.Timeout.D(),
		responseBody: opt.responseBody, respHeader: opt.responseHeader,
	}
}

// sharedOrigin is an origin with the number of snapshot pools using it.
type sharedOrigin struct {
	key  originKey
	refs int
}

// originTable holds the origins of every site of the snapshots in use, by
// key. Server.mu guards it: only build (under Update) and Close touch it.
type originTable struct {
	byKey map[originKey]*origin
	refs  map[*origin]*sharedOrigin
}

func newOriginTable() *originTable {
	return &originTable{byKey: map[originKey]*origin{}, refs: map[*origin]*sharedOrigin{}}
}

// pool returns a pool over the origins of oc, sharing each with the sites
// that already use it, and counts a reference to each. On error, nothing
// is counted.
func (t *originTable) pool(oc *config.Origin, opt poolOptions) (*pool, error) {
	p := &pool{origins: make([]*origin, 0, len(oc.URLs)), limit: opt.responseBody}
	for _, raw := range oc.URLs {
		k := keyOf(raw, oc, opt)
		o := t.byKey[k]
		if o == nil {
			var err error
			if o, err = newOrigin(raw, oc, opt); err != nil {
				t.release(p)
				return nil, err
			}
			t.byKey[k] = o
			t.refs[o] = &sharedOrigin{key: k}
		}
		t.refs[o].refs++
		p.origins = append(p.origins, o)
	}
	return p, nil
}

// release drops the pool's references; an origin no pool uses any more
// closes its idle connections (those in use close as their exchange ends).
func (t *originTable) release(p *pool) {
	for _, o := range p.origins {
		so := t.refs[o]
		if so == nil {
			continue
		}
		if so.refs--; so.refs <= 0 {
			delete(t.refs, o)
			delete(t.byKey, so.key)
			o.conns.close()
		}
	}
}

// Len is the number of distinct origins in use.
func (t *originTable) Len() int { return len(t.byKey) }
