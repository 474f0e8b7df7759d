package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestWorkloadEventsPrune: events older than the age go, and of each workload only the newest
// keep remain; small batches drain a backlog larger than one batch.
func TestWorkloadEventsPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, url, _ := open(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	now := time.Now()
	// arn:a: 2500 events, 1500 of them 10 days old; arn:b: 300 recent; arn:c: 40 old only.
	for _, w := range []struct {
		arn      string
		old, new int
	}{{"arn:a", 1500, 1000}, {"arn:b", 0, 300}, {"arn:c", 40, 0}} {
		if _, err := conn.Exec(ctx, `INSERT INTO workload_events (workload_arn, at, kind, reason)
			SELECT $1, $2::timestamptz + i * interval '1 millisecond', 'test', 'old ' || i FROM generate_series(1, $3) i`,
			w.arn, now.Add(-10*24*time.Hour), w.old); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO workload_events (workload_arn, at, kind, reason)
			SELECT $1, $2::timestamptz + i * interval '1 millisecond', 'test', 'new ' || i FROM generate_series(1, $3) i`,
			w.arn, now.Add(-time.Hour), w.new); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.WorkloadEventsPrune(ctx, now.Add(-7*24*time.Hour), 200, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Age: 1500 + 40. Count: arn:a keeps 200 of its 1000 recent, arn:b 200 of 300.
	if want := int64(1540 + 800 + 100); n != want {
		t.Errorf("deleted %d events, want %d", n, want)
	}
	count := func(arn string) (n int, oldest string) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(min(reason), '') FROM workload_events WHERE workload_arn = $1`, arn).Scan(&n, &oldest); err != nil {
			t.Fatal(err)
		}
		return n, oldest
	}
	for arn, want := range map[string]int{"arn:a": 200, "arn:b": 200, "arn:c": 0} {
		if got, _ := count(arn); got != want {
			t.Errorf("%s: %d events left, want %d", arn, got, want)
		}
	}
	// The newest are the ones kept, in order.
	evs, err := st.WorkloadEvents(ctx, "arn:a", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 200 || evs[0].Reason != "new 801" || evs[199].Reason != "new 1000" {
		t.Errorf("arn:a kept %d events, from %q to %q; want new 801 … new 1000", len(evs), evs[0].Reason, evs[len(evs)-1].Reason)
	}
	// Nothing more to do: a second pass deletes nothing.
	if n, err := st.WorkloadEventsPrune(ctx, now.Add(-7*24*time.Hour), 200, 64); err != nil || n != 0 {
		t.Errorf("second pass: %d, %v", n, err)
	}
}

// TestWorkerMetricsAndSamplesPrune: the metrics of workers that are gone are deleted, a live
// worker's are kept; samples older than the cut are deleted in batches.
func TestWorkerMetricsAndSamplesPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, url, _ := open(t)
	placeWorker(ctx, t, st, "live", 1)
	now := time.Now()
	for i := range 150 {
		if err := st.WorkerMetricsPut(ctx, fmt.Sprint("gone-", i), "arn:c", "a1", now, []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.WorkerMetricsPut(ctx, "live", "arn:c", "a1", now, []byte("m")); err != nil {
		t.Fatal(err)
	}
	if n, err := st.WorkerMetricsPrune(ctx, 40); err != nil || n != 150 {
		t.Errorf("metrics pruned: %d, %v; want 150", n, err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left []string
	rows, _ := conn.Query(ctx, `SELECT worker_id FROM worker_metrics`)
	left, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(left) != 1 || left[0] != "live" {
		t.Errorf("metrics left: %v, %v; want [live]", left, err)
	}

	// 500 samples a minute apart: the 380 older than two hours go, in batches of 100.
	if _, err := conn.Exec(ctx, `INSERT INTO worker_samples (worker_id, workload_arn, at, cpu, memory)
		SELECT 'live', 'arn:c', $1::timestamptz - i * interval '1 minute', 0.5, 0.5 FROM generate_series(0, 499) i`, now); err != nil {
		t.Fatal(err)
	}
	if n, err := st.WorkerSamplesPrune(ctx, now.Add(-2*time.Hour).Add(-30*time.Second), 100); err != nil || n != 379 {
		t.Errorf("samples pruned: %d, %v; want 379", n, err)
	}
	var k int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM worker_samples`).Scan(&k); err != nil || k != 121 {
		t.Errorf("samples left: %d, %v; want 121", k, err)
	}
}
