package main

// The cdc suite's PostgreSQL figures (cdc.go): cdc_postgres_events_per_s, cdc_latency_p99_ms
// and cdc_latency_p50_ms.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/store/pgembed"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/cdc/postgres"
)

const cdcDB = "fjordcdc"

// cdcPG is the suite's PostgreSQL.
type cdcPG struct {
	*cdcEnv
	pg *pgembed.Cluster
}

func parsePostgres(m map[string]string) (*debezium.Config, error) {
	c, errs := debezium.ParsePostgres(m)
	if len(errs) > 0 {
		return nil, errs
	}
	return c.Config, nil
}

func runCDCPostgres(e *cdcEnv) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fjord-bench-cdc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // as root, Postgres runs as postgres
		return err
	}
	t0 := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	pg, err := pgembed.Start(sctx, pgembed.Options{Dir: filepath.Join(dir, "pg"), Fast: true, Settings: map[string]string{
		"wal_level": "logical", "max_replication_slots": "20", "max_wal_senders": "20"}})
	cancel()
	if err != nil {
		return fmt.Errorf("cdc: start postgres: %w", err)
	}
	defer pg.Stop()
	if err := pg.CreateDatabase(ctx, cdcDB); err != nil {
		return err
	}
	b := &cdcPG{cdcEnv: e, pg: pg}
	logf("cdc: postgres started in %v", time.Since(t0))
	if err := b.throughput(ctx); err != nil {
		return fmt.Errorf("cdc_postgres_events_per_s: %w", err)
	}
	if err := b.latency(ctx); err != nil {
		return fmt.Errorf("cdc_latency_p99_ms: %w", err)
	}
	return nil
}

func (b *cdcPG) exec(ctx context.Context, stmts ...string) error {
	conn, err := pgx.Connect(ctx, b.pg.URL(cdcDB))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// conf is a PostgresConnector task's configuration reading slot, topic prefix prefix.
func (b *cdcPG) conf(name, prefix, slot, pub string) map[string]string {
	return b.connectConf(map[string]string{
		"name":              name,
		"connector.class":   debezium.PostgresConnector,
		"database.hostname": "127.0.0.1",
		"database.port":     strconv.Itoa(b.pg.Port()),
		"database.user":     "postgres",
		"database.dbname":   cdcDB,
		"database.sslmode":  "disable",
		"topic.prefix":      prefix,
		"plugin.name":       "pgoutput",
		"slot.name":         slot,
		"publication.name":  pub,
		"snapshot.mode":     "no_data",
	})
}

// throughput: every round's two slots are created before the INSERTs, so each round reads
// the same changes.
func (b *cdcPG) throughput(ctx context.Context) error {
	rounds := b.c.rounds + 1
	stmts := []string{`CREATE TABLE bench (id int PRIMARY KEY, v text NOT NULL, n bigint)`, `CREATE PUBLICATION bench_pub FOR TABLE bench`}
	for r := 0; r < rounds; r++ {
		stmts = append(stmts, fmt.Sprintf(`SELECT pg_create_logical_replication_slot('task_%d', 'pgoutput'), pg_create_logical_replication_slot('raw_%d', 'pgoutput')`, r, r))
	}
	t0 := time.Now()
	stmts = append(stmts, fmt.Sprintf(`DO $$ BEGIN FOR i IN 1..%d LOOP INSERT INTO bench VALUES (i, 'value ' || i, i * 7); COMMIT; END LOOP; END $$`, b.c.rows))
	if err := b.exec(ctx, stmts...); err != nil {
		return err
	}
	logf("cdc: postgres: %d single-row transactions committed in %v", b.c.rows, time.Since(t0))
	if b.c.cpuProfile != "" {
		stop, err := cpuProfile(b.c.cpuProfile + "-postgres.pprof")
		if err != nil {
			return err
		}
		defer stop()
	}
	p := newPaired("cdc_postgres_events_per_s", "events/s")
	var task, raw float64
	rows := int64(b.c.rows)
	err := interleave(b.c.rounds, nil, []func(int) error{
		func(r int) error {
			prefix := "pg" + strconv.Itoa(r)
			topic := prefix + ".public.bench"
			// Created as the task would (one partition), beforehand as the raw loop's.
			if err := b.createTopic(ctx, topic); err != nil {
				return err
			}
			defer b.deleteTopics(topic)
			var err error
			task, err = b.timeTask(ctx, fmt.Sprintf("postgres round %d", r), topic, rows, debezium.PostgresConnector, b.conf("bench-pg-"+prefix, prefix, fmt.Sprintf("task_%d", r), "bench_pub"), postgres.New, parsePostgres)
			return err
		},
		func(r int) error {
			topic := "raw-pg-" + strconv.Itoa(r)
			var err error
			raw, err = b.timeRaw(ctx, fmt.Sprintf("postgres round %d", r), topic, rows, func(rctx context.Context, cl *kgo.Client) error {
				return b.rawLoop(rctx, fmt.Sprintf("raw_%d", r), "bench_pub", cl, b.c.rows)
			})
			return err
		},
	}, func(r int) error {
		if r > 0 {
			p.add(task, raw)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return emit(os.Stdout, p.result())
}

// rawLoop reads slot with pglogrepl and produces each INSERT's tuple bytes (key: the first
// column's) to cl's default topic: after limit INSERTs when limit > 0, else until ctx is done.
func (b *cdcPG) rawLoop(ctx context.Context, slot, pub string, cl *kgo.Client, limit int) error {
	pc, err := pgconn.ParseConfig(b.pg.URL(cdcDB) + "&replication=database")
	if err != nil {
		return err
	}
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + pub + "'"}}); err != nil {
		return err
	}
	var produceErr atomic.Pointer[error]
	var lastLSN pglogrepl.LSN
	status := time.Now()
	for n := 0; limit <= 0 || n < limit; {
		if time.Since(status) > 5*time.Second {
			if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: lastLSN}); err != nil {
				return err
			}
			status = time.Now()
		}
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 {
			continue
		}
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err != nil {
				return err
			}
			if ka.ReplyRequested {
				status = time.Time{}
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				return err
			}
			lastLSN = xld.WALStart
			m, err := pglogrepl.Parse(xld.WALData)
			if err != nil {
				return err
			}
			ins, ok := m.(*pglogrepl.InsertMessage)
			if !ok {
				continue
			}
			var value []byte
			for _, col := range ins.Tuple.Columns {
				value = append(value, col.Data...)
			}
			rec := &kgo.Record{Key: append([]byte(nil), ins.Tuple.Columns[0].Data...), Value: value}
			cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
				if err != nil {
					produceErr.CompareAndSwap(nil, &err)
				}
			})
			n++
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if p := produceErr.Load(); p != nil {
		return *p
	}
	return nil
}

