package sdktest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"

	"github.com/fjord-io/fjord/server/servertest"
)

// TestConnectorCreateDescribe: CreateConnector with every optional part (description, worker
// configuration, tags) and Describe returning all of it; an autoscaled connector shows the
// default scaling policies.
func TestConnectorCreateDescribe(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin := f.activePlugin(t, "mm2")
	wc := aws.ToString(must(f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("wc", workerProps))).get(t).WorkerConfigurationArn)

	in := connectorInput("orders-mirror", plugin)
	in.ConnectorDescription = aws.String("mirrors orders")
	in.WorkerConfiguration = &kct.WorkerConfiguration{WorkerConfigurationArn: aws.String(wc), Revision: 1}
	in.Tags = map[string]string{"team": "data"}
	created := must(f.kc.CreateConnector(ctx, in)).get(t)
	arn := aws.ToString(created.ConnectorArn)
	arnPrefix(t, "connectorArn", arn, "kafkaconnect", servertest.Account, "connector", "orders-mirror")
	eq(t, "create name", aws.ToString(created.ConnectorName), "orders-mirror")
	eq(t, "create state", created.ConnectorState, kct.ConnectorStateCreating)

	d := describeConnector(t, f.kc, arn)
	eq(t, "arn", aws.ToString(d.ConnectorArn), arn)
	eq(t, "name", aws.ToString(d.ConnectorName), "orders-mirror")
	eq(t, "description", aws.ToString(d.ConnectorDescription), "mirrors orders")
	eq(t, "state", d.ConnectorState, kct.ConnectorStateCreating)
	if aws.ToString(d.CurrentVersion) == "" {
		t.Error("currentVersion is empty")
	}
	recent(t, "creationTime", d.CreationTime)
	eqMap(t, "connectorConfiguration", d.ConnectorConfiguration, mirrorConfig())
	if c := d.Capacity; c == nil || c.AutoScaling != nil || c.ProvisionedCapacity == nil ||
		c.ProvisionedCapacity.McuCount != 1 || c.ProvisionedCapacity.WorkerCount != 2 {
		t.Errorf("capacity %+v", c)
	}
	if k := d.KafkaCluster; k == nil || k.ApacheKafkaCluster == nil || k.ApacheKafkaCluster.Vpc == nil {
		t.Errorf("kafkaCluster %+v", k)
	} else {
		eq(t, "bootstrapServers", aws.ToString(k.ApacheKafkaCluster.BootstrapServers), "127.0.0.1:29092")
		eqSlice(t, "subnets", k.ApacheKafkaCluster.Vpc.Subnets, []string{"subnet-0a1b2c"})
		eqSlice(t, "securityGroups", k.ApacheKafkaCluster.Vpc.SecurityGroups, []string{"sg-0a1b2c"})
	}
	if a := d.KafkaClusterClientAuthentication; a == nil || a.AuthenticationType != kct.KafkaClusterClientAuthenticationTypeNone {
		t.Errorf("kafkaClusterClientAuthentication %+v", a)
	}
	if e := d.KafkaClusterEncryptionInTransit; e == nil || e.EncryptionType != kct.KafkaClusterEncryptionInTransitTypePlaintext {
		t.Errorf("kafkaClusterEncryptionInTransit %+v", e)
	}
	eq(t, "kafkaConnectVersion", aws.ToString(d.KafkaConnectVersion), "3.7.x")
	eq(t, "networkType", d.NetworkType, kct.NetworkTypeIpv4)
	if len(d.Plugins) != 1 || d.Plugins[0].CustomPlugin == nil ||
		aws.ToString(d.Plugins[0].CustomPlugin.CustomPluginArn) != plugin || d.Plugins[0].CustomPlugin.Revision != 1 {
		t.Errorf("plugins %+v", d.Plugins)
	}
	eq(t, "serviceExecutionRoleArn", aws.ToString(d.ServiceExecutionRoleArn), roleARN)
	if w := d.WorkerConfiguration; w == nil || aws.ToString(w.WorkerConfigurationArn) != wc || w.Revision != 1 {
		t.Errorf("workerConfiguration %+v", w)
	}
	tags := must(f.kc.ListTagsForResource(ctx, &kafkaconnect.ListTagsForResourceInput{ResourceArn: aws.String(arn)})).get(t)
	eqMap(t, "tags", tags.Tags, map[string]string{"team": "data"})

	// Autoscaling, with the default scale-in/out policies filled in.
	in = connectorInput("autoscaled", plugin)
	in.Capacity = &kct.Capacity{AutoScaling: &kct.AutoScaling{McuCount: 2, MinWorkerCount: 1, MaxWorkerCount: 4, MaxAutoscalingTaskCount: 8}}
	d = describeConnector(t, f.kc, createConnector(t, f.kc, in))
	if c := d.Capacity; c == nil || c.ProvisionedCapacity != nil || c.AutoScaling == nil {
		t.Fatalf("autoscaled capacity %+v", c)
	}
	a := d.Capacity.AutoScaling
	eq(t, "mcuCount", a.McuCount, int32(2))
	eq(t, "minWorkerCount", a.MinWorkerCount, int32(1))
	eq(t, "maxWorkerCount", a.MaxWorkerCount, int32(4))
	eq(t, "maxAutoscalingTaskCount", a.MaxAutoscalingTaskCount, int32(8))
	if a.ScaleInPolicy == nil || a.ScaleOutPolicy == nil {
		t.Fatalf("default policies missing: %+v", a)
	}
	eq(t, "default scale-in", a.ScaleInPolicy.CpuUtilizationPercentage, int32(20))
	eq(t, "default scale-out", a.ScaleOutPolicy.CpuUtilizationPercentage, int32(80))
	if d.WorkerConfiguration != nil {
		t.Errorf("workerConfiguration %+v; want none", d.WorkerConfiguration)
	}

	// Explicit policies are kept.
	in = connectorInput("autoscaled-policies", plugin)
	in.Capacity = &kct.Capacity{AutoScaling: &kct.AutoScaling{McuCount: 8, MinWorkerCount: 2, MaxWorkerCount: 2,
		ScaleInPolicy: &kct.ScaleInPolicy{CpuUtilizationPercentage: 30}, ScaleOutPolicy: &kct.ScaleOutPolicy{CpuUtilizationPercentage: 70}}}
	a = describeConnector(t, f.kc, createConnector(t, f.kc, in)).Capacity.AutoScaling
	eq(t, "scale-in", a.ScaleInPolicy.CpuUtilizationPercentage, int32(30))
	eq(t, "scale-out", a.ScaleOutPolicy.CpuUtilizationPercentage, int32(70))
}

