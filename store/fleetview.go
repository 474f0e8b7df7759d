package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// The read side of the fleet view (the admin API's ListAgents, DescribeWorkload and
// ListWorkloadEvents), and the one write it needs beyond the agent stream's: the end of a
// stream.

// AgentDisconnected records that the agent's stream named session closed. A newer stream of the
// same agent (another session) is left alone, so a late close of a replaced stream cannot make
// a connected agent look gone.
func (s *Store) AgentDisconnected(ctx context.Context, id, session string) error {
	_, err := s.pool.Exec(ctx, `UPDATE agents SET disconnected_at = now()
		WHERE id = $1 AND session = $2 AND disconnected_at IS NULL`, id, session)
	return interpret(err)
}

// WorkloadWorkers lists a workload's workers by ordinal, stopping ones last.
func (s *Store) WorkloadWorkers(ctx context.Context, workloadARN string) ([]Worker, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+workerCols+` FROM workers WHERE workload_arn = $1 ORDER BY stopping, ordinal, id`, workloadARN)
	if err != nil {
		return nil, interpret(err)
	}
	ws, err := pgx.CollectRows(rows, scanWorker)
	return ws, interpret(err)
}

// WorkerMetricsRow is the latest metrics an agent reported for a worker.
type WorkerMetricsRow struct {
	WorkerID string
	AgentID  string
	At       time.Time
	// Metrics is the encoded message as the agent gateway stored it (opaque to the store).
	Metrics []byte
}

// WorkerMetricsOf returns the latest metrics of the given workers (all workers when ids is
// nil), by worker id.
func (s *Store) WorkerMetricsOf(ctx context.Context, ids []string) (map[string]WorkerMetricsRow, error) {
	q, args := `SELECT worker_id, agent_id, at, metrics FROM worker_metrics`, []any{}
	if ids != nil {
		q, args = q+` WHERE worker_id = ANY($1)`, []any{ids}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, interpret(err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (WorkerMetricsRow, error) {
		var m WorkerMetricsRow
		return m, row.Scan(&m.WorkerID, &m.AgentID, &m.At, &m.Metrics)
	})
	if err != nil {
		return nil, interpret(err)
	}
	out := make(map[string]WorkerMetricsRow, len(list))
	for _, m := range list {
		out[m.WorkerID] = m
	}
	return out, nil
}

// AutoscaleStateGet returns the autoscaler's state of a workload, or ErrNotFound when it has
// none (not autoscaled, or no decision yet).
func (s *Store) AutoscaleStateGet(ctx context.Context, workloadARN string) (AutoscaleState, error) {
	a := AutoscaleState{WorkloadARN: workloadARN}
	var raw []byte
	if err := s.pool.QueryRow(ctx, `SELECT workers, changed_at, reason, observation FROM autoscale_state WHERE workload_arn = $1`, workloadARN).
		Scan(&a.Workers, &a.ChangedAt, &a.Reason, &raw); err != nil {
		return a, interpret(err)
	}
	var err error
	a.Observed, err = scanObservation(workloadARN, raw)
	return a, err
}

// WorkloadEventsPage returns up to limit of a workload's events, newest first, older than the
// event beforeID (0 = from the newest). Events of a removed workload are kept.
func (s *Store) WorkloadEventsPage(ctx context.Context, workloadARN string, beforeID int64, limit int) ([]WorkloadEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM workload_events
		WHERE workload_arn = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, workloadARN, beforeID, limit)
	if err != nil {
		return nil, interpret(err)
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	return evs, interpret(err)
}
