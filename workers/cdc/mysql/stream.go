package mysql

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	vtmysql "vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/binlog"
	"vitess.io/vitess/go/mysql/replication"
	"vitess.io/vitess/go/mysql/sqlerror"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

const (
	eventAnnotateRows = 160 // MariaDB's ANNOTATE_ROWS_EVENT: the statement of the row events after it
	eventQuery        = 2
)

func asSQLError(err error, se **sqlerror.SQLError) bool { return errors.As(err, se) }

type packet struct {
	data []byte
	err  error
}

// streamState is the streaming position and the transaction being read.
type streamState struct {
	format    vtmysql.BinlogFormat
	tableMaps map[uint64]*vtmysql.TableMap
	// tableMapRaw are the table maps' bytes, to skip parsing a map that did not change.
	tableMapRaw map[uint64][]byte
	file        string

	inTx           bool
	txFile         string
	txPos          uint64
	events         int64 // events of the transaction completed so far, its first included
	gtid           string
	gtidSet        replication.GTIDSet
	restartGtids   string
	thread         int64
	query          string
	skipEvents     int64
	skipRows       int64
	skipping       bool
	committedFile  string
	committedPos   uint64
	lastTS         uint32
	warnedMismatch map[string]bool
	// tx is the transaction whose metadata is being written (provide.transaction.metadata).
	tx *txn
}