// TestListConnectors: order by name, connectorNamePrefix, pagination with the paginator, and
// accounts do not see each other's connectors.
func TestListConnectors(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin := f.activePlugin(t, "mm2")
	arns := map[string]string{}
	for _, n := range []string{"beta-1", "alpha-2", "alpha-1", "gamma", "alpha-3"} {
		arns[n] = createConnector(t, f.kc, connectorInput(n, plugin))
	}
	otherPlugin := f.activePluginOf(t, f.otherC, "mm2")
	createConnector(t, f.otherC, connectorInput("alpha-0", otherPlugin))

	all := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	if all.NextToken != nil {
		t.Errorf("complete list has a nextToken")
	}
	var names []string
	for _, c := range all.Connectors {
		n := aws.ToString(c.ConnectorName)
		names = append(names, n)
		eq(t, n+" arn", aws.ToString(c.ConnectorArn), arns[n])
		eq(t, n+" state", c.ConnectorState, kct.ConnectorStateCreating)
		if aws.ToString(c.CurrentVersion) == "" || c.Capacity == nil || c.Capacity.ProvisionedCapacity == nil ||
			c.Capacity.ProvisionedCapacity.WorkerCount != 2 || len(c.Plugins) != 1 || aws.ToString(c.KafkaConnectVersion) != "3.7.x" {
			t.Errorf("summary %s incomplete: %+v", n, c)
		}
		recent(t, n+" creationTime", c.CreationTime)
	}
	eqSlice(t, "all", names, []string{"alpha-1", "alpha-2", "alpha-3", "beta-1", "gamma"})

	pages := listConnectorPages(t, f.kc, &kafkaconnect.ListConnectorsInput{MaxResults: aws.Int32(2)})
	eq(t, "pages", len(pages), 3)
	eqSlice(t, "paginated", flatten(pages), []string{"alpha-1", "alpha-2", "alpha-3", "beta-1", "gamma"})

	pages = listConnectorPages(t, f.kc, &kafkaconnect.ListConnectorsInput{MaxResults: aws.Int32(2), ConnectorNamePrefix: aws.String("alpha")})
	eq(t, "prefix pages", len(pages), 2)
	eqSlice(t, "prefix", flatten(pages), []string{"alpha-1", "alpha-2", "alpha-3"})

	pages = listConnectorPages(t, f.kc, &kafkaconnect.ListConnectorsInput{MaxResults: aws.Int32(1), ConnectorNamePrefix: aws.String("g")})
	eq(t, "single", len(pages), 1)
	eqSlice(t, "single page", flatten(pages), []string{"gamma"})

	// The prefix is literal: LIKE wildcards in it match nothing.
	for _, prefix := range []string{"alph_", "alpha%", "%", "_"} {
		out := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{ConnectorNamePrefix: aws.String(prefix)})).get(t)
		eq(t, "connectors with prefix "+prefix, len(out.Connectors), 0)
	}

	other := must(f.otherC.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	if len(other.Connectors) != 1 || aws.ToString(other.Connectors[0].ConnectorName) != "alpha-0" {
		t.Errorf("other account lists %+v", other.Connectors)
	}
}

func listConnectorPages(t *testing.T, c *kafkaconnect.Client, in *kafkaconnect.ListConnectorsInput) [][]string {
	t.Helper()
	var pages [][]string
	p := kafkaconnect.NewListConnectorsPaginator(c, in)
	for p.HasMorePages() {
		out := must(p.NextPage(t.Context())).get(t)
		var page []string
		for _, x := range out.Connectors {
			page = append(page, aws.ToString(x.ConnectorName))
		}
		if len(page) > int(aws.ToInt32(in.MaxResults)) {
			t.Errorf("page of %d > maxResults %d", len(page), aws.ToInt32(in.MaxResults))
		}
		pages = append(pages, page)
	}
	return pages
}

