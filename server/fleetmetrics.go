package server

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

// fleetMetrics exposes, on the server's /metrics, the latest metrics every agent connected to
// this replica reported for its workers, under MSK's metric names (fjord_ + snake_case), with
// workload_name, workload_arn and worker_id labels. Series of a worker that stopped reporting
// disappear after staleAfter.
type fleetMetrics struct {
	mu      sync.Mutex
	workers map[string]fleetSample
	// names maps worker ids to their workload (filled when desired sets are sent).
	names map[string][2]string
	descs map[string]*prometheus.Desc
}

type fleetSample struct {
	agentID string
	m       *agentv1.WorkerMetrics
	at      time.Time
}

const staleAfter = time.Minute

// fleetMetricNames maps MSK's metric names to the value they read.
var fleetMetricNames = map[string]func(*agentv1.WorkerMetrics) float64{
	"fjord_cpu_utilization":             func(m *agentv1.WorkerMetrics) float64 { return 100 * m.CpuUtilization },
	"fjord_memory_utilization":          func(m *agentv1.WorkerMetrics) float64 { return 100 * m.MemoryUtilization },
	"fjord_replicator_throughput":       func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond },
	"fjord_replicator_bytes_in_per_sec": func(m *agentv1.WorkerMetrics) float64 { return m.BytesPerSecond },
	"fjord_message_lag":                 func(m *agentv1.WorkerMetrics) float64 { return float64(m.Lag) },
	"fjord_replication_latency":         func(m *agentv1.WorkerMetrics) float64 { return m.ReplicationLatencyMs },
	"fjord_running_task_count":          func(m *agentv1.WorkerMetrics) float64 { return float64(m.RunningTasks) },
	"fjord_errored_task_count":          func(m *agentv1.WorkerMetrics) float64 { return float64(m.ErroredTasks) },
	"fjord_source_record_poll_rate":     func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond },
	"fjord_source_record_write_rate":    func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond },
}

var fleetMetricHelp = map[string]string{
	"fjord_cpu_utilization":             "CpuUtilization: worker CPU time ÷ (MCU × wall time), percent.",
	"fjord_memory_utilization":          "MemoryUtilization: worker memory ÷ (MCU × 4 GiB), percent.",
	"fjord_replicator_throughput":       "ReplicatorThroughput: records replicated per second.",
	"fjord_replicator_bytes_in_per_sec": "ReplicatorBytesInPerSec: bytes replicated per second.",
	"fjord_message_lag":                 "MessageLag: records not yet replicated (source end offset − next offset).",
	"fjord_replication_latency":         "ReplicationLatency: p99 source-append → target-ack latency, milliseconds.",
	"fjord_running_task_count":          "RunningTaskCount: tasks running on the worker.",
	"fjord_errored_task_count":          "ErroredTaskCount: tasks in error on the worker.",
	"fjord_source_record_poll_rate":     "SourceRecordPollRate: records read from the source per second.",
	"fjord_source_record_write_rate":    "SourceRecordWriteRate: records written to the target per second.",
}

func newFleetMetrics(reg prometheus.Registerer) *fleetMetrics {
	f := &fleetMetrics{workers: map[string]fleetSample{}, names: map[string][2]string{}, descs: map[string]*prometheus.Desc{}}
	for name := range fleetMetricNames {
		f.descs[name] = prometheus.NewDesc(name, fleetMetricHelp[name], []string{"workload_name", "workload_arn", "worker_id", "agent_id"}, nil)
	}
	reg.MustRegister(f)
	return f
}

func (f *fleetMetrics) observe(agentID string, m *agentv1.WorkerMetrics) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.workers[m.WorkerId] = fleetSample{agentID: agentID, m: m, at: time.Now()}
}

func (f *fleetMetrics) name(workerID, workloadName, workloadARN string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[workerID] = [2]string{workloadName, workloadARN}
}

// Describe implements prometheus.Collector.
func (f *fleetMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (f *fleetMetrics) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for id, s := range f.workers {
		if now.Sub(s.at) > staleAfter {
			delete(f.workers, id)
			continue
		}
		n := f.names[id]
		for name, read := range fleetMetricNames {
			ch <- prometheus.MustNewConstMetric(f.descs[name], prometheus.GaugeValue, read(s.m), n[0], n[1], id, s.agentID)
		}
	}
}
