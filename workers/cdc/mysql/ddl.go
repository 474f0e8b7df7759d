package mysql

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
)

// handleDDL applies a DDL statement read from the binlog: the definitions of the tables it
// changes are read again from the database (information_schema), the change is appended to
// the schema history and, with include.schema.changes, written to the schema change topic.
//
// The definitions are the database's at the time the statement is read, not as of the
// statement: a connector far behind a series of DDL statements sees the last of them early
// (row events are decoded by position, so rows in between keep decoding).
func (e *engine) handleDDL(ctx context.Context, st *streamState, db, sql string, pos, next uint64, ts, serverID uint32) ([]cdc.Record, error) {
	tables, dbs, truncate := affected(sql, db)
	var changes []TableChange
	var truncated []*table
	applied := false
	if !truncate {
		defs := make(map[string]*TableDef, len(e.tables))
		for id, t := range e.tables {
			defs[id] = t.def
		}
		var updated map[string]*TableDef
		changes, updated, applied = applyDDL(defs, db, sql, e.mariadb)
		if applied {
			var kept []TableChange
			for _, tc := range changes {
				d, n, _ := parseTableID(tc.ID)
				if tc.Table != nil && !e.keepDef(d, n) {
					continue
				}
				kept = append(kept, tc)
			}
			changes = kept
			for id, def := range updated {
				d, n, _ := strings.Cut(id, ".")
				if def == nil || !e.keepDef(d, n) {
					delete(e.tables, id)
					continue
				}
				t, err := e.buildTable(d, n, def)
				if err != nil {
					return nil, permanent("%v", err)
				}
				e.tables[id] = t
			}
		}
	}
	if !applied {
		var err error
		changes, truncated, err = e.liveDDL(ctx, tables, dbs, truncate)
		if err != nil {
			return nil, err
		}
	}
	return e.recordDDL(ctx, st, db, sql, pos, next, ts, serverID, tables, dbs, changes, truncated)
}

// liveDDL reads the definitions of the tables a statement changed from the database.
func (e *engine) liveDDL(ctx context.Context, tables [][2]string, dbs []string, truncate bool) ([]TableChange, []*table, error) {
	c, err := e.connect(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	only := map[string]bool{}
	for _, t := range tables {
		only[t[0]] = true
	}
	for _, d := range dbs {
		only[d] = true
	}
	var defs map[string]*TableDef
	if len(only) > 0 {
		defs, _, err = loadTables(ctx, c, e.keepDef, only)
		if err != nil {
			return nil, nil, err
		}
	}
	// The tables to look at: those named, and every table of the databases named.
	ids := map[string]bool{}
	for _, t := range tables {
		ids[t[0]+"."+t[1]] = true
	}
	for _, d := range dbs {
		for id, t := range e.tables {
			if t.db == d {
				ids[id] = true
			}
		}
		for id := range defs {
			if strings.HasPrefix(id, d+".") {
				ids[id] = true
			}
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var changes []TableChange
	var truncated []*table
	for _, id := range sorted {
		dbName, name, _ := strings.Cut(id, ".")
		old, def := e.tables[id], defs[id]
		switch {
		case def == nil && old != nil:
			delete(e.tables, id)
			changes = append(changes, TableChange{Type: "DROP", ID: tableID(dbName, name)})
		case def != nil:
			if old != nil && truncate {
				truncated = append(truncated, old)
				continue
			}
			if old != nil && sameDef(old.def, def) {
				continue
			}
			t, err := e.buildTable(dbName, name, def)
			if err != nil {
				return nil, nil, permanent("%v", err)
			}
			e.tables[id] = t
			typ := "ALTER"
			if old == nil {
				typ = "CREATE"
			}
			changes = append(changes, TableChange{Type: typ, ID: tableID(dbName, name), Table: def})
		}
	}
	return changes, truncated, nil
}

// recordDDL writes a schema change to the history and the schema change topic; a TRUNCATE
// of captured tables becomes their truncate events.
func (e *engine) recordDDL(ctx context.Context, st *streamState, db, sql string, pos, next uint64, ts, serverID uint32,
	tables [][2]string, dbs []string, changes []TableChange, truncated []*table) ([]cdc.Record, error) {
	off := e.streamOffset(st.file, next, "", 0, 0, ts)
	if st.gtidSet != nil {
		off["gtids"] = st.gtidSet.String()
	}
	now := time.Now()
	var recs []cdc.Record
	if len(truncated) > 0 {
		for _, t := range truncated {
			if t.dbz == nil {
				continue
			}
			src := debezium.MySQLSourceInfo{Name: e.cfg.Prefix, TS: time.Unix(int64(ts), 0), DB: t.db, Table: t.name, ServerID: int64(serverID),
				GTID: st.gtid, File: st.file, Pos: int64(pos), Thread: -1}
			recs = append(recs, cdc.Records(e.cfg.Config, cdc.Event{Table: t.dbz, Op: debezium.OpTruncate, Source: src.Struct(), Partition: e.partition()}, now)...)
		}
		if len(recs) > 0 {
			recs[len(recs)-1].Offset = off
		}
		return recs, nil
	}
	if e.cfg.HistoryOnlyTables && len(changes) == 0 {
		return nil, nil
	}
	histDB := db
	if len(tables) > 0 {
		histDB = tables[0][0]
	} else if len(dbs) > 0 {
		histDB = dbs[0]
	}
	hr := HistoryRecord{Source: map[string]any{"server": e.cfg.Prefix}, Position: off, TS: now.UnixMilli(), DatabaseName: histDB, DDL: sql, TableChanges: changes}
	if hr.TableChanges == nil {
		hr.TableChanges = []TableChange{}
	}
	if err := e.history.write(ctx, hr); err != nil {
		return nil, err
	}
	e.log.Info("schema change", "database", histDB, "ddl", sql, "tables", len(changes))
	if e.cfg.IncludeSchemaChanges && histDB != "" && e.cfg.CapturesDatabase(histDB) {
		src := debezium.MySQLSourceInfo{Name: e.cfg.Prefix, TS: time.Unix(int64(ts), 0), DB: histDB, ServerID: int64(serverID), GTID: st.gtid,
			File: st.file, Pos: int64(pos), Thread: -1}
		if len(tables) == 1 {
			src.Table = tables[0][1]
		}
		recs = append(recs, e.schemaChange(histDB, sql, hr.TableChanges, &src, now, off))
	}
	return recs, nil
}

func sameDef(a, b *TableDef) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