// TestUpdateConnector: a capacity update and a configuration update each return a connector
// operation and leave the connector UPDATING; the scheduler's leader then carries the
// operation out (the connector has not started, so at once): UPDATE_COMPLETE with every step
// COMPLETED, the description has the target, currentVersion changed and the connector is
// CREATING again. Describe/ListConnectorOperations show the operations, newest first,
// paginated.
func TestUpdateConnector(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arn := createConnector(t, f.kc, connectorInput("c", f.activePlugin(t, "mm2")))
	v0 := describeConnector(t, f.kc, arn)
	eq(t, "state of a new connector", v0.ConnectorState, kct.ConnectorStateCreating)

	// Capacity: provisioned 1×2 → 2×3.
	up := must(f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: aws.String(arn), CurrentVersion: v0.CurrentVersion,
		Capacity: &kct.CapacityUpdate{ProvisionedCapacity: &kct.ProvisionedCapacityUpdate{McuCount: 2, WorkerCount: 3}},
	})).get(t)
	eq(t, "update arn", aws.ToString(up.ConnectorArn), arn)
	arnPrefix(t, "connectorOperationArn", aws.ToString(up.ConnectorOperationArn), "kafkaconnect", servertest.Account, "connector-operation", "c")
	eq(t, "update connectorState", up.ConnectorState, kct.ConnectorStateUpdating)

	// Right after the call the connector is UPDATING with its old description (the call only
	// records the operation) — unless the leader has already applied the target, in which case
	// the operation is complete and the connector CREATING on the new capacity.
	mid := describeConnector(t, f.kc, arn)
	if aws.ToString(mid.CurrentVersion) == aws.ToString(v0.CurrentVersion) {
		t.Error("currentVersion did not change on UpdateConnector")
	}
	first := checkJustRecorded(t, f.kc, aws.ToString(up.ConnectorOperationArn), kct.ConnectorOperationTypeUpdateWorkerSetting)
	switch mid.ConnectorState {
	case kct.ConnectorStateUpdating:
		if p := mid.Capacity.ProvisionedCapacity; p == nil || p.McuCount != 1 || p.WorkerCount != 2 || mid.Capacity.AutoScaling != nil {
			t.Errorf("capacity of the UPDATING connector %+v; want the origin 1×2 until the scheduler applies the target", mid.Capacity)
		}
		eqMap(t, "configuration of the UPDATING connector", mid.ConnectorConfiguration, mirrorConfig())
	case kct.ConnectorStateCreating:
		// (Seen CREATING before the operation was described: the operation must have been
		// complete already — the step that completes it is what makes the connector CREATING.)
		if first.ConnectorOperationState != kct.ConnectorOperationStateUpdateComplete {
			t.Errorf("connector CREATING (stateDescription %s) while its operation is still %s; want UPDATING until the operation completes",
				stateString(mid.StateDescription), first.ConnectorOperationState)
		}
	default:
		t.Errorf("connector right after UpdateConnector is %s; want UPDATING", mid.ConnectorState)
	}

	op := waitOperation(t, f.kc, aws.ToString(up.ConnectorOperationArn))
	checkCompleted(t, op, kct.ConnectorOperationTypeUpdateWorkerSetting)
	eq(t, "op arn", aws.ToString(op.ConnectorOperationArn), aws.ToString(up.ConnectorOperationArn))
	eq(t, "op connector", aws.ToString(op.ConnectorArn), arn)
	if first.CreationTime != nil && op.CreationTime != nil && !first.CreationTime.Equal(*op.CreationTime) {
		t.Errorf("operation creationTime changed from %v to %v", *first.CreationTime, *op.CreationTime)
	}
	if o := op.OriginWorkerSetting; o == nil || o.Capacity == nil || o.Capacity.ProvisionedCapacity == nil ||
		o.Capacity.ProvisionedCapacity.McuCount != 1 || o.Capacity.ProvisionedCapacity.WorkerCount != 2 {
		t.Errorf("originWorkerSetting %+v", o)
	}
	if n := op.TargetWorkerSetting; n == nil || n.Capacity == nil || n.Capacity.ProvisionedCapacity == nil ||
		n.Capacity.ProvisionedCapacity.McuCount != 2 || n.Capacity.ProvisionedCapacity.WorkerCount != 3 {
		t.Errorf("targetWorkerSetting %+v", n)
	}
	if op.OriginConnectorConfiguration != nil || op.TargetConnectorConfiguration != nil {
		t.Errorf("capacity update has connector configurations %v %v", op.OriginConnectorConfiguration, op.TargetConnectorConfiguration)
	}
	v1 := describeConnector(t, f.kc, arn)
	eq(t, "connector state after the update", v1.ConnectorState, kct.ConnectorStateCreating)
	if aws.ToString(v1.CurrentVersion) == aws.ToString(v0.CurrentVersion) {
		t.Error("currentVersion did not change")
	}
	if mid.ConnectorState == kct.ConnectorStateUpdating && aws.ToString(v1.CurrentVersion) == aws.ToString(mid.CurrentVersion) {
		t.Error("currentVersion did not change when the target was applied")
	}
	if p := v1.Capacity.ProvisionedCapacity; p == nil || p.McuCount != 2 || p.WorkerCount != 3 || v1.Capacity.AutoScaling != nil {
		t.Errorf("capacity after update %+v", v1.Capacity)
	}
	eqMap(t, "configuration after capacity update", v1.ConnectorConfiguration, mirrorConfig())
	sameOutput(t, "completed operation", op, describeOperation(t, f.kc, aws.ToString(up.ConnectorOperationArn)))

	// Capacity: provisioned → autoscaling.
	up2Arn, v2 := updateAndWait(t, f.kc, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: aws.String(arn), CurrentVersion: v1.CurrentVersion,
		Capacity: &kct.CapacityUpdate{AutoScaling: &kct.AutoScalingUpdate{McuCount: 4, MinWorkerCount: 1, MaxWorkerCount: 3,
			ScaleInPolicy: &kct.ScaleInPolicyUpdate{CpuUtilizationPercentage: 10}, ScaleOutPolicy: &kct.ScaleOutPolicyUpdate{CpuUtilizationPercentage: 90}}},
	})
	if a := v2.Capacity.AutoScaling; v2.Capacity.ProvisionedCapacity != nil || a == nil || a.McuCount != 4 || a.MaxWorkerCount != 3 ||
		a.ScaleInPolicy.CpuUtilizationPercentage != 10 || a.ScaleOutPolicy.CpuUtilizationPercentage != 90 {
		t.Errorf("capacity after autoscaling update %+v", v2.Capacity)
	}
	eqMap(t, "configuration after autoscaling update", v2.ConnectorConfiguration, mirrorConfig())
	op2 := describeOperation(t, f.kc, up2Arn)
	if o := op2.OriginWorkerSetting; o == nil || o.Capacity == nil || o.Capacity.ProvisionedCapacity == nil || o.Capacity.ProvisionedCapacity.WorkerCount != 3 {
		t.Errorf("op2 originWorkerSetting %+v", o)
	}
	if n := op2.TargetWorkerSetting; n == nil || n.Capacity == nil || n.Capacity.AutoScaling == nil || n.Capacity.AutoScaling.McuCount != 4 {
		t.Errorf("op2 targetWorkerSetting %+v", n)
	}

	// Configuration: tasks.max 2 → 4 and a new key.
	conf := mirrorConfig()
	conf["tasks.max"] = "4"
	conf["sync.topic.configs.enabled"] = "false"
	up3 := must(f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: aws.String(arn), CurrentVersion: v2.CurrentVersion, ConnectorConfiguration: conf,
	})).get(t)
	eq(t, "configuration update connectorState", up3.ConnectorState, kct.ConnectorStateUpdating)
	mid3 := describeConnector(t, f.kc, arn)
	first3 := checkJustRecorded(t, f.kc, aws.ToString(up3.ConnectorOperationArn), kct.ConnectorOperationTypeUpdateConnectorConfiguration)
	switch mid3.ConnectorState {
	case kct.ConnectorStateUpdating:
		eqMap(t, "configuration of the UPDATING connector", mid3.ConnectorConfiguration, mirrorConfig())
	case kct.ConnectorStateCreating:
		// (Seen CREATING before the operation was described: the operation must have been
		// complete already — the step that completes it is what makes the connector CREATING.)
		if first3.ConnectorOperationState != kct.ConnectorOperationStateUpdateComplete {
			t.Errorf("connector CREATING (stateDescription %s) while its operation is still %s; want UPDATING until the operation completes",
				stateString(mid3.StateDescription), first3.ConnectorOperationState)
		}
	default:
		t.Errorf("connector right after UpdateConnector is %s; want UPDATING", mid3.ConnectorState)
	}
	op3 := waitOperation(t, f.kc, aws.ToString(up3.ConnectorOperationArn))
	checkCompleted(t, op3, kct.ConnectorOperationTypeUpdateConnectorConfiguration)
	v3 := describeConnector(t, f.kc, arn)
	eq(t, "connector state after the configuration update", v3.ConnectorState, kct.ConnectorStateCreating)
	eqMap(t, "configuration after update", v3.ConnectorConfiguration, conf)
	if aws.ToString(v3.CurrentVersion) == aws.ToString(v2.CurrentVersion) {
		t.Error("currentVersion did not change on a configuration update")
	}
	if v3.Capacity.AutoScaling == nil || v3.Capacity.AutoScaling.McuCount != 4 {
		t.Errorf("capacity changed by a configuration update: %+v", v3.Capacity)
	}
	eq(t, "op3 type", op3.ConnectorOperationType, kct.ConnectorOperationTypeUpdateConnectorConfiguration)
	eq(t, "origin tasks.max", op3.OriginConnectorConfiguration["tasks.max"], "2")
	eq(t, "target tasks.max", op3.TargetConnectorConfiguration["tasks.max"], "4")
	eq(t, "target connector.class", op3.TargetConnectorConfiguration["connector.class"], mirrorSource)
	if _, ok := op3.TargetConnectorConfiguration["sync.topic.configs.enabled"]; !ok {
		t.Errorf("targetConnectorConfiguration %v lacks the new key", op3.TargetConnectorConfiguration)
	}
	if op3.OriginWorkerSetting != nil || op3.TargetWorkerSetting != nil {
		t.Errorf("configuration update has worker settings %+v %+v", op3.OriginWorkerSetting, op3.TargetWorkerSetting)
	}

	// ListConnectorOperations: newest first; pages of 2.
	want := []string{aws.ToString(up3.ConnectorOperationArn), up2Arn, aws.ToString(up.ConnectorOperationArn)}
	all := must(f.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})).get(t)
	var got []string
	for _, o := range all.ConnectorOperations {
		got = append(got, aws.ToString(o.ConnectorOperationArn))
		eq(t, "summary state", o.ConnectorOperationState, kct.ConnectorOperationStateUpdateComplete)
		recent(t, "summary creationTime", o.CreationTime)
		recent(t, "summary endTime", o.EndTime)
	}
	eqSlice(t, "operations", got, want)
	if len(all.ConnectorOperations) == 3 {
		eq(t, "newest type", all.ConnectorOperations[0].ConnectorOperationType, kct.ConnectorOperationTypeUpdateConnectorConfiguration)
		eq(t, "oldest type", all.ConnectorOperations[2].ConnectorOperationType, kct.ConnectorOperationTypeUpdateWorkerSetting)
	}

	var pages [][]string
	p := kafkaconnect.NewListConnectorOperationsPaginator(f.kc, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		out := must(p.NextPage(ctx)).get(t)
		var page []string
		for _, o := range out.ConnectorOperations {
			page = append(page, aws.ToString(o.ConnectorOperationArn))
		}
		pages = append(pages, page)
	}
	eq(t, "operation pages", len(pages), 2)
	eqSlice(t, "paginated operations", flatten(pages), want)

	// Another connector has its own (empty) list.
	other := createConnector(t, f.kc, connectorInput("d", aws.ToString(v0.Plugins[0].CustomPlugin.CustomPluginArn)))
	none := must(f.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(other)})).get(t)
	eq(t, "operations of a new connector", len(none.ConnectorOperations), 0)
}

