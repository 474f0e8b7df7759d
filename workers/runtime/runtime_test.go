package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	stateStarting = agentv1.WorkerState_WORKER_STATE_STARTING
	stateRunning  = agentv1.WorkerState_WORKER_STATE_RUNNING
	stateFailed   = agentv1.WorkerState_WORKER_STATE_FAILED
	stateStopped  = agentv1.WorkerState_WORKER_STATE_STOPPED
)

// fakes is the behaviour and the record of the test tasks of one test: "test.Counting" tasks
// replicate fake records until stopped; config keys make them misbehave on demand.
//
//	fail_times: Run returns an error that many times before it runs normally
//	panic: the first Run panics
//	permanent_after: Run returns a permanent *Error after that Go duration
//	invalid: the factory refuses the configuration with that message
//	rebuild_fail_times: the factory fails that many times after its first build
type fakes struct {
	mu       sync.Mutex
	builds   map[int32]int
	starts   map[int32][]time.Time
	failed   map[int32]int
	panicked map[int32]bool
	clean    map[int32]int // Runs that saw ctx done and finished their in-flight batch

	rebuildFailed map[int32]int
}

func newFakes() *fakes {
	return &fakes{builds: map[int32]int{}, starts: map[int32][]time.Time{}, failed: map[int32]int{},
		panicked: map[int32]bool{}, clean: map[int32]int{}, rebuildFailed: map[int32]int{}}
}

func (f *fakes) registry() Registry {
	return Registry{
		"test.Counting": f.factory,
		"test.Other":    f.factory,
	}
}

func (f *fakes) factory(_ context.Context, spec *agentv1.TaskSpec, env TaskEnv) (Task, error) {
	if msg := spec.Config["invalid"]; msg != "" {
		return nil, errors.New(msg)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rebuildFails := 0
	fmt.Sscan(spec.Config["rebuild_fail_times"], &rebuildFails)
	if f.builds[spec.TaskId] > 0 && f.rebuildFailed[spec.TaskId] < rebuildFails {
		f.rebuildFailed[spec.TaskId]++
		return nil, errors.New("cannot build now")
	}
	f.builds[spec.TaskId]++
	return &countingTask{f: f, spec: spec, env: env}, nil
}

func (f *fakes) count(m map[int32]int, id int32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[id]
}

type countingTask struct {
	f    *fakes
	spec *agentv1.TaskSpec
	env  TaskEnv
}

func (t *countingTask) Run(ctx context.Context) error {
	id := t.spec.TaskId
	// Every attempt registers the same collector: the worker must unregister it in between.
	t.env.Registry.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "test_task_attempt", Help: "test"}))
	t.f.mu.Lock()
	t.f.starts[id] = append(t.f.starts[id], time.Now())
	failTimes := 0
	fmt.Sscan(t.spec.Config["fail_times"], &failTimes)
	if t.f.failed[id] < failTimes {
		t.f.failed[id]++
		n := t.f.failed[id]
		t.f.mu.Unlock()
		return fmt.Errorf("boom %d", n)
	}
	if t.spec.Config["panic"] != "" && !t.f.panicked[id] {
		t.f.panicked[id] = true
		t.f.mu.Unlock()
		panic("kaboom")
	}
	t.f.mu.Unlock()
	var permanent <-chan time.Time
	if d, err := time.ParseDuration(t.spec.Config["permanent_after"]); err == nil {
		permanent = time.After(d)
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.f.mu.Lock()
			t.f.clean[id]++
			t.f.mu.Unlock()
			return nil
		case <-permanent:
			return &Error{Code: "CLUSTER_UNREACHABLE", Err: errors.New("source cluster is gone"), Permanent: true}
		case <-tick.C:
			t.env.Metrics.Add(10, 1000)
			t.env.Metrics.SetLag(7)
			t.env.Metrics.ObserveLatency(3 * time.Millisecond)
			// Health: both tasks replicate "shared"; each also has a topic of its own.
			t.env.Metrics.Polled(30)
			t.env.Metrics.SetTopics([]string{"shared", fmt.Sprintf("own-%d", id)})
			t.env.Metrics.SetConsumerGroups(2)
			t.env.Metrics.PingSucceeded(ClusterSource)
			t.env.Metrics.ObserveThrottle(ClusterTarget, time.Duration(5+id)*time.Millisecond)
			if t.spec.Config["auth_errors"] != "" {
				t.env.Metrics.AuthError()
				t.env.Metrics.OffsetSyncFailed()
			}
		}
	}
}

