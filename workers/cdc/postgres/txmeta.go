package postgres

import (
	"strconv"
	"time"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// Debezium's transaction metadata schemas (SchemaFactory.transactionKeySchema and
// transactionValueSchema), for provide.transaction.metadata.
var (
	txKeySchema = &data.Schema{Type: data.StructType, Name: "io.debezium.connector.common.TransactionMetadataKey", Version: ver1(),
		Fields: []data.Field{{Name: "id", Schema: data.StringSchema}}}
	txCollectionSchema = &data.Schema{Type: data.StructType, Name: "event.collection", Version: ver1(), Fields: []data.Field{
		{Name: "data_collection", Schema: data.StringSchema},
		{Name: "event_count", Schema: data.Int64Schema},
	}}
	txValueSchema = &data.Schema{Type: data.StructType, Name: "io.debezium.connector.common.TransactionMetadataValue", Version: ver1(), Fields: []data.Field{
		{Name: "status", Schema: data.StringSchema},
		{Name: "id", Schema: data.StringSchema},
		{Name: "event_count", Schema: data.OptionalInt64Schema},
		{Name: "data_collections", Schema: &data.Schema{Type: data.Array, Optional: true, Value: txCollectionSchema}},
		{Name: "ts_ms", Schema: data.Int64Schema},
	}}
)

// txMeta counts the events of the open transaction (Debezium's TransactionContext).
type txMeta struct {
	id          string
	total       int64
	perTable    map[string]int64
	collections []string // in order of first event
}

func (m *txMeta) begin(xid int64) {
	m.id, m.total, m.perTable, m.collections = strconv.FormatInt(xid, 10), 0, map[string]int64{}, nil
}

// event counts one event of table and returns its transaction block.
func (m *txMeta) event(table string) *data.Struct {
	m.total++
	if _, ok := m.perTable[table]; !ok {
		m.collections = append(m.collections, table)
	}
	m.perTable[table]++
	return debezium.TransactionBlock(m.id, m.total, m.perTable[table])
}

// offset adds the transaction context to an event's offset, as Debezium stores it.
func (m *txMeta) offset(off map[string]any) {
	off["transaction_id"] = m.id
	off["transaction_event_count"] = m.total
	for t, n := range m.perTable {
		off["transaction_data_collection_order_"+t] = n
	}
}

// restore continues the counters of a transaction a restart resumes in the middle of.
func (m *txMeta) restore(off map[string]any) {
	for k := range off {
		if len(k) > len("transaction_data_collection_order_") && k[:len("transaction_data_collection_order_")] == "transaction_data_collection_order_" {
			t := k[len("transaction_data_collection_order_"):]
			n, _ := cdc.OffsetInt(off, k)
			m.perTable[t] = n
			m.collections = append(m.collections, t)
		}
	}
	m.total, _ = cdc.OffsetInt(off, "transaction_event_count")
}

func (m *txMeta) record(e *Engine, status string, ts time.Time) cdc.Record {
	v := data.NewStruct(txValueSchema)
	v.Values[0] = status
	v.Values[1] = m.id
	v.Values[4] = ts.UnixMilli()
	if status == "END" {
		v.Values[2] = m.total
		cols := make([]any, len(m.collections))
		for i, t := range m.collections {
			cols[i] = &data.Struct{Schema: txCollectionSchema, Values: []any{t, m.perTable[t]}}
		}
		v.Values[3] = cols
	}
	return cdc.Record{Topic: e.cfg.TransactionTopicName(), KeySchema: txKeySchema, Key: &data.Struct{Schema: txKeySchema, Values: []any{m.id}},
		ValueSchema: txValueSchema, Value: v, Timestamp: time.Now(), Partition: e.partition()}
}
