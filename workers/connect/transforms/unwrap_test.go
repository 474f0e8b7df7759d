package transforms

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/convert"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// The expectations here are those of Debezium's ExtractNewRecordStateTest and
// LegacyExtractNewRecordStateTest (io.debezium.transforms), on envelopes built by
// workers/cdc/debezium as Fjord's connectors emit them.

type fixture struct {
	table  *debezium.Table
	source *data.Schema
	ts     time.Time
}

func newFixture() *fixture {
	source := debezium.SourceSchema("io.debezium.connector.postgresql.Source",
		data.Field{Name: "schema", Schema: data.StringSchema},
		data.Field{Name: "table", Schema: data.StringSchema},
		data.Field{Name: "lsn", Schema: data.OptionalInt64Schema})
	cols := []debezium.Column{
		{Name: "id", Schema: data.Int32Schema},
		{Name: "name", Schema: &data.Schema{Type: data.String, Optional: true, Default: "default_str"}},
		{Name: "route", Schema: data.OptionalStringSchema},
	}
	return &fixture{
		table:  debezium.NewTable("public.orders", "dbserver1.public.orders", cols, []string{"id"}, source),
		source: source,
		ts:     time.UnixMilli(1700000000123),
	}
}

func (f *fixture) sourceBlock() *data.Struct {
	s := data.NewStruct(f.source)
	for k, v := range map[string]any{"version": debezium.Version, "connector": "postgresql", "name": "dbserver1", "ts_ms": int64(1700000000000),
		"snapshot": "false", "db": "shop", "schema": "public", "table": "orders", "lsn": int64(1234)} {
		s.Put(k, v)
	}
	return s
}

func (f *fixture) record(op debezium.Op, before, after []any, txn *data.Struct) *Record {
	row := after
	if row == nil {
		row = before
	}
	r := &Record{Topic: f.table.Topic, ValueSchema: f.table.Envelope, Value: f.table.Change(op, before, after, f.sourceBlock(), f.ts, txn), Timestamp: f.ts,
		Headers: []Header{{Key: "existing", Schema: data.StringSchema, Value: "h"}}}
	if row != nil {
		r.KeySchema, r.Key = f.table.Key, f.table.KeyOf(row)
	}
	return r
}

func (f *fixture) tombstone() *Record {
	return &Record{Topic: f.table.Topic, KeySchema: f.table.Key, Key: f.table.KeyOf([]any{int32(1), nil, nil}), Timestamp: f.ts}
}

func unwrapChain(t *testing.T, opts map[string]string) *Chain {
	t.Helper()
	return one(t, ExtractNewRecordState, opts)
}

func rowValues(t *testing.T, r *Record) map[string]any {
	t.Helper()
	st, ok := r.Value.(*data.Struct)
	if !ok {
		t.Fatalf("value %T, want a struct", r.Value)
	}
	out := map[string]any{}
	for i, f := range st.Schema.Fields {
		out[f.Name] = st.Values[i]
	}
	return out
}

