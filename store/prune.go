package store

import (
	"context"
	"time"
)

// Pruning deletes in batches: each batch is one short statement of its own (no transaction
// spans batches), so no lock is held for long and the API and the scheduler keep writing while
// a large backlog drains. Every Prune returns how many rows it deleted.

// DefaultPruneBatch is the batch size used when a Prune is given 0.
const DefaultPruneBatch = 1000

// pruneBatches runs one batch statement (its first argument is the batch size) until a batch
// deletes fewer rows than the batch size or ctx ends.
func (s *Store) pruneBatches(ctx context.Context, batch int, query string, args ...any) (int64, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, query, append([]any{batch}, args...)...)
		if err != nil {
			return total, interpret(err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// WorkloadEventsPrune deletes the workload events recorded before before, and of each
// workload all but its keep most recent ones (keep ≤ 0: no count rule; a zero before: no age
// rule).
func (s *Store) WorkloadEventsPrune(ctx context.Context, before time.Time, keep, batch int) (int64, error) {
	var total int64
	if !before.IsZero() {
		// Events are numbered in the order they are recorded: the oldest are the lowest ids.
		n, err := s.pruneBatches(ctx, batch, `DELETE FROM workload_events WHERE id IN (
			SELECT id FROM workload_events WHERE at < $2 ORDER BY id LIMIT $1)`, before)
		total += n
		if err != nil {
			return total, err
		}
	}
	if keep <= 0 {
		return total, nil
	}
	// The workloads with events, by a loose scan of the (workload_arn, id) index.
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE w(arn) AS (
			(SELECT workload_arn FROM workload_events ORDER BY workload_arn LIMIT 1)
			UNION ALL
			SELECT (SELECT workload_arn FROM workload_events WHERE workload_arn > w.arn ORDER BY workload_arn LIMIT 1)
			FROM w WHERE w.arn IS NOT NULL)
		SELECT arn FROM w WHERE arn IS NOT NULL`)
	if err != nil {
		return total, interpret(err)
	}
	var arns []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return total, interpret(err)
		}
		arns = append(arns, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return total, interpret(err)
	}
	for _, arn := range arns {
		// The id of the newest event beyond the keep most recent: it and everything older go.
		var cut int64
		err := s.pool.QueryRow(ctx, `SELECT id FROM workload_events WHERE workload_arn = $1
			ORDER BY id DESC OFFSET $2 LIMIT 1`, arn, keep).Scan(&cut)
		if err == nil {
			n, err := s.pruneBatches(ctx, batch, `DELETE FROM workload_events WHERE id IN (
				SELECT id FROM workload_events WHERE workload_arn = $2 AND id <= $3 ORDER BY id LIMIT $1)`, arn, cut)
			total += n
			if err != nil {
				return total, err
			}
		} else if err = interpret(err); err != ErrNotFound {
			return total, err
		}
	}
	return total, nil
}

// WorkerMetricsPrune deletes the latest metrics of workers that no longer exist.
func (s *Store) WorkerMetricsPrune(ctx context.Context, batch int) (int64, error) {
	return s.pruneBatches(ctx, batch, `DELETE FROM worker_metrics WHERE worker_id IN (
		SELECT m.worker_id FROM worker_metrics m WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = m.worker_id) LIMIT $1)`)
}
