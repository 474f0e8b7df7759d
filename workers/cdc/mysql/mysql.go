// Package mysql is Fjord's io.debezium.connector.mysql.MySqlConnector: MySQL and MariaDB
// binlog change data capture with Debezium's output.
//
// It reads the server with vitess's MySQL client (vitess.io/vitess/go/mysql): plain queries for
// the checks, the schemas and the snapshot, and the binlog dump protocol (COM_BINLOG_DUMP from
// a file and position) with vitess's event parsing for both flavors. A run:
//
//   - checks the server (binlog on, ROW format, FULL row image) and the user's privileges
//     (REPLICATION SLAVE, REPLICATION CLIENT / BINLOG MONITOR) and fails permanently naming
//     what is missing;
//   - without a stored offset, snapshots as snapshot.mode says: under a short global read lock
//     (snapshot.locking.mode=minimal) it reads the binlog position and the tables' schemas,
//     opens a consistent-snapshot transaction and releases the lock, then reads every
//     captured table (op=r) and streams from exactly that position;
//   - with a stored offset, rebuilds the tables' schemas from the schema history topic and
//     streams from the offset, skipping the events and rows of a partly emitted transaction
//     (Debezium's file, pos, event and row offset keys);
//   - keeps the schemas current from the DDL in the binlog, writing each change to the
//     schema history topic and, with include.schema.changes, to the schema change topic.
package mysql

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	vtmysql "vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/sqlerror"

	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/runtime"
)

func init() {
	// vitess logs through glog, which writes log files into the temporary directory unless
	// told to log to stderr; Fjord's processes keep no such files.
	if f := flag.Lookup("logtostderr"); f != nil {
		_ = f.Value.Set("true")
	}
}

