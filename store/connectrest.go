package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// A connector's Kafka Connect target states (Resource.TargetState; "" runs it).
const (
	// TargetPaused: its workers keep their task assignment but run no task (Connect's PAUSED).
	TargetPaused = "PAUSED"
	// TargetStopped: no worker and no task (Connect's STOPPED, KIP-875).
	TargetStopped = "STOPPED"
)

// RestartConnectorTasks counts one more restart of each of the connector's tasks and makes the
// agents running its workers read their desired sets again (a new generation and a
// notification, as RespecWorkload), in one transaction: the tasks' specifications carry the
// count, so each worker holding one of them restarts.
func (s *Store) RestartConnectorTasks(ctx context.Context, connectorARN string, tasks []int) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		for _, t := range tasks {
			if _, err := tx.Exec(ctx, `INSERT INTO connector_task_restarts (connector_arn, task_id, restarts) VALUES ($1, $2, 1)
				ON CONFLICT (connector_arn, task_id) DO UPDATE SET restarts = connector_task_restarts.restarts + 1`,
				connectorARN, t); err != nil {
				return interpret(err)
			}
		}
		rows, err := tx.Query(ctx, `UPDATE agents SET generation = generation + 1 WHERE id IN
			(SELECT DISTINCT agent_id FROM workers WHERE workload_arn = $1 AND agent_id IS NOT NULL) RETURNING id`, connectorARN)
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

// ConnectorTaskRestarts returns the restarts counted for each task of a connector (tasks never
// restarted are absent).
func (s *Store) ConnectorTaskRestarts(ctx context.Context, connectorARN string) (map[int]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_id, restarts FROM connector_task_restarts WHERE connector_arn = $1`, connectorARN)
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var t int
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, interpret(err)
		}
		out[t] = n
	}
	return out, interpret(rows.Err())
}
