package fleettest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store/pgtest"
)

// TestDatabaseOutageKeepsLeases: Postgres stops for three lease TTLs under a placed worker whose
// agent keeps heart-beating. No heartbeat can be recorded meanwhile, yet once the database is
// back the agent stays ALIVE and its worker is neither moved nor restarted (same agent, same
// epoch): the leader judges leases only on heartbeats the database could have recorded.
func TestDatabaseOutageKeepsLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := pgtest.StartRestartable(t)
	const ttl = 2 * time.Second
	env := servertest.Start(t, servertest.Options{DatabaseURL: pg.URL(), LeaseTTL: ttl})
	kc := env.KafkaConnect()
	createConnector(t, kc, activePlugin(t, env, kc), "steady", source, 1, 1, 1)
	a, err := connect(t, env, "agent-1", 2, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	defer a.keepAlive(300 * time.Millisecond)()
	servertest.Eventually(t, 10*time.Second, "placed on agent-1", func() bool { return len(a.workers()) == 1 })
	before := a.workers()[0]
	a.reportRunning()

	pg.Stop()
	time.Sleep(3 * ttl) // the outage itself: nothing to poll while the database is down
	pg.Start()

	db, err := pgxpool.New(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Several reconciles after the database is back (the leader reconciles every second and
	// re-takes its lock), the agent is ALIVE and the worker where it was.
	deadline := time.Now().Add(3 * ttl)
	reconciled := 0
	for time.Now().Before(deadline) {
		var state string
		if err := db.QueryRow(ctx, `SELECT state FROM agents WHERE id = 'agent-1'`).Scan(&state); err == nil {
			reconciled++
			if state != "ALIVE" {
				t.Fatalf("agent-1 is %s after the outage; its heartbeats could not be recorded", state)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if reconciled == 0 {
		t.Fatal("the database never answered after its restart")
	}
	var agentID string
	var epoch int64
	if err := db.QueryRow(ctx, `SELECT agent_id, epoch FROM workers WHERE id = $1`, before.WorkerId).Scan(&agentID, &epoch); err != nil {
		t.Fatal(err)
	}
	if agentID != "agent-1" || epoch != before.Epoch {
		t.Fatalf("after the outage the worker is on %q at epoch %d; it was on agent-1 at epoch %d", agentID, epoch, before.Epoch)
	}
}
