// Package postgres is Fjord's io.debezium.connector.postgresql.PostgresConnector: PostgreSQL
// logical replication (pgoutput) change data capture with Debezium's output.
//
// Run connects twice: a regular connection (checks, catalog, publication, snapshot) and a
// replication connection (replication=database: the slot and its stream). A new slot exports
// its snapshot (CREATE_REPLICATION_SLOT … EXPORT_SNAPSHOT), which the initial snapshot reads in
// a REPEATABLE READ transaction (SET TRANSACTION SNAPSHOT); streaming then starts at the slot's
// consistent point, so that snapshot and stream neither overlap nor leave a gap. The server is
// told an LSN is flushed (StandbyStatusUpdate) only once the runtime reports the records up to
// it durable (Durable).
//
// Values arrive as text (pgoutput protocol 1, and the snapshot's text results) and are
// mapped as Debezium's PostgresValueConverter maps them (types.go). Not mapped, so left out
// unless include.unknown.datatypes (then bytes of their text): geometric types, hstore, ltree,
// vector types, money/interval/xml/bit arrays, multi-dimensional arrays. Date ±infinity is
// null. Column defaults appear in schemas when they are constants.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
	"github.com/fjord-io/fjord/workers/runtime"
)

// New builds the engine of a task (cdc.Factory).
func New(env cdc.Env) (cdc.Engine, error) {
	cfg, errs := debezium.ParsePostgres(env.Config)
	if len(errs) > 0 {
		return nil, errs
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	met := env.Metrics
	if met == nil {
		met = nopMetrics{}
	}
	return &Engine{env: env, cfg: cfg, log: log, met: met, m: mapper{cfg: cfg}}, nil
}

type nopMetrics struct{}

func (nopMetrics) Polled(int)                                    {}
func (nopMetrics) BehindSource(time.Duration)                    {}
func (nopMetrics) Snapshot(bool, string, int64, int64, int, int) {}

// Engine is one task's PostgreSQL change capture; it implements cdc.Engine and
// cdc.Acknowledger.
type Engine struct {
	env cdc.Env
	cfg *debezium.PostgresConfig
	log *slog.Logger
	met cdc.Metrics
	m   mapper

	partOnce sync.Once
	part     map[string]any

	// streaming is set once the slot's stream started.
	streaming atomic.Bool

	mu sync.Mutex
	// flush is the LSN the server may consider flushed: the end of the last transaction all
	// of whose records are durable.
	flush pglogrepl.LSN
	// lastEmitted and lastDurable identify the last offset handed to the runtime and the last
	// one it reported durable; when equal, everything read is durable.
	lastEmitted, lastDurable position
	// idle is the end of the last transaction read, when none is open (0 while one is).
	idle pglogrepl.LSN
}

type position struct {
	lsn, txID int64
	typ       string
}

func posOf(off map[string]any) position {
	l, _ := cdc.OffsetInt(off, "lsn")
	x, _ := cdc.OffsetInt(off, "txId")
	t, _ := off["messageType"].(string)
	return position{l, x, t}
}

// Durable implements cdc.Acknowledger.
func (e *Engine) Durable(off map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if lc, ok := cdc.OffsetInt(off, "lsn_commit"); ok && pglogrepl.LSN(lc) > e.flush {
		e.flush = pglogrepl.LSN(lc)
	}
	e.lastDurable = posOf(off)
}

func (e *Engine) emitted(off map[string]any) {
	e.mu.Lock()
	e.lastEmitted = posOf(off)
	e.mu.Unlock()
}

// flushLSN is the LSN to confirm: flush, or the end of the last transaction read when every
// emitted record is durable and no transaction is open.
func (e *Engine) flushLSN() pglogrepl.LSN {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.idle > e.flush && e.lastEmitted == e.lastDurable {
		e.flush = e.idle
	}
	return e.flush
}

// resume is a stored offset, read as Debezium's PostgresOffsetContext.Loader reads it.
type resume struct {
	lsn, lsnCommit, lsnProc, txID int64
	snapshotRunning               bool
	streaming                     bool // the offset is of a streamed event (not of the snapshot)
}

func offsetBool(m map[string]any, k string) bool {
	switch v := m[k].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

func parseResume(off map[string]any) *resume {
	if len(off) == 0 {
		return nil
	}
	r := &resume{}
	r.lsn, _ = cdc.OffsetInt(off, "lsn")
	r.lsnProc, _ = cdc.OffsetInt(off, "lsn_proc")
	if lc, ok := cdc.OffsetInt(off, "lsn_commit"); ok {
		r.lsnCommit = lc
	} else {
		r.lsnCommit = r.lsnProc
	}
	r.txID, _ = cdc.OffsetInt(off, "txId")
	_, snap := off["snapshot"]
	if s, ok := off["snapshot"].(bool); ok && !s {
		snap = false
	}
	r.snapshotRunning = snap && !offsetBool(off, "last_snapshot_record") && !offsetBool(off, "snapshot_completed")
	r.streaming = !snap
	return r
}

// start is where streaming resumes: the last commit the offset saw (the server forwards to
// the slot's confirmed position when that is later).
func (r *resume) start() pglogrepl.LSN {
	switch {
	case r.lsnCommit > 0:
		return pglogrepl.LSN(r.lsnCommit)
	case r.lsnProc > 0:
		return pglogrepl.LSN(r.lsnProc)
	}
	return pglogrepl.LSN(r.lsn)
}

// permanent is an error retrying cannot fix: a refused login, a missing privilege or setting.
func permanent(format string, args ...any) error {
	return &runtime.Error{Code: catalog.CodeInvalidConfiguration, Err: fmt.Errorf(format, args...), Permanent: true}
}

func quoteDSN(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// connConfig is the connection configuration; replication adds replication=database.
func (e *Engine) connConfig(replication bool) (*pgconn.Config, error) {
	c := e.cfg
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=%s connect_timeout=10 application_name=%s",
		quoteDSN(c.Hostname), c.Port, quoteDSN(c.User), quoteDSN(c.DBName), c.SSLMode, quoteDSN("fjord-cdc-"+e.env.Name))
	if c.SSLRootCert != "" {
		dsn += " sslrootcert=" + quoteDSN(c.SSLRootCert)
	}
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, permanent("database connection settings: %v", err)
	}
	pc.Password = c.Password
	for k, v := range map[string]string{"DateStyle": "ISO", "IntervalStyle": "postgres", "TimeZone": "UTC", "extra_float_digits": "3", "lc_monetary": "C"} {
		pc.RuntimeParams[k] = v
	}
	if replication {
		pc.RuntimeParams["replication"] = "database"
	}
	return pc, nil
}

// connectErr words a failed connection: the password, the database, the server.
func (e *Engine) connectErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return permanent("cannot log in to PostgreSQL at %s:%d as %q: %s (check database.user and database.password)", e.cfg.Hostname, e.cfg.Port, e.cfg.User, pe.Message)
		case "3D000":
			return permanent("database.dbname: %s", pe.Message)
		case "42501":
			return permanent("user %q may not open a replication connection: %s; logical replication needs the REPLICATION attribute (ALTER ROLE %s REPLICATION)", e.cfg.User, pe.Message, e.cfg.User)
		}
		return permanent("cannot connect to PostgreSQL at %s:%d: %s", e.cfg.Hostname, e.cfg.Port, pe.Message)
	}
	return permanent("cannot connect to PostgreSQL at %s:%d: %v", e.cfg.Hostname, e.cfg.Port, unwrapConnect(err))
}