// TestUpdateConnectorRefused: both or neither of capacity/configuration, a changed
// connector.class, invalid capacity and a stale currentVersion are BadRequests that change
// nothing; unknown and foreign ARNs are NotFound.
func TestUpdateConnectorRefused(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arn := createConnector(t, f.kc, connectorInput("c", f.activePlugin(t, "mm2")))
	before := describeConnector(t, f.kc, arn)
	cur := before.CurrentVersion
	conf := mirrorConfig()
	conf["tasks.max"] = "3"
	otherClass := mirrorConfig()
	otherClass["connector.class"] = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
	capUpdate := &kct.CapacityUpdate{ProvisionedCapacity: &kct.ProvisionedCapacityUpdate{McuCount: 2, WorkerCount: 1}}

	for _, tc := range []struct {
		name string
		in   kafkaconnect.UpdateConnectorInput
		want []string
	}{
		{"both", kafkaconnect.UpdateConnectorInput{Capacity: capUpdate, ConnectorConfiguration: conf}, []string{"capacity", "connectorConfiguration"}},
		{"neither", kafkaconnect.UpdateConnectorInput{}, []string{"capacity", "connectorConfiguration"}},
		{"connector.class", kafkaconnect.UpdateConnectorInput{ConnectorConfiguration: otherClass}, []string{"connector.class"}},
		{"no connector.class", kafkaconnect.UpdateConnectorInput{ConnectorConfiguration: map[string]string{"tasks.max": "1"}}, []string{"connector.class"}},
		{"mcu 3", kafkaconnect.UpdateConnectorInput{Capacity: &kct.CapacityUpdate{ProvisionedCapacity: &kct.ProvisionedCapacityUpdate{McuCount: 3, WorkerCount: 1}}}, []string{"mcuCount"}},
		{"both capacities", kafkaconnect.UpdateConnectorInput{Capacity: &kct.CapacityUpdate{
			ProvisionedCapacity: &kct.ProvisionedCapacityUpdate{McuCount: 1, WorkerCount: 1},
			AutoScaling:         &kct.AutoScalingUpdate{McuCount: 1, MinWorkerCount: 1, MaxWorkerCount: 2, ScaleInPolicy: &kct.ScaleInPolicyUpdate{CpuUtilizationPercentage: 20}, ScaleOutPolicy: &kct.ScaleOutPolicyUpdate{CpuUtilizationPercentage: 80}},
		}}, []string{"autoScaling", "provisionedCapacity"}},
		{"scale-in above scale-out", kafkaconnect.UpdateConnectorInput{Capacity: &kct.CapacityUpdate{
			AutoScaling: &kct.AutoScalingUpdate{McuCount: 1, MinWorkerCount: 1, MaxWorkerCount: 2, ScaleInPolicy: &kct.ScaleInPolicyUpdate{CpuUtilizationPercentage: 70}, ScaleOutPolicy: &kct.ScaleOutPolicyUpdate{CpuUtilizationPercentage: 60}},
		}}, []string{"scaleInPolicy"}},
		{"stale currentVersion", kafkaconnect.UpdateConnectorInput{Capacity: capUpdate, CurrentVersion: aws.String("stale-version")}, []string{"currentVersion"}},
	} {
		in := tc.in
		in.ConnectorArn = aws.String(arn)
		if in.CurrentVersion == nil {
			in.CurrentVersion = cur
		}
		_, err := f.kc.UpdateConnector(ctx, &in)
		wantErr[*kct.BadRequestException](t, err, 400, tc.want...)
	}
	sameOutput(t, "connector after refused updates", before, describeConnector(t, f.kc, arn))
	ops := must(f.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})).get(t)
	eq(t, "operations after refused updates", len(ops.ConnectorOperations), 0)

	// An update in progress refuses another one, even with the current version: only a
	// RUNNING (here: not yet started) connector can be updated, not an UPDATING one. The
	// leader completes the update of a connector that has not started at once, so this can
	// only be tried while the connector is still seen UPDATING; if the leader completes the
	// operation between the Describe and the second call, the version is stale instead.
	up := must(f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: cur, ConnectorConfiguration: conf})).get(t)
	eq(t, "update connectorState", up.ConnectorState, kct.ConnectorStateUpdating)
	if d := describeConnector(t, f.kc, arn); d.ConnectorState == kct.ConnectorStateUpdating {
		_, err := f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d.CurrentVersion, Capacity: capUpdate})
		e := wantErr[*kct.BadRequestException](t, err, 400)
		switch msg := e.ErrorMessage(); {
		case strings.Contains(msg, "is UPDATING") && strings.Contains(msg, "RUNNING"):
		case strings.Contains(msg, "currentVersion"):
			t.Logf("the operation completed before the second update: %s", msg)
		default:
			t.Errorf("update of an UPDATING connector refused with %q; want it to say the connector is UPDATING", msg)
		}
	} else {
		t.Logf("connector already %s after UpdateConnector: the refusal while UPDATING is not exercised", d.ConnectorState)
	}
	checkCompleted(t, waitOperation(t, f.kc, aws.ToString(up.ConnectorOperationArn)), kct.ConnectorOperationTypeUpdateConnectorConfiguration)

	// A version that was current once is stale after a change.
	mid := describeConnector(t, f.kc, arn)
	eq(t, "state after the update", mid.ConnectorState, kct.ConnectorStateCreating)
	eqMap(t, "configuration after the update", mid.ConnectorConfiguration, conf)
	if p := mid.Capacity.ProvisionedCapacity; p == nil || p.McuCount != 1 || p.WorkerCount != 2 {
		t.Errorf("capacity after a configuration update (and a refused capacity update) %+v; want 1×2", mid.Capacity)
	}
	_, err := f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: cur, Capacity: capUpdate})
	wantErr[*kct.BadRequestException](t, err, 400, "currentVersion")
	sameOutput(t, "connector after a stale update", mid, describeConnector(t, f.kc, arn))

	unknown := unknownARN("kafkaconnect", "connector", "c")
	_, err = f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(unknown), CurrentVersion: mid.CurrentVersion, Capacity: capUpdate})
	wantErr[*kct.NotFoundException](t, err, 404, unknown)
	_, err = f.otherC.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: mid.CurrentVersion, Capacity: capUpdate})
	wantErr[*kct.NotFoundException](t, err, 404)
	sameOutput(t, "connector after a foreign update", mid, describeConnector(t, f.kc, arn))
	ops = must(f.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})).get(t)
	if len(ops.ConnectorOperations) != 1 || aws.ToString(ops.ConnectorOperations[0].ConnectorOperationArn) != aws.ToString(up.ConnectorOperationArn) {
		t.Errorf("operations after one accepted and several refused updates: %+v; want only %s", ops.ConnectorOperations, aws.ToString(up.ConnectorOperationArn))
	}
}

