package proxy

import (
	"runtime"
	"testing"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/sites"
)

// BenchmarkBuild1000Sites builds the proxy of 1,000 sites on one origin
// (two hosts each, a probe, two page languages) and reports what each site
// costs to build and keeps in memory: the per-site part of start and
// reload time and of a node's memory (bench/cmd/scale measures the whole
// node).
func BenchmarkBuild1000Sites(b *testing.B) {
	const n = 1000
	cfg, err := config.Parse("bench.yaml", []byte(manySites(n, "http://127.0.0.1:9", "{path: /healthz}")))
	if err != nil {
		b.Fatal(err)
	}
	reg, err := sites.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var kept uint64
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		before := heapLive()
		b.StartTimer()
		s, err := New(Options{Config: cfg, Sites: reg, Logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		kept = heapLive() - before
		runtime.KeepAlive(s)
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/site")
	b.ReportMetric(float64(kept)/n, "kept-B/site")
}

func heapLive() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
