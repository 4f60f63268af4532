//go:build !linux

package testkit

import (
	"os"
	"os/exec"
	"syscall"
)

// dieWithTest does nothing where the kernel cannot tie a child's life to
// its parent's; the test's Cleanup stops the process.
func dieWithTest(cmd *exec.Cmd) {}

// killGroup signals the process alone where process groups are not used.
func killGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if sig == syscall.SIGKILL {
		cmd.Process.Kill()
		return
	}
	cmd.Process.Signal(os.Signal(sig))
}
