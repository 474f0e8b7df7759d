package scheduler

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fjord-io/fjord/store"
)

func row(id, agent string, epoch int64, tasks []int, count int, reportedEpoch int64) store.Worker {
	return store.Worker{ID: id, AgentID: agent, Epoch: epoch, Tasks: tasks, TaskCount: count,
		Report: store.WorkerReport{AgentID: agent, State: "RUNNING", Epoch: reportedEpoch}}
}

func TestWithholdTasks(t *testing.T) {
	t.Run("a task moves only after its holder confirmed it dropped it", func(t *testing.T) {
		// w0 ran [0 1 2 3]; the plan gives it [0 1] and w1 (new) [2 3].
		cur := []holder{{row: row("w0", "a", 3, []int{0, 1, 2, 3}, 4, 3), alive: true}}
		planned := []*store.Worker{{ID: "w0", Tasks: []int{0, 1}}, {ID: "w1", Tasks: []int{2, 3}}}
		why := withholdTasks(planned, cur, 4)
		if !slices.Equal(planned[0].Tasks, []int{0, 1}) || len(planned[1].Tasks) != 0 || why["w1"] == "" {
			t.Fatalf("first step: %v %v %v", planned[0].Tasks, planned[1].Tasks, why)
		}
		// w0's row now says [0 1] at epoch 4 but its agent still reports epoch 3: still wait.
		cur = []holder{{row: row("w0", "a", 4, []int{0, 1}, 4, 3), alive: true}}
		planned = []*store.Worker{{ID: "w0", Tasks: []int{0, 1}}, {ID: "w1", Tasks: []int{2, 3}}}
		withholdTasks(planned, cur, 4)
		if len(planned[1].Tasks) != 0 {
			t.Fatalf("unconfirmed holder: w1 got %v", planned[1].Tasks)
		}
		// Confirmed: w1 gets them.
		cur = []holder{{row: row("w0", "a", 4, []int{0, 1}, 4, 4), alive: true}}
		planned = []*store.Worker{{ID: "w0", Tasks: []int{0, 1}}, {ID: "w1", Tasks: []int{2, 3}}}
		if why := withholdTasks(planned, cur, 4); len(why) != 0 || !slices.Equal(planned[1].Tasks, []int{2, 3}) {
			t.Fatalf("confirmed holder: w1 got %v (%v)", planned[1].Tasks, why)
		}
	})
	t.Run("a new task count releases every task first", func(t *testing.T) {
		cur := []holder{
			{row: row("w0", "a", 2, []int{0}, 2, 2), alive: true},
			{row: row("w1", "b", 2, []int{1}, 2, 2), alive: true},
		}
		planned := []*store.Worker{{ID: "w0", Tasks: []int{0, 1}}, {ID: "w1", Tasks: []int{2, 3}}}
		withholdTasks(planned, cur, 4)
		if len(planned[0].Tasks) != 0 || len(planned[1].Tasks) != 0 {
			t.Fatalf("count change: %v %v; want both released", planned[0].Tasks, planned[1].Tasks)
		}
	})
	t.Run("a dead holder holds nothing", func(t *testing.T) {
		cur := []holder{{row: row("w0", "a", 2, []int{0, 1}, 2, 1), alive: false}}
		planned := []*store.Worker{{ID: "w1", Tasks: []int{0, 1}}}
		withholdTasks(planned, cur, 2)
		if !slices.Equal(planned[0].Tasks, []int{0, 1}) {
			t.Fatalf("dead holder: %v", planned[0].Tasks)
		}
	})
	t.Run("a stopping holder keeps its tasks until it is gone", func(t *testing.T) {
		w := row("w1", "b", 2, []int{1}, 2, 2)
		w.Stopping = true
		cur := []holder{{row: row("w0", "a", 2, []int{0}, 2, 2), alive: true}, {row: w, alive: true}}
		planned := []*store.Worker{{ID: "w0", Tasks: []int{0, 1}}}
		withholdTasks(planned, cur, 2)
		if !slices.Equal(planned[0].Tasks, []int{0}) {
			t.Fatalf("stopping holder: w0 got %v", planned[0].Tasks)
		}
	})
}

