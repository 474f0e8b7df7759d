package main

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
)

// mirrorSourceConfig is a MirrorSource connector's configuration for the fleet's clusters,
// copying the topics matching topicsRegex as east.<topic>.
func (f *fleet) mirrorSourceConfig(topicsRegex string, extra map[string]string) map[string]string {
	m := map[string]string{
		"connector.class":                  classSource,
		"source.cluster.alias":             "east",
		"target.cluster.alias":             "west",
		"source.cluster.bootstrap.servers": f.src,
		"target.cluster.bootstrap.servers": f.tgt,
		"topics":                           topicsRegex,
		"replication.policy.class":         "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
		"refresh.topics.interval.seconds":  "1",
		"key.converter":                    "org.apache.kafka.connect.converters.ByteArrayConverter",
		"value.converter":                  "org.apache.kafka.connect.converters.ByteArrayConverter",
	}
	maps.Copy(m, extra)
	return m
}

// createConnectorWith creates a connector with the given capacity and configuration.
func (f *fleet) createConnectorWith(t *testing.T, plugin, name string, capacity *kctypes.Capacity, conf map[string]string) string {
	t.Helper()
	out, err := f.api.kc.CreateConnector(t.Context(), f.connectorInput(plugin, name, capacity, conf))
	if err != nil {
		t.Fatalf("CreateConnector %s: %v", name, err)
	}
	return aws.ToString(out.ConnectorArn)
}

