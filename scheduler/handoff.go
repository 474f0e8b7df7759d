package scheduler

import (
	"slices"

	"github.com/fjord-io/fjord/store"
)

// Task handoff.
//
// Reconcile decides which worker runs which task; it does not know whether the worker that
// ran a task before has stopped it. A task whose partitions two workers copy at once is copied
// twice, so the leader hands a task over in two steps: the old holder first gets an assignment
// without it (and restarts, stopping the task after flushing its progress), and only when the
// holder reported its new assignment does the new holder get the task. A change of a
// workload's task count changes what every task id means (a MirrorSource task's partitions
// depend on the count), so then every task is released before any is assigned again: the
// eager rebalance of Kafka Connect, made safe against overlapping workers.
//
// A holder on a dead or unknown agent holds nothing: its agent lost its lease, and a zombie
// process there is fenced by its transactional id (exactly-once) or only duplicates records
// (at-least-once); waiting for it would stall the workload until the agent returns.

// holder is what the leader knows of a current worker row for the handoff rule.
type holder struct {
	row   store.Worker
	alive bool // its agent holds a lease
}

// confirmed reports whether the worker's agent reported the row's current assignment, so the
// process runs exactly row.Tasks (under row.TaskCount), or whether the worker never ran.
func (h holder) confirmed() bool {
	r := h.row.Report
	if r.Epoch == 0 {
		return true // never reported: never started on an older assignment
	}
	return r.Epoch == h.row.Epoch && r.AgentID == h.row.AgentID
}

// mayRun returns the tasks (under count) that the holder's process may still run, and all=true
// when it may run anything (an unconfirmed older assignment, or another task count).
func (h holder) mayRun(count int) (tasks []int, all bool) {
	if !h.alive || h.row.AgentID == "" {
		return nil, false
	}
	if !h.confirmed() {
		return nil, true
	}
	if len(h.row.Tasks) == 0 {
		return nil, false
	}
	if h.row.TaskCount != count {
		return nil, true
	}
	return h.row.Tasks, false
}

// withholdTasks applies the handoff rule to one workload's planned workers: a task a worker
// gains is withheld while another current worker of the workload may still run it. A worker
// whose current tasks refer to another task count keeps none of them. It returns the reasons
// of the withheld tasks by worker id, for events.
func withholdTasks(planned []*store.Worker, current []holder, count int) map[string]string {
	why := map[string]string{}
	for _, w := range planned {
		var own *holder
		for i := range current {
			if current[i].row.ID == w.ID {
				own = &current[i]
			}
		}
		var kept []int // tasks the worker already runs under this count: never withheld
		if own != nil && own.row.TaskCount == count && !own.row.Stopping {
			kept = own.row.Tasks
		}
		var out []int
		var held []int
		for _, t := range w.Tasks {
			if slices.Contains(kept, t) {
				out = append(out, t)
				continue
			}
			busy := false
			for _, h := range current {
				if h.row.ID == w.ID {
					continue // its own process stops before the new assignment starts
				}
				ts, all := h.mayRun(count)
				if all || slices.Contains(ts, t) {
					busy = true
					break
				}
			}
			if busy {
				held = append(held, t)
			} else {
				out = append(out, t)
			}
		}
		if len(held) > 0 {
			why[w.ID] = "tasks " + formatTasks(held) + " wait until their previous workers stopped them"
		}
		w.Tasks = out
	}
	return why
}
