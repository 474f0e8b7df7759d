package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/configprovider"
)

// Task is one running task of a worker (a MirrorSource, MirrorCheckpoint or MirrorHeartbeat
// task). Run does the work until ctx is done — then it finishes its in-flight batch, records
// its progress and returns (nil or ctx's error) — or until a fatal error, which it returns. A
// returned error restarts the task in-process with backoff, unless it is a permanent *Error.
type Task interface {
	Run(ctx context.Context) error
}

// TaskFactory validates a task's configuration and builds the task; it must not start
// background work (Run does). An error means the configuration is invalid: the worker fails
// with INVALID_CONFIGURATION and is not retried. The factory is called again, with the same
// spec, before every in-process restart of the task.
type TaskFactory func(ctx context.Context, spec *agentv1.TaskSpec, env TaskEnv) (Task, error)

// TaskEnv is what a task gets from its worker.
type TaskEnv struct {
	// Worker is the spec of the worker the task belongs to.
	Worker *agentv1.WorkerSpec
	// Logger is Run's logger (which carries the caller's component) with workload_arn,
	// worker_id and task_id.
	Logger *slog.Logger
	// Registry receives the task's own Prometheus collectors; it adds the labels workload_name,
	// workload_arn, worker_id and task_id, and unregisters what the task registered when the
	// task's Run returns (so a restarted task registers afresh).
	Registry prometheus.Registerer
	// Metrics is where the task reports records, bytes, lag and latency; it lives as long as
	// the worker (across in-process restarts).
	Metrics *TaskMetrics
}

// Registry maps connector classes (TaskSpec.connector_class) to their factories.
type Registry map[string]TaskFactory

// Classes returns the registry's connector classes, sorted.
func (r Registry) Classes() []string {
	out := make([]string, 0, len(r))
	for c := range r {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Option tunes Run.
type Option func(*options)

type options struct {
	metricsInterval time.Duration
	restart         Backoff
	registerer      prometheus.Registerer
	logDelivery     LogDelivery
	logProblem      func() string
}

// LogDelivery starts the delivery of a worker's log lines to its spec's destinations
// (workers/logship): it returns the logger Run uses instead of log (one that writes to the
// destinations too), a func saying why delivery fails right now ("" while it works), and a
// func that flushes and stops it. Main calls it when the spec has a log delivery.
type LogDelivery func(ctx context.Context, spec *agentv1.WorkerSpec, log *slog.Logger, reg prometheus.Registerer) (
	logger *slog.Logger, problem func() string, stop func(), err error)

// WithLogDelivery sets how Main delivers the worker's logs.
func WithLogDelivery(f LogDelivery) Option { return func(o *options) { o.logDelivery = f } }

// MetricsInterval sets how often Run writes a metrics line; default 5s.
func MetricsInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.metricsInterval = d
		}
	}
}

// RestartBackoff sets the delays between in-process restarts of a failed task; default
// DefaultBackoff.
func RestartBackoff(b Backoff) Option { return func(o *options) { o.restart = b } }

// MetricsRegisterer sets where the worker's Prometheus collectors (and the tasks') are
// registered; default a private registry that nobody scrapes.
func MetricsRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// EnvMetricsInterval is the environment variable through which an agent tells its workers
// their metrics interval (a Go duration); Main reads it.
const EnvMetricsInterval = "FJORD_WORKER_METRICS_INTERVAL"

// Main is `fjord worker`: it reads the WorkerSpec from stdin, runs it until ctx is done
// (SIGTERM) and returns the process's exit code (ExitCode). The metrics interval comes from
// EnvMetricsInterval unless opts set it.
func Main(ctx context.Context, reg Registry, stdin io.Reader, stdout io.Writer, log *slog.Logger, opts ...Option) int {
	spec, err := ReadSpec(stdin)
	if err != nil {
		log.Error("fjord worker: no valid spec on stdin", "error", err)
		return ExitPermanent
	}
	if v := os.Getenv(EnvMetricsInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			log.Warn("ignoring an invalid "+EnvMetricsInterval, "value", v, "error", err)
		} else {
			opts = append([]Option{MetricsInterval(d)}, opts...)
		}
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logDelivery != nil && spec.LogDelivery != nil {
		shipLog, problem, stop, err := o.logDelivery(ctx, spec, log, o.registerer)
		if err != nil {
			log.Warn("log delivery unavailable; logging to stderr only", "worker_id", spec.WorkerId, "error", err)
		} else {
			defer stop()
			log = shipLog
			opts = append(opts, func(o *options) { o.logProblem = problem })
		}
	}
	err = Run(ctx, spec, reg, stdout, log, opts...)
	if err != nil {
		log.Error("worker failed", "worker_id", spec.WorkerId, "error", err)
	}
	return ExitCode(err)
}

