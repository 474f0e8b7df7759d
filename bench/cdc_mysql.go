package main

// The cdc suite's MySQL figures (cdc.go): cdc_mysql_events_per_s, cdc_mysql_latency_p99_ms and
// cdc_mysql_latency_p50_ms, on a throwaway MariaDB (workers/cdc/mysql/mysqltest.Launch).

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	vtmysql "vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/binlog"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/cdc/mysql"
	"github.com/fjord-io/fjord/workers/cdc/mysql/mysqltest"
)

// cdcMy is the suite's MariaDB.
type cdcMy struct {
	*cdcEnv
	db       *mysqltest.Server
	serverID atomic.Uint32
}

func parseMySQL(m map[string]string) (*debezium.Config, error) {
	c, errs := debezium.ParseMySQL(m)
	if len(errs) > 0 {
		return nil, errs
	}
	return c.Config, nil
}

func runCDCMySQL(e *cdcEnv) error {
	t0 := time.Now()
	db, stop, err := mysqltest.Launch(mysqltest.Options{})
	if err != nil {
		return fmt.Errorf("cdc: start mariadb: %w", err)
	}
	defer stop()
	logf("cdc: mariadb started in %v", time.Since(t0))
	b := &cdcMy{cdcEnv: e, db: db}
	b.serverID.Store(5400)
	ctx := context.Background()
	if err := b.throughput(ctx); err != nil {
		return fmt.Errorf("cdc_mysql_events_per_s: %w", err)
	}
	if err := b.latency(ctx); err != nil {
		return fmt.Errorf("cdc_mysql_latency_p99_ms: %w", err)
	}
	return nil
}

