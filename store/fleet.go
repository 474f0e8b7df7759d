package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Agent states.
const (
	AgentAlive    = "ALIVE"
	AgentDraining = "DRAINING"
	AgentDead     = "DEAD"
)

// NotifyAgents is the LISTEN/NOTIFY channel on which a changed agent's id is announced.
const NotifyAgents = "fjord_agents"

// NotifyScheduler is the channel that asks the leader to reconcile now.
const NotifyScheduler = "fjord_scheduler"

// Agent is a data-plane agent of the fleet.
type Agent struct {
	ID                string
	MCUCapacity       int
	Version           string
	Labels            map[string]string
	State             string
	Generation        int64
	AppliedGeneration int64
	ServerID          string
	ConnectedAt       time.Time
	LastHeartbeat     time.Time
	// Address is the agent's host:port as the server saw it when the stream opened.
	Address string
	// Session names the agent's current stream (AgentDisconnected only ends that one).
	Session string
	// DisconnectedAt is when the current stream closed; zero while it is open.
	DisconnectedAt time.Time
}

// AgentHello records an agent that opened a stream: it is ALIVE with a fresh lease.
func (s *Store) AgentHello(ctx context.Context, a Agent) error {
	labels, err := json.Marshal(a.Labels)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO agents (id, mcu_capacity, version, labels, state, server_id, connected_at, last_heartbeat,
			address, session, disconnected_at)
		VALUES ($1, $2, $3, $4, 'ALIVE', $5, now(), now(), $6, $7, NULL)
		ON CONFLICT (id) DO UPDATE SET mcu_capacity = EXCLUDED.mcu_capacity, version = EXCLUDED.version,
			labels = EXCLUDED.labels, state = 'ALIVE', server_id = EXCLUDED.server_id, connected_at = now(), last_heartbeat = now(),
			address = EXCLUDED.address, session = EXCLUDED.session, disconnected_at = NULL`,
		a.ID, a.MCUCapacity, a.Version, labels, a.ServerID, a.Address, a.Session)
	if err != nil {
		return interpret(err)
	}
	return s.notify(ctx, NotifyScheduler, a.ID)
}

// AgentHeartbeat renews an agent's lease. A DEAD agent that heartbeats again is ALIVE again
// (its old workers were already moved with a higher epoch).
func (s *Store) AgentHeartbeat(ctx context.Context, id string, applied int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE agents SET last_heartbeat = now(), applied_generation = GREATEST(applied_generation, $2),
		state = CASE WHEN state = 'DEAD' THEN 'ALIVE' ELSE state END WHERE id = $1`, id, applied)
	if err != nil {
		return interpret(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AgentGoodbye marks an agent DRAINING: its workers may move now.
func (s *Store) AgentGoodbye(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE agents SET state = 'DRAINING' WHERE id = $1`, id); err != nil {
		return interpret(err)
	}
	return s.notify(ctx, NotifyScheduler, id)
}

// AgentsExpire marks DEAD every ALIVE or DRAINING agent silent for longer than ttl and returns
// their ids.
func (s *Store) AgentsExpire(ctx context.Context, ttl time.Duration) ([]string, error) {
	rows, err := s.pool.Query(ctx, `UPDATE agents SET state = 'DEAD'
		WHERE state <> 'DEAD' AND last_heartbeat < now() - make_interval(secs => $1) RETURNING id`, ttl.Seconds())
	if err != nil {
		return nil, interpret(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// AgentsRenewLeases restarts the lease of every agent that is not DEAD from now: the leader
// calls it when it could not have seen heartbeats for a while (a database outage, a new
// leadership term), so that a lease is only ever judged on heartbeats the database could have
// recorded. It returns how many leases it renewed.
func (s *Store) AgentsRenewLeases(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE agents SET last_heartbeat = now() WHERE state <> 'DEAD' AND last_heartbeat < now()`)
	if err != nil {
		return 0, interpret(err)
	}
	return tag.RowsAffected(), nil
}

// Agents lists every agent.
func (s *Store) Agents(ctx context.Context) ([]Agent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, mcu_capacity, version, labels, state, generation, applied_generation,
		server_id, connected_at, last_heartbeat, address, session, coalesce(disconnected_at, 'epoch'::timestamptz) FROM agents ORDER BY id`)
	if err != nil {
		return nil, interpret(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Agent, error) {
		var a Agent
		var labels []byte
		err := row.Scan(&a.ID, &a.MCUCapacity, &a.Version, &labels, &a.State, &a.Generation, &a.AppliedGeneration,
			&a.ServerID, &a.ConnectedAt, &a.LastHeartbeat, &a.Address, &a.Session, &a.DisconnectedAt)
		if a.DisconnectedAt.Unix() == 0 {
			a.DisconnectedAt = time.Time{}
		}
		if err == nil && len(labels) > 0 {
			err = json.Unmarshal(labels, &a.Labels)
		}
		return a, err
	})
}

// Worker is one worker of a workload and what its agent reported about it.
type Worker struct {
	ID           string
	WorkloadARN  string
	WorkloadKind string
	Ordinal      int
	// AgentID is where the worker is placed; "" = not placed.
	AgentID string
	Epoch   int64
	MCU     int
	Tasks   []int
	// TaskCount is the task count Tasks refer to (0 for rows written before it existed).
	TaskCount int
	Stopping  bool
	Report    WorkerReport
}

// WorkerReport is the latest status an agent reported for a worker.
type WorkerReport struct {
	AgentID  string
	State    string
	Epoch    int64
	Tasks    json.RawMessage
	Error    string
	Restarts int
	At       time.Time
	// LogDeliveryError is the worker's log delivery problem ("" while delivery works).
	LogDeliveryError string
	// Health is the worker's cluster trouble ("CODE: message", "" while healthy) and
	// HealthSince when it began.
	Health      string
	HealthSince time.Time
}

const workerCols = `id, workload_arn, workload_kind, ordinal, coalesce(agent_id, ''), epoch, mcu, tasks, task_count, stopping,
	reported_agent, reported_state, reported_epoch, reported_tasks, reported_error, restarts, coalesce(reported_at, 'epoch'::timestamptz),
	reported_health, coalesce(reported_health_since, 'epoch'::timestamptz)`

func scanWorker(row pgx.CollectableRow) (Worker, error) {
	var w Worker
	var tasks []int32
	err := row.Scan(&w.ID, &w.WorkloadARN, &w.WorkloadKind, &w.Ordinal, &w.AgentID, &w.Epoch, &w.MCU, &tasks, &w.TaskCount, &w.Stopping,
		&w.Report.AgentID, &w.Report.State, &w.Report.Epoch, &w.Report.Tasks, &w.Report.Error, &w.Report.Restarts, &w.Report.At,
		&w.Report.Health, &w.Report.HealthSince)
	for _, t := range tasks {
		w.Tasks = append(w.Tasks, int(t))
	}
	return w, err
}

// Workers lists every worker, by workload and ordinal.
func (s *Store) Workers(ctx context.Context) ([]Worker, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+workerCols+` FROM workers ORDER BY workload_arn, ordinal`)
	if err != nil {
		return nil, interpret(err)
	}
	return pgx.CollectRows(rows, scanWorker)
}

// AgentDesired returns an agent's generation and the workers it must run (placed there and
// not stopping).
func (s *Store) AgentDesired(ctx context.Context, agentID string) (int64, []Worker, error) {
	var gen int64
	if err := s.pool.QueryRow(ctx, `SELECT generation FROM agents WHERE id = $1`, agentID).Scan(&gen); err != nil {
		return 0, nil, interpret(err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+workerCols+` FROM workers WHERE agent_id = $1 AND NOT stopping ORDER BY id`, agentID)
	if err != nil {
		return 0, nil, interpret(err)
	}
	ws, err := pgx.CollectRows(rows, scanWorker)
	return gen, ws, err
}

// WorkerReportPut records an agent's status report for a worker. A STOPPED report of a worker
// that is stopping (or that was moved away from the reporting agent) ends its stop: a stopping
// worker's row is removed. Reports of workers the store does not know are ignored.
func (s *Store) WorkerReportPut(ctx context.Context, workerID string, r WorkerReport) error {
	if len(r.Tasks) == 0 {
		r.Tasks = json.RawMessage("[]")
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var agentID, workloadARN, logErr string
		var stopping bool
		err := tx.QueryRow(ctx, `SELECT coalesce(agent_id, ''), stopping, workload_arn, log_delivery_error FROM workers WHERE id = $1 FOR UPDATE`,
			workerID).Scan(&agentID, &stopping, &workloadARN, &logErr)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return interpret(err)
		}
		// A report from an agent the worker has moved away from only matters as the end of
		// the old copy: it must not overwrite the new placement's status.
		if agentID != r.AgentID && agentID != "" {
			return nil
		}
		if r.State == "STOPPED" && stopping {
			_, err := tx.Exec(ctx, `DELETE FROM workers WHERE id = $1`, workerID)
			if err == nil {
				err = s.notifyTx(ctx, tx, NotifyScheduler, workerID)
			}
			return interpret(err)
		}
		_, err = tx.Exec(ctx, `UPDATE workers SET reported_agent = $2, reported_state = $3, reported_epoch = $4, reported_tasks = $5,
			reported_error = $6, restarts = $7, log_delivery_error = $8, reported_health = $9, reported_health_since = $10,
			reported_at = now() WHERE id = $1`,
			workerID, r.AgentID, r.State, r.Epoch, []byte(r.Tasks), r.Error, r.Restarts, r.LogDeliveryError, r.Health, healthSince(r))
		if err == nil && logErr != r.LogDeliveryError {
			ev := WorkloadEvent{WorkloadARN: workloadARN, Kind: "log_delivery_failing", Reason: r.LogDeliveryError, AgentID: r.AgentID, WorkerID: workerID}
			if r.LogDeliveryError == "" {
				ev.Kind, ev.Reason = "log_delivery_recovered", "the worker's log lines are delivered again"
			}
			err = insertEvents(ctx, tx, []WorkloadEvent{ev})
		}
		if err == nil {
			err = s.notifyTx(ctx, tx, NotifyScheduler, workerID)
		}
		return interpret(err)
	})
}

// healthSince is a report's HealthSince for the database: NULL while healthy.
func healthSince(r WorkerReport) *time.Time {
	if r.Health == "" || r.HealthSince.IsZero() {
		return nil
	}
	return &r.HealthSince
}

// WorkerMetricsPut keeps a worker's latest metrics (an encoded message, opaque to the store).
func (s *Store) WorkerMetricsPut(ctx context.Context, workerID, workloadARN, agentID string, at time.Time, metrics []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO worker_metrics (worker_id, workload_arn, agent_id, at, metrics) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (worker_id) DO UPDATE SET workload_arn = EXCLUDED.workload_arn, agent_id = EXCLUDED.agent_id,
		at = EXCLUDED.at, metrics = EXCLUDED.metrics`, workerID, workloadARN, agentID, at, metrics)
	return interpret(err)
}

