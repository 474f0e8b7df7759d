// Package fleettest checks the control plane's side of the data plane through the real agent
// protocol: a test agent (a real gRPC client of AgentGateway) against a real server and
// Postgres — placement, desired sets, state transitions, deletion, lease expiry, leadership.
package fleettest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testAgent is an agent speaking the real protocol, driven by the test.
type testAgent struct {
	t      *testing.T
	id     string
	stream agentv1.AgentGateway_ConnectClient
	cancel context.CancelFunc

	mu      sync.Mutex
	desired *agentv1.DesiredWorkers
	done    chan struct{}
}

func connect(t *testing.T, env *servertest.Env, id string, mcu int32, token string) (*testAgent, error) {
	t.Helper()
	tlsCfg, err := env.AgentTLS(t, id, token)
	if err != nil {
		return nil, err
	}
	return connectTLS(t, env, tlsCfg, id, "test-"+id, mcu)
}

// connectTLS opens an agent stream with tlsCfg and says Hello as id (instance: Hello.instance).
func connectTLS(t *testing.T, env *servertest.Env, tlsCfg *tls.Config, id, instance string, mcu int32) (*testAgent, error) {
	t.Helper()
	conn, err := grpc.NewClient(env.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := agentv1.NewAgentGatewayClient(conn).Connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	// A stream the server already ended fails Send with io.EOF; its status comes from Recv.
	if err := stream.Send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_Hello{Hello: &agentv1.Hello{AgentId: id, McuCapacity: mcu, Version: "test", Instance: instance}}}); err != nil && !errors.Is(err, io.EOF) {
		cancel()
		return nil, err
	}
	first, err := stream.Recv()
	if err != nil {
		cancel()
		return nil, err
	}
	if first.GetWelcome() == nil {
		cancel()
		t.Fatalf("first server message is not Welcome: %v", first)
	}
	a := &testAgent{t: t, id: id, stream: stream, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			if d := m.GetDesired(); d != nil {
				a.mu.Lock()
				a.desired = d
				a.mu.Unlock()
			}
		}
	}()
	t.Cleanup(a.close)
	return a, nil
}

func (a *testAgent) close() {
	a.cancel()
	<-a.done
}

func (a *testAgent) workers() []*agentv1.WorkerSpec {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.desired == nil {
		return nil
	}
	return a.desired.Workers
}

func (a *testAgent) send(m *agentv1.AgentMessage) {
	a.t.Helper()
	if err := a.stream.Send(m); err != nil {
		a.t.Fatalf("agent %s send: %v", a.id, err)
	}
}

// keepAlive sends a heartbeat every interval until the returned stop function is called.
func (a *testAgent) keepAlive(every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				a.heartbeat()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (a *testAgent) heartbeat() {
	a.mu.Lock()
	gen := int64(0)
	if a.desired != nil {
		gen = a.desired.Generation
	}
	a.mu.Unlock()
	a.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_Heartbeat{Heartbeat: &agentv1.Heartbeat{AppliedGeneration: gen}}})
}

// report says every desired worker runs all its tasks.
func (a *testAgent) reportRunning() {
	for _, w := range a.workers() {
		var tasks []*agentv1.TaskStatus
		for _, ts := range w.Tasks {
			tasks = append(tasks, &agentv1.TaskStatus{TaskId: ts.TaskId, State: agentv1.WorkerState_WORKER_STATE_RUNNING})
		}
		a.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_WorkerStatus{WorkerStatus: &agentv1.WorkerStatus{
			WorkerId: w.WorkerId, Epoch: w.Epoch, State: agentv1.WorkerState_WORKER_STATE_RUNNING, Tasks: tasks}}})
	}
}

func (a *testAgent) reportStatus(workerID string, epoch int64, state agentv1.WorkerState, errText string) {
	a.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_WorkerStatus{WorkerStatus: &agentv1.WorkerStatus{
		WorkerId: workerID, Epoch: epoch, State: state, Error: errText}}})
}