// connectorInput is the CreateConnector request of the fleet's connectors: the target cluster
// as kafkaCluster, revision 1 of plugin.
func (f *fleet) connectorInput(plugin, name string, capacity *kctypes.Capacity, conf map[string]string) *kafkaconnect.CreateConnectorInput {
	return &kafkaconnect.CreateConnectorInput{
		ConnectorName:          aws.String(name),
		KafkaConnectVersion:    aws.String("3.7.x"),
		Capacity:               capacity,
		ConnectorConfiguration: conf,
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String(f.tgt), Vpc: &kctypes.Vpc{Subnets: []string{"subnet-1"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: aws.String(plugin), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/fjord-connect"),
	}
}

// opWatch is what waitOperation saw while an operation ran.
type opWatch struct {
	op              *kafkaconnect.DescribeConnectorOperationOutput
	opStates        []kctypes.ConnectorOperationState
	connectorStates []kctypes.ConnectorState
	// stepOrder is the order in which steps were first seen COMPLETED or FAILED.
	stepOrder []kctypes.ConnectorOperationStepType
}

// waitOperation polls an operation (and its connector) until it ends, recording the states
// it went through.
func (f *fleet) waitOperation(t *testing.T, connectorARN, opARN string, timeout time.Duration) *opWatch {
	t.Helper()
	w := &opWatch{}
	done := map[kctypes.ConnectorOperationStepType]bool{}
	poll(t, timeout, "operation "+opARN+" to end", func() bool {
		op, err := f.api.kc.DescribeConnectorOperation(t.Context(), &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: aws.String(opARN)})
		if err != nil {
			t.Fatalf("DescribeConnectorOperation: %v", err)
		}
		w.op = op
		if n := len(w.opStates); n == 0 || w.opStates[n-1] != op.ConnectorOperationState {
			w.opStates = append(w.opStates, op.ConnectorOperationState)
		}
		for _, s := range op.OperationSteps {
			if (s.StepState == kctypes.ConnectorOperationStepStateCompleted || s.StepState == kctypes.ConnectorOperationStepStateFailed) && !done[s.StepType] {
				done[s.StepType] = true
				w.stepOrder = append(w.stepOrder, s.StepType)
			}
		}
		cs := f.describeConnector(t, connectorARN).ConnectorState
		if n := len(w.connectorStates); n == 0 || w.connectorStates[n-1] != cs {
			w.connectorStates = append(w.connectorStates, cs)
		}
		switch op.ConnectorOperationState {
		case kctypes.ConnectorOperationStateUpdateComplete, kctypes.ConnectorOperationStateUpdateFailed,
			kctypes.ConnectorOperationStateRollbackComplete, kctypes.ConnectorOperationStateRollbackFailed:
			return true
		}
		return false
	})
	return w
}

// runningWorkers counts a workload's workers that report RUNNING on their current assignment,
// and the distinct agents they run on.
func (f *fleet) runningWorkers(t *testing.T, arn string) (n int, agents map[string]bool) {
	agents = map[string]bool{}
	for _, w := range f.workers(t, arn) {
		if w.state == "RUNNING" && w.reportedEpoch == w.epoch && w.reportedAgent == w.agent && w.agent != "" {
			n++
			agents[w.agent] = true
		}
	}
	return n, agents
}

// workloadEvents reads a workload's recorded scheduler events of one kind.
func (f *fleet) workloadEvents(t *testing.T, arn, kind string) []string {
	t.Helper()
	rows, err := f.db.Query(t.Context(), `SELECT reason FROM workload_events WHERE workload_arn = $1 AND kind = $2 ORDER BY id`, arn, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestConnectorOperationsE2E: UpdateConnector of a running MirrorSource connector, while
// records stream in. A capacity update from one worker to two reaches UPDATE_COMPLETE with its
// steps in order and two workers running on distinct agents; a configuration the workers
// cannot start rolls back (ROLLBACK_COMPLETE, errorInfo) and the connector goes on RUNNING on
// its old configuration. Across both, the target receives every source record.
func TestConnectorOperationsE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second, "--update-validation", "2s", "--update-timeout", "1m")
	f.startAgent(t, "ops-a", 4)
	f.startAgent(t, "ops-b", 4)
	ctx := t.Context()
	plugin := f.customPlugin(t)
	topics := []string{"ops.0", "ops.1"}
	createTopics(t, f.src, 4, topics...)
	prod := newProducer(t, f.src)
	c := newCorpus()
	c.produce(t, prod, topics, 4, 4000)
	conf := f.mirrorSourceConfig(`ops\..*`, map[string]string{"tasks.max": "4"})
	arn := f.createConnectorWith(t, plugin, "ops-mirror",
		&kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}}, conf)
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
	s := c.stream(t, prod, topics, 4, 2)
	defer s.halt(t)

	// 1. Provisioned capacity: one worker → two.
	d := f.describeConnector(t, arn)
	t0 := time.Now()
	up, err := f.api.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: aws.String(arn), CurrentVersion: d.CurrentVersion,
		Capacity: &kctypes.CapacityUpdate{ProvisionedCapacity: &kctypes.ProvisionedCapacityUpdate{McuCount: 1, WorkerCount: 2}},
	})
	if err != nil {
		t.Fatalf("UpdateConnector capacity: %v", err)
	}
	if up.ConnectorState != kctypes.ConnectorStateUpdating {
		t.Errorf("UpdateConnector returned state %s, want UPDATING", up.ConnectorState)
	}
	w := f.waitOperation(t, arn, aws.ToString(up.ConnectorOperationArn), 2*time.Minute)
	t.Logf("capacity update: %s in %.2f s; operation states %v; connector states %v", w.op.ConnectorOperationState,
		time.Since(t0).Seconds(), w.opStates, w.connectorStates)
	if w.op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateComplete {
		t.Fatalf("capacity update ended %s: %s", w.op.ConnectorOperationState, errorInfo(w.op.ErrorInfo))
	}
	wantSteps := []kctypes.ConnectorOperationStepType{kctypes.ConnectorOperationStepTypeInitializeUpdate,
		kctypes.ConnectorOperationStepTypeUpdateWorkerSetting, kctypes.ConnectorOperationStepTypeValidateUpdate,
		kctypes.ConnectorOperationStepTypeFinalizeUpdate}
	var listed []kctypes.ConnectorOperationStepType
	for _, st := range w.op.OperationSteps {
		listed = append(listed, st.StepType)
		if st.StepState != kctypes.ConnectorOperationStepStateCompleted {
			t.Errorf("step %s is %s, want COMPLETED", st.StepType, st.StepState)
		}
	}
	if !slices.Equal(listed, wantSteps) {
		t.Errorf("steps %v, want %v", listed, wantSteps)
	}
	if !isSubsequence(w.stepOrder, wantSteps) {
		t.Errorf("steps completed in the order %v, want %v", w.stepOrder, wantSteps)
	}
	if !slices.Contains(w.connectorStates, kctypes.ConnectorStateUpdating) && len(w.stepOrder) < len(wantSteps) {
		t.Errorf("connector never seen UPDATING during the operation: %v", w.connectorStates)
	}
	if w.op.EndTime == nil {
		t.Error("completed operation has no endTime")
	}
	if o, n := w.op.OriginWorkerSetting, w.op.TargetWorkerSetting; o == nil || n == nil ||
		o.Capacity.ProvisionedCapacity.WorkerCount != 1 || n.Capacity.ProvisionedCapacity.WorkerCount != 2 {
		t.Errorf("origin/target worker settings %+v → %+v", o, n)
	}
	if cs := f.describeConnector(t, arn); cs.ConnectorState != kctypes.ConnectorStateRunning || cs.Capacity.ProvisionedCapacity.WorkerCount != 2 {
		t.Errorf("after the capacity update: %s, capacity %+v", cs.ConnectorState, cs.Capacity.ProvisionedCapacity)
	}
	if n, agents := f.runningWorkers(t, arn); n != 2 || len(agents) != 2 {
		t.Errorf("after the capacity update %d workers run on agents %v; want 2 on distinct agents", n, agents)
	}

	// 2. A configuration the class registry refuses is a 400 naming the key; nothing changes.
	d = f.describeConnector(t, arn)
	invalid := maps.Clone(conf)
	invalid["topics"] = `ops\.(` // not a regular expression
	_, err = f.api.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: aws.String(arn), CurrentVersion: d.CurrentVersion, ConnectorConfiguration: invalid,
	})
	var badReq *kctypes.BadRequestException
	if !errors.As(err, &badReq) || !strings.Contains(badReq.ErrorMessage(), "topics") {
		t.Fatalf("UpdateConnector with topics not a regex: %v, want BadRequestException naming topics", err)
	}
	if again := f.describeConnector(t, arn); aws.ToString(again.CurrentVersion) != aws.ToString(d.CurrentVersion) || again.ConnectorState != kctypes.ConnectorStateRunning {
		t.Fatalf("a refused update changed the connector: %s %s", again.ConnectorState, aws.ToString(again.CurrentVersion))
	}

	// 3. A configuration only the workers can refuse (a truststore file that is not on their
	// host: the server does not read the workers' files) rolls back.
	bad := maps.Clone(conf)
	bad["source.cluster.security.protocol"] = "SSL"
	bad["source.cluster.ssl.truststore.location"] = "/nonexistent/fjord-ca.pem"
	t1 := time.Now()
	up2, err := f.api.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: aws.String(arn), CurrentVersion: d.CurrentVersion, ConnectorConfiguration: bad,
	})
	if err != nil {
		t.Fatalf("UpdateConnector configuration: %v", err)
	}
	w2 := f.waitOperation(t, arn, aws.ToString(up2.ConnectorOperationArn), 2*time.Minute)
	t.Logf("bad configuration: %s in %.2f s; operation states %v; errorInfo %s", w2.op.ConnectorOperationState,
		time.Since(t1).Seconds(), w2.opStates, errorInfo(w2.op.ErrorInfo))
	if w2.op.ConnectorOperationState != kctypes.ConnectorOperationStateRollbackComplete {
		t.Fatalf("bad configuration ended %s, want ROLLBACK_COMPLETE", w2.op.ConnectorOperationState)
	}
	if !slices.Contains(w2.opStates, kctypes.ConnectorOperationStateRollbackInProgress) && len(w2.opStates) > 1 {
		t.Logf("ROLLBACK_IN_PROGRESS not observed between polls: %v", w2.opStates)
	}
	if w2.op.ErrorInfo == nil || aws.ToString(w2.op.ErrorInfo.Code) != "INVALID_CONFIGURATION" ||
		!strings.Contains(aws.ToString(w2.op.ErrorInfo.Message), "ssl.truststore.location") {
		t.Errorf("errorInfo %+v, want INVALID_CONFIGURATION naming ssl.truststore.location", w2.op.ErrorInfo)
	}
	failed := 0
	for _, st := range w2.op.OperationSteps {
		if st.StepState == kctypes.ConnectorOperationStepStateFailed {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("rolled-back operation steps %+v: want exactly one FAILED", w2.op.OperationSteps)
	}
	if got := w2.op.TargetConnectorConfiguration["topics"]; got != "<redacted>" {
		t.Errorf("target configuration shows topics %q; AWS masks values", got)
	}
	after := f.describeConnector(t, arn)
	if after.ConnectorState != kctypes.ConnectorStateRunning || !maps.Equal(after.ConnectorConfiguration, conf) {
		t.Errorf("after rollback: %s with %v; want RUNNING with the old configuration", after.ConnectorState, after.ConnectorConfiguration)
	}
	// Data still flows: the target keeps receiving the streamed records.
	targets := []string{"east.ops.0", "east.ops.1"}
	before := sumOffsets(endOffsets(t, f.tgt, targets...))
	poll(t, time.Minute, "records copied after the rollback", func() bool {
		return sumOffsets(endOffsets(t, f.tgt, targets...)) > before+200
	})
	ops, err := f.api.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("ListConnectorOperations: %v", err)
	}
	if len(ops.ConnectorOperations) != 2 || ops.ConnectorOperations[0].ConnectorOperationState != kctypes.ConnectorOperationStateRollbackComplete ||
		ops.ConnectorOperations[1].ConnectorOperationState != kctypes.ConnectorOperationStateUpdateComplete {
		t.Errorf("ListConnectorOperations: %+v", ops.ConnectorOperations)
	}
	if ev := f.workloadEvents(t, arn, "operation"); len(ev) < 4 {
		t.Errorf("operation events %q: want the steps of both operations", ev)
	}

	s.halt(t)
	check := newMirrorCheck(t, c, f.tgt, func(topic string) string { return "east." + topic }, `^east\.ops\.`)
	check.waitComplete(t, 2*time.Minute, "every source record on the target")
	t.Logf("%d records on the target across both operations; %d duplicates", check.seen-check.dups, check.dups)
}