func headerValue(r *Record, key string) (any, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

func TestUnwrapDefaults(t *testing.T) {
	f := newFixture()
	c := unwrapChain(t, nil)
	// testUnwrapCreateRecord: the after state, keeping key, topic, timestamp and headers.
	create := f.record(debezium.OpCreate, nil, []any{int32(1), "myRecord", nil}, nil)
	out := apply(t, c, create)
	if got := rowValues(t, out); !reflect.DeepEqual(got, map[string]any{"id": int32(1), "name": "myRecord", "route": nil}) {
		t.Errorf("create: %v", got)
	}
	if out.Topic != create.Topic || out.Key != create.Key || out.KeySchema != create.KeySchema || !out.Timestamp.Equal(f.ts) || len(out.Headers) != 1 {
		t.Errorf("create record: %+v", out)
	}
	// The value schema is rebuilt as Debezium rebuilds it: the row schema's name, required.
	want := &data.Schema{Type: data.StructType, Name: "dbserver1.public.orders.Value", Fields: f.table.Value.Fields}
	if !data.Equal(out.ValueSchema, want) {
		t.Errorf("value schema %+v, want %+v", out.ValueSchema, want)
	}
	if create.Value.(*data.Struct).Schema != f.table.Envelope {
		t.Errorf("input record modified")
	}
	// testUnwrapCreateRecordWithOptionalDefaultValue: a null stays null.
	out = apply(t, c, f.record(debezium.OpCreate, nil, []any{int32(1), nil, nil}, nil))
	if v := rowValues(t, out)["name"]; v != nil {
		t.Errorf("null with default: %v", v)
	}
	// testHandleDeleteNone (the default): the delete becomes a record with a null value.
	del := f.record(debezium.OpDelete, []any{int32(1), "myRecord", nil}, nil, nil)
	out = apply(t, c, del)
	if out == nil || out.Value != nil || out.ValueSchema != f.table.Value || out.Key == nil {
		t.Errorf("delete: %+v", out)
	}
	// testTombstoneDroppedByDefault, testTruncateDroppedByDefault
	if out := apply(t, c, f.tombstone()); out != nil {
		t.Errorf("tombstone kept: %+v", out)
	}
	if out := apply(t, c, f.record(debezium.OpTruncate, nil, nil, nil)); out != nil {
		t.Errorf("truncate kept: %+v", out)
	}
	// testIgnoreUnknownRecord: not an envelope (a schema change event, a heartbeat, no schema).
	hb := &data.Schema{Type: data.StructType, Name: "io.debezium.connector.common.Heartbeat", Fields: []data.Field{{Name: "ts_ms", Schema: data.Int64Schema}}}
	for _, r := range []*Record{
		{Topic: "__debezium-heartbeat.dbserver1", ValueSchema: hb, Value: data.NewStruct(hb).Put("ts_ms", int64(1))},
		{Topic: "x", Value: map[string]any{"a": 1}},
	} {
		if out := apply(t, c, r); out != r {
			t.Errorf("not an envelope changed: %+v", out)
		}
	}
}

func TestUnwrapLegacyDeleteHandling(t *testing.T) {
	f := newFixture()
	del := f.record(debezium.OpDelete, []any{int32(1), "myRecord", nil}, nil, nil)
	create := f.record(debezium.OpCreate, nil, []any{int32(1), "myRecord", nil}, nil)

	// testHandleDeleteDrop, testTombstoneForwardConfigured
	c := unwrapChain(t, map[string]string{"delete.handling.mode": "drop", "drop.tombstones": "false"})
	if out := apply(t, c, del); out != nil {
		t.Errorf("delete kept: %+v", out)
	}
	tomb := f.tombstone()
	if out := apply(t, c, tomb); out != tomb {
		t.Errorf("tombstone not forwarded: %+v", out)
	}

	// testHandleDeleteRewrite, testHandleCreateRewrite (with add.headers=op), and add.fields:
	// Debezium 1.x–2.4 append __deleted after the added fields.
	c = unwrapChain(t, map[string]string{"delete.handling.mode": "REWRITE", "add.headers": "op", "add.fields": "op,lsn"})
	out := apply(t, c, del)
	if got := rowValues(t, out); !reflect.DeepEqual(got, map[string]any{"id": int32(1), "name": "myRecord", "route": nil, "__op": "d", "__lsn": int64(1234), "__deleted": "true"}) {
		t.Errorf("rewritten delete: %v", got)
	}
	if names := fieldNames(out.ValueSchema); !reflect.DeepEqual(names, []string{"id", "name", "route", "__op", "__lsn", "__deleted"}) {
		t.Errorf("rewritten delete fields: %v", names)
	}
	if v, _ := headerValue(out, "__op"); v != "d" {
		t.Errorf("delete __op header: %v", v)
	}
	out = apply(t, c, create)
	if got := rowValues(t, out); got["__deleted"] != "false" || got["__op"] != "c" {
		t.Errorf("rewritten create: %v", got)
	}
	if v, _ := headerValue(out, "__op"); v != "c" || len(out.Headers) != 2 {
		t.Errorf("create headers: %+v", out.Headers)
	}
	if len(create.Headers) != 1 {
		t.Errorf("input headers modified: %+v", create.Headers)
	}
	// testAddHeadersHandleDeleteRewriteAndTombstone: a forwarded tombstone gets __op=d.
	c = unwrapChain(t, map[string]string{"delete.handling.mode": "rewrite", "drop.tombstones": "false", "add.headers": "op,lsn"})
	out = apply(t, c, f.tombstone())
	if v, _ := headerValue(out, "__op"); v != "d" || out.Value != nil || len(out.Headers) != 1 {
		t.Errorf("tombstone headers: %+v", out)
	}
}

func TestUnwrapDeleteTombstoneHandlingMode(t *testing.T) {
	f := newFixture()
	del := f.record(debezium.OpDelete, []any{int32(1), "myRecord", nil}, nil, nil)
	create := f.record(debezium.OpCreate, nil, []any{int32(1), "myRecord", nil}, nil)
	for _, tc := range []struct {
		mode         string
		delete, tomb string // "drop", "null" (value null with the row schema), "tombstone" (no schema), "rewrite", "keep"
	}{
		{"tombstone", "null", "drop"},
		{"drop", "drop", "drop"},
		{"rewrite", "rewrite", "drop"},
		{"rewrite-with-tombstone", "rewrite", "keep"},
		{"delete-to-tombstone", "tombstone", "drop"},
	} {
		c := unwrapChain(t, map[string]string{"delete.tombstone.handling.mode": tc.mode, "add.fields": "op", "drop.tombstones": "false", "delete.handling.mode": "drop"})
		out := apply(t, c, del)
		switch tc.delete {
		case "drop":
			if out != nil {
				t.Errorf("%s: delete kept", tc.mode)
			}
		case "null":
			if out == nil || out.Value != nil || out.ValueSchema != f.table.Value {
				t.Errorf("%s: delete %+v", tc.mode, out)
			}
		case "tombstone":
			if out == nil || out.Value != nil || out.ValueSchema != nil || out.Key == nil {
				t.Errorf("%s: delete %+v", tc.mode, out)
			}
		case "rewrite":
			// Debezium 2.5 and later: __deleted before the added fields.
			if names := fieldNames(out.ValueSchema); !reflect.DeepEqual(names, []string{"id", "name", "route", "__deleted", "__op"}) || rowValues(t, out)["__deleted"] != "true" {
				t.Errorf("%s: delete fields %v %v", tc.mode, names, rowValues(t, out))
			}
			if got := rowValues(t, apply(t, c, create)); got["__deleted"] != "false" || got["__op"] != "c" {
				t.Errorf("%s: create %v", tc.mode, got)
			}
		}
		tomb := f.tombstone()
		out = apply(t, c, tomb)
		if (tc.tomb == "keep") != (out == tomb) || (tc.tomb == "drop") != (out == nil) {
			t.Errorf("%s: tombstone %+v", tc.mode, out)
		}
	}
}

func TestUnwrapAddFieldsAndHeaders(t *testing.T) {
	f := newFixture()
	update := f.record(debezium.OpUpdate, []any{int32(1), "myRecord", nil}, []any{int32(1), "updatedRecord", nil}, debezium.TransactionBlock("571", 42, 42))
	// testNewFieldAndHeaderMapping
	c := unwrapChain(t, map[string]string{
		"add.fields":         "op:OP, lsn:LSN, id:ID, source.lsn:source_lsn, transaction.total_order:TOTAL_ORDER",
		"add.fields.prefix":  "",
		"add.headers":        "op, source.lsn:source_lsn, transaction.id:TXN_ID, transaction.total_order:TOTAL_ORDER",
		"add.headers.prefix": "prefix.",
	})
	out := apply(t, c, update)
	got := rowValues(t, out)
	for k, v := range map[string]any{"name": "updatedRecord", "OP": "u", "LSN": int64(1234), "ID": "571", "source_lsn": int64(1234), "TOTAL_ORDER": int64(42)} {
		if got[k] != v {
			t.Errorf("field %s = %v, want %v", k, got[k], v)
		}
	}
	for k, v := range map[string]any{"prefix.op": "u", "prefix.source_lsn": int64(1234), "prefix.TXN_ID": "571", "prefix.TOTAL_ORDER": int64(42)} {
		if h, _ := headerValue(out, k); h != v {
			t.Errorf("header %s = %v, want %v", k, h, v)
		}
	}
	if len(out.Headers) != 5 {
		t.Errorf("headers %+v", out.Headers)
	}
	// The added fields' schemas: optional copies (name, version, parameters; no default).
	snap := f.table.Envelope.Fields[2].Schema.Fields[4].Schema
	c = unwrapChain(t, map[string]string{"add.fields": "op,table,source.ts_ms,ts_ms,snapshot,id"})
	out = apply(t, c, f.record(debezium.OpCreate, nil, []any{int32(1), "myRecord", nil}, nil))
	wantFields := []data.Field{
		{Name: "__op", Schema: data.OptionalStringSchema},
		{Name: "__table", Schema: data.OptionalStringSchema},
		{Name: "__source_ts_ms", Schema: data.OptionalInt64Schema},
		{Name: "__ts_ms", Schema: data.OptionalInt64Schema},
		{Name: "__snapshot", Schema: &data.Schema{Type: data.String, Optional: true, Name: snap.Name, Version: snap.Version, Params: snap.Params}},
		{Name: "__id", Schema: data.OptionalStringSchema},
	}
	if !data.Equal(out.ValueSchema, &data.Schema{Type: data.StructType, Name: "dbserver1.public.orders.Value", Fields: append(append([]data.Field(nil), f.table.Value.Fields...), wantFields...)}) {
		t.Errorf("schema with added fields: %+v", out.ValueSchema.Fields)
	}
	// testAddFieldsForMissingOptionalField: no transaction block, __id is null.
	if got := rowValues(t, out); got["__op"] != "c" || got["__table"] != "orders" || got["__source_ts_ms"] != int64(1700000000000) || got["__ts_ms"] != int64(1700000000123) || got["__snapshot"] != "false" || got["__id"] != nil {
		t.Errorf("added fields: %v", got)
	}
	// A field in no block is left out.
	c = unwrapChain(t, map[string]string{"add.fields": "op,nosuch", "add.headers": "nosuch"})
	out = apply(t, c, update)
	if names := fieldNames(out.ValueSchema); names[len(names)-1] != "__op" || len(names) != 4 || len(out.Headers) != 1 {
		t.Errorf("unknown field added: %v %+v", names, out.Headers)
	}
}

func TestUnwrapRouteByField(t *testing.T) {
	f := newFixture()
	c := unwrapChain(t, map[string]string{"route.by.field": "route"})
	for _, tc := range []struct {
		r    *Record
		want string
	}{
		// testAddTopicRoutingField, testUpdateTopicRoutingField
		{f.record(debezium.OpCreate, nil, []any{int32(1), "a", "myRecord"}, nil), "myRecord"},
		{f.record(debezium.OpUpdate, []any{int32(1), "a", "x"}, []any{int32(1), "a", "updatedRecord"}, nil), "updatedRecord"},
		// A null field keeps the topic.
		{f.record(debezium.OpCreate, nil, []any{int32(1), "a", nil}, nil), "dbserver1.public.orders"},
	} {
		if out := apply(t, c, tc.r); out.Topic != tc.want {
			t.Errorf("topic %q, want %q", out.Topic, tc.want)
		}
	}
	// testDeleteTopicRoutingField: the before state's field.
	c = unwrapChain(t, map[string]string{"route.by.field": "route", "delete.handling.mode": "none"})
	if out := apply(t, c, f.record(debezium.OpDelete, []any{int32(1), "a", "myRecord"}, nil, nil)); out.Topic != "myRecord" {
		t.Errorf("delete topic %q", out.Topic)
	}
}

// TestUnwrapJSON: what a consumer reads after unwrap under JsonConverter.
func TestUnwrapJSON(t *testing.T) {
	f := newFixture()
	c := unwrapChain(t, map[string]string{"delete.handling.mode": "rewrite", "add.fields": "op,source.ts_ms"})
	out := apply(t, c, f.record(debezium.OpCreate, nil, []any{int32(7), nil, "r"}, nil))
	plain, err := convert.NewJSON(convert.Value, map[string]string{"schemas.enable": "false"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := plain.FromConnect(out.Topic, out.ValueSchema, out.Value)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":7,"name":"default_str","route":"r","__op":"c","__source_ts_ms":1700000000000,"__deleted":"false"}`; string(b) != want {
		t.Errorf("payload\n%s\nwant\n%s", b, want)
	}
	withSchema, err := convert.NewJSON(convert.Value, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err = withSchema.FromConnect(out.Topic, out.ValueSchema, out.Value)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"default":"default_str","field":"name"},` +
		`{"type":"string","optional":true,"field":"route"},{"type":"string","optional":true,"field":"__op"},{"type":"int64","optional":true,"field":"__source_ts_ms"},` +
		`{"type":"string","optional":true,"field":"__deleted"}],"optional":false,"name":"dbserver1.public.orders.Value"},` +
		`"payload":{"id":7,"name":"default_str","route":"r","__op":"c","__source_ts_ms":1700000000000,"__deleted":"false"}}`
	if string(b) != want {
		t.Errorf("with schema\n%s\nwant\n%s", b, want)
	}
	if strings.Contains(string(b), "Envelope") {
		t.Errorf("envelope left")
	}
}

// BenchmarkUnwrap: ExtractNewRecordState with add.fields on a create event (the CDC runtime's
// per-record cost).
func BenchmarkUnwrap(b *testing.B) {
	c, err := New(map[string]string{"transforms": "u", "transforms.u.type": ExtractNewRecordState, "transforms.u.add.fields": "op,source.ts_ms"})
	if err != nil {
		b.Fatal(err)
	}
	f := newFixture()
	r := f.record(debezium.OpCreate, nil, []any{int32(1), "n", nil}, nil)
	b.ReportAllocs()
	for b.Loop() {
		if out, err := c.Apply(r); err != nil || out == nil {
			b.Fatal(err)
		}
	}
}
