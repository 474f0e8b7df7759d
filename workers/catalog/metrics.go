package catalog

import (
	"slices"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

// Metric is one per-worker workload metric, named as MSK's metric in snake case with the
// fjord_ prefix and read from a worker's latest WorkerMetrics. Workers expose them for
// themselves, agents for every worker they run, and server replicas for every worker of the
// agents connected to them; api-docs/architecture.md documents each and how to aggregate it.
type Metric struct {
	// Name and Help are the Prometheus name and help text.
	Name, Help string
	// Read returns the value of a metric without a cluster label.
	Read func(*agentv1.WorkerMetrics) float64
	// ReadClusters, set instead of Read, returns the source and target values of a metric
	// labelled cluster="source" / "target".
	ReadClusters func(*agentv1.WorkerMetrics) [2]float64
	// Counter marks a count since the worker process started (it restarts at 0 with it).
	Counter bool
	// Resource marks CPU and memory utilization, which only the agent measures.
	Resource bool
	// PerWorker marks a metric the server derives per workload instead (fjord_worker_count).
	PerWorker bool
}

// ClusterValues are the values of the cluster label, in ReadClusters order.
var ClusterValues = [2]string{"source", "target"}

// WorkerMetrics is the metric catalogue.
var WorkerMetrics = []Metric{
	{Name: "fjord_cpu_utilization", Help: "CpuUtilization: worker CPU time ÷ (MCU × wall time), percent.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return 100 * m.CpuUtilization }, Resource: true},
	{Name: "fjord_memory_utilization", Help: "MemoryUtilization: worker resident memory ÷ (MCU × 4 GiB), percent.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return 100 * m.MemoryUtilization }, Resource: true},
	{Name: "fjord_replicator_throughput", Help: "ReplicatorThroughput: records replicated per second.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond }},
	{Name: "fjord_replicator_bytes_in_per_sec", Help: "ReplicatorBytesInPerSec: bytes replicated per second.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return m.BytesPerSecond }},
	{Name: "fjord_source_record_poll_rate", Help: "SourceRecordPollRate: records read from the source per second.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPolledPerSecond }},
	{Name: "fjord_source_record_write_rate", Help: "SourceRecordWriteRate: records written to the target (and acknowledged) per second.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return m.RecordsPerSecond }},
	{Name: "fjord_message_lag", Help: "MessageLag: records not yet replicated (source end offset − next offset).",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.Lag) }},
	{Name: "fjord_replication_latency", Help: "ReplicationLatency: p99 source-append → target-ack latency, milliseconds.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return m.ReplicationLatencyMs }},
	{Name: "fjord_running_task_count", Help: "RunningTaskCount: tasks running on the worker.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.RunningTasks) }},
	{Name: "fjord_errored_task_count", Help: "ErroredTaskCount: tasks in error on the worker.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.ErroredTasks) }},
	{Name: "fjord_worker_count", Help: "WorkerCount: 1 per worker (sum over a workload's workers to count them).",
		Read: func(*agentv1.WorkerMetrics) float64 { return 1 }, PerWorker: true},
	{Name: "fjord_topic_count", Help: "TopicCount: distinct source topics the worker's tasks replicate (own a partition of).",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.Topics) }},
	{Name: "fjord_consumer_group_count", Help: "ConsumerGroupCount: consumer groups the worker's checkpoint tasks replicate (after the groups filter).",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.ConsumerGroups) }},
	{Name: "fjord_replicator_failure", Help: "ReplicatorFailure: task runs that ended in an error (restarted or failed permanently), since the worker started.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.ReplicatorFailures) }, Counter: true},
	{Name: "fjord_auth_error", Help: "AuthError: authentication and authorization failures with either cluster, since the worker started.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.AuthErrors) }, Counter: true},
	{Name: "fjord_consumer_group_offset_sync_failure", Help: "ConsumerGroupOffsetSyncFailure: failed commits of translated offsets to target groups, since the worker started.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.OffsetSyncFailures) }, Counter: true},
	{Name: "fjord_kafka_cluster_ping_success_count", Help: "KafkaClusterPingSuccessCount: metadata requests completed with the cluster, since the worker started.",
		ReadClusters: func(m *agentv1.WorkerMetrics) [2]float64 {
			return [2]float64{float64(m.SourcePingSuccesses), float64(m.TargetPingSuccesses)}
		}, Counter: true},
	{Name: "fjord_task_startup_attempts_total", Help: "TaskStartupAttemptsTotal: task starts attempted (builds of a task, failed ones included), since the worker started.",
		Read: func(m *agentv1.WorkerMetrics) float64 { return float64(m.TaskStartupAttempts) }, Counter: true},
	{Name: "fjord_task_startup_success_percentage", Help: "TaskStartupSuccessPercentage: percent of the task starts attempted since the worker started that gave a running task (0 before any).",
		Read: func(m *agentv1.WorkerMetrics) float64 {
			if m.TaskStartupAttempts == 0 {
				return 0
			}
			return 100 * float64(m.TaskStartupSuccesses) / float64(m.TaskStartupAttempts)
		}},
	{Name: "fjord_throttle_time", Help: "ThrottleTime: longest broker throttle time of the cluster during the worker's latest interval, milliseconds.",
		ReadClusters: func(m *agentv1.WorkerMetrics) [2]float64 { return [2]float64{m.SourceThrottleMs, m.TargetThrottleMs} }},
}

// Exposed is one metric outside WorkerMetrics: derived by the server from its tables, or
// measured by one process for itself. Together with WorkerMetrics it is the catalogue of every
// fjord_ metric; the shipped dashboards and alert rules use only catalogued names
// (deploy/deploy_test.go checks), and api-docs/architecture.md documents them.
type Exposed struct {
	Name string
	// Where is the process exposing it: "server", "agent" or "worker".
	Where string
	// Labels are its labels, Type "counter", "gauge" or "histogram".
	Labels []string
	Type   string
}

// workloadLabels label the server-derived per-workload metrics.
var workloadLabels = []string{"workload_name", "workload_arn"}

// ExposedMetrics are the catalogued metrics outside WorkerMetrics.
var ExposedMetrics = []Exposed{
	// Derived by every server replica from the workers, connectors, replicators and agents
	// tables: every replica reports the same values (aggregate replicas with max).
	{"fjord_worker_count", "server", workloadLabels, "gauge"},
	{"fjord_rebalance_completed_total", "server", workloadLabels, "counter"},
	{"fjord_rebalance_time_avg", "server", workloadLabels, "gauge"},
	{"fjord_rebalance_time_max", "server", workloadLabels, "gauge"},
	{"fjord_rebalance_time_since_last", "server", workloadLabels, "gauge"},
	{"fjord_workload_state", "server", []string{"workload_name", "workload_arn", "kind", "state"}, "gauge"},
	{"fjord_task_state", "server", []string{"workload_name", "workload_arn", "task", "state"}, "gauge"},
	{"fjord_agent_state", "server", []string{"agent_id", "state"}, "gauge"},
	{"fjord_autoscaling_max_worker_count", "server", workloadLabels, "gauge"},
	{"fjord_autoscaling_scale_out_cpu_utilization", "server", workloadLabels, "gauge"},
	// The server's own.
	{"fjord_api_requests_total", "server", []string{"service", "operation", "code"}, "counter"},
	{"fjord_api_request_duration_seconds", "server", []string{"service", "operation"}, "histogram"},
	{"fjord_scheduler_reconcile_seconds", "server", []string{"outcome"}, "histogram"},
	{"fjord_credential_lookups_total", "server", []string{"result"}, "counter"},
	// Only with --event-webhook, on every replica (the one sending counts).
	{"fjord_event_webhook_sent_total", "server", nil, "counter"},
	{"fjord_event_webhook_failures_total", "server", nil, "counter"},
	// A worker's own, with a log delivery (workers/logship).
	{"fjord_log_delivery_lines_total", "worker", []string{"destination"}, "counter"},
	{"fjord_log_delivery_failures_total", "worker", []string{"destination"}, "counter"},
	{"fjord_log_delivery_dropped_lines_total", "worker", []string{"destination"}, "counter"},
	// The agent's own.
	{"fjord_agent_workers", "agent", []string{"state"}, "gauge"},
	{"fjord_agent_worker_restarts_total", "agent", []string{"workload_name", "workload_arn", "worker_id"}, "counter"},
	{"fjord_agent_connected", "agent", nil, "gauge"},
	{"fjord_agent_mcu_capacity", "agent", nil, "gauge"},
	{"fjord_agent_mcu_assigned", "agent", nil, "gauge"},
	{"fjord_agent_applied_generation", "agent", nil, "gauge"},
	// A Debezium connector's task's own (workers/cdc), on its worker: how far the engine is
	// behind the database (Debezium's MilliSecondsBehindSource) and its snapshot's progress.
	{"fjord_cdc_milliseconds_behind_source", "worker", taskLabels, "gauge"},
	{"fjord_cdc_snapshot_running", "worker", taskLabels, "gauge"},
	{"fjord_cdc_snapshot_rows", "worker", append(slices.Clone(taskLabels), "table"), "gauge"},
	{"fjord_cdc_snapshot_tables_done", "worker", taskLabels, "gauge"},
	{"fjord_cdc_snapshot_tables_total", "worker", taskLabels, "gauge"},
}

// taskLabels label the metrics a task registers itself (the worker adds them).
var taskLabels = []string{"workload_name", "workload_arn", "worker_id", "task_id"}

// MetricNames returns the name of every catalogued metric (WorkerMetrics and ExposedMetrics),
// each once; a histogram's series add _bucket, _sum and _count to its name.
func MetricNames() map[string]string {
	out := map[string]string{}
	for _, m := range WorkerMetrics {
		typ := "gauge"
		if m.Counter {
			typ = "counter"
		}
		out[m.Name] = typ
	}
	for _, m := range ExposedMetrics {
		out[m.Name] = m.Type
	}
	return out
}
