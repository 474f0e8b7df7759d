package scheduler

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

var mcuSizes = []int{1, 2, 4, 8}

// genSnapshot draws a fleet of 0–50 agents (1–16 MCU, some dead, some draining), 0–30
// workloads (1–10 workers of 1, 2, 4 or 8 MCU) and a history: no workers yet, the workers of a
// plan made on an older fleet and older workloads (agents since died, drained, shrank or
// vanished; workloads since scaled, resized or deleted), arbitrary broken workers (duplicates,
// out-of-range ordinals, unknown agents, stray tasks), or both.
func genSnapshot(t *rapid.T) Snapshot {
	var s Snapshot
	for i := range rapid.IntRange(0, 50).Draw(t, "agents") {
		s.Agents = append(s.Agents, Agent{
			ID:       fmt.Sprintf("a-%02d", i),
			MCU:      rapid.IntRange(1, 16).Draw(t, "agent_mcu"),
			Alive:    rapid.IntRange(0, 9).Draw(t, "alive") < 8,
			Draining: rapid.IntRange(0, 9).Draw(t, "draining") == 0,
		})
	}
	for i := range rapid.IntRange(0, 30).Draw(t, "workloads") {
		workers := rapid.IntRange(1, 10).Draw(t, "workers")
		mcu := rapid.SampledFrom(mcuSizes).Draw(t, "mcu")
		s.Workloads = append(s.Workloads, Workload{
			ARN:        fmt.Sprintf("arn:aws:kafkaconnect:eu-west-1:000000000000:connector/c%02d/u-1", i),
			Workers:    workers,
			MCU:        mcu,
			Tasks:      rapid.IntRange(0, 2*workers*mcu).Draw(t, "tasks"),
			EpochFloor: int64(rapid.IntRange(0, 3).Draw(t, "epoch_floor")),
		})
	}

	history := rapid.SampledFrom([]string{"none", "earlier plan", "broken", "both"}).Draw(t, "history")
	if history == "earlier plan" || history == "both" {
		var old Snapshot
		for _, a := range s.Agents {
			mcu := a.MCU
			if rapid.IntRange(0, 4).Draw(t, "agent_changed") == 0 {
				mcu = rapid.IntRange(1, 16).Draw(t, "old_agent_mcu")
			}
			old.Agents = append(old.Agents, Agent{ID: a.ID, MCU: mcu, Alive: true})
		}
		for i := range rapid.IntRange(0, 3).Draw(t, "vanished_agents") {
			old.Agents = append(old.Agents, alive(fmt.Sprintf("gone-%d", i), rapid.IntRange(1, 16).Draw(t, "gone_mcu")))
		}
		for _, w := range s.Workloads {
			if rapid.IntRange(0, 2).Draw(t, "workload_changed") == 0 {
				w.Workers = rapid.IntRange(0, 10).Draw(t, "old_workers")
				w.MCU = rapid.SampledFrom(mcuSizes).Draw(t, "old_mcu")
				w.Tasks = rapid.IntRange(0, 20).Draw(t, "old_tasks")
			}
			old.Workloads = append(old.Workloads, w)
		}
		for i := range rapid.IntRange(0, 3).Draw(t, "deleted_workloads") {
			old.Workloads = append(old.Workloads, workload(fmt.Sprintf("deleted-%d", i),
				rapid.IntRange(1, 4).Draw(t, "deleted_workers"), rapid.SampledFrom(mcuSizes).Draw(t, "deleted_mcu"), 2))
		}
		s.Workers = Reconcile(old).Workers
	}
	if history == "broken" || history == "both" {
		arns := []string{"deleted-9"}
		for _, w := range s.Workloads {
			arns = append(arns, w.ARN)
		}
		agentIDs := []string{"", "ghost"}
		for _, a := range s.Agents {
			agentIDs = append(agentIDs, a.ID)
		}
		for range rapid.IntRange(0, 20).Draw(t, "broken_workers") {
			arn := rapid.SampledFrom(arns).Draw(t, "broken_arn")
			ordinal := rapid.IntRange(-1, 11).Draw(t, "broken_ordinal")
			s.Workers = append(s.Workers, Worker{
				ID:          WorkerID(arn, ordinal),
				WorkloadARN: arn,
				Ordinal:     ordinal,
				AgentID:     rapid.SampledFrom(agentIDs).Draw(t, "broken_agent"),
				Epoch:       int64(rapid.IntRange(0, 5).Draw(t, "broken_epoch")),
				MCU:         rapid.SampledFrom(mcuSizes).Draw(t, "broken_mcu"),
				Tasks:       rapid.SliceOfN(rapid.IntRange(-1, 40), 0, 5).Draw(t, "broken_tasks"),
			})
		}
	}
	return s
}