func (b *cdcMy) exec(ctx context.Context, stmts ...string) error {
	c, err := b.db.Connect(ctx, "root", "")
	if err != nil {
		return err
	}
	defer c.Close()
	for _, q := range stmts {
		if _, err := c.ExecuteFetch(q, 0, false); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// conf is a MySqlConnector task's configuration capturing database benchdb under prefix.
func (b *cdcMy) conf(name, prefix, table, snapshot string) map[string]string {
	return b.connectConf(map[string]string{
		"name":                                name,
		"connector.class":                     debezium.MySQLConnector,
		"database.hostname":                   b.db.Host,
		"database.port":                       strconv.Itoa(b.db.Port),
		"database.user":                       "root",
		"database.server.id":                  strconv.Itoa(int(b.serverID.Add(1))),
		"database.ssl.mode":                   "disabled",
		"topic.prefix":                        prefix,
		"database.include.list":               "benchdb",
		"table.include.list":                  "benchdb." + table,
		"snapshot.mode":                       snapshot,
		"schema.history.internal.kafka.topic": prefix + "-history",
		"schema.history.internal.kafka.bootstrap.servers": b.addrs[0],
	})
}

// throughput: every round reads the whole binlog again, from its first file.
func (b *cdcMy) throughput(ctx context.Context) error {
	t0 := time.Now()
	if err := b.exec(ctx, "CREATE DATABASE benchdb",
		"CREATE TABLE benchdb.bench (id INT PRIMARY KEY, v VARCHAR(32) NOT NULL, n BIGINT)",
		`CREATE PROCEDURE benchdb.fill(n INT)
		BEGIN
			DECLARE i INT DEFAULT 1;
			WHILE i <= n DO
				INSERT INTO benchdb.bench VALUES (i, CONCAT('value ', i), i * 7);
				SET i = i + 1;
			END WHILE;
		END`,
		fmt.Sprintf("CALL benchdb.fill(%d)", b.c.rows)); err != nil {
		return err
	}
	logf("cdc: mariadb: %d single-row transactions committed in %v", b.c.rows, time.Since(t0))
	if b.c.cpuProfile != "" {
		stop, err := cpuProfile(b.c.cpuProfile + "-mysql.pprof")
		if err != nil {
			return err
		}
		defer stop()
	}
	p := newPaired("cdc_mysql_events_per_s", "events/s")
	var task, raw float64
	rows := int64(b.c.rows)
	err := interleave(b.c.rounds, nil, []func(int) error{
		func(r int) error {
			prefix := "my" + strconv.Itoa(r)
			topic := prefix + ".benchdb.bench"
			if err := b.createTopic(ctx, topic); err != nil {
				return err
			}
			defer b.deleteTopics(topic, prefix, prefix+"-history")
			var err error
			task, err = b.timeTask(ctx, fmt.Sprintf("mariadb round %d", r), topic, rows, debezium.MySQLConnector, b.conf("bench-my-"+prefix, prefix, "bench", "never"), mysql.New, parseMySQL)
			return err
		},
		func(r int) error {
			topic := "raw-my-" + strconv.Itoa(r)
			var err error
			raw, err = b.timeRaw(ctx, fmt.Sprintf("mariadb round %d", r), topic, rows, func(rctx context.Context, cl *kgo.Client) error {
				return b.rawLoop(rctx, "", 0, "bench", cl, b.c.rows)
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

// rawLoop reads the binlog from file:pos (the first file when file is empty) with vitess's
// binlog dump client and produces each written row of table's cells, as raw bytes (key: the
// first cell's), to cl's default topic: after limit rows when limit > 0, else until ctx is
// done.
func (b *cdcMy) rawLoop(ctx context.Context, file string, pos uint32, table string, cl *kgo.Client, limit int) error {
	c, err := b.db.Connect(ctx, "root", "")
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	if file == "" {
		r, err := c.ExecuteFetch("SHOW BINARY LOGS", 1000, false)
		if err != nil {
			return err
		}
		file, pos = r.Rows[0][0].ToString(), 4
	}
	for _, q := range []string{"SET @master_binlog_checksum = @@global.binlog_checksum", "SET @mariadb_slave_capability = 4"} {
		if _, err := c.ExecuteFetch(q, 0, false); err != nil {
			return err
		}
	}
	if err := c.WriteComBinlogDump(b.serverID.Add(1), file, uint64(pos), 0); err != nil {
		return err
	}
	var f vtmysql.BinlogFormat
	maps := map[uint64]*vtmysql.TableMap{}
	field := &querypb.Field{Type: querypb.Type_INT64}
	var produceErr atomic.Pointer[error]
	for n := 0; limit <= 0 || n < limit; {
		data, err := c.ReadPacket()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(data) == 0 || data[0] != 0 {
			return fmt.Errorf("binlog dump: packet %x", data[:min(len(data), 1)])
		}
		ev := vtmysql.NewMariadbBinlogEvent(data[1:])
		if ev.IsFormatDescription() {
			if f, err = ev.Format(); err != nil {
				return err
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
				return err
			}
			maps[ev.TableID(f)] = tm
		case ev.IsWriteRows():
			tm := maps[ev.TableID(f)]
			if tm == nil || tm.Name != table {
				continue
			}
			rs, err := ev.Rows(f, tm)
			if err != nil {
				return err
			}
			for _, row := range rs.Rows {
				var key, value []byte
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
						return err
					}
					pos += l
					if key == nil {
						key = append([]byte(nil), v.Raw()...)
					}
					value = append(value, v.Raw()...)
				}
				cl.Produce(ctx, &kgo.Record{Key: key, Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						produceErr.CompareAndSwap(nil, &err)
					}
				})
				n++
			}
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

// latency: one writer commits single-row INSERTs at the configured rate while the task
// (snapshot.mode=no_data: streaming from the binlog's end) and the raw loop (from SHOW MASTER
// STATUS) read them at the same time.
func (b *cdcMy) latency(ctx context.Context) error {
	rows := b.latencyRows()
	if err := b.exec(ctx, "CREATE TABLE benchdb.lat (id INT PRIMARY KEY, v VARCHAR(32) NOT NULL, n BIGINT)"); err != nil {
		return err
	}
	topic, rawTopic := "mylat.benchdb.lat", "raw-my-lat"
	if err := b.createTopic(ctx, topic); err != nil {
		return err
	}
	if err := b.createTopic(ctx, rawTopic); err != nil {
		return err
	}
	defer b.deleteTopics(topic, rawTopic, "mylat", "mylat-history")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	taskA, rawA := newArrivals(rows), newArrivals(rows)
	if err := b.consume(cctx, topic, taskA); err != nil {
		return err
	}
	if err := b.consume(cctx, rawTopic, rawA); err != nil {
		return err
	}
	c, err := b.db.Connect(ctx, "root", "")
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.ExecuteFetch("SHOW MASTER STATUS", 10, false)
	if err != nil {
		return err
	}
	file := st.Rows[0][0].ToString()
	pos, _ := strconv.ParseUint(st.Rows[0][1].ToString(), 10, 32)
	stop, failed, err := b.startTask(debezium.MySQLConnector, b.conf("bench-my-latency", "mylat", "lat", "no_data"), mysql.New, parseMySQL)
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
		rawDone <- b.rawLoop(cctx, file, uint32(pos), "lat", cl, 0)
	}()
	defer func() { cancel(); <-rawExited }() // the raw loop ends before its producer closes
	// The task streams from where its snapshot of the schemas ends: write row 0 until the
	// task has an event of it.
	for start := time.Now(); ; {
		if _, err := c.ExecuteFetch("INSERT INTO benchdb.lat VALUES (0, 'warm', 0) ON DUPLICATE KEY UPDATE n = n + 1", 0, false); err != nil {
			return err
		}
		if err := b.waitEnd(topic, 1, failed, 200*time.Millisecond); err == nil {
			break
		} else if time.Since(start) > time.Minute {
			return fmt.Errorf("task: %w", err)
		}
	}
	logf("cdc: mariadb latency: %d rows at %d rows/s", rows, b.c.latencyRate)
	committed := make([]int64, rows+1)
	err = pace(ctx, rows, b.c.latencyRate, func(id int) error {
		_, err := c.ExecuteFetch(fmt.Sprintf("INSERT INTO benchdb.lat VALUES (%d, 'value %d', %d)", id, id, int64(id)*7), 0, false)
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
	p99, p50 := newPaired("cdc_mysql_latency_p99_ms", "ms"), newPaired("cdc_mysql_latency_p50_ms", "ms")
	if err := b.latencyRounds(committed, taskA, rawA, p99, p50); err != nil {
		return err
	}
	return emit(os.Stdout, p99.result(), p50.result())
}