// TestHandoffNeverOverlaps simulates rebalances of random workloads: agents confirm their
// assignments at random moments, and at no moment may two workers' processes run one task,
// while every task ends up assigned once the agents confirmed.
func TestHandoffNeverOverlaps(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		type proc struct { // what a worker's process runs now
			tasks []int
			count int
		}
		count := rapid.IntRange(1, 8).Draw(t, "count")
		n := rapid.IntRange(1, 4).Draw(t, "workers")
		rows := map[string]*store.Worker{}
		procs := map[string]*proc{}
		ids := []string{}
		for i := range n {
			id := string(rune('a' + i))
			ids = append(ids, id)
			rows[id] = &store.Worker{ID: id, AgentID: "agent-" + id, Epoch: 1, TaskCount: count}
			procs[id] = &proc{}
		}
		// Start from a settled assignment.
		for i, ts := range assignTasks(count, make([][]int, n)) {
			rows[ids[i]].Tasks = ts
			procs[ids[i]].tasks, procs[ids[i]].count = ts, count
			rows[ids[i]].Report = store.WorkerReport{AgentID: rows[ids[i]].AgentID, State: "RUNNING", Epoch: 1}
		}
		// plan is one reconcile: a sticky assignment of count tasks over the workers, the
		// handoff rule, and the rows it writes (a new epoch for a changed assignment).
		plan := func() {
			held := make([][]int, n)
			for i, id := range ids {
				if rows[id].TaskCount == count {
					held[i] = rows[id].Tasks
				}
			}
			var planned []*store.Worker
			var hs []holder
			for i, id := range ids {
				planned = append(planned, &store.Worker{ID: id, Tasks: assignTasks(count, held)[i]})
				hs = append(hs, holder{row: *rows[id], alive: true})
			}
			withholdTasks(planned, hs, count)
			for _, p := range planned {
				r := rows[p.ID]
				if !slices.Equal(r.Tasks, p.Tasks) || r.TaskCount != count {
					r.Tasks, r.TaskCount, r.Epoch = p.Tasks, count, r.Epoch+1
				}
			}
		}
		for step := range 30 {
			if rapid.Bool().Draw(t, "change") {
				count = rapid.IntRange(1, 8).Draw(t, "count")
			}
			plan()
			// Agents apply some of the new assignments (stop, then start).
			for _, id := range ids {
				r := rows[id]
				if r.Report.Epoch != r.Epoch && rapid.Bool().Draw(t, "apply") {
					procs[id].tasks, procs[id].count = r.Tasks, r.TaskCount
					r.Report.Epoch = r.Epoch
				}
			}
			// No task runs twice, and no two processes run tasks numbered under different
			// counts (their partitions may overlap).
			seen := map[int]string{}
			counts := map[int]string{}
			for _, id := range ids {
				pr := procs[id]
				if len(pr.tasks) > 0 {
					counts[pr.count] = id
				}
				for _, tk := range pr.tasks {
					if other, ok := seen[tk]; ok {
						t.Fatalf("step %d: task %d runs on %s and %s", step, tk, other, id)
					}
					seen[tk] = id
				}
			}
			if len(counts) > 1 {
				t.Fatalf("step %d: processes run tasks of different counts at once: %v", step, counts)
			}
		}
		// Let every agent confirm until nothing changes: all tasks assigned.
		for range 10 {
			plan()
			for _, id := range ids {
				rows[id].Report.Epoch = rows[id].Epoch
			}
		}
		total := 0
		for _, id := range ids {
			total += len(rows[id].Tasks)
		}
		if total != count {
			t.Fatalf("after settling %d of %d tasks are assigned", total, count)
		}
	})
}