// latency: one writer commits single-row INSERTs at the configured rate while the task and
// the raw loop read them from two slots at the same time.
func (b *cdcPG) latency(ctx context.Context) error {
	rows := b.latencyRows()
	if err := b.exec(ctx, `CREATE TABLE lat (id int PRIMARY KEY, v text NOT NULL, n bigint)`, `CREATE PUBLICATION lat_pub FOR TABLE lat`,
		`SELECT pg_create_logical_replication_slot('lat_task', 'pgoutput'), pg_create_logical_replication_slot('lat_raw', 'pgoutput')`); err != nil {
		return err
	}
	topic, rawTopic := "pglat.public.lat", "raw-pg-lat"
	if err := b.createTopic(ctx, topic); err != nil {
		return err
	}
	if err := b.createTopic(ctx, rawTopic); err != nil {
		return err
	}
	defer b.deleteTopics(topic, rawTopic)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	taskA, rawA := newArrivals(rows), newArrivals(rows)
	if err := b.consume(cctx, topic, taskA); err != nil {
		return err
	}
	if err := b.consume(cctx, rawTopic, rawA); err != nil {
		return err
	}
	stop, failed, err := b.startTask(debezium.PostgresConnector, b.conf("bench-pg-latency", "pglat", "lat_task", "lat_pub"), postgres.New, parsePostgres)
	if err != nil {
		return err
	}
	defer stop()
	cl, err := b.producer(rawTopic)
	if err != nil {
		return err
	}
	defer cl.Close()
	rawDone, rawExited := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(rawExited)
		rawDone <- b.rawLoop(cctx, "lat_raw", "lat_pub", cl, 0)
	}()
	defer func() { cancel(); <-rawExited }() // the raw loop ends before its producer closes

	conn, err := pgx.Connect(ctx, b.pg.URL(cdcDB))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	// PostgreSQL's default: the commit returns once its WAL is flushed (which is also when
	// the walsender may send it; the throwaway cluster runs with synchronous_commit off).
	if _, err := conn.Exec(ctx, "SET synchronous_commit = on"); err != nil {
		return err
	}
	logf("cdc: postgres latency: %d rows at %d rows/s", rows, b.c.latencyRate)
	committed := make([]int64, rows+1)
	err = pace(ctx, rows, b.c.latencyRate, func(id int) error {
		_, err := conn.Exec(ctx, "INSERT INTO lat VALUES ($1, $2, $3)", id, "value "+strconv.Itoa(id), int64(id)*7)
		return err
	}, committed)
	if err != nil {
		return err
	}
	waitArrived(rows, taskA, rawA)
	select {
	case err := <-failed:
		return fmt.Errorf("task: %v", err)
	case err := <-rawDone:
		return fmt.Errorf("raw loop: %v", err)
	default:
	}
	p99, p50 := newPaired("cdc_latency_p99_ms", "ms"), newPaired("cdc_latency_p50_ms", "ms")
	if err := b.latencyRounds(committed, taskA, rawA, p99, p50); err != nil {
		return err
	}
	return emit(os.Stdout, p99.result(), p50.result())
}
