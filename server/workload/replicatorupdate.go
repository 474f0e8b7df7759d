package workload

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/store"
)

// Replicator updates (UpdateReplicationInfo).
//
// The API stores the new replication info, marks the replicator UPDATING (a CREATING one stays
// CREATING) and records a replicator operation, all in one transaction; a replicator already
// UPDATING refuses another update (BadRequestException naming replicatorArn), so nothing is
// half-written. The scheduler's leader then carries the operation through the same hook as
// connector operations (AdvanceOperation), one step per observation:
//
//  1. restart: when the replication info changed, every worker of the replicator gets a new
//     epoch (store.OpChange.Restart, applied by the leader on its own before it plans), so its
//     agent restarts it with task configurations built from the new info — MirrorSource
//     tasks with the new topic lists, the checkpoint task with the new group lists and
//     offset-sync settings. A stopped worker flushes and records its progress first, and in
//     exactly-once mode records and progress are one transaction under a transactional id
//     the new incarnation fences, so the topics that stay lose and duplicate nothing.
//  2. settle: once every worker reports RUNNING on its new epoch the replicator is RUNNING
//     again (a CREATING one is left to the scheduler's CREATING → RUNNING).
//
// A permanent worker failure on the new info (a refused setting, an unreachable cluster, a
// secret gone) makes the replicator FAILED with its code, as it would outside an update; a
// worker failing transiently is retried by its agent and the update waits. Should the workers
// not settle within Config.UpdateTimeout (capacity missing, say), the update still ends: the
// replicator is RUNNING on the new info and its workers' trouble is reported as it would be
// at any other time. MSK has no rollback of replication info: none is made.

// ReplicatorUpdate is a replicator operation's progress (its Doc).
type ReplicatorUpdate struct {
	// Restart: the replication info changed, so the workers restart with it.
	Restart bool `json:"restart"`
	// Restarted: step 1 is done; PhaseAt is when.
	Restarted bool      `json:"restarted,omitempty"`
	PhaseAt   time.Time `json:"phase_at"`
	// Creating: the replicator was CREATING when the update was made (informational; the
	// leader goes by the state it observes).
	Creating bool `json:"creating,omitempty"`
}

// advanceReplicatorUpdate is AdvanceOperation for replicator operations.
func (w *Compiler) advanceReplicatorUpdate(op *store.Operation, r *store.Resource, obs scheduler.OpObservation, now time.Time) (*store.OpChange, error) {
	var st ReplicatorUpdate
	if err := json.Unmarshal(op.Doc, &st); err != nil {
		return nil, fmt.Errorf("decode replicator operation %s: %w", op.ARN, err)
	}
	next := *op
	change := &store.OpChange{Op: &next}
	finish := func(opState, note string) (*store.OpChange, error) {
		doc, err := json.Marshal(st)
		if err != nil {
			return nil, err
		}
		next.State, next.Doc, change.Note = opState, doc, note
		return change, nil
	}
	switch {
	case r.State == StateDeleting || r.State == StateFailed:
		return finish("UPDATE_FAILED", "replication info update cancelled: the replicator is "+r.State)

	case !st.Restarted:
		st.Restarted, st.PhaseAt = true, now
		change.Restart = st.Restart
		note := "replication info updated: every worker restarts with it"
		if !st.Restart {
			note = "replication info updated: the workers' task configurations are unchanged"
		}
		if r.State == StateCreating {
			// Nothing is validated before the replicator first runs: the scheduler's
			// CREATING → RUNNING waits for the restarted workers.
			return finish("UPDATE_COMPLETE", note+" (the replicator is still being created)")
		}
		change.State = StateUpdating
		return finish("UPDATE_IN_PROGRESS", note)

	case obs.FailCode != "" && obs.FailCode != transientWorkerFailure:
		change.State, change.StateCode, change.StateMessage = StateFailed, obs.FailCode, obs.FailMessage
		return finish("UPDATE_FAILED", fmt.Sprintf("replication info update failed: %s: %s", obs.FailCode, obs.FailMessage))

	case obs.Settled:
		change.State = StateRunning
		return finish("UPDATE_COMPLETE", "replication info update complete: every worker runs it")

	case now.Sub(st.PhaseAt) > w.cfg.UpdateTimeout:
		change.State = StateRunning
		return finish("UPDATE_COMPLETE", fmt.Sprintf("replication info update ends unsettled after %s: %s", w.cfg.UpdateTimeout, obs.Waiting))
	}
	return nil, nil
}

// transientWorkerFailure is the code scheduler.OpObservation gives a worker that failed on its
// current assignment without a permanent error code: its agent restarts it.
const transientWorkerFailure = "WORKER_FAILED"
