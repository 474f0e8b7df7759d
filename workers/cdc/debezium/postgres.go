package debezium

import (
	"regexp"
	"strings"
	"time"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// PostgresConnector is Debezium's PostgreSQL connector class.
const PostgresConnector = "io.debezium.connector.postgresql.PostgresConnector"

// PostgreSQL's enumerated settings.
const (
	PublicationAllTables = "all_tables"
	PublicationDisabled  = "disabled"
	PublicationFiltered  = "filtered"
	PublicationNoTables  = "no_tables"

	// TimeMicroseconds and TimeNanoseconds are Debezium 3's time.precision.mode values
	// microseconds (MicroTime, MicroTimestamp) and nanoseconds (NanoTime, NanoTimestamp).
	TimeMicroseconds = "microseconds"
	TimeNanoseconds  = "nanoseconds"

	IntervalNumeric = "numeric"
	IntervalString  = "string"

	// UnavailableValue is Debezium's unavailable.value.placeholder default: what an unchanged
	// TOASTed column carries in an update event.
	UnavailableValue = "__debezium_unavailable_value"
)

// PostgresKeys are the PostgreSQL connector's own keys (CommonKeys excluded), in
// documentation order.
var PostgresKeys = []Key{
	{Name: "database.hostname", Type: "STRING", Required: true, Doc: "The database server's host."},
	{Name: "database.port", Type: "INT", Default: "5432", Doc: "The database server's port."},
	{Name: "database.user", Type: "STRING", Required: true, Doc: "The connector's user: it needs the REPLICATION attribute (or superuser), CONNECT on the database and SELECT on the captured tables."},
	{Name: "database.password", Type: "PASSWORD", Password: true, Doc: "The connector's user's password."},
	{Name: "database.dbname", Type: "STRING", Required: true, Doc: "The database to capture."},
	{Name: "database.sslmode", Type: "STRING", Default: "prefer", Doc: "disable, allow, prefer, require, verify-ca or verify-full."},
	{Name: "database.sslrootcert", Type: "STRING", Doc: "File of the certificate authorities that verify the server (verify-ca, verify-full)."},
	{Name: "plugin.name", Type: "STRING", Default: "pgoutput", Doc: "The logical decoding plugin: pgoutput (decoderbufs is not supported)."},
	{Name: "slot.name", Type: "STRING", Default: "debezium", Doc: "The logical replication slot: lower-case letters, digits and underscores, at most 63."},
	{Name: "slot.drop.on.stop", Type: "BOOLEAN", Default: "false", Doc: "Drop the slot when the task stops cleanly."},
	{Name: "publication.name", Type: "STRING", Default: "dbz_publication", Doc: "The publication pgoutput streams."},
	{Name: "publication.autocreate.mode", Type: "STRING", Default: PublicationAllTables, Doc: "When the publication is missing: all_tables (FOR ALL TABLES), disabled (fail), filtered (FOR TABLE the captured tables; an existing one is set to them), no_tables (no table)."},
	{Name: "schema.include.list", Type: "LIST", Aliases: []string{"schema.whitelist"}, Doc: "Regular expressions of the schemas captured."},
	{Name: "schema.exclude.list", Type: "LIST", Aliases: []string{"schema.blacklist"}, Doc: "Regular expressions of the schemas not captured."},
	{Name: "time.precision.mode", Type: "STRING", Default: TimeAdaptive, Doc: "adaptive, adaptive_time_microseconds, connect, isostring, microseconds or nanoseconds."},
	{Name: "interval.handling.mode", Type: "STRING", Default: IntervalNumeric, Doc: "INTERVAL as numeric (io.debezium.time.MicroDuration) or string (io.debezium.time.Interval)."},
	{Name: "money.fraction.digits", Type: "INT", Default: "2", Doc: "Scale of MONEY values as Decimal."},
	{Name: "include.unknown.datatypes", Type: "BOOLEAN", Default: "false", Doc: "Columns of types without a mapping appear as bytes of their text form instead of being left out."},
	{Name: "unavailable.value.placeholder", Type: "STRING", Default: UnavailableValue, Doc: "What an unchanged TOASTed column carries in an update event."},
	{Name: "snapshot.isolation.mode", Type: "STRING", Default: "serializable", Doc: "The snapshot transaction's isolation: serializable or repeatable_read (read_committed and read_uncommitted cannot read the slot's exported snapshot)."},
	{Name: "status.update.interval.ms", Type: "INT", Default: "10000", Doc: "How often the flushed LSN is confirmed to the server."},
}

// PostgresSource is the PostgreSQL source block's schema name.
const PostgresSource = "io.debezium.connector.postgresql.Source"

// PostgresSourceSchema is the PostgreSQL source block (PostgresSourceInfoStructMaker): the
// common fields, then schema, table, txId, lsn, xmin, origin, origin_lsn.
var PostgresSourceSchema = SourceSchema(PostgresSource,
	data.Field{Name: "schema", Schema: data.StringSchema},
	data.Field{Name: "table", Schema: data.StringSchema},
	data.Field{Name: "txId", Schema: data.OptionalInt64Schema},
	data.Field{Name: "lsn", Schema: data.OptionalInt64Schema},
	data.Field{Name: "xmin", Schema: data.OptionalInt64Schema},
	data.Field{Name: "origin", Schema: data.OptionalStringSchema},
	data.Field{Name: "origin_lsn", Schema: data.OptionalInt64Schema},
)

// PostgresConfig is a PostgreSQL connector's configuration.
type PostgresConfig struct {
	*Config
	Hostname, User, Password, DBName string
	Port                             int
	SSLMode, SSLRootCert             string
	Slot                             string
	DropSlotOnStop                   bool
	Publication                      string
	PublicationMode                  string
	// Schemas filters schema names.
	Schemas             Filter
	IntervalMode        string
	MoneyFractionDigits int
	IncludeUnknown      bool
	Unavailable         string
	// SnapshotIsolation is the snapshot transaction's SQL isolation level.
	SnapshotIsolation string
	StatusInterval    time.Duration
}

var (
	slotRE        = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	publicationRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,62}$`)
)

// ParsePostgres reads a PostgreSQL connector's configuration; Errors lists every problem.
func ParsePostgres(m map[string]string) (*PostgresConfig, Errors) {
	p := &Parser{M: m}
	c := &PostgresConfig{Config: ParseCommon(p, TimeAdaptive, []string{TimeAdaptive, TimeAdaptiveMicroseconds, TimeConnect, TimeIsoString, TimeMicroseconds, TimeNanoseconds})}
	if c.SnapshotMode == "recovery" {
		p.Fail("snapshot.mode", "Invalid value %s for configuration snapshot.mode: the PostgreSQL connector has no schema history to recover", m["snapshot.mode"])
	}
	c.Hostname = p.Required("database.hostname")
	c.Port = int(p.Int("database.port", 5432, 1))
	if c.Port > 65535 {
		p.Fail("database.port", "Invalid value %d for configuration database.port: Value must be at most 65535", c.Port)
	}
	c.User = p.Required("database.user")
	c.Password = p.M["database.password"]
	c.DBName = p.Required("database.dbname")
	c.SSLMode = p.Enum("database.sslmode", "prefer", []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
	c.SSLRootCert = p.Str("database.sslrootcert", "")
	if v := p.Str("plugin.name", "pgoutput"); strings.ToLower(v) != "pgoutput" {
		p.Fail("plugin.name", "Invalid value %s for configuration plugin.name: only pgoutput is supported (PostgreSQL's built-in plugin); %s is not", v, v)
	}
	c.Slot = p.Str("slot.name", "debezium")
	if !slotRE.MatchString(c.Slot) {
		p.Fail("slot.name", "Invalid value %s for configuration slot.name: Valid replication slot name must contain only digits, lowercase characters and underscores with length <= 63", c.Slot)
	}
	c.DropSlotOnStop = p.Bool("slot.drop.on.stop", false)
	c.Publication = p.Str("publication.name", "dbz_publication")
	if !publicationRE.MatchString(c.Publication) {
		p.Fail("publication.name", "Invalid value %s for configuration publication.name: a publication name is a letter or underscore, then letters, digits, underscores or dollars, at most 63", c.Publication)
	}
	c.PublicationMode = p.Enum("publication.autocreate.mode", PublicationAllTables, []string{PublicationAllTables, PublicationDisabled, PublicationFiltered, PublicationNoTables})
	c.Schemas = Filter{Include: p.Patterns("schema.include.list", "schema.whitelist"), Exclude: p.Patterns("schema.exclude.list", "schema.blacklist")}
	if _, ok := p.M["schema.include.list"]; ok {
		if _, ok := p.M["schema.exclude.list"]; ok {
			p.Fail("schema.exclude.list", "schema.include.list and schema.exclude.list cannot both be set")
		}
	}
	c.IntervalMode = p.Enum("interval.handling.mode", IntervalNumeric, []string{IntervalNumeric, IntervalString})
	c.MoneyFractionDigits = int(p.Int("money.fraction.digits", 2, 0))
	c.IncludeUnknown = p.Bool("include.unknown.datatypes", false)
	c.Unavailable = p.Str("unavailable.value.placeholder", UnavailableValue)
	switch iso := p.Enum("snapshot.isolation.mode", "serializable", []string{"serializable", "repeatable_read", "read_committed", "read_uncommitted"}); iso {
	case "serializable":
		c.SnapshotIsolation = "SERIALIZABLE"
	case "repeatable_read":
		c.SnapshotIsolation = "REPEATABLE READ"
	default:
		p.Fail("snapshot.isolation.mode", "Invalid value %s for configuration snapshot.isolation.mode: %s cannot read the replication slot's exported snapshot; use serializable or repeatable_read", iso, iso)
	}
	c.StatusInterval = time.Duration(p.Int("status.update.interval.ms", 10000, 1)) * time.Millisecond
	return c, p.Errs
}
