package scheduler

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/store"
)

// connectors stands for the connectors table: decide only passes tables through.
var connectors = &store.Resources{}

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func fleetAgent(id string, mcu int, state string) store.Agent {
	return store.Agent{ID: id, MCUCapacity: mcu, State: state}
}

func conn(arn, state string, sh Shape) workloadView {
	return workloadView{kind: "connector", table: connectors, r: &store.Resource{ARN: arn, State: state}, shape: sh}
}

// described is w with its resource's state code and message set.
func described(w workloadView, code, msg string) workloadView {
	r := *w.r
	r.StateCode, r.StateMessage = code, msg
	w.r = &r
	return w
}

// wrow is a worker row of arn's worker ordinal at agent and epoch with tasks of count, never
// reported.
func wrow(arn string, ordinal int, agent string, epoch int64, mcu, count int, tasks ...int) store.Worker {
	return store.Worker{ID: WorkerID(arn, ordinal), WorkloadARN: arn, WorkloadKind: "connector", Ordinal: ordinal,
		AgentID: agent, Epoch: epoch, MCU: mcu, Tasks: tasks, TaskCount: count}
}

// reported is w with its agent's report of state at epoch.
func reported(w store.Worker, state string, epoch int64, err string) store.Worker {
	w.Report = store.WorkerReport{AgentID: w.AgentID, State: state, Epoch: epoch, Error: err}
	return w
}

// up is w reported RUNNING at its current assignment.
func up(w store.Worker) store.Worker { return reported(w, "RUNNING", w.Epoch, "") }

func stoppingRow(w store.Worker) store.Worker {
	w.Stopping = true
	return w
}

func short(workerID string) string { return strings.Replace(workerID, "/worker-", "/", 1) }

// planLines renders a plan's changes, events aside, in plan order: "put c/0@a-1#2 [0 1]/2"
// ("-" for unplaced), "stop c/0", "state c FROM>TO CODE", "remove c", "autoscale c N",
// "observe c DECISION N", "op c STATE[ doc][ restart][ state=S]".
func planLines(p store.Plan) []string {
	var out []string
	for _, w := range p.Workers {
		agent := w.AgentID
		if agent == "" {
			agent = "-"
		}
		out = append(out, fmt.Sprintf("put %s@%s#%d %v/%d", short(w.ID), agent, w.Epoch, w.Tasks, w.TaskCount))
	}
	for _, id := range p.Stop {
		out = append(out, "stop "+short(id))
	}
	for _, s := range p.States {
		out = append(out, strings.TrimSpace(fmt.Sprintf("state %s %s>%s %s", s.ARN, s.From, s.State, s.StateCode)))
	}
	for _, r := range p.Remove {
		out = append(out, "remove "+r.ARN)
	}
	for _, a := range p.Autoscale {
		out = append(out, fmt.Sprintf("autoscale %s %d", a.WorkloadARN, a.Workers))
	}
	for _, o := range p.Observations {
		out = append(out, fmt.Sprintf("observe %s %s %d", o.WorkloadARN, o.Decision, o.Workers))
	}
	for _, o := range p.Ops {
		line := "op " + o.ARN + " " + o.Op.State
		if o.Doc != nil {
			line += " doc"
		}
		if o.Restart {
			line += " restart"
		}
		if o.State != "" {
			line += " state=" + o.State
		}
		if o.Table != nil {
			line += " table"
		}
		out = append(out, line)
	}
	return out
}

// eventLines renders a plan's events as "kind worker" or "kind workload".
func eventLines(p store.Plan) []string {
	var out []string
	for _, e := range p.Events {
		subject := e.WorkloadARN
		if e.WorkerID != "" {
			subject = short(e.WorkerID)
		}
		out = append(out, e.Kind+" "+subject)
	}
	return out
}

