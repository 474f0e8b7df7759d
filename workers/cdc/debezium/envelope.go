package debezium

import (
	"time"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// Op is an envelope's op field.
type Op string

// Debezium's operations.
const (
	OpRead     Op = "r"
	OpCreate   Op = "c"
	OpUpdate   Op = "u"
	OpDelete   Op = "d"
	OpTruncate Op = "t"
)

// EnvelopeVersion is the version of Debezium's envelope schemas (io.debezium.data.Envelope).
const EnvelopeVersion = 2

func version(v int32) *int32 { return &v }

// Column is one column of a captured table, as events show it: its name and its Connect
// schema (optional when the column is nullable, with its default, Debezium's logical name and
// parameters).
type Column struct {
	Name   string
	Schema *data.Schema
}

// Table is the schemas of one captured table's events, named as Debezium names them: the key
// <topic>.Key (the key columns; nil without any), the row <topic>.Value and the envelope
// <topic>.Envelope.
type Table struct {
	// ID is the table's identifier as filters see it: <database|schema>.<table>.
	ID      string
	Topic   string
	Columns []Column
	// KeyColumns are indexes into Columns.
	KeyColumns []int
	Key        *data.Schema
	Value      *data.Schema
	Envelope   *data.Schema
}

// NewTable builds a table's schemas. source is the connector's source block schema; key lists
// the key columns' names (the primary key, or message.key.columns); names not among columns
// are ignored.
func NewTable(id, topic string, columns []Column, key []string, source *data.Schema) *Table {
	t := &Table{ID: id, Topic: topic, Columns: columns}
	fields := make([]data.Field, len(columns))
	for i, c := range columns {
		fields[i] = data.Field{Name: c.Name, Schema: c.Schema}
	}
	var keyFields []data.Field
	for _, k := range key {
		for i, c := range columns {
			if c.Name == k {
				t.KeyColumns = append(t.KeyColumns, i)
				keyFields = append(keyFields, data.Field{Name: c.Name, Schema: c.Schema})
				break
			}
		}
	}
	if len(keyFields) > 0 {
		t.Key = &data.Schema{Type: data.StructType, Name: topic + ".Key", Fields: keyFields}
	}
	t.Value = &data.Schema{Type: data.StructType, Optional: true, Name: topic + ".Value", Fields: fields}
	t.Envelope = &data.Schema{Type: data.StructType, Name: topic + ".Envelope", Version: version(EnvelopeVersion), Fields: []data.Field{
		{Name: "before", Schema: t.Value},
		{Name: "after", Schema: t.Value},
		{Name: "source", Schema: source},
		{Name: "transaction", Schema: TransactionBlockSchema},
		{Name: "op", Schema: data.StringSchema},
		{Name: "ts_ms", Schema: data.OptionalInt64Schema},
		{Name: "ts_us", Schema: data.OptionalInt64Schema},
		{Name: "ts_ns", Schema: data.OptionalInt64Schema},
	}}
	return t
}

// KeyOf is the key struct of a row (values in column order); nil when the table has no key.
func (t *Table) KeyOf(row []any) *data.Struct {
	if t.Key == nil || row == nil {
		return nil
	}
	s := data.NewStruct(t.Key)
	for i, c := range t.KeyColumns {
		s.Values[i] = row[c]
	}
	return s
}

// RowOf is the value struct of a row; nil for a nil row.
func (t *Table) RowOf(row []any) *data.Struct {
	if row == nil {
		return nil
	}
	return &data.Struct{Schema: t.Value, Values: row}
}

// Change is the envelope of one change event: before and after are rows in column order (nil
// when absent), source the source block, ts when the connector processed the event, txn the
// transaction block (nil without provide.transaction.metadata).
func (t *Table) Change(op Op, before, after []any, source *data.Struct, ts time.Time, txn *data.Struct) *data.Struct {
	e := data.NewStruct(t.Envelope)
	// A nil row stays an untyped nil: a typed nil *data.Struct is not a null to converters.
	if b := t.RowOf(before); b != nil {
		e.Values[0] = b
	}
	if a := t.RowOf(after); a != nil {
		e.Values[1] = a
	}
	if source != nil {
		e.Values[2] = source
	}
	if txn != nil {
		e.Values[3] = txn
	}
	e.Values[4] = string(op)
	e.Values[5] = ts.UnixMilli()
	e.Values[6] = ts.UnixMicro()
	e.Values[7] = ts.UnixNano()
	return e
}

// TransactionBlockSchema is the envelope's transaction field (event.block).
var TransactionBlockSchema = &data.Schema{Type: data.StructType, Optional: true, Name: "event.block", Version: version(1), Fields: []data.Field{
	{Name: "id", Schema: data.StringSchema},
	{Name: "total_order", Schema: data.Int64Schema},
	{Name: "data_collection_order", Schema: data.Int64Schema},
}}

// TransactionBlock is an event's transaction field.
func TransactionBlock(id string, totalOrder, collectionOrder int64) *data.Struct {
	return &data.Struct{Schema: TransactionBlockSchema, Values: []any{id, totalOrder, collectionOrder}}
}

// SnapshotSchema is the source block's snapshot field: io.debezium.data.Enum of
// true, first, first_in_data_collection, last_in_data_collection, last, false, incremental,
// default "false".
var SnapshotSchema = &data.Schema{Type: data.String, Optional: true, Name: "io.debezium.data.Enum", Version: version(1),
	Params: []data.Param{{Key: "allowed", Value: "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"}}, Default: "false"}

// SourceFields are the fields every connector's source block starts with (Debezium's
// sourceInfoSchemaBuilder): version, connector, name, ts_ms, snapshot, db, sequence, ts_us,
// ts_ns. A connector appends its own.
func SourceFields() []data.Field {
	return []data.Field{
		{Name: "version", Schema: data.StringSchema},
		{Name: "connector", Schema: data.StringSchema},
		{Name: "name", Schema: data.StringSchema},
		{Name: "ts_ms", Schema: data.Int64Schema},
		{Name: "snapshot", Schema: SnapshotSchema},
		{Name: "db", Schema: data.StringSchema},
		{Name: "sequence", Schema: data.OptionalStringSchema},
		{Name: "ts_us", Schema: data.OptionalInt64Schema},
		{Name: "ts_ns", Schema: data.OptionalInt64Schema},
	}
}

// SourceSchema is a connector's source block schema: name (io.debezium.connector.<c>.Source),
// version 1, SourceFields then the connector's own fields.
func SourceSchema(name string, own ...data.Field) *data.Schema {
	return &data.Schema{Type: data.StructType, Name: name, Version: version(1), Fields: append(SourceFields(), own...)}
}
