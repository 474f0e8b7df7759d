package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// advisoryLockKey identifies the scheduler's leadership lock ("fjord" as an int).
const advisoryLockKey = 0x666a6f7264

// Leadership is held by the one server replica that runs the scheduler. It owns a dedicated
// connection holding a session-level advisory lock; losing the connection loses the lock.
type Leadership struct {
	conn *pgxpool.Conn
	// Term is this leadership's term; plans carry it and are refused once another term began.
	Term int64
}

// LeaderAcquire tries to become the leader. It returns nil (and no error) when another replica
// holds the lock.
func (s *Store) LeaderAcquire(ctx context.Context, holder string) (*Leadership, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, interpret(err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(advisoryLockKey)).Scan(&ok); err != nil {
		conn.Release()
		return nil, interpret(err)
	}
	if !ok {
		conn.Release()
		return nil, nil
	}
	l := &Leadership{conn: conn}
	if err := conn.QueryRow(ctx, `UPDATE scheduler_leader SET term = term + 1, holder = $1, since = now() WHERE id = 1 RETURNING term`,
		holder).Scan(&l.Term); err != nil {
		l.Release()
		return nil, interpret(err)
	}
	return l, nil
}

// Check verifies the lock's connection is still there (and so the lock).
func (l *Leadership) Check(ctx context.Context) error {
	return l.conn.Ping(ctx)
}

// Release gives leadership up. The connection is closed rather than returned to the pool so
// that the session lock goes with it.
func (l *Leadership) Release() {
	if l.conn == nil {
		return
	}
	_ = l.conn.Conn().Close(context.Background())
	l.conn.Release()
	l.conn = nil
}

// WorkloadState is a lifecycle change the scheduler decided for a workload.
type WorkloadState struct {
	Table        *Resources
	ARN          string
	State        string
	StateCode    string
	StateMessage string
	// From, when set, is the state the change was decided from: it applies only if the
	// workload is still in that state (a client's concurrent update or delete wins).
	From string
}

// Plan is a set of changes the scheduler applies in one transaction.
type Plan struct {
	// Term must still be the current leadership term.
	Term int64
	// Workers are the desired rows of placed or unplaced workers (inserted or updated; the
	// reported_* columns are kept).
	Workers []Worker
	// Stop marks workers stopping: they leave their agent's desired set and disappear once
	// the agent reports them stopped. Workers with no agent, or on a DEAD agent, are removed
	// at once.
	Stop []string
	// States change workloads' lifecycle states (no new currentVersion: these are not
	// changes a client made).
	States []WorkloadState
	// Remove deletes workloads whose deletion finished.
	Remove []RemoveWorkload
	Events []WorkloadEvent
	// Autoscale records the autoscaler's decisions (Workers < 0 deletes a workload's state).
	Autoscale []AutoscaleState
	// Observations record what the autoscaler saw of workloads that have a state (applied
	// after Autoscale).
	Observations []AutoscaleObservation
	// Ops advance connector operations (with the connector changes they make).
	Ops []OpChange
}

// RemoveWorkload names a workload to delete with its tags.
type RemoveWorkload struct {
	Table *Resources
	ARN   string
}

// ErrTermChanged: another leader took over; the plan was not applied.
var ErrTermChanged = fmt.Errorf("leadership term changed")

// ApplyPlan applies p in one transaction: worker rows, stops, workload states, removals and
// events; it bumps the generation of every agent whose desired set changed and notifies them.
func (s *Store) ApplyPlan(ctx context.Context, p Plan) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var term int64
		if err := tx.QueryRow(ctx, `SELECT term FROM scheduler_leader WHERE id = 1 FOR UPDATE`).Scan(&term); err != nil {
			return interpret(err)
		}
		if term != p.Term {
			return ErrTermChanged
		}
		touched := map[string]bool{}
		// Batched: a constant number of statements however many rows (planbatch.go).
		if err := applyWorkers(ctx, tx, p.Workers, touched); err != nil {
			return err
		}
		if err := applyStops(ctx, tx, p.Stop, touched); err != nil {
			return err
		}
		if err := applyStates(ctx, tx, p.States); err != nil {
			return err
		}
		for _, rm := range p.Remove {
			if _, err := tx.Exec(ctx, `DELETE FROM `+rm.Table.table+` WHERE arn = $1`, rm.ARN); err != nil {
				return interpret(err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM tags WHERE resource_arn = $1`, rm.ARN); err != nil {
				return interpret(err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM autoscale_state WHERE workload_arn = $1`, rm.ARN); err != nil {
				return interpret(err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM worker_samples WHERE workload_arn = $1`, rm.ARN); err != nil {
				return interpret(err)
			}
		}
		if err := s.applyExtras(ctx, tx, p, touched); err != nil {
			return err
		}
		if err := insertEvents(ctx, tx, p.Events); err != nil {
			return err
		}
		ids := make([]string, 0, len(touched))
		for id := range touched {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if len(ids) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE agents SET generation = generation + 1 WHERE id = ANY($1)`, ids); err != nil {
				return interpret(err)
			}
		}
		return notifyAll(ctx, tx, NotifyAgents, ids)
	})
}

func equalInts(a, b []int32) bool {
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

// All lists every resource of the table, across accounts (for the scheduler's snapshot).
func (r *Resources) All(ctx context.Context) ([]*Resource, error) {
	rows, err := r.s.pool.Query(ctx, `SELECT `+resourceCols+` FROM `+r.table+` ORDER BY arn`)
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	var out []*Resource
	for rows.Next() {
		res, err := r.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, interpret(rows.Err())
}

// ByARN returns a resource by ARN alone (internal use: the agent gateway and the scheduler).
func (r *Resources) ByARN(ctx context.Context, arn string) (*Resource, error) {
	return r.scan(r.s.pool.QueryRow(ctx, `SELECT `+resourceCols+` FROM `+r.table+` WHERE arn = $1`, arn))
}

// NotifyReconcile asks the leader to reconcile now.
func (s *Store) NotifyReconcile(ctx context.Context) error { return s.notify(ctx, NotifyScheduler, "") }
