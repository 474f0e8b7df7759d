package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/runtime"
)

// The test binary doubles as a worker (FJORD_AGENT_TEST_WORKER=1: runtime.Main with the test
// tasks below) and as a whole agent process (FJORD_AGENT_TEST_AGENT=1, for the kill -9 test).
const (
	envTestWorker = "FJORD_AGENT_TEST_WORKER"
	envTestAgent  = "FJORD_AGENT_TEST_AGENT"
	envTestServer = "FJORD_AGENT_TEST_SERVER"
	// envTestCA is the fingerprint of the test CA of the parent test process.
	envTestCA = "FJORD_AGENT_TEST_CA"
	// noRaceExitSleep stops the race detector from sleeping 1s when a child test binary exits.
	noRaceExitSleep = "GORACE=atexit_sleep_ms=0"
)

func TestMain(m *testing.M) {
	if os.Getenv(envTestWorker) == "1" {
		os.Exit(testWorkerMain())
	}
	if os.Getenv(envTestAgent) == "1" {
		os.Exit(testAgentMain())
	}
	goleak.VerifyTestMain(m)
}

func testWorkerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	return runtime.Main(ctx, runtime.Registry{"test.Sleep": newTestTask, "test.Crash": newTestTask}, os.Stdin, os.Stdout, log)
}

func testAgentMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a, err := New(Config{
		ServerAddr: os.Getenv(envTestServer), Token: testToken, CAFingerprint: os.Getenv(envTestCA), AgentID: "agent-process", MCU: 4,
		WorkerCommand: []string{os.Args[0]}, WorkerEnv: []string{envTestWorker + "=1", noRaceExitSleep},
		MetricsInterval: 50 * time.Millisecond, ReconnectBackoff: runtime.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// testTask runs in a worker process. It appends a report (JSON line) to the file named by its
// "report" config at start and at a clean stop, replicates fake records, and misbehaves on
// demand:
//
//	test.Crash with crash_after: the process exits with status 2 after that Go duration
//	ignore_stop: the task never returns after SIGTERM (the agent must SIGKILL it)
//	burn: the task burns some CPU
type testTask struct {
	class string
	spec  *agentv1.TaskSpec
	env   runtime.TaskEnv
}

func newTestTask(_ context.Context, spec *agentv1.TaskSpec, env runtime.TaskEnv) (runtime.Task, error) {
	return &testTask{class: spec.ConnectorClass, spec: spec, env: env}, nil
}

// report is one event a test task writes to its report file.
type report struct {
	Event      string    `json:"event"` // start or stop
	Pid        int       `json:"pid"`
	GoMaxProcs int       `json:"gomaxprocs"`
	MemLimit   int64     `json:"memlimit"`
	WorkerID   string    `json:"worker_id"`
	Epoch      int64     `json:"epoch"`
	TaskID     int32     `json:"task_id"`
	At         time.Time `json:"at"`
}

var reportMu sync.Mutex

func (t *testTask) report(event string) {
	path := t.spec.Config["report"]
	if path == "" {
		return
	}
	b, _ := json.Marshal(report{Event: event, Pid: os.Getpid(), GoMaxProcs: goruntime.GOMAXPROCS(0), MemLimit: debug.SetMemoryLimit(-1),
		WorkerID: t.env.Worker.WorkerId, Epoch: t.env.Worker.Epoch, TaskID: t.spec.TaskId, At: time.Now()})
	reportMu.Lock()
	defer reportMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "test task: report:", err) // the test is over; a missing report fails it otherwise
		return
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		fmt.Fprintln(os.Stderr, "test task: report:", err)
	}
}

func (t *testTask) Run(ctx context.Context) error {
	t.report("start")
	var crash <-chan time.Time
	if t.class == "test.Crash" {
		d, _ := time.ParseDuration(t.spec.Config["crash_after"])
		crash = time.After(d)
	}
	burn := t.spec.Config["burn"] != ""
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if t.spec.Config["ignore_stop"] != "" {
				select {} // a stuck task: only SIGKILL ends this process
			}
			t.report("stop")
			return nil
		case <-crash:
			os.Exit(2)
		case <-tick.C:
			t.env.Metrics.Add(5, 500)
			t.env.Metrics.SetLag(42)
			t.env.Metrics.ObserveLatency(2 * time.Millisecond)
			if burn {
				for end := time.Now().Add(time.Millisecond); time.Now().Before(end); {
				}
			}
		}
	}
}

// readReports returns the events of a report file (none if it does not exist yet).
func readReports(t *testing.T, path string) []report {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []report
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r report
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("report %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func reportsOf(rs []report, event string) []report {
	var out []report
	for _, r := range rs {
		if r.Event == event {
			out = append(out, r)
		}
	}
	return out
}
