package cdc

import (
	"time"

	"reflect"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// Event is one row change as an engine read it.
type Event struct {
	Table *debezium.Table
	Op    debezium.Op
	// Before and After are the row's values in column order (nil when absent).
	Before, After []any
	Source        *data.Struct
	// Txn is the transaction block (nil without provide.transaction.metadata).
	Txn *data.Struct
	// Partition and Offset: see Record. Offset is set on the last record the event yields.
	Partition, Offset map[string]any
}

// Records are the records of one change event as Debezium writes them: the event itself, a
// tombstone after a delete (tombstones.on.delete), and for an update that changes the key a
// delete of the old key (with its tombstone) then a create of the new one, carrying the
// __debezium.newkey / __debezium.oldkey headers. Skipped operations (skipped.operations)
// yield no record but the offset (a record without value and key, which the runtime only
// records the offset of). now is the processing time (the envelope's ts_ms).
func Records(c *debezium.Config, ev Event, now time.Time) []Record {
	t := ev.Table
	rec := func(op debezium.Op, keyRow, before, after []any) Record {
		return Record{Topic: t.Topic, KeySchema: keySchema(t), Key: structOrNil(t.KeyOf(keyRow)), ValueSchema: t.Envelope,
			Value: t.Change(op, before, after, ev.Source, now, ev.Txn), Timestamp: now, Partition: ev.Partition}
	}
	var out []Record
	if c.Skipped[string(ev.Op)] {
		return []Record{{Partition: ev.Partition, Offset: ev.Offset}}
	}
	switch ev.Op {
	case debezium.OpDelete:
		out = append(out, rec(debezium.OpDelete, ev.Before, ev.Before, nil))
		if c.TombstonesOnDelete && t.Key != nil {
			out = append(out, tombstone(t, ev.Before, now, ev.Partition))
		}
	case debezium.OpUpdate:
		if t.Key != nil && ev.Before != nil && !sameKey(t, ev.Before, ev.After) {
			oldKey, newKey := t.KeyOf(ev.Before), t.KeyOf(ev.After)
			del := rec(debezium.OpDelete, ev.Before, ev.Before, nil)
			del.Headers = keyHeader("__debezium.newkey", newKey)
			out = append(out, del)
			if c.TombstonesOnDelete {
				out = append(out, tombstone(t, ev.Before, now, ev.Partition))
			}
			cr := rec(debezium.OpCreate, ev.After, nil, ev.After)
			cr.Headers = keyHeader("__debezium.oldkey", oldKey)
			out = append(out, cr)
		} else {
			out = append(out, rec(debezium.OpUpdate, ev.After, ev.Before, ev.After))
		}
	case debezium.OpTruncate:
		r := rec(debezium.OpTruncate, nil, nil, nil)
		r.KeySchema, r.Key = nil, nil
		out = append(out, r)
	default:
		out = append(out, rec(ev.Op, ev.After, ev.Before, ev.After))
	}
	out[len(out)-1].Offset = ev.Offset
	return out
}

func keySchema(t *debezium.Table) *data.Schema {
	if t.Key == nil {
		return nil
	}
	return t.Key
}

// structOrNil keeps a nil key an untyped nil.
func structOrNil(s *data.Struct) any {
	if s == nil {
		return nil
	}
	return s
}

func tombstone(t *debezium.Table, row []any, now time.Time, partition map[string]any) Record {
	return Record{Topic: t.Topic, KeySchema: t.Key, Key: structOrNil(t.KeyOf(row)), Timestamp: now, Partition: partition}
}

func sameKey(t *debezium.Table, a, b []any) bool {
	for _, i := range t.KeyColumns {
		if !reflect.DeepEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

// keyHeader is one of Debezium's key headers: the other key, as a struct.
func keyHeader(name string, key *data.Struct) []Header {
	return []Header{{Key: name, Schema: key.Schema, Value: key}}
}
