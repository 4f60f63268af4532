//go:build amd64 || arm64

package prefetch

import "unsafe"

// Line starts fetching the cache line holding p into the processor's
// caches and returns at once.
//
//go:noescape
func Line(p unsafe.Pointer)
