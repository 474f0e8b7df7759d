package runtime

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

// TaskMetrics is where a task reports its data flow. Every method is safe for concurrent use
// and lock-free, so a task may call them per record or per batch from any goroutine. The
// worker reads them every metrics interval and turns them into records/s, bytes/s, lag and
// p99 latency.
type TaskMetrics struct {
	records atomic.Int64
	bytes   atomic.Int64
	lag     atomic.Int64
	latency latencyHistogram
}

// Add counts records (and their bytes: key + value + headers) written to the target and
// acknowledged.
func (m *TaskMetrics) Add(records, bytes int64) {
	m.records.Add(records)
	m.bytes.Add(bytes)
}

// SetLag sets the task's lag: the sum over its source partitions of (end offset − next
// offset), in records.
func (m *TaskMetrics) SetLag(lag int64) { m.lag.Store(lag) }

// ObserveLatency records one source-append → target-ack latency.
func (m *TaskMetrics) ObserveLatency(d time.Duration) { m.latency.observe(d) }

// latencyHistogram counts latencies in log-scale buckets: bucket i holds latencies up to
// latencyBase × 2^(i/4) (19% wide), from 0.1 ms to about 30 min; the last bucket also holds
// everything larger. Quantiles are read as a bucket's upper bound, so they overestimate by at
// most 19%.
type latencyHistogram struct {
	counts [latencyBuckets]atomic.Uint64
}

const (
	latencyBuckets = 100
	latencyBaseMs  = 0.1
)

func (h *latencyHistogram) observe(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	i := 0
	if ms > latencyBaseMs {
		i = int(math.Ceil(4 * math.Log2(ms/latencyBaseMs)))
	}
	h.counts[min(max(i, 0), latencyBuckets-1)].Add(1)
}

func (h *latencyHistogram) snapshot() (s [latencyBuckets]uint64) {
	for i := range h.counts {
		s[i] = h.counts[i].Load()
	}
	return s
}

func latencyBound(i int) float64 { return latencyBaseMs * math.Exp2(float64(i)/4) }

// quantile returns the q-quantile (in ms) of the counts, or ok=false if there are none.
func quantile(counts *[latencyBuckets]uint64, q float64) (ms float64, ok bool) {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0, false
	}
	want := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= want {
			return latencyBound(i), true
		}
	}
	return latencyBound(latencyBuckets - 1), true
}

// WorkloadLabels are the labels of every per-worker metric.
var WorkloadLabels = []string{"workload_name", "workload_arn", "worker_id"}

// workloadGauge is one per-worker gauge under an MSK metric name (fjord_ + snake_case), read
// from WorkerMetrics. The names and meanings match the server's fleet metrics.
type workloadGauge struct {
	name, help string
	read       func(*agentv1.WorkerMetrics) float64
	// resource gauges come from the OS (measured by the agent), the others from the worker.
	resource bool
}

var workloadGaugeDefs = []workloadGauge{
	{"fjord_cpu_utilization", "CpuUtilization: worker CPU time ÷ (MCU × wall time), percent.",
		func(m *agentv1.WorkerMetrics) float64 { return 100 * m.CpuUtilization }, true},
	{"fjord_memory_utilization", "MemoryUtilization: worker resident memory ÷ (MCU × 4 GiB), percent.",
		func(m *agentv1.WorkerMetrics) float64 { return 100 * m.MemoryUtilization }, true},
	{"fjord_replicator_throughput", "ReplicatorThroughput: records replicated per second.",
		func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond }, false},
	{"fjord_replicator_bytes_in_per_sec", "ReplicatorBytesInPerSec: bytes replicated per second.",
		func(m *agentv1.WorkerMetrics) float64 { return m.BytesPerSecond }, false},
	{"fjord_source_record_poll_rate", "SourceRecordPollRate: records read from the source per second.",
		func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond }, false},
	{"fjord_source_record_write_rate", "SourceRecordWriteRate: records written to the target per second.",
		func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond }, false},
	{"fjord_message_lag", "MessageLag: records not yet replicated (source end offset − next offset).",
		func(m *agentv1.WorkerMetrics) float64 { return float64(m.Lag) }, false},
	{"fjord_replication_latency", "ReplicationLatency: p99 source-append → target-ack latency, milliseconds.",
		func(m *agentv1.WorkerMetrics) float64 { return m.ReplicationLatencyMs }, false},
	{"fjord_running_task_count", "RunningTaskCount: tasks running on the worker.",
		func(m *agentv1.WorkerMetrics) float64 { return float64(m.RunningTasks) }, false},
	{"fjord_errored_task_count", "ErroredTaskCount: tasks in error on the worker.",
		func(m *agentv1.WorkerMetrics) float64 { return float64(m.ErroredTasks) }, false},
}

// WorkloadGauges are the per-worker gauges under MSK's metric names, labelled WorkloadLabels
// and set from WorkerMetrics. A worker registers the flow gauges for itself; an agent registers
// all of them (with the CPU and memory utilization it measures) for every worker it runs.
type WorkloadGauges struct {
	reg  prometheus.Registerer
	vecs []*prometheus.GaugeVec
	defs []workloadGauge
}

// NewWorkloadGauges registers the gauges on reg; withResources adds fjord_cpu_utilization and
// fjord_memory_utilization, which only the agent can measure.
func NewWorkloadGauges(reg prometheus.Registerer, withResources bool) (*WorkloadGauges, error) {
	g := &WorkloadGauges{reg: reg}
	for _, d := range workloadGaugeDefs {
		if d.resource && !withResources {
			continue
		}
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: d.name, Help: d.help}, WorkloadLabels)
		if err := reg.Register(v); err != nil {
			g.Unregister()
			return nil, err
		}
		g.vecs = append(g.vecs, v)
		g.defs = append(g.defs, d)
	}
	return g, nil
}

// Set sets every gauge of the worker spec describes from m.
func (g *WorkloadGauges) Set(spec *agentv1.WorkerSpec, m *agentv1.WorkerMetrics) {
	for i, v := range g.vecs {
		v.WithLabelValues(spec.WorkloadName, spec.WorkloadArn, spec.WorkerId).Set(g.defs[i].read(m))
	}
}

// Delete removes the worker's series (the worker left).
func (g *WorkloadGauges) Delete(spec *agentv1.WorkerSpec) {
	for _, v := range g.vecs {
		v.DeleteLabelValues(spec.WorkloadName, spec.WorkloadArn, spec.WorkerId)
	}
}

// Unregister removes the gauges from their registry.
func (g *WorkloadGauges) Unregister() {
	for _, v := range g.vecs {
		g.reg.Unregister(v)
	}
}
