package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// The leader's reconcile is read → decide → apply. Read (leader.go) gathers a view of the
// store and derives every workload's shape; decide (this file) turns the view into a plan
// without I/O, logging or state of its own; apply writes the plan and logs its decisions.

// view is what one reconcile read: the whole input of decide.
type view struct {
	now time.Time
	// healthBound is how long a worker's cluster trouble lasts before its workload is FAILED
	// with it (LeaderConfig.HealthBound).
	healthBound time.Duration
	agents      []store.Agent
	workers     []store.Worker
	workloads   []workloadView
	// ops is each connector's oldest active operation, by connector ARN.
	ops map[string]*store.Operation
	// scales are the autoscaler's standing decisions, by workload ARN.
	scales map[string]store.AutoscaleState
	// util is each workload's utilization over the last autoscale window.
	util map[string]store.Utilization
}

// workloadView is a workload resource with its table, kind and shape.
type workloadView struct {
	kind  string
	table *store.Resources
	r     *store.Resource
	// shape is derived only for workloads that are neither DELETING nor FAILED. noShape says
	// it could not be derived (read logged why): the workload is not planned, so its workers
	// stop, and its state is left as it is.
	shape   Shape
	noShape bool
}

// memo is what the leader remembers between reconciles so that a standing condition is one
// event, not one per reconcile.
type memo struct {
	// desc is the unplaceable reason last recorded, by workload ARN.
	desc map[string]string
	// withheld is the withheld-tasks reason last recorded, by worker ID.
	withheld map[string]string
	// observed is the autoscaler's observation last recorded, by workload ARN.
	observed map[string]observed
}

// observed is when an autoscaler observation was recorded, and the code of its reason (the
// zero value, in a verdict, forgets the workload's).
type observed struct {
	at  time.Time
	why string
}

func newMemo() memo {
	return memo{desc: map[string]string{}, withheld: map[string]string{}, observed: map[string]observed{}}
}

// update applies the changes a verdict asks the memo to remember ("" forgets an entry).
func (m memo) update(ch memo) {
	for k, v := range ch.desc {
		if v == "" {
			delete(m.desc, k)
		} else {
			m.desc[k] = v
		}
	}
	for k, v := range ch.withheld {
		m.withheld[k] = v
	}
	for k, v := range ch.observed {
		if v.at.IsZero() {
			delete(m.observed, k)
		} else {
			m.observed[k] = v
		}
	}
}

// verdict is what decide returns.
type verdict struct {
	// plan is what to apply, without its term; empty when nothing changes.
	plan store.Plan
	// again: plan holds only operation steps that replace a connector's description or
	// restart its workers; the leader applies them on their own and reads again, so that the
	// next plan sees the new shape and epochs.
	again bool
	// remember is what the memo must remember once the plan is applied ("" forgets).
	remember memo
	// opErrors are the errors of the operation function, for the log.
	opErrors []opError
}

// opError is an operation function's failure to advance an operation.
type opError struct {
	workloadARN, operationARN string
	err                       error
}

// empty reports whether p changes nothing.
func empty(p store.Plan) bool {
	return len(p.Workers) == 0 && len(p.Stop) == 0 && len(p.States) == 0 && len(p.Remove) == 0 && len(p.Events) == 0 &&
		len(p.Autoscale) == 0 && len(p.Observations) == 0 && len(p.Ops) == 0
}