type workerKey struct {
	arn     string
	ordinal int
}

// checkPlan asserts the invariants every plan holds, whatever the snapshot.
func checkPlan(t *rapid.T, s Snapshot, p Plan) {
	agents := map[string]Agent{}
	for _, a := range s.Agents {
		agents[a.ID] = a
	}
	workloads := map[string]Workload{}
	for _, w := range s.Workloads {
		workloads[w.ARN] = w
	}
	eligible := func(id string) bool { a, ok := agents[id]; return ok && a.Alive && !a.Draining }

	used := map[string]int{}
	byWorkload := map[string][]Worker{}
	ids := map[string]bool{}
	for _, w := range p.Workers {
		wl, ok := workloads[w.WorkloadARN]
		if !ok {
			t.Fatalf("worker %s belongs to no workload", w.ID)
		}
		if ids[w.ID] {
			t.Fatalf("worker id %s appears twice", w.ID)
		}
		ids[w.ID] = true
		if w.MCU != wl.MCU {
			t.Fatalf("worker %s has %d MCU, its workload wants %d", w.ID, w.MCU, wl.MCU)
		}
		byWorkload[w.WorkloadARN] = append(byWorkload[w.WorkloadARN], w)
		if w.AgentID == "" {
			if len(w.Tasks) > 0 {
				t.Fatalf("unplaced worker %s has tasks %v", w.ID, w.Tasks)
			}
			continue
		}
		if !eligible(w.AgentID) {
			t.Fatalf("worker %s is on agent %s, which is not alive and accepting workers", w.ID, w.AgentID)
		}
		used[w.AgentID] += w.MCU
	}
	free := func(id string) int { return agents[id].MCU - used[id] }

	// Never over-commit.
	for id, u := range used {
		if u > agents[id].MCU {
			t.Fatalf("agent %s is over-committed: %d MCU of workers on %d MCU", id, u, agents[id].MCU)
		}
	}

	placedNow := map[string]bool{}
	for _, d := range p.Decisions {
		switch d.Kind {
		case KindPlace, KindMove, KindResize:
			placedNow[d.WorkerID] = true
		}
	}
	for arn, wl := range workloads {
		ws := byWorkload[arn]

		// No worker lost: ordinals 0 … Workers-1, each placed or counted missing.
		if len(ws) != wl.Workers {
			t.Fatalf("workload %s has %d workers, wants %d", arn, len(ws), wl.Workers)
		}
		missing, placed := 0, 0
		for i, w := range ws {
			if w.Ordinal != i {
				t.Fatalf("workload %s: worker %d has ordinal %d", arn, i, w.Ordinal)
			}
			if w.AgentID == "" {
				missing += w.MCU
			} else {
				placed++
			}
		}
		got, reported := p.MissingMCU[arn]
		if got != missing || reported != (missing > 0) {
			t.Fatalf("workload %s: MissingMCU = %d (present %v), unplaced workers need %d", arn, got, reported, missing)
		}
		unplaceable := slices.ContainsFunc(p.Decisions, func(d Decision) bool {
			return d.Kind == KindUnplaceable && d.WorkloadARN == arn
		})
		if unplaceable != (missing > 0) {
			t.Fatalf("workload %s: unplaceable decision %v, missing %d MCU", arn, unplaceable, missing)
		}
		// Nothing is left unplaced while some agent has room for it.
		if missing > 0 {
			for id := range agents {
				if eligible(id) && free(id) >= wl.MCU {
					t.Fatalf("workload %s misses %d MCU while agent %s has %d free", arn, missing, id, free(id))
				}
			}
		}

		// Tasks: each of 0 … Tasks-1 on exactly one placed worker, shares differing by ≤ 1.
		seen := make([]bool, wl.Tasks)
		lo, hi := wl.Tasks, 0
		for _, w := range ws {
			if w.AgentID == "" {
				continue
			}
			lo, hi = min(lo, len(w.Tasks)), max(hi, len(w.Tasks))
			if !slices.IsSorted(w.Tasks) {
				t.Fatalf("worker %s tasks %v are not sorted", w.ID, w.Tasks)
			}
			for _, task := range w.Tasks {
				if task < 0 || task >= wl.Tasks || seen[task] {
					t.Fatalf("workload %s: task %d invalid or assigned twice", arn, task)
				}
				seen[task] = true
			}
		}
		if placed > 0 {
			if slices.Contains(seen, false) {
				t.Fatalf("workload %s: some of its %d tasks are unassigned", arn, wl.Tasks)
			}
			if hi-lo > 1 {
				t.Fatalf("workload %s: task shares range from %d to %d", arn, lo, hi)
			}
		}

		// Spread: a worker placed by this plan shares an agent with a sibling only if no
		// agent without a sibling had room for it (free MCU only shrinks while placing).
		perAgent := map[string][]Worker{}
		for _, w := range ws {
			if w.AgentID != "" {
				perAgent[w.AgentID] = append(perAgent[w.AgentID], w)
			}
		}
		for agent, list := range perAgent {
			if len(list) < 2 || !slices.ContainsFunc(list, func(w Worker) bool { return placedNow[w.ID] }) {
				continue
			}
			for id := range agents {
				if eligible(id) && len(perAgent[id]) == 0 && free(id) >= wl.MCU {
					t.Fatalf("workload %s doubled up on agent %s while agent %s, running none of it, has %d MCU free",
						arn, agent, id, free(id))
				}
			}
		}
	}

	// Epochs: +1 exactly when a running assignment changes; new workers above every epoch
	// the workload had.
	in := map[workerKey][]Worker{}
	maxEpoch := map[string]int64{}
	for _, w := range s.Workers {
		k := workerKey{w.WorkloadARN, w.Ordinal}
		in[k] = append(in[k], w)
		maxEpoch[w.WorkloadARN] = max(maxEpoch[w.WorkloadARN], w.Epoch)
	}
	for _, w := range p.Workers {
		prev := in[workerKey{w.WorkloadARN, w.Ordinal}]
		switch len(prev) {
		case 0:
			if want := max(workloads[w.WorkloadARN].EpochFloor, maxEpoch[w.WorkloadARN]) + 1; w.Epoch != want {
				t.Fatalf("new worker %s has epoch %d, want %d", w.ID, w.Epoch, want)
			}
		case 1:
			was := prev[0]
			same := was.AgentID == w.AgentID && was.MCU == w.MCU && slices.Equal(normalizeTasks(was.Tasks), w.Tasks)
			want := was.Epoch
			if w.AgentID != "" && !same || w.AgentID == "" && was.AgentID != "" {
				want++
			}
			if w.Epoch != want {
				t.Fatalf("worker %s: epoch %d → %d, want %d (was on %q tasks %v, now on %q tasks %v)",
					w.ID, was.Epoch, w.Epoch, want, was.AgentID, was.Tasks, w.AgentID, w.Tasks)
			}
		default:
			for _, was := range prev {
				if w.Epoch < was.Epoch {
					t.Fatalf("worker %s: epoch went down from %d to %d", w.ID, was.Epoch, w.Epoch)
				}
			}
		}
	}

	// Keep: if no agent was over-committed, every sound worker on a usable agent stays.
	inUse := map[string]int{}
	for _, w := range s.Workers {
		inUse[w.AgentID] += w.MCU
	}
	overCommitted := false
	for id, u := range inUse {
		if id != "" && u > agents[id].MCU {
			overCommitted = true
		}
	}
	if !overCommitted {
		out := map[workerKey]Worker{}
		for _, w := range p.Workers {
			out[workerKey{w.WorkloadARN, w.Ordinal}] = w
		}
		for k, prev := range in {
			wl, ok := workloads[k.arn]
			if len(prev) != 1 || !ok || k.ordinal < 0 || k.ordinal >= wl.Workers ||
				prev[0].MCU != wl.MCU || !eligible(prev[0].AgentID) {
				continue
			}
			if got := out[k].AgentID; got != prev[0].AgentID {
				t.Fatalf("worker %s moved from healthy agent %s to %q", prev[0].ID, prev[0].AgentID, got)
			}
		}
	}
}

