package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/fjord-io/fjord/workers/cdc"
)

const benchRows = 200000

// counter is an Emitter that counts change records.
type counter struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *counter) Emit(ctx context.Context, recs ...cdc.Record) error {
	k := int64(0)
	for _, r := range recs {
		if r.Value != nil {
			k++
		}
	}
	if c.n.Add(k) >= c.want {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
	return ctx.Err()
}

// BenchmarkPgoutput measures change events/s of the engine decoding benchRows single-row
// INSERTs from pgoutput into Debezium records (cdc_postgres_events_per_s), against a raw loop
// reading the same changes from a second slot with pglogrepl and copying out the raw tuple
// bytes (the baseline). Run it with -benchtime=1x.
func BenchmarkPgoutput(b *testing.B) {
	db := newDB(b)
	sqlExec(b, db, `CREATE TABLE bench (id int PRIMARY KEY, v text NOT NULL, n bigint)`, `CREATE PUBLICATION pub_bench FOR ALL TABLES`)
	for i := 0; i < b.N; i++ {
		// Two slots of each, read alternately; the best of each counts (the machine is shared).
		sqlExec(b, db, `TRUNCATE bench`)
		for _, s := range []string{"bench_engine1", "bench_raw1", "bench_engine2", "bench_raw2"} {
			sqlExec(b, db, `SELECT pg_create_logical_replication_slot('`+s+`', 'pgoutput')`)
		}
		t0 := time.Now()
		sqlExec(b, db, `DO $$ BEGIN FOR i IN 1..200000 LOOP INSERT INTO bench VALUES (i, 'value ' || i, i * 7); COMMIT; END LOOP; END $$`)
		b.Logf("%d single-row transactions committed in %v", benchRows, time.Since(t0))

		var raw, engine float64
		for _, k := range []string{"1", "2"} {
			raw = max(raw, rawLoop(b, db, "bench_raw"+k))
			engine = max(engine, engineLoop(b, db, "bench_engine"+k))
		}
		b.ReportMetric(engine, "cdc_postgres_events_per_s")
		b.ReportMetric(raw, "raw_pglogrepl_events_per_s")
		b.ReportMetric(engine/raw, "ratio")
		b.Logf("engine %.0f events/s, raw loop %.0f events/s, ratio %.2f", engine, raw, engine/raw)
		for _, s := range []string{"bench_engine1", "bench_raw1", "bench_engine2", "bench_raw2"} {
			dropSlot(b, s)
		}
	}
}

// dropSlot drops a slot once the connection that used it has ended.
func dropSlot(b *testing.B, slot string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := admin.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// engineLoop runs the engine on slot until it emitted benchRows change events; events/s.
func engineLoop(b *testing.B, db, slot string) float64 {
	b.Helper()
	cfg := config(db, "slot.name", slot, "publication.name", "pub_bench", "snapshot.mode", "no_data")
	eng, err := New(cdcEnv(cfg))
	if err != nil {
		b.Fatal(err)
	}
	c := &counter{want: benchRows, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	t0 := time.Now()
	go func() { errc <- eng.Run(ctx, nil, c) }()
	select {
	case <-c.done:
	case err := <-errc:
		b.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d events after 5 minutes", c.n.Load())
	}
	took := time.Since(t0)
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.Logf("engine: %d events in %v", c.n.Load(), took)
	return float64(benchRows) / took.Seconds()
}

// rawLoop reads benchRows inserts from slot with pglogrepl and returns events/s.
func rawLoop(b *testing.B, db, slot string) float64 {
	b.Helper()
	ctx := context.Background()
	pc, err := pgconn.ParseConfig(cluster.URL(db) + "&replication=database")
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names 'pub_bench'"}}); err != nil {
		b.Fatal(err)
	}
	n, bytes := 0, 0
	var sink [][]byte
	for n < benchRows {
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 || cd.Data[0] != pglogrepl.XLogDataByteID {
			continue
		}
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			b.Fatal(err)
		}
		m, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			b.Fatal(err)
		}
		if ins, ok := m.(*pglogrepl.InsertMessage); ok {
			sink = sink[:0]
			for _, col := range ins.Tuple.Columns {
				sink = append(sink, append([]byte(nil), col.Data...))
				bytes += len(col.Data)
			}
			n++
		}
	}
	took := time.Since(t0)
	b.Logf("raw loop: %d inserts, %d tuple bytes in %v", n, bytes, took)
	return float64(n) / took.Seconds()
}
