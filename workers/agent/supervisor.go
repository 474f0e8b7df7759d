package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/runtime"
)

// supervisor is the loop's handle on one worker id. specs is a one-slot mailbox written only
// by the loop (latest wins): a spec to run, or nil to stop for good. The other fields belong
// to the loop.
type supervisor struct {
	id    string
	specs chan *agentv1.WorkerSpec

	spec      *agentv1.WorkerSpec   // last spec offered
	applied   *agentv1.WorkerSpec   // last spec the supervisor acted on
	status    *agentv1.WorkerStatus // last status it reported
	gaugeSpec *agentv1.WorkerSpec   // labels of its worker gauges
	stopping  bool                  // nil was offered
}

// offer replaces whatever waits in the mailbox with spec. Only the loop calls it, so the slot
// is free after the receive and the send never blocks.
func (s *supervisor) offer(spec *agentv1.WorkerSpec) {
	select {
	case <-s.specs:
	default:
	}
	s.specs <- spec
}

// workerRun is the goroutine that owns one worker's process: it starts it, watches it,
// restarts it after a crash, restarts it when its spec changes and stops it. All its fields
// belong to that goroutine.
type workerRun struct {
	a      *Agent
	sup    *supervisor
	events chan<- any
	spawn  func(*agentv1.WorkerSpec) (*process, error)
	log    *slog.Logger

	spec *agentv1.WorkerSpec
	proc *process
	// restarts counts process restarts plus the task restarts of processes that are gone;
	// a status reports restarts + the live process's own count.
	restarts int32
	delay    time.Duration
	retry    *time.Timer

	// From the live process: its last status and metrics lines, and the last CPU sample.
	lastStatus  *agentv1.WorkerStatus
	lastMetrics *agentv1.WorkerMetrics
	// procReported: lastStatus is the live process's (not its predecessor's).
	procReported bool
	prevCPU      float64
	prevAt       time.Time
}

func (w *workerRun) run() {
	defer func() { w.events <- supDone{w.sup} }()
	w.spec = <-w.sup.specs // the loop offers a spec before starting us
	w.launch()
	every := w.a.metricsInterval()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		var lines <-chan runtime.Line
		var exited <-chan error
		var retry <-chan time.Time
		if w.proc != nil {
			lines, exited = w.proc.lines, w.proc.exited
		}
		if w.retry != nil {
			retry = w.retry.C
		}
		select {
		case spec := <-w.sup.specs:
			w.stop()
			if spec == nil {
				return
			}
			w.spec, w.restarts, w.delay = spec, 0, 0
			w.launch()
		case l, ok := <-lines:
			if !ok {
				w.proc.lines = nil // stdout closed; the exit follows
				continue
			}
			w.line(l)
		case err := <-exited:
			w.crashed(err)
		case <-retry:
			w.retry = nil
			w.launch()
		case <-tick.C:
			w.measure()
			if now := w.a.metricsInterval(); now != every { // a server asked for another interval
				every = now
				tick.Reset(every)
			}
		}
	}
}

func (w *workerRun) emit(state agentv1.WorkerState, errText string, tasks []*agentv1.TaskStatus) {
	st := &agentv1.WorkerStatus{WorkerId: w.spec.WorkerId, Epoch: w.spec.Epoch, State: state, Tasks: tasks, Error: errText,
		Restarts: w.restarts + w.lastStatus.GetRestarts()}
	if w.proc != nil && w.procReported {
		// The live process's log delivery problem and cluster health.
		st.LogDeliveryError = w.lastStatus.GetLogDeliveryError()
		st.HealthError, st.HealthSinceMs = w.lastStatus.GetHealthError(), w.lastStatus.GetHealthSinceMs()
	}
	w.events <- supStatus{w.sup, st}
}

// tasksIn lists the spec's tasks, all in one state.
func (w *workerRun) tasksIn(state agentv1.WorkerState) []*agentv1.TaskStatus {
	out := make([]*agentv1.TaskStatus, 0, len(w.spec.Tasks))
	for _, t := range w.spec.Tasks {
		out = append(out, &agentv1.TaskStatus{TaskId: t.TaskId, State: state})
	}
	return out
}