// New builds the engine of a task (cdc.Factory).
func New(env cdc.Env) (cdc.Engine, error) {
	cfg, errs := debezium.ParseMySQL(env.Config)
	if len(errs) > 0 {
		return nil, errs
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &engine{env: env, cfg: cfg, log: log, part: map[string]any{"server": cfg.Prefix}}, nil
}

type engine struct {
	env cdc.Env
	cfg *debezium.MySQLConfig
	log *slog.Logger

	part     map[string]any
	box      boxed
	offBox   offsetBox
	slab     slab
	mariadb  bool
	serverID int64
	tables   map[string]*table // by <db>.<table>
	history  *history
}

// partition is the source partition, the same map for every record (never modified).
func (e *engine) partition() map[string]any { return e.part }

// permanent is a failure retrying cannot fix.
func permanent(format string, args ...any) error {
	return &runtime.Error{Code: catalog.CodeInvalidConfiguration, Err: fmt.Errorf(format, args...), Permanent: true}
}

func (e *engine) connParams() *vtmysql.ConnParams {
	p := &vtmysql.ConnParams{Host: e.cfg.Hostname, Port: e.cfg.Port, Uname: e.cfg.User, Pass: e.cfg.Password,
		ConnectTimeoutMs: uint64(e.cfg.ConnectTimeout / time.Millisecond)}
	// preferred is tried as required, then without TLS when the server offers none
	// (connectOnce): vitess's own "preferred" does not fall back.
	p.SslMode = "required"
	if e.cfg.SSLMode == debezium.SSLDisabled {
		p.SslMode = "disabled"
	}
	return p
}

func (e *engine) connectOnce(ctx context.Context) (*vtmysql.Conn, error) {
	p := e.connParams()
	c, err := vtmysql.Connect(ctx, p)
	var se *sqlerror.SQLError
	if err != nil && e.cfg.SSLMode == debezium.SSLPreferred && errors.As(err, &se) && se.Num == sqlerror.CRSSLConnectionError &&
		strings.Contains(se.Message, "doesn't support SSL") {
		p.SslMode = "disabled"
		c, err = vtmysql.Connect(ctx, p)
	}
	return c, err
}

// connect opens a connection; first tells whether a failure is the start's (permanent: a
// database that is down, a refused login) or a later one (retried by the runtime).
func (e *engine) connect(ctx context.Context, first bool) (*vtmysql.Conn, error) {
	c, err := e.connectOnce(ctx)
	if err == nil {
		if _, err = c.ExecuteFetch("SET time_zone = '+00:00', NAMES utf8mb4", 0, false); err != nil {
			c.Close()
		}
	}
	if err == nil {
		return c, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var se *sqlerror.SQLError
	if errors.As(err, &se) && (se.Num == sqlerror.ERAccessDeniedError || se.Num == sqlerror.ERDBAccessDenied) {
		return nil, permanent("database.user %q cannot log in to %s:%d (wrong database.password or user?): %v", e.cfg.User, e.cfg.Hostname, e.cfg.Port, se.Message)
	}
	if first {
		return nil, permanent("cannot connect to the database at %s:%d (database.hostname, database.port): %v", e.cfg.Hostname, e.cfg.Port, err)
	}
	return nil, fmt.Errorf("connecting to the database at %s:%d: %w", e.cfg.Hostname, e.cfg.Port, err)
}

func queryOne(c *vtmysql.Conn, q string) ([]string, error) {
	r, err := c.ExecuteFetch(q, 1000, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	if len(r.Rows) == 0 {
		return nil, nil
	}
	out := make([]string, len(r.Rows[0]))
	for i, v := range r.Rows[0] {
		out[i] = v.ToString()
	}
	return out, nil
}

// check verifies the server and the user's privileges.
func (e *engine) check(c *vtmysql.Conn) error {
	row, err := queryOne(c, "SELECT @@version, @@server_id, @@log_bin, @@binlog_format, @@binlog_row_image")
	if err != nil {
		return err
	}
	e.mariadb = strings.Contains(strings.ToLower(row[0]), "mariadb")
	e.serverID, _ = strconv.ParseInt(row[1], 10, 64)
	if row[2] != "1" && !strings.EqualFold(row[2], "ON") {
		return permanent("the binlog is disabled on %s:%d (log_bin=OFF): start the server with --log-bin and binlog_format=ROW", e.cfg.Hostname, e.cfg.Port)
	}
	if !strings.EqualFold(row[3], "ROW") {
		return permanent("binlog_format is %s on %s:%d, not ROW: set binlog_format=ROW", row[3], e.cfg.Hostname, e.cfg.Port)
	}
	if !strings.EqualFold(row[4], "FULL") {
		return permanent("binlog_row_image is %s on %s:%d, not FULL: set binlog_row_image=FULL", row[4], e.cfg.Hostname, e.cfg.Port)
	}
	r, err := c.ExecuteFetch("SHOW GRANTS", 1000, false)
	if err != nil {
		return fmt.Errorf("SHOW GRANTS: %w", err)
	}
	var grants strings.Builder
	roles := false
	for _, row := range r.Rows {
		g := strings.ToUpper(row[0].ToString())
		if strings.Contains(g, " ON *.* ") {
			grants.WriteString(g)
			grants.WriteByte('\n')
		} else if !strings.Contains(g, " ON ") {
			roles = true // GRANT `role` TO …: privileges SHOW GRANTS does not list
		}
	}
	all := strings.Contains(grants.String(), "ALL PRIVILEGES")
	var missing []string
	if !all && !roles && !strings.Contains(grants.String(), "REPLICATION SLAVE") && !strings.Contains(grants.String(), "REPLICATION REPLICA") {
		missing = append(missing, "REPLICATION SLAVE")
	}
	canList := func() bool { _, err := c.ExecuteFetch("SHOW BINARY LOGS", 100000, false); return err == nil }
	if !all && !strings.Contains(grants.String(), "REPLICATION CLIENT") && !strings.Contains(grants.String(), "BINLOG MONITOR") &&
		!strings.Contains(grants.String(), "SUPER") && !canList() {
		if e.mariadb {
			missing = append(missing, "REPLICATION CLIENT (BINLOG MONITOR)")
		} else {
			missing = append(missing, "REPLICATION CLIENT")
		}
	}
	if len(missing) > 0 {
		return permanent("database.user %q lacks the privileges %s ON *.* the MySQL connector needs to read the binlog", e.cfg.User, strings.Join(missing, " and "))
	}
	return nil
}

// Run captures changes (cdc.Engine).
func (e *engine) Run(ctx context.Context, offset map[string]any, out cdc.Emitter) error {
	c, err := e.connect(ctx, true)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer c.Close()
	if err := e.check(c); err != nil {
		return err
	}
	h, err := openHistory(ctx, e)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer h.close()
	e.history = h
	err = e.run(ctx, c, offset, out)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (e *engine) run(ctx context.Context, c *vtmysql.Conn, offset map[string]any, out cdc.Emitter) error {
	start, resume := parseOffset(offset)
	mode := e.cfg.SnapshotMode
	snapshot, withData := false, true
	switch {
	case !resume:
		switch mode {
		case debezium.SnapshotNever:
			// Stream from the first binlog the server still has, with the live schemas.
			if err := e.loadLive(c); err != nil {
				return err
			}
			r, err := c.ExecuteFetch("SHOW BINARY LOGS", 100000, false)
			if err != nil {
				return permanent("SHOW BINARY LOGS: %v", err)
			}
			if len(r.Rows) == 0 {
				return permanent("the server has no binlog files")
			}
			start = position{file: r.Rows[0][0].ToString(), pos: 4}
		case debezium.SnapshotNoData:
			snapshot, withData = true, false
		default:
			snapshot = true
		}
	case start.snapshotRunning && mode != debezium.SnapshotNever && mode != debezium.SnapshotNoData:
		e.log.Info("the stored offset is of an incomplete snapshot: snapshotting again")
		snapshot = true
	case mode == debezium.SnapshotInitialOnly:
		e.log.Info("the snapshot is complete; snapshot.mode=initial_only: not streaming")
		<-ctx.Done()
		return nil
	case mode == debezium.SnapshotAlways:
		snapshot = true
	case mode == "recovery":
		// schema_only_recovery: the history is rebuilt from the live schemas, then streaming
		// resumes from the offset.
		if err := e.recoverHistory(ctx, c, offset); err != nil {
			return err
		}
	default:
		if mode == debezium.SnapshotWhenNeeded {
			ok, err := e.binlogExists(c, start.file)
			if err != nil {
				return err
			}
			if !ok {
				e.log.Warn("the stored offset's binlog file is gone from the server: snapshotting again (snapshot.mode=when_needed)", "file", start.file)
				snapshot = true
				break
			}
		}
		if err := e.rebuild(ctx, c, start); err != nil {
			return err
		}
	}
	if snapshot {
		p, err := e.snapshot(ctx, c, withData, out)
		if err != nil {
			return err
		}
		if mode == debezium.SnapshotInitialOnly {
			e.log.Info("snapshot complete; snapshot.mode=initial_only: not streaming")
			<-ctx.Done()
			return nil
		}
		start = p
	}
	return e.stream(ctx, start, out)
}

func (e *engine) binlogExists(c *vtmysql.Conn, file string) (bool, error) {
	r, err := c.ExecuteFetch("SHOW BINARY LOGS", 100000, false)
	if err != nil {
		return false, fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	for _, row := range r.Rows {
		if row[0].ToString() == file {
			return true, nil
		}
	}
	return false, nil
}

// loadLive reads every table's schema from the live database.
func (e *engine) loadLive(c *vtmysql.Conn) error {
	defs, order, err := loadTables(context.Background(), c, func(db, tbl string) bool { return e.keepDef(db, tbl) }, nil)
	if err != nil {
		return err
	}
	e.tables = map[string]*table{}
	for _, id := range order {
		db, name, _ := strings.Cut(id, ".")
		t, err := e.buildTable(db, name, defs[id])
		if err != nil {
			return permanent("%v", err)
		}
		e.tables[id] = t
	}
	return nil
}

// keepDef reports whether a table's definition is kept (the history stores the DDL of every
// table unless schema.history.internal.store.only.captured.tables.ddl).
func (e *engine) keepDef(db, tbl string) bool {
	if debezium.MySQLSystemDatabase(db) {
		return false
	}
	if e.cfg.HistoryOnlyTables {
		return e.cfg.CapturesTable(db, tbl)
	}
	return true
}

// position is a place in the binlog to stream from, with Debezium's offset fields.
type position struct {
	file            string
	pos             uint64
	gtids           string
	events          int64
	rows            int64
	snapshotRunning bool
}

func (p position) less(q position) bool {
	if p.file != q.file {
		return binlogSeq(p.file) < binlogSeq(q.file)
	}
	return p.pos < q.pos
}

// binlogSeq is the sequence number of a binlog file name (name.000042 → 42).
func binlogSeq(f string) int64 {
	i := strings.LastIndexByte(f, '.')
	n, _ := strconv.ParseInt(f[i+1:], 10, 64)
	return n
}

// parseOffset reads a stored offset, as Fjord or Java Debezium wrote it.
func parseOffset(m map[string]any) (position, bool) {
	if m == nil {
		return position{}, false
	}
	file, _ := m["file"].(string)
	if file == "" {
		return position{}, false
	}
	p := position{file: file, pos: uint64(num(m["pos"])), events: num(m["event"]), rows: num(m["row"])}
	p.gtids, _ = m["gtids"].(string)
	if s, ok := m["snapshot"]; ok && s != nil && s != false && s != "false" {
		p.snapshotRunning = !truthy(m["snapshot_completed"])
	}
	return p, true
}

func truthy(v any) bool { return v == true || v == "true" }

// num reads a number as JSON decoding or Java's offsets may give it.
func num(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint64:
		return int64(x)
	case float64:
		return int64(x)
	case float32:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	case interface{ Int64() (int64, error) }:
		n, _ := x.Int64()
		return n
	}
	return 0
}

// streamOffset is the offset of a streaming record.
func (e *engine) streamOffset(file string, pos uint64, gtids string, events, rows int64, ts uint32) map[string]any {
	b := &e.offBox
	if b.fileAny == nil || b.file != file {
		b.file, b.fileAny = file, file
	}
	if b.posAny == nil || b.pos != pos {
		b.pos, b.posAny = pos, int64(pos)
	}
	if b.gtidAny == nil || b.gtid != gtids {
		b.gtid, b.gtidAny = gtids, gtids
	}
	if b.serverAny == nil {
		b.serverAny = e.serverID
	}
	m := make(map[string]any, 7)
	m["file"], m["pos"], m["ts_sec"] = b.fileAny, b.posAny, int64(ts)
	if e.serverID != 0 {
		m["server_id"] = b.serverAny
	}
	if gtids != "" {
		m["gtids"] = b.gtidAny
	}
	if events != 0 {
		m["event"] = events
	}
	if rows != 0 {
		m["row"] = rows
	}
	return m
}

// recoverHistory reads the live schemas and records them in the schema history at offset.
func (e *engine) recoverHistory(ctx context.Context, c *vtmysql.Conn, offset map[string]any) error {
	if err := e.loadLive(c); err != nil {
		return err
	}
	now := time.Now()
	var recs []HistoryRecord
	for id, t := range e.tables {
		r, err := c.ExecuteFetch("SHOW CREATE TABLE "+quoteIdent(t.db)+"."+quoteIdent(t.name), 1, false)
		if err != nil {
			return fmt.Errorf("SHOW CREATE TABLE %s: %w", id, err)
		}
		recs = append(recs, HistoryRecord{Source: map[string]any{"server": e.cfg.Prefix}, Position: offset, TS: now.UnixMilli(), DatabaseName: t.db,
			DDL: r.Rows[0][1].ToString(), TableChanges: []TableChange{{Type: "CREATE", ID: tableID(t.db, t.name), Table: t.def}}})
	}
	return e.history.write(ctx, recs...)
}

// offsetBox caches the boxed values consecutive offsets share.
type offsetBox struct {
	file, gtid        string
	pos               uint64
	fileAny, gtidAny  any
	posAny, serverAny any
}
