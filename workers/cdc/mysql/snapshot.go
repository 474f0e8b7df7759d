package mysql

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	vtmysql "vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/sqlerror"
	"vitess.io/vitess/go/sqltypes"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// snapshot reads the binlog position and the schemas consistently, records the schemas in the
// history (and the schema change topic), then, withData, every captured table's rows.
func (e *engine) snapshot(ctx context.Context, c *vtmysql.Conn, withData bool, out cdc.Emitter) (position, error) {
	exec := func(q string) error {
		if _, err := c.ExecuteFetch(q, 0, false); err != nil {
			return fmt.Errorf("snapshot: %s: %w", q, err)
		}
		return nil
	}
	locked := false
	if e.cfg.LockingMode == debezium.LockingMinimal {
		if err := exec("FLUSH TABLES WITH READ LOCK"); err != nil {
			e.log.Warn("snapshot: no global read lock (the user lacks RELOAD?): DDL during the snapshot's start may be missed", "error", err)
		} else {
			locked = true
		}
	}
	unlock := func() {
		if locked {
			locked = false
			if err := exec("UNLOCK TABLES"); err != nil {
				e.log.Warn("snapshot: UNLOCK TABLES", "error", err)
			}
		}
	}
	defer unlock()
	if err := exec("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		return position{}, err
	}
	if err := exec("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return position{}, err
	}
	defer c.ExecuteFetch("ROLLBACK", 0, false) //nolint:errcheck // read-only transaction
	pos, err := e.snapshotPosition(c, locked)
	if err != nil {
		return position{}, err
	}
	if err := e.loadLive(c); err != nil {
		return position{}, err
	}
	ids := make([]string, 0, len(e.tables))
	for id := range e.tables {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	now := time.Now()
	src := debezium.MySQLSourceInfo{Name: e.cfg.Prefix, TS: now, Snapshot: "true", File: pos.file, Pos: int64(pos.pos), ServerID: e.serverID, Thread: -1}
	snapOffset := e.streamOffset(pos.file, pos.pos, pos.gtids, 0, 0, uint32(now.Unix()))
	snapOffset["snapshot"] = "INITIAL"
	var hist []HistoryRecord
	var changes []cdc.Record
	for _, id := range ids {
		t := e.tables[id]
		r, err := c.ExecuteFetch("SHOW CREATE TABLE "+quoteIdent(t.db)+"."+quoteIdent(t.name), 1, false)
		if err != nil {
			return position{}, fmt.Errorf("snapshot: SHOW CREATE TABLE %s: %w", id, err)
		}
		ddl := r.Rows[0][1].ToString()
		tc := []TableChange{{Type: "CREATE", ID: tableID(t.db, t.name), Table: t.def}}
		hist = append(hist, HistoryRecord{Source: map[string]any{"server": e.cfg.Prefix}, Position: snapOffset, TS: now.UnixMilli(),
			DatabaseName: t.db, DDL: ddl, TableChanges: tc})
		if e.cfg.IncludeSchemaChanges && e.cfg.CapturesDatabase(t.db) {
			s := src
			s.DB, s.Table = t.db, t.name
			changes = append(changes, e.schemaChange(t.db, ddl, tc, &s, now, nil))
		}
	}
	if err := e.history.write(ctx, hist...); err != nil {
		return position{}, err
	}
	unlock()
	var captured []*table
	for _, id := range ids {
		if t := e.tables[id]; t.dbz != nil {
			captured = append(captured, t)
		}
	}
	final := e.streamOffset(pos.file, pos.pos, pos.gtids, 0, 0, uint32(now.Unix()))
	if !withData || len(captured) == 0 {
		if len(changes) > 0 {
			changes[len(changes)-1].Offset = final
		} else {
			changes = append(changes, cdc.Record{Partition: e.partition(), Offset: final})
		}
		e.metricsSnapshot(false, "", 0, 0, 0, 0)
		return pos, out.Emit(ctx, changes...)
	}
	if len(changes) > 0 {
		changes[len(changes)-1].Offset = snapOffset
		if err := out.Emit(ctx, changes...); err != nil {
			return position{}, err
		}
	}
	if err := e.snapshotRows(ctx, c, captured, src, snapOffset, final, out); err != nil {
		return position{}, err
	}
	return pos, nil
}

// snapshotPosition is the binlog position the snapshot's transaction sees.
func (e *engine) snapshotPosition(c *vtmysql.Conn, locked bool) (position, error) {
	if e.mariadb {
		// MariaDB reports the binlog position consistent with the snapshot transaction itself.
		r, err := c.ExecuteFetch("SHOW STATUS LIKE 'binlog_snapshot_%'", 10, false)
		if err != nil {
			return position{}, fmt.Errorf("snapshot: SHOW STATUS LIKE 'binlog_snapshot_%%': %w", err)
		}
		var p position
		for _, row := range r.Rows {
			switch strings.ToLower(row[0].ToString()) {
			case "binlog_snapshot_file":
				p.file = row[1].ToString()
			case "binlog_snapshot_position":
				p.pos, _ = strconv.ParseUint(row[1].ToString(), 10, 64)
			}
		}
		if p.file == "" {
			return position{}, permanent("the server reports no binlog position (binlog_snapshot_file): is the binlog enabled?")
		}
		if row, err := queryOne(c, "SELECT BINLOG_GTID_POS("+quoteString(p.file)+", "+strconv.FormatUint(p.pos, 10)+")"); err == nil && row != nil {
			p.gtids = row[0]
		}
		return p, nil
	}
	if !locked {
		e.log.Warn("snapshot: MySQL without a global read lock: the snapshot and the binlog position may disagree")
	}
	r, err := c.ExecuteFetch("SHOW MASTER STATUS", 10, false)
	if err != nil {
		var se *sqlerror.SQLError
		if asSQLError(err, &se) && se.Num == sqlerror.ERParseError {
			r, err = c.ExecuteFetch("SHOW BINARY LOG STATUS", 10, false)
		}
		if err != nil {
			return position{}, permanent("snapshot: reading the binlog position (SHOW MASTER STATUS needs REPLICATION CLIENT): %v", err)
		}
	}
	if len(r.Rows) == 0 {
		return position{}, permanent("the server reports no binlog position (SHOW MASTER STATUS is empty): is the binlog enabled?")
	}
	p := position{file: r.Rows[0][0].ToString()}
	p.pos, _ = strconv.ParseUint(r.Rows[0][1].ToString(), 10, 64)
	if len(r.Rows[0]) > 4 {
		p.gtids = strings.NewReplacer("\n", "", "\r", "").Replace(r.Rows[0][4].ToString())
	}
	return p, nil
}

func (e *engine) metricsSnapshot(running bool, table string, rows, estimate int64, done, total int) {
	if e.env.Metrics != nil {
		e.env.Metrics.Snapshot(running, table, rows, estimate, done, total)
	}
}

// snapshotRows reads every captured table in the snapshot's transaction.
func (e *engine) snapshotRows(ctx context.Context, c *vtmysql.Conn, tables []*table, src debezium.MySQLSourceInfo, snapOffset, final map[string]any, out cdc.Emitter) error {
	estimates := map[string]int64{}
	if r, err := c.ExecuteFetch("SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'", 1<<20, false); err == nil {
		for _, row := range r.Rows {
			n, _ := strconv.ParseInt(row[2].ToString(), 10, 64)
			estimates[row[0].ToString()+"."+row[1].ToString()] = n
		}
	}
	batch := make([]cdc.Record, 0, e.cfg.MaxBatchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := out.Emit(ctx, batch...)
		if e.env.Metrics != nil {
			e.env.Metrics.Polled(len(batch))
		}
		batch = batch[:0]
		return err
	}
	type pending struct {
		t     *table
		row   []any
		first bool
	}
	var held *pending
	emitted := false
	emitHeld := func(lastInTable, lastOverall bool) error {
		if held == nil {
			return nil
		}
		firstOverall := held.first && !emitted
		emitted = true
		marker := "true"
		switch {
		case lastOverall && lastInTable:
			marker = "last"
		case firstOverall:
			marker = "first"
		case lastInTable:
			marker = "last_in_data_collection"
		case held.first:
			marker = "first_in_data_collection"
		}
		s := src
		s.Snapshot, s.DB, s.Table = marker, held.t.db, held.t.name
		now := time.Now()
		recs := cdc.Records(e.cfg.Config, cdc.Event{Table: held.t.dbz, Op: debezium.OpRead, After: held.row, Source: s.Struct(),
			Partition: e.partition(), Offset: snapOffset}, now)
		if marker == "last" {
			recs[len(recs)-1].Offset = final
		}
		batch = append(batch, recs...)
		held = nil
		if len(batch) >= e.cfg.MaxBatchSize {
			return flush()
		}
		return nil
	}
	anyRows := false
	for ti, t := range tables {
		last := ti == len(tables)-1
		id := t.db + "." + t.name
		e.metricsSnapshot(true, id, 0, estimates[id], ti, len(tables))
		if err := c.ExecuteStreamFetch("SELECT * FROM " + quoteIdent(t.db) + "." + quoteIdent(t.name)); err != nil {
			return fmt.Errorf("snapshot: reading %s: %w", id, err)
		}
		var n int64
		var row []sqltypes.Value
		var err error
		for {
			row, err = c.FetchNext(row[:0])
			if err != nil || row == nil {
				break
			}
			vals, cerr := e.convertRow(t, row)
			if cerr != nil {
				c.CloseResult()
				return fmt.Errorf("snapshot: %s: %w", id, cerr)
			}
			if err := emitHeld(false, false); err != nil {
				c.CloseResult()
				return err
			}
			held = &pending{t: t, row: vals, first: n == 0}
			anyRows = true
			n++
			if n%10000 == 0 {
				e.metricsSnapshot(true, id, n, estimates[id], ti, len(tables))
			}
			if ctx.Err() != nil {
				c.CloseResult()
				return ctx.Err()
			}
		}
		c.CloseResult()
		if err != nil {
			return fmt.Errorf("snapshot: reading %s: %w", id, err)
		}
		if held != nil && held.t == t {
			lastOverall := last || !e.moreRows(tables[ti+1:], c)
			if err := emitHeld(true, lastOverall); err != nil {
				return err
			}
		}
	}
	if !anyRows {
		batch = append(batch, cdc.Record{Partition: e.partition(), Offset: final})
	}
	e.metricsSnapshot(false, "", 0, 0, len(tables), len(tables))
	return flush()
}

// moreRows reports whether any of tables has a row (in the snapshot's transaction).
func (e *engine) moreRows(tables []*table, c *vtmysql.Conn) bool {
	for _, t := range tables {
		r, err := c.ExecuteFetch("SELECT 1 FROM "+quoteIdent(t.db)+"."+quoteIdent(t.name)+" LIMIT 1", 1, false)
		if err != nil || len(r.Rows) > 0 {
			return true
		}
	}
	return false
}

// convertRow turns a text-protocol row into the event's values.
func (e *engine) convertRow(t *table, row []sqltypes.Value) ([]any, error) {
	vals := make([]any, len(t.cols))
	for i, ci := range t.cols {
		if ci >= len(row) || row[ci].IsNull() {
			continue
		}
		v, err := t.conv[i](row[ci].Raw(), false)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", t.def.Columns[ci].Name, err)
		}
		vals[i] = v
	}
	return vals, nil
}

// schemaChange is a record of the schema change topic.
func (e *engine) schemaChange(db, ddl string, tcs []TableChange, src *debezium.MySQLSourceInfo, now time.Time, offset map[string]any) cdc.Record {
	key := data.NewStruct(SchemaChangeKey)
	key.Values[0] = db
	v := data.NewStruct(SchemaChangeValue)
	v.Values[0] = src.Struct()
	v.Values[1] = now.UnixMilli()
	v.Values[2] = db
	v.Values[4] = ddl
	arr := make([]any, len(tcs))
	for i, tc := range tcs {
		arr[i] = changeStruct(tc)
	}
	v.Values[5] = arr
	return cdc.Record{Topic: e.cfg.Prefix, KeySchema: SchemaChangeKey, Key: key, ValueSchema: SchemaChangeValue, Value: v,
		Timestamp: now, Partition: e.partition(), Offset: offset}
}