// decide is the leader's pure core. From a view, the memo of the conditions already recorded,
// the autoscaler's tuning and the operation function (nil leaves operations alone), it decides
// workloads' failures and autoscaling, advances their operations, plans their workers
// (Reconcile, then the task handoff) and derives their lifecycle states.
func decide(v *view, seen memo, scale AutoscaleConfig, advance OperationFunc) verdict {
	d := newDecider(v, seen, scale, advance)
	for _, w := range v.workloads {
		d.workload(w)
	}
	for arn := range seen.observed { // a workload gone, failed or no longer autoscaled
		if _, ok := d.out.remember.observed[arn]; !ok && !d.observing[arn] {
			d.out.remember.observed[arn] = observed{}
		}
	}
	if len(d.structural) > 0 {
		return verdict{plan: store.Plan{Ops: d.structural, Events: opEvents(d.structural)}, again: true, opErrors: d.out.opErrors}
	}
	plan := Reconcile(d.snap)
	placedOK := d.workers(plan)
	d.lifecycle(plan, placedOK)
	p := &d.out.plan
	p.Events = append(p.Events, opEvents(p.Ops)...)
	sort.Strings(p.Stop)
	return d.out
}

// decider holds one decide's inputs, indexes and partial result.
type decider struct {
	v       *view
	seen    memo
	scale   AutoscaleConfig
	advance OperationFunc

	byWorkload map[string][]store.Worker // current rows (stopping ones too) by workload
	current    map[string]store.Worker   // current rows by worker ID
	alive      map[string]bool           // agents holding a lease
	snap       Snapshot                  // Reconcile's input, filled by workload

	kinds      map[string]string
	failing    map[string]bool  // workloads that fail in this plan
	unhealthy  map[string]bool  // workloads whose workers report cluster trouble
	taskCount  map[string]int   // planned workloads' task counts
	shapes     map[string]Shape // planned workloads' shapes (after autoscaling)
	observing  map[string]bool  // autoscaled workloads the autoscaler looked at
	structural []store.OpChange
	out        verdict
}

func newDecider(v *view, seen memo, scale AutoscaleConfig, advance OperationFunc) *decider {
	d := &decider{v: v, seen: seen, scale: scale, advance: advance,
		byWorkload: map[string][]store.Worker{}, current: map[string]store.Worker{}, alive: map[string]bool{},
		kinds: map[string]string{}, failing: map[string]bool{}, unhealthy: map[string]bool{}, taskCount: map[string]int{}, shapes: map[string]Shape{},
		observing: map[string]bool{},
		out:       verdict{remember: newMemo()}}
	for _, a := range v.agents {
		d.snap.Agents = append(d.snap.Agents, Agent{ID: a.ID, MCU: a.MCUCapacity, Alive: a.State != store.AgentDead,
			Draining: a.State == store.AgentDraining})
		d.alive[a.ID] = a.State != store.AgentDead
	}
	for _, w := range v.workers {
		d.byWorkload[w.WorkloadARN] = append(d.byWorkload[w.WorkloadARN], w)
		d.current[w.ID] = w
		if !w.Stopping {
			d.snap.Workers = append(d.snap.Workers, Worker{ID: w.ID, WorkloadARN: w.WorkloadARN, Ordinal: w.Ordinal,
				AgentID: w.AgentID, Epoch: w.Epoch, MCU: w.MCU, Tasks: w.Tasks})
		}
	}
	return d
}

// op is the workload's active operation, if operations are advanced.
func (d *decider) op(arn string) *store.Operation {
	if d.advance == nil {
		return nil
	}
	return d.v.ops[arn]
}

// step advances op, recording the operation function's error.
func (d *decider) step(op *store.Operation, r *store.Resource, obs OpObservation) *store.OpChange {
	ch, err := d.advance(op, r, obs, d.v.now)
	if err != nil {
		d.out.opErrors = append(d.out.opErrors, opError{workloadARN: r.ARN, operationARN: op.ARN, err: err})
		return nil
	}
	return ch
}

