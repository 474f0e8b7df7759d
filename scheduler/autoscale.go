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
	// Agents are told to measure workers at least every sixth of it (MaxSampleInterval, the
	// Welcome's max_metrics_interval), so that each third of the window holds samples.
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

// MaxSampleInterval is the longest interval at which agents may measure workers for every
// third of the window to hold at least two samples: a sixth of the window.
func (c AutoscaleConfig) MaxSampleInterval() time.Duration { return c.withDefaults().Window / 6 }

// observeEvery is how often a standing observation is recorded again (its means move with
// every sample; a new decision or reason is recorded at once).
func (c AutoscaleConfig) observeEvery() time.Duration {
	return min(max(c.Window/6, time.Second), 10*time.Second)
}

// autoscaleStep decides an autoscaled workload's worker count. It returns the count to run
// now, the new state to record (nil when unchanged) with its reason, and what it saw: the
// per-third means against the thresholds, its decision or why it made none, and why, a
// stable code of that reason.
func autoscaleStep(cfg AutoscaleConfig, now time.Time, in autoscaleInput) (int, *store.AutoscaleState, store.AutoscaleObservation, string) {
	p := in.policy
	lo, hi := max(p.MinWorkers, 1), max(p.MaxWorkers, p.MinWorkers, 1)
	seen := store.AutoscaleObservation{WorkloadARN: in.state.WorkloadARN, At: now, Window: cfg.Window,
		ScaleOutCPU: p.ScaleOutCPU, ScaleInCPU: p.ScaleInCPU, Workers: in.state.Workers}
	if in.hasUtil {
		for i := range 3 {
			seen.ThirdCPU[i], seen.ThirdSamples[i] = in.util.ThirdCPU[i]*100, in.util.ThirdSamples[i]
		}
	}
	step := func(n int, decision, reason string) (int, *store.AutoscaleState, store.AutoscaleObservation, string) {
		seen.Workers, seen.Decision, seen.Reason = n, decision, reason
		return n, &store.AutoscaleState{WorkloadARN: in.state.WorkloadARN, Workers: n, ChangedAt: now, Reason: reason}, seen, decision
	}
	none := func(decision, why, reason string) (int, *store.AutoscaleState, store.AutoscaleObservation, string) {
		seen.Decision, seen.Reason = decision, reason
		return in.state.Workers, nil, seen, why
	}
	if !in.known {
		return step(lo, store.DecisionStart, fmt.Sprintf("autoscaling starts at the minimum of %s", workerCount(lo)))
	}
	cur := in.state.Workers
	if cur < lo || cur > hi {
		n := min(max(cur, lo), hi)
		return step(n, store.DecisionLimits, fmt.Sprintf("worker count %d brought within the policy's limits %d–%d", n, lo, hi))
	}
	// A decision needs a full window of samples taken after the last step (so that they
	// describe the current worker set) and the cooldown since that step.
	since := now.Sub(in.state.ChangedAt)
	switch {
	case in.busy:
		return none(store.DecisionWait, "busy", "an operation is changing the workload")
	case !in.settled:
		return none(store.DecisionWait, "moving", "workers are still starting or moving to their assignment")
	case since < cfg.Cooldown:
		return none(store.DecisionWait, "cooldown", fmt.Sprintf("cooldown: %s since the last step, the next is possible in %s (--autoscale-cooldown %s)",
			since.Round(100*time.Millisecond), (cfg.Cooldown-since).Round(100*time.Millisecond), cfg.Cooldown))
	case since < cfg.Window:
		return none(store.DecisionWait, "window", fmt.Sprintf("a full window of samples since the last step is needed: %s to go (--autoscale-window %s)",
			(cfg.Window-since).Round(100*time.Millisecond), cfg.Window))
	case !in.hasUtil || in.util.Samples < 2:
		return none(store.DecisionWait, "samples", fmt.Sprintf("%d CPU samples in the last %s: agents report none (are the workers running?)",
			in.util.Samples, cfg.Window))
	}
	// Agents report every few seconds: allow that much of the window's start to be missing.
	if slack := min(cfg.Window/5, 10*time.Second); in.util.Oldest.After(now.Add(-cfg.Window + slack)) {
		return none(store.DecisionWait, "coverage", fmt.Sprintf("the samples cover only the last %s of the %s window",
			now.Sub(in.util.Oldest).Round(100*time.Millisecond), cfg.Window))
	}
	for i, n := range in.util.ThirdSamples {
		if n == 0 {
			return none(store.DecisionWait, "third", fmt.Sprintf("no CPU samples in the %s third of the window: agents measure workers less often than every %s",
				thirdNames[i], cfg.Window/3))
		}
	}
	// "Stays above (below) for a window": the mean of each third of the window is beyond the
	// threshold, not only the window's mean (a burst at its end must not scale on its own).
	cpu := in.util.CPU * 100
	above, below := true, true
	for i := range in.util.ThirdSamples {
		part := in.util.ThirdCPU[i] * 100
		above = above && part > p.ScaleOutCPU
		below = below && part < p.ScaleInCPU
	}
	thirds := fmt.Sprintf("%.1f%%, %.1f%%, %.1f%%", seen.ThirdCPU[0], seen.ThirdCPU[1], seen.ThirdCPU[2])
	switch {
	case above && cur < hi:
		return step(cur+1, store.DecisionScaleOut, fmt.Sprintf("scale out to %d workers: average CPU utilization %.1f%% over the last %s is above the scale-out threshold %g%%",
			cur+1, cpu, cfg.Window, p.ScaleOutCPU))
	case below && cur > lo:
		return step(cur-1, store.DecisionScaleIn, fmt.Sprintf("scale in to %d workers: average CPU utilization %.1f%% over the last %s is below the scale-in threshold %g%%",
			cur-1, cpu, cfg.Window, p.ScaleInCPU))
	case above:
		return none(store.DecisionHold, "max", fmt.Sprintf("CPU utilization by third (%s) is above the scale-out threshold %g%%, but %s is the maximum",
			thirds, p.ScaleOutCPU, workerCount(hi)))
	case below:
		return none(store.DecisionHold, "min", fmt.Sprintf("CPU utilization by third (%s) is below the scale-in threshold %g%%, but %s is the minimum",
			thirds, p.ScaleInCPU, workerCount(lo)))
	}
	return none(store.DecisionHold, "within", fmt.Sprintf("CPU utilization by third (%s) is neither above the scale-out threshold %g%% in every third nor below the scale-in threshold %g%% in every third",
		thirds, p.ScaleOutCPU, p.ScaleInCPU))
}

// workerCount is "1 worker" or "N workers".
func workerCount(n int) string {
	if n == 1 {
		return "1 worker"
	}
	return fmt.Sprintf("%d workers", n)
}

// thirdNames name the thirds of a window, oldest first.
var thirdNames = [3]string{"first", "middle", "last"}