// launch starts a process for w.spec; a failure to start counts as a crash.
func (w *workerRun) launch() {
	w.lastStatus, w.lastMetrics = nil, nil
	p, err := w.spawn(w.spec)
	w.events <- supApplied{w.sup, w.spec}
	if err != nil {
		w.restarts++
		w.delay = w.a.cfg.RestartBackoff.Next(w.delay, 0)
		w.log.Error("cannot start the worker process", "error", err, "retry_in", w.delay.String())
		w.emit(agentv1.WorkerState_WORKER_STATE_FAILED, "WORKER_START_FAILED: "+err.Error(), w.tasksIn(agentv1.WorkerState_WORKER_STATE_FAILED))
		w.retry = time.NewTimer(w.delay)
		return
	}
	w.proc, w.procReported = p, false
	w.prevCPU, w.prevAt = 0, p.started
	w.log.Info("worker process started", "pid", p.pid, "epoch", w.spec.Epoch, "mcu", w.spec.Mcu, "tasks", len(w.spec.Tasks))
	w.emit(agentv1.WorkerState_WORKER_STATE_STARTING, "", w.tasksIn(agentv1.WorkerState_WORKER_STATE_STARTING))
}

// line handles one line of the worker's stdout.
func (w *workerRun) line(l runtime.Line) {
	if l.Metrics != nil {
		w.lastMetrics = l.Metrics
		return
	}
	st := l.Status
	if st.State == agentv1.WorkerState_WORKER_STATE_STOPPED || st.State == agentv1.WorkerState_WORKER_STATE_UNSPECIFIED {
		return // the agent reports STOPPED itself once the process is gone
	}
	w.lastStatus, w.procReported = st, true
	w.emit(st.State, st.Error, st.Tasks)
}

// crashed handles an exit the agent did not ask for.
func (w *workerRun) crashed(waitErr error) {
	p := w.proc
	p.drain(w.line)
	w.proc = nil
	ranFor := time.Since(p.started)
	lastErr := ""
	if w.lastStatus.GetState() == agentv1.WorkerState_WORKER_STATE_FAILED {
		lastErr = w.lastStatus.Error
	}
	w.restarts += w.lastStatus.GetRestarts()
	w.lastStatus, w.lastMetrics = nil, nil
	how := exitDescription(waitErr)
	if exitCode(waitErr) == runtime.ExitPermanent {
		// Retrying the same spec cannot help: no retry timer; a new spec restarts it.
		if lastErr == "" {
			lastErr = "WORKER_FAILED: the worker refused its spec (" + how + ")"
		}
		w.log.Error("worker failed permanently; waiting for a new spec", "pid", p.pid, "error", lastErr)
		w.emit(agentv1.WorkerState_WORKER_STATE_FAILED, lastErr, w.tasksIn(agentv1.WorkerState_WORKER_STATE_FAILED))
		return
	}
	w.restarts++
	w.delay = w.a.cfg.RestartBackoff.Next(w.delay, ranFor)
	msg := "WORKER_EXITED: the worker process exited unexpectedly (" + how + ")"
	if lastErr != "" {
		msg += "; last error: " + lastErr
	}
	w.log.Warn("worker process exited; restarting", "pid", p.pid, "exit", how, "ran_for", ranFor.String(),
		"restarts", w.restarts, "retry_in", w.delay.String())
	w.emit(agentv1.WorkerState_WORKER_STATE_FAILED, msg, w.tasksIn(agentv1.WorkerState_WORKER_STATE_FAILED))
	w.retry = time.NewTimer(w.delay)
}

