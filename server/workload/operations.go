package workload

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/store"
)

// Connector operations (UpdateConnector).
//
// UpdateConnector validates the request, records the operation (UPDATE_IN_PROGRESS, step
// INITIALIZE_UPDATE in progress) with the connector's origin and target settings, and marks
// the connector UPDATING. The scheduler's leader then drives it, one step per observation:
//
//	INITIALIZE_UPDATE        the target replaces the connector's description; a new
//	                         configuration restarts every worker (new epochs)
//	UPDATE_WORKER_SETTING /  the workers are placed, resized or retasked to the target and
//	UPDATE_CONNECTOR_CONFIGURATION  all report RUNNING on their new assignment
//	VALIDATE_UPDATE          they keep running for Config.UpdateValidation
//	FINALIZE_UPDATE          the operation is UPDATE_COMPLETE, the connector RUNNING
//
// A worker failing on the target, or a step outlasting Config.UpdateTimeout, rolls back: the
// origin replaces the description again (ROLLBACK_IN_PROGRESS, errorInfo says why) and once
// the workers run it the operation is ROLLBACK_COMPLETE and the connector RUNNING on its old
// settings. Each step is also a workload event.

// OpState is the operation's private progress, sealed with it.
type OpState struct {
	Origin map[string]string `json:"origin,omitempty"` // connector configurations (config updates)
	Target map[string]string `json:"target,omitempty"`
	// PhaseAt is when the current step began; SettledAt when the workers were last seen all
	// running the current settings without interruption (zero: not settled).
	PhaseAt   time.Time `json:"phase_at"`
	SettledAt time.Time `json:"settled_at"`
	// Creating: the connector had not started when the update began: the target just
	// replaces its settings and it goes on creating (there is nothing running to validate).
	Creating bool `json:"creating,omitempty"`
}

// NewOperationSteps are the steps of a new operation of type opType.
func NewOperationSteps(opType string) []*kc.ConnectorOperationStep {
	steps := []*kc.ConnectorOperationStep{{StepType: proto.String("INITIALIZE_UPDATE"), StepState: proto.String("IN_PROGRESS")}}
	for _, st := range []string{opType, "VALIDATE_UPDATE", "FINALIZE_UPDATE"} {
		steps = append(steps, &kc.ConnectorOperationStep{StepType: proto.String(st), StepState: proto.String("PENDING")})
	}
	return steps
}

