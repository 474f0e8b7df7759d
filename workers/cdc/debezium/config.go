// Package debezium is what Fjord's CDC connectors share with Debezium, and what the control
// plane validates a Debezium connector configuration with at creation: the connectors'
// configuration keys (common ones here, each connector's in mysql.go and postgres.go), and
// the shape of Debezium's records — topic names, key, value and envelope schemas, the source
// block — so that Fjord's events are the ones Debezium's consumers already parse.
//
// It is a leaf (TestLayout): it imports no Fjord package but the Connect data model.
package debezium

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Version is the Debezium version whose output Fjord's connectors reproduce; the source
// block's version field carries it.
const Version = "3.2.0.Final"

// Key is one configuration key of a Debezium connector.
type Key struct {
	Name     string
	Type     string // BOOLEAN, INT, LONG, STRING, LIST, PASSWORD, CLASS (Connect's ConfigDef types)
	Default  string
	Required bool
	Password bool
	Doc      string
	// Aliases are the older names of the key Debezium still accepts (database.server.name
	// for topic.prefix, database.history.* for schema.history.internal.*).
	Aliases []string
}

// FieldError is one problem with one key.
type FieldError struct {
	Key     string
	Message string
}

func (e FieldError) Error() string { return e.Key + ": " + e.Message }

// Errors is the problems of a configuration.
type Errors []FieldError

