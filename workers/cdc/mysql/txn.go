package mysql

import (
	"time"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// Debezium's transaction metadata schemas (SchemaFactory): the records of the
// <topic.prefix>.transaction topic.
var (
	txKeySchema = &data.Schema{Type: data.StructType, Name: "io.debezium.connector.common.TransactionMetadataKey", Version: ver(1), Fields: []data.Field{
		{Name: "id", Schema: data.StringSchema},
	}}
	txCollectionSchema = &data.Schema{Type: data.StructType, Name: "event.collection", Version: ver(1), Fields: []data.Field{
		{Name: "data_collection", Schema: data.StringSchema},
		{Name: "event_count", Schema: data.Int64Schema},
	}}
	txValueSchema = &data.Schema{Type: data.StructType, Name: "io.debezium.connector.common.TransactionMetadataValue", Version: ver(1), Fields: []data.Field{
		{Name: "status", Schema: data.StringSchema},
		{Name: "id", Schema: data.StringSchema},
		{Name: "event_count", Schema: data.OptionalInt64Schema},
		{Name: "data_collections", Schema: data.OptionalOf(data.ArrayOf(txCollectionSchema))},
		{Name: "ts_ms", Schema: data.Int64Schema},
	}}
)

// txn is a transaction whose events carry Debezium's transaction block: BEGIN is written
// before its first change event, END after its commit with the events per table.
type txn struct {
	id       string
	total    int64
	order    []string
	perTable map[string]int64
}

func (x *txn) record(e *engine, now time.Time, status string, offset map[string]any) cdc.Record {
	key := data.NewStruct(txKeySchema)
	key.Values[0] = x.id
	v := data.NewStruct(txValueSchema)
	v.Values[0], v.Values[1], v.Values[4] = status, x.id, now.UnixMilli()
	if status == "END" {
		v.Values[2] = x.total
		cols := make([]any, len(x.order))
		for i, t := range x.order {
			c := data.NewStruct(txCollectionSchema)
			c.Values[0], c.Values[1] = t, x.perTable[t]
			cols[i] = c
		}
		v.Values[3] = cols
	}
	return cdc.Record{Topic: e.cfg.TransactionTopicName(), KeySchema: txKeySchema, Key: key, ValueSchema: txValueSchema, Value: v,
		Timestamp: now, Partition: e.partition(), Offset: offset}
}

func (x *txn) begin(e *engine, now time.Time) cdc.Record { return x.record(e, now, "BEGIN", nil) }

func (x *txn) end(e *engine, now time.Time, offset map[string]any) cdc.Record {
	return x.record(e, now, "END", offset)
}

// event counts one change event of table and returns its transaction block.
func (x *txn) event(table string) *data.Struct {
	x.total++
	if _, ok := x.perTable[table]; !ok {
		x.order = append(x.order, table)
	}
	x.perTable[table]++
	return debezium.TransactionBlock(x.id, x.total, x.perTable[table])
}
