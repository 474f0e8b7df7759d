package scheduler

import (
	"fmt"
	"time"

	"github.com/fjord-io/fjord/store"
)

// AutoscalePolicy is an autoscaled workload's capacity policy (MSK Connect's AutoScaling).
type AutoscalePolicy struct {
	// MinWorkers and MaxWorkers bound the worker count.
	MinWorkers, MaxWorkers int
	// ScaleOutCPU and ScaleInCPU are the CPU utilization thresholds, in percent: above
	// ScaleOutCPU for a window adds a worker, below ScaleInCPU removes one.
	ScaleOutCPU, ScaleInCPU float64
	// TasksFor is the task count for a worker count; nil keeps Shape.Tasks.
	TasksFor func(workers int) int
}

// AutoscaleConfig tunes the autoscaler.
type AutoscaleConfig struct {
	// Window is how long the average CPU utilization must stay beyond a threshold; default 1m.
	Window time.Duration
	// Cooldown is the least time between two steps of one workload, and from its creation to
	// its first step; default 2m.
	Cooldown time.Duration
}

func (c AutoscaleConfig) withDefaults() AutoscaleConfig {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 2 * time.Minute
	}
	return c
}

// autoscaleInput is what the autoscaler knows of one workload.
type autoscaleInput struct {
	policy  AutoscalePolicy
	state   store.AutoscaleState
	known   bool              // state exists
	util    store.Utilization // samples of the last window
	hasUtil bool
	settled bool // every worker runs its current assignment; nothing is moving
	busy    bool // an operation is changing the workload
}

// autoscaleStep decides an autoscaled workload's worker count. It returns the count to run
// now, and the new state to record (nil when unchanged) with its reason.
func autoscaleStep(cfg AutoscaleConfig, now time.Time, in autoscaleInput) (int, *store.AutoscaleState) {
	p := in.policy
	lo, hi := max(p.MinWorkers, 1), max(p.MaxWorkers, p.MinWorkers, 1)
	if !in.known {
		return lo, &store.AutoscaleState{WorkloadARN: in.state.WorkloadARN, Workers: lo, ChangedAt: now,
			Reason: fmt.Sprintf("autoscaling starts at the minimum of %d workers", lo)}
	}
	cur := in.state.Workers
	if cur < lo || cur > hi {
		n := min(max(cur, lo), hi)
		return n, &store.AutoscaleState{WorkloadARN: in.state.WorkloadARN, Workers: n, ChangedAt: now,
			Reason: fmt.Sprintf("worker count %d brought within the policy's limits %d–%d", n, lo, hi)}
	}
	// A decision needs a full window of samples taken after the last step (so that they
	// describe the current worker set) and the cooldown since that step.
	since := now.Sub(in.state.ChangedAt)
	if in.busy || !in.settled || !in.hasUtil || since < cfg.Cooldown || since < cfg.Window || in.util.Samples < 2 {
		return cur, nil
	}
	// Agents report every few seconds: allow that much of the window's start to be missing.
	if slack := min(cfg.Window/5, 10*time.Second); in.util.Oldest.After(now.Add(-cfg.Window + slack)) {
		return cur, nil
	}
	// "Stays above (below) for a window": the mean of each third of the window is beyond the
	// threshold, not only the window's mean (a burst at its end must not scale on its own).
	cpu := in.util.CPU * 100
	above, below := true, true
	for i, n := range in.util.ThirdSamples {
		part := in.util.ThirdCPU[i] * 100
		above = above && n > 0 && part > p.ScaleOutCPU
		below = below && n > 0 && part < p.ScaleInCPU
	}
	switch {
	case above && cur < hi:
		return cur + 1, &store.AutoscaleState{WorkloadARN: in.state.WorkloadARN, Workers: cur + 1, ChangedAt: now,
			Reason: fmt.Sprintf("scale out to %d workers: average CPU utilization %.1f%% over the last %s is above the scale-out threshold %g%%",
				cur+1, cpu, cfg.Window, p.ScaleOutCPU)}
	case below && cur > lo:
		return cur - 1, &store.AutoscaleState{WorkloadARN: in.state.WorkloadARN, Workers: cur - 1, ChangedAt: now,
			Reason: fmt.Sprintf("scale in to %d workers: average CPU utilization %.1f%% over the last %s is below the scale-in threshold %g%%",
				cur-1, cpu, cfg.Window, p.ScaleInCPU)}
	}
	return cur, nil
}
