package store

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The parts of ApplyPlan that scale with the fleet, each a constant number of statements
// whatever the plan's size: a first reconcile of 5,000 workloads writes ~11,000 worker rows
// and as many events, which one statement (and one round trip) per row made take seconds
// (bench suite "scheduler"). Each part keeps the per-row semantics it replaced.

// applyWorkers inserts or updates the plan's worker rows (the reported_* columns are kept) and
// marks touched the agents whose desired set changed: a worker's new agent, and its old agent
// when it moved. Rows that are already as desired are left alone. When the plan lists an id
// twice, the last entry wins.
func applyWorkers(ctx context.Context, tx pgx.Tx, ws []Worker, touched map[string]bool) error {
	if len(ws) == 0 {
		return nil
	}
	last := make(map[string]int, len(ws))
	ids := make([]string, 0, len(ws))
	for i, w := range ws {
		if _, ok := last[w.ID]; !ok {
			ids = append(ids, w.ID)
		}
		last[w.ID] = i
	}
	sort.Strings(ids) // lock in a stable order

	type row struct {
		agent     string
		epoch     int64
		tasks     []int32
		taskCount int
		stopping  bool
	}
	old := make(map[string]row, len(ids))
	rows, err := tx.Query(ctx, `SELECT id, coalesce(agent_id, ''), epoch, tasks, task_count, stopping FROM workers
		WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return interpret(err)
	}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.agent, &r.epoch, &r.tasks, &r.taskCount, &r.stopping); err != nil {
			rows.Close()
			return interpret(err)
		}
		old[id] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return interpret(err)
	}

	// Columns of the rows to insert (ins) and to update (upd); tasks travel as array literals.
	var ins struct {
		id, arn, kind, agent, tasks []string
		ordinal, mcu, taskCount     []int32
		epoch                       []int64
	}
	var upd struct {
		id, agent, tasks []string
		mcu, taskCount   []int32
		epoch            []int64
	}
	for _, id := range ids {
		w := ws[last[id]]
		tasks := make([]int32, len(w.Tasks))
		for i, t := range w.Tasks {
			tasks[i] = int32(t)
		}
		if o, had := old[id]; had {
			if o.agent == w.AgentID && o.epoch == w.Epoch && equalInts(o.tasks, tasks) && o.taskCount == w.TaskCount && !o.stopping {
				continue
			}
			if o.agent != "" {
				touched[o.agent] = true
			}
			upd.id, upd.agent, upd.tasks = append(upd.id, id), append(upd.agent, w.AgentID), append(upd.tasks, intArray(tasks))
			upd.mcu, upd.taskCount, upd.epoch = append(upd.mcu, int32(w.MCU)), append(upd.taskCount, int32(w.TaskCount)), append(upd.epoch, w.Epoch)
		} else {
			ins.id, ins.arn, ins.kind = append(ins.id, id), append(ins.arn, w.WorkloadARN), append(ins.kind, w.WorkloadKind)
			ins.agent, ins.tasks = append(ins.agent, w.AgentID), append(ins.tasks, intArray(tasks))
			ins.ordinal, ins.mcu, ins.taskCount = append(ins.ordinal, int32(w.Ordinal)), append(ins.mcu, int32(w.MCU)), append(ins.taskCount, int32(w.TaskCount))
			ins.epoch = append(ins.epoch, w.Epoch)
		}
		if w.AgentID != "" {
			touched[w.AgentID] = true
		}
	}
	if len(ins.id) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO workers (id, workload_arn, workload_kind, ordinal, agent_id, epoch, mcu, tasks, task_count)
			SELECT id, arn, kind, ordinal, nullif(agent, ''), epoch, mcu, tasks::integer[], task_count
			FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::bigint[], $7::integer[], $8::text[], $9::integer[])
				AS u(id, arn, kind, ordinal, agent, epoch, mcu, tasks, task_count)`,
			ins.id, ins.arn, ins.kind, ins.ordinal, ins.agent, ins.epoch, ins.mcu, ins.tasks, ins.taskCount); err != nil {
			return interpret(err)
		}
	}
	if len(upd.id) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE workers w SET agent_id = nullif(u.agent, ''), epoch = u.epoch, mcu = u.mcu,
				tasks = u.tasks::integer[], task_count = u.task_count, stopping = false, updated_at = now()
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::text[], $6::integer[])
				AS u(id, agent, epoch, mcu, tasks, task_count)
			WHERE w.id = u.id`,
			upd.id, upd.agent, upd.epoch, upd.mcu, upd.tasks, upd.taskCount); err != nil {
			return interpret(err)
		}
	}
	return nil
}

// intArray is a Postgres array literal of ts, e.g. "{0,3,6}".
func intArray(ts []int32) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(t), 10))
	}
	b.WriteByte('}')
	return b.String()
}

// applyStops stops workers: a worker with no agent, or on a DEAD agent, is deleted at once;
// any other is marked stopping and its agent touched. Unknown ids are ignored.
func applyStops(ctx context.Context, tx pgx.Tx, stop []string, touched map[string]bool) error {
	if len(stop) == 0 {
		return nil
	}
	ids := append([]string(nil), stop...)
	sort.Strings(ids)
	rows, err := tx.Query(ctx, `SELECT w.id, coalesce(w.agent_id, ''), coalesce(a.state, '') FROM workers w
		LEFT JOIN agents a ON a.id = w.agent_id WHERE w.id = ANY($1) ORDER BY w.id FOR UPDATE OF w`, ids)
	if err != nil {
		return interpret(err)
	}
	var remove, stopping []string
	for rows.Next() {
		var id, agentID, agentState string
		if err := rows.Scan(&id, &agentID, &agentState); err != nil {
			rows.Close()
			return interpret(err)
		}
		if agentID == "" || agentState == AgentDead {
			remove = append(remove, id)
			continue
		}
		stopping = append(stopping, id)
		touched[agentID] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return interpret(err)
	}
	if len(remove) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM workers WHERE id = ANY($1)`, remove); err != nil {
			return interpret(err)
		}
	}
	if len(stopping) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE workers SET stopping = true, updated_at = now() WHERE id = ANY($1) AND NOT stopping`, stopping); err != nil {
			return interpret(err)
		}
	}
	return nil
}

// applyStates changes workloads' lifecycle states, one statement per table. A client may have
// deleted the workload since the snapshot the plan was computed from: DELETING is never
// undone. When the plan lists a workload twice, the last entry wins.
func applyStates(ctx context.Context, tx pgx.Tx, states []WorkloadState) error {
	type cols struct{ arn, state, code, msg, from []string }
	byTable := map[*Resources]*cols{}
	var tables []*Resources
	seen := map[*Resources]map[string]int{}
	for _, st := range states {
		c, ok := byTable[st.Table]
		if !ok {
			c = &cols{}
			byTable[st.Table] = c
			tables = append(tables, st.Table)
			seen[st.Table] = map[string]int{}
		}
		if i, dup := seen[st.Table][st.ARN]; dup {
			c.state[i], c.code[i], c.msg[i], c.from[i] = st.State, st.StateCode, st.StateMessage, st.From
			continue
		}
		seen[st.Table][st.ARN] = len(c.arn)
		c.arn, c.state = append(c.arn, st.ARN), append(c.state, st.State)
		c.code, c.msg = append(c.code, st.StateCode), append(c.msg, st.StateMessage)
		c.from = append(c.from, st.From)
	}
	for _, t := range tables {
		c := byTable[t]
		// A client may have changed the workload since the snapshot (deleted it, started an
		// update): DELETING is never undone, and a change computed from state From applies only
		// while the workload is still in it.
		if _, err := tx.Exec(ctx, `UPDATE `+t.table+` t SET state = u.state, state_code = u.code, state_message = u.msg, updated_at = now()
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(arn, state, code, msg, from_state)
			WHERE t.arn = u.arn AND t.state <> 'DELETING' AND (u.from_state = '' OR t.state = u.from_state)`,
			c.arn, c.state, c.code, c.msg, c.from); err != nil {
			return interpret(err)
		}
	}
	return nil
}

// insertEvents records events in the plan's order (their ids ascend in that order).
func insertEvents(ctx context.Context, tx pgx.Tx, events []WorkloadEvent) error {
	if len(events) == 0 {
		return nil
	}
	arn, kind, reason, agent, worker := make([]string, len(events)), make([]string, len(events)), make([]string, len(events)),
		make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		arn[i], kind[i], reason[i], agent[i], worker[i] = e.WorkloadARN, e.Kind, e.Reason, e.AgentID, e.WorkerID
	}
	_, err := tx.Exec(ctx, `INSERT INTO workload_events (workload_arn, kind, reason, agent_id, worker_id)
		SELECT arn, kind, reason, agent, worker
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS e(arn, kind, reason, agent, worker, n)
		ORDER BY n`, arn, kind, reason, agent, worker)
	return interpret(err)
}

// notifyAll sends one NOTIFY on channel per payload, in the transaction, with one statement.
func notifyAll(ctx context.Context, tx pgx.Tx, channel string, payloads []string) error {
	if len(payloads) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS x(p)`, channel, payloads)
	return interpret(err)
}
