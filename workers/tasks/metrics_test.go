package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/runtime"
)

// metricLines collects the lines a worker writes.
type metricLines struct {
	mu      sync.Mutex
	partial []byte
	lines   []runtime.Line
}

func (o *metricLines) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		var l runtime.Line
		if err := json.Unmarshal(o.partial[:i], &l); err == nil {
			o.lines = append(o.lines, l)
		}
		o.partial = o.partial[i+1:]
	}
}

func (o *metricLines) metrics() []*agentv1.WorkerMetrics {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*agentv1.WorkerMetrics
	for _, l := range o.lines {
		if l.Metrics != nil {
			out = append(out, l.Metrics)
		}
	}
	return out
}

// waitMetrics polls until a metrics line satisfies ok and returns it.
func (o *metricLines) waitMetrics(t *testing.T, timeout time.Duration, what string, ok func(*agentv1.WorkerMetrics) bool) *agentv1.WorkerMetrics {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms := o.metrics()
		for _, m := range ms {
			if ok(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			last := &agentv1.WorkerMetrics{}
			if len(ms) > 0 {
				last = ms[len(ms)-1]
			}
			t.Fatalf("timed out after %v waiting for metrics with %s; latest: %v", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runWorker runs a worker of the given tasks through the runtime and the real registry, as
// `fjord worker` does, until the test ends (or the worker fails). done receives Run's result.
func runWorker(t *testing.T, reg prometheus.Registerer, tasks ...*agentv1.TaskSpec) (out *metricLines, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	spec := &agentv1.WorkerSpec{WorkerId: "w-0", WorkloadName: "metrics",
		WorkloadArn: "arn:aws:kafka:us-east-1:000000000000:replicator/metrics/abc-1", WorkloadKind: "replicator", Epoch: 1, Mcu: 1, Tasks: tasks}
	out = &metricLines{}
	ch := make(chan error, 1)
	stopped := make(chan struct{})
	log := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() {
		defer close(stopped)
		ch <- runtime.Run(ctx, spec, Registry(), out, log, runtime.MetricsInterval(100*time.Millisecond), runtime.MetricsRegisterer(reg))
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Error("the worker did not stop")
		}
	})
	return out, ch
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func plainCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func promValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.Metric {
			have := map[string]string{}
			for _, lp := range m.Label {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metric
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue(), true
			}
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// TestWorkerHealthMetrics runs a MirrorSource, a MirrorCheckpoint and a MirrorHeartbeat task
// in one worker between two kfake clusters and checks the MSK health metrics they produce:
// the topics and groups replicated, records polled, metadata round trips to each cluster, and
// — from a target that refuses every offset commit with GROUP_AUTHORIZATION_FAILED and
// throttles the answer by 25 ms — failed group offset syncs, auth errors and throttle time.
func TestWorkerHealthMetrics(t *testing.T) {
	t.Parallel()
	src, tgt := plainCluster(t), plainCluster(t)
	const throttle = 25
	var refused sync.Mutex
	refusedCommits := 0
	tgt.ControlKey(int16(kmsg.OffsetCommit), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		tgt.KeepControl()
		req := kr.(*kmsg.OffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.ThrottleMillis = throttle
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.GroupAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		refused.Lock()
		refusedCommits++
		refused.Unlock()
		return resp, nil, true
	})

	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := []string{"orders", "payments", "users"}
	if _, err := adm.CreateTopics(ctx, 2, 1, nil, topics...); err != nil {
		t.Fatal(err)
	}
	const perTopic = 100
	for _, topic := range topics {
		for i := range perTopic {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte(fmt.Sprintf("%s-%d", topic, i))}, nil)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Two groups to replicate, and one the default groups.exclude filters out. They are at
	// offset 1, which the first offset sync of orders/0 (of offset 0) translates.
	for _, g := range []string{"billing", "shipping", "console-consumer-42"} {
		if _, err := adm.CommitOffsets(ctx, g, kadm.OffsetsFromRecords(kgo.Record{Topic: "orders", Partition: 0, Offset: 0})); err != nil {
			t.Fatal(err)
		}
	}

	conf := map[string]string{
		"source.cluster.alias":                  "src",
		"target.cluster.alias":                  "dst",
		"source.cluster.bootstrap.servers":      strings.Join(src.ListenAddrs(), ","),
		"target.cluster.bootstrap.servers":      strings.Join(tgt.ListenAddrs(), ","),
		"refresh.topics.interval.seconds":       "1",
		"refresh.groups.interval.seconds":       "1",
		"emit.checkpoints.interval.seconds":     "1",
		"emit.heartbeats.interval.seconds":      "1",
		"sync.group.offsets.enabled":            "true",
		"sync.group.offsets.interval.seconds":   "1",
		"offset-syncs.topic.replication.factor": "1",
		"replication.factor":                    "1",
	}
	reg := prometheus.NewRegistry()
	out, done := runWorker(t, reg,
		&agentv1.TaskSpec{TaskId: 0, ConnectorClass: catalog.MirrorSource, Config: conf, TaskIndex: 0, TaskCount: 1},
		&agentv1.TaskSpec{TaskId: 1, ConnectorClass: catalog.MirrorCheckpoint, Config: conf, TaskIndex: 0, TaskCount: 1},
		&agentv1.TaskSpec{TaskId: 2, ConnectorClass: catalog.MirrorHeartbeat, Config: conf, TaskIndex: 0, TaskCount: 1},
	)

	// Every record was polled from the source and written to the target once: the rates
	// integrate to 300 each.
	total := func(rate func(*agentv1.WorkerMetrics) float64) float64 {
		var n float64
		for _, m := range out.metrics() {
			n += rate(m) * m.WallSeconds
		}
		return n
	}
	polled := func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPolledPerSecond }
	written := func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond }
	out.waitMetrics(t, 60*time.Second, "300 records polled and written", func(*agentv1.WorkerMetrics) bool {
		return math.Abs(total(polled)-3*perTopic) < 0.5 && math.Abs(total(written)-3*perTopic) < 0.5
	})
	m := out.waitMetrics(t, 30*time.Second, "3 topics, 2 groups and pings to both clusters", func(m *agentv1.WorkerMetrics) bool {
		return m.Topics == 3 && m.ConsumerGroups == 2 && m.SourcePingSuccesses > 0 && m.TargetPingSuccesses > 0
	})
	t.Logf("topics %d, groups %d, pings source %d target %d", m.Topics, m.ConsumerGroups, m.SourcePingSuccesses, m.TargetPingSuccesses)
	m = out.waitMetrics(t, 60*time.Second, "failed offset syncs counted as auth errors", func(m *agentv1.WorkerMetrics) bool {
		return m.OffsetSyncFailures > 0 && m.AuthErrors > 0
	})
	refused.Lock()
	n := refusedCommits
	refused.Unlock()
	if m.OffsetSyncFailures > int64(n) || m.AuthErrors < m.OffsetSyncFailures {
		t.Errorf("%d offset sync failures and %d auth errors for %d refused commits", m.OffsetSyncFailures, m.AuthErrors, n)
	}
	out.waitMetrics(t, 30*time.Second, "the target's 25 ms throttle", func(m *agentv1.WorkerMetrics) bool {
		return m.TargetThrottleMs == throttle
	})
	for _, m := range out.metrics() {
		if m.ReplicatorFailures != 0 || m.SourceThrottleMs != 0 || m.TargetThrottleMs < 0 {
			t.Fatalf("metrics %v: want no task failure and no source throttling", m)
		}
	}

	// The worker's /metrics has them under MSK's names.
	for name, want := range map[string]float64{"fjord_topic_count": 3, "fjord_consumer_group_count": 2, "fjord_worker_count": 1, "fjord_replicator_failure": 0} {
		if v, ok := promValue(t, reg, name, map[string]string{"workload_name": "metrics", "worker_id": "w-0"}); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	for _, name := range []string{"fjord_auth_error", "fjord_consumer_group_offset_sync_failure"} {
		if v, _ := promValue(t, reg, name, nil); v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	for _, c := range []string{"source", "target"} {
		if v, _ := promValue(t, reg, "fjord_kafka_cluster_ping_success_count", map[string]string{"cluster": c}); v <= 0 {
			t.Errorf("fjord_kafka_cluster_ping_success_count{cluster=%q} = %v, want > 0", c, v)
		}
		if v, ok := promValue(t, reg, "fjord_throttle_time", map[string]string{"cluster": c}); !ok || v < 0 {
			t.Errorf("fjord_throttle_time{cluster=%q} = %v (present %v), want ≥ 0", c, v, ok)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the worker returned %v", err)
	default:
	}
}

// TestAuthErrorOnWrongPassword: a SASL source that refuses the task's password counts
// AuthErrors, and the worker reports AUTHENTICATION_FAILED for the source cluster in its
// status's health while the task keeps trying (the worker does not fail).
func TestAuthErrorOnWrongPassword(t *testing.T) {
	t.Parallel()
	src := plainCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "replicator", "s3cr3t-Pa55"))
	tgt := plainCluster(t)
	conf := map[string]string{
		"source.cluster.alias":              "src",
		"target.cluster.alias":              "dst",
		"source.cluster.bootstrap.servers":  strings.Join(src.ListenAddrs(), ","),
		"target.cluster.bootstrap.servers":  strings.Join(tgt.ListenAddrs(), ","),
		"source.cluster.security.protocol":  "SASL_PLAINTEXT",
		"source.cluster.sasl.mechanism":     "SCRAM-SHA-512",
		"source.cluster.sasl.jaas.config":   `org.apache.kafka.common.security.scram.ScramLoginModule required username="replicator" password="wrong-Pa55";`,
		"replication.factor":                "1",
		"refresh.topics.interval.seconds":   "1",
		"emit.checkpoints.interval.seconds": "1",
	}
	reg := prometheus.NewRegistry()
	out, done := runWorker(t, reg, &agentv1.TaskSpec{TaskId: 0, ConnectorClass: catalog.MirrorSource, Config: conf, TaskIndex: 0, TaskCount: 1})
	out.waitMetrics(t, 30*time.Second, "auth errors", func(m *agentv1.WorkerMetrics) bool { return m.AuthErrors >= 2 })
	deadline := time.Now().Add(30 * time.Second)
	for {
		var health string
		out.mu.Lock()
		for _, l := range out.lines {
			if l.Status != nil && l.Status.HealthError != "" {
				health = l.Status.HealthError
			}
		}
		out.mu.Unlock()
		if strings.HasPrefix(health, "AUTHENTICATION_FAILED: ") {
			if !strings.Contains(health, `source cluster "src"`) || strings.Contains(health, "wrong-Pa55") {
				t.Errorf("health %q: want the source cluster named, without the password", health)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no AUTHENTICATION_FAILED health in the worker's status lines (last: %q)", health)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the worker ended on a refused login: %v", err)
	default:
	}
}

// TestSinkLagTotal: the task's lag is the sum of the latest lag of each partition, kept up to
// date as partitions report (the engine reports every owned partition each second).
func TestSinkLagTotal(t *testing.T) {
	s := newSink(&runtime.TaskMetrics{})
	for _, r := range []struct {
		topic     string
		partition int32
		lag, want int64
	}{
		{"a", 0, 5, 5},
		{"a", 1, 7, 12},
		{"a", 0, 2, 9},  // partition 0's new lag replaces its old one
		{"b", 0, 1, 10}, // same partition number, another topic
		{"a", 1, 0, 3},
	} {
		s.Lag(r.topic, r.partition, r.lag)
		if s.total != r.want {
			t.Fatalf("after Lag(%s, %d, %d): total %d, want %d", r.topic, r.partition, r.lag, s.total, r.want)
		}
	}
}
