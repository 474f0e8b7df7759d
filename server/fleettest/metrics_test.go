package fleettest

import (
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/workers/catalog"
)

// metricValue reads the server's /metrics and returns the value of the series of name whose
// labels include every one of labels (written name="value").
func metricValue(t *testing.T, env *servertest.Env, name string, labels ...string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
line:
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		ls, v, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(ls, l) {
				continue line
			}
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return f, true
	}
	return 0, false
}

// TestFleetHealthMetrics: the server's /metrics has, per workload, the worker count and the
// completed rebalances from the workers table, and, per worker, the health metrics its agent
// reports (with cluster="source"/"target" for the per-cluster ones).
func TestFleetHealthMetrics(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{LeaseTTL: 2 * time.Minute}) // the test agent does not heartbeat
	kc := env.KafkaConnect()
	ctx := t.Context()
	arn := createConnector(t, kc, activePlugin(t, env, kc), "health", source, 1, 1, 2)
	wl := `workload_arn="` + arn + `"`
	a, err := connect(t, env, "agent-1", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	w0 := onlyWorker(t, a, 0, 2, "the worker desired")
	if v, ok := metricValue(t, env, "fjord_worker_count", wl, `workload_name="health"`); !ok || v != 1 {
		t.Fatalf("fjord_worker_count = %v (present %v), want 1", v, ok)
	}
	if v, _ := metricValue(t, env, "fjord_rebalance_completed_total", wl); v != 0 {
		t.Fatalf("fjord_rebalance_completed_total before the worker runs = %v, want 0", v)
	}
	// States: the connector is CREATING, its tasks UNASSIGNED until the worker reports, the
	// agent ALIVE; no rebalance has completed.
	kind := `kind="connector"`
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"fjord_workload_state", []string{wl, kind, `state="CREATING"`, `workload_name="health"`}, 1},
		{"fjord_workload_state", []string{wl, kind, `state="RUNNING"`}, 0},
		{"fjord_workload_state", []string{wl, kind, `state="FAILED"`}, 0},
		{"fjord_task_state", []string{wl, `task="0"`, `state="UNASSIGNED"`}, 1},
		{"fjord_task_state", []string{wl, `task="1"`, `state="UNASSIGNED"`}, 1},
		{"fjord_agent_state", []string{`agent_id="agent-1"`, `state="ALIVE"`}, 1},
		{"fjord_agent_state", []string{`agent_id="agent-1"`, `state="DEAD"`}, 0},
		{"fjord_rebalance_time_max", []string{wl}, 0},
	} {
		if v, ok := metricValue(t, env, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if _, ok := metricValue(t, env, "fjord_rebalance_time_since_last", wl); ok {
		t.Error("fjord_rebalance_time_since_last before any rebalance completed")
	}
	time.Sleep(50 * time.Millisecond) // the rebalance takes at least this long
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "the first rebalance completed", func() bool {
		v, _ := metricValue(t, env, "fjord_rebalance_completed_total", wl)
		return v == 1
	})
	servertest.Eventually(t, 10*time.Second, "the connector RUNNING", func() bool {
		v, _ := metricValue(t, env, "fjord_workload_state", wl, `state="RUNNING"`)
		return v == 1
	})
	for _, task := range []string{`task="0"`, `task="1"`} {
		if v, ok := metricValue(t, env, "fjord_task_state", wl, task, `state="RUNNING"`); !ok || v != 1 {
			t.Errorf("fjord_task_state{%s,state=RUNNING} = %v (present %v), want 1", task, v, ok)
		}
		if _, ok := metricValue(t, env, "fjord_task_state", wl, task, `state="UNASSIGNED"`); ok {
			t.Errorf("fjord_task_state{%s} still UNASSIGNED", task)
		}
	}
	if v, ok := metricValue(t, env, "fjord_rebalance_time_max", wl); !ok || v < 50 {
		t.Errorf("fjord_rebalance_time_max = %v (present %v), want ≥ 50 ms", v, ok)
	}
	if avg, _ := metricValue(t, env, "fjord_rebalance_time_avg", wl); avg < 50 {
		t.Errorf("fjord_rebalance_time_avg = %v, want ≥ 50 ms", avg)
	}
	if v, ok := metricValue(t, env, "fjord_rebalance_time_since_last", wl); !ok || v < 0 {
		t.Errorf("fjord_rebalance_time_since_last = %v (present %v), want ≥ 0", v, ok)
	}

	// The worker's health metrics, as its agent forwards them.
	a.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_WorkerMetrics{WorkerMetrics: &agentv1.WorkerMetrics{
		WorkerId: w0.WorkerId, Epoch: w0.Epoch, At: timestamppb.Now(), WallSeconds: 5,
		RecordsPerSecond: 10, RecordsPolledPerSecond: 12, ReplicatorFailures: 2, AuthErrors: 3, OffsetSyncFailures: 4,
		SourcePingSuccesses: 5, TargetPingSuccesses: 6, ConsumerGroups: 7, Topics: 3, SourceThrottleMs: 0, TargetThrottleMs: 25,
		TaskStartupAttempts: 4, TaskStartupSuccesses: 3,
	}}})
	worker := `worker_id="` + w0.WorkerId + `"`
	servertest.Eventually(t, 10*time.Second, "the worker's metrics", func() bool {
		_, ok := metricValue(t, env, "fjord_topic_count", wl, worker)
		return ok
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"fjord_topic_count", nil, 3},
		{"fjord_consumer_group_count", nil, 7},
		{"fjord_replicator_failure", nil, 2},
		{"fjord_auth_error", nil, 3},
		{"fjord_consumer_group_offset_sync_failure", nil, 4},
		{"fjord_source_record_poll_rate", nil, 12},
		{"fjord_source_record_write_rate", nil, 10},
		{"fjord_kafka_cluster_ping_success_count", []string{`cluster="source"`}, 5},
		{"fjord_kafka_cluster_ping_success_count", []string{`cluster="target"`}, 6},
		{"fjord_throttle_time", []string{`cluster="source"`}, 0},
		{"fjord_throttle_time", []string{`cluster="target"`}, 25},
		{"fjord_task_startup_attempts_total", nil, 4},
		{"fjord_task_startup_success_percentage", nil, 75},
	} {
		if v, ok := metricValue(t, env, c.name, append([]string{wl, worker, `agent_id="agent-1"`}, c.labels...)...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}

	// A configuration update restarts the worker on a new epoch: a second rebalance completes
	// once it runs.
	d0 := describe(t, kc, arn)
	conf := maps.Clone(d0.ConnectorConfiguration)
	conf["tasks.max"] = "3"
	if _, err := kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d0.CurrentVersion,
		ConnectorConfiguration: conf}); err != nil {
		t.Fatal(err)
	}
	onlyWorker(t, a, w0.Epoch, 3, "the worker restarted on the update")
	if v, _ := metricValue(t, env, "fjord_rebalance_completed_total", wl); v != 1 {
		t.Fatalf("fjord_rebalance_completed_total while the worker restarts = %v, want 1", v)
	}
	a.reportRunning()
	servertest.Eventually(t, 10*time.Second, "the second rebalance completed", func() bool {
		v, _ := metricValue(t, env, "fjord_rebalance_completed_total", wl)
		return v == 2
	})
	if v, ok := metricValue(t, env, "fjord_worker_count", wl); !ok || v != 1 {
		t.Errorf("fjord_worker_count after the update = %v (present %v), want 1", v, ok)
	}
	if v, _ := metricValue(t, env, "fjord_task_state", wl, `task="2"`, `state="RUNNING"`); v != 1 {
		t.Errorf("fjord_task_state of the third task = %v, want RUNNING", v)
	}

	// Every fjord_ metric the server exposes is in the catalogue, with its type.
	catalogued := catalog.MetricNames()
	resp, err := http.Get(env.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[1] != "TYPE" || !strings.HasPrefix(f[2], "fjord_") {
			continue
		}
		n++
		if typ, ok := catalogued[f[2]]; !ok || typ != f[3] {
			t.Errorf("/metrics has %s %s; the catalogue (workers/catalog ExposedMetrics): %q (present %v)", f[3], f[2], typ, ok)
		}
	}
	if n < 20 {
		t.Errorf("only %d fjord_ metrics on /metrics", n)
	}

	// Deleted: every series of the workload goes (the worker's with it).
	if _, err := kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "the worker leaves the desired set", func() bool { return len(a.workers()) == 0 })
	a.reportStatus(w0.WorkerId, 0, agentv1.WorkerState_WORKER_STATE_STOPPED, "")
	servertest.Eventually(t, 10*time.Second, "the workload's series gone", func() bool {
		resp, err := http.Get(env.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return !strings.Contains(string(body), arn)
	})
}