// TestDeleteConnector: with a stale currentVersion nothing changes; with the current one, or
// none, the connector goes DELETING and then disappears.
func TestDeleteConnector(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin := f.activePlugin(t, "mm2")
	a := createConnector(t, f.kc, connectorInput("a", plugin))
	b := createConnector(t, f.kc, connectorInput("b", plugin))
	keep := createConnector(t, f.kc, connectorInput("keep", plugin))

	before := describeConnector(t, f.kc, a)
	_, err := f.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(a), CurrentVersion: aws.String("stale")})
	wantErr[*kct.BadRequestException](t, err, 400, "currentVersion")
	sameOutput(t, "connector after a stale delete", before, describeConnector(t, f.kc, a))

	// Another account cannot delete it either.
	_, err = f.otherC.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(a)})
	wantErr[*kct.NotFoundException](t, err, 404)
	sameOutput(t, "connector after a foreign delete", before, describeConnector(t, f.kc, a))

	out := must(f.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(a), CurrentVersion: before.CurrentVersion})).get(t)
	eq(t, "delete arn", aws.ToString(out.ConnectorArn), a)
	eq(t, "delete state", out.ConnectorState, kct.ConnectorStateDeleting)
	out = must(f.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(b)})).get(t)
	eq(t, "delete state without currentVersion", out.ConnectorState, kct.ConnectorStateDeleting)

	for _, arn := range []string{a, b} {
		servertest.Eventually(t, 10*time.Second, "connector "+arn+" to disappear", func() bool {
			d, err := f.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
			if err == nil {
				if d.ConnectorState != kct.ConnectorStateDeleting {
					t.Fatalf("deleted connector is %s", d.ConnectorState)
				}
				return false
			}
			wantErr[*kct.NotFoundException](t, err, 404, arn)
			return true
		})
		_, err = f.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(arn)})
		wantErr[*kct.NotFoundException](t, err, 404, arn)
		_, err = f.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})
		wantErr[*kct.NotFoundException](t, err, 404)
	}
	l := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	if len(l.Connectors) != 1 || aws.ToString(l.Connectors[0].ConnectorArn) != keep {
		t.Errorf("connectors after deletes: %+v", l.Connectors)
	}
	// The name can be used again.
	createConnector(t, f.kc, connectorInput("a", plugin))
}