// texts are the plan's sentences: event reasons, state messages, autoscale reasons.
func texts(p store.Plan) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.Reason)
	}
	for _, s := range p.States {
		out = append(out, s.StateMessage)
	}
	for _, a := range p.Autoscale {
		out = append(out, a.Reason)
	}
	for _, o := range p.Observations {
		out = append(out, o.Reason)
	}
	return out
}

// rememberLines renders a verdict's memo changes: "desc c", "forget c", "withheld c/1",
// "observed c WHY", "unobserved c".
func rememberLines(m memo) []string {
	var out []string
	for k, v := range m.desc {
		if v == "" {
			out = append(out, "forget "+k)
		} else {
			out = append(out, "desc "+k)
		}
	}
	for k := range m.withheld {
		out = append(out, "withheld "+short(k))
	}
	for k, o := range m.observed {
		if o.at.IsZero() {
			out = append(out, "unobserved "+k)
		} else {
			out = append(out, "observed "+k+" "+o.why)
		}
	}
	slices.Sort(out)
	return out
}

// noting is an operation function that reports what it observed in its note, and changes the
// operation to state (with ch's other fields).
func noting(state string, ch store.OpChange) OperationFunc {
	return func(op *store.Operation, r *store.Resource, obs OpObservation, now time.Time) (*store.OpChange, error) {
		out := ch
		out.Op = &store.Operation{ARN: op.ARN, ConnectorARN: op.ConnectorARN, State: state}
		out.Note = fmt.Sprintf("%s: settled=%v fail=%s %s waiting=%q at %s", r.State, obs.Settled, obs.FailCode, obs.FailMessage,
			obs.Waiting, now.Format(time.TimeOnly))
		return &out, nil
	}
}

var activeOp = map[string]*store.Operation{"c": {ARN: "op-1", ConnectorARN: "c", State: "UPDATE_IN_PROGRESS"}}