// workload decides one workload before placement: its operation step, autoscaling, failure,
// or its entry in the placement snapshot.
func (d *decider) workload(w workloadView) {
	r, p := w.r, &d.out.plan
	d.kinds[r.ARN] = w.kind
	rows := d.byWorkload[r.ARN]
	if r.State == "DELETING" || (r.State == "FAILED" && !healthFailed(r, rows)) {
		d.inactive(w)
		return // not listed: its workers stop
	}
	if w.noShape {
		return
	}
	sh, op := w.shape, d.op(r.ARN)
	if sh.FailCode == "" {
		sh = d.autoscale(r.ARN, sh, op != nil)
	}
	if op != nil {
		d.operation(w, sh, op)
		if sh.FailCode != "" {
			return // a failed target is the operation's to roll back
		}
	}
	code, msg := sh.FailCode, sh.FailMessage
	if code == "" && op == nil {
		code, msg = permanentFailure(d.byWorkload[r.ARN])
	}
	if code != "" {
		d.failing[r.ARN] = true
		p.States = append(p.States, store.WorkloadState{Table: w.table, ARN: r.ARN, State: "FAILED", StateCode: code, StateMessage: msg, From: r.State})
		p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "failed", Reason: code + ": " + msg})
		return
	}
	// Cluster trouble that outlasted the bound: FAILED with it, the workers kept running (they
	// retry); RUNNING again once none reports trouble (below, after placement).
	if op == nil {
		if hc, hm := healthFailure(rows, d.v.now, d.v.healthBound); hc != "" {
			d.unhealthy[r.ARN] = true
			if r.State != "FAILED" || r.StateCode != hc {
				p.States = append(p.States, store.WorkloadState{Table: w.table, ARN: r.ARN, State: "FAILED", StateCode: hc, StateMessage: hm, From: r.State})
				p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "failed", Reason: hc + ": " + hm})
			}
		} else if anyHealth(rows) {
			d.unhealthy[r.ARN] = true // trouble within the bound: no change either way yet
		}
	}
	// Stopping rows are not in the snapshot, but their epochs are: a re-created worker must
	// not reuse the epoch its stopping predecessor (same id) still reports.
	var floor int64
	for _, row := range d.byWorkload[r.ARN] {
		floor = max(floor, row.Epoch)
	}
	d.taskCount[r.ARN] = sh.Tasks
	d.shapes[r.ARN] = sh
	d.snap.Workloads = append(d.snap.Workloads, Workload{ARN: r.ARN, Workers: sh.Workers, MCU: sh.MCU, Tasks: sh.Tasks, EpochFloor: floor})
}

// inactive decides a DELETING or FAILED workload: its operation is told so, and a failed
// workload's autoscale state is dropped.
func (d *decider) inactive(w workloadView) {
	r, p := w.r, &d.out.plan
	if op := d.op(r.ARN); op != nil {
		if ch := d.step(op, r, OpObservation{Waiting: "the connector is " + r.State}); ch != nil {
			ch.Table, ch.ARN, ch.Doc, ch.State, ch.Restart = nil, r.ARN, nil, "", false
			p.Ops = append(p.Ops, *ch)
		}
	}
	if sc, ok := d.v.scales[r.ARN]; ok && r.State == "FAILED" {
		p.Autoscale = append(p.Autoscale, store.AutoscaleState{WorkloadARN: sc.WorkloadARN, Workers: -1})
	}
}