func TestAutoscaleStep(t *testing.T) {
	cfg := AutoscaleConfig{Window: time.Minute, Cooldown: 2 * time.Minute}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	policy := AutoscalePolicy{MinWorkers: 1, MaxWorkers: 3, ScaleOutCPU: 20, ScaleInCPU: 5}
	full := func(cpu float64) store.Utilization {
		return store.Utilization{CPU: cpu, Samples: 12, Oldest: now.Add(-55 * time.Second), Newest: now,
			ThirdCPU: [3]float64{cpu, cpu, cpu}, ThirdSamples: [3]int{4, 4, 4}}
	}
	base := autoscaleInput{policy: policy, known: true, hasUtil: true, settled: true,
		state: store.AutoscaleState{WorkloadARN: "w", Workers: 2, ChangedAt: now.Add(-3 * time.Minute)}}
	for _, c := range []struct {
		name   string
		mutate func(*autoscaleInput)
		want   int
		change bool
		// decision and why are what the observation records.
		decision, why string
	}{
		{"first sight starts at the minimum", func(in *autoscaleInput) { in.known = false }, 1, true, store.DecisionStart, store.DecisionStart},
		{"above the scale-out threshold for a window", func(in *autoscaleInput) { in.util = full(0.25) }, 3, true, store.DecisionScaleOut, store.DecisionScaleOut},
		{"below the scale-in threshold", func(in *autoscaleInput) { in.util = full(0.02) }, 1, true, store.DecisionScaleIn, store.DecisionScaleIn},
		{"between the thresholds", func(in *autoscaleInput) { in.util = full(0.10) }, 2, false, store.DecisionHold, "within"},
		{"at the maximum", func(in *autoscaleInput) { in.util = full(0.9); in.state.Workers = 3 }, 3, false, store.DecisionHold, "max"},
		{"at the minimum", func(in *autoscaleInput) { in.util = full(0.0); in.state.Workers = 1 }, 1, false, store.DecisionHold, "min"},
		{"within the cooldown", func(in *autoscaleInput) {
			in.util = full(0.9)
			in.state.ChangedAt = now.Add(-90 * time.Second)
		}, 2, false, store.DecisionWait, "cooldown"},
		{"no samples", func(in *autoscaleInput) { in.hasUtil = false }, 2, false, store.DecisionWait, "samples"},
		{"samples do not cover the window", func(in *autoscaleInput) {
			in.util = full(0.9)
			in.util.Oldest = now.Add(-20 * time.Second)
		}, 2, false, store.DecisionWait, "coverage"},
		{"a burst at the end of an idle window", func(in *autoscaleInput) {
			in.util = full(0.3) // the window's mean is above 20 %, but not each third
			in.util.ThirdCPU = [3]float64{0.01, 0.01, 0.88}
		}, 2, false, store.DecisionHold, "within"},
		{"a third without samples", func(in *autoscaleInput) {
			in.util = full(0.9)
			in.util.ThirdSamples[1] = 0
		}, 2, false, store.DecisionWait, "third"},
		{"workers still moving", func(in *autoscaleInput) { in.util = full(0.9); in.settled = false }, 2, false, store.DecisionWait, "moving"},
		{"an operation runs", func(in *autoscaleInput) { in.util = full(0.9); in.busy = true }, 2, false, store.DecisionWait, "busy"},
		{"policy lowered below the count", func(in *autoscaleInput) { in.policy.MaxWorkers = 1 }, 1, true, store.DecisionLimits, store.DecisionLimits},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := base
			in.util = full(0.1)
			c.mutate(&in)
			n, ch, seen, why := autoscaleStep(cfg, now, in)
			if n != c.want || (ch != nil) != c.change {
				t.Fatalf("got %d workers, change %+v; want %d, change %v", n, ch, c.want, c.change)
			}
			if ch != nil && (ch.Workers != n || ch.Reason == "" || !ch.ChangedAt.Equal(now)) {
				t.Fatalf("change %+v", ch)
			}
			if seen.Decision != c.decision || why != c.why || seen.Reason == "" || seen.Workers != n || seen.WorkloadARN != "w" ||
				!seen.At.Equal(now) || seen.Window != cfg.Window || seen.ScaleOutCPU != in.policy.ScaleOutCPU || seen.ScaleInCPU != in.policy.ScaleInCPU {
				t.Fatalf("observation %+v (why %q); want decision %s, why %s", seen, why, c.decision, c.why)
			}
			if in.hasUtil && (seen.ThirdCPU[2] != in.util.ThirdCPU[2]*100 || seen.ThirdSamples != in.util.ThirdSamples) {
				t.Fatalf("observation's thirds %v %v; util %v %v", seen.ThirdCPU, seen.ThirdSamples, in.util.ThirdCPU, in.util.ThirdSamples)
			}
		})
	}
}
