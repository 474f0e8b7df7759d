package sdktest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server/servertest"
)

// TestLeaderPrunes: the scheduler leader of a running server prunes on its own, with the
// retention it was given: old workload events and all but the newest of each workload, the
// metrics of workers that do not exist, and old utilization samples.
func TestLeaderPrunes(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{Retention: scheduler.RetentionConfig{
		EventsMaxAge: time.Hour, EventsPerWorkload: 25, Interval: 100 * time.Millisecond, Batch: 10,
	}})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`INSERT INTO workload_events (workload_arn, at, kind, reason)
			SELECT 'arn:x', now() - interval '1 minute' + i * interval '1 millisecond', 'test', 'recent ' || i FROM generate_series(1, 100) i`,
		`INSERT INTO workload_events (workload_arn, at, kind, reason)
			SELECT 'arn:y', now() - interval '2 hours', 'test', 'old ' || i FROM generate_series(1, 20) i`,
		`INSERT INTO worker_metrics (worker_id, workload_arn, agent_id, at, metrics)
			SELECT 'gone-' || i, 'arn:x', 'a', now(), '\x00' FROM generate_series(1, 30) i`,
		`INSERT INTO worker_samples (worker_id, workload_arn, at, cpu, memory)
			SELECT 'gone-1', 'arn:x', now() - interval '1 day', 0.5, 0.5 FROM generate_series(1, 30) i`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q string) int {
		var n int
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	servertest.Eventually(t, 10*time.Second, "the leader to prune", func() bool {
		return count(`SELECT count(*) FROM workload_events WHERE workload_arn IN ('arn:x', 'arn:y')`) == 25 &&
			count(`SELECT count(*) FROM worker_metrics`) == 0 && count(`SELECT count(*) FROM worker_samples`) == 0
	})
	if n := count(`SELECT count(*) FROM workload_events WHERE workload_arn = 'arn:x' AND reason IN ('recent 76', 'recent 100')`); n != 2 {
		t.Fatalf("the newest events of arn:x were not the ones kept (%d of recent 76 and recent 100)", n)
	}
}