// autoscale returns the shape to place for an autoscaled workload (its worker and task count
// chosen by the autoscaler), recording the autoscaler's step; a workload that stopped being
// autoscaled loses its autoscale state.
func (d *decider) autoscale(arn string, sh Shape, busy bool) Shape {
	p := &d.out.plan
	if sh.Autoscale == nil {
		if _, ok := d.v.scales[arn]; ok {
			p.Autoscale = append(p.Autoscale, store.AutoscaleState{WorkloadARN: arn, Workers: -1})
		}
		return sh
	}
	sc, known := d.v.scales[arn]
	sc.WorkloadARN = arn
	u, hasU := d.v.util[arn]
	running := sh // the shape the workers were placed for: the recorded count
	if known {
		running.Workers = sc.Workers
		if sh.Autoscale.TasksFor != nil {
			running.Tasks = sh.Autoscale.TasksFor(sc.Workers)
		}
	}
	n, change, seen, why := autoscaleStep(d.scale, d.v.now, autoscaleInput{policy: *sh.Autoscale, state: sc, known: known,
		util: u, hasUtil: hasU, settled: settled(d.byWorkload[arn], running).Settled, busy: busy})
	if change != nil {
		p.Autoscale = append(p.Autoscale, *change)
		p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: arn, Kind: "autoscale", Reason: change.Reason})
	}
	d.observing[arn] = true
	// What it saw is recorded when its reason changes, and again every few seconds while it
	// stands (the means move with every sample).
	if last, ok := d.seen.observed[arn]; change != nil || !ok || last.why != why || d.v.now.Sub(last.at) >= d.scale.observeEvery() {
		p.Observations = append(p.Observations, seen)
		d.out.remember.observed[arn] = observed{at: d.v.now, why: why}
	}
	sh.Workers = n
	if sh.Autoscale.TasksFor != nil {
		sh.Tasks = sh.Autoscale.TasksFor(n)
	}
	return sh
}

// operation advances the workload's operation from what its workers do: a step that replaces
// the connector's description or restarts its workers is structural (applied on its own).
func (d *decider) operation(w workloadView, sh Shape, op *store.Operation) {
	r, rows := w.r, d.byWorkload[w.r.ARN]
	obs := settled(rows, sh)
	obs.FailCode, obs.FailMessage = sh.FailCode, sh.FailMessage
	if obs.FailCode == "" {
		obs.FailCode, obs.FailMessage = failure(rows)
	}
	ch := d.step(op, r, obs)
	if ch == nil {
		return
	}
	if ch.Table == nil {
		ch.Table, ch.ARN = w.table, r.ARN
	}
	if ch.Doc != nil || ch.Restart {
		d.structural = append(d.structural, *ch)
	} else {
		d.out.plan.Ops = append(d.out.plan.Ops, *ch)
	}
}

// workers turns Reconcile's plan into worker rows to write and stop, holding back tasks that
// are being handed over, and records its decisions. It returns, by planned workload, whether
// every worker runs its assignment and every task is assigned.
func (d *decider) workers(plan Plan) (placedOK map[string]bool) {
	planned := map[string][]*store.Worker{}
	var order []*store.Worker
	for _, w := range plan.Workers {
		sw := &store.Worker{ID: w.ID, WorkloadARN: w.WorkloadARN, WorkloadKind: d.kinds[w.WorkloadARN],
			Ordinal: w.Ordinal, AgentID: w.AgentID, Epoch: w.Epoch, MCU: w.MCU, Tasks: w.Tasks, TaskCount: d.taskCount[w.WorkloadARN]}
		planned[w.WorkloadARN] = append(planned[w.WorkloadARN], sw)
		order = append(order, sw)
	}
	d.withhold(planned)
	placedOK, desired := d.rows(order)
	for arn := range placedOK {
		if !allTasks(planned[arn], d.taskCount[arn]) {
			placedOK[arn] = false // tasks are being handed over
		}
	}
	p := &d.out.plan
	for _, w := range d.v.workers {
		if !w.Stopping && !desired[w.ID] {
			p.Stop = append(p.Stop, w.ID)
		}
	}
	changed := map[string]bool{}
	for _, w := range p.Workers {
		changed[w.ID] = true
	}
	for _, dc := range plan.Decisions {
		if dc.Kind == KindUnplaceable {
			continue
		}
		if dc.Kind != KindStop && !changed[dc.WorkerID] {
			continue // undone by the task handoff: nothing changed yet (recorded when it does)
		}
		p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: dc.WorkloadARN, Kind: string(dc.Kind), Reason: dc.Reason,
			AgentID: dc.AgentID, WorkerID: dc.WorkerID})
	}
	return placedOK
}