// stop ends the current process gracefully (SIGTERM, then SIGKILL after DrainTimeout) and
// reports the worker STOPPED.
func (w *workerRun) stop() {
	if w.retry != nil {
		w.retry.Stop()
		w.retry = nil
	}
	if p := w.proc; p != nil {
		w.proc = nil
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			w.log.Warn("cannot signal the worker process", "pid", p.pid, "error", err)
		}
		kill := time.NewTimer(w.a.cfg.DrainTimeout)
		lines := p.lines
	wait:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					lines = nil
					continue
				}
				if l.Metrics != nil {
					w.lastMetrics = l.Metrics
				}
			case err := <-p.exited:
				w.log.Info("worker process stopped", "pid", p.pid, "exit", exitDescription(err))
				break wait
			case <-kill.C:
				w.log.Warn("worker did not stop within the drain timeout; killing it", "pid", p.pid,
					"drain_timeout", w.a.cfg.DrainTimeout.String())
				_ = p.cmd.Process.Kill()
			}
		}
		kill.Stop()
		p.lines = lines
		p.drain(func(runtime.Line) {})
	}
	w.emit(agentv1.WorkerState_WORKER_STATE_STOPPED, "", w.tasksIn(agentv1.WorkerState_WORKER_STATE_STOPPED))
}

// measure samples the process's CPU time and memory from the OS and reports them with the
// worker's latest flow figures.
func (w *workerRun) measure() {
	p := w.proc
	if p == nil {
		return
	}
	now := time.Now()
	m := &agentv1.WorkerMetrics{}
	if w.lastMetrics != nil {
		m = proto.CloneOf(w.lastMetrics)
	} else {
		m.RunningTasks = int32(countTasks(w.lastStatus, agentv1.WorkerState_WORKER_STATE_RUNNING))
		m.ErroredTasks = int32(countTasks(w.lastStatus, agentv1.WorkerState_WORKER_STATE_FAILED))
	}
	m.WorkerId, m.Epoch, m.At = w.spec.WorkerId, w.spec.Epoch, timestamppb.New(now)
	m.WallSeconds = now.Sub(w.prevAt).Seconds()
	u, err := readUsage(p.pid)
	switch {
	case errors.Is(err, errUsageUnsupported):
		m.CpuSeconds, m.CpuUtilization, m.MemoryBytes, m.MemoryUtilization = 0, 0, 0, 0
	case err != nil:
		return // the process is exiting
	default:
		mcu := float64(max(w.spec.Mcu, 1))
		m.CpuSeconds = max(u.cpuSeconds-w.prevCPU, 0)
		if m.WallSeconds > 0 {
			m.CpuUtilization = m.CpuSeconds / (mcu * m.WallSeconds)
		}
		m.MemoryBytes = u.rssBytes
		m.MemoryUtilization = float64(u.rssBytes) / (mcu * bytesPerMCU)
		w.prevCPU = u.cpuSeconds
	}
	w.prevAt = now
	w.events <- supMetrics{w.sup, w.spec, m}
}

func countTasks(st *agentv1.WorkerStatus, state agentv1.WorkerState) int {
	n := 0
	for _, t := range st.GetTasks() {
		if t.State == state {
			n++
		}
	}
	return n
}

// process is one worker process. lines carries its stdout, decoded, and is closed at EOF;
// exited receives Wait's result once.
type process struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	stdout  *os.File
	lines   chan runtime.Line
	exited  chan error
	quit    chan struct{} // closed to make the reader give up
	readEnd chan struct{} // closed when the reader returned
}