func unwrapConnect(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap()
	}
	return err
}

func (e *Engine) connect(ctx context.Context) (*pgx.Conn, error) {
	pc, err := e.connConfig(false)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Config = *pc
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, e.connectErr(err)
	}
	return conn, nil
}

func (e *Engine) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	pc, err := e.connConfig(true)
	if err != nil {
		return nil, err
	}
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, e.connectErr(err)
	}
	return conn, nil
}

// check verifies the server can serve logical replication to this user.
func (e *Engine) check(ctx context.Context, conn *pgx.Conn) error {
	var walLevel string
	var replication, super bool
	var slots, senders, version int
	err := conn.QueryRow(ctx, `SELECT current_setting('wal_level'), r.rolreplication, r.rolsuper,
		current_setting('max_replication_slots')::int, current_setting('max_wal_senders')::int, current_setting('server_version_num')::int
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&walLevel, &replication, &super, &slots, &senders, &version)
	if err != nil {
		return fmt.Errorf("read the server's settings: %w", err)
	}
	switch {
	case version < 100000:
		return permanent("PostgreSQL %d.%d has no pgoutput; the connector needs PostgreSQL 10 or later", version/10000, version%10000/100)
	case walLevel != "logical":
		return permanent("wal_level is %s; logical replication needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)", walLevel)
	case !replication && !super:
		return permanent("user %q has neither the REPLICATION attribute nor superuser; logical replication needs it (ALTER ROLE %s REPLICATION)", e.cfg.User, e.cfg.User)
	case slots == 0:
		return permanent("max_replication_slots is 0; logical replication needs at least one replication slot")
	case senders == 0:
		return permanent("max_wal_senders is 0; logical replication needs at least one WAL sender")
	}
	return nil
}

// capturedTable is a table the filters select.
type capturedTable struct {
	oid          uint32
	schema, name string
	estimate     int64
}

func (t capturedTable) ident() string {
	return pgx.Identifier{t.schema, t.name}.Sanitize()
}

func (e *Engine) capturedSchema(schema string) bool {
	return e.cfg.Schemas.Matches(schema)
}

func (e *Engine) captured(schema, table string) bool {
	return e.capturedSchema(schema) && e.cfg.Tables.Matches(schema+"."+table)
}

// tables lists the captured tables.
func (e *Engine) tables(ctx context.Context, conn *pgx.Conn) ([]capturedTable, error) {
	rows, err := conn.Query(ctx, `SELECT c.oid, n.nspname, c.relname, GREATEST(c.reltuples, 0)::int8 FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
		ORDER BY n.nspname, c.relname`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var out []capturedTable
	for rows.Next() {
		var t capturedTable
		if err := rows.Scan(&t.oid, &t.schema, &t.name, &t.estimate); err != nil {
			return nil, err
		}
		if e.captured(t.schema, t.name) {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// publication makes sure the publication exists as publication.autocreate.mode says; created
// reports that this call created it.
func (e *Engine) publication(ctx context.Context, conn *pgx.Conn, tables []capturedTable) (created bool, err error) {
	name := pgx.Identifier{e.cfg.Publication}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, e.cfg.Publication).Scan(&exists); err != nil {
		return false, fmt.Errorf("look the publication up: %w", err)
	}
	list := func() (string, error) {
		if len(tables) == 0 {
			return "", permanent("publication.autocreate.mode is filtered but no table matches the connector's filters")
		}
		ids := make([]string, len(tables))
		for i, t := range tables {
			ids[i] = t.ident()
		}
		return strings.Join(ids, ", "), nil
	}
	var stmt string
	switch {
	case exists && e.cfg.PublicationMode == debezium.PublicationFiltered:
		l, err := list()
		if err != nil {
			return false, err
		}
		stmt = "ALTER PUBLICATION " + name + " SET TABLE " + l
	case exists:
		return false, nil
	case e.cfg.PublicationMode == debezium.PublicationDisabled:
		return false, permanent("publication %q does not exist and publication.autocreate.mode is disabled; create it (CREATE PUBLICATION %s FOR ALL TABLES) or change the mode", e.cfg.Publication, name)
	case e.cfg.PublicationMode == debezium.PublicationAllTables:
		stmt = "CREATE PUBLICATION " + name + " FOR ALL TABLES"
	case e.cfg.PublicationMode == debezium.PublicationNoTables:
		stmt = "CREATE PUBLICATION " + name
	default:
		l, err := list()
		if err != nil {
			return false, err
		}
		stmt = "CREATE PUBLICATION " + name + " FOR TABLE " + l
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			return false, permanent("user %q may not run %s: %s (publication.autocreate.mode=%s; create the publication as its owner or a superuser)", e.cfg.User, stmt, pe.Message, e.cfg.PublicationMode)
		}
		return false, fmt.Errorf("%s: %w", stmt, err)
	}
	e.log.Info("publication ready", "publication", e.cfg.Publication, "statement", stmt)
	return !exists, nil
}

// slotInfo is pg_replication_slots' row of the connector's slot.
type slotInfo struct {
	exists    bool
	confirmed pglogrepl.LSN
}

func (e *Engine) slot(ctx context.Context, conn *pgx.Conn) (slotInfo, error) {
	// A previous task's replication connection may still be ending: give it a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		si, err := e.slotOnce(ctx, conn)
		if !errors.Is(err, errSlotActive) || time.Now().After(deadline) {
			return si, err
		}
		select {
		case <-ctx.Done():
			return si, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var errSlotActive = errors.New("replication slot is active")

func (e *Engine) slotOnce(ctx context.Context, conn *pgx.Conn) (slotInfo, error) {
	var plugin, db string
	var active bool
	var confirmed *string
	err := conn.QueryRow(ctx, `SELECT COALESCE(plugin, ''), COALESCE(database, ''), active, confirmed_flush_lsn::text
		FROM pg_replication_slots WHERE slot_name = $1`, e.cfg.Slot).Scan(&plugin, &db, &active, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return slotInfo{}, nil
	}
	if err != nil {
		return slotInfo{}, fmt.Errorf("look the replication slot up: %w", err)
	}
	switch {
	case plugin != "pgoutput":
		return slotInfo{}, permanent("replication slot %q exists with plugin %q; the connector needs a pgoutput slot (choose another slot.name or drop it)", e.cfg.Slot, plugin)
	case db != e.cfg.DBName:
		return slotInfo{}, permanent("replication slot %q belongs to database %q, not %q (choose another slot.name)", e.cfg.Slot, db, e.cfg.DBName)
	case active:
		// Another client streams from it (or a previous task's connection has not ended yet).
		return slotInfo{}, fmt.Errorf("replication slot %q: %w: another connector or client is using it", e.cfg.Slot, errSlotActive)
	}
	si := slotInfo{exists: true}
	if confirmed != nil {
		si.confirmed, _ = pglogrepl.ParseLSN(*confirmed)
	}
	return si, nil
}

// dropSlot drops the slot, waiting a little for a closing replication connection to release it.
func (e *Engine) dropSlot(conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		_, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, e.cfg.Slot)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "55006" { // object_in_use: still active
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Run implements cdc.Engine.
func (e *Engine) Run(ctx context.Context, offset map[string]any, out cdc.Emitter) (err error) {
	defer func() {
		if ctx.Err() != nil {
			err = nil // stopped: whatever failed failed because of it
		}
	}()
	res := parseResume(offset)
	conn, err := e.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := e.check(ctx, conn); err != nil {
		return err
	}
	tables, err := e.tables(ctx, conn)
	if err != nil {
		return err
	}
	si, err := e.slot(ctx, conn)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	mode := e.cfg.SnapshotMode
	snapshot := false
	switch mode {
	case debezium.SnapshotAlways:
		snapshot = true
	case debezium.SnapshotInitial, debezium.SnapshotInitialOnly:
		snapshot = res == nil || res.snapshotRunning
	case debezium.SnapshotWhenNeeded:
		snapshot = res == nil || res.snapshotRunning || !si.exists
	}
	if mode == debezium.SnapshotInitialOnly {
		if !snapshot {
			e.log.Info("snapshot.mode is initial_only and the snapshot is complete; nothing to do")
			<-ctx.Done()
			return nil
		}
		// No slot: the snapshot is all there is.
		if err := e.snapshot(ctx, conn, tables, "", 0, out); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}

	// From here on, what this run creates is removed again if it fails before streaming.
	var createdPub, createdSlot, streaming bool
	defer func() {
		if err == nil || streaming {
			return
		}
		if ctx.Err() != nil {
			err = nil // stopped while starting: not a failure, but nothing is left half-made
		}
		if createdSlot {
			if derr := e.dropSlot(conn); derr != nil {
				e.log.Error("drop the replication slot created by the failed start", "slot", e.cfg.Slot, "error", derr)
			}
		}
		if createdPub {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, derr := conn.Exec(c, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{e.cfg.Publication}.Sanitize()); derr != nil {
				e.log.Error("drop the publication created by the failed start", "publication", e.cfg.Publication, "error", derr)
			}
		}
	}()
	if createdPub, err = e.publication(ctx, conn, tables); err != nil {
		return err
	}
	rconn, err := e.connectReplication(ctx)
	if err != nil {
		return err
	}
	defer func() { rconn.Close(context.Background()) }()

	var start pglogrepl.LSN
	switch {
	case snapshot:
		if si.exists {
			// A snapshot of the current state subsumes whatever the old slot still holds.
			e.log.Info("snapshot needed; recreating the replication slot to export a consistent snapshot", "slot", e.cfg.Slot)
			if err := e.dropSlot(conn); err != nil {
				return fmt.Errorf("drop replication slot %q: %w", e.cfg.Slot, err)
			}
		}
		cr, err := pglogrepl.CreateReplicationSlot(ctx, rconn, e.cfg.Slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
		if err != nil {
			return e.slotErr(err)
		}
		createdSlot = true
		if start, err = pglogrepl.ParseLSN(cr.ConsistentPoint); err != nil {
			return fmt.Errorf("slot consistent point %q: %w", cr.ConsistentPoint, err)
		}
		e.log.Info("replication slot created", "slot", e.cfg.Slot, "consistent_point", start.String())
		if err := e.snapshot(ctx, conn, tables, cr.SnapshotName, start, out); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		res = nil
	case !si.exists:
		if res != nil {
			e.log.Warn("the stored offset's replication slot is gone; streaming from a new slot, changes in between are lost (snapshot.mode=when_needed re-snapshots instead)", "slot", e.cfg.Slot)
		}
		cr, err := pglogrepl.CreateReplicationSlot(ctx, rconn, e.cfg.Slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
		if err != nil {
			return e.slotErr(err)
		}
		createdSlot = true
		start, _ = pglogrepl.ParseLSN(cr.ConsistentPoint)
		if res != nil && !res.streaming {
			res = nil
		}
	default:
		start = si.confirmed
		if res != nil && res.start() > start {
			start = res.start()
		}
		if res != nil && !res.streaming {
			res = nil
		}
	}

	if !snapshot {
		e.met.Snapshot(false, "", 0, 0, 0, 0)
	}
	e.mu.Lock()
	e.flush = start
	e.mu.Unlock()
	err = pglogrepl.StartReplication(ctx, rconn, e.cfg.Slot, start, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names " + quoteLiteral(e.cfg.Publication)},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("start replication from slot %q at %s: %w", e.cfg.Slot, start, err)
	}
	streaming = true
	e.streaming.Store(true)
	e.log.Info("streaming", "slot", e.cfg.Slot, "publication", e.cfg.Publication, "from", start.String())
	s := &stream{e: e, conn: conn, rconn: rconn, out: out, res: res, rels: map[uint32]*relTable{}, types: map[uint32]*pgType{}, resumeOffset: offset}
	if e.cfg.TransactionMetadata {
		s.tx = &txMeta{}
	}
	err = s.run(ctx)
	if ctx.Err() != nil {
		err = nil
		// A clean stop: confirm what is durable, then let go of the slot.
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = pglogrepl.SendStandbyStatusUpdate(c, rconn, pglogrepl.StandbyStatusUpdate{WALWritePosition: e.flushLSN()})
		cancel()
		if e.cfg.DropSlotOnStop {
			rconn.Close(context.Background())
			if derr := e.dropSlot(conn); derr != nil {
				e.log.Error("slot.drop.on.stop: drop the replication slot", "slot", e.cfg.Slot, "error", derr)
			} else {
				e.log.Info("slot.drop.on.stop: replication slot dropped", "slot", e.cfg.Slot)
			}
		}
	}
	return err
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (e *Engine) slotErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "53400": // configuration_limit_exceeded
			return permanent("cannot create replication slot %q: %s (raise max_replication_slots or drop unused slots)", e.cfg.Slot, pe.Message)
		case "42501":
			return permanent("cannot create replication slot %q: %s; the user needs the REPLICATION attribute", e.cfg.Slot, pe.Message)
		}
	}
	return fmt.Errorf("create replication slot %q: %w", e.cfg.Slot, err)
}

// source is the source block of one event.
func (e *Engine) source(ts time.Time, snapshot, schema, table string, txID int64, lsn, lastCommit pglogrepl.LSN) *data.Struct {
	s := data.NewStruct(debezium.PostgresSourceSchema)
	v := s.Values
	v[0] = debezium.Version
	v[1] = "postgresql"
	v[2] = e.cfg.Prefix
	v[3] = ts.UnixMilli()
	v[4] = snapshot
	v[5] = e.cfg.DBName
	lc := "null"
	if lastCommit != 0 {
		lc = `"` + strconv.FormatUint(uint64(lastCommit), 10) + `"`
	}
	v[6] = "[" + lc + `,"` + strconv.FormatUint(uint64(lsn), 10) + `"]`
	v[7] = ts.UnixMicro()
	v[8] = ts.UnixNano()
	v[9] = schema
	v[10] = table
	if txID != 0 {
		v[11] = txID
	}
	v[12] = int64(lsn)
	return s
}
