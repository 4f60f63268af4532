package proxy

import (
	"runtime"
	"sync"
	"weak"

	"github.com/awningproxy/awning/pages"
)

// bannerShare hands out one stale banner per distinct banner
// (pages.StaleBannerKey): a platform's thousands of shops mostly share
// their languages, zone and words, and so one banner. Shared, it is memory
// the processor keeps in cache when every request is for another shop;
// and its identity outlives a reload, so copies keep the stale forms built
// for it (cache.Copy.WriteStale builds them per banner) instead of
// compressing each page again after every reload.
//
// Banners are held weakly: one no site or copy uses any more is collected,
// and its name forgotten.
type bannerShare struct {
	mu sync.Mutex
	m  map[string]weak.Pointer[pages.Banner]
}

// get returns the banner named key, built by build when none is alive.
func (bs *bannerShare) get(key string, build func() *pages.Banner) *pages.Banner {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b := bs.m[key].Value(); b != nil {
		return b
	}
	b := build()
	if bs.m == nil {
		bs.m = map[string]weak.Pointer[pages.Banner]{}
	}
	bs.m[key] = weak.Make(b)
	runtime.AddCleanup(b, bs.forget, key)
	return b
}

// forget drops key once its banner is collected, unless another took its
// place.
func (bs *bannerShare) forget(key string) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if w, ok := bs.m[key]; ok && w.Value() == nil {
		delete(bs.m, key)
	}
}

// len returns how many banners are named: for tests.
func (bs *bannerShare) len() int {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return len(bs.m)
}
