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
)

// Shape is what the leader needs to know of a workload's resource: how many workers of what
// size with how many tasks, or why it cannot run at all (FailCode set → FAILED).
type Shape struct {
	Workers, MCU, Tasks   int
	FailCode, FailMessage string
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
}

// Leader runs the scheduler on whichever replica holds the leadership lock.
type Leader struct {
	cfg LeaderConfig
	log *slog.Logger
	// lastDesc remembers the unplaceable reasons already recorded, so that a standing shortage
	// is one event, not one per second.
	lastDesc map[string]string
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
	return &Leader{cfg: cfg, log: cfg.Logger.With("component", "scheduler", "replica", cfg.ID), lastDesc: map[string]string{}}, nil
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

// permanentCodes are worker error codes that fail a workload instead of being retried.
var permanentCodes = []string{"UNKNOWN_CONNECTOR_CLASS", "INVALID_CONFIGURATION", "CLUSTER_UNREACHABLE"}

// workloadRef is a workload resource with its table and kind.
type workloadRef struct {
	kind  string
	table *store.Resources
	r     *store.Resource
}

// Reconcile runs one full reconcile: expire silent agents, snapshot, plan, and apply the plan
// with the workloads' state changes in one transaction bound to term.
func (l *Leader) Reconcile(ctx context.Context, term int64) error {
	st := l.cfg.Store
	if _, err := st.AgentsExpire(ctx, l.cfg.LeaseTTL); err != nil {
		return fmt.Errorf("expire agents: %w", err)
	}
	agents, err := st.Agents(ctx)
	if err != nil {
		return err
	}
	rows, err := st.Workers(ctx)
	if err != nil {
		return err
	}
	var refs []workloadRef
	for _, src := range []struct {
		kind  string
		table *store.Resources
	}{{"connector", st.Connectors}, {"replicator", st.Replicators}} {
		rs, err := src.table.All(ctx)
		if err != nil {
			return err
		}
		for _, r := range rs {
			refs = append(refs, workloadRef{kind: src.kind, table: src.table, r: r})
		}
	}

	snap := Snapshot{}
	for _, a := range agents {
		snap.Agents = append(snap.Agents, Agent{ID: a.ID, MCU: a.MCUCapacity, Alive: a.State != store.AgentDead,
			Draining: a.State == store.AgentDraining})
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
	for _, ref := range refs {
		r := ref.r
		kinds[r.ARN] = ref.kind
		switch r.State {
		case "DELETING", "FAILED":
			continue // not listed: its workers stop
		}
		sh, err := l.cfg.Shape(ref.kind, r)
		if err != nil {
			l.log.Error("workload shape", "workload_arn", r.ARN, "error", err)
			continue
		}
		code, msg := sh.FailCode, sh.FailMessage
		if code == "" {
			code, msg = permanentFailure(byWorkload[r.ARN])
		}
		if code != "" {
			failing[r.ARN] = true
			p.States = append(p.States, store.WorkloadState{Table: ref.table, ARN: r.ARN, State: "FAILED", StateCode: code, StateMessage: msg})
			p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "failed", Reason: code + ": " + msg})
			continue
		}
		// Stopping rows are not in the snapshot, but their epochs are: a re-created worker must
		// not reuse the epoch its stopping predecessor (same id) still reports.
		var floor int64
		for _, w := range byWorkload[r.ARN] {
			floor = max(floor, w.Epoch)
		}
		snap.Workloads = append(snap.Workloads, Workload{ARN: r.ARN, Workers: sh.Workers, MCU: sh.MCU, Tasks: sh.Tasks, EpochFloor: floor})
	}

	plan := Reconcile(snap)
	desired := map[string]bool{}
	placedOK := map[string]bool{}
	for _, w := range plan.Workers {
		desired[w.ID] = true
		if _, ok := placedOK[w.WorkloadARN]; !ok {
			placedOK[w.WorkloadARN] = true
		}
		cur, had := current[w.ID]
		if !had || cur.Stopping || cur.AgentID != w.AgentID || cur.Epoch != w.Epoch || !equal(cur.Tasks, w.Tasks) {
			p.Workers = append(p.Workers, store.Worker{ID: w.ID, WorkloadARN: w.WorkloadARN, WorkloadKind: kinds[w.WorkloadARN],
				Ordinal: w.Ordinal, AgentID: w.AgentID, Epoch: w.Epoch, MCU: w.MCU, Tasks: w.Tasks})
		}
		running := had && w.AgentID != "" && cur.Report.State == "RUNNING" && cur.Report.Epoch == w.Epoch && cur.Report.AgentID == w.AgentID
		if !running {
			placedOK[w.WorkloadARN] = false
		}
	}
	for _, w := range rows {
		if !w.Stopping && !desired[w.ID] {
			p.Stop = append(p.Stop, w.ID)
		}
	}
	for _, d := range plan.Decisions {
		if d.Kind == KindUnplaceable {
			continue
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
					StateCode: "INSUFFICIENT_CAPACITY", StateMessage: msg})
			}
		case placedOK[r.ARN] && r.State == "CREATING":
			delete(l.lastDesc, r.ARN)
			p.States = append(p.States, store.WorkloadState{Table: ref.table, ARN: r.ARN, State: "RUNNING"})
			p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: r.ARN, Kind: "running", Reason: "every worker reports its tasks running"})
		case r.StateCode == "INSUFFICIENT_CAPACITY":
			delete(l.lastDesc, r.ARN)
			p.States = append(p.States, store.WorkloadState{Table: ref.table, ARN: r.ARN, State: r.State})
		}
	}
	if len(p.Workers) == 0 && len(p.Stop) == 0 && len(p.States) == 0 && len(p.Remove) == 0 && len(p.Events) == 0 {
		return nil
	}
	sort.Strings(p.Stop)
	return st.ApplyPlan(ctx, p)
}

// permanentFailure returns the code and message of a worker's permanent error, if any worker
// of the workload reported one for its current assignment.
func permanentFailure(ws []store.Worker) (string, string) {
	for _, w := range ws {
		if w.Stopping || w.Report.State != "FAILED" || w.Report.Epoch != w.Epoch {
			continue
		}
		code, msg, ok := strings.Cut(w.Report.Error, ": ")
		if ok && contains(permanentCodes, code) {
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
