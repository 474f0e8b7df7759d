package fleettest

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/servertest"
)

func describeOp(t *testing.T, kc *kafkaconnect.Client, opARN string) *kafkaconnect.DescribeConnectorOperationOutput {
	t.Helper()
	op, err := kc.DescribeConnectorOperation(t.Context(), &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: aws.String(opARN)})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func steps(op *kafkaconnect.DescribeConnectorOperationOutput) string {
	var s []string
	for _, st := range op.OperationSteps {
		s = append(s, fmt.Sprintf("%s=%s", st.StepType, st.StepState))
	}
	return strings.Join(s, " ")
}

// wantSteps is the steps of a configuration update in the given states, as steps prints them.
func wantSteps(states ...kctypes.ConnectorOperationStepState) string {
	var s []string
	for i, typ := range []string{"INITIALIZE_UPDATE", "UPDATE_CONNECTOR_CONFIGURATION", "VALIDATE_UPDATE", "FINALIZE_UPDATE"} {
		s = append(s, fmt.Sprintf("%s=%s", typ, states[i]))
	}
	return strings.Join(s, " ")
}

// onlyWorker waits until the agent is asked to run exactly one worker, at an epoch above
// after, with taskCount tasks in all, and returns it.
func onlyWorker(t *testing.T, a *testAgent, after int64, taskCount int32, what string) *agentv1.WorkerSpec {
	t.Helper()
	var w *agentv1.WorkerSpec
	servertest.Eventually(t, 10*time.Second, what, func() bool {
		ws := a.workers()
		if len(ws) != 1 || ws[0].Epoch <= after || int32(len(ws[0].Tasks)) != taskCount {
			return false
		}
		for _, ts := range ws[0].Tasks {
			if ts.TaskCount != taskCount {
				return false
			}
		}
		w = ws[0]
		return true
	})
	return w
}

