package postgres

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fjord-io/fjord/workers/cdc"
)

func TestSnapshotModes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	ops := func(r *run) []any {
		var out []any
		for _, rec := range r.c.data() {
			out = append(out, field(rec, "op"), rowField(rec, "after", "id"))
		}
		return out
	}
	settle := func() { time.Sleep(200 * time.Millisecond) }

	// no_data: no snapshot, streaming from now.
	cfg := config(db, "snapshot.mode", "no_data", "slot.name", "s_nodata", "slot.drop.on.stop", "true")
	r := start(t, cfg, nil)
	waitStreaming(t, r)
	sqlExec(t, db, `INSERT INTO t VALUES (3)`)
	r.c.wait(t, 1)
	settle()
	if got := ops(r); len(got) != 2 || got[0] != "c" || got[1] != int32(3) {
		t.Errorf("no_data: %v", got)
	}
	r.stop(t)

	// initial_only: the snapshot, then nothing; no slot.
	cfg = config(db, "snapshot.mode", "initial_only", "slot.name", "s_only")
	r = start(t, cfg, nil)
	r.c.wait(t, 3)
	sqlExec(t, db, `INSERT INTO t VALUES (4)`)
	settle()
	if got := ops(r); len(got) != 6 || got[0] != "r" {
		t.Errorf("initial_only: %v", got)
	}
	if n := query1(t, "", "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = 's_only'"); n != "0" {
		t.Errorf("initial_only created a slot")
	}
	r.stop(t)

	// initial: a completed snapshot's offset means no new snapshot after a restart.
	cfg = config(db, "slot.name", "s_init")
	r = start(t, cfg, nil)
	snap := r.c.wait(t, 4)
	r.stop(t)
	last := snap[3].Offset
	r = start(t, cfg, last)
	waitStreaming(t, r)
	sqlExec(t, db, `INSERT INTO t VALUES (5)`)
	r.c.wait(t, 1)
	settle()
	if got := ops(r); len(got) != 2 || got[0] != "c" || got[1] != int32(5) {
		t.Errorf("initial after a completed snapshot: %v", got)
	}
	r.stop(t)
	// … and an interrupted snapshot (an offset not marked last) is taken again.
	r = start(t, cfg, snap[1].Offset)
	r.c.wait(t, 5)
	settle()
	if got := ops(r); len(got) != 10 || got[0] != "r" {
		t.Errorf("initial after an interrupted snapshot: %v", got)
	}
	r.stop(t)

	// always: a snapshot at every start.
	cfg = config(db, "snapshot.mode", "always", "slot.name", "s_init")
	r = start(t, cfg, last)
	r.c.wait(t, 5)
	if got := ops(r); got[0] != "r" {
		t.Errorf("always: %v", got)
	}
	r.stop(t)

	// when_needed: the offset's slot is gone, so a snapshot.
	cfg = config(db, "snapshot.mode", "when_needed", "slot.name", "s_gone")
	r = start(t, cfg, last)
	r.c.wait(t, 5)
	if got := ops(r); got[0] != "r" {
		t.Errorf("when_needed without the slot: %v", got)
	}
	r.stop(t)
}

// metrics records what an engine reports.
type metrics struct {
	mu                 sync.Mutex
	polled             int
	behind             []time.Duration
	snapshots          []string
	snapshotRunning    bool
	tablesDone, tables int
}

func (m *metrics) Polled(n int) { m.mu.Lock(); m.polled += n; m.mu.Unlock() }
func (m *metrics) BehindSource(d time.Duration) {
	m.mu.Lock()
	m.behind = append(m.behind, d)
	m.mu.Unlock()
}
func (m *metrics) Snapshot(running bool, table string, rows, estimate int64, done, tables int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snapshotRunning, m.tablesDone, m.tables = running, done, tables
	if table != "" && !slices.Contains(m.snapshots, table) {
		m.snapshots = append(m.snapshots, table)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, `CREATE TABLE a (id int PRIMARY KEY)`, `CREATE TABLE b (id int PRIMARY KEY)`, `INSERT INTO a VALUES (1)`, `INSERT INTO b VALUES (1), (2)`)
	m := &metrics{}
	cfg := config(db)
	eng, err := New(cdc.Env{Name: "conn", Config: cfg, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	r := &run{e: eng.(*Engine), c: newCollector(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- eng.Run(ctx, nil, r.c) }()
	t.Cleanup(func() { r.stop(t) })
	waitStreaming(t, r)
	sqlExec(t, db, `INSERT INTO a VALUES (2)`)
	r.c.wait(t, 4)
	time.Sleep(100 * time.Millisecond)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.polled != 4 {
		t.Errorf("Polled %d, want 4", m.polled)
	}
	if m.snapshotRunning || m.tablesDone != 2 || m.tables != 2 || !slices.Equal(m.snapshots, []string{"public.a", "public.b"}) {
		t.Errorf("snapshot progress: running %v, %d of %d tables, %v", m.snapshotRunning, m.tablesDone, m.tables, m.snapshots)
	}
	if len(m.behind) == 0 || m.behind[len(m.behind)-1] < 0 || m.behind[len(m.behind)-1] > 30*time.Second {
		t.Errorf("BehindSource %v", m.behind)
	}
}