func TestPropertyPlanInvariants(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		s := genSnapshot(t)
		checkPlan(t, s, Reconcile(s))
	})
}

func TestPropertyDeterministicUnderPermutation(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		s := genSnapshot(t)
		want := Reconcile(s)
		shuffled := Snapshot{
			Agents:    rapid.Permutation(s.Agents).Draw(t, "agents_order"),
			Workloads: rapid.Permutation(s.Workloads).Draw(t, "workloads_order"),
			Workers:   rapid.Permutation(s.Workers).Draw(t, "workers_order"),
		}
		for i, w := range shuffled.Workers {
			shuffled.Workers[i].Tasks = rapid.Permutation(w.Tasks).Draw(t, "tasks_order")
		}
		if got := Reconcile(shuffled); !reflect.DeepEqual(got, want) {
			t.Fatalf("the plan depends on input order:\n got %v\n%s\nwant %v\n%s",
				layout(got), reasons(got), layout(want), reasons(want))
		}
	})
}

func TestPropertyStable(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		s := genSnapshot(t)
		p := Reconcile(s)
		again := Reconcile(Snapshot{Agents: s.Agents, Workloads: s.Workloads, Workers: p.Workers})
		if again.HasChanges() {
			t.Fatalf("re-planning the plan's result changes it:\n%s", reasons(again))
		}
		if !reflect.DeepEqual(again.Workers, p.Workers) || !reflect.DeepEqual(again.MissingMCU, p.MissingMCU) {
			t.Fatalf("re-planning the plan's result changes it:\n got %v\nwant %v", layout(again), layout(p))
		}
	})
}

