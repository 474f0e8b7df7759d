package mysql

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	vtmysql "vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/binlog"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/mysql/mysqltest"
)

// benchRows is the number of single-row INSERTs of the binlog benchmarks (the bench's
// cdc_mysql_events_per_s).
const benchRows = 200_000

// fillBinlog writes n single-row INSERTs (each its own row event, 1,000 per transaction).
func fillBinlog(b testing.TB, db *mysqltest.Server, n int) {
	db.Exec(b, "CREATE DATABASE inventory",
		"CREATE TABLE inventory.orders (id INT PRIMARY KEY, customer VARCHAR(32) NOT NULL, amount DECIMAL(10,2), created DATETIME(3))",
		`CREATE PROCEDURE inventory.fill(n INT)
		BEGIN
			DECLARE i INT DEFAULT 0;
			WHILE i < n DO
				IF i % 1000 = 0 THEN START TRANSACTION; END IF;
				INSERT INTO inventory.orders VALUES (i, CONCAT('customer-', i % 97), i / 100, '2024-02-29 12:34:56.789');
				SET i = i + 1;
				IF i % 1000 = 0 OR i = n THEN COMMIT; END IF;
			END WHILE;
		END`,
		fmt.Sprintf("CALL inventory.fill(%d)", n))
}

type countingEmitter struct{ n atomic.Int64 }

func (c *countingEmitter) Emit(_ context.Context, recs ...cdc.Record) error {
	var k int64
	for _, r := range recs {
		if r.Value != nil {
			k++
		}
	}
	c.n.Add(k)
	return nil
}

// BenchmarkBinlog measures the engine reading a binlog of 200,000 single-row INSERTs into
// Debezium records (events/s), against a raw loop reading the same binlog with the same library
// (raw_rows/s); ratio is their quotient (target ≥ 0.8, and ≥ 50,000 events/s). Each iteration
// reads the whole binlog: run it with -benchtime=1x.
func BenchmarkBinlog(b *testing.B) {
	db := mysqltest.Start(b, mysqltest.Options{})
	fillBinlog(b, db, benchRows)
	k, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	b.ResetTimer()
	var engine, raw float64
	for i := 0; i < b.N; i++ {
		raw += rawRowsPerSecond(b, db, benchRows)
		engine += engineEventsPerSecond(b, db, strings.Join(k.ListenAddrs(), ","), benchRows)
	}
	b.ReportMetric(engine/float64(b.N), "events/s")
	b.ReportMetric(raw/float64(b.N), "raw_rows/s")
	b.ReportMetric(engine/raw, "ratio")
}

// engineEventsPerSecond reads the whole binlog with the engine (snapshot.mode=never) until
// n change events arrived.
func engineEventsPerSecond(b testing.TB, db *mysqltest.Server, historyBootstrap string, n int) float64 {
	conf := map[string]string{
		"database.hostname": db.Host, "database.port": fmt.Sprint(db.Port), "database.user": "root", "database.server.id": "5401",
		"topic.prefix": "bench", "database.include.list": "inventory", "snapshot.mode": "never",
		"schema.history.internal.kafka.topic": "bench-history", "schema.history.internal.kafka.bootstrap.servers": historyBootstrap,
	}
	eng, err := New(cdc.Env{Name: "bench", Config: conf, Logger: logger(b)})
	if err != nil {
		b.Fatal(err)
	}
	out := &countingEmitter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- eng.Run(ctx, nil, out) }()
	var first time.Time
	for out.n.Load() < int64(n) {
		if first.IsZero() && out.n.Load() > 0 {
			first = time.Now()
			b.Logf("first event after %v", first.Sub(start))
		}
		select {
		case err := <-done:
			cancel()
			b.Fatalf("Run ended: %v", err)
		case <-time.After(time.Millisecond):
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("only %d events after 5 minutes", out.n.Load())
		}
	}
	el := time.Since(start)
	cancel()
	<-done
	return float64(n) / el.Seconds()
}

// rawRowsPerSecond is the baseline: the same binlog read with the same library (vitess's
// binlog dump client and row parsing), every row's cells decoded to their raw bytes.
func rawRowsPerSecond(b testing.TB, db *mysqltest.Server, n int) float64 {
	ctx := context.Background()
	c, err := db.Connect(ctx, "root", "")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r, err := c.ExecuteFetch("SHOW BINARY LOGS", 100, false)
	if err != nil {
		b.Fatal(err)
	}
	first := r.Rows[0][0].ToString()
	for _, q := range []string{"SET @master_binlog_checksum = @@global.binlog_checksum", "SET @mariadb_slave_capability = 4"} {
		if _, err := c.ExecuteFetch(q, 0, false); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if err := c.WriteComBinlogDump(5402, first, 4, 0); err != nil {
		b.Fatal(err)
	}
	var f vtmysql.BinlogFormat
	maps := map[uint64]*vtmysql.TableMap{}
	field := &querypb.Field{Type: querypb.Type_INT64}
	rows := 0
	var sink int
	for rows < n {
		data, err := c.ReadPacket()
		if err != nil {
			b.Fatal(err)
		}
		if data[0] != 0 {
			b.Fatalf("packet %x", data[:1])
		}
		ev := vtmysql.NewMariadbBinlogEvent(data[1:])
		if ev.IsFormatDescription() {
			if f, err = ev.Format(); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if f.IsZero() {
			continue
		}
		ev, _, _ = ev.StripChecksum(f)
		switch {
		case ev.IsTableMap():
			tm, err := ev.TableMap(f)
			if err != nil {
				b.Fatal(err)
			}
			maps[ev.TableID(f)] = tm
		case ev.IsWriteRows():
			tm := maps[ev.TableID(f)]
			rs, err := ev.Rows(f, tm)
			if err != nil {
				b.Fatal(err)
			}
			for _, row := range rs.Rows {
				pos, vi := 0, 0
				for col := 0; col < rs.DataColumns.Count(); col++ {
					if !rs.DataColumns.Bit(col) {
						continue
					}
					if row.NullColumns.Bit(vi) {
						vi++
						continue
					}
					vi++
					v, l, err := binlog.CellValue(row.Data, pos, tm.Types[col], tm.Metadata[col], field, false)
					if err != nil {
						b.Fatal(err)
					}
					pos += l
					sink += len(v.Raw())
				}
				rows++
			}
		}
	}
	_ = sink
	return float64(n) / time.Since(start).Seconds()
}