func TestDecide(t *testing.T) {
	t.Parallel()
	one := Shape{Workers: 1, MCU: 1, Tasks: 1}
	two := []store.Agent{fleetAgent("a-1", 4, store.AgentAlive), fleetAgent("a-2", 4, store.AgentAlive)}
	// busy is a window of samples above 80% in each third, for a scale-out.
	busy := map[string]store.Utilization{"c": {CPU: 0.9, Samples: 12, Oldest: t0.Add(-time.Minute), Newest: t0,
		ThirdCPU: [3]float64{0.9, 0.9, 0.9}, ThirdSamples: [3]int{4, 4, 4}}}
	policy := &AutoscalePolicy{MinWorkers: 1, MaxWorkers: 3, ScaleOutCPU: 80, ScaleInCPU: 20,
		TasksFor: func(n int) int { return 2 * n }}
	tests := []struct {
		name    string
		v       view
		seen    memo
		advance OperationFunc
		plan    []string
		events  []string
		// reasons must each appear in some sentence of the plan (texts).
		reasons  []string
		again    bool
		remember []string
		opErrors int
	}{
		{
			name:    "a new connector is placed and waits for its worker",
			v:       view{agents: two, workloads: []workloadView{conn("c", "CREATING", one)}},
			plan:    []string{"put c/0@a-1#1 [0]/1", "state c CREATING>CREATING WAITING_FOR_WORKERS"},
			events:  []string{"place c/0"},
			reasons: []string{"waiting: 0 of 1 workers exist", "new worker (the workload wants 1): placed on agent a-1"},
		},
		{
			name: "CREATING becomes RUNNING once every worker runs its current epoch",
			v: view{agents: two, workloads: []workloadView{conn("c", "CREATING", one)},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 2, 1, 1, 0))}},
			plan:    []string{"state c CREATING>RUNNING"},
			events:  []string{"running c"},
			reasons: []string{"every worker reports its tasks running"},
		},
		{
			name: "a stopped connector (no worker desired) stops its workers and waits for them",
			v: view{agents: two, workloads: []workloadView{conn("c", "CREATING", Shape{})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 2, 1, 1, 0))}},
			plan:    []string{"stop c/0", "state c CREATING>CREATING WAITING_FOR_WORKERS"},
			events:  []string{"stop c/0"},
			reasons: []string{"scale-in: the workload wants 0 workers"},
		},
		{
			name:    "a stopped CREATING connector without workers left becomes RUNNING: nothing to wait for",
			v:       view{agents: two, workloads: []workloadView{conn("c", "CREATING", Shape{})}},
			plan:    []string{"state c CREATING>RUNNING"},
			events:  []string{"running c"},
			reasons: []string{"no worker is desired (stopped) and none runs"},
		},
		{
			name: "RUNNING at an older epoch is not running: CREATING says it waits",
			v: view{agents: two, workloads: []workloadView{conn("c", "CREATING", one)},
				workers: []store.Worker{reported(wrow("c", 0, "a-1", 2, 1, 1, 0), "RUNNING", 1, "")}},
			plan:    []string{"state c CREATING>CREATING WAITING_FOR_WORKERS"},
			reasons: []string{"waiting: workers are starting"},
		},
		{
			name: "a wait already described changes nothing",
			v: view{agents: two, workloads: []workloadView{described(conn("c", "CREATING", one), "WAITING_FOR_WORKERS", "waiting: workers are starting")},
				workers: []store.Worker{wrow("c", 0, "a-1", 2, 1, 1, 0)}},
		},
		{
			name: "a re-created worker gets an epoch above its stopping predecessor's",
			v: view{agents: two, workloads: []workloadView{conn("c", "CREATING", one)},
				workers: []store.Worker{stoppingRow(up(wrow("c", 0, "a-2", 5, 1, 1, 0)))}},
			plan:    []string{"put c/0@a-1#6 [0]/1", "state c CREATING>CREATING WAITING_FOR_WORKERS"},
			events:  []string{"place c/0"},
			reasons: []string{"waiting: workers are stopping"},
		},
		{
			name: "CREATING without room: INSUFFICIENT_CAPACITY, and the reason is remembered",
			v: view{agents: []store.Agent{fleetAgent("a-1", 1, store.AgentAlive)},
				workloads: []workloadView{conn("c", "CREATING", Shape{Workers: 1, MCU: 2, Tasks: 1})}},
			plan:     []string{"put c/0@-#1 []/1", "state c CREATING>CREATING INSUFFICIENT_CAPACITY"},
			events:   []string{"unplaceable c"},
			reasons:  []string{"waiting for capacity: 2 MCU missing in the fleet. needs 2 MCU more", "the largest free slot is 1 MCU on agent a-1"},
			remember: []string{"desc c"},
		},
		{
			name: "capacity back: a running workload's INSUFFICIENT_CAPACITY clears",
			v: view{agents: two, workloads: []workloadView{described(conn("c", "RUNNING", one), "INSUFFICIENT_CAPACITY", "waiting for capacity: …")},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 1, 0))}},
			seen:     memo{desc: map[string]string{"c": "waiting for capacity: …"}},
			plan:     []string{"state c RUNNING>RUNNING"},
			remember: []string{"forget c"},
		},
		{
			name: "an unknown connector class fails the connector and stops its workers",
			v: view{agents: two, workloads: []workloadView{conn("c", "CREATING",
				Shape{FailCode: "UNKNOWN_CONNECTOR_CLASS", FailMessage: "connector.class com.example.Nope is not installed"})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 1, 0))}},
			plan:    []string{"stop c/0", "state c CREATING>FAILED UNKNOWN_CONNECTOR_CLASS"},
			events:  []string{"failed c", "stop c/0"},
			reasons: []string{"UNKNOWN_CONNECTOR_CLASS: connector.class com.example.Nope is not installed"},
		},
		{
			name: "a worker's permanent error at its current epoch fails the workload",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", one)},
				workers: []store.Worker{reported(wrow("c", 0, "a-1", 3, 1, 1, 0), "FAILED", 3, "INVALID_CONFIGURATION: topics is required")}},
			plan:    []string{"stop c/0", "state c RUNNING>FAILED INVALID_CONFIGURATION"},
			events:  []string{"failed c", "stop c/0"},
			reasons: []string{"INVALID_CONFIGURATION: topics is required"},
		},
		{
			name: "a permanent error of an older epoch does not count",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", one)},
				workers: []store.Worker{reported(wrow("c", 0, "a-1", 3, 1, 1, 0), "FAILED", 2, "CLUSTER_UNREACHABLE: no broker")}},
		},
		{
			name: "a transient worker error is retried, not a failure",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", one)},
				workers: []store.Worker{reported(wrow("c", 0, "a-1", 3, 1, 1, 0), "FAILED", 3, "TASK_FAILED: fetch timed out")}},
		},
		{
			name: "DELETING: the workers stop first (the autoscale state goes with the removal)",
			v: view{agents: two, workloads: []workloadView{conn("c", "DELETING", Shape{})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 1, 0))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 1, ChangedAt: t0.Add(-time.Hour)}}},
			plan:    []string{"stop c/0"},
			events:  []string{"stop c/0"},
			reasons: []string{"the workload no longer exists"},
		},
		{
			name: "DELETING: a worker not yet STOPPED holds the removal",
			v: view{agents: two, workloads: []workloadView{conn("c", "DELETING", Shape{})},
				workers: []store.Worker{stoppingRow(up(wrow("c", 0, "a-1", 1, 1, 1, 0)))}},
		},
		{
			name: "DELETING: removed once every worker stopped",
			v:    view{agents: two, workloads: []workloadView{conn("c", "DELETING", Shape{})}},
			plan: []string{"remove c"},
		},
		{
			name: "FAILED: the workers stop and the autoscale state goes",
			v: view{agents: two, workloads: []workloadView{conn("c", "FAILED", Shape{})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 1, ChangedAt: t0.Add(-time.Hour)}}},
			plan:   []string{"stop c/0", "autoscale c -1"},
			events: []string{"stop c/0"},
		},
		{
			name: "a shape that cannot be derived: the workers stop, the state stays",
			v: view{agents: two, workloads: []workloadView{{kind: "connector", table: connectors, r: &store.Resource{ARN: "c", State: "RUNNING"}, noShape: true}},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 1, 0))}},
			plan:   []string{"stop c/0"},
			events: []string{"stop c/0"},
		},
		{
			name: "a worker on a DEAD agent moves with epoch + 1",
			v: view{agents: []store.Agent{fleetAgent("a-1", 4, store.AgentDead), fleetAgent("a-2", 4, store.AgentAlive)},
				workloads: []workloadView{conn("c", "RUNNING", one)},
				workers:   []store.Worker{up(wrow("c", 0, "a-1", 3, 1, 1, 0))}},
			plan:    []string{"put c/0@a-2#4 [0]/1"},
			events:  []string{"move c/0"},
			reasons: []string{"agent a-1's lease expired: moved to agent a-2"},
		},
		{
			name: "a worker on a DRAINING agent moves with epoch + 1 and keeps its tasks",
			v: view{agents: []store.Agent{fleetAgent("a-1", 4, store.AgentDraining), fleetAgent("a-2", 4, store.AgentAlive)},
				workloads: []workloadView{conn("c", "RUNNING", one)},
				workers:   []store.Worker{up(wrow("c", 0, "a-1", 3, 1, 1, 0))}},
			plan:    []string{"put c/0@a-2#4 [0]/1"},
			events:  []string{"move c/0"},
			reasons: []string{"agent a-1 is draining: moved to agent a-2"},
		},
		{
			name: "a task moving to a new worker waits until its holder stopped it",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", Shape{Workers: 2, MCU: 1, Tasks: 2})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))}},
			plan:     []string{"put c/0@a-1#2 [0]/2", "put c/1@a-2#2 []/2"},
			events:   []string{"handoff c/1", "retask c/0", "place c/1"},
			reasons:  []string{"tasks [1] wait until their previous workers stopped them"},
			remember: []string{"withheld c/1"},
		},
		{
			name: "a handoff already recorded is not recorded again",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", Shape{Workers: 2, MCU: 1, Tasks: 2})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))}},
			seen:   memo{withheld: map[string]string{"c/worker-1": "tasks [1] wait until their previous workers stopped them"}},
			plan:   []string{"put c/0@a-1#2 [0]/2", "put c/1@a-2#2 []/2"},
			events: []string{"retask c/0", "place c/1"},
		},
		{
			name: "an autoscaled workload starts at its minimum",
			v: view{agents: two, workloads: []workloadView{conn("c", "CREATING",
				Shape{MCU: 1, Autoscale: &AutoscalePolicy{MinWorkers: 2, MaxWorkers: 4, ScaleOutCPU: 80, ScaleInCPU: 20, TasksFor: policy.TasksFor}})}},
			plan: []string{"put c/0@a-1#1 [0 1]/4", "put c/1@a-2#1 [2 3]/4", "state c CREATING>CREATING WAITING_FOR_WORKERS",
				"autoscale c 2", "observe c start 2"},
			events:   []string{"autoscale c", "place c/0", "place c/1"},
			reasons:  []string{"autoscaling starts at the minimum of 2 workers", "waiting: 0 of 2 workers exist"},
			remember: []string{"observed c start"},
		},
		{
			name: "a window above the scale-out threshold adds a worker, and tasks follow",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", Shape{MCU: 1, Autoscale: policy})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 1, ChangedAt: t0.Add(-time.Hour)}},
				util:    busy},
			plan:     []string{"put c/0@a-1#2 [0 1]/4", "put c/1@a-2#2 []/4", "autoscale c 2", "observe c scale-out 2"},
			events:   []string{"autoscale c", "handoff c/1", "place c/1"},
			reasons:  []string{"scale out to 2 workers: average CPU utilization 90.0% over the last 1m0s is above the scale-out threshold 80%"},
			remember: []string{"observed c scale-out", "withheld c/1"},
		},
		{
			name: "no autoscale step within the cooldown",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", Shape{MCU: 1, Autoscale: policy})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 1, ChangedAt: t0.Add(-time.Minute)}},
				util:    busy},
			plan:     []string{"observe c wait 1"},
			reasons:  []string{"cooldown: 1m0s since the last step, the next is possible in 1m0s (--autoscale-cooldown 2m0s)"},
			remember: []string{"observed c cooldown"},
		},
		{
			name: "a standing observation is not recorded again within a few seconds",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", Shape{MCU: 1, Autoscale: policy})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 1, ChangedAt: t0.Add(-time.Minute)}},
				util:    busy},
			seen: memo{observed: map[string]observed{"c": {at: t0.Add(-9 * time.Second), why: "cooldown"}}},
		},
		{
			name: "a standing observation is recorded again after a while",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", Shape{MCU: 1, Autoscale: policy})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 1, ChangedAt: t0.Add(-time.Minute)}},
				util:    busy},
			seen:     memo{observed: map[string]observed{"c": {at: t0.Add(-10 * time.Second), why: "cooldown"}}},
			plan:     []string{"observe c wait 1"},
			remember: []string{"observed c cooldown"},
		},
		{
			name: "a new reason is recorded at once",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", Shape{MCU: 1, Autoscale: policy})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 1, ChangedAt: t0.Add(-time.Minute)}},
				util:    busy},
			seen:     memo{observed: map[string]observed{"c": {at: t0.Add(-time.Second), why: "moving"}}},
			plan:     []string{"observe c wait 1"},
			remember: []string{"observed c cooldown"},
		},
		{
			name: "the memo forgets the observations of workloads no longer autoscaled or gone",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", one)},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 1, 0))}},
			seen:     memo{observed: map[string]observed{"c": {at: t0.Add(-time.Second), why: "cooldown"}, "gone": {at: t0, why: "within"}}},
			remember: []string{"unobserved c", "unobserved gone"},
		},
		{
			name: "no autoscale step while an operation changes the workload",
			v: view{agents: two, workloads: []workloadView{conn("c", "UPDATING", Shape{MCU: 1, Autoscale: policy})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 1, ChangedAt: t0.Add(-time.Hour)}},
				util:    busy, ops: activeOp},
			advance: func(*store.Operation, *store.Resource, OpObservation, time.Time) (*store.OpChange, error) {
				return nil, nil
			},
			plan:     []string{"observe c wait 1"},
			reasons:  []string{"an operation is changing the workload"},
			remember: []string{"observed c busy"},
		},
		{
			name: "a workload no longer autoscaled loses its autoscale state",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", one)},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 1, 0))},
				scales:  map[string]store.AutoscaleState{"c": {WorkloadARN: "c", Workers: 2, ChangedAt: t0.Add(-time.Hour)}}},
			plan: []string{"autoscale c -1"},
		},
		{
			name: "UPDATING: the operation observes settled workers and advances",
			v: view{agents: two, workloads: []workloadView{conn("c", "UPDATING", one)},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 2, 1, 1, 0))}, ops: activeOp},
			advance: noting("UPDATE_IN_PROGRESS", store.OpChange{}),
			plan:    []string{"op c UPDATE_IN_PROGRESS table"},
			events:  []string{"operation c"},
			reasons: []string{`UPDATING: settled=true fail=  waiting="" at 12:00:00`},
		},
		{
			name: "UPDATING: a worker's permanent error is the operation's to judge",
			v: view{agents: two, workloads: []workloadView{conn("c", "UPDATING", one)},
				workers: []store.Worker{reported(wrow("c", 0, "a-1", 2, 1, 1, 0), "FAILED", 2, "INVALID_CONFIGURATION: topics is required")},
				ops:     activeOp},
			advance: noting("UPDATE_IN_PROGRESS", store.OpChange{}),
			plan:    []string{"op c UPDATE_IN_PROGRESS table"},
			events:  []string{"operation c"},
			reasons: []string{"settled=false fail=INVALID_CONFIGURATION topics is required"},
		},
		{
			name: "UPDATING: any failure at the current epoch counts against the update",
			v: view{agents: two, workloads: []workloadView{conn("c", "UPDATING", one)},
				workers: []store.Worker{reported(wrow("c", 0, "a-1", 2, 1, 1, 0), "FAILED", 2, "TASK_FAILED: boom")},
				ops:     activeOp},
			advance: noting("UPDATE_IN_PROGRESS", store.OpChange{}),
			plan:    []string{"op c UPDATE_IN_PROGRESS table"},
			events:  []string{"operation c"},
			reasons: []string{"fail=WORKER_FAILED TASK_FAILED: boom"},
		},
		{
			name: "UPDATING: a target that cannot run is left to the operation, and the workers stop",
			v: view{agents: two, workloads: []workloadView{conn("c", "UPDATING",
				Shape{FailCode: "INVALID_CONFIGURATION", FailMessage: "tasks.max is not a number"})},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 2, 1, 1, 0))}, ops: activeOp},
			advance: noting("UPDATE_IN_PROGRESS", store.OpChange{}),
			plan:    []string{"stop c/0", "op c UPDATE_IN_PROGRESS table"},
			events:  []string{"stop c/0", "operation c"},
			reasons: []string{"fail=INVALID_CONFIGURATION tasks.max is not a number"},
		},
		{
			name: "UPDATING: a step that replaces the description is applied alone, then read again",
			v: view{agents: two, workloads: []workloadView{conn("c", "UPDATING", one), conn("d", "CREATING", one)},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 2, 1, 1, 0))}, ops: activeOp},
			advance: noting("UPDATE_IN_PROGRESS", store.OpChange{Doc: []byte(`{}`), Restart: true}),
			plan:    []string{"op c UPDATE_IN_PROGRESS doc restart table"},
			events:  []string{"operation c"},
			again:   true,
		},
		{
			name:    "an operation of a DELETING connector is told so and cannot change the connector",
			v:       view{agents: two, workloads: []workloadView{conn("c", "DELETING", Shape{})}, ops: activeOp},
			advance: noting("UPDATE_FAILED", store.OpChange{Table: connectors, Doc: []byte(`{}`), State: "RUNNING", Restart: true}),
			plan:    []string{"remove c", "op c UPDATE_FAILED"},
			events:  []string{"operation c"},
			reasons: []string{`DELETING: settled=false fail=  waiting="the connector is DELETING"`},
		},
		{
			name: "an operation function's error is returned for the log, and nothing changes",
			v: view{agents: two, workloads: []workloadView{conn("c", "UPDATING", one)},
				workers: []store.Worker{up(wrow("c", 0, "a-1", 2, 1, 1, 0))}, ops: activeOp},
			advance: func(*store.Operation, *store.Resource, OpObservation, time.Time) (*store.OpChange, error) {
				return nil, errors.New("decode operation state")
			},
			opErrors: 1,
		},
		{
			name: "without an operation function, operations are left alone",
			v: view{agents: two, workloads: []workloadView{conn("c", "RUNNING", one)},
				workers: []store.Worker{reported(wrow("c", 0, "a-1", 2, 1, 1, 0), "FAILED", 2, "INVALID_CONFIGURATION: topics is required")},
				ops:     activeOp},
			plan:   []string{"stop c/0", "state c RUNNING>FAILED INVALID_CONFIGURATION"},
			events: []string{"failed c", "stop c/0"},
		},
	}
	scale := AutoscaleConfig{}.withDefaults()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.v
			v.now = t0
			seen := newMemo()
			seen.update(tt.seen)
			got := decide(&v, seen, scale, tt.advance)
			if lines := planLines(got.plan); !slices.Equal(lines, tt.plan) {
				t.Errorf("plan:\n got %q\nwant %q", lines, tt.plan)
			}
			if lines := eventLines(got.plan); !slices.Equal(lines, tt.events) {
				t.Errorf("events:\n got %q\nwant %q", lines, tt.events)
			}
			all := texts(got.plan)
			for _, r := range tt.reasons {
				if !slices.ContainsFunc(all, func(s string) bool { return strings.Contains(s, r) }) {
					t.Errorf("no sentence contains %q:\n%s", r, strings.Join(all, "\n"))
				}
			}
			if got.again != tt.again {
				t.Errorf("again = %v, want %v", got.again, tt.again)
			}
			if lines := rememberLines(got.remember); !slices.Equal(lines, tt.remember) {
				t.Errorf("remember:\n got %q\nwant %q", lines, tt.remember)
			}
			if len(got.opErrors) != tt.opErrors {
				t.Errorf("%d operation errors, want %d: %v", len(got.opErrors), tt.opErrors, got.opErrors)
			}
			if empty(got.plan) != (len(tt.plan) == 0 && len(tt.events) == 0) {
				t.Errorf("empty(plan) = %v", empty(got.plan))
			}
			// decide is pure: the same view decides the same again (it did not change it).
			if again := decide(&v, seen, scale, tt.advance); !reflect.DeepEqual(again, got) {
				t.Errorf("deciding again differs:\n%+v\n%+v", again, got)
			}
		})
	}
}

