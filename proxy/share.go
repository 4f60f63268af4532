package proxy

import (
	"slices"
	"strconv"
	"strings"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/fallback/cache"
	"github.com/awningproxy/awning/fallback/health"
)

// siteShare shares what sites would otherwise each hold a copy of, within
// one snapshot: the cache policies, path lists, health transports.
// Thousands of sites on a platform have the same settings; each then costs a
// pointer. Everything it hands out is read-only. It lives for one build.
type siteShare struct {
	policies   map[string]*cache.Policy
	keys       map[string]*cache.KeyPolicy
	paths      map[string][][]byte
	bytes      map[string][]byte
	transports map[string][]health.Transport
	markers    map[string]*cache.Markers
}

func newSiteShare() *siteShare {
	return &siteShare{
		policies: map[string]*cache.Policy{}, keys: map[string]*cache.KeyPolicy{},
		paths: map[string][][]byte{}, bytes: map[string][]byte{}, transports: map[string][]health.Transport{},
		markers: map[string]*cache.Markers{},
	}
}

// policy is the cache policy of a site with site cache settings sc and
// API paths apiPaths under the node's cache settings.
func (in *siteShare) policy(c *config.Cache, sc *config.SiteCache, apiPaths []string) *cache.Policy {
	codes := slices.Clone(sc.Statuses)
	slices.Sort(codes)
	k := strconv.FormatInt(int64(sc.ShortLifetime), 10) + "\x00" + strconv.FormatBool(sc.IgnoreNoStore) + "\x00" +
		strings.Join(apiPaths, "\x01") + "\x00" + joinInts(codes)
	p, ok := in.policies[k]
	if !ok {
		statuses := map[int]bool{200: true}
		for _, code := range sc.Statuses {
			statuses[code] = true
		}
		p = &cache.Policy{
			Statuses:      statuses,
			ShortLifetime: sc.ShortLifetime.D(),
			Retention:     c.Retention.D(),
			Refresh:       c.Refresh.D(),
			IgnoreNoStore: sc.IgnoreNoStore,
			MaxObject:     int(c.MaxObject),
			APIPaths:      in.byteList(apiPaths),
		}
		in.policies[k] = p
	}
	return p
}

// keyPolicy is the cache key rules of sites with these languages: the
// compiled patterns are shared by every such site, and each site's own
// policy (siteState.keys, hostRef.keys) names it.
func (in *siteShare) keyPolicy(c *config.Cache, languages []string) *cache.KeyPolicy {
	k := strings.Join(languages, ",")
	base, ok := in.keys[k]
	if !ok {
		base = cache.NewKeyPolicy(cache.KeyConfig{IgnoreQuery: c.IgnoreQuery,
			AnonymousCookies: c.AnonymousCookies.Names, Languages: languages})
		in.keys[k] = base
	}
	return base
}

// failureMarkers is cache.NewMarkers for a site's origin.failure_markers:
// sites with the same markers give the same verdict on a body, so they
// share one Markers (and its verdicts in the clean-bodies memo).
func (in *siteShare) failureMarkers(list []string) *cache.Markers {
	k := strings.Join(list, "\x00")
	m, ok := in.markers[k]
	if !ok {
		m = cache.NewMarkers(list)
		in.markers[k] = m
	}
	return m
}

// byteList returns list as byte slices; nil for none.
func (in *siteShare) byteList(list []string) [][]byte {
	if len(list) == 0 {
		return nil
	}
	k := strings.Join(list, "\x00")
	out, ok := in.paths[k]
	if !ok {
		for _, s := range list {
			out = append(out, []byte(s))
		}
		in.paths[k] = out
	}
	return out
}

// byteString returns s as bytes; nil for "".
func (in *siteShare) byteString(s string) []byte {
	if s == "" {
		return nil
	}
	b, ok := in.bytes[s]
	if !ok {
		b = []byte(s)
		in.bytes[s] = b
	}
	return b
}

// transportsOf returns p's origins as health transports.
func (in *siteShare) transportsOf(p *pool) []health.Transport {
	var k strings.Builder
	for _, o := range p.origins {
		k.WriteString(o.url)
		k.WriteByte(0)
	}
	t, ok := in.transports[k.String()]
	if !ok || len(t) != len(p.origins) || !sameOrigins(t, p.origins) {
		t = make([]health.Transport, len(p.origins))
		for i, o := range p.origins {
			t[i] = o
		}
		in.transports[k.String()] = t
	}
	return t
}

func sameOrigins(t []health.Transport, os []*origin) bool {
	for i, o := range os {
		if t[i] != health.Transport(o) {
			return false
		}
	}
	return true
}

func joinInts(xs []int) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString(strconv.Itoa(x))
		b.WriteByte(',')
	}
	return b.String()
}