// Run runs the worker described by spec until ctx is done, writing status and metrics lines to
// stdout (see the package doc); log should carry the caller's component, Run adds
// workload_arn and worker_id. It returns nil after a clean stop, or a permanent *Error (an
// unknown connector class, an invalid configuration, a task's permanent error) after reporting
// it as FAILED.
func Run(ctx context.Context, spec *agentv1.WorkerSpec, reg Registry, stdout io.Writer, log *slog.Logger, opts ...Option) error {
	if spec == nil {
		return &Error{Code: CodeInvalidConfiguration, Err: errors.New("no worker spec"), Permanent: true}
	}
	o := options{metricsInterval: 5 * time.Second, restart: DefaultBackoff}
	for _, opt := range opts {
		opt(&o)
	}
	if o.registerer == nil {
		o.registerer = prometheus.NewRegistry()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &worker{
		spec: spec, out: stdout, o: o,
		log: log.With("workload_arn", spec.WorkloadArn, "worker_id", spec.WorkerId),
	}
	gauges, err := NewWorkloadGauges(o.registerer, false)
	if err != nil {
		return fmt.Errorf("register worker metrics: %w", err)
	}
	defer gauges.Unregister()
	w.gauges = gauges
	for _, ts := range spec.Tasks {
		w.tasks = append(w.tasks, &taskRun{
			spec:    ts,
			status:  &agentv1.TaskStatus{TaskId: ts.TaskId, State: agentv1.WorkerState_WORKER_STATE_STARTING},
			metrics: &TaskMetrics{},
		})
	}
	w.lastMetrics = time.Now()
	w.writeStatus(w.aggregate())
	if err := w.build(ctx, reg); err != nil {
		w.writeStatus(w.aggregate())
		return err
	}
	return w.run(ctx)
}

// worker is the state of one Run; everything but the tasks' own goroutines is owned by Run's
// goroutine.
type worker struct {
	spec   *agentv1.WorkerSpec
	out    io.Writer
	log    *slog.Logger
	o      options
	tasks  []*taskRun
	gauges *WorkloadGauges
	// attempts counts the task builds, started the builds that gave a task to run.
	attempts, started atomic.Int64

	fatal       error // the worker-level error (permanent), reported as the worker's error
	failures    int64 // task runs that ended in an error (ReplicatorFailure)
	lastStatus  *agentv1.WorkerStatus
	writeFailed bool
	lastMetrics time.Time
	lastLatency float64
}

// taskRun is one task. spec, metrics and reg are shared; status, restarts and the prev*
// fields belong to Run's goroutine; first is handed to the supervisor goroutine.
type taskRun struct {
	spec    *agentv1.TaskSpec
	factory TaskFactory
	// resolved scrubs the config-provider values resolved into spec from the task's errors.
	resolved *configprovider.Result
	first    Task
	env      TaskEnv
	reg      *trackingRegisterer
	metrics  *TaskMetrics

	status      *agentv1.TaskStatus
	restarts    int
	prevRecords int64
	prevBytes   int64
	prevPolled  int64
	prevLatency [latencyBuckets]uint64
}

// build finds every task's factory and calls it once, so that a bad configuration fails the
// worker before any task starts.
func (w *worker) build(ctx context.Context, reg Registry) error {
	seen := map[int32]bool{}
	var first error
	fail := func(t *taskRun, err *Error) {
		t.status.State = agentv1.WorkerState_WORKER_STATE_FAILED
		t.status.Error = err.Error()
		if first == nil {
			first = err
		}
	}
	for _, t := range w.tasks {
		if seen[t.spec.TaskId] {
			fail(t, &Error{Code: CodeInvalidConfiguration, Permanent: true,
				Err: fmt.Errorf("task_id %d appears twice in worker %s", t.spec.TaskId, w.spec.WorkerId)})
			continue
		}
		seen[t.spec.TaskId] = true
		f, ok := reg[t.spec.ConnectorClass]
		if !ok {
			fail(t, &Error{Code: CodeUnknownConnectorClass, Permanent: true,
				Err: fmt.Errorf("connector.class %s is not supported; supported: %s", t.spec.ConnectorClass, strings.Join(reg.Classes(), ", "))})
			continue
		}
		t.factory = f
		if err := resolveProviders(t); err != nil {
			fail(t, err)
		}
	}
	for _, t := range w.tasks {
		if t.factory == nil {
			continue
		}
		id := strconv.Itoa(int(t.spec.TaskId))
		t.reg = &trackingRegisterer{base: prometheus.WrapRegistererWith(prometheus.Labels{
			"workload_name": w.spec.WorkloadName, "workload_arn": w.spec.WorkloadArn, "worker_id": w.spec.WorkerId, "task_id": id,
		}, w.o.registerer)}
		t.env = TaskEnv{Worker: w.spec, Logger: w.log.With("task_id", t.spec.TaskId), Registry: t.reg, Metrics: t.metrics}
		if first != nil {
			continue // report every unknown class, but build nothing once the worker fails
		}
		w.attempts.Add(1)
		task, err := t.factory(ctx, t.spec, t.env)
		if err != nil {
			err = t.scrubbed(err)
			t.reg.unregisterAll()
			fail(t, &Error{Code: CodeInvalidConfiguration, Err: err, Permanent: true})
			continue
		}
		t.first = task
	}
	if first != nil {
		for _, t := range w.tasks {
			t.first = nil
			if t.status.State != agentv1.WorkerState_WORKER_STATE_FAILED {
				t.status.State = agentv1.WorkerState_WORKER_STATE_STOPPED
			}
		}
		w.fatal = first
		w.log.Error("worker cannot run", "error", first)
	}
	return first
}

// taskEvent is a task's transition, sent by its supervisor to Run's goroutine.
type taskEvent struct {
	t         *taskRun
	state     agentv1.WorkerState
	err       string
	restarted bool
	permanent error
}

func (w *worker) run(ctx context.Context) error {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan taskEvent)
	var wg sync.WaitGroup
	for _, t := range w.tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.supervise(tctx, t, events)
		}()
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		if len(w.tasks) == 0 {
			// A worker without tasks (its tasks are being handed over) idles until stopped
			// rather than exiting, which its agent would take for a crash.
			<-tctx.Done()
		}
		close(allDone)
	}()
	tick := time.NewTicker(w.o.metricsInterval)
	defer tick.Stop()
	w.writeStatus(w.aggregate())
	for {
		select {
		case ev := <-events:
			if ev.state == agentv1.WorkerState_WORKER_STATE_FAILED {
				w.failures++
			}
			ev.t.status.State = ev.state
			ev.t.status.Error = ev.err
			if ev.restarted {
				ev.t.restarts++
			}
			if ev.permanent != nil && w.fatal == nil {
				w.fatal = ev.permanent
				w.log.Error("task failed permanently; stopping the worker", "task_id", ev.t.spec.TaskId, "error", ev.permanent)
				cancel()
			}
			if tctx.Err() == nil {
				w.writeStatus(w.aggregate())
			}
		case <-tick.C:
			w.writeMetrics()
			if tctx.Err() == nil {
				w.writeStatus(w.aggregate()) // a change of the log delivery's problem
			}
		case <-allDone:
			w.writeMetrics()
			if w.fatal != nil {
				w.writeStatus(w.aggregate())
				return w.fatal
			}
			for _, t := range w.tasks {
				t.status.State, t.status.Error = agentv1.WorkerState_WORKER_STATE_STOPPED, ""
			}
			w.writeStatus(w.aggregate())
			return nil
		}
	}
}

