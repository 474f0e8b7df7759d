package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	// HealthBound is how long a worker may report cluster trouble (an unreachable cluster, a
	// refused login, a name that does not resolve) before its workload is FAILED with it;
	// default 60s. The workload is RUNNING again once no worker reports trouble.
	HealthBound time.Duration
	// Retention bounds the tables that grow with time (workload events, worker metrics and
	// utilization samples); the leader prunes them.
	Retention RetentionConfig
}

// RetentionConfig says how long the leader keeps what grows with time. Zero values take the
// defaults.
type RetentionConfig struct {
	// EventsMaxAge: workload events older than this are deleted; default 7 days.
	EventsMaxAge time.Duration
	// EventsPerWorkload: of each workload only the newest this many events are kept; default
	// 1000.
	EventsPerWorkload int
	// Interval is how often the leader prunes; default 1 minute.
	Interval time.Duration
	// Batch is how many rows one delete statement removes (store.DefaultPruneBatch when 0).
	Batch int
}

func (c RetentionConfig) withDefaults() RetentionConfig {
	if c.EventsMaxAge <= 0 {
		c.EventsMaxAge = 7 * 24 * time.Hour
	}
	if c.EventsPerWorkload <= 0 {
		c.EventsPerWorkload = 1000
	}
	if c.Interval <= 0 {
		c.Interval = time.Minute
	}
	return c
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
	// seen remembers the unplaceable reasons and withheld tasks already recorded, so that a
	// standing shortage is one event, not one per second.
	seen memo
	// lastContact is when this leader last reconciled with the database; zero at the start of
	// a term (renewLeasesAfterGap).
	lastContact time.Time
}

