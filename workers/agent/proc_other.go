//go:build !unix

package agent

import (
	"errors"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

type usage struct {
	cpuSeconds float64
	rssBytes   int64
}

var errUsageUnsupported = errors.New("process usage is measured on Linux only")

// readUsage is not implemented outside Linux: metrics carry no CPU or memory figures.
func readUsage(int) (usage, error) { return usage{}, errUsageUnsupported }