// supervise builds, runs and restarts one task until ctx is done or it fails permanently.
func (w *worker) supervise(ctx context.Context, t *taskRun, events chan<- taskEvent) {
	log := t.env.Logger
	task := t.first
	t.first = nil
	var delay time.Duration
	for {
		var err error
		var ranFor time.Duration
		if task == nil {
			events <- taskEvent{t: t, state: agentv1.WorkerState_WORKER_STATE_STARTING, restarted: true}
			w.attempts.Add(1)
			task, err = t.factory(ctx, t.spec, t.env)
			if err != nil {
				err = &Error{Code: CodeInvalidConfiguration, Err: err}
			}
		}
		if task != nil {
			w.started.Add(1)
			events <- taskEvent{t: t, state: agentv1.WorkerState_WORKER_STATE_RUNNING}
			start := time.Now()
			err = runTask(ctx, task, log)
			ranFor = time.Since(start)
			task = nil
		}
		err = t.scrubbed(err)
		t.reg.unregisterAll()
		if ctx.Err() != nil {
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("task returned an error while stopping", "error", err)
			}
			events <- taskEvent{t: t, state: agentv1.WorkerState_WORKER_STATE_STOPPED}
			return
		}
		if err == nil {
			err = &Error{Code: CodeTaskFailed, Err: errors.New("task returned before the worker stopped it")}
		}
		var coded *Error
		if !errors.As(err, &coded) {
			coded = &Error{Code: CodeTaskFailed, Err: err}
		}
		if coded.Permanent {
			events <- taskEvent{t: t, state: agentv1.WorkerState_WORKER_STATE_FAILED, err: coded.Error(), permanent: coded}
			return
		}
		delay = w.o.restart.Next(delay, ranFor)
		log.Warn("task failed; restarting", "error", err, "retry_in", delay.String())
		events <- taskEvent{t: t, state: agentv1.WorkerState_WORKER_STATE_FAILED, err: coded.Error()}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			events <- taskEvent{t: t, state: agentv1.WorkerState_WORKER_STATE_STOPPED}
			return
		case <-timer.C:
		}
	}
}