// TestAutoscaleE2E: an autoscaled connector (min 1, max 3 workers, scale out above 20 % CPU,
// in below 5 %) under sustained load scales out to more than one worker, then back to one when
// the load stops; the target holds every source record, in order, across both rebalances.
func TestAutoscaleE2E(t *testing.T) {
	t.Parallel()
	const window, cooldown = 4 * time.Second, 6 * time.Second
	f := startFleet(t, 3*time.Second, "--autoscale-window", window.String(), "--autoscale-cooldown", cooldown.String())
	f.startAgent(t, "auto-a", 4, "--metrics-interval", "1s")
	f.startAgent(t, "auto-b", 4, "--metrics-interval", "1s")
	plugin := f.customPlugin(t)
	topics := []string{"auto.0", "auto.1"}
	createTopics(t, f.src, 6, topics...)
	prod := newProducer(t, f.src)
	c := newCorpus()
	arn := f.createConnectorWith(t, plugin, "auto-mirror", &kctypes.Capacity{AutoScaling: &kctypes.AutoScaling{
		McuCount: 1, MinWorkerCount: 1, MaxWorkerCount: 3,
		ScaleOutPolicy: &kctypes.ScaleOutPolicy{CpuUtilizationPercentage: 20},
		ScaleInPolicy:  &kctypes.ScaleInPolicy{CpuUtilizationPercentage: 5},
	}}, f.mirrorSourceConfig(`auto\..*`, nil))
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var n int
		var cpu, mem float64
		err := f.db.QueryRow(context.Background(), `SELECT count(*), coalesce(avg(cpu), 0), coalesce(avg(memory), 0) FROM worker_samples
			WHERE workload_arn = $1 AND at > now() - interval '10 seconds'`, arn).Scan(&n, &cpu, &mem)
		t.Logf("last 10 s of utilization samples: %d, CPU %.1f%%, memory %.1f%% (%v)", n, 100*cpu, 100*mem, err)
	})

	// Sustained load: the producer keeps the source busy until the second worker runs.
	t0 := time.Now()
	s := c.stream(t, prod, topics, 6, 150)
	poll(t, time.Minute, "a second worker under load", func() bool {
		n, _ := f.runningWorkers(t, arn)
		return n >= 2
	})
	t.Logf("scale-out: second worker RUNNING %.1f s after the load started (window %s, cooldown %s)",
		time.Since(t0).Seconds(), window, cooldown)
	// Let the rebalanced workers copy under load for a moment, then stop the load.
	time.Sleep(2 * time.Second)
	s.halt(t)
	t1 := time.Now()
	poll(t, 3*time.Minute, "scale-in to one worker without load", func() bool {
		n, _ := f.runningWorkers(t, arn)
		return n == 1 && len(f.workers(t, arn)) == 1
	})
	t.Logf("scale-in: back to one worker %.1f s after the load stopped", time.Since(t1).Seconds())
	ev := f.workloadEvents(t, arn, "autoscale")
	if !slices.ContainsFunc(ev, func(r string) bool { return strings.HasPrefix(r, "scale out") }) ||
		!slices.ContainsFunc(ev, func(r string) bool { return strings.HasPrefix(r, "scale in") }) {
		t.Errorf("autoscale events %q: want a scale out and a scale in with their reasons", ev)
	}
	for _, e := range ev {
		t.Logf("event: %s", e)
	}
	check := newMirrorCheck(t, c, f.tgt, func(topic string) string { return "east." + topic }, `^east\.auto\.`)
	check.waitComplete(t, 2*time.Minute, "every source record on the target")
	t.Logf("%d records on the target across both rebalances; %d duplicates", check.seen-check.dups, check.dups)
}

// isSubsequence reports whether want appears in got in order (other elements may interleave).
func isSubsequence[T comparable](got, want []T) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func errorInfo(d *kctypes.StateDescription) string {
	if d == nil {
		return "none"
	}
	return aws.ToString(d.Code) + ": " + aws.ToString(d.Message)
}