// NewLeader validates cfg and fills its defaults.
func NewLeader(cfg LeaderConfig) (*Leader, error) {
	if cfg.Store == nil || cfg.Shape == nil {
		return nil, errors.New("scheduler: Store and Shape are required")
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 10 * time.Second
	}
	if cfg.HealthBound <= 0 {
		cfg.HealthBound = 60 * time.Second
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Autoscale = cfg.Autoscale.withDefaults()
	cfg.Retention = cfg.Retention.withDefaults()
	return &Leader{cfg: cfg, log: cfg.Logger.With("component", "scheduler", "replica", cfg.ID), seen: newMemo()}, nil
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
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		l.pruneLoop(ctx)
	}()
	defer func() { cancel(); <-done; <-pruned }()
	t := time.NewTicker(l.cfg.Interval)
	defer t.Stop()
	l.seen = newMemo()
	l.lastContact = time.Time{} // a new term judges no lease on heartbeats it did not see
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

// MaxSampleInterval is the longest interval at which agents may measure workers for this
// leader's autoscaler (AutoscaleConfig.MaxSampleInterval): the agent gateway tells agents.
func (l *Leader) MaxSampleInterval() time.Duration { return l.cfg.Autoscale.MaxSampleInterval() }

// Reconcile runs one full reconcile: expire silent agents, then read → decide → apply (see
// decide.go): advance connector operations, autoscale, plan, hold back tasks that are still
// being handed over, and apply the plan with the workloads' state changes in one transaction
// bound to term.
func (l *Leader) Reconcile(ctx context.Context, term int64) error {
	if err := l.renewLeasesAfterGap(ctx); err != nil {
		return err
	}
	if _, err := l.cfg.Store.AgentsExpire(ctx, l.cfg.LeaseTTL); err != nil {
		return fmt.Errorf("expire agents: %w", err)
	}
	l.lastContact = time.Now()
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

// renewLeasesAfterGap gives every agent a fresh lease when this leader cannot vouch that the
// database could record heartbeats over the last lease: at the start of a term, and after a
// gap of more than a third of the lease TTL since its last successful contact (a database
// outage; the leader reconciles every Interval otherwise). Without it, a database outage
// longer than the TTL would be followed by every agent declared DEAD and the whole fleet moved,
// though no agent missed a heartbeat that could have been recorded. A truly dead agent is
// declared one TTL after the renewal instead.
func (l *Leader) renewLeasesAfterGap(ctx context.Context) error {
	gap := time.Since(l.lastContact)
	if !l.lastContact.IsZero() && gap <= max(l.cfg.LeaseTTL/3, 3*l.cfg.Interval) {
		return nil
	}
	n, err := l.cfg.Store.AgentsRenewLeases(ctx)
	if err != nil {
		return fmt.Errorf("renew agent leases: %w", err)
	}
	if n > 0 {
		reason := "a new leadership term"
		if !l.lastContact.IsZero() {
			reason = fmt.Sprintf("no contact with the database for %s", gap.Round(time.Millisecond))
		}
		l.log.Info("agent leases renewed", "agents", n, "reason", reason)
	}
	return nil
}

// reconcileOnce reads the store, decides a plan and applies it. It returns again when the plan
// was an operation's structural step, which the next plan must see.
func (l *Leader) reconcileOnce(ctx context.Context, term int64) (again bool, err error) {
	v, err := l.read(ctx)
	if err != nil {
		return false, err
	}
	vd := decide(v, l.seen, l.cfg.Autoscale, l.cfg.Operation)
	if err := l.apply(ctx, term, vd); err != nil {
		return false, err
	}
	return vd.again, nil
}

// read gathers what decide needs: agents, worker rows, workloads with their shapes, active
// operations, autoscale states and utilization.
func (l *Leader) read(ctx context.Context) (*view, error) {
	st := l.cfg.Store
	v := &view{now: time.Now(), healthBound: l.cfg.HealthBound, ops: map[string]*store.Operation{}}
	var err error
	if v.agents, err = st.Agents(ctx); err != nil {
		return nil, err
	}
	if v.workers, err = st.Workers(ctx); err != nil {
		return nil, err
	}
	for _, src := range []struct {
		kind  string
		table *store.Resources
	}{{"connector", st.Connectors}, {"replicator", st.Replicators}} {
		rs, err := src.table.All(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			v.workloads = append(v.workloads, workloadView{kind: src.kind, table: src.table, r: r})
		}
	}
	if l.cfg.Operation != nil {
		active, err := st.ActiveOperations(ctx)
		if err != nil {
			return nil, err
		}
		for _, op := range active {
			if v.ops[op.ConnectorARN] == nil {
				v.ops[op.ConnectorARN] = op
			}
		}
	}
	if v.scales, err = st.AutoscaleStates(ctx); err != nil {
		return nil, err
	}
	if v.util, err = st.WorkloadUtilization(ctx, v.now.Add(-l.cfg.Autoscale.Window), v.now); err != nil {
		return nil, err
	}
	for i := range v.workloads {
		w := &v.workloads[i]
		if w.r.State == "DELETING" || (w.r.State == "FAILED" && !slices.Contains(catalog.HealthCodes, w.r.StateCode)) {
			continue // not placed: no shape needed (a workload FAILED for cluster trouble keeps running)
		}
		if w.shape, err = l.cfg.Shape(w.kind, w.r); err != nil {
			l.log.Error("workload shape", "workload_arn", w.r.ARN, "error", err)
			w.noShape = true
		}
	}
	return v, nil
}

// pruneLoop prunes while this replica leads, every Retention.Interval, beside the reconcile
// loop: a backlog drains in batches without delaying a reconcile.
func (l *Leader) pruneLoop(ctx context.Context) {
	t := time.NewTicker(l.cfg.Retention.Interval)
	defer t.Stop()
	for {
		l.Prune(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune deletes what is past retention: utilization samples too old for any autoscale
// decision, workload events older than Retention.EventsMaxAge or beyond the newest
// Retention.EventsPerWorkload of their workload, and the metrics of workers that are gone.
func (l *Leader) Prune(ctx context.Context, now time.Time) {
	st, r := l.cfg.Store, l.cfg.Retention
	report := func(what string, n int64, err error) {
		switch {
		case err != nil && ctx.Err() == nil:
			l.log.Warn("prune "+what, "error", err)
		case n > 0:
			l.log.Debug("pruned "+what, "rows", n)
		}
	}
	n, err := st.WorkerSamplesPrune(ctx, now.Add(-3*max(l.cfg.Autoscale.Window, l.cfg.Autoscale.Cooldown)), r.Batch)
	report("utilization samples", n, err)
	n, err = st.WorkloadEventsPrune(ctx, now.Add(-r.EventsMaxAge), r.EventsPerWorkload, r.Batch)
	report("workload events", n, err)
	n, err = st.WorkerMetricsPrune(ctx, r.Batch)
	report("worker metrics", n, err)
}

// apply logs the operation errors, remembers what the verdict recorded, writes its plan bound
// to term and logs every decision with its reason.
func (l *Leader) apply(ctx context.Context, term int64, vd verdict) error {
	for _, e := range vd.opErrors {
		l.log.Error("connector operation", "workload_arn", e.workloadARN, "operation_arn", e.operationARN, "error", e.err)
	}
	l.seen.update(vd.remember)
	if empty(vd.plan) {
		return nil
	}
	for _, rm := range vd.plan.Remove {
		l.log.Info("workload deleted", "workload_arn", rm.ARN)
	}
	p := vd.plan
	p.Term = term
	if err := l.cfg.Store.ApplyPlan(ctx, p); err != nil {
		return err
	}
	// Every decision is in the structured log too, with its reason.
	for _, e := range p.Events {
		l.log.Info("decision", "kind", e.Kind, "workload_arn", e.WorkloadARN, "worker_id", e.WorkerID, "agent_id", e.AgentID, "reason", e.Reason)
	}
	return nil
}