// TestConnectorUpdateOnAnAgent: UpdateConnector of a RUNNING connector, through the real agent
// protocol. The call leaves the connector UPDATING, and an UPDATING connector refuses another
// update; the scheduler applies the target and restarts the worker on it (a new epoch), waits
// for it to run, validates, and completes: UPDATE_COMPLETE, the connector RUNNING on the
// target. A worker failing on the target rolls the update back: ROLLBACK_COMPLETE with
// errorInfo, the connector RUNNING on its previous configuration.
func TestConnectorUpdateOnAnAgent(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{LeaseTTL: 2 * time.Minute}) // the test agent does not heartbeat
	kc := env.KafkaConnect()
	ctx := t.Context()
	arn := createConnector(t, kc, activePlugin(t, env, kc), "upd", source, 1, 1, 2)
	a, err := connect(t, env, "agent-1", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	w0 := onlyWorker(t, a, 0, 2, "the worker desired")
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "RUNNING", func() bool {
		return describe(t, kc, arn).ConnectorState == kctypes.ConnectorStateRunning
	})

	// ---- a configuration update that succeeds ----
	d0 := describe(t, kc, arn)
	conf3 := maps.Clone(d0.ConnectorConfiguration)
	conf3["tasks.max"] = "3"
	up, err := kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d0.CurrentVersion,
		ConnectorConfiguration: conf3})
	if err != nil {
		t.Fatal(err)
	}
	if up.ConnectorState != kctypes.ConnectorStateUpdating {
		t.Errorf("UpdateConnector returned %s, want UPDATING", up.ConnectorState)
	}
	opARN := aws.ToString(up.ConnectorOperationArn)

	// The scheduler applies the target: the description has it, the worker restarts on it.
	var op *kafkaconnect.DescribeConnectorOperationOutput
	servertest.Eventually(t, 10*time.Second, "the target applied", func() bool {
		op = describeOp(t, kc, opARN)
		return op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateInProgress || op.OperationSteps[0].StepState != kctypes.ConnectorOperationStepStateInProgress
	})
	if op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateInProgress ||
		steps(op) != wantSteps("COMPLETED", "IN_PROGRESS", "PENDING", "PENDING") || op.EndTime != nil {
		t.Fatalf("operation after the target was applied: %s [%s], endTime %v", op.ConnectorOperationState, steps(op), op.EndTime)
	}
	d1 := describe(t, kc, arn)
	if d1.ConnectorState != kctypes.ConnectorStateUpdating || d1.ConnectorConfiguration["tasks.max"] != "3" ||
		aws.ToString(d1.CurrentVersion) == aws.ToString(d0.CurrentVersion) {
		t.Fatalf("connector with the target applied: %s, tasks.max %s, version %s (was %s)", d1.ConnectorState,
			d1.ConnectorConfiguration["tasks.max"], aws.ToString(d1.CurrentVersion), aws.ToString(d0.CurrentVersion))
	}
	w1 := onlyWorker(t, a, w0.Epoch, 3, "the worker restarted on the target")

	// An UPDATING connector refuses another update, even with its current version.
	_, err = kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d1.CurrentVersion,
		Capacity: &kctypes.CapacityUpdate{ProvisionedCapacity: &kctypes.ProvisionedCapacityUpdate{McuCount: 2, WorkerCount: 1}}})
	var bad *kctypes.BadRequestException
	if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), "UPDATING") {
		t.Fatalf("second update while UPDATING: %v; want a BadRequestException saying the connector is UPDATING", err)
	}
	if d := describe(t, kc, arn); aws.ToString(d.CurrentVersion) != aws.ToString(d1.CurrentVersion) ||
		d.Capacity.ProvisionedCapacity == nil || d.Capacity.ProvisionedCapacity.McuCount != 1 {
		t.Fatalf("a refused update changed the connector: version %s → %s, capacity %+v", aws.ToString(d1.CurrentVersion),
			aws.ToString(d.CurrentVersion), d.Capacity)
	}

	// Until the worker runs the target, the operation waits.
	time.Sleep(500 * time.Millisecond)
	if op = describeOp(t, kc, opARN); steps(op) != wantSteps("COMPLETED", "IN_PROGRESS", "PENDING", "PENDING") {
		t.Fatalf("operation before the worker runs the target: [%s]", steps(op))
	}
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "VALIDATE_UPDATE", func() bool {
		op = describeOp(t, kc, opARN)
		return steps(op) != wantSteps("COMPLETED", "IN_PROGRESS", "PENDING", "PENDING")
	})
	if op.ConnectorOperationState == kctypes.ConnectorOperationStateUpdateInProgress {
		if steps(op) != wantSteps("COMPLETED", "COMPLETED", "IN_PROGRESS", "PENDING") {
			t.Fatalf("operation once the worker runs the target: [%s]", steps(op))
		}
		if s := describe(t, kc, arn).ConnectorState; s != kctypes.ConnectorStateUpdating {
			t.Errorf("connector while its update validates: %s, want UPDATING", s)
		}
	}
	servertest.Eventually(t, 30*time.Second, "the operation to end", func() bool {
		op = describeOp(t, kc, opARN)
		return op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateInProgress
	})
	if op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateComplete ||
		steps(op) != wantSteps("COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED") || op.EndTime == nil || op.ErrorInfo != nil {
		t.Fatalf("completed operation: %s [%s], endTime %v, errorInfo %+v", op.ConnectorOperationState, steps(op), op.EndTime, op.ErrorInfo)
	}
	d2 := describe(t, kc, arn)
	if d2.ConnectorState != kctypes.ConnectorStateRunning || d2.ConnectorConfiguration["tasks.max"] != "3" {
		t.Fatalf("connector after its update: %s, tasks.max %s", d2.ConnectorState, d2.ConnectorConfiguration["tasks.max"])
	}
	if ws := a.workers(); len(ws) != 1 || ws[0].Epoch != w1.Epoch {
		t.Errorf("the worker was restarted again after the update completed: %v", ws)
	}

	// ---- a configuration update whose worker fails: rolled back ----
	conf4 := maps.Clone(conf3)
	conf4["tasks.max"] = "4"
	up2, err := kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d2.CurrentVersion,
		ConnectorConfiguration: conf4})
	if err != nil {
		t.Fatal(err)
	}
	op2ARN := aws.ToString(up2.ConnectorOperationArn)
	w2 := onlyWorker(t, a, w1.Epoch, 4, "the worker restarted on the second target")
	a.reportStatus(w2.WorkerId, w2.Epoch, agentv1.WorkerState_WORKER_STATE_FAILED, "task 3 crashed: boom")
	servertest.Eventually(t, 10*time.Second, "ROLLBACK_IN_PROGRESS", func() bool {
		op = describeOp(t, kc, op2ARN)
		return op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateInProgress
	})
	if op.ConnectorOperationState != kctypes.ConnectorOperationStateRollbackInProgress {
		t.Fatalf("operation after the worker failed on the target: %s [%s]", op.ConnectorOperationState, steps(op))
	}
	if d := describe(t, kc, arn); d.ConnectorState != kctypes.ConnectorStateUpdating || d.ConnectorConfiguration["tasks.max"] != "3" {
		t.Fatalf("connector rolling back: %s, tasks.max %s; want UPDATING on the origin", d.ConnectorState, d.ConnectorConfiguration["tasks.max"])
	}
	onlyWorker(t, a, w2.Epoch, 3, "the worker restarted on the origin")
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "ROLLBACK_COMPLETE", func() bool {
		op = describeOp(t, kc, op2ARN)
		return op.ConnectorOperationState != kctypes.ConnectorOperationStateRollbackInProgress
	})
	if op.ConnectorOperationState != kctypes.ConnectorOperationStateRollbackComplete || op.EndTime == nil ||
		steps(op) != wantSteps("COMPLETED", "FAILED", "CANCELLED", "CANCELLED") {
		t.Fatalf("rolled back operation: %s [%s], endTime %v", op.ConnectorOperationState, steps(op), op.EndTime)
	}
	if op.ErrorInfo == nil || aws.ToString(op.ErrorInfo.Code) == "" || !strings.Contains(aws.ToString(op.ErrorInfo.Message), "boom") {
		t.Errorf("errorInfo of the rolled back operation: %+v; want the worker's error", op.ErrorInfo)
	}
	d3 := describe(t, kc, arn)
	if d3.ConnectorState != kctypes.ConnectorStateRunning || d3.ConnectorConfiguration["tasks.max"] != "3" {
		t.Fatalf("connector after the rollback: %s, tasks.max %s; want RUNNING on the origin", d3.ConnectorState, d3.ConnectorConfiguration["tasks.max"])
	}

	ops, err := kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range ops.ConnectorOperations {
		got = append(got, aws.ToString(o.ConnectorOperationArn)+" "+string(o.ConnectorOperationState))
	}
	if want := []string{op2ARN + " ROLLBACK_COMPLETE", opARN + " UPDATE_COMPLETE"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("operations:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
