package agentgw

import (
	"context"
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
// It also exposes two per-workload metrics (workload_name and workload_arn labels) that it
// derives from the workers table, which every replica reads: fjord_worker_count and
// fjord_rebalance_completed_total. Every replica reports the same values; aggregate them
// across replicas with max, not sum.
type Metrics struct {
	// workersFunc reads the workers table; nil leaves the per-workload metrics empty.
	workersFunc func(context.Context) ([]store.Worker, error)
	log         *slog.Logger
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

	workerCountDesc, rebalanceDesc *prometheus.Desc
}

type fleetSample struct {
	agentID string
	m       *agentv1.WorkerMetrics
	at      time.Time
}

const staleAfter = time.Minute

// workersReadTimeout bounds the read of the workers table a scrape makes.
const workersReadTimeout = 2 * time.Second

// NewMetrics registers the fleet metrics on reg; workersFunc reads the workers table (for the
// per-workload worker count and rebalances).
func NewMetrics(reg prometheus.Registerer, workersFunc func(context.Context) ([]store.Worker, error), log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Metrics{
		workersFunc: workersFunc, log: log,
		workers: map[string]fleetSample{}, names: map[string][2]string{},
		workerN: map[string]int{}, assignment: map[string]string{}, rebalances: map[string]float64{}, workloads: map[string]struct{}{},
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
	if f.workersFunc == nil {
		return
	}
	f.refreshMu.Lock()
	defer f.refreshMu.Unlock()
	rows, err := f.workersFunc(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("read workers for the workload metrics", "error", err)
		}
		return
	}
	f.observeWorkers(rows)
}

// observeWorkers updates the per-workload metrics from the rows of the workers table: the
// worker count, and the rebalances completed. A workload's assignment is the set of its
// workers with their epochs (an epoch changes whenever a worker's tasks or placement change);
// a rebalance is complete when no worker is stopping and every worker is placed and reports
// RUNNING on its current epoch, from its current agent. Each assignment that completes counts
// once, the workload's first one included; an assignment already complete when the replica
// first reads the table is not counted. Assignments that start and complete between two reads
// (reads happen on every status report this replica receives and on every scrape) count once.
func (f *Metrics) observeWorkers(rows []store.Worker) {
	type state struct {
		n        int
		settled  bool
		assigned []string
	}
	byWorkload := map[string]*state{}
	for _, w := range rows {
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
		if w.AgentID == "" || w.Report.State != "RUNNING" || w.Report.Epoch != w.Epoch || w.Report.AgentID != w.AgentID {
			s.settled = false
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for arn := range f.workloads {
		if _, ok := byWorkload[arn]; !ok { // deleted: its series go
			delete(f.workloads, arn)
			delete(f.workerN, arn)
			delete(f.assignment, arn)
			delete(f.rebalances, arn)
		}
	}
	for arn, s := range byWorkload {
		f.workloads[arn] = struct{}{}
		f.workerN[arn] = s.n
		if !s.settled || s.n == 0 {
			continue
		}
		slices.Sort(s.assigned)
		a := strings.Join(s.assigned, ",")
		if f.assignment[arn] == a {
			continue
		}
		f.assignment[arn] = a
		if f.observed { // an assignment complete at the first read was not seen completing
			f.rebalances[arn]++
		}
	}
	f.observed = true
}

// Describe implements prometheus.Collector.
func (f *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
	ch <- f.workerCountDesc
	ch <- f.rebalanceDesc
}

// Collect implements prometheus.Collector.
func (f *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), workersReadTimeout)
	f.refresh(ctx)
	cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for id, s := range f.workers {
		if now.Sub(s.at) > staleAfter {
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
	}
}

// workloadName is the name in a workload ARN (arn:aws:<service>:<region>:<account>:<type>/<name>/<id>).
func workloadName(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	_, rest, _ := strings.Cut(parts[len(parts)-1], "/")
	name, _, _ := strings.Cut(rest, "/")
	return name
}
