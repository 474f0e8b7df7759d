package scheduler

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func alive(id string, mcu int) Agent { return Agent{ID: id, MCU: mcu, Alive: true} }
func dead(id string, mcu int) Agent  { return Agent{ID: id, MCU: mcu} }
func draining(id string, mcu int) Agent {
	return Agent{ID: id, MCU: mcu, Alive: true, Draining: true}
}

func workload(arn string, workers, mcu, tasks int) Workload {
	return Workload{ARN: arn, Workers: workers, MCU: mcu, Tasks: tasks}
}

func running(arn string, ordinal int, agent string, epoch int64, mcu int, tasks ...int) Worker {
	return Worker{ID: WorkerID(arn, ordinal), WorkloadARN: arn, Ordinal: ordinal, AgentID: agent,
		Epoch: epoch, MCU: mcu, Tasks: tasks}
}

// layout renders a plan's workers as "arn/ordinal@agent#epoch", "-" for unplaced.
func layout(p Plan) []string {
	var out []string
	for _, w := range p.Workers {
		agent := w.AgentID
		if agent == "" {
			agent = "-"
		}
		out = append(out, fmt.Sprintf("%s/%d@%s#%d", w.WorkloadARN, w.Ordinal, agent, w.Epoch))
	}
	return out
}

// changes renders a plan's decisions as "kind worker from>to", without reasons.
func changes(p Plan) []string {
	var out []string
	for _, d := range p.Decisions {
		w := strings.TrimPrefix(d.WorkerID, d.WorkloadARN+"/worker-")
		out = append(out, fmt.Sprintf("%s %s/%s %s>%s", d.Kind, d.WorkloadARN, w, d.FromAgentID, d.AgentID))
	}
	return out
}

