package fleettest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/server/sigv4"
)

// adminClient returns an admin API client signing with the given credential, as `fjord agents`
// does.
func adminClient(t *testing.T, env *servertest.Env, accessKey, secretKey string) adminv1.AdminClient {
	t.Helper()
	conn, err := grpc.NewClient(env.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(sigv4.UnaryClientInterceptor(sigv4.Credential{AccessKeyID: accessKey, SecretAccessKey: secretKey}, servertest.Region, "kafka")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return adminv1.NewAdminClient(conn)
}

// listAgent returns agent id from ListAgents (nil if absent).
func listAgent(t *testing.T, admin adminv1.AdminClient, id string) *adminv1.Agent {
	t.Helper()
	resp, err := admin.ListAgents(context.Background(), &adminv1.ListAgentsRequest{})
	if err != nil {
		t.Fatalf("ListAgents: %v", err)
	}
	for _, a := range resp.Agents {
		if a.AgentId == id {
			return a
		}
	}
	return nil
}

// TestAgentsListJoinLeave: ListAgents shows an agent from its Hello on, DRAINING from its
// Goodbye, disconnected from the moment its stream closes, and none of it waits for a
// heartbeat: these agents never send one, and the lease (60 s) never expires during the test.
func TestAgentsListJoinLeave(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{LeaseTTL: time.Minute})
	admin := adminClient(t, env, servertest.AccessKey, servertest.SecretKey)

	if got := listAgent(t, admin, "join-a"); got != nil {
		t.Fatalf("agent listed before it connected: %v", got)
	}
	a, err := connect(t, env, "join-a", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	// Welcome is sent after the Hello was recorded: the first list after it shows the agent.
	got := listAgent(t, admin, "join-a")
	if got == nil {
		t.Fatal("agent not listed after its Hello was answered")
	}
	if got.State != "ALIVE" || !got.Connected || got.McuCapacity != 4 || got.McuUsed != 0 || got.Version != "test" ||
		got.Address == "" || got.ServerId == "" || got.DisconnectedTime != nil || got.LastHeartbeatTime == nil {
		t.Fatalf("joined agent: %v", got)
	}

	// Goodbye: DRAINING at once, still connected while its workers stop.
	a.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_Goodbye{Goodbye: &agentv1.Goodbye{Reason: "SIGTERM"}}})
	servertest.Eventually(t, 10*time.Second, "join-a DRAINING", func() bool {
		got = listAgent(t, admin, "join-a")
		return got.State == "DRAINING"
	})
	if !got.Connected {
		t.Fatalf("draining agent with its stream open: %v", got)
	}
	// The stream closes (clean stop): disconnected, and still DRAINING (the lease holds).
	a.close()
	servertest.Eventually(t, 10*time.Second, "join-a disconnected", func() bool {
		got = listAgent(t, admin, "join-a")
		return !got.Connected
	})
	if got.State != "DRAINING" || got.DisconnectedTime == nil {
		t.Fatalf("cleanly stopped agent: %v", got)
	}

	// A crash (the stream drops without Goodbye): disconnected, still ALIVE until the lease
	// expires.
	b, err := connect(t, env, "join-b", 2, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := listAgent(t, admin, "join-b"); got == nil || !got.Connected || got.State != "ALIVE" {
		t.Fatalf("second agent after its Hello: %v", got)
	}
	b.close()
	servertest.Eventually(t, 10*time.Second, "join-b disconnected", func() bool {
		got = listAgent(t, admin, "join-b")
		return !got.Connected
	})
	if got.State != "ALIVE" {
		t.Fatalf("crashed agent before its lease expired: %v", got)
	}

	// Rejoining clears the disconnect (that the end of a replaced stream leaves the newer one
	// alone is TestAgentDisconnectedSession's, in store).
	a2, err := connect(t, env, "join-a", 6, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	got = listAgent(t, admin, "join-a")
	if got.State != "ALIVE" || !got.Connected || got.McuCapacity != 6 || got.DisconnectedTime != nil {
		t.Fatalf("agent after it rejoined: %v", got)
	}
	a2.close()
	servertest.Eventually(t, 10*time.Second, "join-a disconnected again", func() bool {
		return !listAgent(t, admin, "join-a").Connected
	})
}

// TestAgentsListLeaseExpiry: a killed agent (stream gone, no Goodbye) is DEAD once its lease
// expires, and listed as such.
func TestAgentsListLeaseExpiry(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{LeaseTTL: time.Second})
	admin := adminClient(t, env, servertest.AccessKey, servertest.SecretKey)
	a, err := connect(t, env, "expire-a", 2, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := listAgent(t, admin, "expire-a"); got == nil || got.State != "ALIVE" || !got.Connected {
		t.Fatalf("agent after Hello: %v", got)
	}
	a.close()
	var got *adminv1.Agent
	servertest.Eventually(t, 30*time.Second, "expire-a DEAD", func() bool {
		got = listAgent(t, admin, "expire-a")
		return got.State == "DEAD"
	})
	if got.Connected {
		t.Fatalf("dead agent listed as connected: %v", got)
	}
}

// TestDescribeWorkloadAndEvents: a connector placed on two agents — DescribeWorkload shows its
// shape, placement, reported states and metrics, ListWorkloadEvents pages through its
// decisions; another account sees neither the workload nor its workers.
func TestDescribeWorkloadAndEvents(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	ctx := context.Background()
	kc := env.KafkaConnect()
	admin := adminClient(t, env, servertest.AccessKey, servertest.SecretKey)
	other := adminClient(t, env, servertest.OtherAccess, servertest.OtherSecret)
	plugin := activePlugin(t, env, kc)
	arn := createConnector(t, kc, plugin, "viewed", source, 2, 1, 3)

	// Unplaced: the workers wait, and the events say why.
	servertest.Eventually(t, 10*time.Second, "an unplaceable event", func() bool {
		resp, err := admin.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn})
		if err != nil {
			t.Fatalf("ListWorkloadEvents: %v", err)
		}
		return len(resp.Events) > 0 && resp.Events[0].Kind == "unplaceable"
	})

	agents := map[string]*testAgent{}
	// 1 MCU each: the two 1-MCU workers cannot share an agent.
	for _, id := range []string{"view-a", "view-b"} {
		a, err := connect(t, env, id, 1, servertest.AgentToken)
		if err != nil {
			t.Fatal(err)
		}
		agents[id] = a
	}
	servertest.Eventually(t, 10*time.Second, "one worker on each agent", func() bool {
		return len(agents["view-a"].workers()) == 1 && len(agents["view-b"].workers()) == 1
	})
	// Tasks may still be handed from one worker to the other: report what is desired until the
	// connector runs.
	servertest.Eventually(t, 20*time.Second, "RUNNING", func() bool {
		for _, a := range agents {
			a.reportRunning()
		}
		return describe(t, kc, arn).ConnectorState == kctypes.ConnectorStateRunning
	})
	// view-a reports its worker's metrics.
	wa := agents["view-a"].workers()[0]
	agents["view-a"].send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_WorkerMetrics{WorkerMetrics: &agentv1.WorkerMetrics{
		WorkerId: wa.WorkerId, Epoch: wa.Epoch, At: timestamppb.Now(), CpuUtilization: 0.42, MemoryUtilization: 0.1, MemoryBytes: 429496730,
		RunningTasks: int32(len(wa.Tasks)),
	}}})

	var d *adminv1.DescribeWorkloadResponse
	servertest.Eventually(t, 10*time.Second, "the worker's metrics in DescribeWorkload", func() bool {
		var err error
		d, err = admin.DescribeWorkload(ctx, &adminv1.DescribeWorkloadRequest{WorkloadArn: arn})
		if err != nil {
			t.Fatalf("DescribeWorkload: %v", err)
		}
		for _, w := range d.Workers {
			if w.WorkerId == wa.WorkerId && w.Metrics != nil {
				return true
			}
		}
		return false
	})
	if d.Kind != "connector" || d.WorkloadName != "viewed" || d.State != "RUNNING" || d.StateDescription != nil ||
		d.Desired.GetWorkers() != 2 || d.Desired.GetMcuPerWorker() != 1 || d.Desired.GetTasks() != 3 || d.Desired.GetAutoscaled() {
		t.Fatalf("description: %v", d)
	}
	if len(d.Workers) != 2 {
		t.Fatalf("workers: %v", d.Workers)
	}
	onAgents := map[string]bool{}
	tasks := 0
	for _, w := range d.Workers {
		onAgents[w.AgentId] = true
		tasks += len(w.TaskIds)
		if w.State != "RUNNING" || w.Epoch < 1 || w.Mcu != 1 || w.TaskCount != 3 || len(w.Tasks) != len(w.TaskIds) ||
			w.WorkloadArn != arn || w.WorkloadName != "viewed" || w.WorkloadKind != "connector" {
			t.Fatalf("worker: %v", w)
		}
		if w.WorkerId == wa.WorkerId {
			if m := w.Metrics; m.CpuUtilizationPercent < 41.9 || m.CpuUtilizationPercent > 42.1 || m.MemoryBytes != 429496730 {
				t.Fatalf("metrics: %v", m)
			}
		}
	}
	if !onAgents["view-a"] || !onAgents["view-b"] || tasks != 3 {
		t.Fatalf("placement: %v", d.Workers)
	}
	kinds := map[string]int{}
	for i, e := range d.RecentEvents {
		kinds[e.Kind]++
		if i > 0 && e.EventId >= d.RecentEvents[i-1].EventId {
			t.Fatalf("recent events not newest first: %v", d.RecentEvents)
		}
	}
	if kinds["place"] != 2 || kinds["running"] != 1 || kinds["unplaceable"] < 1 || d.RecentEvents[0].Kind != "running" {
		t.Fatalf("recent events: %v", d.RecentEvents)
	}

	// ListAgents shows the workers on their agents, with the metrics.
	la := listAgent(t, admin, "view-a")
	if la.McuUsed != 1 || len(la.Workers) != 1 || la.Workers[0].WorkerId != wa.WorkerId || la.Workers[0].Metrics == nil || la.OtherWorkers != 0 {
		t.Fatalf("view-a listed: %v", la)
	}

	// Paging one event at a time yields the whole list, newest first.
	all, err := admin.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn})
	if err != nil || all.NextToken != "" {
		t.Fatalf("ListWorkloadEvents: %v %v", all, err)
	}
	var paged []*adminv1.WorkloadEvent
	token := ""
	for {
		page, err := admin.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn, MaxResults: 1, NextToken: token})
		if err != nil {
			t.Fatalf("ListWorkloadEvents page: %v", err)
		}
		if len(page.Events) > 1 {
			t.Fatalf("page of %d events with maxResults 1", len(page.Events))
		}
		paged = append(paged, page.Events...)
		if token = page.NextToken; token == "" {
			break
		}
	}
	if len(paged) < len(all.Events) {
		t.Fatalf("paged %d events, listed %d", len(paged), len(all.Events))
	}
	for i, e := range all.Events {
		if paged[i].EventId != e.EventId || paged[i].Kind != e.Kind || paged[i].Reason != e.Reason {
			t.Fatalf("page %d: %v, want %v", i, paged[i], e)
		}
	}

	// Mistakes and other accounts.
	for _, c := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"other account's workload", func() error {
			_, err := other.DescribeWorkload(ctx, &adminv1.DescribeWorkloadRequest{WorkloadArn: arn})
			return err
		}, codes.NotFound},
		{"other account's events", func() error {
			_, err := other.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn})
			return err
		}, codes.NotFound},
		{"not a workload ARN", func() error {
			_, err := admin.DescribeWorkload(ctx, &adminv1.DescribeWorkloadRequest{WorkloadArn: plugin})
			return err
		}, codes.InvalidArgument},
		{"not an ARN", func() error {
			_, err := admin.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: "viewed"})
			return err
		}, codes.InvalidArgument},
		{"unknown workload", func() error {
			_, err := admin.DescribeWorkload(ctx, &adminv1.DescribeWorkloadRequest{WorkloadArn: arn + "0"})
			return err
		}, codes.NotFound},
		{"tampered token", func() error {
			_, err := admin.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn, NextToken: "eyJrIjoid29ya2xvYWQtZXZlbnRzIn0.AAAA"})
			return err
		}, codes.InvalidArgument},
		{"page too large", func() error {
			_, err := admin.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn, MaxResults: 1001})
			return err
		}, codes.InvalidArgument},
	} {
		if err := c.call(); status.Code(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
	ol := listAgent(t, other, "view-a")
	if ol == nil || len(ol.Workers) != 0 || ol.OtherWorkers != 1 || ol.McuUsed != 1 {
		t.Fatalf("view-a as another account sees it: %v", ol)
	}

	// Deleted: DescribeWorkload is NotFound, the events stay.
	if _, err := kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		servertest.Eventually(t, 10*time.Second, "workers leave "+a.id, func() bool { return len(a.workers()) == 0 })
	}
	for _, w := range d.Workers {
		agents[w.AgentId].reportStatus(w.WorkerId, w.Epoch, agentv1.WorkerState_WORKER_STATE_STOPPED, "")
	}
	servertest.Eventually(t, 10*time.Second, "connector gone", func() bool {
		_, err := admin.DescribeWorkload(ctx, &adminv1.DescribeWorkloadRequest{WorkloadArn: arn})
		return status.Code(err) == codes.NotFound
	})
	after, err := admin.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn})
	if err != nil || len(after.Events) < len(all.Events) {
		t.Fatalf("events after deletion: %v %v", after, err)
	}
	if l := listAgent(t, admin, "view-a"); l.McuUsed != 0 || len(l.Workers) != 0 {
		t.Fatalf("view-a after deletion: %v", l)
	}
}
