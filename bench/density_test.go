//go:build linux

package main

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"
)

// TestProcessMeasures: the density suite's readings of /proc: a child shows up among this
// process's children, CPU time grows with work, and memory readings are consistent (Pss and
// anonymous memory within Rss; a heap that this process touches raises its anonymous memory).
func TestProcessMeasures(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	kids, err := childPIDs(os.Getpid())
	if err != nil || !slices.Contains(kids, cmd.Process.Pid) {
		t.Fatalf("childPIDs = %v (%v), want %d among them", kids, err, cmd.Process.Pid)
	}

	self := []int{os.Getpid()}
	t0, err := cpuTicks(self)
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
	}
	t1, err := cpuTicks(self)
	if err != nil || t1[0]-t0[0] < 10 {
		t.Fatalf("300 ms of spinning took %d ticks (%v), want ≥ 10", t1[0]-t0[0], err)
	}

	m0, err := readMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		if i%4096 == 0 {
			buf[i] = 1
		}
	}
	m1, err := readMem(os.Getpid())
	runtime.KeepAlive(buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []memUsage{m0, m1} {
		if m.pss <= 0 || m.pss > m.rss || m.anon <= 0 || m.anon > m.rss {
			t.Errorf("readMem = %+v: want 0 < Pss, anonymous ≤ Rss", m)
		}
	}
	if m1.anon-m0.anon < 60<<20 {
		t.Errorf("touching 64 MiB raised anonymous memory by %d bytes", m1.anon-m0.anon)
	}
	if _, err := cpuTicks([]int{cmd.Process.Pid}); err != nil {
		t.Errorf("cpuTicks of a child: %v", err)
	}
}
