package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/runtime"
)

const (
	stateStarting = agentv1.WorkerState_WORKER_STATE_STARTING
	stateRunning  = agentv1.WorkerState_WORKER_STATE_RUNNING
	stateFailed   = agentv1.WorkerState_WORKER_STATE_FAILED
	stateStopped  = agentv1.WorkerState_WORKER_STATE_STOPPED
)

// waitUntil polls cond until it holds, or fails the test after a deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitStatus waits until the gateway received a status of the worker that satisfies ok.
func waitStatus(t *testing.T, g *gateway, workerID, what string, ok func(*agentv1.WorkerStatus) bool) *agentv1.WorkerStatus {
	t.Helper()
	var found *agentv1.WorkerStatus
	waitUntil(t, workerID+" "+what, func() bool {
		for _, st := range g.statuses(workerID) {
			if ok(st) {
				found = st
				return true
			}
		}
		return false
	})
	return found
}

func isState(state agentv1.WorkerState, epoch int64) func(*agentv1.WorkerStatus) bool {
	return func(st *agentv1.WorkerStatus) bool { return st.State == state && st.Epoch == epoch }
}

// testAgent is an Agent running in the background.
type testAgent struct {
	*Agent
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startAgent runs an agent against addr with test-sized timings; mod adjusts its config. The
// test's cleanup stops it.
func startAgent(t *testing.T, addr string, mod func(*Config)) *testAgent {
	t.Helper()
	cfg := Config{
		ServerAddr: addr, Token: testToken, CAFingerprint: testPKI().fingerprint(), AgentID: t.Name(), MCU: 8, Version: "test", Labels: map[string]string{"zone": "a"},
		WorkerCommand: []string{os.Args[0]}, WorkerEnv: []string{envTestWorker + "=1", noRaceExitSleep},
		DrainTimeout: 15 * time.Second, MetricsInterval: 50 * time.Millisecond,
		RestartBackoff:   runtime.Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, ResetAfter: time.Minute},
		ReconnectBackoff: runtime.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Logger:           slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Registry:         prometheus.NewRegistry(),
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{Agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Run(ctx) }()
	t.Cleanup(func() { ta.stop(t) })
	return ta
}

// stop cancels the agent's context and waits for Run to return.
func (ta *testAgent) stop(t *testing.T) error {
	ta.once.Do(func() {
		ta.cancel()
		select {
		case ta.err = <-ta.done:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after its context was cancelled")
		}
	})
	return ta.err
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func workerSpec(id string, epoch int64, mcu int32, class string, config map[string]string) *agentv1.WorkerSpec {
	return &agentv1.WorkerSpec{
		WorkerId: id, WorkloadArn: "arn:aws:kafka:us-east-1:000000000000:replicator/r-" + id + "/abc-1", WorkloadName: "r-" + id,
		WorkloadKind: "replicator", Epoch: epoch, Mcu: mcu,
		Tasks: []*agentv1.TaskSpec{{TaskId: 0, ConnectorClass: class, Config: config, TaskIndex: 0, TaskCount: 1}},
	}
}

// processGone reports whether pid no longer runs: it does not exist, or it is a zombie waiting
// for its (new) parent to reap it.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	return len(f) > 0 && string(f[0]) == "Z"
}

// waitReports waits until the report file holds n events of the kind and returns them.
func waitReports(t *testing.T, path, event string, n int) []report {
	t.Helper()
	var rs []report
	waitUntil(t, fmt.Sprintf("%d %q reports in %s", n, event, filepath.Base(path)), func() bool {
		rs = reportsOf(readReports(t, path), event)
		return len(rs) >= n
	})
	return rs
}

// gauge returns the value of a metric of the registry with the given labels, and whether it
// exists.
func gauge(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
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

func TestWorkerLifecycle(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	reg := prometheus.NewRegistry()
	report := filepath.Join(t.TempDir(), "w-1") // before the agent: cleanups run in reverse
	a := startAgent(t, srv.addr, func(c *Config) { c.Registry = reg })
	waitUntil(t, "Hello", func() bool { return len(g.hellos()) == 1 })
	if h := g.hellos()[0]; h.AgentId != t.Name() || h.McuCapacity != 8 || h.Version != "test" || h.Labels["zone"] != "a" || len(h.Running) != 0 {
		t.Errorf("Hello = %v", h)
	}

	gen := g.setDesired(workerSpec("w-1", 1, 2, "test.Sleep", map[string]string{"report": report, "burn": "1"}))
	running := waitStatus(t, g, "w-1", "RUNNING", isState(stateRunning, 1))
	if len(running.Tasks) != 1 || running.Tasks[0].State != stateRunning || running.Restarts != 0 {
		t.Errorf("RUNNING status = %v", running)
	}
	if first := g.statuses("w-1")[0]; first.State != stateStarting {
		t.Errorf("first status = %v, want STARTING", first)
	}
	start := waitReports(t, report, "start", 1)[0]
	if start.GoMaxProcs != 2 {
		t.Errorf("the worker runs with GOMAXPROCS=%d, want its MCU (2)", start.GoMaxProcs)
	}
	if want := int64(2 * 4 << 30 * 9 / 10); start.MemLimit != want {
		t.Errorf("the worker runs with a memory limit of %d, want 90%% of 2 × 4 GiB (%d)", start.MemLimit, want)
	}
	waitUntil(t, "a heartbeat with the applied generation", func() bool {
		hb := g.heartbeats()
		return len(hb) > 0 && hb[len(hb)-1] == gen
	})

	// Metrics: measured from the OS, merged with what the worker reports.
	var m *agentv1.WorkerMetrics
	waitUntil(t, "metrics with CPU, memory and throughput", func() bool {
		for _, x := range g.workerMetrics("w-1") {
			if x.CpuSeconds > 0 && x.MemoryBytes > 0 && x.RecordsPerSecond > 0 && x.Lag == 42 && x.RunningTasks == 1 {
				m = x
				return true
			}
		}
		return false
	})
	if m.Epoch != 1 || m.WallSeconds <= 0 || m.At == nil || m.ReplicationLatencyMs < 2 || m.ErroredTasks != 0 {
		t.Errorf("metrics = %v", m)
	}
	if want := m.CpuSeconds / (2 * m.WallSeconds); diff(m.CpuUtilization, want) > 1e-9 {
		t.Errorf("cpu_utilization = %v, want cpu_seconds / (mcu × wall_seconds) = %v", m.CpuUtilization, want)
	}
	if want := float64(m.MemoryBytes) / (2 * 4 << 30); diff(m.MemoryUtilization, want) > 1e-12 {
		t.Errorf("memory_utilization = %v, want memory_bytes / (mcu × 4 GiB) = %v", m.MemoryUtilization, want)
	}
	labels := map[string]string{"worker_id": "w-1", "workload_name": "r-w-1", "workload_arn": workerSpec("w-1", 1, 2, "", nil).WorkloadArn}
	waitUntil(t, "the worker's Prometheus gauges", func() bool {
		_, ok1 := gauge(t, reg, "fjord_cpu_utilization", labels)
		v, ok2 := gauge(t, reg, "fjord_memory_utilization", labels)
		lag, _ := gauge(t, reg, "fjord_message_lag", labels)
		return ok1 && ok2 && v > 0 && lag == 42
	})
	if n, _ := gauge(t, reg, "fjord_agent_workers", map[string]string{"state": "running"}); n != 1 {
		t.Errorf("fjord_agent_workers{state=running} = %v, want 1", n)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `fjord_cpu_utilization{worker_id="w-1",workload_arn=`) {
		t.Errorf("/metrics lacks fjord_cpu_utilization:\n%s", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("/readyz = %d while connected", rec.Code)
	}

	// Removal: SIGTERM, the task finishes, the process is gone, STOPPED reaches the server.
	gen = g.setDesired()
	waitStatus(t, g, "w-1", "STOPPED", isState(stateStopped, 1))
	waitUntil(t, "the worker process to be gone", func() bool { return processGone(start.Pid) })
	if stops := waitReports(t, report, "stop", 1); stops[0].Pid != start.Pid {
		t.Errorf("stop reported by pid %d, want %d", stops[0].Pid, start.Pid)
	}
	waitUntil(t, "a heartbeat with the new generation", func() bool {
		hb := g.heartbeats()
		return hb[len(hb)-1] == gen
	})
	waitUntil(t, "the worker's gauges to be removed", func() bool {
		_, ok := gauge(t, reg, "fjord_cpu_utilization", labels)
		return !ok
	})
	if err := a.stop(t); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func diff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestEpochChangeRestartsWorker(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	report := filepath.Join(t.TempDir(), "w-1")
	startAgent(t, srv.addr, nil)
	config := map[string]string{"report": report}
	g.setDesired(workerSpec("w-1", 1, 1, "test.Sleep", config))
	waitStatus(t, g, "w-1", "RUNNING at epoch 1", isState(stateRunning, 1))
	first := waitReports(t, report, "start", 1)[0]

	g.setDesired(workerSpec("w-1", 2, 1, "test.Sleep", config))
	waitStatus(t, g, "w-1", "STOPPED at epoch 1", isState(stateStopped, 1))
	waitStatus(t, g, "w-1", "RUNNING at epoch 2", isState(stateRunning, 2))
	starts := waitReports(t, report, "start", 2)
	second := starts[1]
	if second.Pid == first.Pid || second.Epoch != 2 || first.Epoch != 1 {
		t.Fatalf("starts = %+v, want a new process at epoch 2", starts)
	}
	stop := waitReports(t, report, "stop", 1)[0]
	if stop.Pid != first.Pid || stop.At.After(second.At) {
		t.Errorf("the old process (stop %+v) must stop before the new one starts (%+v)", stop, second)
	}
	if !processGone(first.Pid) {
		t.Errorf("the epoch-1 process %d still runs", first.Pid)
	}
	// The STOPPED of epoch 1 precedes every status of epoch 2.
	var sawStopped bool
	for _, st := range g.statuses("w-1") {
		if isState(stateStopped, 1)(st) {
			sawStopped = true
		}
		if st.Epoch == 2 && !sawStopped {
			t.Errorf("status %v of epoch 2 before epoch 1 was STOPPED", st)
		}
	}

	// A change of tasks without a new epoch restarts the worker too.
	config2 := map[string]string{"report": report, "topics": "b.*"}
	g.setDesired(workerSpec("w-1", 2, 1, "test.Sleep", config2))
	third := waitReports(t, report, "start", 3)[2]
	if third.Pid == second.Pid {
		t.Errorf("a task change did not restart the worker")
	}
}

func TestCrashedWorkerRestartsWithBackoff(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	reg := prometheus.NewRegistry()
	report := filepath.Join(t.TempDir(), "w-1")
	startAgent(t, srv.addr, func(c *Config) { c.Registry = reg })
	spec := workerSpec("w-1", 1, 1, "test.Crash", map[string]string{"report": report, "crash_after": "30ms"})
	g.setDesired(spec)

	failed := waitStatus(t, g, "w-1", "FAILED after 3 restarts", func(st *agentv1.WorkerStatus) bool {
		return st.State == stateFailed && st.Restarts == 3
	})
	if want := "WORKER_EXITED: the worker process exited unexpectedly (exit status 2)"; failed.Error != want {
		t.Errorf("error = %q, want %q", failed.Error, want)
	}
	starts := waitReports(t, report, "start", 4)
	// Restarts wait 100, 200, 400 ms (measured between starts, which include the crash delay).
	for i, want := range []time.Duration{100, 200, 400} {
		if gap := starts[i+1].At.Sub(starts[i].At); gap < want*time.Millisecond {
			t.Errorf("restart %d came %v after the previous start, want ≥ %v", i+1, gap, want*time.Millisecond)
		}
		if starts[i+1].Pid == starts[i].Pid {
			t.Errorf("restart %d reused pid %d", i+1, starts[i].Pid)
		}
	}
	for _, s := range starts[:3] {
		if !processGone(s.Pid) {
			t.Errorf("crashed process %d still exists", s.Pid)
		}
	}
	// Between a crash and the restart the worker is FAILED, then STARTING again.
	sts := g.statuses("w-1")
	var sawRestartAfterFail bool
	for i := 1; i < len(sts); i++ {
		if sts[i-1].State == stateFailed && sts[i].State == stateStarting && sts[i].Restarts == sts[i-1].Restarts {
			sawRestartAfterFail = true
		}
	}
	if !sawRestartAfterFail {
		t.Errorf("no FAILED → STARTING sequence in %v", sts)
	}
	labels := map[string]string{"worker_id": "w-1", "workload_arn": spec.WorkloadArn, "workload_name": spec.WorkloadName}
	if n, _ := gauge(t, reg, "fjord_agent_worker_restarts_total", labels); n < 3 {
		t.Errorf("fjord_agent_worker_restarts_total = %v, want ≥ 3", n)
	}
}

func TestPermanentFailureWaitsForNewSpec(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	startAgent(t, srv.addr, func(c *Config) { c.RestartBackoff.Initial = 10 * time.Millisecond })
	g.setDesired(workerSpec("w-1", 1, 1, "com.acme.Foo", nil))
	failed := waitStatus(t, g, "w-1", "FAILED", isState(stateFailed, 1))
	want := "UNKNOWN_CONNECTOR_CLASS: connector.class com.acme.Foo is not supported; supported: test.Crash, test.Sleep"
	if failed.Error != want || failed.Restarts != 0 {
		t.Errorf("status = %v, want FAILED with %q and no restart", failed, want)
	}
	// Many heartbeat periods (and restart-backoff periods) later, it was not restarted.
	n := len(g.heartbeats())
	waitUntil(t, "five more heartbeats", func() bool { return len(g.heartbeats()) >= n+5 })
	starting := 0
	for _, st := range g.statuses("w-1") {
		if st.State == stateStarting {
			starting++
		}
	}
	if starting != 1 {
		t.Errorf("the worker started %d times; a permanent failure must wait for a new spec", starting)
	}
	// A corrected spec runs.
	g.setDesired(workerSpec("w-1", 2, 1, "test.Sleep", nil))
	waitStatus(t, g, "w-1", "RUNNING at epoch 2", isState(stateRunning, 2))
}

func TestStreamBreakKeepsWorkersRunning(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	reg := prometheus.NewRegistry()
	report := filepath.Join(t.TempDir(), "w-1")
	a := startAgent(t, srv.addr, func(c *Config) { c.Registry = reg })
	spec := workerSpec("w-1", 3, 1, "test.Sleep", map[string]string{"report": report})
	g.setDesired(spec)
	waitStatus(t, g, "w-1", "RUNNING", isState(stateRunning, 3))
	start := waitReports(t, report, "start", 1)[0]

	// The server goes away: streams break, nothing listens for a while.
	srv.stop()
	waitUntil(t, "the agent to notice", func() bool {
		v, _ := gauge(t, reg, "fjord_agent_connected", nil)
		return v == 0
	})
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while disconnected, want 503", rec.Code)
	}
	if processGone(start.Pid) {
		t.Fatal("the worker died with the stream")
	}

	// A server comes back on the same address: the agent reconnects and reports its worker.
	serve(t, g, srv.addr)
	waitUntil(t, "a second Hello", func() bool { return len(g.hellos()) == 2 })
	h := g.hellos()[1]
	if len(h.Running) != 1 || h.Running[0].WorkerId != "w-1" || h.Running[0].State != stateRunning || h.Running[0].Epoch != 3 {
		t.Fatalf("Hello.running = %v, want w-1 RUNNING at epoch 3", h.Running)
	}
	// The server resends the same desired set; the worker is left alone.
	hb := len(g.heartbeats())
	waitUntil(t, "heartbeats on the new stream", func() bool { return len(g.heartbeats()) >= hb+3 })
	if starts := readReports(t, report); len(starts) != 1 || processGone(start.Pid) {
		t.Errorf("the worker was restarted or stopped across the reconnect: %+v", starts)
	}
	for _, st := range g.statuses("w-1") {
		if st.State == stateStopped {
			t.Errorf("status %v across a reconnect", st)
		}
	}
}

func TestDrainOnCancel(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	dir := t.TempDir()
	a := startAgent(t, srv.addr, nil)
	r1, r2 := filepath.Join(dir, "w-1"), filepath.Join(dir, "w-2")
	g.setDesired(workerSpec("w-1", 1, 1, "test.Sleep", map[string]string{"report": r1}),
		workerSpec("w-2", 1, 2, "test.Sleep", map[string]string{"report": r2}))
	waitStatus(t, g, "w-1", "RUNNING", isState(stateRunning, 1))
	waitStatus(t, g, "w-2", "RUNNING", isState(stateRunning, 1))
	p1, p2 := waitReports(t, r1, "start", 1)[0].Pid, waitReports(t, r2, "start", 1)[0].Pid

	if err := a.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	// Run returned: the drain is complete.
	for _, p := range []int{p1, p2} {
		if !processGone(p) {
			t.Errorf("worker process %d outlived the agent", p)
		}
	}
	if len(reportsOf(readReports(t, r1), "stop")) != 1 || len(reportsOf(readReports(t, r2), "stop")) != 1 {
		t.Error("a worker did not finish its tasks gracefully")
	}
	// Goodbye first, then STOPPED for each worker, then the agent closed the stream.
	waitUntil(t, "the stream to end", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.agentClosed == 1
	})
	goodbye := -1
	stopped := map[string]int{}
	for i, r := range g.messages() {
		if r.msg.GetGoodbye() != nil {
			goodbye = i
		}
		if st := r.msg.GetWorkerStatus(); st != nil && st.State == stateStopped {
			stopped[st.WorkerId] = i
		}
	}
	if goodbye < 0 {
		t.Fatal("no Goodbye")
	}
	for _, id := range []string{"w-1", "w-2"} {
		if i, ok := stopped[id]; !ok || i < goodbye {
			t.Errorf("%s: STOPPED at message %d, Goodbye at %d; want STOPPED after Goodbye", id, i, goodbye)
		}
	}
}

func TestDrainTimeoutKillsStuckWorker(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	report := filepath.Join(t.TempDir(), "w-1")
	a := startAgent(t, srv.addr, func(c *Config) { c.DrainTimeout = 300 * time.Millisecond })
	g.setDesired(workerSpec("w-1", 1, 1, "test.Sleep", map[string]string{"report": report, "ignore_stop": "1"}))
	waitStatus(t, g, "w-1", "RUNNING", isState(stateRunning, 1))
	pid := waitReports(t, report, "start", 1)[0].Pid
	began := time.Now()
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Errorf("the drain took %v; a stuck worker must get the whole drain timeout", took)
	}
	if !processGone(pid) {
		t.Errorf("the stuck worker %d survived the drain timeout", pid)
	}
	waitStatus(t, g, "w-1", "STOPPED", isState(stateStopped, 1))
}

func TestWrongTokenKeepsRetrying(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	a := startAgent(t, srv.addr, func(c *Config) {
		c.Token = "wrong"
		c.ReconnectBackoff = runtime.Backoff{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond}
	})
	waitUntil(t, "five refused attempts", func() bool { return len(g.refusals()) >= 5 })
	select {
	case err := <-a.done:
		t.Fatalf("Run returned %v; a refused token must not stop the agent", err)
	default:
	}
	rs := g.refusals()
	for i, want := range []time.Duration{20, 40, 80, 80} {
		if gap := rs[i+1].Sub(rs[i]); gap < want*time.Millisecond {
			t.Errorf("attempt %d came %v after the previous one, want ≥ %v", i+2, gap, want*time.Millisecond)
		}
	}
	if len(g.hellos()) != 0 {
		t.Error("a refused agent got to send Hello")
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestKill9TakesWorkersDown runs the agent as its own process, kills it with SIGKILL and
// checks that its worker dies with it (Pdeathsig) instead of lingering as an orphan.
func TestKill9TakesWorkersDown(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envTestAgent+"=1", envTestServer+"="+srv.addr, envTestCA+"="+testPKI().fingerprint(), noRaceExitSleep)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	report := filepath.Join(t.TempDir(), "w-1")
	g.setDesired(workerSpec("w-1", 1, 1, "test.Sleep", map[string]string{"report": report}))
	waitStatus(t, g, "w-1", "RUNNING", isState(stateRunning, 1))
	pid := waitReports(t, report, "start", 1)[0].Pid

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	waitUntil(t, "the orphaned worker to die", func() bool { return processGone(pid) })
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	ok := Config{ServerAddr: "127.0.0.1:9090", Token: "t", MCU: 1, WorkerCommand: []string{"fjord", "worker"}, Registry: prometheus.NewRegistry()}
	for _, c := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no server", func(c *Config) { c.ServerAddr = "" }, "ServerAddr is required"},
		{"no token", func(c *Config) { c.Token = "" }, "Token is required"},
		{"no capacity", func(c *Config) { c.MCU = 0 }, "MCU must be at least 1"},
		{"no worker command", func(c *Config) { c.WorkerCommand = nil }, "WorkerCommand is required"},
		{"negative drain timeout", func(c *Config) { c.DrainTimeout = -1 }, "cannot be negative"},
	} {
		cfg := ok
		cfg.Registry = prometheus.NewRegistry()
		c.mod(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v, want an error containing %q", c.name, err, c.want)
		}
	}
	a, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if a.cfg.AgentID != host || a.cfg.DrainTimeout != 30*time.Second || a.cfg.MetricsInterval != 5*time.Second {
		t.Errorf("defaults: agent id %q, drain timeout %v, metrics interval %v", a.cfg.AgentID, a.cfg.DrainTimeout, a.cfg.MetricsInterval)
	}
	if _, err := New(ok); err == nil {
		t.Error("a second agent on the same registry was accepted")
	}
	if got := memoryLimit(1); got != 3865470566 {
		t.Errorf("memoryLimit(1) = %d", got)
	}
}

// TestServerLowersMetricsInterval: a server whose autoscaler needs samples more often than the
// agent's MetricsInterval says so in its Welcome, and the agent measures its workers that often;
// a longer limit leaves a shorter configured interval alone.
func TestServerLowersMetricsInterval(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                string
		configured, limit   time.Duration
		want                time.Duration
		minSamplesPerSecond int
	}{
		{"lowered", 5 * time.Second, 200 * time.Millisecond, 200 * time.Millisecond, 3},
		{"kept", 150 * time.Millisecond, 10 * time.Second, 150 * time.Millisecond, 3},
		{"floored", 5 * time.Second, time.Millisecond, MinMetricsInterval, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGateway()
			g.maxMetrics = c.limit
			srv := serve(t, g, "127.0.0.1:0")
			a := startAgent(t, srv.addr, func(cfg *Config) { cfg.MetricsInterval = c.configured })
			waitUntil(t, "the Welcome", func() bool { return a.ready.Load() })
			if got := a.metricsInterval(); got != c.want {
				t.Fatalf("metrics interval %s, want %s", got, c.want)
			}
			g.setDesired(workerSpec("w-1", 1, 1, "test.Sleep", nil))
			waitStatus(t, g, "w-1", "RUNNING", isState(stateRunning, 1))
			start := len(g.workerMetrics("w-1"))
			time.Sleep(2 * time.Second)
			if n := len(g.workerMetrics("w-1")) - start; n < 2*c.minSamplesPerSecond {
				t.Fatalf("%d metrics in 2s with an interval of %s", n, c.want)
			}
		})
	}
}
