package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// awningBinary is the binary built once for the tests that run it as a
// process (signals, draining, the deploy files' unit).
var awningBinary struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildAwning builds the awning binary once per test run and returns its
// path. TestMain removes it.
func buildAwning(t *testing.T) string {
	t.Helper()
	b := &awningBinary
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "awning-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "awning")
		b.out, b.err = exec.Command("go", "build", "-o", b.path, ".").CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("go build: %v\n%s", b.err, b.out)
	}
	return b.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if awningBinary.path != "" {
		os.RemoveAll(filepath.Dir(awningBinary.path))
	}
	os.Exit(code)
}
