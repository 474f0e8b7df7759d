package mysqltest

import "syscall"

// sysProcAttr puts the server in its own process group (Ctrl-C reaches only the test) and
// has the kernel stop it if the test process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
