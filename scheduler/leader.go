package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// Shape is what the leader needs to know of a workload's resource: how many workers of what
// size with how many tasks, or why it cannot run at all (FailCode set → FAILED).
type Shape struct {
	Workers, MCU, Tasks   int
	FailCode, FailMessage string
	// Autoscale, when set, lets the autoscaler choose Workers (and Tasks) within the policy.
	Autoscale *AutoscalePolicy
}

// ShapeFunc derives a workload's Shape from its stored resource (kind "connector" or
// "replicator"); the server provides it, since it owns the resources' formats.
type ShapeFunc func(kind string, r *store.Resource) (Shape, error)

// LeaderConfig configures the leader loop.
type LeaderConfig struct {
	Store *store.Store
	// ID names this replica in the leadership row and in logs.
	ID string
	// LeaseTTL is how long an agent may stay silent before it is dead and its workers move;
	// default 10s.
	LeaseTTL time.Duration
	// Interval is the reconcile period without a trigger; default 1s.
	Interval time.Duration
	// Shape derives workloads' shapes. Required.
	Shape  ShapeFunc
	Logger *slog.Logger
	// OnReconcile, if set, is called after every reconcile with its duration and error (for
	// metrics and tests).
	OnReconcile func(time.Duration, error)
	// Autoscale tunes the autoscaler (window, cooldown).
	Autoscale AutoscaleConfig
	// Operation advances connector operations; nil leaves them alone.
	Operation OperationFunc
}

// OpObservation is what the leader observed of the workload a connector operation changes.
type OpObservation struct {
	// Settled: every desired worker runs its current assignment and reports RUNNING.
	Settled bool
	// FailCode and FailMessage describe a worker that failed on its current assignment.
	FailCode, FailMessage string
	// Waiting says what an unsettled workload waits for (capacity, workers starting).
	Waiting string
}

// OperationFunc advances a connector operation from what the leader observed of its connector
// r; it returns the change to apply, or nil when nothing changes yet. A change that replaces
// the connector's description or restarts its workers is applied before the plan is computed.
type OperationFunc func(op *store.Operation, r *store.Resource, obs OpObservation, now time.Time) (*store.OpChange, error)

// Leader runs the scheduler on whichever replica holds the leadership lock.
type Leader struct {
	cfg LeaderConfig
	log *slog.Logger
	// lastDesc remembers the unplaceable reasons already recorded, so that a standing shortage
	// is one event, not one per second.
	lastDesc map[string]string
	// lastWithheld does the same for withheld tasks.
	lastWithheld map[string]string
	lastPrune    time.Time
}

// NewLeader validates cfg and fills its defaults.
func NewLeader(cfg LeaderConfig) (*Leader, error) {
	if cfg.Store == nil || cfg.Shape == nil {
		return nil, errors.New("scheduler: Store and Shape are required")
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Autoscale = cfg.Autoscale.withDefaults()
	return &Leader{cfg: cfg, log: cfg.Logger.With("component", "scheduler", "replica", cfg.ID), lastDesc: map[string]string{},
		lastWithheld: map[string]string{}}, nil
}

// Run competes for leadership until ctx is done, and reconciles while it leads.
func (l *Leader) Run(ctx context.Context) {
	for ctx.Err() == nil {
		lead, err := l.cfg.Store.LeaderAcquire(ctx, l.cfg.ID)
		if err != nil && ctx.Err() == nil {
			l.log.Warn("leadership: cannot reach the database", "error", err)
		}
		if lead == nil {
			select {
			case <-ctx.Done():
			case <-time.After(l.cfg.Interval):
			}
			continue
		}
		l.log.Info("became scheduler leader", "term", lead.Term)
		l.lead(ctx, lead)
		lead.Release()
		if ctx.Err() == nil {
			l.log.Warn("lost scheduler leadership", "term", lead.Term)
		}
	}
}

func (l *Leader) lead(ctx context.Context, lead *store.Leadership) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kick := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.cfg.Store.Listen(ctx, func(string, string) {
			select {
			case kick <- struct{}{}:
			default:
			}
		}, store.NotifyScheduler)
	}()
	defer func() { cancel(); <-done }()
	t := time.NewTicker(l.cfg.Interval)
	defer t.Stop()
	l.lastDesc = map[string]string{}
	l.lastWithheld = map[string]string{}
	for {
		start := time.Now()
		err := l.Reconcile(ctx, lead.Term)
		if l.cfg.OnReconcile != nil {
			l.cfg.OnReconcile(time.Since(start), err)
		}
		if errors.Is(err, store.ErrTermChanged) {
			return
		}
		if err != nil && ctx.Err() == nil {
			l.log.Error("reconcile failed", "error", err)
		}
		if err := lead.Check(ctx); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-t.C:
		}
	}
}