// withhold applies the task handoff to the planned workers, recording newly withheld tasks.
func (d *decider) withhold(planned map[string][]*store.Worker) {
	for _, arn := range slices.Sorted(maps.Keys(planned)) {
		var hs []holder
		for _, row := range d.byWorkload[arn] {
			hs = append(hs, holder{row: row, alive: row.AgentID != "" && d.alive[row.AgentID]})
		}
		held := withholdTasks(planned[arn], hs, d.taskCount[arn])
		for _, id := range slices.Sorted(maps.Keys(held)) {
			if why := held[id]; d.seen.withheld[id] != why {
				d.out.remember.withheld[id] = why
				d.out.plan.Events = append(d.out.plan.Events, store.WorkloadEvent{WorkloadARN: arn, Kind: "handoff", Reason: why, WorkerID: id})
			}
		}
	}
}

// rows compares the planned workers with the current rows: it sets each planned worker's
// epoch, adds the changed ones to the plan, and returns, by workload, whether all its workers
// already run their assignment, and the set of desired worker IDs.
func (d *decider) rows(order []*store.Worker) (placedOK, desired map[string]bool) {
	placedOK, desired = map[string]bool{}, map[string]bool{}
	for _, w := range order {
		desired[w.ID] = true
		if _, ok := placedOK[w.WorkloadARN]; !ok {
			placedOK[w.WorkloadARN] = true
		}
		cur, had := d.current[w.ID]
		if had && !cur.Stopping {
			// Withheld tasks may make the assignment what it already is: keep the epoch then;
			// any other change needs a newer one than the current.
			same := cur.AgentID == w.AgentID && cur.MCU == w.MCU && slices.Equal(cur.Tasks, w.Tasks) && cur.TaskCount == w.TaskCount
			if same {
				w.Epoch = cur.Epoch
			} else {
				w.Epoch = max(w.Epoch, cur.Epoch+1)
			}
		}
		if !had || cur.Stopping || cur.AgentID != w.AgentID || cur.Epoch != w.Epoch || !slices.Equal(cur.Tasks, w.Tasks) || cur.TaskCount != w.TaskCount {
			d.out.plan.Workers = append(d.out.plan.Workers, *w)
		}
		running := had && w.AgentID != "" && cur.Report.State == "RUNNING" && cur.Report.Epoch == w.Epoch && cur.Report.AgentID == w.AgentID
		if !running {
			placedOK[w.WorkloadARN] = false
		}
	}
	return placedOK, desired
}

// lifecycle derives the workloads' states from the plan: a deleted workload whose workers are
// gone is removed, a workload short of capacity says so, a created one whose workers all run
// becomes RUNNING, one still creating says what it waits for.
func (d *decider) lifecycle(plan Plan, placedOK map[string]bool) {
	unplaceable := map[string]string{}
	for _, dc := range plan.Decisions {
		if dc.Kind == KindUnplaceable {
			unplaceable[dc.WorkloadARN] = dc.Reason
		}
	}
	p := &d.out.plan
	for _, w := range d.v.workloads {
		r := w.r
		switch {
		case r.State == "DELETING":
			if len(d.byWorkload[r.ARN]) == 0 {
				p.Remove = append(p.Remove, store.RemoveWorkload{Table: w.table, ARN: r.ARN})
			}
		case d.unhealthy[r.ARN]:
		case r.State == "FAILED" && !d.failing[r.ARN] && placedOK[r.ARN] && healthFailed(r, d.byWorkload[r.ARN]):
			p.States = append(p.States, store.WorkloadState{Table: w.table, ARN: r.ARN, State: "RUNNING", From: r.State})
			p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "recovered",
				Reason: "every worker reaches its clusters again (was " + r.StateCode + ")"})
		case r.State == "FAILED" || d.failing[r.ARN]:
		case plan.MissingMCU[r.ARN] > 0:
			d.short(w, fmt.Sprintf("waiting for capacity: %d MCU missing in the fleet. %s", plan.MissingMCU[r.ARN], unplaceable[r.ARN]))
		case placedOK[r.ARN] && r.State == "CREATING":
			d.forgetDesc(r.ARN)
			p.States = append(p.States, store.WorkloadState{Table: w.table, ARN: r.ARN, State: "RUNNING", From: r.State})
			p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "running", Reason: "every worker reports its tasks running"})
		case r.State == "CREATING" && d.idle(r.ARN):
			// No worker is desired (a connector stopped through the Kafka Connect REST API)
			// and none is left: there is nothing to wait for.
			d.forgetDesc(r.ARN)
			p.States = append(p.States, store.WorkloadState{Table: w.table, ARN: r.ARN, State: "RUNNING", From: r.State})
			p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "running", Reason: "no worker is desired (stopped) and none runs"})
		case r.State == "CREATING":
			// Say what the workload waits for: its workers starting, tasks being handed over.
			msg := settled(d.byWorkload[r.ARN], d.shapes[r.ARN]).Waiting
			if msg == "" {
				msg = "workers are starting"
			}
			msg = "waiting: " + msg
			if r.StateCode != "WAITING_FOR_WORKERS" || r.StateMessage != msg {
				p.States = append(p.States, store.WorkloadState{Table: w.table, ARN: r.ARN, State: r.State,
					StateCode: "WAITING_FOR_WORKERS", StateMessage: msg, From: r.State})
			}
		case r.StateCode == "INSUFFICIENT_CAPACITY":
			d.forgetDesc(r.ARN)
			p.States = append(p.States, store.WorkloadState{Table: w.table, ARN: r.ARN, State: r.State, From: r.State})
		}
	}
}

