package debezium

import (
	"strings"
	"time"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// MySQLConnector is Debezium's MySQL connector class (MySQL and MariaDB).
const MySQLConnector = "io.debezium.connector.mysql.MySqlConnector"

// The MySQL connector's enumerated settings.
const (
	BigintLong    = "long"
	BigintPrecise = "precise"

	LockingMinimal = "minimal"
	LockingNone    = "none"

	SSLDisabled  = "disabled"
	SSLPreferred = "preferred"
	SSLRequired  = "required"

	FailureFail   = "fail"
	FailureWarn   = "warn"
	FailureIgnore = "ignore"
)

// MySQLKeys are the MySQL connector's own keys (CommonKeys excluded), in documentation order.
// Every key listed takes effect; a value Fjord cannot honor is refused naming the key.
var MySQLKeys = []Key{
	{Name: "database.hostname", Type: "STRING", Required: true, Doc: "The database server's host."},
	{Name: "database.port", Type: "INT", Default: "3306", Doc: "The database server's port."},
	{Name: "database.user", Type: "STRING", Required: true, Doc: "The connector's user: it needs SELECT, RELOAD (or LOCK TABLES), REPLICATION SLAVE and REPLICATION CLIENT."},
	{Name: "database.password", Type: "PASSWORD", Password: true, Doc: "The connector's user's password."},
	{Name: "database.server.id", Type: "LONG", Required: true, Doc: "The replica server id the connector reads the binlog as; unique among the server's replicas."},
	{Name: "database.include.list", Type: "LIST", Aliases: []string{"database.whitelist"}, Doc: "Regular expressions of the databases captured (matched whole, case-insensitive)."},
	{Name: "database.exclude.list", Type: "LIST", Aliases: []string{"database.blacklist"}, Doc: "Regular expressions of databases not captured."},
	{Name: "include.schema.changes", Type: "BOOLEAN", Default: "true", Doc: "Schema changes (DDL) are written to the schema change topic <topic.prefix>, keyed by database name."},
	{Name: "schema.history.internal.kafka.topic", Type: "STRING", Required: true, Aliases: []string{"database.history.kafka.topic"},
		Doc: "The topic of the connector's schema history, from which a restarted task rebuilds the tables' schemas. Debezium 1.x names it database.history.kafka.topic."},
	{Name: "schema.history.internal.kafka.bootstrap.servers", Type: "LIST", Required: true, Aliases: []string{"database.history.kafka.bootstrap.servers"},
		Doc: "The Kafka cluster of the schema history topic. Debezium 1.x names it database.history.kafka.bootstrap.servers."},
	{Name: "bigint.unsigned.handling.mode", Type: "STRING", Default: BigintLong, Doc: "BIGINT UNSIGNED as long (int64; values above 2^63-1 wrap) or precise (Connect Decimal, scale 0)."},
	{Name: "time.precision.mode", Type: "STRING", Default: TimeAdaptiveMicroseconds, Doc: "adaptive_time_microseconds (Date, MicroTime, Timestamp/MicroTimestamp by the column's precision) or connect (Connect's Date, Time, Timestamp)."},
	{Name: "snapshot.locking.mode", Type: "STRING", Default: LockingMinimal, Doc: "minimal: a global read lock (FLUSH TABLES WITH READ LOCK) only while the binlog position and the schemas are read, then a consistent-snapshot transaction; none: no lock (no DDL may run during the snapshot)."},
	{Name: "gtid.source.includes", Type: "LIST", Doc: "Regular expressions of the GTID sources (MySQL server UUIDs, MariaDB domain-server) whose GTIDs the offsets keep."},
	{Name: "gtid.source.excludes", Type: "LIST", Doc: "Regular expressions of GTID sources the offsets leave out."},
	{Name: "database.ssl.mode", Type: "STRING", Default: SSLPreferred, Aliases: []string{"database.sslMode"}, Doc: "disabled, preferred (TLS when the server offers it) or required (fail without TLS). verify_ca and verify_identity are refused."},
	{Name: "connect.timeout.ms", Type: "LONG", Default: "30000", Doc: "The longest wait for a connection to the database."},
	{Name: "include.query", Type: "BOOLEAN", Default: "false", Doc: "The source block's query field carries the statement of each row event (needs binlog_annotate_row_events on MariaDB, binlog_rows_query_log_events on MySQL)."},
	{Name: "event.deserialization.failure.handling.mode", Type: "STRING", Default: FailureFail, Doc: "A binlog event that cannot be decoded: fail (the task fails), warn (logged and skipped) or ignore (skipped)."},
	{Name: "schema.history.internal.store.only.captured.tables.ddl", Type: "BOOLEAN", Default: "false", Aliases: []string{"database.history.store.only.captured.tables.ddl"}, Doc: "The schema history keeps only the DDL of captured tables."},
}

// MySQLConfig is a MySQL connector's configuration.
type MySQLConfig struct {
	*Config
	Hostname string
	Port     int
	User     string
	Password string
	ServerID uint32
	// Databases filters database names.
	Databases            Filter
	IncludeSchemaChanges bool
	HistoryTopic         string
	HistoryBootstrap     []string
	BigintUnsignedMode   string
	LockingMode          string
	// GTIDSources filters GTID sources.
	GTIDSources       Filter
	SSLMode           string
	ConnectTimeout    time.Duration
	IncludeQuery      bool
	FailureMode       string
	HistoryOnlyTables bool
}

// ParseMySQL reads a MySQL connector's configuration; Errors lists every problem.
func ParseMySQL(m map[string]string) (*MySQLConfig, Errors) {
	p := &Parser{M: m}
	c := &MySQLConfig{Config: ParseCommon(p, TimeAdaptiveMicroseconds, []string{TimeAdaptiveMicroseconds, TimeConnect})}
	c.Hostname = p.Required("database.hostname")
	c.Port = int(p.Int("database.port", 3306, 1))
	if c.Port > 65535 {
		p.Fail("database.port", "Invalid value %d for configuration database.port: must be a TCP port (1-65535)", c.Port)
	}
	c.User = p.Required("database.user")
	c.Password = p.Str("database.password", "")
	if _, v, ok := p.Lookup("database.server.id"); !ok || v == "" {
		p.Fail("database.server.id", `Missing required configuration "database.server.id" which has no default value. (The replica server id the connector reads the binlog as: a number unique among the server's replicas.)`)
	} else {
		id := p.Int("database.server.id", 0, 1)
		if id > 1<<32-1 {
			p.Fail("database.server.id", "Invalid value %d for configuration database.server.id: must be at most 4294967295", id)
		}
		c.ServerID = uint32(id)
	}
	c.Databases = Filter{Include: p.Patterns("database.include.list", "database.whitelist"), Exclude: p.Patterns("database.exclude.list", "database.blacklist")}
	if _, _, inc := p.Lookup("database.include.list", "database.whitelist"); inc {
		if _, _, exc := p.Lookup("database.exclude.list", "database.blacklist"); exc {
			p.Fail("database.exclude.list", "database.include.list and database.exclude.list cannot both be set")
		}
	}
	c.IncludeSchemaChanges = p.Bool("include.schema.changes", true)
	k, v, ok := p.Lookup("schema.history.internal.kafka.topic", "database.history.kafka.topic")
	if !ok || v == "" {
		p.Fail("schema.history.internal.kafka.topic", `Missing required configuration "schema.history.internal.kafka.topic" which has no default value. (Debezium 1.x configurations name it database.history.kafka.topic.)`)
	} else if !topicRE.MatchString(v) {
		p.Fail(k, "Invalid value %s for configuration %s: not a valid topic name", v, k)
	}
	c.HistoryTopic = v
	_, v, ok = p.Lookup("schema.history.internal.kafka.bootstrap.servers", "database.history.kafka.bootstrap.servers")
	c.HistoryBootstrap = SplitList(v)
	if !ok || len(c.HistoryBootstrap) == 0 {
		p.Fail("schema.history.internal.kafka.bootstrap.servers", `Missing required configuration "schema.history.internal.kafka.bootstrap.servers" which has no default value. (Debezium 1.x configurations name it database.history.kafka.bootstrap.servers.)`)
	}
	if v := p.Str("schema.history.internal", "", "database.history"); v != "" && v != "io.debezium.storage.kafka.history.KafkaSchemaHistory" && v != "io.debezium.relational.history.KafkaDatabaseHistory" {
		p.Fail("schema.history.internal", "Invalid value %s for configuration schema.history.internal: Fjord keeps the schema history in Kafka only (io.debezium.storage.kafka.history.KafkaSchemaHistory)", v)
	}
	c.BigintUnsignedMode = p.Enum("bigint.unsigned.handling.mode", BigintLong, []string{BigintLong, BigintPrecise})
	c.LockingMode = p.Enum("snapshot.locking.mode", LockingMinimal, []string{LockingMinimal, LockingNone})
	c.GTIDSources = Filter{Include: p.Patterns("gtid.source.includes"), Exclude: p.Patterns("gtid.source.excludes")}
	if len(c.GTIDSources.Include) > 0 && len(c.GTIDSources.Exclude) > 0 {
		p.Fail("gtid.source.excludes", "gtid.source.includes and gtid.source.excludes cannot both be set")
	}
	c.SSLMode = p.Enum("database.ssl.mode", SSLPreferred, []string{SSLDisabled, SSLPreferred, SSLRequired}, "database.sslMode")
	c.ConnectTimeout = time.Duration(p.Int("connect.timeout.ms", 30000, 1)) * time.Millisecond
	c.IncludeQuery = p.Bool("include.query", false)
	mode := p.Enum("event.deserialization.failure.handling.mode", FailureFail, []string{FailureFail, FailureWarn, FailureIgnore, "skip"})
	if mode == "skip" {
		mode = FailureIgnore
	}
	c.FailureMode = mode
	c.HistoryOnlyTables = p.Bool("schema.history.internal.store.only.captured.tables.ddl", false, "database.history.store.only.captured.tables.ddl")
	return c, p.Errs
}

var topicRE = prefixRE

// CapturesTable reports whether table <db>.<table> is captured: its database passes the
// database filters and the table the table filters. MySQL's system databases never are.
func (c *MySQLConfig) CapturesTable(db, table string) bool {
	if MySQLSystemDatabase(db) || !c.Databases.Matches(db) {
		return false
	}
	return c.Tables.Matches(db + "." + table)
}

// CapturesDatabase reports whether a database's changes may be captured.
func (c *MySQLConfig) CapturesDatabase(db string) bool {
	return !MySQLSystemDatabase(db) && c.Databases.Matches(db)
}

// MySQLSystemDatabase reports whether db is one of the server's own databases, which Debezium
// never captures.
func MySQLSystemDatabase(db string) bool {
	switch strings.ToLower(db) {
	case "mysql", "information_schema", "performance_schema", "sys":
		return true
	}
	return false
}

// MySQLSourceName is the MySQL connector's source block schema name.
const MySQLSourceName = "io.debezium.connector.mysql.Source"

// MySQLSource is the MySQL connector's source block schema (BinlogSourceInfoStructMaker):
// the common fields, then table, server_id, gtid, file, pos, row, thread, query.
var MySQLSource = SourceSchema(MySQLSourceName,
	data.Field{Name: "table", Schema: data.OptionalStringSchema},
	data.Field{Name: "server_id", Schema: data.Int64Schema},
	data.Field{Name: "gtid", Schema: data.OptionalStringSchema},
	data.Field{Name: "file", Schema: data.StringSchema},
	data.Field{Name: "pos", Schema: data.Int64Schema},
	data.Field{Name: "row", Schema: data.Int32Schema},
	data.Field{Name: "thread", Schema: data.OptionalInt64Schema},
	data.Field{Name: "query", Schema: data.OptionalStringSchema},
)

// MySQLSourceInfo is one source block's values.
type MySQLSourceInfo struct {
	Name     string
	TS       time.Time
	Snapshot string // "false", "true", "first", "last" …
	DB       string
	Table    string // "" : null
	ServerID int64
	GTID     string // "": null
	File     string
	Pos      int64
	Row      int32
	Thread   int64 // < 0: null
	Query    string
}

// Struct is the source block.
func (s *MySQLSourceInfo) Struct() *data.Struct {
	st := data.NewStruct(MySQLSource)
	v := st.Values
	v[0] = Version
	v[1] = "mysql"
	v[2] = s.Name
	v[3] = s.TS.UnixMilli()
	snap := s.Snapshot
	if snap == "" {
		snap = "false"
	}
	v[4] = snap
	v[5] = s.DB
	v[7] = s.TS.UnixMicro()
	v[8] = s.TS.UnixNano()
	if s.Table != "" {
		v[9] = s.Table
	}
	v[10] = s.ServerID
	if s.GTID != "" {
		v[11] = s.GTID
	}
	v[12] = s.File
	v[13] = s.Pos
	v[14] = s.Row
	if s.Thread >= 0 {
		v[15] = s.Thread
	}
	if s.Query != "" {
		v[16] = s.Query
	}
	return st
}
