// Package cdc is the Debezium-compatible change-data-capture runtime of Fjord's workers: what
// the MySQL (workers/cdc/mysql) and PostgreSQL (workers/cdc/postgres) engines share.
//
// An Engine reads a database — a consistent snapshot, then its change stream — and hands
// Records, already in Debezium's shape (topic, key, envelope), to an Emitter. The runtime
// (Task, runtime.go) owns everything after that, the same for every engine: the connector's
// single message transforms, its converters, producing to the connector's Kafka cluster (one
// transaction per round with exactly.once.support=required), and the source offsets, stored in
// the Connect offsets topic under the connector's name with the engine's partition and offset
// maps, as Kafka Connect stores Debezium's. An engine learns which offsets are durable through
// Acknowledger (PostgreSQL confirms its LSN to the server only then).
//
// The rules every engine follows:
//   - Each Record carries the source offset to resume from once it and every record before it
//     are durable (Offset). A restart resumes from the last durable one: records after it are
//     produced again (at-least-once) or were aborted with their transaction (exactly-once).
//   - Emit blocks while the runtime is behind (back-pressure) and fails once the runtime has
//     failed; an engine returns Emit's error as it is.
//   - Run returns nil when ctx is done, and a *runtime.Error with a catalog code and a message
//     naming what is missing (a privilege, wal_level, binlog_format …) when retrying cannot help.
package cdc

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// Record is one record an engine hands to the runtime, before transforms and converters.
type Record struct {
	// Topic is the record's topic (transforms may change it).
	Topic string
	// KeySchema and Key are the record's key: a struct of the key columns (nil, nil: no key).
	KeySchema *data.Schema
	Key       any
	// ValueSchema and Value are the record's value: the change event's envelope, a schema
	// change, a transaction event; nil and nil with a key is a tombstone.
	ValueSchema *data.Schema
	Value       any
	// Timestamp is the record's timestamp (Debezium: when the connector read the event).
	Timestamp time.Time
	// Headers are Connect headers, converted with the connector's header converter.
	Headers []Header
	// Partition is the source partition (Debezium's: {"server": <topic.prefix>}); Offset is
	// the source offset to resume from after this record. A nil Offset moves no offset (a
	// tombstone that follows its delete, for instance).
	Partition map[string]any
	Offset    map[string]any
}

// Header is one Connect header of a record.
type Header struct {
	Key    string
	Schema *data.Schema
	Value  any
}

// Emitter receives an engine's records, in order.
type Emitter interface {
	// Emit queues records for the runtime. It blocks while the runtime is behind, and returns
	// an error when ctx is done or the runtime has failed.
	Emit(ctx context.Context, recs ...Record) error
}

// Engine captures the changes of one database.
type Engine interface {
	// Run captures changes, starting from offset — the last durable source offset of the
	// engine's partition, nil when none is stored (the snapshot mode decides then) — and
	// hands them to out until ctx is done. A stored offset is decoded from its JSON as
	// Kafka Connect's JsonConverter reads it: integers as int64, other numbers as float64,
	// strings, booleans, nil, []any and map[string]any (OffsetInt reads an integer whatever
	// its Go type).
	Run(ctx context.Context, offset map[string]any, out Emitter) error
}

// Acknowledger is implemented by engines that must learn which of their offsets are durable
// in Kafka: Durable is called, in order, with the offset of the last record of each round
// once the round's records and offsets are durable.
type Acknowledger interface {
	Durable(offset map[string]any)
}

// Metrics is what an engine reports besides the records it emits.
type Metrics interface {
	// Polled counts change events read from the database (fjord_source_record_poll_rate).
	Polled(n int)
	// BehindSource is how far behind the database's commit time the last event read is
	// (Debezium's MilliSecondsBehindSource).
	BehindSource(d time.Duration)
	// Snapshot reports snapshot progress: the table being read, rows read of it so far, its
	// estimated row count, and the tables done of the tables to read. running is false once
	// the snapshot completed (or when none runs).
	Snapshot(running bool, table string, rows, estimate int64, tablesDone, tables int)
}

// Env is what an engine gets from the runtime.
type Env struct {
	// Name is the connector's name (the offsets' key).
	Name string
	// Config is the task's resolved configuration.
	Config map[string]string
	// Common is Config's Debezium keys that every engine shares, parsed.
	Common *debezium.Config
	// TaskIndex is the task's index (Debezium's database connectors run one task).
	TaskIndex int
	Logger    *slog.Logger
	Metrics   Metrics
	// KafkaOpts are the client options for a Kafka cluster the engine writes to itself (the
	// schema history topic): the security of the connector's Kafka cluster when bootstrap is
	// that cluster, and the task's client hooks.
	KafkaOpts func(bootstrap []string) []kgo.Opt
}

// Factory builds an engine for a task; an error is an invalid configuration. It must not
// connect to anything (Run does).
type Factory func(env Env) (Engine, error)
