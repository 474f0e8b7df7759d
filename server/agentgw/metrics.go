package agentgw

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// Metrics exposes, on the server's /metrics, the latest metrics every agent connected to
// this replica reported for its workers, under MSK's metric names (fjord_ + snake_case), with
// workload_name, workload_arn, worker_id and agent_id labels (and cluster for the per-cluster
// ones). Series of a worker that stopped reporting disappear after staleAfter.
//
// It also exposes metrics it derives from the tables every replica reads (MetricSources):
// per workload (workload_name and workload_arn labels) fjord_worker_count,
// fjord_rebalance_completed_total, fjord_rebalance_time_avg/_max/_since_last, fjord_task_state
// and fjord_workload_state, the autoscaling bounds, and per agent fjord_agent_state. Every
// replica reports the same values (the rebalance ones up to when each replica saw the table);
// aggregate them across replicas with max, not sum. A workload's series go when it is deleted,
// a worker's when it leaves the workers table or stops reporting for staleAfter.
type Metrics struct {
	src MetricSources
	log *slog.Logger
	// refreshMu makes reads of the table and their observation one step, so that an older
	// read is never observed after a newer one.
	refreshMu sync.Mutex
	// lastReport is when a status report last caused a read (refreshAfterReport reads at most
	// once a second: a fleet reports often, and each read scans the workers table).
	lastReport time.Time

	mu      sync.Mutex
	workers map[string]fleetSample
	// names maps worker ids to their workload (filled when desired sets are sent).
	names map[string][2]string
	defs  []catalog.Metric
	descs []*prometheus.Desc

	// Per workload ARN, from the latest read of the workers table.
	observed   bool                // the table was read at least once
	workerN    map[string]int      // workers (not stopping)
	assignment map[string]string   // the latest assignment every worker ran (see observeWorkers)
	rebalances map[string]float64  // completed rebalances since this replica started
	workloads  map[string]struct{} // workloads with workers at the latest read
	tasks      map[string][]taskState
	// pending is when this replica first saw the workload's current rebalance unfinished;
	// rebalanceTime sums and bounds the timed rebalances, lastRebalance is when the latest one
	// completed.
	pending       map[string]time.Time
	rebalanceTime map[string]*rebalanceTimes
	lastRebalance map[string]time.Time
	// known is the worker ids at the latest read (samples of other workers are dropped).
	known map[string]struct{}

	// From the latest scrape's read of the workload and agent tables.
	states []WorkloadInfo
	agents []store.Agent

	workerCountDesc, rebalanceDesc                         *prometheus.Desc
	rebalanceAvgDesc, rebalanceMaxDesc, rebalanceSinceDesc *prometheus.Desc
	taskStateDesc, workloadStateDesc, agentStateDesc       *prometheus.Desc
	maxWorkersDesc, scaleOutDesc                           *prometheus.Desc
}

// MetricSources are the reads of the tables the server-derived metrics come from; a nil one
// leaves its metrics empty.
type MetricSources struct {
	// Workers reads the workers table (worker count, rebalances, task states).
	Workers func(context.Context) ([]store.Worker, error)
	// Workloads reads the connectors and replicators (workload states, autoscaling bounds).
	Workloads func(context.Context) ([]WorkloadInfo, error)
	// Agents reads the agents table (agent states).
	Agents func(context.Context) ([]store.Agent, error)
}

// WorkloadInfo is what the metrics show of a connector or replicator.
type WorkloadInfo struct {
	ARN, Name string
	// Kind is "connector" or "replicator"; State its lifecycle state (RUNNING, FAILED …).
	Kind, State string
	// MaxWorkers and ScaleOutCPU (percent) are set when the workload is autoscaled.
	MaxWorkers  int
	ScaleOutCPU float64
}

// WorkloadStates are the lifecycle states of connectors and replicators (MSK's ConnectorState
// and ReplicatorState): fjord_workload_state has a series for each, 1 for the current one.
var WorkloadStates = []string{"CREATING", "RUNNING", "UPDATING", "DELETING", "FAILED"}

// AgentStates are the states of agents: fjord_agent_state has a series for each.
var AgentStates = []string{store.AgentAlive, store.AgentDraining, store.AgentDead}

// TaskUnassigned is the fjord_task_state of a task whose worker has not reported on its
// current placement yet (Kafka Connect's UNASSIGNED).
const TaskUnassigned = "UNASSIGNED"

type taskState struct {
	task  int
	state string
}

type rebalanceTimes struct {
	n        int
	sum, max time.Duration
}

type fleetSample struct {
	agentID string
	m       *agentv1.WorkerMetrics
	at      time.Time
}