// activePlugin creates a custom plugin and waits until it is ACTIVE.
func activePlugin(t *testing.T, env *servertest.Env, kc *kafkaconnect.Client) string {
	t.Helper()
	ctx := context.Background()
	bucket := env.PutPluginZip(t, "plugins", "mm2.zip")
	out, err := kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String("mm2"), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{BucketArn: aws.String(bucket), FileKey: aws.String("mm2.zip")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "plugin ACTIVE", func() bool {
		d, err := kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: out.CustomPluginArn})
		return err == nil && d.CustomPluginState == kctypes.CustomPluginStateActive
	})
	return *out.CustomPluginArn
}

func createConnector(t *testing.T, kc *kafkaconnect.Client, plugin, name, class string, workers, mcu int32, tasksMax int) string {
	t.Helper()
	out, err := kc.CreateConnector(context.Background(), &kafkaconnect.CreateConnectorInput{
		ConnectorName:       aws.String(name),
		KafkaConnectVersion: aws.String("3.7.x"),
		Capacity:            &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: mcu, WorkerCount: workers}},
		ConnectorConfiguration: map[string]string{
			"connector.class": class, "tasks.max": fmt.Sprint(tasksMax),
			"source.cluster.alias": "source", "target.cluster.alias": "target",
			"source.cluster.bootstrap.servers": "127.0.0.1:19092", "target.cluster.bootstrap.servers": "127.0.0.1:29092",
			"topics": ".*",
		},
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String("127.0.0.1:29092"), Vpc: &kctypes.Vpc{Subnets: []string{"local"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: aws.String(plugin), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/fjord"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return *out.ConnectorArn
}

func describe(t *testing.T, kc *kafkaconnect.Client, arn string) *kafkaconnect.DescribeConnectorOutput {
	t.Helper()
	d, err := kc.DescribeConnector(context.Background(), &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const source = "org.apache.kafka.connect.mirror.MirrorSourceConnector"

func TestConnectorLifecycleOnAnAgent(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	kc := env.KafkaConnect()
	plugin := activePlugin(t, env, kc)
	arn := createConnector(t, kc, plugin, "mirror", source, 2, 1, 3)

	// No agent yet: CREATING, and the description says how much capacity is missing.
	servertest.Eventually(t, 10*time.Second, "capacity message", func() bool {
		d := describe(t, kc, arn)
		return d.StateDescription != nil && aws.ToString(d.StateDescription.Code) == "INSUFFICIENT_CAPACITY" &&
			strings.Contains(aws.ToString(d.StateDescription.Message), "2 MCU missing")
	})
	if d := describe(t, kc, arn); d.ConnectorState != kctypes.ConnectorStateCreating {
		t.Fatalf("state without capacity: %s", d.ConnectorState)
	}

	a, err := connect(t, env, "agent-1", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "two workers desired", func() bool { return len(a.workers()) == 2 })
	var taskIDs []int
	for _, w := range a.workers() {
		if w.WorkloadArn != arn || w.WorkloadName != "mirror" || w.WorkloadKind != "connector" || w.Mcu != 1 || w.Epoch < 1 {
			t.Fatalf("worker spec: %v", w)
		}
		for _, ts := range w.Tasks {
			taskIDs = append(taskIDs, int(ts.TaskId))
			if ts.ConnectorClass != source || ts.TaskCount != 3 || ts.Config["topics"] != ".*" || ts.Config["name"] != "mirror" {
				t.Fatalf("task spec: %v", ts)
			}
		}
	}
	sort.Ints(taskIDs)
	if fmt.Sprint(taskIDs) != "[0 1 2]" {
		t.Fatalf("tasks spread over the workers: %v", taskIDs)
	}
	// Placed but not yet running: still CREATING, and the description says it waits for the
	// workers, no longer for capacity.
	servertest.Eventually(t, 10*time.Second, "capacity message replaced", func() bool {
		d := describe(t, kc, arn).StateDescription
		return d != nil && aws.ToString(d.Code) == "WAITING_FOR_WORKERS" && strings.Contains(aws.ToString(d.Message), "workers are starting")
	})
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "RUNNING", func() bool {
		return describe(t, kc, arn).ConnectorState == kctypes.ConnectorStateRunning
	})

	// Delete: the workers leave the desired set, the agent stops them, the connector is gone.
	if _, err := kc.DeleteConnector(context.Background(), &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "workers removed from the desired set", func() bool { return len(a.workers()) == 0 })
	if d := describe(t, kc, arn); d.ConnectorState != kctypes.ConnectorStateDeleting {
		t.Fatalf("state while workers stop: %s", d.ConnectorState)
	}
	for _, id := range []string{arn + "/worker-0", arn + "/worker-1"} {
		a.reportStatus(id, 0, agentv1.WorkerState_WORKER_STATE_STOPPED, "")
	}
	servertest.Eventually(t, 10*time.Second, "connector gone", func() bool {
		l, err := kc.ListConnectors(context.Background(), &kafkaconnect.ListConnectorsInput{})
		return err == nil && len(l.Connectors) == 0
	})
}

// TestUnknownConnectorClassRefused: a class no engine runs is refused at CreateConnector, and
// nothing is stored (it used to be accepted and FAILED a reconcile later). Here the class is
// not in the connector's (placeholder) plugin either, so the refusal names the class and the
// plugin (server/sdktest's TestConnectorClassInPlugin has a class in the plugin, refused with
// the class registry's message). The scheduler still fails a stored workload whose class is
// unknown (scheduler's decide table tests).
func TestUnknownConnectorClassRefused(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	kc := env.KafkaConnect()
	plugin := activePlugin(t, env, kc)
	_, err := kc.CreateConnector(context.Background(), &kafkaconnect.CreateConnectorInput{
		ConnectorName:          aws.String("jdbc"),
		KafkaConnectVersion:    aws.String("3.7.x"),
		Capacity:               &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		ConnectorConfiguration: map[string]string{"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector", "tasks.max": "1"},
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String("127.0.0.1:29092"), Vpc: &kctypes.Vpc{Subnets: []string{"local"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: aws.String(plugin), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/fjord"),
	})
	var bad *kctypes.BadRequestException
	if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), "connector.class") ||
		!strings.Contains(bad.ErrorMessage(), "io.confluent.connect.jdbc.JdbcSourceConnector") || !strings.Contains(bad.ErrorMessage(), plugin) {
		t.Fatalf("CreateConnector with an unknown class: %v", err)
	}
	l, err := kc.ListConnectors(context.Background(), &kafkaconnect.ListConnectorsInput{})
	if err != nil || len(l.Connectors) != 0 {
		t.Fatalf("connectors after the refusal: %v, %v", l, err)
	}
}

func TestPermanentWorkerErrorFailsWorkload(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	kc := env.KafkaConnect()
	arn := createConnector(t, kc, activePlugin(t, env, kc), "bad", source, 1, 1, 1)
	a, err := connect(t, env, "agent-1", 2, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "worker desired", func() bool { return len(a.workers()) == 1 })
	w := a.workers()[0]
	a.reportStatus(w.WorkerId, w.Epoch, agentv1.WorkerState_WORKER_STATE_FAILED, "INVALID_CONFIGURATION: topics: bad regex")
	servertest.Eventually(t, 10*time.Second, "FAILED", func() bool {
		d := describe(t, kc, arn)
		return d.ConnectorState == kctypes.ConnectorStateFailed && aws.ToString(d.StateDescription.Code) == "INVALID_CONFIGURATION"
	})
	servertest.Eventually(t, 10*time.Second, "failed workload's worker stopped", func() bool { return len(a.workers()) == 0 })
}

func TestDeadAgentsWorkersMove(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{LeaseTTL: 2 * time.Second})
	kc := env.KafkaConnect()
	arn := createConnector(t, kc, activePlugin(t, env, kc), "mover", source, 1, 2, 2)
	a1, err := connect(t, env, "agent-1", 2, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "placed on agent-1", func() bool { return len(a1.workers()) == 1 })
	before := a1.workers()[0]
	a2, err := connect(t, env, "agent-2", 2, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	// agent-2 keeps its lease; agent-1 goes silent (its stream stays open, like a hung host).
	defer a2.keepAlive(300 * time.Millisecond)()
	start := time.Now()
	servertest.Eventually(t, 10*time.Second, "moved to agent-2", func() bool { return len(a2.workers()) == 1 })
	after := a2.workers()[0]
	if after.WorkerId != before.WorkerId || after.Epoch != before.Epoch+1 {
		t.Fatalf("moved worker: before %s epoch %d, after %s epoch %d", before.WorkerId, before.Epoch, after.WorkerId, after.Epoch)
	}
	t.Logf("worker moved %v after agent-1 went silent (lease 2s)", time.Since(start).Round(10*time.Millisecond))
	a2.reportRunning()
	servertest.Eventually(t, 10*time.Second, "RUNNING on agent-2", func() bool {
		return describe(t, kc, arn).ConnectorState == kctypes.ConnectorStateRunning
	})
	// The late report of the old copy does not override the new placement's status. Proof
	// that a reconcile ran after it: a connector created afterwards gets its capacity message.
	a1.reportStatus(before.WorkerId, before.Epoch, agentv1.WorkerState_WORKER_STATE_FAILED, "INVALID_CONFIGURATION: zombie")
	probe := createConnector(t, kc, activePlugin2(t, env, kc), "probe", source, 1, 8, 1)
	servertest.Eventually(t, 10*time.Second, "a reconcile after the zombie's report", func() bool {
		return describe(t, kc, probe).StateDescription != nil
	})
	if s := describe(t, kc, arn).ConnectorState; s != kctypes.ConnectorStateRunning {
		t.Fatalf("a zombie's report changed the state to %s", s)
	}
}

// activePlugin2 is another ACTIVE plugin of the same environment.
func activePlugin2(t *testing.T, env *servertest.Env, kc *kafkaconnect.Client) string {
	t.Helper()
	l, err := kc.ListCustomPlugins(context.Background(), &kafkaconnect.ListCustomPluginsInput{})
	if err != nil || len(l.CustomPlugins) == 0 {
		t.Fatalf("list plugins: %v", err)
	}
	return aws.ToString(l.CustomPlugins[0].CustomPluginArn)
}

func TestReplicatorTasks(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	k := env.Kafka()
	arn := createReplicator(t, k, "rep", env.SourceClusterARN, env.TargetClusterARN, func(_ *kafka.CreateReplicatorInput, ri *ktypes.ReplicationInfo) {
		ri.TargetCompressionType = ktypes.TargetCompressionTypeZstd
		ri.TopicReplication = &ktypes.TopicReplication{TopicsToReplicate: []string{"orders.*", "payments"},
			StartingPosition:       &ktypes.ReplicationStartingPosition{Type: ktypes.ReplicationStartingPositionTypeEarliest},
			TopicNameConfiguration: &ktypes.ReplicationTopicNameConfiguration{Type: ktypes.ReplicationTopicNameConfigurationTypeIdentical}}
	})
	a, err := connect(t, env, "agent-1", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "replicator worker desired", func() bool { return len(a.workers()) == 1 })
	w := a.workers()[0]
	classes := map[string]int{}
	for _, ts := range w.Tasks {
		classes[ts.ConnectorClass]++
		c := ts.Config
		if c["source.cluster.bootstrap.servers"] != "127.0.0.1:19092" || c["target.cluster.bootstrap.servers"] != "127.0.0.1:29092" ||
			c["source.cluster.alias"] != "source" || c["target.cluster.alias"] != "target" || c["topics"] != "orders.*,payments" ||
			c["replication.policy.class"] != "org.apache.kafka.connect.mirror.IdentityReplicationPolicy" ||
			c["consumer.auto.offset.reset"] != "earliest" || c["producer.compression.type"] != "zstd" {
			t.Fatalf("replicator task config: %v", c)
		}
	}
	if classes[source] != 2 || classes["org.apache.kafka.connect.mirror.MirrorCheckpointConnector"] != 1 ||
		classes["org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"] != 1 {
		t.Fatalf("replicator task classes: %v", classes)
	}
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "replicator RUNNING", func() bool {
		d, err := k.DescribeReplicator(context.Background(), &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
		return err == nil && d.ReplicatorState == ktypes.ReplicatorStateRunning
	})
}

func TestAgentTokenIsChecked(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	_, err := connect(t, env, "intruder", 4, "wrong-token")
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong token: got %v, want Unauthenticated", err)
	}
}

func TestOneLeaderAmongServers(t *testing.T) {
	t.Parallel()
	first := servertest.Start(t)
	second := servertest.Start(t, servertest.Options{DatabaseURL: first.DatabaseURL, Key: first.Key, S3Dir: first.S3Dir})
	ctx := context.Background()
	holder := func() (int64, string) {
		var term int64
		var h string
		if err := first.Store.Pool().QueryRow(ctx, `SELECT term, holder FROM scheduler_leader`).Scan(&term, &h); err != nil {
			t.Fatal(err)
		}
		return term, h
	}
	servertest.Eventually(t, 10*time.Second, "a leader", func() bool { term, _ := holder(); return term >= 1 })
	term, h := holder()
	leader, other := second, first
	if h == first.Server.ID() {
		leader, other = first, second
	}
	// Exactly one schedules: the leader's reconcile count grows, the other's stays 0.
	servertest.Eventually(t, 10*time.Second, "the leader reconciles", func() bool { return reconciles(t, leader) >= 3 })
	if n := reconciles(t, other); n != 0 {
		t.Fatalf("the follower reconciled %d times", n)
	}
	if t2, h2 := holder(); t2 != term || h2 != h {
		t.Fatalf("leadership changed hands while both servers run: %d %s → %d %s", term, h, t2, h2)
	}
	leader.Server.Stop()
	start := time.Now()
	servertest.Eventually(t, 15*time.Second, "the other server takes over", func() bool {
		t2, h2 := holder()
		return t2 == term+1 && h2 != h
	})
	t.Logf("leadership moved in %v", time.Since(start).Round(10*time.Millisecond))
	servertest.Eventually(t, 10*time.Second, "the new leader reconciles", func() bool { return reconciles(t, other) >= 1 })
}

// reconciles reads a server's count of successful reconciles from its /metrics.
func reconciles(t *testing.T, env *servertest.Env) int {
	t.Helper()
	resp, err := http.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, `fjord_scheduler_reconcile_seconds_count{outcome="ok"} `); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// TestReplicatorPairEnhanced: two ENHANCED replicators in opposite directions each name the
// other in their checkpoint task (fjord.peer.connector), deliver exactly once by default
// (transactional ids on the MirrorSource tasks), and only vouch with their own progress.
func TestReplicatorPairEnhanced(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	k := env.Kafka()
	create := func(name, from, to string, tags map[string]string) {
		t.Helper()
		createReplicator(t, k, name, from, to, func(in *kafka.CreateReplicatorInput, ri *ktypes.ReplicationInfo) {
			in.Tags = tags
			ri.TopicReplication = &ktypes.TopicReplication{TopicsToReplicate: []string{"shared"},
				TopicNameConfiguration: &ktypes.ReplicationTopicNameConfiguration{Type: ktypes.ReplicationTopicNameConfigurationTypeIdentical}}
			ri.ConsumerGroupReplication.ConsumerGroupOffsetSyncMode = ktypes.ConsumerGroupOffsetSyncModeEnhanced
		})
	}
	create("east-west", env.SourceClusterARN, env.TargetClusterARN, nil)
	create("west-east", env.TargetClusterARN, env.SourceClusterARN, map[string]string{"fjord:delivery": "at-least-once"})
	a, err := connect(t, env, "agent-1", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "both replicators' workers desired", func() bool { return len(a.workers()) == 2 })
	for _, w := range a.workers() {
		peer := map[string]string{"east-west": "west-east", "west-east": "east-west"}[w.WorkloadName]
		for _, ts := range w.Tasks {
			c := ts.Config
			if c["fjord.consumer.group.offset.sync.mode"] != "ENHANCED" || c["fjord.peer.connector"] != peer ||
				c["fjord.source.connector"] != w.WorkloadName {
				t.Fatalf("%s task %d: mode %q, peer %q, source connector %q; want ENHANCED, %q, %q", w.WorkloadName, ts.TaskId,
					c["fjord.consumer.group.offset.sync.mode"], c["fjord.peer.connector"], c["fjord.source.connector"], peer, w.WorkloadName)
			}
			if ts.ConnectorClass != source {
				continue
			}
			// Exactly-once by default; the tag turns it off.
			eos := c["exactly.once.support"] == "required" && ts.TransactionalId != ""
			if want := w.WorkloadName == "east-west"; eos != want {
				t.Fatalf("%s source task %d: exactly-once %v, want %v (config %q, transactional id %q)", w.WorkloadName, ts.TaskId,
					eos, want, c["exactly.once.support"], ts.TransactionalId)
			}
		}
	}
}

// TestUnbuildableSpecKeepsWorker: when a running worker's task configuration cannot be built
// any more (here: its replicator's source cluster was deregistered), its agent keeps the spec
// it was last sent, and the rest of the agent's desired set still changes.
func TestUnbuildableSpecKeepsWorker(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	k, kc := env.Kafka(), env.KafkaConnect()
	createReplicator(t, k, "rep", env.SourceClusterARN, env.TargetClusterARN, nil)
	a, err := connect(t, env, "agent-1", 8, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "the replicator's worker desired", func() bool { return len(a.workers()) == 1 })
	before := a.workers()[0]

	admin := adminClient(t, env, "test", "test")
	if _, err := admin.DeregisterCluster(context.Background(), &adminv1.DeregisterClusterRequest{ClusterArn: env.SourceClusterARN}); err != nil {
		t.Fatal(err)
	}
	// A new connector on the same agent changes its desired set.
	createConnector(t, kc, activePlugin(t, env, kc), "other", source, 1, 1, 1)
	servertest.Eventually(t, 10*time.Second, "the connector's worker desired next to the replicator's", func() bool {
		return len(a.workers()) == 2
	})
	for _, w := range a.workers() {
		if w.WorkloadKind == "replicator" && !proto.Equal(w, before) {
			t.Fatalf("the replicator's worker spec changed:\n%v\nwant the one last sent:\n%v", w, before)
		}
	}
}

// TestReplicatorAutoscales: replicators are sized by Fjord. A replicator whose worker reports
// CPU above 75 % for a window gets a second worker and its task count follows (2 MirrorSource
// tasks per worker, plus checkpoint and heartbeat): the old task set is released first, then
// the new one is spread over both workers with the new count. Idle, it scales back in.
func TestReplicatorAutoscales(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{AutoscaleWindow: 900 * time.Millisecond, AutoscaleCooldown: time.Second})
	k := env.Kafka()
	arn := createReplicator(t, k, "busy", env.SourceClusterARN, env.TargetClusterARN, nil)
	a, err := connect(t, env, "agent-1", 8, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "one worker with 4 tasks", func() bool {
		ws := a.workers()
		return len(ws) == 1 && len(ws[0].Tasks) == 4
	})
	// The agent reports its workers running (and those it no longer runs stopped, as a real
	// agent does) and measures them every 100 ms.
	seen := map[string]int64{}
	load := func(cpu float64, until func() bool) {
		t.Helper()
		servertest.Eventually(t, 20*time.Second, fmt.Sprintf("the autoscaler at %.0f %% CPU", 100*cpu), func() bool {
			a.reportRunning()
			desired := map[string]bool{}
			for _, w := range a.workers() {
				desired[w.WorkerId], seen[w.WorkerId] = true, w.Epoch
			}
			for id, epoch := range seen {
				if !desired[id] {
					a.reportStatus(id, epoch, agentv1.WorkerState_WORKER_STATE_STOPPED, "")
				}
			}
			for _, w := range a.workers() {
				a.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_WorkerMetrics{WorkerMetrics: &agentv1.WorkerMetrics{
					WorkerId: w.WorkerId, Epoch: w.Epoch, At: timestamppb.Now(), CpuUtilization: cpu, MemoryUtilization: 0.1}}})
			}
			time.Sleep(100 * time.Millisecond)
			return until()
		})
	}
	load(0.9, func() bool {
		ws := a.workers()
		if len(ws) != 2 {
			return false
		}
		var ids []int
		for _, w := range ws {
			for _, ts := range w.Tasks {
				ids = append(ids, int(ts.TaskId))
				if ts.ConnectorClass == source && ts.TaskCount != 4 {
					return false // still the old count
				}
			}
		}
		sort.Ints(ids)
		return fmt.Sprint(ids) == "[0 1 2 3 4 5]"
	})
	classes := map[string]int{}
	for _, w := range a.workers() {
		for _, ts := range w.Tasks {
			classes[ts.ConnectorClass]++
		}
	}
	if classes[source] != 4 || classes["org.apache.kafka.connect.mirror.MirrorCheckpointConnector"] != 1 ||
		classes["org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"] != 1 {
		t.Fatalf("after scale-out the task classes are %v; want 4 MirrorSource, 1 checkpoint, 1 heartbeat", classes)
	}
	load(0.05, func() bool {
		ws := a.workers()
		return len(ws) == 1 && len(ws[0].Tasks) == 4
	})
	admin := adminClient(t, env, "test", "test")
	ev, err := admin.ListWorkloadEvents(context.Background(), &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	var scale []string
	for _, e := range ev.Events {
		if e.Kind == "autoscale" {
			scale = append(scale, e.Reason)
		}
	}
	if len(scale) != 3 || !strings.HasPrefix(scale[0], "scale in to 1") || !strings.HasPrefix(scale[1], "scale out to 2") {
		t.Fatalf("autoscale events (newest first): %q", scale)
	}
}

// createReplicator creates a replicator from the registered cluster from to to, copying every
// topic and group (prefixed names, target compression NONE); edit adjusts the request first.
func createReplicator(t *testing.T, k *kafka.Client, name, from, to string, edit func(*kafka.CreateReplicatorInput, *ktypes.ReplicationInfo)) string {
	t.Helper()
	ri := ktypes.ReplicationInfo{
		SourceKafkaClusterArn: aws.String(from), TargetKafkaClusterArn: aws.String(to),
		TargetCompressionType:    ktypes.TargetCompressionTypeNone,
		TopicReplication:         &ktypes.TopicReplication{TopicsToReplicate: []string{".*"}},
		ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
	}
	in := &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(name),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord"),
		KafkaClusters: []ktypes.KafkaCluster{
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(from)}},
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(to)}},
		},
	}
	if edit != nil {
		edit(in, &ri)
	}
	in.ReplicationInfoList = []ktypes.ReplicationInfo{ri}
	out, err := k.CreateReplicator(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateReplicator %s: %v", name, err)
	}
	return aws.ToString(out.ReplicatorArn)
}