// workloadRef is a workload resource with its table and kind.
type workloadRef struct {
	kind  string
	table *store.Resources
	r     *store.Resource
}

// Reconcile runs one full reconcile: expire silent agents, advance connector operations,
// snapshot, autoscale, plan, hold back tasks that are still being handed over, and apply the
// plan with the workloads' state changes in one transaction bound to term.
func (l *Leader) Reconcile(ctx context.Context, term int64) error {
	if _, err := l.cfg.Store.AgentsExpire(ctx, l.cfg.LeaseTTL); err != nil {
		return fmt.Errorf("expire agents: %w", err)
	}
	// An operation step that changes a connector's description is applied on its own, and the
	// snapshot is read again: the plan must see the new shape and epochs.
	for range 3 {
		again, err := l.reconcileOnce(ctx, term)
		if err != nil || !again {
			return err
		}
	}
	return nil
}

func (l *Leader) reconcileOnce(ctx context.Context, term int64) (again bool, err error) {
	st := l.cfg.Store
	now := time.Now()
	agents, err := st.Agents(ctx)
	if err != nil {
		return false, err
	}
	rows, err := st.Workers(ctx)
	if err != nil {
		return false, err
	}
	var refs []workloadRef
	for _, src := range []struct {
		kind  string
		table *store.Resources
	}{{"connector", st.Connectors}, {"replicator", st.Replicators}} {
		rs, err := src.table.All(ctx)
		if err != nil {
			return false, err
		}
		for _, r := range rs {
			refs = append(refs, workloadRef{kind: src.kind, table: src.table, r: r})
		}
	}
	ops := map[string]*store.Operation{}
	if l.cfg.Operation != nil {
		active, err := st.ActiveOperations(ctx)
		if err != nil {
			return false, err
		}
		for _, op := range active {
			if ops[op.ConnectorARN] == nil {
				ops[op.ConnectorARN] = op
			}
		}
	}
	scales, err := st.AutoscaleStates(ctx)
	if err != nil {
		return false, err
	}
	util, err := st.WorkloadUtilization(ctx, now.Add(-l.cfg.Autoscale.Window), now)
	if err != nil {
		return false, err
	}
	if now.Sub(l.lastPrune) > time.Minute {
		l.lastPrune = now
		if _, err := st.WorkerSamplesPrune(ctx, now.Add(-3*max(l.cfg.Autoscale.Window, l.cfg.Autoscale.Cooldown))); err != nil {
			l.log.Warn("prune utilization samples", "error", err)
		}
	}

	snap := Snapshot{}
	alive := map[string]bool{}
	for _, a := range agents {
		snap.Agents = append(snap.Agents, Agent{ID: a.ID, MCU: a.MCUCapacity, Alive: a.State != store.AgentDead,
			Draining: a.State == store.AgentDraining})
		alive[a.ID] = a.State != store.AgentDead
	}
	byWorkload := map[string][]store.Worker{}
	current := map[string]store.Worker{}
	for _, w := range rows {
		byWorkload[w.WorkloadARN] = append(byWorkload[w.WorkloadARN], w)
		current[w.ID] = w
		if !w.Stopping {
			snap.Workers = append(snap.Workers, Worker{ID: w.ID, WorkloadARN: w.WorkloadARN, Ordinal: w.Ordinal,
				AgentID: w.AgentID, Epoch: w.Epoch, MCU: w.MCU, Tasks: w.Tasks})
		}
	}
	var p store.Plan
	p.Term = term
	kinds := map[string]string{}
	failing := map[string]bool{}
	taskCount := map[string]int{}
	shapes := map[string]Shape{}
	var structural []store.OpChange
	for _, ref := range refs {
		r := ref.r
		kinds[r.ARN] = ref.kind
		switch r.State {
		case "DELETING", "FAILED":
			if op := ops[r.ARN]; op != nil {
				if ch, err := l.cfg.Operation(op, r, OpObservation{Waiting: "the connector is " + r.State}, now); err != nil {
					l.log.Error("connector operation", "workload_arn", r.ARN, "operation_arn", op.ARN, "error", err)
				} else if ch != nil {
					ch.Table, ch.ARN, ch.Doc, ch.State, ch.Restart = nil, r.ARN, nil, "", false
					p.Ops = append(p.Ops, *ch)
				}
			}
			if sc, ok := scales[r.ARN]; ok && r.State == "FAILED" {
				p.Autoscale = append(p.Autoscale, store.AutoscaleState{WorkloadARN: sc.WorkloadARN, Workers: -1})
			}
			continue // not listed: its workers stop
		}
		sh, err := l.cfg.Shape(ref.kind, r)
		if err != nil {
			l.log.Error("workload shape", "workload_arn", r.ARN, "error", err)
			continue
		}
		op := ops[r.ARN]
		if sh.FailCode == "" {
			if sh.Autoscale != nil {
				sc, known := scales[r.ARN]
				sc.WorkloadARN = r.ARN
				u, hasU := util[r.ARN]
				running := sh // the shape the workers were placed for: the recorded count
				if known {
					running.Workers = sc.Workers
					if sh.Autoscale.TasksFor != nil {
						running.Tasks = sh.Autoscale.TasksFor(sc.Workers)
					}
				}
				n, change := autoscaleStep(l.cfg.Autoscale, now, autoscaleInput{policy: *sh.Autoscale, state: sc, known: known,
					util: u, hasUtil: hasU, settled: settled(byWorkload[r.ARN], running).Settled, busy: op != nil})
				if change != nil {
					p.Autoscale = append(p.Autoscale, *change)
					p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "autoscale", Reason: change.Reason})
				}
				sh.Workers = n
				if sh.Autoscale.TasksFor != nil {
					sh.Tasks = sh.Autoscale.TasksFor(n)
				}
			} else if _, ok := scales[r.ARN]; ok {
				p.Autoscale = append(p.Autoscale, store.AutoscaleState{WorkloadARN: r.ARN, Workers: -1})
			}
		}
		if op != nil {
			obs := settled(byWorkload[r.ARN], sh)
			obs.FailCode, obs.FailMessage = sh.FailCode, sh.FailMessage
			if obs.FailCode == "" {
				obs.FailCode, obs.FailMessage = failure(byWorkload[r.ARN])
			}
			ch, err := l.cfg.Operation(op, r, obs, now)
			if err != nil {
				l.log.Error("connector operation", "workload_arn", r.ARN, "operation_arn", op.ARN, "error", err)
			} else if ch != nil {
				if ch.Table == nil {
					ch.Table, ch.ARN = ref.table, r.ARN
				}
				if ch.Doc != nil || ch.Restart {
					structural = append(structural, *ch)
				} else {
					p.Ops = append(p.Ops, *ch)
				}
			}
			if sh.FailCode != "" {
				continue // a failed target is the operation's to roll back
			}
		}
		code, msg := sh.FailCode, sh.FailMessage
		if code == "" && op == nil {
			code, msg = permanentFailure(byWorkload[r.ARN])
		}
		if code != "" {
			failing[r.ARN] = true
			p.States = append(p.States, store.WorkloadState{Table: ref.table, ARN: r.ARN, State: "FAILED", StateCode: code, StateMessage: msg, From: r.State})
			p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "failed", Reason: code + ": " + msg})
			continue
		}
		// Stopping rows are not in the snapshot, but their epochs are: a re-created worker must
		// not reuse the epoch its stopping predecessor (same id) still reports.
		var floor int64
		for _, w := range byWorkload[r.ARN] {
			floor = max(floor, w.Epoch)
		}
		taskCount[r.ARN] = sh.Tasks
		shapes[r.ARN] = sh
		snap.Workloads = append(snap.Workloads, Workload{ARN: r.ARN, Workers: sh.Workers, MCU: sh.MCU, Tasks: sh.Tasks, EpochFloor: floor})
	}
	if len(structural) > 0 {
		events := opEvents(structural)
		if err := st.ApplyPlan(ctx, store.Plan{Term: term, Ops: structural, Events: events}); err != nil {
			return false, err
		}
		for _, e := range events {
			l.log.Info("decision", "kind", e.Kind, "workload_arn", e.WorkloadARN, "reason", e.Reason)
		}
		return true, nil
	}

	plan := Reconcile(snap)
	planned := map[string][]*store.Worker{}
	var order []*store.Worker
	for _, w := range plan.Workers {
		sw := &store.Worker{ID: w.ID, WorkloadARN: w.WorkloadARN, WorkloadKind: kinds[w.WorkloadARN],
			Ordinal: w.Ordinal, AgentID: w.AgentID, Epoch: w.Epoch, MCU: w.MCU, Tasks: w.Tasks, TaskCount: taskCount[w.WorkloadARN]}
		planned[w.WorkloadARN] = append(planned[w.WorkloadARN], sw)
		order = append(order, sw)
	}
	for arn, ws := range planned {
		var hs []holder
		for _, row := range byWorkload[arn] {
			hs = append(hs, holder{row: row, alive: row.AgentID != "" && alive[row.AgentID]})
		}
		for id, why := range withholdTasks(ws, hs, taskCount[arn]) {
			if l.lastWithheld[id] != why {
				l.lastWithheld[id] = why
				p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: arn, Kind: "handoff", Reason: why, WorkerID: id})
			}
		}
	}
	desired := map[string]bool{}
	placedOK := map[string]bool{}
	for _, w := range order {
		desired[w.ID] = true
		if _, ok := placedOK[w.WorkloadARN]; !ok {
			placedOK[w.WorkloadARN] = true
		}
		cur, had := current[w.ID]
		if had && !cur.Stopping {
			// Withheld tasks may make the assignment what it already is: keep the epoch then;
			// any other change needs a newer one than the current.
			same := cur.AgentID == w.AgentID && cur.MCU == w.MCU && equal(cur.Tasks, w.Tasks) && cur.TaskCount == w.TaskCount
			if same {
				w.Epoch = cur.Epoch
			} else {
				w.Epoch = max(w.Epoch, cur.Epoch+1)
			}
		}
		if !had || cur.Stopping || cur.AgentID != w.AgentID || cur.Epoch != w.Epoch || !equal(cur.Tasks, w.Tasks) || cur.TaskCount != w.TaskCount {
			p.Workers = append(p.Workers, *w)
		}
		running := had && w.AgentID != "" && cur.Report.State == "RUNNING" && cur.Report.Epoch == w.Epoch && cur.Report.AgentID == w.AgentID
		if !running {
			placedOK[w.WorkloadARN] = false
		}
	}
	for arn := range placedOK {
		if !allTasks(planned[arn], taskCount[arn]) {
			placedOK[arn] = false // tasks are being handed over
		}
	}
	for _, w := range rows {
		if !w.Stopping && !desired[w.ID] {
			p.Stop = append(p.Stop, w.ID)
		}
	}
	changed := map[string]bool{}
	for _, w := range p.Workers {
		changed[w.ID] = true
	}
	for _, d := range plan.Decisions {
		if d.Kind == KindUnplaceable {
			continue
		}
		if d.Kind != KindStop && !changed[d.WorkerID] {
			continue // undone by the task handoff: nothing changed yet (recorded when it does)
		}
		p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: d.WorkloadARN, Kind: string(d.Kind), Reason: d.Reason,
			AgentID: d.AgentID, WorkerID: d.WorkerID})
	}
	unplaceable := map[string]string{}
	for _, d := range plan.Decisions {
		if d.Kind == KindUnplaceable {
			unplaceable[d.WorkloadARN] = d.Reason
		}
	}

	for _, ref := range refs {
		r := ref.r
		switch {
		case r.State == "DELETING":
			if len(byWorkload[r.ARN]) == 0 {
				p.Remove = append(p.Remove, store.RemoveWorkload{Table: ref.table, ARN: r.ARN})
				l.log.Info("workload deleted", "workload_arn", r.ARN)
			}
		case r.State == "FAILED" || failing[r.ARN]:
		case plan.MissingMCU[r.ARN] > 0:
			msg := fmt.Sprintf("waiting for capacity: %d MCU missing in the fleet. %s", plan.MissingMCU[r.ARN], unplaceable[r.ARN])
			if l.lastDesc[r.ARN] != msg {
				p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "unplaceable", Reason: msg})
				l.lastDesc[r.ARN] = msg
			}
			if r.StateCode != "INSUFFICIENT_CAPACITY" || r.StateMessage != msg {
				p.States = append(p.States, store.WorkloadState{Table: ref.table, ARN: r.ARN, State: r.State,
					StateCode: "INSUFFICIENT_CAPACITY", StateMessage: msg, From: r.State})
			}
		case placedOK[r.ARN] && r.State == "CREATING":
			delete(l.lastDesc, r.ARN)
			p.States = append(p.States, store.WorkloadState{Table: ref.table, ARN: r.ARN, State: "RUNNING", From: r.State})
			p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "running", Reason: "every worker reports its tasks running"})
		case r.State == "CREATING":
			// Say what the workload waits for: its workers starting, tasks being handed over.
			msg := settled(byWorkload[r.ARN], shapes[r.ARN]).Waiting
			if msg == "" {
				msg = "workers are starting"
			}
			msg = "waiting: " + msg
			if r.StateCode != "WAITING_FOR_WORKERS" || r.StateMessage != msg {
				p.States = append(p.States, store.WorkloadState{Table: ref.table, ARN: r.ARN, State: r.State,
					StateCode: "WAITING_FOR_WORKERS", StateMessage: msg, From: r.State})
			}
		case r.StateCode == "INSUFFICIENT_CAPACITY":
			delete(l.lastDesc, r.ARN)
			p.States = append(p.States, store.WorkloadState{Table: ref.table, ARN: r.ARN, State: r.State, From: r.State})
		}
	}
	p.Events = append(p.Events, opEvents(p.Ops)...)
	if len(p.Workers) == 0 && len(p.Stop) == 0 && len(p.States) == 0 && len(p.Remove) == 0 && len(p.Events) == 0 &&
		len(p.Autoscale) == 0 && len(p.Ops) == 0 {
		return false, nil
	}
	sort.Strings(p.Stop)
	if err := st.ApplyPlan(ctx, p); err != nil {
		return false, err
	}
	// Every decision is in the structured log too, with its reason.
	for _, e := range p.Events {
		l.log.Info("decision", "kind", e.Kind, "workload_arn", e.WorkloadARN, "worker_id", e.WorkerID, "agent_id", e.AgentID, "reason", e.Reason)
	}
	return false, nil
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

// permanentFailure returns the code and message of a worker's permanent error, if any worker
// of the workload reported one for its current assignment.
func permanentFailure(ws []store.Worker) (string, string) {
	for _, w := range ws {
		if w.Stopping || w.Report.State != "FAILED" || w.Report.Epoch != w.Epoch {
			continue
		}
		code, msg, ok := strings.Cut(w.Report.Error, ": ")
		if ok && contains(catalog.PermanentCodes, code) {
			return code, msg
		}
	}
	return "", ""
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