// sink collects the lines Run writes and lets a test wait for one.
type sink struct {
	mu      sync.Mutex
	partial []byte
	lines   []Line
	bad     []string
	changed chan struct{}
}

func newSink() *sink { return &sink{changed: make(chan struct{}, 1)} }

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		var l Line
		if err := json.Unmarshal(s.partial[:i], &l); err != nil {
			s.bad = append(s.bad, string(s.partial[:i]))
		} else {
			s.lines = append(s.lines, l)
		}
		s.partial = s.partial[i+1:]
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *sink) snapshot() []Line {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Line(nil), s.lines...)
}

func (s *sink) statuses() []*agentv1.WorkerStatus {
	var out []*agentv1.WorkerStatus
	for _, l := range s.snapshot() {
		if l.Status != nil {
			out = append(out, l.Status)
		}
	}
	return out
}

// waitFor polls until a line satisfies ok, or fails the test after a deadline.
func (s *sink) waitFor(t *testing.T, what string, ok func(Line) bool) Line {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, l := range s.snapshot() {
			if ok(l) {
				return l
			}
		}
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatalf("no line with %s; got:\n%s", what, s.dump())
		}
	}
}

func (s *sink) dump() string {
	var b strings.Builder
	for _, l := range s.snapshot() {
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func spec(tasks ...*agentv1.TaskSpec) *agentv1.WorkerSpec {
	return &agentv1.WorkerSpec{WorkerId: "w-1", WorkloadArn: "arn:aws:kafka:us-east-1:000000000000:replicator/r/abc-1",
		WorkloadName: "r", WorkloadKind: "replicator", Epoch: 4, Mcu: 1, Tasks: tasks}
}

func task(id int32, class string, config map[string]string) *agentv1.TaskSpec {
	return &agentv1.TaskSpec{TaskId: id, ConnectorClass: class, Config: config, TaskCount: 2, TaskIndex: id}
}

// runHandle is a Run in the background.
type runHandle struct {
	t      *testing.T
	cancel context.CancelFunc
	ch     chan error
	once   sync.Once
	err    error
}

// run starts Run in the background; the test's cleanup stops it.
func run(t *testing.T, s *agentv1.WorkerSpec, reg Registry, out io.Writer, opts ...Option) *runHandle {
	ctx, cancel := context.WithCancel(context.Background())
	h := &runHandle{t: t, cancel: cancel, ch: make(chan error, 1)}
	go func() { h.ch <- Run(ctx, s, reg, out, testLogger(t), opts...) }()
	t.Cleanup(func() { h.stop() })
	return h
}

// wait returns Run's result, failing the test if it does not come within a deadline.
func (h *runHandle) wait() error {
	h.once.Do(func() {
		select {
		case h.err = <-h.ch:
		case <-time.After(10 * time.Second):
			h.t.Fatal("Run did not return")
		}
	})
	return h.err
}

// stop cancels Run's context and returns its result.
func (h *runHandle) stop() error {
	h.cancel()
	return h.wait()
}

// returned reports whether Run has returned already.
func (h *runHandle) returned() bool {
	select {
	case err := <-h.ch:
		h.ch <- err
		return true
	default:
		return false
	}
}

// waitUntil polls cond until it holds, or fails the test after a deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestStatusAndMetricsLines(t *testing.T) {
	t.Parallel()
	f := newFakes()
	out := newSink()
	promReg := prometheus.NewRegistry()
	s := spec(task(0, "test.Counting", nil), task(1, "test.Other", nil))
	h := run(t, s, f.registry(), out, MetricsInterval(20*time.Millisecond), MetricsRegisterer(promReg))

	first := out.waitFor(t, "a status", func(l Line) bool { return l.Status != nil })
	if first.Status.State != stateStarting || first.Status.WorkerId != "w-1" || first.Status.Epoch != 4 {
		t.Errorf("first status = %v, want STARTING of w-1 epoch 4", first.Status)
	}
	running := out.waitFor(t, "RUNNING", func(l Line) bool { return l.Status != nil && l.Status.State == stateRunning })
	if len(running.Status.Tasks) != 2 {
		t.Fatalf("RUNNING status has %d tasks, want 2", len(running.Status.Tasks))
	}
	for _, ts := range running.Status.Tasks {
		if ts.State != stateRunning || ts.Error != "" {
			t.Errorf("task %d = %v, want RUNNING without error", ts.TaskId, ts)
		}
	}
	m := out.waitFor(t, "metrics with throughput", func(l Line) bool {
		return l.Metrics != nil && l.Metrics.RecordsPerSecond > 0 && l.Metrics.RunningTasks == 2 && l.Metrics.Topics == 3
	}).Metrics
	if math.Abs(m.BytesPerSecond-100*m.RecordsPerSecond) > 1e-6*m.BytesPerSecond {
		t.Errorf("bytes/s = %v, want 100 × records/s (%v)", m.BytesPerSecond, m.RecordsPerSecond)
	}
	if m.Lag != 14 {
		t.Errorf("lag = %d, want 7 per task × 2", m.Lag)
	}
	// 3 ms falls in the bucket (2.83, 3.36] ms.
	if m.ReplicationLatencyMs < 3 || m.ReplicationLatencyMs > 3.6 {
		t.Errorf("replication latency = %v ms, want ≈3", m.ReplicationLatencyMs)
	}
	if m.ErroredTasks != 0 || m.WallSeconds <= 0 || m.At == nil || m.WorkerId != "w-1" {
		t.Errorf("metrics = %v", m)
	}
	// Records are polled 3 for every one written (both tasks poll 30 per tick and write 10; a
	// tick may fall between the two reads).
	if math.Abs(m.RecordsPolledPerSecond-3*m.RecordsPerSecond) > 0.2*m.RecordsPolledPerSecond {
		t.Errorf("polled/s = %v, want 3 × records/s (%v)", m.RecordsPolledPerSecond, m.RecordsPerSecond)
	}
	// Topics are the union over the tasks (shared, own-0, own-1); groups the sum.
	if m.Topics != 3 || m.ConsumerGroups != 4 {
		t.Errorf("topics = %d, groups = %d; want 3, 4", m.Topics, m.ConsumerGroups)
	}
	// The longest throttle of the interval (task 1's 6 ms, or task 0's 5); no source throttling.
	if m.TargetThrottleMs < 5 || m.TargetThrottleMs > 6 || m.SourceThrottleMs != 0 {
		t.Errorf("throttle source %v ms, target %v ms; want 0, 5 or 6", m.SourceThrottleMs, m.TargetThrottleMs)
	}
	if m.SourcePingSuccesses == 0 || m.TargetPingSuccesses != 0 || m.AuthErrors != 0 || m.OffsetSyncFailures != 0 || m.ReplicatorFailures != 0 {
		t.Errorf("pings %d/%d, auth errors %d, offset sync failures %d, failures %d; want >0/0, 0, 0, 0",
			m.SourcePingSuccesses, m.TargetPingSuccesses, m.AuthErrors, m.OffsetSyncFailures, m.ReplicatorFailures)
	}
	// The worker's own Prometheus gauges, per workload.
	if v := gaugeValue(t, promReg, "fjord_running_task_count", "workload_arn", s.WorkloadArn); v != 2 {
		t.Errorf("fjord_running_task_count = %v, want 2", v)
	}
	if v := gaugeValue(t, promReg, "fjord_topic_count", "workload_arn", s.WorkloadArn); v != 3 {
		t.Errorf("fjord_topic_count = %v, want 3", v)
	}
	if v := gaugeValue(t, promReg, "fjord_consumer_group_count", "workload_arn", s.WorkloadArn); v != 4 {
		t.Errorf("fjord_consumer_group_count = %v, want 4", v)
	}
	if v := gaugeValue(t, promReg, "fjord_kafka_cluster_ping_success_count", "cluster", "source"); v <= 0 {
		t.Errorf("fjord_kafka_cluster_ping_success_count{cluster=source} = %v, want > 0", v)
	}
	if v := gaugeValue(t, promReg, "fjord_kafka_cluster_ping_success_count", "cluster", "target"); v != 0 {
		t.Errorf("fjord_kafka_cluster_ping_success_count{cluster=target} = %v, want 0", v)
	}
	for _, name := range []string{"fjord_replicator_failure", "fjord_auth_error", "fjord_consumer_group_offset_sync_failure", "fjord_worker_count", "fjord_source_record_poll_rate", "fjord_throttle_time"} {
		gaugeValue(t, promReg, name, "workload_arn", s.WorkloadArn) // present
	}

	if err := h.stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	lines := out.snapshot()
	last := lines[len(lines)-1]
	if last.Status == nil || last.Status.State != stateStopped {
		t.Fatalf("last line = %v, want a STOPPED status", last)
	}
	for _, ts := range last.Status.Tasks {
		if ts.State != stateStopped {
			t.Errorf("task %d at the end = %v, want STOPPED", ts.TaskId, ts.State)
		}
	}
	for id := range int32(2) {
		if f.count(f.clean, id) != 1 || f.count(f.builds, id) != 1 {
			t.Errorf("task %d: clean stops %d, builds %d; want 1, 1", id, f.count(f.clean, id), f.count(f.builds, id))
		}
	}
	// Consecutive statuses differ (a status is written on change only).
	st := out.statuses()
	for i := 1; i < len(st); i++ {
		if proto.Equal(st[i-1], st[i]) {
			t.Errorf("status %d repeats the previous one: %v", i, st[i])
		}
	}
	if len(out.bad) > 0 {
		t.Errorf("undecodable lines: %q", out.bad)
	}
	// Everything the worker registered is gone.
	if mfs, _ := promReg.Gather(); len(mfs) != 0 {
		t.Errorf("%d metric families left registered after Run", len(mfs))
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if lp.GetName() == label && lp.GetValue() == value {
					if m.Counter != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

func TestFailingTaskRestartsInProcess(t *testing.T) {
	t.Parallel()
	f := newFakes()
	out := newSink()
	bo := Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, ResetAfter: time.Minute}
	s := spec(task(0, "test.Counting", map[string]string{"fail_times": "4"}), task(1, "test.Counting", map[string]string{"auth_errors": "1"}))
	h := run(t, s, f.registry(), out, MetricsInterval(20*time.Millisecond), RestartBackoff(bo))

	failed := out.waitFor(t, "FAILED", func(l Line) bool { return l.Status != nil && l.Status.State == stateFailed }).Status
	if want := "TASK_FAILED: task 0: boom 1"; failed.Error != want {
		t.Errorf("worker error = %q, want %q", failed.Error, want)
	}
	if ts := failed.Tasks[0]; ts.State != stateFailed || ts.Error != "TASK_FAILED: boom 1" {
		t.Errorf("task 0 = %v, want FAILED with TASK_FAILED: boom 1", ts)
	}
	if ts := failed.Tasks[1]; ts.State == stateFailed {
		t.Errorf("task 1 = %v; one task's failure must not fail the other", ts)
	}
	out.waitFor(t, "metrics counting an errored task", func(l Line) bool { return l.Metrics != nil && l.Metrics.ErroredTasks == 1 })
	recovered := out.waitFor(t, "RUNNING after 4 restarts", func(l Line) bool {
		return l.Status != nil && l.Status.State == stateRunning && l.Status.Restarts == 4
	}).Status
	if recovered.Tasks[0].Error != "" {
		t.Errorf("recovered task still carries error %q", recovered.Tasks[0].Error)
	}
	// ReplicatorFailure counts the 4 failed runs; task 1 reports auth errors and failed
	// offset syncs, which add up since the worker started.
	m := out.waitFor(t, "metrics after the restarts", func(l Line) bool {
		return l.Metrics != nil && l.Metrics.ReplicatorFailures == 4 && l.Metrics.AuthErrors > 0
	}).Metrics
	if m.OffsetSyncFailures != m.AuthErrors && m.OffsetSyncFailures+1 != m.AuthErrors {
		t.Errorf("offset sync failures %d, auth errors %d: both count every tick", m.OffsetSyncFailures, m.AuthErrors)
	}
	if h.returned() {
		t.Fatalf("Run returned %v; a task error must not end the worker", h.wait())
	}
	waitUntil(t, "the fifth start of task 0", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.starts[0]) == 5
	})
	if n := f.count(f.builds, 0); n != 5 {
		t.Errorf("task 0 was built %d times, want 5 (the factory runs before every restart)", n)
	}
	if n := f.count(f.builds, 1); n != 1 {
		t.Errorf("task 1 was built %d times, want 1", n)
	}
	// The delays between attempts follow the backoff: at least 10, 20, 40, 40 ms.
	f.mu.Lock()
	starts := append([]time.Time(nil), f.starts[0]...)
	f.mu.Unlock()
	want := []time.Duration{10, 20, 40, 40}
	if len(starts) != 5 {
		t.Fatalf("task 0 started %d times, want 5", len(starts))
	}
	for i, w := range want {
		if gap := starts[i+1].Sub(starts[i]); gap < w*time.Millisecond {
			t.Errorf("restart %d came after %v, want ≥ %v", i+1, gap, w*time.Millisecond)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestTaskStartupMetrics: every build of a task is a startup attempt (TaskStartupAttemptsTotal),
// the ones that give a running task succeed (TaskStartupSuccessPercentage).
func TestTaskStartupMetrics(t *testing.T) {
	t.Parallel()
	f := newFakes()
	out := newSink()
	promReg := prometheus.NewRegistry()
	bo := Backoff{Initial: 5 * time.Millisecond, Max: 5 * time.Millisecond, ResetAfter: time.Minute}
	// Task 0: built, runs and fails once, is rebuilt twice in vain, then runs: 4 attempts, 2
	// successes. Task 1: 1 attempt, 1 success. In all 5 attempts, 3 successes: 60%.
	s := spec(task(0, "test.Counting", map[string]string{"fail_times": "1", "rebuild_fail_times": "2"}), task(1, "test.Counting", nil))
	h := run(t, s, f.registry(), out, MetricsInterval(20*time.Millisecond), RestartBackoff(bo), MetricsRegisterer(promReg))
	m := out.waitFor(t, "metrics counting 5 attempts", func(l Line) bool {
		return l.Metrics != nil && l.Metrics.TaskStartupAttempts == 5 && l.Metrics.TaskStartupSuccesses == 3
	}).Metrics
	if m.RunningTasks != 2 {
		t.Errorf("running tasks = %d, want 2", m.RunningTasks)
	}
	waitUntil(t, "the worker's /metrics", func() bool {
		return gaugeValue(t, promReg, "fjord_task_startup_attempts_total", "workload_arn", s.WorkloadArn) == 5 &&
			gaugeValue(t, promReg, "fjord_task_startup_success_percentage", "workload_arn", s.WorkloadArn) == 60
	})
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestPanickingTaskIsRestarted(t *testing.T) {
	t.Parallel()
	f := newFakes()
	out := newSink()
	s := spec(task(3, "test.Counting", map[string]string{"panic": "1"}))
	h := run(t, s, f.registry(), out, RestartBackoff(Backoff{Initial: time.Millisecond}))
	failed := out.waitFor(t, "FAILED", func(l Line) bool { return l.Status != nil && l.Status.State == stateFailed }).Status
	if want := "TASK_PANICKED: task 3: kaboom"; failed.Error != want {
		t.Errorf("error = %q, want %q", failed.Error, want)
	}
	out.waitFor(t, "RUNNING after the panic", func(l Line) bool {
		return l.Status != nil && l.Status.State == stateRunning && l.Status.Restarts == 1
	})
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownConnectorClassIsPermanent(t *testing.T) {
	t.Parallel()
	f := newFakes()
	out := newSink()
	s := spec(task(0, "test.Counting", nil), task(1, "com.acme.Foo", nil))
	err := Run(context.Background(), s, f.registry(), out, testLogger(t))
	if ExitCode(err) != ExitPermanent {
		t.Fatalf("Run = %v (exit code %d), want a permanent error (exit code %d)", err, ExitCode(err), ExitPermanent)
	}
	want := "UNKNOWN_CONNECTOR_CLASS: connector.class com.acme.Foo is not supported; supported: test.Counting, test.Other"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	st := out.statuses()
	last := st[len(st)-1]
	if last.State != stateFailed || last.Error != want {
		t.Errorf("last status = %v, want FAILED with %q", last, want)
	}
	if last.Tasks[1].State != stateFailed || last.Tasks[1].Error != want {
		t.Errorf("task 1 = %v, want FAILED with the error", last.Tasks[1])
	}
	if last.Tasks[0].State != stateStopped {
		t.Errorf("task 0 = %v, want STOPPED (never started)", last.Tasks[0])
	}
	if n := f.count(f.builds, 0); n != 0 {
		t.Errorf("task 0 was built %d times; nothing may start when a class is unknown", n)
	}
}

func TestInvalidConfigurationIsPermanent(t *testing.T) {
	t.Parallel()
	f := newFakes()
	out := newSink()
	s := spec(task(0, "test.Counting", map[string]string{"invalid": "topics: missing ) in regex"}))
	err := Run(context.Background(), s, f.registry(), out, testLogger(t))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidConfiguration || ExitCode(err) != ExitPermanent {
		t.Fatalf("Run = %v, want a permanent INVALID_CONFIGURATION error", err)
	}
	st := out.statuses()
	if last := st[len(st)-1]; last.State != stateFailed || last.Error != "INVALID_CONFIGURATION: topics: missing ) in regex" {
		t.Errorf("last status = %v", last)
	}
}

func TestPermanentTaskErrorStopsTheWorker(t *testing.T) {
	t.Parallel()
	f := newFakes()
	out := newSink()
	s := spec(task(0, "test.Counting", map[string]string{"permanent_after": "30ms"}), task(1, "test.Counting", nil))
	err := run(t, s, f.registry(), out).wait()
	if ExitCode(err) != ExitPermanent || err.Error() != "CLUSTER_UNREACHABLE: source cluster is gone" {
		t.Fatalf("Run = %v, want the task's permanent error", err)
	}
	st := out.statuses()
	last := st[len(st)-1]
	if last.State != stateFailed || last.Error != err.Error() {
		t.Errorf("last status = %v, want FAILED with %q", last, err)
	}
	if last.Tasks[1].State != stateStopped || f.count(f.clean, 1) != 1 {
		t.Errorf("task 1 = %v (clean stops %d), want STOPPED after finishing its batch", last.Tasks[1], f.count(f.clean, 1))
	}
}

func TestMainExitCodes(t *testing.T) {
	t.Parallel()
	f := newFakes()
	line, err := EncodeSpec(spec(task(0, "com.acme.Foo", nil)))
	if err != nil {
		t.Fatal(err)
	}
	if code := Main(context.Background(), f.registry(), bytes.NewReader(line), io.Discard, testLogger(t)); code != ExitPermanent {
		t.Errorf("unknown class: exit code %d, want %d", code, ExitPermanent)
	}
	if code := Main(context.Background(), f.registry(), strings.NewReader(""), io.Discard, testLogger(t)); code != ExitPermanent {
		t.Errorf("empty stdin: exit code %d, want %d", code, ExitPermanent)
	}
	line, _ = EncodeSpec(spec(task(0, "test.Counting", nil)))
	ctx, cancel := context.WithCancel(context.Background())
	out := newSink()
	done := make(chan int, 1)
	go func() { done <- Main(ctx, f.registry(), bytes.NewReader(line), out, testLogger(t)) }()
	out.waitFor(t, "RUNNING", func(l Line) bool { return l.Status != nil && l.Status.State == stateRunning })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("clean stop: exit code %d, want 0", code)
	}
}

func TestSpecAndLineRoundTrip(t *testing.T) {
	t.Parallel()
	s := spec(task(0, "test.Counting", map[string]string{"topics": "a.*\nb", "secret": "p\"w"}))
	b, err := EncodeSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte("\n")) != 1 || b[len(b)-1] != '\n' {
		t.Fatalf("spec is not one line: %q", b)
	}
	got, err := ReadSpec(bytes.NewReader(b))
	if err != nil || !proto.Equal(got, s) {
		t.Fatalf("ReadSpec = %v, %v; want %v", got, err, s)
	}
	if _, err := ReadSpec(strings.NewReader("{not json\n")); err == nil {
		t.Error("ReadSpec accepted garbage")
	}
	for _, l := range []Line{
		{Status: &agentv1.WorkerStatus{WorkerId: "w", State: stateFailed, Error: "X: y", Restarts: 2}},
		{Metrics: &agentv1.WorkerMetrics{WorkerId: "w", Lag: 5, ReplicationLatencyMs: 1.5}},
	} {
		var buf bytes.Buffer
		if err := WriteLine(&buf, l); err != nil {
			t.Fatal(err)
		}
		var back Line
		if err := json.Unmarshal(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), &back); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(back.Status, l.Status) || !proto.Equal(back.Metrics, l.Metrics) {
			t.Errorf("round trip of %s changed it", buf.String())
		}
	}
	if err := WriteLine(io.Discard, Line{}); err == nil {
		t.Error("an empty line was written")
	}
	var l Line
	if err := json.Unmarshal([]byte(`{"log":"hello"}`), &l); err == nil {
		t.Error("a line without status or metrics was accepted")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := Backoff{}
	for _, c := range []struct {
		prev, ran, want time.Duration
	}{
		{0, 0, time.Second},
		{time.Second, time.Second, 2 * time.Second},
		{16 * time.Second, 0, 30 * time.Second},
		{30 * time.Second, 59 * time.Second, 30 * time.Second},
		{30 * time.Second, 60 * time.Second, time.Second},
	} {
		if got := b.Next(c.prev, c.ran); got != c.want {
			t.Errorf("Next(%v, %v) = %v, want %v", c.prev, c.ran, got, c.want)
		}
	}
}

func TestLatencyQuantile(t *testing.T) {
	t.Parallel()
	var m TaskMetrics
	for range 980 {
		m.ObserveLatency(time.Millisecond)
	}
	for range 20 {
		m.ObserveLatency(500 * time.Millisecond)
	}
	s := m.latency.snapshot()
	p99, ok := quantile(&s, 0.99)
	if !ok || p99 < 500 || p99 > 500*1.19 {
		t.Errorf("p99 = %v, want ≈500 ms", p99)
	}
	p50, _ := quantile(&s, 0.5)
	if p50 < 1 || p50 > 1.19 {
		t.Errorf("p50 = %v, want ≈1 ms", p50)
	}
	m.ObserveLatency(24 * time.Hour) // clamps into the last bucket
	m.ObserveLatency(0)
	var empty [latencyBuckets]uint64
	if _, ok := quantile(&empty, 0.99); ok {
		t.Error("quantile of nothing reported ok")
	}
}
