//go:build unix && !linux

package agent

import (
	"errors"
	"syscall"
)

// sysProcAttr puts a worker in its own process group, so that a terminal's Ctrl-C reaches only
// the agent, which drains its workers in order. Outside Linux there is no Pdeathsig: a worker
// outlives a kill -9 of its agent until its tasks are fenced by a newer epoch.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

type usage struct {
	cpuSeconds float64
	rssBytes   int64
}

var errUsageUnsupported = errors.New("process usage is measured on Linux only")

// readUsage is not implemented outside Linux: metrics carry no CPU or memory figures.
func readUsage(int) (usage, error) { return usage{}, errUsageUnsupported }