// AdvanceOperation is the scheduler's OperationFunc, for connector operations and (in
// replicatorupdate.go) replicator updates.
func (w *Compiler) AdvanceOperation(op *store.Operation, r *store.Resource, obs scheduler.OpObservation, now time.Time) (*store.OpChange, error) {
	if op.Replicator {
		return w.advanceReplicatorUpdate(op, r, obs, now)
	}
	desc, err := OperationDescription(op)
	if err != nil {
		return nil, err
	}
	desc.CreationTime, desc.EndTime = nil, nil // derived from the row when read
	var state OpState
	if len(op.Secret) > 0 {
		if err := json.Unmarshal(op.Secret, &state); err != nil {
			return nil, fmt.Errorf("decode operation state: %w", err)
		}
	}
	next := *op
	change := &store.OpChange{Op: &next}
	finish := func(opState string, note string) (*store.OpChange, error) {
		next.State = opState
		desc.ConnectorOperationState = proto.String(opState)
		next.Doc = EncodeDoc(desc)
		sec, err := json.Marshal(state)
		if err != nil {
			return nil, err
		}
		next.Secret = sec
		change.Note = note
		return change, nil
	}
	step := func(t string) *kc.ConnectorOperationStep {
		for _, st := range desc.OperationSteps {
			if st.GetStepType() == t {
				return st
			}
		}
		st := &kc.ConnectorOperationStep{StepType: proto.String(t), StepState: proto.String("PENDING")}
		desc.OperationSteps = append(desc.OperationSteps, st)
		return st
	}
	set := func(t, st string) { step(t).StepState = proto.String(st) }
	opType := desc.GetConnectorOperationType()
	name := r.Name

	if r.State == StateDeleting || r.State == StateFailed {
		for _, st := range desc.OperationSteps {
			if st.GetStepState() == "IN_PROGRESS" || st.GetStepState() == "PENDING" {
				st.StepState = proto.String("CANCELLED")
			}
		}
		desc.ErrorInfo = &kc.StateDescription{Code: proto.String("CONNECTOR_" + r.State), Message: proto.String("the connector became " + r.State + " during the update")}
		change.Table = nil
		return finish("UPDATE_FAILED", "update of "+name+" cancelled: the connector is "+r.State)
	}

	// apply replaces the connector's description with the origin or target settings.
	apply := func(target bool) error {
		cur, err := ConnectorDescription(r)
		if err != nil {
			return err
		}
		switch opType {
		case "UPDATE_WORKER_SETTING":
			ws := desc.GetOriginWorkerSetting()
			if target {
				ws = desc.GetTargetWorkerSetting()
			}
			cur.Capacity = ws.GetCapacity()
		default:
			cur.ConnectorConfiguration = state.Origin
			if target {
				cur.ConnectorConfiguration = state.Target
			}
			change.Restart = true
		}
		conf := cur.ConnectorConfiguration
		cur.ConnectorConfiguration = nil
		cur.ConnectorState, cur.CurrentVersion, cur.CreationTime, cur.StateDescription = nil, nil, nil, nil
		change.Doc = EncodeDoc(cur)
		change.Secret, err = json.Marshal(conf)
		return err
	}
	rollback := func(failed, code, msg string) (*store.OpChange, error) {
		set(failed, "FAILED")
		for _, st := range desc.OperationSteps {
			if st.GetStepState() == "PENDING" || st.GetStepState() == "IN_PROGRESS" {
				st.StepState = proto.String("CANCELLED")
			}
		}
		desc.ErrorInfo = &kc.StateDescription{Code: proto.String(code), Message: proto.String(msg)}
		if err := apply(false); err != nil {
			return nil, err
		}
		state.PhaseAt, state.SettledAt = now, time.Time{}
		return finish("ROLLBACK_IN_PROGRESS", fmt.Sprintf("update rolls back to the previous settings: %s: %s", code, msg))
	}
	timedOut := !state.PhaseAt.IsZero() && now.Sub(state.PhaseAt) > w.cfg.UpdateTimeout

	switch op.State {
	case "PENDING", "UPDATE_IN_PROGRESS":
		switch {
		case step("INITIALIZE_UPDATE").GetStepState() != "COMPLETED":
			set("INITIALIZE_UPDATE", "COMPLETED")
			set(opType, "IN_PROGRESS")
			if err := apply(true); err != nil {
				return nil, err
			}
			state.PhaseAt, state.SettledAt = now, time.Time{}
			if state.Creating {
				for _, st := range []string{opType, "VALIDATE_UPDATE", "FINALIZE_UPDATE"} {
					set(st, "COMPLETED")
				}
				change.State = StateCreating
				return finish("UPDATE_COMPLETE", "update applied before the connector started: it goes on creating with the target settings")
			}
			change.State = StateUpdating
			return finish("UPDATE_IN_PROGRESS", "update started: the connector's workers move to the target settings")
		case step(opType).GetStepState() == "IN_PROGRESS":
			switch {
			case obs.FailCode != "":
				return rollback(opType, obs.FailCode, obs.FailMessage)
			case timedOut:
				return rollback(opType, "UPDATE_TIMEOUT", fmt.Sprintf("the workers did not reach the target settings within %s: %s", w.cfg.UpdateTimeout, obs.Waiting))
			case obs.Settled:
				set(opType, "COMPLETED")
				set("VALIDATE_UPDATE", "IN_PROGRESS")
				state.PhaseAt, state.SettledAt = now, now
				return finish("UPDATE_IN_PROGRESS", "workers run the target settings; validating for "+w.cfg.UpdateValidation.String())
			}
			return nil, nil
		default: // VALIDATE_UPDATE
			switch {
			case obs.FailCode != "":
				return rollback("VALIDATE_UPDATE", obs.FailCode, obs.FailMessage)
			case !obs.Settled && timedOut:
				return rollback("VALIDATE_UPDATE", "UPDATE_TIMEOUT", "the workers did not keep running the target settings: "+obs.Waiting)
			case !obs.Settled:
				if state.SettledAt.IsZero() {
					return nil, nil
				}
				state.SettledAt = time.Time{}
				return finish(op.State, "validation interrupted: "+obs.Waiting)
			case state.SettledAt.IsZero():
				state.SettledAt = now
				return finish(op.State, "")
			case now.Sub(state.SettledAt) >= w.cfg.UpdateValidation:
				set("VALIDATE_UPDATE", "COMPLETED")
				set("FINALIZE_UPDATE", "COMPLETED")
				change.State = StateRunning
				return finish("UPDATE_COMPLETE", "update complete: the connector runs the target settings")
			}
			return nil, nil
		}
	case "ROLLBACK_IN_PROGRESS":
		switch {
		case obs.Settled:
			change.State = StateRunning
			return finish("ROLLBACK_COMPLETE", "rollback complete: the connector runs its previous settings")
		case timedOut:
			change.State = StateFailed
			return finish("ROLLBACK_FAILED", "rollback failed: the workers did not reach the previous settings: "+obs.Waiting)
		}
	}
	return nil, nil
}