func (e Errors) Error() string {
	parts := make([]string, len(e))
	for i, f := range e {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

// Debezium's enumerated settings.
const (
	DecimalPrecise = "precise"
	DecimalDouble  = "double"
	DecimalString  = "string"

	TimeAdaptive             = "adaptive"
	TimeAdaptiveMicroseconds = "adaptive_time_microseconds"
	TimeConnect              = "connect"
	TimeIsoString            = "isostring"

	BinaryBytes         = "bytes"
	BinaryBase64        = "base64"
	BinaryBase64URLSafe = "base64-url-safe"
	BinaryHex           = "hex"

	SnapshotInitial     = "initial"
	SnapshotInitialOnly = "initial_only"
	SnapshotNoData      = "no_data"
	SnapshotWhenNeeded  = "when_needed"
	SnapshotNever       = "never"
	SnapshotAlways      = "always"
)

// CommonKeys are the keys both connectors accept, with Debezium's defaults; TimePrecisionMode's
// default is the connector's (mysql.go, postgres.go).
var CommonKeys = []Key{
	{Name: "topic.prefix", Type: "STRING", Required: true, Aliases: []string{"database.server.name"},
		Doc: "Prefix of every topic name; also the source offsets' partition (server) and the source block's name. Letters, digits, '.', '_' and '-'. Debezium 1.x's database.server.name is read when topic.prefix is absent."},
	{Name: "tombstones.on.delete", Type: "BOOLEAN", Default: "true", Doc: "A tombstone (the key, a null value) follows each delete event, so that compaction can drop the key."},
	{Name: "decimal.handling.mode", Type: "STRING", Default: DecimalPrecise, Doc: "DECIMAL/NUMERIC as precise (Connect Decimal), double or string."},
	{Name: "binary.handling.mode", Type: "STRING", Default: BinaryBytes, Doc: "Binary columns as bytes, base64, base64-url-safe or hex strings."},
	{Name: "snapshot.mode", Type: "STRING", Default: SnapshotInitial, Doc: "initial (snapshot, then stream), initial_only (snapshot, then stop), no_data (schema_only: stream from now), when_needed (snapshot when the stored offset is unusable), never (stream from the start of the log), always."},
	{Name: "table.include.list", Type: "LIST", Aliases: []string{"table.whitelist"}, Doc: "Regular expressions matched (whole, case-insensitive) against <database|schema>.<table>: only these tables are captured."},
	{Name: "table.exclude.list", Type: "LIST", Aliases: []string{"table.blacklist"}, Doc: "Regular expressions of tables not captured."},
	{Name: "column.include.list", Type: "LIST", Doc: "Regular expressions matched against <database|schema>.<table>.<column>: only these columns appear in events."},
	{Name: "column.exclude.list", Type: "LIST", Aliases: []string{"column.blacklist"}, Doc: "Regular expressions of columns left out of events."},
	{Name: "message.key.columns", Type: "STRING", Doc: "Custom keys: <table regex>:<column>,<column>;… instead of the primary key."},
	{Name: "provide.transaction.metadata", Type: "BOOLEAN", Default: "false", Doc: "Adds the transaction block to each event and writes BEGIN/END events to <topic.prefix>.<topic.transaction>."},
	{Name: "topic.transaction", Type: "STRING", Default: "transaction", Doc: "Suffix of the transaction metadata topic."},
	{Name: "skipped.operations", Type: "LIST", Default: "t", Doc: "Operations not emitted: c, u, d, t, or none."},
	{Name: "max.batch.size", Type: "INT", Default: "2048", Doc: "Most events handed to the runtime at once."},
	{Name: "max.queue.size", Type: "INT", Default: "8192", Doc: "Most events queued between the database reader and the producer."},
	{Name: "poll.interval.ms", Type: "LONG", Default: "500", Doc: "Longest wait for new events before a batch is handed over."},
	{Name: "snapshot.fetch.size", Type: "INT", Default: "10240", Doc: "Rows fetched per round trip while snapshotting."},
	{Name: "heartbeat.interval.ms", Type: "LONG", Default: "0", Doc: "Accepted; 0 (no heartbeat records)."},
}

// Config is the keys every Debezium connector shares, parsed.
type Config struct {
	// Prefix is topic.prefix (or database.server.name).
	Prefix             string
	TombstonesOnDelete bool
	DecimalMode        string
	TimePrecisionMode  string
	BinaryMode         string
	SnapshotMode       string
	// Tables filters <database|schema>.<table>; Columns filters <…>.<table>.<column>; the
	// connector adds its database (MySQL) or schema (PostgreSQL) filter to Tables.
	Tables, Columns Filter
	// KeyColumns is message.key.columns: per table pattern, the key columns.
	KeyColumns          []KeyColumns
	TransactionMetadata bool
	TransactionTopic    string
	// Skipped holds the operation codes not emitted ("c", "u", "d", "t").
	Skipped      map[string]bool
	MaxBatchSize int
	MaxQueueSize int
	PollInterval time.Duration
	FetchSize    int
}

// KeyColumns is one entry of message.key.columns.
type KeyColumns struct {
	Table   *regexp.Regexp
	Columns []string
}

// Filter is an include list and an exclude list of regular expressions, matched whole and
// case-insensitively as Debezium matches them.
type Filter struct {
	Include, Exclude []*regexp.Regexp
}

// Matches reports whether id passes the filter: it matches an include pattern (or there is
// none) and no exclude pattern.
func (f Filter) Matches(id string) bool {
	if len(f.Include) > 0 {
		ok := false
		for _, r := range f.Include {
			if r.MatchString(id) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, r := range f.Exclude {
		if r.MatchString(id) {
			return false
		}
	}
	return true
}

// Parser reads a configuration, collecting every problem.
type Parser struct {
	M    map[string]string
	Errs Errors
}

// Lookup returns key's value, or that of its first alias that is set.
func (p *Parser) Lookup(key string, aliases ...string) (string, string, bool) {
	if v, ok := p.M[key]; ok {
		return key, strings.TrimSpace(v), true
	}
	for _, a := range aliases {
		if v, ok := p.M[a]; ok {
			return a, strings.TrimSpace(v), true
		}
	}
	return key, "", false
}

// Fail records a problem with key.
func (p *Parser) Fail(key, format string, args ...any) {
	p.Errs = append(p.Errs, FieldError{Key: key, Message: fmt.Sprintf(format, args...)})
}

// Str is key's value or def.
func (p *Parser) Str(key, def string, aliases ...string) string {
	if _, v, ok := p.Lookup(key, aliases...); ok && v != "" {
		return v
	}
	return def
}

// Required is key's value; an absent or empty key is a problem, as Connect words it.
func (p *Parser) Required(key string, aliases ...string) string {
	_, v, ok := p.Lookup(key, aliases...)
	if !ok || v == "" {
		p.Fail(key, "Missing required configuration %q which has no default value.", key)
	}
	return v
}

// Bool is key's value as a boolean.
func (p *Parser) Bool(key string, def bool, aliases ...string) bool {
	k, v, ok := p.Lookup(key, aliases...)
	if !ok || v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	p.Fail(k, "Invalid value %s for configuration %s: Expected value to be either true or false", v, k)
	return def
}

// Int is key's value as an integer of at least min.
func (p *Parser) Int(key string, def, min int64, aliases ...string) int64 {
	k, v, ok := p.Lookup(key, aliases...)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.Fail(k, "Invalid value %s for configuration %s: Not a number of type LONG", v, k)
		return def
	}
	if n < min {
		p.Fail(k, "Invalid value %s for configuration %s: Value must be at least %d", v, k, min)
		return def
	}
	return n
}

// Enum is key's value, one of allowed (case-insensitive), lower-cased.
func (p *Parser) Enum(key, def string, allowed []string, aliases ...string) string {
	k, v, ok := p.Lookup(key, aliases...)
	if !ok || v == "" {
		return def
	}
	l := strings.ToLower(v)
	for _, a := range allowed {
		if l == a {
			return a
		}
	}
	p.Fail(k, "Invalid value %s for configuration %s: The '%s' value is invalid: must be one of %s", v, k, k, strings.Join(allowed, ", "))
	return def
}

// Patterns is key's value as a list of regular expressions, anchored and case-insensitive.
func (p *Parser) Patterns(key string, aliases ...string) []*regexp.Regexp {
	k, v, ok := p.Lookup(key, aliases...)
	if !ok || v == "" {
		return nil
	}
	var out []*regexp.Regexp
	for _, s := range SplitList(v) {
		r, err := regexp.Compile("(?i)^(?:" + s + ")$")
		if err != nil {
			p.Fail(k, "Invalid value %s for configuration %s: %q is not a valid regular expression: %v", v, k, s, err)
			continue
		}
		out = append(out, r)
	}
	return out
}

// SplitList splits a comma-separated list, trimming and dropping empty items. Debezium's
// lists of regular expressions may escape a comma as "\,".
func SplitList(v string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ',':
			cur.WriteByte(',')
			i++
		case v[i] == ',':
			flush()
		default:
			cur.WriteByte(v[i])
		}
	}
	flush()
	return out
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ParseCommon reads the keys every connector shares; timeDefault is the connector's
// time.precision.mode default and timeModes the modes it accepts.
func ParseCommon(p *Parser, timeDefault string, timeModes []string) *Config {
	c := &Config{}
	k, v, ok := p.Lookup("topic.prefix", "database.server.name")
	switch {
	case !ok || v == "":
		p.Fail("topic.prefix", `Missing required configuration "topic.prefix" which has no default value. (Debezium 1.x configurations name it database.server.name.)`)
	case !prefixRE.MatchString(v):
		p.Fail(k, "Invalid value %s for configuration %s: Topic prefix can only contain alphanumeric characters, dots, underscores and dashes", v, k)
	default:
		c.Prefix = v
	}
	c.TombstonesOnDelete = p.Bool("tombstones.on.delete", true)
	c.DecimalMode = p.Enum("decimal.handling.mode", DecimalPrecise, []string{DecimalPrecise, DecimalDouble, DecimalString})
	c.TimePrecisionMode = p.Enum("time.precision.mode", timeDefault, timeModes)
	c.BinaryMode = p.Enum("binary.handling.mode", BinaryBytes, []string{BinaryBytes, BinaryBase64, BinaryBase64URLSafe, BinaryHex})
	mode := p.Enum("snapshot.mode", SnapshotInitial, []string{SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, "schema_only",
		SnapshotWhenNeeded, SnapshotNever, SnapshotAlways, "schema_only_recovery", "recovery"})
	switch mode {
	case "schema_only":
		mode = SnapshotNoData
	case "schema_only_recovery":
		mode = "recovery"
	}
	c.SnapshotMode = mode
	c.Tables = Filter{Include: p.Patterns("table.include.list", "table.whitelist"), Exclude: p.Patterns("table.exclude.list", "table.blacklist")}
	c.Columns = Filter{Include: p.Patterns("column.include.list", "column.whitelist"), Exclude: p.Patterns("column.exclude.list", "column.blacklist")}
	if _, ok := p.M["table.include.list"]; ok {
		if _, ok := p.M["table.exclude.list"]; ok {
			p.Fail("table.exclude.list", "table.include.list and table.exclude.list cannot both be set")
		}
	}
	if _, ok := p.M["column.include.list"]; ok {
		if _, ok := p.M["column.exclude.list"]; ok {
			p.Fail("column.exclude.list", "column.include.list and column.exclude.list cannot both be set")
		}
	}
	if v := p.Str("message.key.columns", ""); v != "" {
		for _, entry := range strings.Split(v, ";") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			i := strings.LastIndexByte(entry, ':')
			if i <= 0 || i == len(entry)-1 {
				p.Fail("message.key.columns", "Invalid value %s for configuration message.key.columns: %q is not <fully-qualified table>:<column>,<column>", v, entry)
				continue
			}
			r, err := regexp.Compile("(?i)^(?:" + strings.TrimSpace(entry[:i]) + ")$")
			if err != nil {
				p.Fail("message.key.columns", "Invalid value %s for configuration message.key.columns: %v", v, err)
				continue
			}
			c.KeyColumns = append(c.KeyColumns, KeyColumns{Table: r, Columns: SplitList(entry[i+1:])})
		}
	}
	c.TransactionMetadata = p.Bool("provide.transaction.metadata", false)
	c.TransactionTopic = p.Str("topic.transaction", "transaction")
	c.Skipped = map[string]bool{}
	for _, op := range SplitList(p.Str("skipped.operations", "t")) {
		switch op = strings.ToLower(op); op {
		case "none":
			c.Skipped = map[string]bool{}
		case "c", "u", "d", "t":
			c.Skipped[op] = true
		default:
			p.Fail("skipped.operations", "Invalid value %s for configuration skipped.operations: %q is not one of c, u, d, t, none", p.M["skipped.operations"], op)
		}
	}
	c.MaxBatchSize = int(p.Int("max.batch.size", 2048, 1))
	c.MaxQueueSize = int(p.Int("max.queue.size", 8192, 1))
	if c.MaxQueueSize <= c.MaxBatchSize {
		if _, set := p.M["max.queue.size"]; set {
			p.Fail("max.queue.size", "Invalid value %d for configuration max.queue.size: must be larger than max.batch.size (%d)", c.MaxQueueSize, c.MaxBatchSize)
		} else {
			c.MaxQueueSize = c.MaxBatchSize + 1
		}
	}
	c.PollInterval = time.Duration(p.Int("poll.interval.ms", 500, 1)) * time.Millisecond
	c.FetchSize = int(p.Int("snapshot.fetch.size", 10240, 1))
	p.Int("heartbeat.interval.ms", 0, 0)
	return c
}

// KeyColumnsFor is the message.key.columns entry of table id (nil: the primary key).
func (c *Config) KeyColumnsFor(id string) []string {
	for _, k := range c.KeyColumns {
		if k.Table.MatchString(id) {
			return k.Columns
		}
	}
	return nil
}

// Topic is the topic of a table's change events: <prefix>.<database|schema>.<table>.
func (c *Config) Topic(namespace, table string) string {
	return c.Prefix + "." + namespace + "." + table
}

// TransactionTopicName is the topic of transaction metadata events.
func (c *Config) TransactionTopicName() string { return c.Prefix + "." + c.TransactionTopic }
