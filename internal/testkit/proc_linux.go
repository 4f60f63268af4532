package testkit

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill cmd when the test process dies: a test
// binary killed by a timeout or a signal runs no Cleanup, and must not leave
// servers running. cmd gets a process group of its own, so that killGroup
// reaches what it forks too.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// killGroup sends sig to a process started with dieWithTest and to every
// process it forked: redis-server's child saving for a replica holds the
// listening socket, and a server restarted on its port would find it
// taken while the child lives on.
func killGroup(cmd *exec.Cmd, sig syscall.Signal) {
	syscall.Kill(-cmd.Process.Pid, sig)
}