// WorkloadEvent is one recorded decision or lifecycle step of a workload.
type WorkloadEvent struct {
	ID          int64
	WorkloadARN string
	At          time.Time
	Kind        string
	Reason      string
	AgentID     string
	WorkerID    string
	// State, PreviousState, StateCode and WorkloadName are set on 'state' events (a change of
	// the workload's state; PreviousState is empty when the workload was created, State is
	// DELETED when it was removed).
	State, PreviousState, StateCode, WorkloadName string
}

// eventCols are the columns scanEvent reads.
const eventCols = `id, workload_arn, at, kind, reason, agent_id, worker_id, state, previous_state, state_code, workload_name`

func scanEvent(row pgx.CollectableRow) (WorkloadEvent, error) {
	var e WorkloadEvent
	err := row.Scan(&e.ID, &e.WorkloadARN, &e.At, &e.Kind, &e.Reason, &e.AgentID, &e.WorkerID,
		&e.State, &e.PreviousState, &e.StateCode, &e.WorkloadName)
	return e, err
}

// WorkloadEvents returns a workload's most recent events, oldest first.
func (s *Store) WorkloadEvents(ctx context.Context, workloadARN string, limit int) ([]WorkloadEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM (
		SELECT * FROM workload_events WHERE workload_arn = $1 ORDER BY id DESC LIMIT $2) e ORDER BY id`, workloadARN, limit)
	if err != nil {
		return nil, interpret(err)
	}
	return pgx.CollectRows(rows, scanEvent)
}

// notify sends a NOTIFY outside a transaction.
func (s *Store) notify(ctx context.Context, channel, payload string) error {
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
	return interpret(err)
}

func (s *Store) notifyTx(ctx context.Context, tx pgx.Tx, channel, payload string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
	return err
}

// Listen calls fn with the payload of every notification on the channels until ctx is done.
// It holds one connection of its own; after a connection loss it reconnects and calls fn with
// payload "" (something may have been missed: resynchronise).
func (s *Store) Listen(ctx context.Context, fn func(channel, payload string), channels ...string) error {
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, fn, channels)
		if ctx.Err() != nil {
			return nil
		}
		fn("", "")
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		_ = err
	}
	return nil
}

func (s *Store) listenOnce(ctx context.Context, fn func(channel, payload string), channels []string) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			conn.Conn().Close(context.Background())
			return err
		}
	}
	defer func() {
		// The connection goes back to the pool: stop listening first (or close it when the
		// context is gone and UNLISTEN cannot run).
		uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "UNLISTEN *"); err != nil {
			conn.Conn().Close(uctx)
		}
	}()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		fn(n.Channel, n.Payload)
	}
}