// TestConnectorCapacityRules: MSK Connect's documented capacity rules beyond the model.
func TestConnectorCapacityRules(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin := f.activePlugin(t, "mm2")
	auto := func(mcu, min, max, tasks, in, out int32) *kct.Capacity {
		a := &kct.AutoScaling{McuCount: mcu, MinWorkerCount: min, MaxWorkerCount: max, MaxAutoscalingTaskCount: tasks}
		if in > 0 {
			a.ScaleInPolicy = &kct.ScaleInPolicy{CpuUtilizationPercentage: in}
		}
		if out > 0 {
			a.ScaleOutPolicy = &kct.ScaleOutPolicy{CpuUtilizationPercentage: out}
		}
		return &kct.Capacity{AutoScaling: a}
	}
	prov := func(mcu, workers int32) *kct.Capacity {
		return &kct.Capacity{ProvisionedCapacity: &kct.ProvisionedCapacity{McuCount: mcu, WorkerCount: workers}}
	}
	for _, tc := range []struct {
		name string
		cap  *kct.Capacity
		want string // "" = accepted
	}{
		{"neither", &kct.Capacity{}, "exactly one of autoScaling and provisionedCapacity"},
		{"both", &kct.Capacity{AutoScaling: auto(1, 1, 2, 0, 0, 0).AutoScaling, ProvisionedCapacity: prov(1, 1).ProvisionedCapacity}, "exactly one of autoScaling and provisionedCapacity"},
		{"provisioned mcu 3", prov(3, 1), "mcuCount"},
		{"provisioned mcu 16", prov(16, 1), "mcuCount"},
		{"autoscaling mcu 5", auto(5, 1, 2, 0, 0, 0), "mcuCount"},
		{"min > max", auto(1, 3, 2, 0, 0, 0), "minWorkerCount"},
		{"scale-in = scale-out", auto(1, 1, 2, 0, 50, 50), "scaleInPolicy"},
		{"scale-in > scale-out", auto(1, 1, 2, 0, 60, 40), "scaleInPolicy"},
		{"scale-in above default scale-out", auto(1, 1, 2, 0, 85, 0), "scaleInPolicy"},
		{"maxAutoscalingTaskCount < maxWorkerCount", auto(1, 1, 4, 3, 0, 0), "maxAutoscalingTaskCount"},
		{"mcu 1", prov(1, 1), ""},
		{"mcu 2", prov(2, 1), ""},
		{"mcu 4", auto(4, 2, 2, 2, 0, 0), ""},
		{"mcu 8", auto(8, 1, 10, 10, 1, 100), ""},
	} {
		in := connectorInput("c-"+tc.name, plugin)
		in.ConnectorName = aws.String(sanitize(tc.name))
		in.Capacity = tc.cap
		_, err := f.kc.CreateConnector(ctx, in)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		wantErr[*kct.BadRequestException](t, err, 400, tc.want)
	}
	l := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	eq(t, "connectors created", len(l.Connectors), 4)
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

// TestConnectorReferences: the plugin and worker configuration a connector names must exist in
// the caller's account (NotFound), the plugin must be ACTIVE (BadRequest), and the revisions
// must exist (NotFound).
func TestConnectorReferences(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin := f.activePlugin(t, "mm2")
	otherPlugin := f.activePluginOf(t, f.otherC, "theirs")
	wc := aws.ToString(must(f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("wc", workerProps))).get(t).WorkerConfigurationArn)
	otherWC := aws.ToString(must(f.otherC.CreateWorkerConfiguration(ctx, workerConfigInput("wc", workerProps))).get(t).WorkerConfigurationArn)
	failed := aws.ToString(must(f.kc.CreateCustomPlugin(ctx, pluginInput("failed", "missing.zip", kct.CustomPluginContentTypeZip))).get(t).CustomPluginArn)
	if d := waitPlugin(t, f.kc, failed); d.CustomPluginState != kct.CustomPluginStateCreateFailed {
		t.Fatalf("plugin is %s; want CREATE_FAILED", d.CustomPluginState)
	}

	withPlugin := func(arn string, rev int64) *kafkaconnect.CreateConnectorInput {
		in := connectorInput("c", plugin)
		in.Plugins[0].CustomPlugin = &kct.CustomPlugin{CustomPluginArn: aws.String(arn), Revision: rev}
		return in
	}
	withWC := func(arn string, rev int64) *kafkaconnect.CreateConnectorInput {
		in := connectorInput("c", plugin)
		in.WorkerConfiguration = &kct.WorkerConfiguration{WorkerConfigurationArn: aws.String(arn), Revision: rev}
		return in
	}
	unknownPlugin := unknownARN("kafkaconnect", "custom-plugin", "mm2")
	unknownWC := unknownARN("kafkaconnect", "worker-configuration", "wc")

	_, err := f.kc.CreateConnector(ctx, withPlugin(failed, 1))
	wantErr[*kct.BadRequestException](t, err, 400, "CREATE_FAILED", "ACTIVE")
	_, err = f.kc.CreateConnector(ctx, withPlugin(plugin, 2))
	wantErr[*kct.NotFoundException](t, err, 404, "revision 2")
	_, err = f.kc.CreateConnector(ctx, withPlugin(unknownPlugin, 1))
	wantErr[*kct.NotFoundException](t, err, 404, unknownPlugin)
	_, err = f.kc.CreateConnector(ctx, withPlugin(otherPlugin, 1))
	wantErr[*kct.NotFoundException](t, err, 404)
	_, err = f.kc.CreateConnector(ctx, withWC(unknownWC, 1))
	wantErr[*kct.NotFoundException](t, err, 404, unknownWC)
	_, err = f.kc.CreateConnector(ctx, withWC(wc, 2))
	wantErr[*kct.NotFoundException](t, err, 404, "revision 2")
	_, err = f.kc.CreateConnector(ctx, withWC(otherWC, 1))
	wantErr[*kct.NotFoundException](t, err, 404)

	// Other rules of the request.
	in := connectorInput("c", plugin)
	in.ConnectorConfiguration = map[string]string{"tasks.max": "1"}
	_, err = f.kc.CreateConnector(ctx, in)
	wantErr[*kct.BadRequestException](t, err, 400, "connector.class")
	in = connectorInput("c", plugin)
	in.KafkaConnectVersion = aws.String("1.0.0")
	_, err = f.kc.CreateConnector(ctx, in)
	wantErr[*kct.BadRequestException](t, err, 400, "kafkaConnectVersion")
	in = connectorInput("c", plugin)
	in.Tags = map[string]string{"aws:cloudformation:stack-name": "x"}
	_, err = f.kc.CreateConnector(ctx, in)
	wantErr[*kct.BadRequestException](t, err, 400, "aws:")

	l := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	eq(t, "connectors after refusals", len(l.Connectors), 0)
	// And the same request with good references succeeds.
	createConnector(t, f.kc, withWC(wc, 1))
}