func tasksOf(p Plan) map[string][]int {
	out := map[string][]int{}
	for _, w := range p.Workers {
		out[fmt.Sprintf("%s/%d", w.WorkloadARN, w.Ordinal)] = w.Tasks
	}
	return out
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		s       Snapshot
		layout  []string
		changes []string
		missing map[string]int
		tasks   map[string][]int
		// reasons must each appear in some decision's reason.
		reasons []string
	}{
		{
			name:    "empty",
			missing: map[string]int{},
		},
		{
			name: "a new workload spreads over agents",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4), alive("a-2", 4), alive("a-3", 4)},
				Workloads: []Workload{workload("c", 3, 1, 3)},
			},
			layout:  []string{"c/0@a-1#1", "c/1@a-2#1", "c/2@a-3#1"},
			changes: []string{"place c/0 >a-1", "place c/1 >a-2", "place c/2 >a-3"},
			missing: map[string]int{},
			tasks:   map[string][]int{"c/0": {0}, "c/1": {1}, "c/2": {2}},
		},
		{
			name: "spread before pack",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 8), alive("a-2", 16)},
				Workloads: []Workload{workload("c", 2, 2, 4)},
			},
			layout:  []string{"c/0@a-1#1", "c/1@a-2#1"},
			missing: map[string]int{},
			tasks:   map[string][]int{"c/0": {0, 1}, "c/1": {2, 3}},
			reasons: []string{"agent a-2, the best fit (16 of its 16 MCU free) among agents running no other worker of this workload"},
		},
		{
			name: "best fit: the agent with the least free MCU that fits",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 8), alive("a-2", 4), alive("a-3", 2)},
				Workloads: []Workload{workload("big", 1, 4, 1), workload("small", 1, 2, 1)},
			},
			layout:  []string{"big/0@a-2#1", "small/0@a-3#1"},
			missing: map[string]int{},
		},
		{
			name: "ties go to the smallest agent ID, whatever the input order",
			s: Snapshot{
				Agents:    []Agent{alive("b", 4), alive("c", 4), alive("a", 4)},
				Workloads: []Workload{workload("w", 1, 4, 1)},
			},
			layout:  []string{"w/0@a#1"},
			missing: map[string]int{},
		},
		{
			name: "workers share an agent only when no other agent has room",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 8), alive("a-2", 1)},
				Workloads: []Workload{workload("c", 3, 2, 3)},
			},
			layout:  []string{"c/0@a-1#1", "c/1@a-1#1", "c/2@a-1#1"},
			missing: map[string]int{},
			reasons: []string{"among agents running 2 other worker(s) of this workload; no agent running fewer has 2 MCU free"},
		},
		{
			name: "a healthy placement is kept even where a fresh plan would differ",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 8), alive("a-2", 8)},
				Workloads: []Workload{workload("c", 2, 2, 2)},
				Workers:   []Worker{running("c", 0, "a-1", 3, 2, 0), running("c", 1, "a-1", 5, 2, 1)},
			},
			layout:  []string{"c/0@a-1#3", "c/1@a-1#5"},
			missing: map[string]int{},
		},
		{
			name: "a dead agent's workers move with epoch+1 and keep their tasks",
			s: Snapshot{
				Agents:    []Agent{dead("a-1", 8), alive("a-2", 8), alive("a-3", 8)},
				Workloads: []Workload{workload("c", 2, 2, 4)},
				Workers:   []Worker{running("c", 0, "a-1", 3, 2, 0, 1), running("c", 1, "a-2", 1, 2, 2, 3)},
			},
			layout:  []string{"c/0@a-3#4", "c/1@a-2#1"},
			changes: []string{"move c/0 a-1>a-3"},
			missing: map[string]int{},
			tasks:   map[string][]int{"c/0": {0, 1}, "c/1": {2, 3}},
			reasons: []string{"agent a-1's lease expired: moved to agent a-3"},
		},
		{
			name: "a draining agent's workers move",
			s: Snapshot{
				Agents:    []Agent{draining("a-1", 8), alive("a-2", 8)},
				Workloads: []Workload{workload("c", 1, 2, 1)},
				Workers:   []Worker{running("c", 0, "a-1", 1, 2, 0)},
			},
			layout:  []string{"c/0@a-2#2"},
			changes: []string{"move c/0 a-1>a-2"},
			missing: map[string]int{},
			reasons: []string{"agent a-1 is draining: moved to agent a-2"},
		},
		{
			name: "a worker on an agent the fleet no longer lists moves",
			s: Snapshot{
				Agents:    []Agent{alive("a-2", 8)},
				Workloads: []Workload{workload("c", 1, 2, 1)},
				Workers:   []Worker{running("c", 0, "a-9", 1, 2, 0)},
			},
			layout:  []string{"c/0@a-2#2"},
			changes: []string{"move c/0 a-9>a-2"},
			missing: map[string]int{},
			reasons: []string{"agent a-9 is gone"},
		},
		{
			name: "no room for a dead agent's worker: evicted, epoch+1, tasks go to its siblings",
			s: Snapshot{
				Agents:    []Agent{dead("a-1", 4), alive("a-2", 4)},
				Workloads: []Workload{workload("c", 2, 4, 4)},
				Workers:   []Worker{running("c", 0, "a-1", 2, 4, 0, 1), running("c", 1, "a-2", 2, 4, 2, 3)},
			},
			layout:  []string{"c/0@-#3", "c/1@a-2#3"},
			changes: []string{"evict c/0 a-1>", "retask c/1 a-2>a-2", "unplaceable c/ >"},
			missing: map[string]int{"c": 4},
			tasks:   map[string][]int{"c/0": nil, "c/1": {0, 1, 2, 3}},
			reasons: []string{
				"agent a-1's lease expired, and no alive, non-draining agent has 4 MCU free: the worker waits unplaced",
				"tasks [0-3] (was [2-3]): 4 tasks over 1 placed workers",
				"needs 4 MCU more: 1 of 2 workers of 4 MCU are unplaced and the largest free slot is 0 MCU on agent a-2",
			},
		},
		{
			name: "an evicted worker is placed with epoch+1 once capacity joins",
			s: Snapshot{
				Agents:    []Agent{alive("a-2", 4), alive("a-3", 4)},
				Workloads: []Workload{workload("c", 2, 4, 4)},
				Workers:   []Worker{running("c", 0, "", 3, 4), running("c", 1, "a-2", 3, 4, 0, 1, 2, 3)},
			},
			layout:  []string{"c/0@a-3#4", "c/1@a-2#4"},
			changes: []string{"place c/0 >a-3", "retask c/1 a-2>a-2"},
			missing: map[string]int{},
			tasks:   map[string][]int{"c/0": {2, 3}, "c/1": {0, 1}},
			reasons: []string{"was waiting for capacity: placed on agent a-3"},
		},
		{
			name: "scale-in stops the highest ordinals and re-spreads the tasks",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4), alive("a-2", 4), alive("a-3", 4)},
				Workloads: []Workload{workload("c", 1, 1, 3)},
				Workers: []Worker{running("c", 2, "a-3", 1, 1, 2), running("c", 0, "a-1", 1, 1, 0),
					running("c", 1, "a-2", 1, 1, 1)},
			},
			layout:  []string{"c/0@a-1#2"},
			changes: []string{"retask c/0 a-1>a-1", "stop c/1 a-2>", "stop c/2 a-3>"},
			missing: map[string]int{},
			tasks:   map[string][]int{"c/0": {0, 1, 2}},
			reasons: []string{"scale-in: the workload wants 1 workers (ordinals 0-0)"},
		},
		{
			name: "scale-out places the new ordinals away from the existing ones",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 8), alive("a-2", 4), alive("a-3", 4)},
				Workloads: []Workload{workload("c", 3, 2, 6)},
				Workers:   []Worker{running("c", 0, "a-2", 7, 2, 0, 1, 2, 3, 4, 5)},
			},
			layout:  []string{"c/0@a-2#8", "c/1@a-3#8", "c/2@a-1#8"},
			changes: []string{"retask c/0 a-2>a-2", "place c/1 >a-3", "place c/2 >a-1"},
			missing: map[string]int{},
			tasks:   map[string][]int{"c/0": {0, 1}, "c/1": {2, 3}, "c/2": {4, 5}},
			reasons: []string{"new worker (the workload wants 3): placed on agent a-3"},
		},
		{
			name: "a deleted workload's workers stop",
			s: Snapshot{
				Agents:  []Agent{alive("a-1", 4)},
				Workers: []Worker{running("gone", 0, "a-1", 1, 1, 0)},
			},
			changes: []string{"stop gone/0 a-1>"},
			missing: map[string]int{},
			reasons: []string{"the workload no longer exists"},
		},
		{
			name: "an over-committed agent keeps its largest workers that fit",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4), alive("a-2", 4)},
				Workloads: []Workload{workload("x", 1, 2, 1), workload("y", 1, 1, 1), workload("z", 1, 2, 1)},
				Workers: []Worker{running("x", 0, "a-1", 1, 2, 0), running("y", 0, "a-1", 1, 1, 0),
					running("z", 0, "a-1", 1, 2, 0)},
			},
			layout:  []string{"x/0@a-1#1", "y/0@a-2#2", "z/0@a-1#1"},
			changes: []string{"move y/0 a-1>a-2"},
			missing: map[string]int{},
			reasons: []string{"agent a-1 is over-committed: its workers need 5 MCU but it offers 4: moved to agent a-2"},
		},
		{
			name: "a workload that does not fit reports the missing MCU",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 2), alive("a-2", 3), dead("a-3", 16)},
				Workloads: []Workload{workload("c", 2, 4, 2)},
			},
			layout:  []string{"c/0@-#1", "c/1@-#1"},
			changes: []string{"unplaceable c/ >"},
			missing: map[string]int{"c": 8},
			tasks:   map[string][]int{"c/0": nil, "c/1": nil},
			reasons: []string{"needs 8 MCU more: 2 of 2 workers of 4 MCU are unplaced and the largest free slot is 3 MCU on agent a-2"},
		},
		{
			name: "no agent at all",
			s: Snapshot{
				Agents:    []Agent{draining("a-1", 8)},
				Workloads: []Workload{workload("c", 1, 1, 1)},
			},
			layout:  []string{"c/0@-#1"},
			changes: []string{"unplaceable c/ >"},
			missing: map[string]int{"c": 1},
			reasons: []string{"needs 1 MCU more: 1 of 1 workers of 1 MCU are unplaced and no agent is alive and accepting workers"},
		},
		{
			name: "spread first, then pack when agents fill up",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4), alive("a-2", 2)},
				Workloads: []Workload{workload("c", 3, 2, 3)},
			},
			layout:  []string{"c/0@a-2#1", "c/1@a-1#1", "c/2@a-1#1"},
			missing: map[string]int{},
		},
		{
			name: "partial placement",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4)},
				Workloads: []Workload{workload("c", 2, 4, 4)},
			},
			layout:  []string{"c/0@a-1#1", "c/1@-#1"},
			changes: []string{"place c/0 >a-1", "unplaceable c/ >"},
			missing: map[string]int{"c": 4},
			tasks:   map[string][]int{"c/0": {0, 1, 2, 3}, "c/1": nil},
		},
		{
			name: "a running workload's moving worker goes before a new workload",
			s: Snapshot{
				Agents:    []Agent{dead("a-1", 4), alive("a-2", 4)},
				Workloads: []Workload{workload("a-new", 1, 4, 1), workload("c", 1, 4, 1)},
				Workers:   []Worker{running("c", 0, "a-1", 1, 4, 0)},
			},
			layout:  []string{"a-new/0@-#1", "c/0@a-2#2"},
			changes: []string{"unplaceable a-new/ >", "move c/0 a-1>a-2"},
			missing: map[string]int{"a-new": 4},
		},
		{
			name: "a partially placed workload goes before a new one",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4), alive("a-2", 4)},
				Workloads: []Workload{workload("b-new", 1, 4, 1), workload("c", 2, 4, 2)},
				Workers:   []Worker{running("c", 0, "a-1", 1, 4, 0, 1), running("c", 1, "", 1, 4)},
			},
			layout:  []string{"b-new/0@-#1", "c/0@a-1#2", "c/1@a-2#2"},
			changes: []string{"unplaceable b-new/ >", "retask c/0 a-1>a-1", "place c/1 >a-2"},
			missing: map[string]int{"b-new": 4},
		},
		{
			name: "an MCU change restarts the worker with the new size",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4)},
				Workloads: []Workload{workload("c", 1, 4, 1)},
				Workers:   []Worker{running("c", 0, "a-1", 2, 2, 0)},
			},
			layout:  []string{"c/0@a-1#3"},
			changes: []string{"resize c/0 a-1>a-1"},
			missing: map[string]int{},
			reasons: []string{"MCU per worker changed from 2 to 4: restarted on agent a-1"},
		},
		{
			name: "duplicates of one ordinal: the highest epoch is kept",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4), alive("a-2", 4)},
				Workloads: []Workload{workload("c", 1, 1, 1)},
				Workers:   []Worker{running("c", 0, "a-1", 1, 1, 0), running("c", 0, "a-2", 2, 1, 0)},
			},
			layout:  []string{"c/0@a-2#2"},
			changes: []string{"stop c/0 a-1>"},
			missing: map[string]int{},
			reasons: []string{"duplicate of ordinal 0: worker c/worker-0 at epoch 2 is kept"},
		},
		{
			name: "a re-created ordinal starts above the epoch floor",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4)},
				Workloads: []Workload{{ARN: "c", Workers: 2, MCU: 1, Tasks: 2, EpochFloor: 9}},
				Workers:   []Worker{running("c", 0, "a-1", 4, 1, 0, 1)},
			},
			layout:  []string{"c/0@a-1#5", "c/1@a-1#10"},
			changes: []string{"retask c/0 a-1>a-1", "place c/1 >a-1"},
			missing: map[string]int{},
		},
		{
			name: "a changed task count re-spreads tasks with the fewest moves",
			s: Snapshot{
				Agents:    []Agent{alive("a-1", 4), alive("a-2", 4)},
				Workloads: []Workload{workload("c", 2, 1, 6)},
				Workers:   []Worker{running("c", 0, "a-1", 1, 1, 0, 1), running("c", 1, "a-2", 1, 1, 2, 3)},
			},
			layout:  []string{"c/0@a-1#2", "c/1@a-2#2"},
			changes: []string{"retask c/0 a-1>a-1", "retask c/1 a-2>a-2"},
			missing: map[string]int{},
			tasks:   map[string][]int{"c/0": {0, 1, 4}, "c/1": {2, 3, 5}},
			reasons: []string{"tasks [0-1 4] (was [0-1]): 6 tasks over 2 placed workers"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Reconcile(tt.s)
			if got := layout(p); !slices.Equal(got, tt.layout) {
				t.Errorf("layout:\n got %q\nwant %q", got, tt.layout)
			}
			if tt.changes != nil || len(tt.s.Workers) > 0 {
				if got := changes(p); !slices.Equal(got, tt.changes) {
					t.Errorf("decisions:\n got %q\nwant %q", got, tt.changes)
				}
			}
			if !reflect.DeepEqual(p.MissingMCU, tt.missing) {
				t.Errorf("MissingMCU = %v, want %v", p.MissingMCU, tt.missing)
			}
			if tt.tasks != nil {
				got := tasksOf(p)
				for w, want := range tt.tasks {
					if !slices.Equal(got[w], want) {
						t.Errorf("tasks of %s = %v, want %v", w, got[w], want)
					}
				}
			}
			for _, r := range tt.reasons {
				if !slices.ContainsFunc(p.Decisions, func(d Decision) bool { return strings.Contains(d.Reason, r) }) {
					t.Errorf("no decision reason contains %q; decisions:\n%s", r, reasons(p))
				}
			}
			if t.Failed() {
				t.Logf("decisions:\n%s", reasons(p))
			}
			// Every case is also stable: applying its plan and planning again changes nothing.
			again := Reconcile(Snapshot{Agents: tt.s.Agents, Workloads: tt.s.Workloads, Workers: p.Workers})
			if again.HasChanges() || !reflect.DeepEqual(again.Workers, p.Workers) {
				t.Errorf("re-plan changed something:\n%s", reasons(again))
			}
		})
	}
}