// runTask runs task, turning a panic into a TASK_PANICKED error.
func runTask(ctx context.Context, task Task, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("task panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = &Error{Code: CodeTaskPanicked, Err: fmt.Errorf("%v", r)}
		}
	}()
	return task.Run(ctx)
}

// aggregate derives the worker's status from its tasks' (see the package doc).
func (w *worker) aggregate() *agentv1.WorkerStatus {
	st := &agentv1.WorkerStatus{WorkerId: w.spec.WorkerId, Epoch: w.spec.Epoch}
	running, stopped := 0, 0
	restarts := 0
	for _, t := range w.tasks {
		st.Tasks = append(st.Tasks, proto.CloneOf(t.status))
		restarts += t.restarts
		switch t.status.State {
		case agentv1.WorkerState_WORKER_STATE_RUNNING:
			running++
		case agentv1.WorkerState_WORKER_STATE_STOPPED:
			stopped++
		case agentv1.WorkerState_WORKER_STATE_FAILED:
			if st.Error == "" {
				st.Error = taskError(t.status)
			}
		}
	}
	st.Restarts = int32(restarts)
	if w.o.logProblem != nil {
		st.LogDeliveryError = w.o.logProblem()
	}
	// The oldest cluster trouble among the tasks that run (a failed task reports its own error).
	var since time.Time
	for _, t := range w.tasks {
		if t.status.State != agentv1.WorkerState_WORKER_STATE_RUNNING {
			continue
		}
		if h, s := t.metrics.Health(time.Now()); h != "" && (since.IsZero() || s.Before(since)) {
			st.HealthError, since = fmt.Sprintf("%s (task %d)", h, t.spec.TaskId), s
		}
	}
	if !since.IsZero() {
		st.HealthSinceMs = since.UnixMilli()
	}
	switch {
	case w.fatal != nil:
		st.State = agentv1.WorkerState_WORKER_STATE_FAILED
		st.Error = w.fatal.Error()
	case st.Error != "":
		st.State = agentv1.WorkerState_WORKER_STATE_FAILED
	case running == len(w.tasks):
		st.State = agentv1.WorkerState_WORKER_STATE_RUNNING
	case stopped == len(w.tasks):
		st.State = agentv1.WorkerState_WORKER_STATE_STOPPED
	default:
		st.State = agentv1.WorkerState_WORKER_STATE_STARTING
	}
	return st
}

// taskError is a task's error as the worker's: "CODE: task N: message".
func taskError(t *agentv1.TaskStatus) string {
	code, msg, ok := strings.Cut(t.Error, ": ")
	if !ok {
		return fmt.Sprintf("%s: task %d: %s", CodeTaskFailed, t.TaskId, t.Error)
	}
	return fmt.Sprintf("%s: task %d: %s", code, t.TaskId, msg)
}

