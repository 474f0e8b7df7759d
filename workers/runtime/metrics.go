package runtime

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/catalog"
)

// TaskMetrics is where a task reports its data flow and health. Every method is safe for
// concurrent use and lock-free, so a task may call them per record or per batch from any
// goroutine. The worker reads them every metrics interval and turns them into records/s,
// bytes/s, lag, p99 latency and the counts of WorkerMetrics.
type TaskMetrics struct {
	records atomic.Int64
	bytes   atomic.Int64
	polled  atomic.Int64
	lag     atomic.Int64
	latency latencyHistogram

	authErrors         atomic.Int64
	offsetSyncFailures atomic.Int64
	groups             atomic.Int64
	topics             atomic.Pointer[[]string]
	pings              [clusters]atomic.Int64
	throttleMs         [clusters]atomic.Int64 // longest since the worker last read it
	health             [clusters]clusterHealth
}

// Cluster names one of the two clusters a task talks to.
type Cluster int

// The clusters; their label values (cluster="source", "target") are Cluster.String's.
const (
	ClusterSource Cluster = iota
	ClusterTarget
	clusters
)

// String returns "source" or "target".
func (c Cluster) String() string {
	if c == ClusterTarget {
		return "target"
	}
	return "source"
}

// Add counts records (and their bytes: key + value + headers) written to the target and
// acknowledged.
func (m *TaskMetrics) Add(records, bytes int64) {
	m.records.Add(records)
	m.bytes.Add(bytes)
}

// Polled counts records read from the source (MSK: SourceRecordPollRate), whether or not they
// were written yet — or at all (records a filter skips count too).
func (m *TaskMetrics) Polled(records int64) { m.polled.Add(records) }

// SetLag sets the task's lag: the sum over its source partitions of (end offset − next
// offset), in records.
func (m *TaskMetrics) SetLag(lag int64) { m.lag.Store(lag) }

// ObserveLatency records one source-append → target-ack latency.
func (m *TaskMetrics) ObserveLatency(d time.Duration) { m.latency.observe(d) }

// AuthError counts one authentication or authorization failure with either cluster.
func (m *TaskMetrics) AuthError() { m.authErrors.Add(1) }

// OffsetSyncFailed counts one failed commit of translated offsets to a target consumer group.
func (m *TaskMetrics) OffsetSyncFailed() { m.offsetSyncFailures.Add(1) }

// SetConsumerGroups sets how many consumer groups the task replicates (after filters).
func (m *TaskMetrics) SetConsumerGroups(n int) { m.groups.Store(int64(n)) }

// SetTopics sets the source topics the task replicates; the worker counts the union of its
// tasks' topics. The task must not modify topics afterwards.
func (m *TaskMetrics) SetTopics(topics []string) { m.topics.Store(&topics) }

// PingSucceeded counts one metadata request a client of the task completed with cluster c.
func (m *TaskMetrics) PingSucceeded(c Cluster) { m.pings[c].Add(1) }

// ObserveThrottle records that a broker of cluster c throttled a response to a client of the
// task for d.
func (m *TaskMetrics) ObserveThrottle(c Cluster, d time.Duration) {
	ms := d.Milliseconds()
	for {
		cur := m.throttleMs[c].Load()
		if ms <= cur || m.throttleMs[c].CompareAndSwap(cur, ms) {
			return
		}
	}
}

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

// WorkloadLabels are the labels of every per-worker metric; the per-cluster ones add
// ClusterLabel.
var WorkloadLabels = []string{"workload_name", "workload_arn", "worker_id"}

// ClusterLabel is the label of per-cluster metrics: "source" or "target" (MSK's ClusterAlias
// dimension, with Fjord's fixed names rather than the aliases).
const ClusterLabel = "cluster"

// WorkloadGauges are the per-worker metrics under MSK's metric names, labelled WorkloadLabels
// (plus ClusterLabel for the per-cluster ones) and read from the latest WorkerMetrics of each
// worker. A worker registers the flow metrics for itself; an agent registers all of them (with
// the CPU and memory utilization it measures) for every worker it runs. Counts since the
// worker started are exposed as counters, which restart at 0 with the worker process.
type WorkloadGauges struct {
	reg   prometheus.Registerer
	defs  []catalog.Metric
	descs []*prometheus.Desc

	mu     sync.Mutex
	latest map[[3]string]*agentv1.WorkerMetrics // by workload name, ARN, worker id
}

// NewWorkloadGauges registers the metrics on reg; withResources adds fjord_cpu_utilization and
// fjord_memory_utilization, which only the agent can measure.
func NewWorkloadGauges(reg prometheus.Registerer, withResources bool) (*WorkloadGauges, error) {
	g := &WorkloadGauges{reg: reg, latest: map[[3]string]*agentv1.WorkerMetrics{}}
	for _, d := range catalog.WorkerMetrics {
		if d.Resource && !withResources {
			continue
		}
		labels := WorkloadLabels
		if d.ReadClusters != nil {
			labels = append(slices.Clone(WorkloadLabels), ClusterLabel)
		}
		g.defs = append(g.defs, d)
		g.descs = append(g.descs, prometheus.NewDesc(d.Name, d.Help, labels, nil))
	}
	if err := reg.Register(g); err != nil {
		return nil, err
	}
	return g, nil
}

// Set makes m the metrics of the worker spec describes.
func (g *WorkloadGauges) Set(spec *agentv1.WorkerSpec, m *agentv1.WorkerMetrics) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.latest[[3]string{spec.WorkloadName, spec.WorkloadArn, spec.WorkerId}] = m
}

// Delete removes the worker's series (the worker left).
func (g *WorkloadGauges) Delete(spec *agentv1.WorkerSpec) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.latest, [3]string{spec.WorkloadName, spec.WorkloadArn, spec.WorkerId})
}

// Unregister removes the metrics from their registry.
func (g *WorkloadGauges) Unregister() { g.reg.Unregister(g) }

// Describe implements prometheus.Collector.
func (g *WorkloadGauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range g.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (g *WorkloadGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, m := range g.latest {
		for i, d := range g.defs {
			typ := prometheus.GaugeValue
			if d.Counter {
				typ = prometheus.CounterValue
			}
			if d.ReadClusters == nil {
				ch <- prometheus.MustNewConstMetric(g.descs[i], typ, d.Read(m), k[0], k[1], k[2])
				continue
			}
			for c, v := range d.ReadClusters(m) {
				ch <- prometheus.MustNewConstMetric(g.descs[i], typ, v, k[0], k[1], k[2], Cluster(c).String())
			}
		}
	}
}