func reasons(p Plan) string {
	var b strings.Builder
	for _, d := range p.Decisions {
		fmt.Fprintf(&b, "  %s %s %s>%s #%d: %s\n", d.Kind, d.WorkerID, d.FromAgentID, d.AgentID, d.Epoch, d.Reason)
	}
	return b.String()
}

func TestReconcileDoesNotAliasTheSnapshot(t *testing.T) {
	t.Parallel()
	s := Snapshot{
		Agents:    []Agent{alive("a-1", 4)},
		Workloads: []Workload{workload("c", 1, 1, 2)},
		Workers:   []Worker{running("c", 0, "a-1", 1, 1, 1, 0)},
	}
	p := Reconcile(s)
	p.Workers[0].Tasks[0] = 99
	if got := s.Workers[0].Tasks; !slices.Equal(got, []int{1, 0}) {
		t.Fatalf("snapshot tasks changed to %v", got)
	}
}

func TestHasChanges(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		kinds []DecisionKind
		want  bool
	}{
		{nil, false},
		{[]DecisionKind{KindUnplaceable}, false},
		{[]DecisionKind{KindUnplaceable, KindRetask}, true},
		{[]DecisionKind{KindStop}, true},
	} {
		var p Plan
		for _, k := range tt.kinds {
			p.Decisions = append(p.Decisions, Decision{Kind: k})
		}
		if got := p.HasChanges(); got != tt.want {
			t.Errorf("HasChanges(%v) = %v, want %v", tt.kinds, got, tt.want)
		}
	}
}
