//go:build unix && !linux

package pgembed

import "syscall"

// sysProcAttr puts PostgreSQL programs in their own process group, so that
// Ctrl-C in a terminal reaches only the Go process, which then stops the
// server in order. Without Linux's parent-death signal, a server whose Go
// process died is stopped by the next Start on its Dir.
func sysProcAttr(viaRunuser bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// runsIn cannot tell without /proc; callers fall back to pg_ctl status.
func runsIn(pid int, dir string) (yes, known bool) { return false, false }

// zombie cannot tell without /proc; zombies count as alive.
func zombie(pid int) bool { return false }