// applied is v after p: the plan's worker rows, stops (removed at once: no agent reports
// them here), states and remembered conditions, as the store and the leader would keep them.
func applied(v view, seen memo, vd verdict) (view, memo) {
	rows := map[string]store.Worker{}
	for _, w := range v.workers {
		rows[w.ID] = w
	}
	for _, w := range vd.plan.Workers {
		w.Report = rows[w.ID].Report
		rows[w.ID] = w
	}
	for _, id := range vd.plan.Stop {
		delete(rows, id)
	}
	v.workers = nil
	for _, w := range rows {
		v.workers = append(v.workers, w)
	}
	slices.SortFunc(v.workers, func(a, b store.Worker) int { return strings.Compare(a.ID, b.ID) })
	ws := slices.Clone(v.workloads)
	for _, s := range vd.plan.States {
		for i := range ws {
			if ws[i].r.ARN == s.ARN {
				r := *ws[i].r
				r.State, r.StateCode, r.StateMessage = s.State, s.StateCode, s.StateMessage
				ws[i].r = &r
			}
		}
	}
	v.workloads = ws
	seen.update(vd.remember)
	return v, seen
}

func TestDecideRecordsAStandingShortageOnce(t *testing.T) {
	t.Parallel()
	scale := AutoscaleConfig{}.withDefaults()
	v := view{now: t0, agents: []store.Agent{fleetAgent("a-1", 1, store.AgentAlive)},
		workloads: []workloadView{conn("c", "CREATING", Shape{Workers: 1, MCU: 2, Tasks: 1})}}
	seen := newMemo()
	first := decide(&v, seen, scale, nil)
	if got := eventLines(first.plan); !slices.Equal(got, []string{"unplaceable c"}) {
		t.Fatalf("first reconcile's events: %q", got)
	}
	v, seen = applied(v, seen, first)
	if second := decide(&v, seen, scale, nil); !empty(second.plan) {
		t.Fatalf("a standing shortage changed something again: %q %q", planLines(second.plan), eventLines(second.plan))
	}
	// Room appears: the worker is placed and the shortage is forgotten once the workload runs.
	v.agents = []store.Agent{fleetAgent("a-1", 4, store.AgentAlive)}
	third := decide(&v, seen, scale, nil)
	if got := planLines(third.plan); !slices.Equal(got, []string{"put c/0@a-1#2 [0]/1", "state c CREATING>CREATING WAITING_FOR_WORKERS"}) {
		t.Fatalf("room appeared: %q", got)
	}
	v, seen = applied(v, seen, third)
	v.workers[0] = up(v.workers[0])
	fourth := decide(&v, seen, scale, nil)
	if got := planLines(fourth.plan); !slices.Equal(got, []string{"state c CREATING>RUNNING"}) {
		t.Fatalf("worker running: %q", got)
	}
	if _, seen = applied(v, seen, fourth); len(seen.desc) != 0 {
		t.Fatalf("the shortage is still remembered: %v", seen.desc)
	}
}