// idle reports whether a placed workload's shape desires no worker and none is left.
func (d *decider) idle(arn string) bool {
	sh, ok := d.shapes[arn]
	return ok && sh.Workers == 0 && len(d.byWorkload[arn]) == 0
}

// short records a workload short of capacity: an unplaceable event when the reason is new,
// and the INSUFFICIENT_CAPACITY code in its state.
func (d *decider) short(w workloadView, msg string) {
	r, p := w.r, &d.out.plan
	if d.seen.desc[r.ARN] != msg {
		p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "unplaceable", Reason: msg})
		d.out.remember.desc[r.ARN] = msg
	}
	if r.StateCode != "INSUFFICIENT_CAPACITY" || r.StateMessage != msg {
		p.States = append(p.States, store.WorkloadState{Table: w.table, ARN: r.ARN, State: r.State,
			StateCode: "INSUFFICIENT_CAPACITY", StateMessage: msg, From: r.State})
	}
}

// forgetDesc drops the workload's recorded unplaceable reason.
func (d *decider) forgetDesc(arn string) {
	if _, ok := d.seen.desc[arn]; ok {
		d.out.remember.desc[arn] = ""
	}
}

// allTasks reports whether the planned workers together run every task of count.
func allTasks(ws []*store.Worker, count int) bool {
	n := 0
	for _, w := range ws {
		n += len(w.Tasks)
	}
	return n >= count
}

// settled observes whether a workload's workers all run their current assignment, with every
// task of sh assigned once: what an operation waits for before it validates.
func settled(ws []store.Worker, sh Shape) OpObservation {
	live, tasks := 0, 0
	for _, w := range ws {
		if w.Stopping {
			return OpObservation{Waiting: "workers are stopping"}
		}
		live++
		tasks += len(w.Tasks)
		switch {
		case w.AgentID == "":
			return OpObservation{Waiting: "a worker waits for capacity"}
		case w.TaskCount != sh.Tasks:
			return OpObservation{Waiting: "tasks are being rebalanced"}
		case w.Report.State != "RUNNING" || w.Report.Epoch != w.Epoch || w.Report.AgentID != w.AgentID:
			return OpObservation{Waiting: "workers are starting"}
		}
	}
	switch {
	case live != sh.Workers:
		return OpObservation{Waiting: fmt.Sprintf("%d of %d workers exist", live, sh.Workers)}
	case tasks != sh.Tasks:
		return OpObservation{Waiting: fmt.Sprintf("%d of %d tasks are assigned", tasks, sh.Tasks)}
	}
	return OpObservation{Settled: true}
}

