package postgres

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/fjord-io/fjord/workers/cdc"
)

func confirmedFlush(t *testing.T, slot string) pglogrepl.LSN {
	t.Helper()
	s := query1(t, "", "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", slot)
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatalf("confirmed_flush_lsn %q: %v", s, err)
	}
	return l
}

// TestResumeAndAcknowledge: the slot's confirmed LSN moves only with Durable, and a restart
// from a durable offset taken in the middle of a transaction neither loses nor repeats a row.
func TestResumeAndAcknowledge(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	cfg := config(db, "status.update.interval.ms", "50")
	r := start(t, cfg, nil)
	snap := r.c.wait(t, 2)
	consistent := pglogrepl.LSN(snap[0].Offset["lsn"].(int64))
	sqlExec(t, db, `INSERT INTO t VALUES (3, 'c')`, `INSERT INTO t VALUES (4, 'd')`,
		`BEGIN; INSERT INTO t VALUES (5, 'e'); INSERT INTO t VALUES (6, 'f'); INSERT INTO t VALUES (7, 'g'); COMMIT`)
	recs := r.c.wait(t, 7)
	time.Sleep(300 * time.Millisecond) // several status updates
	if got := confirmedFlush(t, cfg["slot.name"]); got != consistent {
		t.Errorf("confirmed_flush_lsn %s before any Durable, want the consistent point %s", got, consistent)
	}
	// The runtime makes everything up to row 6 (the middle of the last transaction) durable.
	mid := recs[5]
	if rowField(mid, "after", "id") != int32(6) {
		t.Fatalf("record 5 is %v", event(t, mid))
	}
	for _, rec := range recs[:6] {
		if rec.Offset != nil {
			r.e.Durable(rec.Offset)
		}
	}
	commitBefore := pglogrepl.LSN(mid.Offset["lsn_commit"].(int64))
	deadline := time.Now().Add(5 * time.Second)
	for confirmedFlush(t, cfg["slot.name"]) != commitBefore && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := confirmedFlush(t, cfg["slot.name"]); got != commitBefore {
		t.Errorf("confirmed_flush_lsn %s after Durable(row 6), want the previous commit's end %s", got, commitBefore)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	sqlExec(t, db, `INSERT INTO t VALUES (8, 'h')`, `UPDATE t SET v = 'x' WHERE id = 1`)
	r2 := start(t, cfg, mid.Offset)
	got := r2.c.wait(t, 3)
	time.Sleep(200 * time.Millisecond)
	got = r2.c.data()
	var seen []string
	for _, rec := range got {
		seen = append(seen, event(t, rec))
	}
	want := []string{
		`srv.public.t {"id":7} c null {"id":7,"v":"g"}`,
		`srv.public.t {"id":8} c null {"id":8,"v":"h"}`,
		`srv.public.t {"id":1} u null {"id":1,"v":"x"}`,
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("after restart:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}

	// Everything durable and the stream idle: the slot confirms the end of the last transaction.
	last := got[len(got)-1].Offset
	r2.e.Durable(last)
	deadline = time.Now().Add(5 * time.Second)
	for confirmedFlush(t, cfg["slot.name"]) <= pglogrepl.LSN(last["lsn"].(int64)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := confirmedFlush(t, cfg["slot.name"]); got <= pglogrepl.LSN(last["lsn"].(int64)) {
		t.Errorf("confirmed_flush_lsn %s, want past the last event's LSN %d", got, last["lsn"])
	}
	if err := r2.stop(t); err != nil {
		t.Fatal(err)
	}

	// A restart from the last offset has nothing to repeat.
	r3 := start(t, cfg, last)
	waitStreaming(t, r3)
	sqlExec(t, db, `INSERT INTO t VALUES (9, 'i')`)
	got = r3.c.wait(t, 1)
	time.Sleep(200 * time.Millisecond)
	if n := len(r3.c.data()); n != 1 || rowField(got[0], "after", "id") != int32(9) {
		t.Errorf("after the second restart: %v", summary(r3.c.data()))
	}
}

// TestJavaOffset: an offset as Java Debezium stores it (numbers as JSON decodes them, its
// extra keys) is read the same way.
func TestJavaOffset(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, `CREATE TABLE t (id int PRIMARY KEY)`)
	cfg := config(db)
	r := start(t, cfg, nil)
	waitStreaming(t, r)
	sqlExec(t, db, `INSERT INTO t VALUES (1)`, `INSERT INTO t VALUES (2)`)
	recs := r.c.wait(t, 2)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	o := recs[0].Offset
	t.Logf("offset %v", o)
	java := map[string]any{
		"transaction_id": nil, "lsn_proc": float64(o["lsn_proc"].(int64)), "messageType": "INSERT",
		"lsn": float64(o["lsn"].(int64)), "txId": float64(o["txId"].(int64)), "ts_usec": float64(o["ts_usec"].(int64)),
	}
	if lc, ok := o["lsn_commit"]; ok {
		java["lsn_commit"] = strconv.FormatInt(lc.(int64), 10)
	}
	r2 := start(t, cfg, java)
	got := r2.c.wait(t, 1)
	time.Sleep(200 * time.Millisecond)
	if n := len(r2.c.data()); n != 1 || rowField(got[0], "after", "id") != int32(2) {
		t.Errorf("resumed from a Java offset: %v", summary(r2.c.data()))
	}
}

// slowEmitter holds its first batch back for a while, as a runtime behind on Kafka does.
type slowEmitter struct {
	*collector
	hold time.Duration
	once sync.Once
}

func (s *slowEmitter) Emit(ctx context.Context, recs ...cdc.Record) error {
	s.once.Do(func() { time.Sleep(s.hold) })
	return s.collector.Emit(ctx, recs...)
}

// TestBackPressureKeepsConnection: while Emit blocks longer than wal_sender_timeout, status
// updates keep the replication connection alive.
func TestBackPressureKeepsConnection(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	role := "slow_" + db
	sqlExec(t, db, `CREATE TABLE t (id int PRIMARY KEY)`, `CREATE ROLE `+role+` LOGIN REPLICATION SUPERUSER`,
		`ALTER ROLE `+role+` SET wal_sender_timeout = '1s'`)
	cfg := config(db, "database.user", role, "status.update.interval.ms", "200")
	eng, err := New(cdcEnv(cfg))
	if err != nil {
		t.Fatal(err)
	}
	em := &slowEmitter{collector: newCollector(), hold: 3 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{e: eng.(*Engine), c: em.collector, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- eng.Run(ctx, nil, em) }()
	t.Cleanup(func() { r.stop(t) })
	waitStreaming(t, r)
	sqlExec(t, db, `INSERT INTO t VALUES (1)`)
	time.Sleep(500 * time.Millisecond)
	sqlExec(t, db, `INSERT INTO t VALUES (2)`)
	r.c.wait(t, 2)
	select {
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Run ended: %v", err)
	default:
	}
}
