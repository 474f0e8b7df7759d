package fleettest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/servertest"
)

// TestReplicatorUpdateOnAnAgent: UpdateReplicationInfo of a RUNNING replicator, through
// aws-sdk-go-v2 and the real agent protocol. The call leaves the replicator UPDATING
// (DescribeReplicator and ListReplicators) with a new currentVersion, and an UPDATING
// replicator refuses another update (BadRequestException naming replicatorArn) without
// writing anything. The scheduler restarts the worker on a new epoch with the new topic and
// group lists in every task's configuration; the replicator stays UPDATING until the worker
// reports RUNNING on that epoch, then is RUNNING. A logDelivery-only update is stored and
// settles without a restart. A permanent failure on new replication info makes the replicator
// FAILED with the worker's code.
func TestReplicatorUpdateOnAnAgent(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{LeaseTTL: 2 * time.Minute}) // the test agent does not heartbeat
	k := env.Kafka()
	ctx := t.Context()
	arn := createReplicator(t, k, "rep", env.SourceClusterARN, env.TargetClusterARN, func(_ *kafka.CreateReplicatorInput, ri *ktypes.ReplicationInfo) {
		ri.TopicReplication.TopicsToReplicate = []string{"a", "b", "c"}
		ri.ConsumerGroupReplication.ConsumerGroupsToReplicate = []string{"g.*"}
	})
	a, err := connect(t, env, "agent-1", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	w0 := replicatorWorker(t, a, 0, "the replicator's worker desired")
	a.reportRunning()
	describeR := func() *kafka.DescribeReplicatorOutput {
		t.Helper()
		d, err := k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	listed := func() ktypes.ReplicatorState {
		t.Helper()
		out, err := k.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
		if err != nil || len(out.Replicators) != 1 {
			t.Fatalf("ListReplicators: %v %v", out, err)
		}
		return out.Replicators[0].ReplicatorState
	}
	servertest.Eventually(t, 10*time.Second, "RUNNING", func() bool { return describeR().ReplicatorState == ktypes.ReplicatorStateRunning })

	// ---- topics and groups change ----
	d0 := describeR()
	update := func(version *string, edit func(*kafka.UpdateReplicationInfoInput)) (*kafka.UpdateReplicationInfoOutput, error) {
		in := &kafka.UpdateReplicationInfoInput{ReplicatorArn: aws.String(arn), CurrentVersion: version,
			SourceKafkaClusterArn: aws.String(env.SourceClusterARN), TargetKafkaClusterArn: aws.String(env.TargetClusterARN)}
		edit(in)
		return k.UpdateReplicationInfo(ctx, in)
	}
	up, err := update(d0.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) {
		in.TopicReplication = &ktypes.TopicReplicationUpdate{TopicsToReplicate: []string{"a", "b", "c", "d"}, TopicsToExclude: []string{"b"},
			CopyAccessControlListsForTopics: aws.Bool(true), CopyTopicConfigurations: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true)}
		in.ConsumerGroupReplication = &ktypes.ConsumerGroupReplicationUpdate{ConsumerGroupsToReplicate: []string{"g.*", "h"},
			ConsumerGroupsToExclude: []string{"g-old"}, DetectAndCopyNewConsumerGroups: aws.Bool(false), SynchroniseConsumerGroupOffsets: aws.Bool(false)}
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.ReplicatorState != ktypes.ReplicatorStateUpdating {
		t.Errorf("UpdateReplicationInfo returned %s, want UPDATING", up.ReplicatorState)
	}
	d1 := describeR()
	if d1.ReplicatorState != ktypes.ReplicatorStateUpdating || aws.ToString(d1.CurrentVersion) == aws.ToString(d0.CurrentVersion) ||
		strings.Join(d1.ReplicationInfoList[0].TopicReplication.TopicsToExclude, ",") != "b" {
		t.Fatalf("replicator after the update: %s, version %s (was %s), topicsToExclude %v", d1.ReplicatorState,
			aws.ToString(d1.CurrentVersion), aws.ToString(d0.CurrentVersion), d1.ReplicationInfoList[0].TopicReplication.TopicsToExclude)
	}
	if s := listed(); s != ktypes.ReplicatorStateUpdating {
		t.Errorf("ListReplicators says %s, want UPDATING", s)
	}

	// An UPDATING replicator refuses another update, even with its current version, and keeps
	// everything as it was.
	_, err = update(d1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) {
		in.TopicReplication = &ktypes.TopicReplicationUpdate{TopicsToReplicate: []string{"x"}, TopicsToExclude: []string{},
			CopyAccessControlListsForTopics: aws.Bool(true), CopyTopicConfigurations: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true)}
	})
	var bad *ktypes.BadRequestException
	if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), "UPDATING") || aws.ToString(bad.InvalidParameter) != "replicatorArn" {
		t.Fatalf("second update while UPDATING: %v; want a BadRequestException naming replicatorArn, saying it is UPDATING", err)
	}
	if d := describeR(); aws.ToString(d.CurrentVersion) != aws.ToString(d1.CurrentVersion) ||
		strings.Join(d.ReplicationInfoList[0].TopicReplication.TopicsToReplicate, ",") != "a,b,c,d" {
		t.Fatalf("a refused update changed the replicator: version %s → %s, topics %v", aws.ToString(d1.CurrentVersion),
			aws.ToString(d.CurrentVersion), d.ReplicationInfoList[0].TopicReplication.TopicsToReplicate)
	}

	// The worker restarts on a new epoch with the new replication info in every task.
	w1 := replicatorWorker(t, a, w0.Epoch, "the worker restarted with the new replication info")
	for _, ts := range w1.Tasks {
		c := ts.Config
		if c["topics"] != "a,b,c,d" || c["topics.exclude"] != "b" || c["groups"] != "g.*,h" || c["groups.exclude"] != "g-old" ||
			c["refresh.groups.enabled"] != "false" || c["sync.group.offsets.enabled"] != "false" {
			t.Fatalf("task %d (%s) after the update: %v", ts.TaskId, ts.ConnectorClass, c)
		}
	}
	// Until it reports RUNNING on that epoch the replicator is UPDATING.
	time.Sleep(time.Second)
	if d := describeR(); d.ReplicatorState != ktypes.ReplicatorStateUpdating {
		t.Fatalf("replicator %s before its worker runs the new info; want UPDATING", d.ReplicatorState)
	}
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "RUNNING after the update", func() bool {
		return describeR().ReplicatorState == ktypes.ReplicatorStateRunning
	})
	if s := listed(); s != ktypes.ReplicatorStateRunning {
		t.Errorf("ListReplicators says %s, want RUNNING", s)
	}

	// ---- logDelivery alone: the worker restarts with the new destinations in its spec ----
	d2 := describeR()
	_, err = update(d2.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) {
		in.LogDelivery = &ktypes.LogDelivery{ReplicatorLogDelivery: &ktypes.ReplicatorLogDelivery{
			CloudWatchLogs: &ktypes.ReplicatorCloudWatchLogs{Enabled: aws.Bool(true), LogGroup: aws.String("replicators")}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	wl := replicatorWorker(t, a, w1.Epoch, "the worker restarted with the new log delivery")
	if ld := wl.GetLogDelivery(); ld.GetCloudwatchLogGroup() != "replicators" || ld.GetLogType() != "KafkaReplicatorLogs" || ld.GetRegion() == "" {
		t.Fatalf("worker spec's log delivery after the update: %v", ld)
	}
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "RUNNING after the logDelivery update", func() bool {
		return describeR().ReplicatorState == ktypes.ReplicatorStateRunning
	})
	d3 := describeR()
	if ld := d3.LogDelivery; ld == nil || ld.ReplicatorLogDelivery == nil || ld.ReplicatorLogDelivery.CloudWatchLogs == nil ||
		aws.ToString(ld.ReplicatorLogDelivery.CloudWatchLogs.LogGroup) != "replicators" {
		t.Fatalf("logDelivery after its update: %+v", d3.LogDelivery)
	}
	w1 = wl

	// ---- a permanent failure on new replication info: FAILED with the worker's code ----
	if _, err := update(d3.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) {
		in.TopicReplication = &ktypes.TopicReplicationUpdate{TopicsToReplicate: []string{"a"}, TopicsToExclude: []string{},
			CopyAccessControlListsForTopics: aws.Bool(true), CopyTopicConfigurations: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true)}
	}); err != nil {
		t.Fatal(err)
	}
	w2 := replicatorWorker(t, a, w1.Epoch, "the worker restarted with the third replication info")
	a.reportStatus(w2.WorkerId, w2.Epoch, agentv1.WorkerState_WORKER_STATE_FAILED, "INVALID_CONFIGURATION: target cluster refused the login")
	servertest.Eventually(t, 10*time.Second, "FAILED", func() bool { return describeR().ReplicatorState == ktypes.ReplicatorStateFailed })
	if d := describeR(); d.StateInfo == nil || aws.ToString(d.StateInfo.Code) != "INVALID_CONFIGURATION" ||
		!strings.Contains(aws.ToString(d.StateInfo.Message), "refused the login") {
		t.Fatalf("FAILED replicator's stateInfo: %+v", d.StateInfo)
	}
}

// replicatorWorker waits until the agent is asked to run exactly one worker, at an epoch above
// after, with a replicator's four tasks (2 MirrorSource, checkpoint, heartbeat), and returns it.
func replicatorWorker(t *testing.T, a *testAgent, after int64, what string) *agentv1.WorkerSpec {
	t.Helper()
	var w *agentv1.WorkerSpec
	servertest.Eventually(t, 10*time.Second, what, func() bool {
		ws := a.workers()
		if len(ws) != 1 || ws[0].Epoch <= after || len(ws[0].Tasks) != 4 {
			return false
		}
		w = ws[0]
		return true
	})
	return w
}