// TestConnectorAccounts: names are unique per account (Conflict), and another account can
// neither see nor change a connector (NotFound, nothing changed).
func TestConnectorAccounts(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arn := createConnector(t, f.kc, connectorInput("shared", f.activePlugin(t, "mm2")))
	// An update, so that the connector has an operation; "before" is taken once it has
	// completed (the scheduler changes the connector until then).
	updated, before := updateAndWait(t, f.kc, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn),
		CurrentVersion: describeConnector(t, f.kc, arn).CurrentVersion,
		Capacity:       &kct.CapacityUpdate{ProvisionedCapacity: &kct.ProvisionedCapacityUpdate{McuCount: 1, WorkerCount: 1}}})
	ops := must(f.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})).get(t)
	if len(ops.ConnectorOperations) != 1 || aws.ToString(ops.ConnectorOperations[0].ConnectorOperationArn) != updated {
		t.Fatalf("operations %+v; want only %s", ops.ConnectorOperations, updated)
	}
	opARN := ops.ConnectorOperations[0].ConnectorOperationArn
	opBefore := describeOperation(t, f.kc, updated)

	_, err := f.kc.CreateConnector(ctx, connectorInput("shared", aws.ToString(before.Plugins[0].CustomPlugin.CustomPluginArn)))
	wantErr[*kct.ConflictException](t, err, 409, "shared")
	otherArn := createConnector(t, f.otherC, connectorInput("shared", f.activePluginOf(t, f.otherC, "mm2")))
	arnPrefix(t, "other account's connector", otherArn, "kafkaconnect", servertest.OtherAccount, "connector", "shared")

	_, err = f.otherC.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404)
	_, err = f.otherC.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: before.CurrentVersion, ConnectorConfiguration: mirrorConfig()})
	wantErr[*kct.NotFoundException](t, err, 404)
	_, err = f.otherC.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: before.CurrentVersion})
	wantErr[*kct.NotFoundException](t, err, 404)
	_, err = f.otherC.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404)
	_, err = f.otherC.DescribeConnectorOperation(ctx, &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: opARN})
	wantErr[*kct.NotFoundException](t, err, 404)
	_, err = f.otherC.TagResource(ctx, &kafkaconnect.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"x": "y"}})
	wantErr[*kct.NotFoundException](t, err, 404)
	sameOutput(t, "connector after foreign calls", before, describeConnector(t, f.kc, arn))
	sameOutput(t, "operation after foreign calls", opBefore, describeOperation(t, f.kc, updated))
	ops = must(f.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})).get(t)
	eq(t, "operations after foreign calls", len(ops.ConnectorOperations), 1)
	tags := must(f.kc.ListTagsForResource(ctx, &kafkaconnect.ListTagsForResourceInput{ResourceArn: aws.String(arn)})).get(t)
	eq(t, "tags after a foreign TagResource", len(tags.Tags), 0)

	// The same account in another region sees nothing either.
	west := kafkaconnect.NewFromConfig(f.env.AWSConfig(servertest.AccessKey, servertest.SecretKey), func(o *kafkaconnect.Options) { o.Region = "eu-west-1" })
	_, err = west.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404)
	l := must(west.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	eq(t, "connectors in eu-west-1", len(l.Connectors), 0)

	// Unknown ARNs of this account.
	unknown := unknownARN("kafkaconnect", "connector", "shared")
	_, err = f.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(unknown)})
	wantErr[*kct.NotFoundException](t, err, 404, unknown)
	_, err = f.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(unknown)})
	wantErr[*kct.NotFoundException](t, err, 404, unknown)
	_, err = f.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(unknown)})
	wantErr[*kct.NotFoundException](t, err, 404, unknown)
	unknownOp := "arn:aws:kafkaconnect:us-east-1:000000000000:connector-operation/shared/0b1f6a2e-1111-4222-8333-944445555666/0b1f6a2e-1111-4222-8333-944445555667"
	_, err = f.kc.DescribeConnectorOperation(ctx, &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: aws.String(unknownOp)})
	wantErr[*kct.NotFoundException](t, err, 404, unknownOp)
	// Malformed ARNs.
	_, err = f.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String("connector/shared")})
	wantErr[*kct.BadRequestException](t, err, 400, "connectorArn")
	_, err = f.kc.DescribeConnectorOperation(ctx, &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: aws.String(arn)})
	wantErr[*kct.BadRequestException](t, err, 400, "connectorOperationArn")
}