const staleAfter = time.Minute

// workersReadTimeout bounds the read of the workers table a scrape makes.
const workersReadTimeout = 2 * time.Second

// NewMetrics registers the fleet metrics on reg; src reads the tables of the server-derived
// metrics.
func NewMetrics(reg prometheus.Registerer, src MetricSources, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Metrics{
		src: src, log: log,
		workers: map[string]fleetSample{}, names: map[string][2]string{},
		workerN: map[string]int{}, assignment: map[string]string{}, rebalances: map[string]float64{}, workloads: map[string]struct{}{},
		tasks: map[string][]taskState{}, pending: map[string]time.Time{}, rebalanceTime: map[string]*rebalanceTimes{},
		lastRebalance: map[string]time.Time{}, known: map[string]struct{}{},
	}
	perWorker := []string{"workload_name", "workload_arn", "worker_id", "agent_id"}
	for _, d := range catalog.WorkerMetrics {
		if d.PerWorker {
			continue // the server derives fjord_worker_count per workload (below)
		}
		f.defs = append(f.defs, d)
		labels := perWorker
		if d.ReadClusters != nil {
			labels = append(slices.Clone(perWorker), "cluster")
		}
		f.descs = append(f.descs, prometheus.NewDesc(d.Name, d.Help, labels, nil))
	}
	perWorkload := []string{"workload_name", "workload_arn"}
	f.workerCountDesc = prometheus.NewDesc("fjord_worker_count",
		"WorkerCount: workers of the workload in the scheduler's workers table (stopping ones excluded).", perWorkload, nil)
	f.rebalanceDesc = prometheus.NewDesc("fjord_rebalance_completed_total",
		"RebalanceCompletedTotal: assignments of the workload's tasks that every worker ended up RUNNING, the first one included, seen by this server replica since it started.",
		perWorkload, nil)
	f.rebalanceAvgDesc = prometheus.NewDesc("fjord_rebalance_time_avg",
		"RebalanceTimeAvg: mean time, milliseconds, the workload's completed rebalances took, from when this server replica first saw one unfinished to when it saw it complete.",
		perWorkload, nil)
	f.rebalanceMaxDesc = prometheus.NewDesc("fjord_rebalance_time_max",
		"RebalanceTimeMax: longest time, milliseconds, one of the workload's completed rebalances took (see fjord_rebalance_time_avg).", perWorkload, nil)
	f.rebalanceSinceDesc = prometheus.NewDesc("fjord_rebalance_time_since_last",
		"RebalanceTimeSinceLast: milliseconds since the workload's latest rebalance completed (absent until this server replica saw one complete).",
		perWorkload, nil)
	f.taskStateDesc = prometheus.NewDesc("fjord_task_state",
		"Task state: 1 for the state the task's worker last reported on its current placement (RUNNING, STARTING, FAILED, STOPPED), or UNASSIGNED before it reported.",
		[]string{"workload_name", "workload_arn", "task", "state"}, nil)
	f.workloadStateDesc = prometheus.NewDesc("fjord_workload_state",
		"Workload state: 1 for the connector's or replicator's current lifecycle state, 0 for the others.",
		[]string{"workload_name", "workload_arn", "kind", "state"}, nil)
	f.agentStateDesc = prometheus.NewDesc("fjord_agent_state",
		"Agent state: 1 for the agent's current state in the agents table (ALIVE, DRAINING, DEAD), 0 for the others.",
		[]string{"agent_id", "state"}, nil)
	f.maxWorkersDesc = prometheus.NewDesc("fjord_autoscaling_max_worker_count",
		"MaxWorkerCount of an autoscaled workload: the most workers the autoscaler gives it.", perWorkload, nil)
	f.scaleOutDesc = prometheus.NewDesc("fjord_autoscaling_scale_out_cpu_utilization",
		"Scale-out CPU utilization percentage of an autoscaled workload: above it (mean over the window) the autoscaler adds a worker.",
		perWorkload, nil)
	reg.MustRegister(f)
	return f
}

func (f *Metrics) observe(agentID string, m *agentv1.WorkerMetrics) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.workers[m.WorkerId] = fleetSample{agentID: agentID, m: m, at: time.Now()}
}

func (f *Metrics) name(workerID, workloadName, workloadARN string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[workerID] = [2]string{workloadName, workloadARN}
}

// refreshAfterReport is refresh for the agent streams: at most once a second, and never
// waiting for a read in progress (the stream's receive loop must not queue behind it).
func (f *Metrics) refreshAfterReport(ctx context.Context) {
	if !f.refreshMu.TryLock() {
		return
	}
	due := time.Since(f.lastReport) >= time.Second
	if due {
		f.lastReport = time.Now()
	}
	f.refreshMu.Unlock()
	if due {
		f.refresh(ctx)
	}
}