// startProcess starts the worker command for spec: the spec as one protojson line on stdin,
// GOMAXPROCS = mcu and GOMEMLIMIT = 90% of mcu × 4 GiB in its environment, stdout read by the
// agent, stderr passed through; it dies with the agent (Pdeathsig on Linux).
//
// The memory limit is GOMEMLIMIT, a soft limit the Go runtime's GC steers by, and not an
// RLIMIT_AS ceiling: Go reserves far more address space than it uses, so an address-space
// limit kills healthy workers. A cgroup memory limit set by the operator (systemd, Kubernetes)
// is the hard ceiling.
func startProcess(cfg *Config, spec *agentv1.WorkerSpec) (*process, error) {
	line, err := runtime.EncodeSpec(spec)
	if err != nil {
		return nil, err
	}
	mcu := int64(max(spec.Mcu, 1))
	cmd := exec.Command(cfg.WorkerCommand[0], cfg.WorkerCommand[1:]...)
	cmd.Env = append(append(os.Environ(), cfg.WorkerEnv...),
		"GOMAXPROCS="+strconv.FormatInt(mcu, 10),
		"GOMEMLIMIT="+strconv.FormatInt(memoryLimit(mcu), 10),
		runtime.EnvMetricsInterval+"="+cfg.MetricsInterval.String(),
	)
	cmd.Stdin = bytes.NewReader(line)
	cmd.Stderr = cfg.Stderr
	cmd.SysProcAttr = sysProcAttr()
	r, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	cmd.Stdout = wr
	if err := cmd.Start(); err != nil {
		r.Close()
		wr.Close()
		return nil, err
	}
	wr.Close()
	p := &process{cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), stdout: r,
		lines: make(chan runtime.Line, 16), exited: make(chan error, 1), quit: make(chan struct{}), readEnd: make(chan struct{})}
	go p.read(p.lines)
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// spawner starts worker processes from one goroutine locked to its OS thread for the agent's
// whole life. Pdeathsig is delivered when the thread that forked the child exits, not the
// process; Go destroys a thread when a goroutine locked to it exits without unlocking, so a
// child forked from an ordinary thread could be killed by some unrelated goroutine's
// LockOSThread later. The spawner's thread runs nothing else and outlives every worker.
type spawner struct {
	cfg  *Config
	reqs chan spawnReq
	done chan struct{}
}

type spawnReq struct {
	spec  *agentv1.WorkerSpec
	reply chan spawnResult
}

type spawnResult struct {
	p   *process
	err error
}

func newSpawner(cfg *Config) *spawner {
	s := &spawner{cfg: cfg, reqs: make(chan spawnReq), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		for r := range s.reqs {
			p, err := startProcess(s.cfg, r.spec)
			r.reply <- spawnResult{p, err}
		}
	}()
	return s
}

// start starts a worker process for spec.
func (s *spawner) start(spec *agentv1.WorkerSpec) (*process, error) {
	reply := make(chan spawnResult, 1)
	s.reqs <- spawnReq{spec, reply}
	r := <-reply
	return r.p, r.err
}

// close ends the spawner once no worker runs any more.
func (s *spawner) close() {
	close(s.reqs)
	<-s.done
}

// memoryLimit is GOMEMLIMIT for a worker of mcu MCU, in bytes.
func memoryLimit(mcu int64) int64 { return int64(float64(mcu) * bytesPerMCU * memoryLimitShare) }

// maxLine bounds one stdout line; longer ones are skipped.
const maxLine = 4 << 20

// read decodes stdout lines into lines until EOF or quit, then closes lines. Lines that are
// not worker lines are skipped.
func (p *process) read(lines chan<- runtime.Line) {
	defer close(p.readEnd)
	defer close(lines)
	br := bufio.NewReaderSize(p.stdout, 64<<10)
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxLine {
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(bytes.TrimSpace(buf)) > 0 {
			var l runtime.Line
			if json.Unmarshal(buf, &l) == nil {
				select {
				case lines <- l:
				case <-p.quit:
					return
				}
			}
		}
		buf = buf[:0]
		if err != nil {
			return
		}
	}
}

// drainTimeout bounds the wait for the last stdout lines after the process exited (a
// grandchild could hold stdout open).
const drainTimeout = 2 * time.Second

// drain passes the remaining stdout lines to handle until EOF, then releases the pipe.
func (p *process) drain(handle func(runtime.Line)) {
	if p.lines != nil {
		t := time.NewTimer(drainTimeout)
	loop:
		for {
			select {
			case l, ok := <-p.lines:
				if !ok {
					break loop
				}
				handle(l)
			case <-t.C:
				break loop
			}
		}
		t.Stop()
	}
	close(p.quit)
	p.stdout.Close()
	<-p.readEnd
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func exitDescription(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	if err != nil {
		return err.Error()
	}
	return "exit status 0"
}
