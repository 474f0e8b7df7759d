package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// sysProcAttr puts a worker in its own process group (a terminal's Ctrl-C reaches only the
// agent, which drains its workers in order) and makes the kernel SIGKILL it when the agent
// dies, so that kill -9 of an agent leaves no orphan worker: its workers are re-placed after
// the lease TTL and Kafka's transactional fencing stops any zombie. Pdeathsig fires when the
// *thread* that forked the child exits, which is why workers are forked by the spawner.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// userHZ is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on every Linux ABI
// Go supports).
const userHZ = 100

// usage is what the OS says a process uses.
type usage struct {
	cpuSeconds float64 // utime + stime since the process started
	rssBytes   int64   // resident set size
}

var errUsageUnsupported = errors.New("process usage is measured on Linux only")

// readUsage reads a process's CPU time from /proc/<pid>/stat and its resident memory from
// /proc/<pid>/status (VmRSS). Only the worker process itself is measured, not its children.
func readUsage(pid int) (usage, error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return usage{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces or ')': fields 3.. start
	// after the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return usage{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return usage{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	utime, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return usage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return usage{}, err
	}
	var rss int64
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			// "VmRSS:	   12345 kB"
			fs := bytes.Fields(rest)
			if len(fs) >= 1 {
				kb, err := strconv.ParseInt(string(fs[0]), 10, 64)
				if err != nil {
					return usage{}, fmt.Errorf("/proc/%d/status: VmRSS: %w", pid, err)
				}
				rss = kb << 10
			}
			break
		}
	}
	return usage{cpuSeconds: float64(utime+stime) / userHZ, rssBytes: rss}, nil
}
