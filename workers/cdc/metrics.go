package cdc

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-io/fjord/workers/runtime"
)

// The per-task Prometheus metrics of a CDC task (the worker adds workload_name, workload_arn,
// worker_id and task_id), catalogued in workers/catalog's ExposedMetrics.
const (
	MetricBehindSource        = "fjord_cdc_milliseconds_behind_source"
	MetricSnapshotRunning     = "fjord_cdc_snapshot_running"
	MetricSnapshotRows        = "fjord_cdc_snapshot_rows"
	MetricSnapshotTablesDone  = "fjord_cdc_snapshot_tables_done"
	MetricSnapshotTablesTotal = "fjord_cdc_snapshot_tables_total"
)

// metrics is the Metrics an engine reports to, and the task's written records: the worker's
// TaskMetrics (records, bytes, polled, latency) and the task's own gauges.
type metrics struct {
	tm                                       *runtime.TaskMetrics
	behind, running, tablesDone, tablesTotal prometheus.Gauge
	rows                                     *prometheus.GaugeVec

	mu      sync.Mutex
	lastLag time.Duration // the last BehindSource
	lagAt   time.Time     // when it was reported; zero once observed as a latency
}

func newMetrics(env runtime.TaskEnv) (*metrics, error) {
	m := &metrics{
		tm: env.Metrics,
		behind: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricBehindSource,
			Help: "MilliSecondsBehindSource: how far the last change event read is behind the database's commit time, milliseconds."}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricSnapshotRunning,
			Help: "1 while the connector's snapshot runs."}),
		rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricSnapshotRows,
			Help: "Rows of the table read by the snapshot so far."}, []string{"table"}),
		tablesDone: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricSnapshotTablesDone,
			Help: "Tables the snapshot has read."}),
		tablesTotal: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricSnapshotTablesTotal,
			Help: "Tables the snapshot reads."}),
	}
	if env.Registry == nil {
		return m, nil
	}
	var err error
	m.behind = register(env.Registry, m.behind, &err)
	m.running = register(env.Registry, m.running, &err)
	m.rows = register(env.Registry, m.rows, &err)
	m.tablesDone = register(env.Registry, m.tablesDone, &err)
	m.tablesTotal = register(env.Registry, m.tablesTotal, &err)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c with reg, or returns the collector registered before it (a restarted
// task's); the first failure is kept in err.
func register[T prometheus.Collector](reg prometheus.Registerer, c T, err *error) T {
	if *err != nil {
		return c
	}
	e := reg.Register(c)
	if e == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(e, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	*err = e
	return c
}

// Polled implements Metrics.
func (m *metrics) Polled(n int) {
	if m.tm != nil {
		m.tm.Polled(int64(n))
	}
}

// BehindSource implements Metrics.
func (m *metrics) BehindSource(d time.Duration) {
	m.behind.Set(float64(d.Milliseconds()))
	m.mu.Lock()
	m.lastLag, m.lagAt = d, time.Now()
	m.mu.Unlock()
}

// Snapshot implements Metrics.
func (m *metrics) Snapshot(running bool, table string, rows, _ int64, tablesDone, tables int) {
	if running {
		m.running.Set(1)
	} else {
		m.running.Set(0)
	}
	if table != "" {
		m.rows.WithLabelValues(table).Set(float64(rows))
	}
	m.tablesDone.Set(float64(tablesDone))
	m.tablesTotal.Set(float64(tables))
}

// written counts a committed round: its records and bytes, and as the round's latency the
// last reported lag behind the database plus the time since it was reported.
func (m *metrics) written(records, bytes int64) {
	if m.tm == nil {
		return
	}
	m.tm.Add(records, bytes)
	m.mu.Lock()
	lag, at := m.lastLag, m.lagAt
	m.lagAt = time.Time{}
	m.mu.Unlock()
	if !at.IsZero() && records > 0 {
		m.tm.ObserveLatency(lag + time.Since(at))
	}
}

// reset zeroes the gauges when the task stops.
func (m *metrics) reset() {
	m.behind.Set(0)
	m.running.Set(0)
}