// TestDeleteRightAfterCreate: a workload deleted at once, while the control plane may still be
// acting on its creation, still ends up gone (DELETING is never undone).
func TestDeleteRightAfterCreate(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin := f.activePlugin(t, "mm2")
	var conns, reps []string
	for i := range 8 {
		arn := createConnector(t, f.kc, connectorInput(fmt.Sprintf("c%d", i), plugin))
		must(f.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(arn)})).get(t)
		conns = append(conns, arn)
		arn = createReplicator(t, f.k, f.replicatorInput(fmt.Sprintf("r%d", i)))
		must(f.k.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: aws.String(arn)})).get(t)
		reps = append(reps, arn)
	}
	servertest.Eventually(t, 10*time.Second, "deleted workloads to disappear", func() bool {
		c := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
		r := must(f.k.ListReplicators(ctx, &kafka.ListReplicatorsInput{})).get(t)
		for _, x := range c.Connectors {
			if x.ConnectorState != kct.ConnectorStateDeleting {
				t.Fatalf("deleted connector %s is %s again", aws.ToString(x.ConnectorName), x.ConnectorState)
			}
		}
		for _, x := range r.Replicators {
			if x.ReplicatorState != "DELETING" {
				t.Fatalf("deleted replicator %s is %s again", aws.ToString(x.ReplicatorName), x.ReplicatorState)
			}
		}
		return len(c.Connectors) == 0 && len(r.Replicators) == 0
	})
}
