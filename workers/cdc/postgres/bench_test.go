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
		sqlExec(b, db, `TRUNCATE bench`,
			`SELECT pg_create_logical_replication_slot('bench_engine', 'pgoutput')`,
			`SELECT pg_create_logical_replication_slot('bench_raw', 'pgoutput')`)
		t0 := time.Now()
		sqlExec(b, db, `DO $$ BEGIN FOR i IN 1..200000 LOOP INSERT INTO bench VALUES (i, 'value ' || i, i * 7); COMMIT; END LOOP; END $$`)
		b.Logf("%d single-row transactions committed in %v", benchRows, time.Since(t0))

		raw := rawLoop(b, db)
		cfg := config(db, "slot.name", "bench_engine", "publication.name", "pub_bench", "snapshot.mode", "no_data")
		eng, err := New(cdcEnv(cfg))
		if err != nil {
			b.Fatal(err)
		}
		c := &counter{want: benchRows, done: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		t1 := time.Now()
		go func() { errc <- eng.Run(ctx, nil, c) }()
		select {
		case <-c.done:
		case err := <-errc:
			b.Fatalf("Run: %v", err)
		case <-time.After(5 * time.Minute):
			b.Fatalf("%d events after 5 minutes", c.n.Load())
		}
		took := time.Since(t1)
		cancel()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		engine := float64(benchRows) / took.Seconds()
		b.ReportMetric(engine, "cdc_postgres_events_per_s")
		b.ReportMetric(raw, "raw_pglogrepl_events_per_s")
		b.ReportMetric(engine/raw, "ratio")
		b.Logf("engine %.0f events/s (%v), raw loop %.0f events/s, ratio %.2f", engine, took, raw, engine/raw)
		sqlExec(b, db, `SELECT pg_drop_replication_slot('bench_engine')`, `SELECT pg_drop_replication_slot('bench_raw')`)
	}
}

// rawLoop reads benchRows inserts from slot bench_raw with pglogrepl and returns events/s.
func rawLoop(b *testing.B, db string) float64 {
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
	if err := pglogrepl.StartReplication(ctx, conn, "bench_raw", 0, pglogrepl.StartReplicationOptions{
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
