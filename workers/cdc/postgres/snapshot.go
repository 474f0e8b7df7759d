package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
)

// snapshot reads the captured tables as op=r events: in the slot's exported snapshot when
// snapName is set (lsn is then the slot's consistent point), else in a transaction of
// snapshot.isolation.mode.
func (e *Engine) snapshot(ctx context.Context, conn *pgx.Conn, tables []capturedTable, snapName string, lsn pglogrepl.LSN, out cdc.Emitter) (err error) {
	iso := e.cfg.SnapshotIsolation
	if snapName != "" {
		iso = "REPEATABLE READ" // what SET TRANSACTION SNAPSHOT of a slot's snapshot needs
	}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL "+iso); err != nil {
		return fmt.Errorf("begin the snapshot transaction: %w", err)
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, cerr := conn.Exec(c, "ROLLBACK"); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if snapName != "" {
		if _, err := conn.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(snapName)); err != nil {
			return fmt.Errorf("import the replication slot's snapshot: %w", err)
		}
	}
	var txID int64
	var cur string
	if err := conn.QueryRow(ctx, "SELECT txid_current(), pg_current_wal_lsn()::text").Scan(&txID, &cur); err != nil {
		return fmt.Errorf("read the snapshot's transaction: %w", err)
	}
	if lsn == 0 {
		lsn, _ = pglogrepl.ParseLSN(cur)
	}
	cat := &catalogReader{e: e, conn: conn, types: map[uint32]*pgType{}}
	e.log.Info("snapshot started", "tables", len(tables), "lsn", lsn.String())
	started := time.Now()
	var total int64
	// Records are handed over a batch at a time; the last row read is held back until the
	// next one shows whether it is the last of its table and of the snapshot.
	var batch []cdc.Record
	var held *cdc.Event
	var heldFirstTable, heldFirstRow bool
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := out.Emit(ctx, batch...)
		e.met.Polled(len(batch))
		batch = batch[:0]
		return err
	}
	release := func(lastInTable, lastTable bool) error {
		if held == nil {
			return nil
		}
		marker := "true"
		switch {
		case lastInTable && lastTable:
			marker = "last"
		case heldFirstRow && heldFirstTable:
			marker = "first"
		case lastInTable:
			marker = "last_in_data_collection"
		case heldFirstRow:
			marker = "first_in_data_collection"
		}
		held.Source.Values[4] = marker
		last := marker == "last"
		held.Offset = map[string]any{"lsn": int64(lsn), "txId": txID, "ts_usec": time.Now().UnixMicro(),
			"snapshot": "INITIAL", "last_snapshot_record": last, "snapshot_completed": false}
		e.emitted(held.Offset)
		batch = append(batch, cdc.Records(e.cfg.Config, *held, time.Now())...)
		held = nil
		if len(batch) >= e.cfg.MaxBatchSize || last {
			return flush()
		}
		return nil
	}
	// The index of the last table with rows decides "last"; tables are read in order.
	for ti, t := range tables {
		cols, err := cat.columns(ctx, t.oid)
		if err != nil {
			return err
		}
		rt, err := cat.table(ctx, t.oid, t.schema, t.name, cols)
		if err != nil {
			return err
		}
		e.met.Snapshot(true, rt.table.ID, 0, t.estimate, ti, len(tables))
		if len(rt.src) == 0 {
			continue
		}
		names := make([]string, len(rt.src))
		for i, j := range rt.src {
			names[i] = pgx.Identifier{cols[j].name}.Sanitize()
		}
		// Selected columns are in rt.src order; re-index them 0..n-1 for row().
		sel := &relTable{table: rt.table, schema: rt.schema, name: rt.name, conv: rt.conv, src: make([]int, len(rt.src))}
		for i := range sel.src {
			sel.src[i] = i
		}
		rr := conn.PgConn().ExecParams(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+t.ident(), nil, nil, nil, nil)
		var rows int64
		first := true
		for rr.NextRow() {
			if err := release(false, false); err != nil {
				rr.Close()
				return err
			}
			row, err := sel.row(rr.Values(), nil, "")
			if err != nil {
				rr.Close()
				return err
			}
			now := time.Now()
			held = &cdc.Event{Table: rt.table, Op: debezium.OpRead, After: row, Partition: e.partition(),
				Source: e.source(now, "true", t.schema, t.name, txID, lsn, 0)}
			heldFirstTable, heldFirstRow = total == 0, first
			first = false
			rows++
			total++
			if rows%10000 == 0 {
				e.met.Snapshot(true, rt.table.ID, rows, t.estimate, ti, len(tables))
			}
		}
		if _, err := rr.Close(); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42501" {
				return permanent("user %q may not read %s: %s (GRANT SELECT ON %s TO %s)", e.cfg.User, rt.table.ID, pe.Message, t.ident(), e.cfg.User)
			}
			return fmt.Errorf("snapshot of %s: %w", rt.table.ID, err)
		}
		lastTable := true
		for _, later := range tables[ti+1:] {
			var has bool
			if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+later.ident()+")").Scan(&has); err != nil {
				return err
			}
			if has && e.captured(later.schema, later.name) {
				lastTable = false
				break
			}
		}
		if err := release(true, lastTable); err != nil {
			return err
		}
		e.met.Snapshot(true, rt.table.ID, rows, t.estimate, ti+1, len(tables))
	}
	if err := flush(); err != nil {
		return err
	}
	e.met.Snapshot(false, "", 0, 0, len(tables), len(tables))
	e.log.Info("snapshot completed", "rows", total, "tables", len(tables), "took", time.Since(started).String())
	return nil
}

// partition is the source partition, {"server": <topic.prefix>}: one map, shared by the
// records (read only).
func (e *Engine) partition() map[string]any {
	e.partOnce.Do(func() { e.part = map[string]any{"server": e.cfg.Prefix} })
	return e.part
}
