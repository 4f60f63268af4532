//go:build !linux

package testkit

import "os/exec"

// dieWithTest does nothing where the kernel cannot tie a child's life to
// its parent's; the test's Cleanup stops the process.
func dieWithTest(cmd *exec.Cmd) {}