// refresh reads the workers table and updates the per-workload metrics from it.
func (f *Metrics) refresh(ctx context.Context) {
	if f.src.Workers == nil {
		return
	}
	f.refreshMu.Lock()
	defer f.refreshMu.Unlock()
	rows, err := f.src.Workers(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("read workers for the workload metrics", "error", err)
		}
		return
	}
	f.observeWorkers(rows, time.Now())
}

// refreshStates reads the workload and agent tables (on scrapes only: nothing else needs them).
// A failed read keeps the previous one.
func (f *Metrics) refreshStates(ctx context.Context) {
	var states []WorkloadInfo
	var agents []store.Agent
	var err error
	if f.src.Workloads != nil {
		if states, err = f.src.Workloads(ctx); err != nil {
			if ctx.Err() == nil {
				f.log.Warn("read workloads for the workload metrics", "error", err)
			}
			states = nil
		}
	}
	var aerr error
	if f.src.Agents != nil {
		if agents, aerr = f.src.Agents(ctx); aerr != nil && ctx.Err() == nil {
			f.log.Warn("read agents for the agent metrics", "error", aerr)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.src.Workloads != nil && err == nil {
		f.states = states
	}
	if f.src.Agents != nil && aerr == nil {
		f.agents = agents
	}
}

// observeWorkers updates the per-workload metrics from the rows of the workers table read at
// now: the worker count, the task states, and the rebalances completed. A workload's
// assignment is the set of its workers with their epochs (an epoch changes whenever a worker's
// tasks or placement change); a rebalance is complete when no worker is stopping and every
// worker is placed and reports RUNNING on its current epoch, from its current agent. Each
// assignment that completes counts once, the workload's first one included; an assignment
// already complete when the replica first reads the table is not counted. Assignments that
// start and complete between two reads (reads happen on every status report this replica
// receives and on every scrape) count once, but are not timed: a rebalance's time runs from
// the first read that saw it unfinished to the read that saw it complete.
func (f *Metrics) observeWorkers(rows []store.Worker, now time.Time) {
	type state struct {
		n        int
		settled  bool
		assigned []string
		tasks    []taskState
	}
	byWorkload := map[string]*state{}
	known := make(map[string]struct{}, len(rows))
	for _, w := range rows {
		known[w.ID] = struct{}{}
		s := byWorkload[w.WorkloadARN]
		if s == nil {
			s = &state{settled: true}
			byWorkload[w.WorkloadARN] = s
		}
		if w.Stopping {
			s.settled = false
			continue
		}
		s.n++
		s.assigned = append(s.assigned, w.ID+"@"+strconv.FormatInt(w.Epoch, 10))
		current := w.AgentID != "" && w.Report.Epoch == w.Epoch && w.Report.AgentID == w.AgentID
		if !current || w.Report.State != "RUNNING" {
			s.settled = false
		}
		reported := map[int]string{}
		if current {
			var ts []TaskReport
			if json.Unmarshal(w.Report.Tasks, &ts) == nil {
				for _, t := range ts {
					reported[t.TaskID] = t.State
				}
			}
		}
		for _, id := range w.Tasks {
			st, ok := reported[id]
			if !ok || st == "" {
				st = TaskUnassigned
			}
			s.tasks = append(s.tasks, taskState{task: id, state: st})
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.known = known
	for id := range f.names {
		if _, ok := known[id]; !ok { // the worker left the table
			delete(f.names, id)
		}
	}
	for arn := range f.workloads {
		if _, ok := byWorkload[arn]; !ok { // deleted: its series go
			delete(f.workloads, arn)
			delete(f.workerN, arn)
			delete(f.assignment, arn)
			delete(f.rebalances, arn)
			delete(f.tasks, arn)
			delete(f.pending, arn)
			delete(f.rebalanceTime, arn)
			delete(f.lastRebalance, arn)
		}
	}
	for arn, s := range byWorkload {
		f.workloads[arn] = struct{}{}
		f.workerN[arn] = s.n
		slices.SortFunc(s.tasks, func(a, b taskState) int { return a.task - b.task })
		f.tasks[arn] = s.tasks
		if !s.settled || s.n == 0 {
			if _, ok := f.pending[arn]; !ok {
				f.pending[arn] = now
			}
			continue
		}
		slices.Sort(s.assigned)
		a := strings.Join(s.assigned, ",")
		start, timed := f.pending[arn]
		delete(f.pending, arn)
		if f.assignment[arn] == a {
			continue // back to the assignment that completed last (a worker restarted in place)
		}
		f.assignment[arn] = a
		if !f.observed { // an assignment complete at the first read was not seen completing
			continue
		}
		f.rebalances[arn]++
		f.lastRebalance[arn] = now
		if timed {
			rt := f.rebalanceTime[arn]
			if rt == nil {
				rt = &rebalanceTimes{}
				f.rebalanceTime[arn] = rt
			}
			d := now.Sub(start)
			rt.n++
			rt.sum += d
			rt.max = max(rt.max, d)
		}
	}
	f.observed = true
}

// Describe implements prometheus.Collector.
func (f *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{f.workerCountDesc, f.rebalanceDesc, f.rebalanceAvgDesc, f.rebalanceMaxDesc,
		f.rebalanceSinceDesc, f.taskStateDesc, f.workloadStateDesc, f.agentStateDesc, f.maxWorkersDesc, f.scaleOutDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (f *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), workersReadTimeout)
	f.refresh(ctx)
	f.refreshStates(ctx)
	cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for id, s := range f.workers {
		_, known := f.known[id]
		if now.Sub(s.at) > staleAfter || (f.observed && !known) {
			delete(f.workers, id)
			continue
		}
		n := f.names[id]
		for i, d := range f.defs {
			typ := prometheus.GaugeValue
			if d.Counter {
				typ = prometheus.CounterValue
			}
			if d.ReadClusters == nil {
				ch <- prometheus.MustNewConstMetric(f.descs[i], typ, d.Read(s.m), n[0], n[1], id, s.agentID)
				continue
			}
			for c, v := range d.ReadClusters(s.m) {
				ch <- prometheus.MustNewConstMetric(f.descs[i], typ, v, n[0], n[1], id, s.agentID, catalog.ClusterValues[c])
			}
		}
	}
	for arn := range f.workloads {
		name := workloadName(arn)
		ch <- prometheus.MustNewConstMetric(f.workerCountDesc, prometheus.GaugeValue, float64(f.workerN[arn]), name, arn)
		ch <- prometheus.MustNewConstMetric(f.rebalanceDesc, prometheus.CounterValue, f.rebalances[arn], name, arn)
		var avg, longest float64
		if rt := f.rebalanceTime[arn]; rt != nil {
			avg, longest = ms(rt.sum)/float64(rt.n), ms(rt.max)
		}
		ch <- prometheus.MustNewConstMetric(f.rebalanceAvgDesc, prometheus.GaugeValue, avg, name, arn)
		ch <- prometheus.MustNewConstMetric(f.rebalanceMaxDesc, prometheus.GaugeValue, longest, name, arn)
		if at, ok := f.lastRebalance[arn]; ok {
			ch <- prometheus.MustNewConstMetric(f.rebalanceSinceDesc, prometheus.GaugeValue, ms(now.Sub(at)), name, arn)
		}
		for _, t := range f.tasks[arn] {
			ch <- prometheus.MustNewConstMetric(f.taskStateDesc, prometheus.GaugeValue, 1, name, arn, strconv.Itoa(t.task), t.state)
		}
	}
	for _, w := range f.states {
		for _, st := range withCurrent(WorkloadStates, w.State) {
			ch <- prometheus.MustNewConstMetric(f.workloadStateDesc, prometheus.GaugeValue, is(st == w.State), w.Name, w.ARN, w.Kind, st)
		}
		if w.MaxWorkers > 0 {
			ch <- prometheus.MustNewConstMetric(f.maxWorkersDesc, prometheus.GaugeValue, float64(w.MaxWorkers), w.Name, w.ARN)
			ch <- prometheus.MustNewConstMetric(f.scaleOutDesc, prometheus.GaugeValue, w.ScaleOutCPU, w.Name, w.ARN)
		}
	}
	for _, a := range f.agents {
		for _, st := range withCurrent(AgentStates, a.State) {
			ch <- prometheus.MustNewConstMetric(f.agentStateDesc, prometheus.GaugeValue, is(st == a.State), a.ID, st)
		}
	}
}

// withCurrent is states, plus cur when it is not one of them.
func withCurrent(states []string, cur string) []string {
	if cur == "" || slices.Contains(states, cur) {
		return states
	}
	return append(slices.Clone(states), cur)
}

func is(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// workloadName is the name in a workload ARN (arn:aws:<service>:<region>:<account>:<type>/<name>/<id>).
func workloadName(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	_, rest, _ := strings.Cut(parts[len(parts)-1], "/")
	name, _, _ := strings.Cut(rest, "/")
	return name
}
