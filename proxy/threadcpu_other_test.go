//go:build !linux

package proxy

// threadCPU is 0 where the thread's CPU time is not at hand.
func threadCPU() int64 { return 0 }