// failure returns the error of a worker that failed on its current assignment (permanent or
// not), for operations: any failure of a new configuration counts against it.
func failure(ws []store.Worker) (string, string) {
	if code, msg := permanentFailure(ws); code != "" {
		return code, msg
	}
	for _, w := range ws {
		if !w.Stopping && w.Report.State == "FAILED" && w.Report.Epoch == w.Epoch && w.Report.AgentID == w.AgentID {
			return "WORKER_FAILED", w.Report.Error
		}
	}
	// A worker that cannot reach a cluster of the new settings fails them at once.
	for _, w := range ws {
		if !w.Stopping && w.Report.Health != "" && w.Report.Epoch == w.Epoch && w.Report.AgentID == w.AgentID {
			if c, m, ok := strings.Cut(w.Report.Health, ": "); ok && slices.Contains(catalog.HealthCodes, c) {
				return c, m
			}
			return catalog.CodeClusterUnreachable, w.Report.Health
		}
	}
	return "", ""
}

// healthFailed reports whether a FAILED workload failed for cluster trouble its workers keep
// retrying (rather than for good): its code is a health code, no worker reports a permanent
// failure, and it still has workers.
func healthFailed(r *store.Resource, ws []store.Worker) bool {
	if r.State != "FAILED" || !slices.Contains(catalog.HealthCodes, r.StateCode) {
		return false
	}
	if code, _ := permanentFailure(ws); code != "" {
		return false
	}
	for _, w := range ws {
		if !w.Stopping {
			return true
		}
	}
	return false
}

// healthFailure returns the cluster trouble a worker of the workload reports on its current
// assignment for at least bound (the oldest), if any.
func healthFailure(ws []store.Worker, now time.Time, bound time.Duration) (string, string) {
	var code, msg string
	var since time.Time
	for _, w := range ws {
		if w.Stopping || w.Report.Health == "" || w.Report.Epoch != w.Epoch || w.Report.AgentID != w.AgentID {
			continue
		}
		if now.Sub(w.Report.HealthSince) < bound || (!since.IsZero() && !w.Report.HealthSince.Before(since)) {
			continue
		}
		c, m, ok := strings.Cut(w.Report.Health, ": ")
		if !ok || !slices.Contains(catalog.HealthCodes, c) {
			c, m = catalog.CodeClusterUnreachable, w.Report.Health
		}
		code, msg, since = c, m, w.Report.HealthSince
	}
	return code, msg
}

// anyHealth reports whether a worker of the workload reports cluster trouble on its current
// assignment, however recent.
func anyHealth(ws []store.Worker) bool {
	for _, w := range ws {
		if !w.Stopping && w.Report.Health != "" && w.Report.Epoch == w.Epoch {
			return true
		}
	}
	return false
}

// permanentFailure returns the code and message of a worker's permanent error, if any worker
// of the workload reported one for its current assignment.
func permanentFailure(ws []store.Worker) (string, string) {
	for _, w := range ws {
		if w.Stopping || w.Report.State != "FAILED" || w.Report.Epoch != w.Epoch {
			continue
		}
		code, msg, ok := strings.Cut(w.Report.Error, ": ")
		if ok && slices.Contains(catalog.PermanentCodes, code) {
			return code, msg
		}
	}
	return "", ""
}

// opEvents records operation steps in the workloads' events.
func opEvents(chs []store.OpChange) []store.WorkloadEvent {
	var out []store.WorkloadEvent
	for _, ch := range chs {
		if ch.Op == nil || ch.Note == "" {
			continue
		}
		out = append(out, store.WorkloadEvent{WorkloadARN: ch.ARN, Kind: "operation", Reason: ch.Note})
	}
	return out
}
