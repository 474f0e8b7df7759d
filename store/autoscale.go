package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// Utilization is a workload's average worker utilization over a window of samples.
type Utilization struct {
	// CPU and Memory are mean fractions (1 = 100 % of the workers' MCU).
	CPU, Memory float64
	// Samples counts the samples averaged; Oldest and Newest bound them in time.
	Samples        int
	Oldest, Newest time.Time
	// ThirdCPU and ThirdSamples are the mean CPU and the sample count of each third of the
	// window, oldest first: utilization that "stays" beyond a threshold does so in each.
	ThirdCPU     [3]float64
	ThirdSamples [3]int
}

// AutoscaleState is the autoscaler's standing decision for a workload.
type AutoscaleState struct {
	WorkloadARN string
	Workers     int
	ChangedAt   time.Time
	Reason      string
	// Observed is what the autoscaler last saw of the workload; nil when not recorded yet.
	// Writing a state leaves the recorded observation alone (Plan.Observations writes it).
	Observed *AutoscaleObservation
}

// AutoscaleObservation is one look of the autoscaler at a workload: the utilization of each
// third of its window against the thresholds, and what it decided or why it did not.
type AutoscaleObservation struct {
	WorkloadARN string    `json:"-"`
	At          time.Time `json:"at"`
	// Window is the autoscaler's window; Workers the worker count it decided about.
	Window  time.Duration `json:"window"`
	Workers int           `json:"workers"`
	// ThirdCPU (percent) and ThirdSamples are each third's mean CPU utilization and sample
	// count, oldest first.
	ThirdCPU     [3]float64 `json:"thirdCpuPercent"`
	ThirdSamples [3]int     `json:"thirdSamples"`
	// ScaleOutCPU and ScaleInCPU are the policy's thresholds, in percent.
	ScaleOutCPU float64 `json:"scaleOutCpuPercent"`
	ScaleInCPU  float64 `json:"scaleInCpuPercent"`
	// Decision is one of the Decision constants; Reason says why.
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

// The autoscaler's decisions.
const (
	DecisionScaleOut = "scale-out"
	DecisionScaleIn  = "scale-in"
	DecisionStart    = "start"  // the first count: the policy's minimum
	DecisionLimits   = "limits" // the count brought within a changed policy's limits
	DecisionHold     = "hold"   // the samples ask for no step, or a limit is reached
	DecisionWait     = "wait"   // no decision possible yet (cooldown, too few samples, moving)
)

// scanObservation decodes an autoscale_state.observation column.
func scanObservation(arn string, raw []byte) (*AutoscaleObservation, error) {
	if raw == nil {
		return nil, nil
	}
	o := &AutoscaleObservation{WorkloadARN: arn}
	if err := json.Unmarshal(raw, o); err != nil {
		return nil, fmt.Errorf("autoscale observation of %s: %w", arn, err)
	}
	return o, nil
}

// OpChange is an operation's progress, applied with a plan: the operation's new state and
// documents, and optionally the workload's new description (Doc/Secret) and state.
type OpChange struct {
	Op *Operation
	// Table and ARN name the connector. Doc and Secret, when Doc is non-nil, replace its
	// description (a step applies the target, a rollback the origin). State, when set,
	// replaces its state (UPDATING while the operation runs; RUNNING or FAILED at its end).
	Table       *Resources
	ARN         string
	Doc, Secret []byte
	State       string
	// StateCode and StateMessage explain State (e.g. why a replicator update ends FAILED).
	StateCode, StateMessage string
	// Restart bumps the epoch of every worker of the workload, so that each restarts with
	// the new description and the scheduler can tell reports of the new one from the old.
	Restart bool
	// Note, when set, is recorded as an event of the workload.
	Note string
}

// WorkerSamplePut records one utilization sample of a worker that is still desired at that
// epoch (samples of a stopping worker or of an older assignment are dropped: they describe a
// worker set the autoscaler no longer decides about).
func (s *Store) WorkerSamplePut(ctx context.Context, workerID string, epoch int64, at time.Time, cpu, memory float64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO worker_samples (worker_id, workload_arn, at, cpu, memory)
		SELECT id, workload_arn, $3, $4, $5 FROM workers WHERE id = $1 AND epoch = $2 AND NOT stopping`,
		workerID, epoch, at, cpu, memory)
	return interpret(err)
}

// WorkerSamplesPrune deletes samples older than before, in batches (see prune.go; batch 0 =
// DefaultPruneBatch).
func (s *Store) WorkerSamplesPrune(ctx context.Context, before time.Time, batch int) (int64, error) {
	return s.pruneBatches(ctx, batch, `DELETE FROM worker_samples WHERE ctid IN (
		SELECT ctid FROM worker_samples WHERE at < $2 LIMIT $1)`, before)
}

// WorkloadUtilization averages every workload's samples of the window (since, until], as a
// whole and by thirds.
func (s *Store) WorkloadUtilization(ctx context.Context, since, until time.Time) (map[string]Utilization, error) {
	third := until.Sub(since).Seconds() / 3
	rows, err := s.pool.Query(ctx, `SELECT workload_arn, least(2, greatest(0, floor(extract(epoch FROM at - $1) / $3)))::int AS part,
			sum(cpu), sum(memory), count(*), min(at), max(at)
		FROM worker_samples WHERE at > $1 AND at <= $2 GROUP BY workload_arn, part`, since, until, max(third, 1e-3))
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	type acc struct {
		u           Utilization
		cpu, memory float64
	}
	accs := map[string]*acc{}
	for rows.Next() {
		var arn string
		var part, n int
		var cpu, memory float64
		var oldest, newest time.Time
		if err := rows.Scan(&arn, &part, &cpu, &memory, &n, &oldest, &newest); err != nil {
			return nil, interpret(err)
		}
		a := accs[arn]
		if a == nil {
			a = &acc{u: Utilization{Oldest: oldest, Newest: newest}}
			accs[arn] = a
		}
		a.cpu, a.memory, a.u.Samples = a.cpu+cpu, a.memory+memory, a.u.Samples+n
		a.u.ThirdCPU[part], a.u.ThirdSamples[part] = cpu/float64(n), n
		if oldest.Before(a.u.Oldest) {
			a.u.Oldest = oldest
		}
		if newest.After(a.u.Newest) {
			a.u.Newest = newest
		}
	}
	if err := rows.Err(); err != nil {
		return nil, interpret(err)
	}
	out := make(map[string]Utilization, len(accs))
	for arn, a := range accs {
		a.u.CPU, a.u.Memory = a.cpu/float64(a.u.Samples), a.memory/float64(a.u.Samples)
		out[arn] = a.u
	}
	return out, nil
}

// AutoscaleStates returns the autoscaler's state of every workload that has one.
func (s *Store) AutoscaleStates(ctx context.Context) (map[string]AutoscaleState, error) {
	rows, err := s.pool.Query(ctx, `SELECT workload_arn, workers, changed_at, reason, observation FROM autoscale_state`)
	if err != nil {
		return nil, interpret(err)
	}
	states, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AutoscaleState, error) {
		var a AutoscaleState
		var raw []byte
		if err := row.Scan(&a.WorkloadARN, &a.Workers, &a.ChangedAt, &a.Reason, &raw); err != nil {
			return a, err
		}
		var err error
		a.Observed, err = scanObservation(a.WorkloadARN, raw)
		return a, err
	})
	if err != nil {
		return nil, interpret(err)
	}
	out := make(map[string]AutoscaleState, len(states))
	for _, a := range states {
		out[a.WorkloadARN] = a
	}
	return out, nil
}

// ActiveOperations lists the operations that have not ended, connector operations and
// replicator updates alike, oldest first.
func (s *Store) ActiveOperations(ctx context.Context) ([]*Operation, error) {
	var out []*Operation
	for _, src := range []struct {
		query      string
		replicator bool
	}{
		{`SELECT ` + operationCols + ` FROM connector_operations
			WHERE state IN ('PENDING', 'UPDATE_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS') ORDER BY created_at, arn`, false},
		{`SELECT ` + replicatorOperationCols + ` FROM replicator_operations
			WHERE state IN ('PENDING', 'UPDATE_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS') ORDER BY created_at, arn`, true},
	} {
		rows, err := s.pool.Query(ctx, src.query)
		if err != nil {
			return nil, interpret(err)
		}
		for rows.Next() {
			op, err := s.scanOperationOf(rows, src.replicator)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, op)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, interpret(err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ARN < out[j].ARN
	})
	return out, nil
}

// applyExtras applies a plan's autoscaler states and operation changes inside its
// transaction, marking the agents whose desired sets changed in touched.
func (s *Store) applyExtras(ctx context.Context, tx pgx.Tx, p Plan, touched map[string]bool) error {
	for _, a := range p.Autoscale {
		if a.Workers < 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM autoscale_state WHERE workload_arn = $1`, a.WorkloadARN); err != nil {
				return interpret(err)
			}
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO autoscale_state (workload_arn, workers, changed_at, reason) VALUES ($1,$2,$3,$4)
			ON CONFLICT (workload_arn) DO UPDATE SET workers = $2, changed_at = $3, reason = $4`,
			a.WorkloadARN, a.Workers, a.ChangedAt, a.Reason); err != nil {
			return interpret(err)
		}
	}
	for _, o := range p.Observations {
		raw, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE autoscale_state SET observation = $2 WHERE workload_arn = $1`, o.WorkloadARN, raw); err != nil {
			return interpret(err)
		}
	}
	for _, c := range p.Ops {
		if c.Op != nil {
			if err := s.writeOperation(ctx, tx, c.Op); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if c.Table == nil {
			continue
		}
		if c.Doc != nil {
			sealed, err := s.sealer.Seal(c.Secret, c.Table.table+":"+c.ARN)
			if err != nil {
				return err
			}
			// A new version too: whatever derives from the description (the scheduler's shape
			// cache, clients' optimistic updates) must see that it changed.
			if _, err := tx.Exec(ctx, `UPDATE `+c.Table.table+` SET doc = $2, secret = $3, current_version = $4, updated_at = now()
				WHERE arn = $1 AND state <> 'DELETING'`, c.ARN, c.Doc, sealed, NewVersion()); err != nil {
				return interpret(err)
			}
		}
		if c.State != "" {
			if _, err := tx.Exec(ctx, `UPDATE `+c.Table.table+` SET state = $2, state_code = $3, state_message = $4, updated_at = now()
				WHERE arn = $1 AND state <> 'DELETING'`, c.ARN, c.State, c.StateCode, c.StateMessage); err != nil {
				return interpret(err)
			}
		}
		if c.Restart {
			rows, err := tx.Query(ctx, `UPDATE workers SET epoch = epoch + 1, updated_at = now()
				WHERE workload_arn = $1 AND NOT stopping AND agent_id IS NOT NULL RETURNING agent_id`, c.ARN)
			if err != nil {
				return interpret(err)
			}
			agents, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return interpret(err)
			}
			for _, a := range agents {
				touched[a] = true
			}
		}
	}
	return nil
}

// RespecWorkload makes the agents running a workload's workers read their desired sets again
// (a new generation and a notification): a change outside the workload's description that its
// task configurations depend on (a replicator's fjord:delivery tag) reaches the workers, which
// restart with the new specification.
func (s *Store) RespecWorkload(ctx context.Context, workloadARN string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE agents SET generation = generation + 1 WHERE id IN
			(SELECT DISTINCT agent_id FROM workers WHERE workload_arn = $1 AND agent_id IS NOT NULL) RETURNING id`, workloadARN)
		if err != nil {
			return interpret(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return interpret(err)
		}
		for _, id := range ids {
			if err := s.notifyTx(ctx, tx, NotifyAgents, id); err != nil {
				return interpret(err)
			}
		}
		return nil
	})
}