// TestPropertySpreadWhenRoom: a new workload with at least as many agents with room as it has
// workers gets every worker on its own agent.
func TestPropertySpreadWhenRoom(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		s := genSnapshot(t)
		w := workload("new", rapid.IntRange(1, 10).Draw(t, "new_workers"), rapid.SampledFrom(mcuSizes).Draw(t, "new_mcu"), 1)
		before := Reconcile(s)
		s = Snapshot{Agents: s.Agents, Workloads: append(slices.Clone(s.Workloads), w), Workers: before.Workers}
		used := map[string]int{}
		for _, x := range before.Workers {
			used[x.AgentID] += x.MCU
		}
		room := 0
		for _, a := range s.Agents {
			if a.Alive && !a.Draining && a.MCU-used[a.ID] >= w.MCU {
				room++
			}
		}
		p := Reconcile(s)
		agentsOf := map[string]bool{}
		for _, x := range p.Workers {
			if x.WorkloadARN == w.ARN && x.AgentID != "" {
				agentsOf[x.AgentID] = true
			}
		}
		if want := min(room, w.Workers); len(agentsOf) < want {
			t.Fatalf("%d agents had room for %d workers of %d MCU, but they use only %d agents",
				room, w.Workers, w.MCU, len(agentsOf))
		}
		checkPlan(t, s, p)
	})
}