func (w *worker) writeStatus(st *agentv1.WorkerStatus) {
	if proto.Equal(st, w.lastStatus) {
		return
	}
	prev := w.lastStatus
	w.lastStatus = st
	w.write(Line{Status: st})
	if prev.GetState() != st.State || prev.GetError() != st.Error {
		running, errored := w.taskCounts()
		w.log.Info("worker status", "state", st.State.String(), "error", st.Error, "running_tasks", running, "errored_tasks", errored)
	}
}

func (w *worker) taskCounts() (running, errored int32) {
	for _, t := range w.tasks {
		switch t.status.State {
		case agentv1.WorkerState_WORKER_STATE_RUNNING:
			running++
		case agentv1.WorkerState_WORKER_STATE_FAILED:
			errored++
		}
	}
	return running, errored
}

// writeMetrics writes the metrics of the interval since the last call.
func (w *worker) writeMetrics() {
	now := time.Now()
	wall := now.Sub(w.lastMetrics).Seconds()
	w.lastMetrics = now
	m := &agentv1.WorkerMetrics{WorkerId: w.spec.WorkerId, Epoch: w.spec.Epoch, At: timestamppb.New(now), WallSeconds: wall}
	m.RunningTasks, m.ErroredTasks = w.taskCounts()
	m.ReplicatorFailures = w.failures
	m.TaskStartupAttempts, m.TaskStartupSuccesses = w.attempts.Load(), w.started.Load()
	var records, bytes, polled int64
	var latency [latencyBuckets]uint64
	topics := map[string]struct{}{}
	for _, t := range w.tasks {
		tm := t.metrics
		r, b, p := tm.records.Load(), tm.bytes.Load(), tm.polled.Load()
		records += r - t.prevRecords
		bytes += b - t.prevBytes
		polled += p - t.prevPolled
		t.prevRecords, t.prevBytes, t.prevPolled = r, b, p
		m.Lag += tm.lag.Load()
		m.AuthErrors += tm.authErrors.Load()
		m.OffsetSyncFailures += tm.offsetSyncFailures.Load()
		m.ConsumerGroups += int32(tm.groups.Load())
		m.SourcePingSuccesses += tm.pings[ClusterSource].Load()
		m.TargetPingSuccesses += tm.pings[ClusterTarget].Load()
		m.SourceThrottleMs = max(m.SourceThrottleMs, float64(tm.throttleMs[ClusterSource].Swap(0)))
		m.TargetThrottleMs = max(m.TargetThrottleMs, float64(tm.throttleMs[ClusterTarget].Swap(0)))
		if ts := tm.topics.Load(); ts != nil {
			for _, topic := range *ts {
				topics[topic] = struct{}{}
			}
		}
		snap := t.metrics.latency.snapshot()
		for i := range snap {
			latency[i] += snap[i] - t.prevLatency[i]
		}
		t.prevLatency = snap
	}
	if wall > 0 {
		m.RecordsPerSecond = float64(records) / wall
		m.BytesPerSecond = float64(bytes) / wall
		m.RecordsPolledPerSecond = float64(polled) / wall
	}
	m.Topics = int32(len(topics))
	// The latest p99: an interval without records keeps the previous one.
	if p99, ok := quantile(&latency, 0.99); ok {
		w.lastLatency = p99
	}
	m.ReplicationLatencyMs = w.lastLatency
	w.gauges.Set(w.spec, m)
	w.write(Line{Metrics: m})
}

func (w *worker) write(l Line) {
	if err := WriteLine(w.out, l); err != nil && !w.writeFailed {
		w.writeFailed = true // the agent is gone; it (or Pdeathsig) will stop us
		w.log.Warn("cannot write to stdout", "error", err)
	}
}

// trackingRegisterer registers on base and remembers what it registered, so that a task's
// collectors can be unregistered when the task ends.
type trackingRegisterer struct {
	base prometheus.Registerer
	mu   sync.Mutex
	cs   []prometheus.Collector
}

func (r *trackingRegisterer) Register(c prometheus.Collector) error {
	if err := r.base.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cs = append(r.cs, c)
	return nil
}

func (r *trackingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister unregisters c now; unregisterAll will try again, which is harmless.
func (r *trackingRegisterer) Unregister(c prometheus.Collector) bool {
	return r.base.Unregister(c)
}

func (r *trackingRegisterer) unregisterAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.cs {
		r.base.Unregister(c)
	}
	r.cs = nil
}
