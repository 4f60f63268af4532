package node

import (
	"os"
	"testing"
)

// TestMain keeps every node a test starts without state.dir out of the
// machine's /var/lib/awning (the default): a state left there by one run
// (a shop in maintenance) would be read by the next, and by any other
// checkout's tests on the machine. runNode gives each test a directory of
// its own; this covers the rest.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "awning-node-test-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("STATE_DIRECTORY", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
