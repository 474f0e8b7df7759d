package pgembed

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// sysProcAttr puts PostgreSQL programs in their own process group, so that
// Ctrl-C in a terminal reaches only the Go process, which then stops the
// server in order, and asks the kernel to signal them if the Go process dies
// first. The signal is SIGINT (fast shutdown) for postgres itself; runuser
// turns whatever it gets into SIGTERM for its child (a smart shutdown, which
// is prompt because the dead process's connections are gone) and kills the
// child if it has not exited two seconds later.
func sysProcAttr(viaRunuser bool) *syscall.SysProcAttr {
	sig := syscall.SIGINT
	if viaRunuser {
		sig = syscall.SIGTERM
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: sig}
}

// runsIn reports whether process pid has dir as its working directory.
// Every postgres process changes into its data directory, so this tells a
// server of that cluster from an unrelated process that reuses a stale PID.
func runsIn(pid int, dir string) (yes, known bool) {
	if _, err := os.Stat("/proc/self/cwd"); err != nil {
		return false, false
	}
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	if err != nil {
		return false, true // gone, or not ours to read: not our server
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	return cwd == dir, true
}

// zombie reports whether pid has exited but not been reaped. Orphans are
// reparented to PID 1, which in a container may never reap them.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain ") ".
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
