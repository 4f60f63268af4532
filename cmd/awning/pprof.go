//go:build pprof

package main

// Profiling for the load benchmarks (bench/run.sh, docs/benchmarks.md): a
// binary built with -tags pprof serves net/http/pprof on $AWNING_PPROF
// (e.g. 127.0.0.1:6060) when that is set. Release builds carry none of it.

import (
	"log"
	"net/http"
	_ "net/http/pprof" // registers on http.DefaultServeMux, served only here
	"os"
)

func init() {
	addr := os.Getenv("AWNING_PPROF")
	if addr == "" {
		return
	}
	go func() { // lives as long as the process: a benchmark aid, never in a release
		log.Println("pprof:", http.ListenAndServe(addr, nil))
	}()
}