func TestDecideHandsATaskOverOnce(t *testing.T) {
	t.Parallel()
	scale := AutoscaleConfig{}.withDefaults()
	v := view{now: t0, agents: []store.Agent{fleetAgent("a-1", 4, store.AgentAlive), fleetAgent("a-2", 4, store.AgentAlive)},
		workloads: []workloadView{conn("c", "RUNNING", Shape{Workers: 2, MCU: 1, Tasks: 2})},
		workers:   []store.Worker{up(wrow("c", 0, "a-1", 1, 1, 2, 0, 1))}}
	seen := newMemo()
	first := decide(&v, seen, scale, nil)
	v, seen = applied(v, seen, first)
	// Until worker 0 reports its new epoch, task 1 stays withheld and nothing is recorded again.
	if again := decide(&v, seen, scale, nil); !empty(again.plan) {
		t.Fatalf("an unconfirmed handoff changed something: %q %q", planLines(again.plan), eventLines(again.plan))
	}
	v.workers[0] = up(v.workers[0])
	second := decide(&v, seen, scale, nil)
	if got := planLines(second.plan); !slices.Equal(got, []string{"put c/1@a-2#3 [1]/2"}) {
		t.Fatalf("after the holder confirmed: %q", got)
	}
	// The retask the handoff held back is recorded now that it happens.
	if got := eventLines(second.plan); !slices.Equal(got, []string{"retask c/1"}) {
		t.Fatalf("after the holder confirmed, events %q", got)
	}
}