// dumpConn opens the replication connection and asks for the binlog from p.
func (e *engine) dumpConn(ctx context.Context, p position) (*vtmysql.Conn, error) {
	c, err := e.connect(ctx, false)
	if err != nil {
		return nil, err
	}
	stmts := []string{"SET @master_binlog_checksum = @@global.binlog_checksum", "SET @master_heartbeat_period = 10000000000"}
	if e.mariadb {
		stmts = append(stmts, "SET @mariadb_slave_capability = 4")
	}
	for _, q := range stmts {
		if _, err := c.ExecuteFetch(q, 0, false); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	var flags uint16
	if e.mariadb && e.cfg.IncludeQuery {
		flags |= 0x02 // BINLOG_SEND_ANNOTATE_ROWS_EVENT: MariaDB sends the statements of row events
	}
	if err := c.WriteComBinlogDump(e.cfg.ServerID, p.file, p.pos, flags); err != nil {
		c.Close()
		return nil, fmt.Errorf("requesting the binlog from %s:%d: %w", p.file, p.pos, err)
	}
	return c, nil
}

// stream reads the binlog from start until ctx is done.
func (e *engine) stream(ctx context.Context, start position, out cdc.Emitter) error {
	c, err := e.dumpConn(ctx, start)
	if err != nil {
		return err
	}
	defer c.Close()
	e.log.Info("streaming the binlog", "file", start.file, "pos", start.pos, "gtids", start.gtids, "event", start.events, "row", start.rows)
	q := newPacketQueue()
	stop := context.AfterFunc(ctx, func() { c.Close(); q.close() })
	defer stop()
	defer q.close()
	go func() {
		for {
			data, err := c.ReadPacket()
			if !q.push(packet{data, err}) || err != nil {
				return
			}
		}
	}()
	st := &streamState{tableMaps: map[uint64]*vtmysql.TableMap{}, tableMapRaw: map[uint64][]byte{}, file: start.file, committedFile: start.file, committedPos: start.pos,
		restartGtids: start.gtids, skipEvents: start.events, skipRows: start.rows, thread: -1, warnedMismatch: map[string]bool{}}
	if start.gtids != "" {
		var gs replication.GTIDSet
		if e.mariadb {
			gs, err = replication.ParseMariadbGTIDSet(start.gtids)
		} else {
			gs, err = replication.ParseMysql56GTIDSet(start.gtids)
		}
		if err == nil {
			st.gtidSet = gs
		}
	}
	var batch []cdc.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := out.Emit(ctx, batch...)
		batch = batch[:0]
		return err
	}
	var chunk []packet
	for {
		chunk = q.take(chunk[:0])
		if chunk == nil {
			return nil // ctx is done
		}
		for _, p := range chunk {
			if err := e.handlePacket(ctx, st, p, &batch); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if ferr := flush(); ferr != nil {
					return ferr
				}
				return err
			}
			if len(batch) >= e.cfg.MaxBatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if q.empty() {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// handlePacket handles one packet of the binlog stream, appending its records to batch.
func (e *engine) handlePacket(ctx context.Context, st *streamState, p packet, batch *[]cdc.Record) error {
	if p.err != nil {
		return fmt.Errorf("reading the binlog: %w", p.err)
	}
	if len(p.data) == 0 {
		return nil
	}
	switch p.data[0] {
	case 0x00:
	case 0xfe:
		return errors.New("the server ended the binlog stream")
	case 0xff:
		err := vtmysql.ParseErrorPacket(p.data)
		var se *sqlerror.SQLError
		if errors.As(err, &se) && (se.Num == sqlerror.ERSpecifiedAccessDenied || se.Num == sqlerror.ERAccessDeniedError) {
			return permanent("database.user %q may not read the binlog (it needs REPLICATION SLAVE): %s", e.cfg.User, se.Message)
		}
		if errors.As(err, &se) && se.Num == sqlerror.ERMasterFatalReadingBinlog {
			return permanent("the server cannot send the binlog from %s:%d: %s (the file may have been purged: snapshot.mode=when_needed snapshots again)", st.file, st.committedPos, se.Message)
		}
		return fmt.Errorf("reading the binlog: %w", err)
	default:
		return nil
	}
	recs, err := e.handleEvent(ctx, st, p.data[1:])
	if err != nil {
		return err
	}
	*batch = append(*batch, recs...)
	return nil
}

// packetQueue hands the reader's packets to the engine in chunks: one lock per packet for
// the reader, one per chunk for the engine, and the reader waits while maxQueued are queued.
type packetQueue struct {
	mu       sync.Mutex
	ready    sync.Cond // items arrived, or closed
	room     sync.Cond // items were taken, or closed
	items    []packet
	closed   bool
	maxQueue int
}

func newPacketQueue() *packetQueue {
	q := &packetQueue{maxQueue: 4096}
	q.ready.L, q.room.L = &q.mu, &q.mu
	return q
}

// push queues p; false once the queue is closed.
func (q *packetQueue) push(p packet) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) >= q.maxQueue && !q.closed {
		q.room.Wait()
	}
	if q.closed {
		return false
	}
	q.items = append(q.items, p)
	q.ready.Signal()
	return true
}

// take waits for packets and returns them all (appended to buf); nil once closed.
func (q *packetQueue) take(buf []packet) []packet {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.ready.Wait()
	}
	if len(q.items) == 0 {
		return nil
	}
	buf = append(buf, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	q.room.Signal()
	return buf
}

func (q *packetQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0
}

func (q *packetQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.ready.Broadcast()
	q.room.Broadcast()
	q.mu.Unlock()
}

var (
	reCreateTable = regexp.MustCompile("(?is)^\\s*CREATE\\s+(?:OR\\s+REPLACE\\s+)?(?:TEMPORARY\\s+)?TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(" + identRE + ")")
	reAlterTable  = regexp.MustCompile("(?is)^\\s*ALTER\\s+(?:ONLINE\\s+|IGNORE\\s+)*TABLE\\s+(?:IF\\s+EXISTS\\s+)?(" + identRE + ")(?:.*?\\bRENAME\\s+(?:TO\\s+|AS\\s+)?(" + identRE + "))?")
	reDropTable   = regexp.MustCompile("(?is)^\\s*DROP\\s+(?:TEMPORARY\\s+)?TABLES?\\s+(?:IF\\s+EXISTS\\s+)?(?:/\\*.*?\\*/\\s*)?(.*)$")
	reRename      = regexp.MustCompile("(?is)^\\s*RENAME\\s+TABLES?\\s+(.*)$")
	reTruncate    = regexp.MustCompile("(?is)^\\s*TRUNCATE\\s+(?:TABLE\\s+)?(" + identRE + ")")
	reIndex       = regexp.MustCompile("(?is)^\\s*(?:CREATE|DROP)\\s+(?:OR\\s+REPLACE\\s+)?(?:UNIQUE\\s+|FULLTEXT\\s+|SPATIAL\\s+)?INDEX\\s+.*?\\bON\\s+(" + identRE + ")")
	reDatabase    = regexp.MustCompile("(?is)^\\s*(?:CREATE|DROP|ALTER)\\s+(?:DATABASE|SCHEMA)\\s+(?:IF\\s+(?:NOT\\s+)?EXISTS\\s+)?(" + identPart + ")")
	reIdentStart  = regexp.MustCompile("^" + identPart)
	reTo          = regexp.MustCompile(`(?i)\s+TO\s+`)
)

const (
	identPart = "(?:`(?:[^`]|``)+`|[A-Za-z0-9_$\\x80-\\xff]+)"
	identRE   = identPart + "(?:\\s*\\.\\s*" + identPart + ")?"
)

func unquoteIdent(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return s
}

// splitName splits [db.]table, defaulting the database.
func splitName(s, db string) (string, string) {
	var ids []string
	rest := strings.TrimSpace(s)
	for rest != "" {
		loc := reIdentStart.FindStringIndex(rest)
		if loc == nil {
			break
		}
		ids = append(ids, unquoteIdent(rest[:loc[1]]))
		rest = strings.TrimLeft(rest[loc[1]:], " \t\n")
		if !strings.HasPrefix(rest, ".") {
			break
		}
		rest = strings.TrimLeft(rest[1:], " \t\n")
	}
	switch len(ids) {
	case 0:
		return db, ""
	case 1:
		return db, ids[0]
	}
	return ids[0], ids[1]
}

// affected lists the tables a DDL statement changes (db, table), and the databases whose
// every table it may change (a database dropped, or a statement the patterns do not know).
func affected(sql, db string) (tables [][2]string, dbs []string, truncate bool) {
	add := func(s string) {
		d, t := splitName(s, db)
		if t != "" {
			tables = append(tables, [2]string{d, t})
		}
	}
	switch {
	case reCreateTable.MatchString(sql):
		add(reCreateTable.FindStringSubmatch(sql)[1])
	case reAlterTable.MatchString(sql):
		m := reAlterTable.FindStringSubmatch(sql)
		add(m[1])
		if m[2] != "" {
			add(m[2])
		}
	case reDropTable.MatchString(sql):
		for _, part := range strings.Split(reDropTable.FindStringSubmatch(sql)[1], ",") {
			part = strings.TrimSpace(part)
			for _, suffix := range []string{" RESTRICT", " CASCADE", " restrict", " cascade"} {
				part = strings.TrimSuffix(part, suffix)
			}
			add(part)
		}
	case reRename.MatchString(sql):
		for _, pair := range strings.Split(reRename.FindStringSubmatch(sql)[1], ",") {
			for _, n := range reTo.Split(strings.TrimSpace(pair), 2) {
				add(n)
			}
		}
	case reTruncate.MatchString(sql):
		add(reTruncate.FindStringSubmatch(sql)[1])
		truncate = true
	case reIndex.MatchString(sql):
		add(reIndex.FindStringSubmatch(sql)[1])
	case reDatabase.MatchString(sql):
		dbs = append(dbs, unquoteIdent(reDatabase.FindStringSubmatch(sql)[1]))
	default:
		if db != "" {
			dbs = append(dbs, db)
		}
	}
	return tables, dbs, truncate
}

// isDDL reports whether a QUERY event's statement may change a table's schema.
func isDDL(sql string) bool {
	s := strings.ToUpper(strings.TrimSpace(stripComments(sql)))
	for _, p := range []string{"CREATE TABLE", "CREATE OR REPLACE TABLE", "CREATE TEMPORARY", "ALTER TABLE", "ALTER ONLINE", "ALTER IGNORE", "DROP TABLE", "DROP TEMPORARY",
		"RENAME TABLE", "TRUNCATE", "CREATE INDEX", "CREATE UNIQUE", "CREATE FULLTEXT", "CREATE SPATIAL", "CREATE OR REPLACE INDEX", "DROP INDEX",
		"CREATE DATABASE", "CREATE SCHEMA", "DROP DATABASE", "DROP SCHEMA", "ALTER DATABASE", "ALTER SCHEMA"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

var reComment = regexp.MustCompile(`(?s)^\s*/\*.*?\*/`)

func stripComments(s string) string {
	for {
		t := reComment.ReplaceAllString(s, "")
		if t == s {
			return s
		}
		s = t
	}
}

// handleEvent processes one binlog event and returns its records.
func (e *engine) handleEvent(ctx context.Context, st *streamState, buf []byte) ([]cdc.Record, error) {
	var ev vtmysql.BinlogEvent
	if e.mariadb {
		ev = vtmysql.NewMariadbBinlogEvent(buf)
	} else {
		ev = vtmysql.NewMysql56BinlogEvent(buf)
	}
	if !ev.IsValid() {
		return nil, e.badEvent(st, fmt.Errorf("invalid binlog event of %d bytes", len(buf)))
	}
	if ev.IsFormatDescription() {
		f, err := ev.Format()
		if err != nil {
			return nil, fmt.Errorf("reading the binlog's format description: %w", err)
		}
		st.format = f
		return nil, nil
	}
	if st.format.IsZero() {
		// The dump's fake ROTATE names the file asked for, which st.file already is.
		return nil, nil
	}
	ev, _, err := ev.StripChecksum(st.format)
	if err != nil {
		return nil, e.badEvent(st, err)
	}
	length := uint64(binary.LittleEndian.Uint32(buf[9:13]))
	next := ev.NextPosition()
	pos := uint64(0)
	if next >= length {
		pos = next - length
	}
	if ts := ev.Timestamp(); ts != 0 {
		st.lastTS = ts
		if e.env.Metrics != nil {
			e.env.Metrics.BehindSource(time.Since(time.Unix(int64(ts), 0)))
		}
	}
	var recs []cdc.Record
	defer func() {
		if st.inTx {
			st.events++
			if st.skipping {
				st.skipEvents--
				if st.skipEvents <= 0 {
					st.skipping = false
				}
			}
		}
	}()
	switch {
	case ev.IsRotate():
		// (vitess's NextLogFile expects the checksum still there; the event is stripped)
		name, p, err := "", uint64(0), error(nil)
		if b := ev.Bytes()[st.format.HeaderLength:]; len(b) > 8 {
			name, p = string(b[8:]), binary.LittleEndian.Uint64(b)
		} else {
			err = errors.New("short ROTATE event")
		}
		if err == nil {
			st.file = name
			if !st.inTx {
				st.committedFile, st.committedPos = name, p
			}
		}
	case ev.IsHeartbeat():
		if e.env.Metrics != nil {
			e.env.Metrics.BehindSource(0)
		}
	case ev.IsGTID():
		g, hasBegin, _, _, err := ev.GTID(st.format)
		if err != nil {
			return nil, e.badEvent(st, err)
		}
		// gtid.source.includes/excludes: only the GTIDs of the sources kept enter the offsets.
		if e.cfg.GTIDSources.Matches(gtidSource(g)) {
			if st.gtidSet != nil {
				st.restartGtids = gtidSetString(st.gtidSet)
				st.gtidSet = st.gtidSet.AddGTID(g)
			} else {
				st.gtidSet = g.GTIDSet()
			}
		}
		st.gtid = gtidString(g)
		if hasBegin {
			e.beginTx(st, pos)
		}
	case ev.IsXID():
		recs = e.commitTx(st, next, ev.Timestamp())
	case ev.IsQuery():
		q, err := ev.Query(st.format)
		if err != nil {
			return nil, e.badEvent(st, err)
		}
		sql := strings.TrimSpace(q.SQL)
		up := strings.ToUpper(sql)
		switch {
		case up == "BEGIN" || strings.HasPrefix(up, "XA START"):
			if !st.inTx {
				e.beginTx(st, pos)
			}
			st.thread = int64(binary.LittleEndian.Uint32(ev.Bytes()[st.format.HeaderLength:]))
		case up == "COMMIT" || up == "ROLLBACK" || strings.HasPrefix(up, "XA COMMIT") || strings.HasPrefix(up, "XA END") || strings.HasPrefix(up, "XA PREPARE"):
			if !strings.HasPrefix(up, "XA END") && !strings.HasPrefix(up, "XA PREPARE") {
				recs = e.commitTx(st, next, ev.Timestamp())
			}
		case isDDL(sql):
			wasTx := st.inTx
			st.inTx = false
			recs, err = e.handleDDL(ctx, st, q.Database, sql, pos, next, ev.Timestamp(), ev.ServerID())
			if err != nil {
				return nil, err
			}
			_ = wasTx
			st.committedFile, st.committedPos = st.file, next
			if st.gtidSet != nil {
				st.restartGtids = gtidSetString(st.gtidSet)
			}
			st.gtid = ""
		default:
			if !st.inTx {
				st.committedFile, st.committedPos = st.file, next
			}
		}
	case ev.IsTableMap():
		// A table's map repeats before each of its row events: parse it only when it changed.
		id := ev.TableID(st.format)
		body := ev.Bytes()[st.format.HeaderLength:]
		if prev, ok := st.tableMapRaw[id]; ok && bytes.Equal(prev, body) && st.tableMaps[id] != nil {
			break
		}
		tm, err := ev.TableMap(st.format)
		if err != nil {
			return nil, e.badEvent(st, err)
		}
		st.tableMaps[id] = tm
		st.tableMapRaw[id] = body
	case ev.IsWriteRows() || ev.IsUpdateRows() || ev.IsDeleteRows():
		recs, err = e.handleRows(st, ev, pos)
		if err != nil {
			return nil, err
		}
	case ev.IsRowsQuery():
		if e.cfg.IncludeQuery {
			st.query, _ = ev.RowsQuery(st.format)
		}
	case int(buf[4]) == eventAnnotateRows:
		if e.cfg.IncludeQuery {
			b := ev.Bytes()[st.format.HeaderLength:]
			st.query = string(b)
		}
	case ev.IsPartialUpdateRows():
		return nil, e.badEvent(st, errors.New("partial JSON updates (binlog_row_value_options=PARTIAL_JSON) are not supported: unset binlog_row_value_options"))
	case ev.IsTransactionPayload():
		return nil, e.badEvent(st, errors.New("compressed transactions (binlog_transaction_compression=ON) are not supported"))
	default:
		if !st.inTx {
			st.committedFile, st.committedPos = st.file, next
		}
	}
	return recs, nil
}

func gtidSource(g replication.GTID) string {
	s := gtidString(g)
	if i := strings.LastIndexAny(s, ":-"); i > 0 {
		return s[:i]
	}
	return s
}

func (e *engine) beginTx(st *streamState, pos uint64) {
	st.inTx = true
	st.txFile, st.txPos = st.file, pos
	st.events = 0
	st.query = ""
	if st.skipEvents > 0 {
		st.skipping = true
	}
}

func (e *engine) commitTx(st *streamState, next uint64, ts uint32) []cdc.Record {
	var recs []cdc.Record
	if st.tx != nil {
		off := e.streamOffset(st.file, next, "", 0, 0, ts)
		if st.gtidSet != nil {
			off["gtids"] = gtidSetString(st.gtidSet)
		}
		recs = append(recs, st.tx.end(e, time.Now(), off))
		st.tx = nil
	}
	st.inTx = false
	st.committedFile, st.committedPos = st.file, next
	st.events = 0
	st.skipping, st.skipEvents, st.skipRows = false, 0, 0
	if st.gtidSet != nil {
		st.restartGtids = gtidSetString(st.gtidSet)
	}
	st.thread = -1
	st.query = ""
	return recs
}

func (e *engine) badEvent(st *streamState, err error) error {
	switch e.cfg.FailureMode {
	case debezium.FailureWarn:
		e.log.Warn("skipping a binlog event that cannot be decoded", "file", st.file, "error", err)
		return nil
	case debezium.FailureIgnore:
		return nil
	}
	return permanent("a binlog event in %s cannot be decoded (event.deserialization.failure.handling.mode=fail): %v", st.file, err)
}

// handleRows turns a row event into change events.
func (e *engine) handleRows(st *streamState, ev vtmysql.BinlogEvent, pos uint64) ([]cdc.Record, error) {
	tm := st.tableMaps[ev.TableID(st.format)]
	if tm == nil {
		return nil, e.badEvent(st, errors.New("a row event without its table map"))
	}
	skipRows := int64(0)
	if st.skipping {
		return nil, nil
	}
	if st.skipRows > 0 {
		skipRows, st.skipRows = st.skipRows, 0
	}
	t := e.tables[tm.Database+"."+tm.Name]
	if t == nil || t.dbz == nil {
		return nil, nil
	}
	rows, err := ev.Rows(st.format, tm)
	if err != nil {
		return nil, e.badEvent(st, err)
	}
	if len(tm.Types) != len(t.def.Columns) && !st.warnedMismatch[t.dbz.ID] {
		st.warnedMismatch[t.dbz.ID] = true
		e.log.Warn("a row event's column count differs from the table's known schema; columns are matched by position", "table", t.dbz.ID,
			"event_columns", len(tm.Types), "schema_columns", len(t.def.Columns))
	}
	op := debezium.OpCreate
	switch {
	case ev.IsUpdateRows():
		op = debezium.OpUpdate
	case ev.IsDeleteRows():
		op = debezium.OpDelete
	}
	n := len(rows.Rows)
	var recs []cdc.Record
	now := time.Now()
	if e.cfg.TransactionMetadata && st.inTx && st.tx == nil {
		id := st.gtid
		if id == "" {
			id = fmt.Sprintf("file=%s,pos=%d", st.txFile, st.txPos)
		}
		st.tx = &txn{id: id, perTable: map[string]int64{}}
		recs = append(recs, st.tx.begin(e, now))
	}
	for i := int(skipRows); i < n; i++ {
		r := rows.Rows[i]
		var before, after []any
		switch op {
		case debezium.OpCreate:
			after, err = e.decodeRow(t, tm, rows.DataColumns, r.NullColumns, r.Data)
		case debezium.OpDelete:
			before, err = e.decodeRow(t, tm, rows.IdentifyColumns, r.NullIdentifyColumns, r.Identify)
		default:
			before, err = e.decodeRow(t, tm, rows.IdentifyColumns, r.NullIdentifyColumns, r.Identify)
			if err == nil {
				after, err = e.decodeRow(t, tm, rows.DataColumns, r.NullColumns, r.Data)
			}
		}
		if err != nil {
			if berr := e.badEvent(st, err); berr != nil {
				return nil, berr
			}
			continue
		}
		restartRows := int64(i + 1)
		src := e.source(t, st, ev.Timestamp(), ev.ServerID(), pos, i)
		off := e.streamOffset(st.txFile, st.txPos, st.restartGtids, st.events, restartRows, ev.Timestamp())
		if !st.inTx {
			off = e.streamOffset(st.committedFile, st.committedPos, st.restartGtids, 0, 0, ev.Timestamp())
		}
		var block *data.Struct
		if st.tx != nil {
			block = st.tx.event(t.dbz.ID)
		}
		recs = append(recs, cdc.Records(e.cfg.Config, cdc.Event{Table: t.dbz, Op: op, Before: before, After: after, Source: src,
			Txn: block, Partition: e.partition(), Offset: off}, now)...)
	}
	if e.env.Metrics != nil {
		e.env.Metrics.Polled(n - int(skipRows))
	}
	return recs, nil
}

// decodeRow decodes one row image of a row event into the table's event values.
func (e *engine) decodeRow(t *table, tm *vtmysql.TableMap, present vtmysql.Bitmap, nulls vtmysql.Bitmap, data []byte) (vals []any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoding a row of %s: %v", t.dbz.ID, r)
		}
	}()
	t.prepare()
	vals = e.slab.values(len(t.cols))
	pos, vi := 0, 0
	for c := 0; c < present.Count(); c++ {
		if !present.Bit(c) {
			continue
		}
		if nulls.Bit(vi) {
			vi++
			continue
		}
		vi++
		if c < len(t.fast) && t.fast[c].kind != fastNone {
			if x, l, ok := t.fast[c].decode(data, pos, tm.Types[c], tm.Metadata[c]); ok {
				pos += l
				if o := t.out[c]; o >= 0 {
					vals[o] = x
				}
				continue
			}
		}
		field := fieldAny
		if c < len(t.fields) {
			field = t.fields[c]
		}
		v, l, err := binlog.CellValue(data, pos, tm.Types[c], tm.Metadata[c], field, false)
		if err != nil {
			return nil, fmt.Errorf("decoding column %d of %s: %w", c, t.dbz.ID, err)
		}
		pos += l
		if c < len(t.out) && t.out[c] >= 0 {
			o := t.out[c]
			x, err := t.conv[o](v.Raw(), true)
			if err != nil {
				return nil, fmt.Errorf("column %s of %s: %w", t.def.Columns[c].Name, t.dbz.ID, err)
			}
			vals[o] = x
		}
	}
	return vals, nil
}

var fieldAny = &querypb.Field{Type: querypb.Type_INT64}

// prepare computes the binlog decoding helpers of a table.
func (t *table) prepare() {
	if t.out != nil {
		return
	}
	t.out = make([]int, len(t.def.Columns))
	t.fields = make([]*querypb.Field, len(t.def.Columns))
	for i := range t.out {
		t.out[i] = -1
		t.fields[i] = binlogField(t.def.Columns[i])
	}
	t.fast = make([]fastCol, len(t.def.Columns))
	for o, ci := range t.cols {
		t.out[ci] = o
		// Zero dates take the slow path (fast decoding refuses them), where a NOT NULL
		// column's zero date becomes the epoch.
		t.fast[ci] = fastColumn(t.def.Columns[ci], t.dbz.Columns[o].Schema)
	}
}

// boxed caches the boxed values source blocks share, so that a row's source block costs a
// few allocations rather than one per field.
type boxed struct {
	version, connector, name, snapshot any
	file                               string
	fileAny                            any
	gtid                               string
	gtidAny                            any
	serverID                           uint32
	serverAny                          any
}

// source is a streamed row's source block (debezium.MySQLSource), as MySQLSourceInfo.Struct
// builds it.
func (e *engine) source(t *table, st *streamState, ts, serverID uint32, pos uint64, row int) *data.Struct {
	b := &e.box
	if b.version == nil {
		b.version, b.connector, b.name, b.snapshot = debezium.Version, "mysql", e.cfg.Prefix, "false"
	}
	if b.fileAny == nil || b.file != st.file {
		b.file, b.fileAny = st.file, st.file
	}
	if b.gtidAny == nil || b.gtid != st.gtid {
		b.gtid, b.gtidAny = st.gtid, st.gtid
	}
	if b.serverAny == nil || b.serverID != serverID {
		b.serverID, b.serverAny = serverID, int64(serverID)
	}
	if t.dbAny == nil {
		t.dbAny, t.nameAny = t.db, t.name
	}
	v := e.slab.values(len(debezium.MySQLSource.Fields))
	ms := int64(ts) * 1000
	v[0], v[1], v[2], v[3], v[4], v[5] = b.version, b.connector, b.name, ms, b.snapshot, t.dbAny
	v[7], v[8] = ms*1000, ms*1_000_000
	v[9], v[10] = t.nameAny, b.serverAny
	if st.gtid != "" {
		v[11] = b.gtidAny
	}
	v[12], v[13], v[14] = b.fileAny, int64(pos), int32(row)
	if st.thread >= 0 {
		v[15] = st.thread
	}
	if st.query != "" {
		v[16] = st.query
	}
	st2 := e.slab.structure()
	st2.Schema, st2.Values = debezium.MySQLSource, v
	return st2
}

// slab hands out the small values of streamed events from larger allocations: a row's
// values, its source block. Handed-out values are never reused.
type slab struct {
	anys    []any
	structs []data.Struct
}

func (s *slab) values(n int) []any {
	if len(s.anys) < n {
		s.anys = make([]any, 4096)
	}
	v := s.anys[:n:n]
	s.anys = s.anys[n:]
	return v
}

func (s *slab) structure() *data.Struct {
	if len(s.structs) == 0 {
		s.structs = make([]data.Struct, 256)
	}
	st := &s.structs[0]
	s.structs = s.structs[1:]
	return st
}
