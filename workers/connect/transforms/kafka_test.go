package transforms

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// The expectations in this file are those of Apache Kafka's own unit tests of each transform
// (connect/transforms/src/test/java/org/apache/kafka/connect/transforms/*Test.java), plus
// cases for what those tests leave out.

// one builds a chain of a single transform of class with options.
func one(t *testing.T, class string, opts map[string]string) *Chain {
	t.Helper()
	conf := map[string]string{"transforms": "x", "transforms.x.type": class}
	for k, v := range opts {
		conf["transforms.x."+k] = v
	}
	c, err := New(conf)
	if err != nil {
		t.Fatalf("New(%v): %v", conf, err)
	}
	if c.Len() != 1 {
		t.Fatalf("chain has %d transforms, want 1", c.Len())
	}
	return c
}

func apply(t *testing.T, c *Chain, r *Record) *Record {
	t.Helper()
	out, err := c.Apply(r)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return out
}

func i32(v int32) *int32 { return &v }

func TestRegexRouter(t *testing.T) {
	for _, tc := range []struct{ regex, replacement, topic, want string }{
		// RegexRouterTest
		{"foo", "bar", "foo", "bar"},
		{"foo", "bar", "orig", "orig"},
		{"(.*)", "$1", "orig", "orig"},
		{"(.*)", "prefix-$1", "orig", "prefix-orig"},
		{"(.*)", "$1-suffix", "orig", "orig-suffix"},
		{`(.*)-(\d\d\d\d\d\d\d\d)`, "$1", "index-20160117", "index"},
		// Debezium's topics to one per table.
		{`([^.]+)\.([^.]+)\.([^.]+)`, "cdc_$3", "dbserver1.inventory.orders", "cdc_orders"},
		// Only whole-topic matches are rerouted.
		{`orders`, "x", "orders-2024", "orders-2024"},
		// Named groups, escapes, $ followed by more digits than groups ($10 is $1 then 0).
		{`(?<db>[^.]+)\.(?<table>.+)`, "${table}_from_${db}", "inventory.orders", "orders_from_inventory"},
		{`(.*)`, `\$1-$10`, "t", "$1-t0"},
		// An optional group that did not participate is empty.
		{`(a)?(b)`, "[$1$2]", "b", "[b]"},
		// Matcher.replaceFirst after matches(): the leftmost match, not the whole topic.
		{`a|ab`, "X", "ab", "Xb"},
		// Surrounding whitespace of the options is trimmed, as ConfigDef trims strings.
		{" (.*) ", " $1-x ", "t", "t-x"},
	} {
		c := one(t, RegexRouter, map[string]string{"regex": tc.regex, "replacement": tc.replacement})
		r := &Record{Topic: tc.topic, Key: "k", Value: "v"}
		out := apply(t, c, r)
		if out.Topic != tc.want {
			t.Errorf("regex %q replacement %q on %q = %q, want %q", tc.regex, tc.replacement, tc.topic, out.Topic, tc.want)
		}
		if out.Key != "k" || out.Value != "v" || r.Topic != tc.topic {
			t.Errorf("record changed beyond its topic: %+v (input %+v)", out, r)
		}
	}
}

func TestTimestampRouter(t *testing.T) {
	ts := time.UnixMilli(1483425001864) // TimestampRouterTest: "test-20170103"
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{nil, "test-20170103"},
		{map[string]string{"topic.format": "${timestamp}_${topic}_${topic}"}, "20170103_test_test"},
		{map[string]string{"timestamp.format": "yyyy-MM-dd'T'HH:mm:ss.SSSZ"}, "test-2017-01-03T06:30:01.864+0000"},
		{map[string]string{"timestamp.format": "yy.M.d H:m:s a hh EEE EEEE MMM MMMM D 'o''clock' ''"}, "test-17.1.3 6:30:1 AM 06 Tue Tuesday Jan January 3 o'clock '"},
		{map[string]string{"timestamp.format": "YYYY-'W'ww"}, "test-2017-W01"},
		{map[string]string{"topic.format": "static"}, "static"},
	} {
		c := one(t, TimestampRouter, tc.opts)
		out := apply(t, c, &Record{Topic: "test", Timestamp: ts})
		if out.Topic != tc.want {
			t.Errorf("%v: topic %q, want %q", tc.opts, out.Topic, tc.want)
		}
	}
	// The week-based year of the last days of December (Locale.US weeks).
	c := one(t, TimestampRouter, map[string]string{"timestamp.format": "YYYY ww yyyy"})
	out := apply(t, c, &Record{Topic: "t", Timestamp: time.Date(2024, 12, 30, 12, 0, 0, 0, time.UTC)})
	if out.Topic != "t-2025 01 2024" {
		t.Errorf("week year: %q", out.Topic)
	}
	// No timestamp: DataException.
	if _, err := c.Apply(&Record{Topic: "t"}); err == nil || !strings.Contains(err.Error(), "Timestamp missing on record") {
		t.Errorf("record without timestamp: %v", err)
	}
}

func TestInsertField(t *testing.T) {
	opts := map[string]string{
		"topic.field":     "topic_field!",
		"partition.field": "partition_field",
		"timestamp.field": "timestamp_field?",
		"static.field":    "instance_id",
		"static.value":    "my-instance-id",
	}
	c := one(t, InsertFieldValue, opts)

	// copySchemaAndInsertConfiguredFields
	in := &data.Schema{Type: data.StructType, Name: "name", Version: i32(1), Doc: "doc", Fields: []data.Field{{Name: "magic", Schema: data.OptionalInt64Schema}}}
	r := &Record{Topic: "test", Partition: i32(0), ValueSchema: in, Value: data.NewStruct(in).Put("magic", int64(42)), Timestamp: time.UnixMilli(789)}
	out := apply(t, c, r)
	want := &data.Schema{Type: data.StructType, Name: "name", Version: i32(1), Doc: "doc", Fields: []data.Field{
		{Name: "magic", Schema: data.OptionalInt64Schema},
		{Name: "topic_field", Schema: data.StringSchema},
		{Name: "partition_field", Schema: data.OptionalInt32Schema},
		{Name: "timestamp_field", Schema: data.OptionalOf(data.TimestampSchema())},
		{Name: "instance_id", Schema: data.OptionalStringSchema},
	}}
	if !data.Equal(out.ValueSchema, want) {
		t.Errorf("schema %+v, want %+v", out.ValueSchema, want)
	}
	st := out.Value.(*data.Struct)
	if got := st.Values; !reflect.DeepEqual(got, []any{int64(42), "test", int32(0), time.UnixMilli(789).UTC(), "my-instance-id"}) {
		t.Errorf("values %#v", got)
	}
	if r.Value.(*data.Struct).Schema != in || len(r.Value.(*data.Struct).Values) != 1 {
		t.Errorf("input record modified")
	}
	// Exercise caching: the same input schema gives the same output schema; no partition nor
	// timestamp leaves those fields null.
	out2 := apply(t, c, &Record{Topic: "test", ValueSchema: in, Value: data.NewStruct(in)})
	if out2.ValueSchema != out.ValueSchema {
		t.Errorf("schema not cached")
	}
	if v := out2.Value.(*data.Struct).Values; v[2] != nil || v[3] != nil || v[1] != "test" {
		t.Errorf("values without partition and timestamp: %#v", v)
	}

	// schemalessInsertConfiguredFields: a Go map stays a Go map, a data.Map keeps its order.
	out = apply(t, c, &Record{Topic: "test", Partition: i32(0), Value: map[string]any{"magic": int64(42)}, Timestamp: time.UnixMilli(123)})
	if want := map[string]any{"magic": int64(42), "topic_field": "test", "partition_field": int32(0), "timestamp_field": int64(123), "instance_id": "my-instance-id"}; !reflect.DeepEqual(out.Value, want) {
		t.Errorf("schemaless: %#v", out.Value)
	}
	out = apply(t, c, &Record{Topic: "test", Value: data.Map{{Key: "z", Value: 1}, {Key: "topic_field", Value: "old"}}})
	if want := (data.Map{{Key: "z", Value: 1}, {Key: "topic_field", Value: "test"}, {Key: "instance_id", Value: "my-instance-id"}}); !reflect.DeepEqual(out.Value, want) {
		t.Errorf("schemaless data.Map: %#v", out.Value)
	}

	// insertConfiguredFieldsIntoTombstoneEventWithSchemaLeavesValueUnchanged / …WithoutSchema…
	for _, r := range []*Record{{Topic: "test"}, {Topic: "test", ValueSchema: in}} {
		if out := apply(t, c, r); out != r {
			t.Errorf("tombstone changed: %+v", out)
		}
	}

	// InsertField$Key on the key.
	ck := one(t, InsertFieldKey, map[string]string{"topic.field": "topic_field"})
	out = apply(t, ck, &Record{Topic: "test", Key: map[string]any{"id": 1}, Value: "v"})
	if !reflect.DeepEqual(out.Key, map[string]any{"id": 1, "topic_field": "test"}) || out.Value != "v" {
		t.Errorf("key: %+v", out)
	}

	// Neither struct nor map: DataException.
	if _, err := c.Apply(&Record{Topic: "t", Value: "text"}); err == nil || !strings.Contains(err.Error(), "Only Map objects supported in absence of schema for [field insertion], found: string") {
		t.Errorf("string value: %v", err)
	}
	// A field that already exists.
	dup := &data.Schema{Type: data.StructType, Fields: []data.Field{{Name: "instance_id", Schema: data.StringSchema}}}
	if _, err := c.Apply(&Record{Topic: "t", ValueSchema: dup, Value: data.NewStruct(dup).Put("instance_id", "a")}); err == nil || !strings.Contains(err.Error(), "duplication instance_id") {
		t.Errorf("duplicate field: %v", err)
	}

	// replace.null.with.default (Kafka 3.7): the default replaces a null by default.
	withDefault := &data.Schema{Type: data.StructType, Fields: []data.Field{{Name: "n", Schema: &data.Schema{Type: data.String, Optional: true, Default: "dflt"}}}}
	for _, tc := range []struct {
		opt  string
		want any
	}{{"true", "dflt"}, {"false", nil}} {
		c := one(t, InsertFieldValue, map[string]string{"static.field": "s", "static.value": "v", "replace.null.with.default": tc.opt})
		out := apply(t, c, &Record{Topic: "t", ValueSchema: withDefault, Value: data.NewStruct(withDefault)})
		if got := out.Value.(*data.Struct).Values[0]; got != tc.want {
			t.Errorf("replace.null.with.default=%s: %v", tc.opt, got)
		}
	}
}

func TestReplaceField(t *testing.T) {
	// schemaless / withSchema of ReplaceFieldTest.
	in := &data.Schema{Type: data.StructType, Name: "s", Fields: []data.Field{
		{Name: "dont", Schema: data.StringSchema},
		{Name: "abc", Schema: data.Int32Schema},
		{Name: "foo", Schema: data.BooleanSchema},
		{Name: "etc", Schema: data.StringSchema},
	}}
	value := data.NewStruct(in).Put("dont", "whatever").Put("abc", int32(42)).Put("foo", true).Put("etc", "etc")
	c := one(t, ReplaceFieldValue, map[string]string{"exclude": "dont", "renames": "abc:xyz,foo:bar"})
	out := apply(t, c, &Record{Topic: "test", ValueSchema: in, Value: value})
	want := &data.Schema{Type: data.StructType, Name: "s", Fields: []data.Field{
		{Name: "xyz", Schema: data.Int32Schema},
		{Name: "bar", Schema: data.BooleanSchema},
		{Name: "etc", Schema: data.StringSchema},
	}}
	if !data.Equal(out.ValueSchema, want) || !reflect.DeepEqual(out.Value.(*data.Struct).Values, []any{int32(42), true, "etc"}) {
		t.Errorf("with schema: %+v %+v", out.ValueSchema, out.Value)
	}
	out = apply(t, c, &Record{Topic: "test", Value: map[string]any{"dont": "whatever", "abc": 42, "foo": true, "etc": "etc"}})
	if want := map[string]any{"xyz": 42, "bar": true, "etc": "etc"}; !reflect.DeepEqual(out.Value, want) {
		t.Errorf("schemaless: %#v", out.Value)
	}

	// include (and its old name whitelist), exclude winning over include.
	for _, opts := range []map[string]string{
		{"include": "abc,foo"},
		{"whitelist": "abc,foo"},
		{"include": "abc,foo,dont", "exclude": "dont"},
		{"include": "abc,foo", "whitelist": "etc"},
		{"blacklist": "dont,etc"},
	} {
		c := one(t, ReplaceFieldValue, opts)
		out := apply(t, c, &Record{Topic: "test", ValueSchema: in, Value: value})
		if names := fieldNames(out.ValueSchema); !reflect.DeepEqual(names, []string{"abc", "foo"}) {
			t.Errorf("%v: fields %v", opts, names)
		}
		out = apply(t, c, &Record{Topic: "test", Value: data.Map{{Key: "etc", Value: 1}, {Key: "foo", Value: 2}, {Key: "abc", Value: 3}}})
		if want := (data.Map{{Key: "foo", Value: 2}, {Key: "abc", Value: 3}}); !reflect.DeepEqual(out.Value, want) {
			t.Errorf("%v: schemaless %#v", opts, out.Value)
		}
	}

	// The key side, and a tombstone passing.
	ck := one(t, ReplaceFieldKey, map[string]string{"renames": "id:key_id"})
	ks := &data.Schema{Type: data.StructType, Name: "k", Fields: []data.Field{{Name: "id", Schema: data.Int32Schema}}}
	out = apply(t, ck, &Record{Topic: "t", KeySchema: ks, Key: data.NewStruct(ks).Put("id", int32(7))})
	if fieldNames(out.KeySchema)[0] != "key_id" || out.Key.(*data.Struct).Get("key_id") != int32(7) || out.Value != nil {
		t.Errorf("key: %+v", out)
	}
	r := &Record{Topic: "t", ValueSchema: in}
	if out := apply(t, c, r); out != r {
		t.Errorf("tombstone changed")
	}
	// Two fields renamed to one name.
	cd := one(t, ReplaceFieldValue, map[string]string{"renames": "abc:foo"})
	if _, err := cd.Apply(&Record{Topic: "t", ValueSchema: in, Value: value}); err == nil || !strings.Contains(err.Error(), "duplication foo") {
		t.Errorf("rename onto an existing field: %v", err)
	}
}

func fieldNames(s *data.Schema) []string {
	var out []string
	for _, f := range s.Fields {
		out = append(out, f.Name)
	}
	return out
}

func TestValueToKey(t *testing.T) {
	c := one(t, ValueToKey, map[string]string{"fields": "a,b"})
	// schemaless
	out := apply(t, c, &Record{Topic: "", Value: map[string]any{"a": 1, "b": 2, "c": 3}})
	if !reflect.DeepEqual(out.Key, map[string]any{"a": 1, "b": 2}) || out.KeySchema != nil {
		t.Errorf("schemaless key %#v", out.Key)
	}
	// withSchema
	in := &data.Schema{Type: data.StructType, Fields: []data.Field{{Name: "a", Schema: data.Int32Schema}, {Name: "b", Schema: data.Int32Schema}, {Name: "c", Schema: data.Int32Schema}}}
	v := data.NewStruct(in).Put("a", int32(1)).Put("b", int32(2)).Put("c", int32(3))
	out = apply(t, c, &Record{Topic: "", ValueSchema: in, Value: v})
	wantKey := &data.Schema{Type: data.StructType, Fields: []data.Field{{Name: "a", Schema: data.Int32Schema}, {Name: "b", Schema: data.Int32Schema}}}
	if !data.Equal(out.KeySchema, wantKey) || !reflect.DeepEqual(out.Key.(*data.Struct).Values, []any{int32(1), int32(2)}) || out.Value != v || out.ValueSchema != in {
		t.Errorf("with schema: %+v", out)
	}
	// nonExistingField
	c = one(t, ValueToKey, map[string]string{"fields": "not_exist"})
	if _, err := c.Apply(&Record{Topic: "", ValueSchema: in, Value: v}); err == nil || err.Error() != "transform x: Field does not exist: not_exist" {
		t.Errorf("unknown field: %v", err)
	}
	// A tombstone fails as in Kafka (predicates skip it).
	if _, err := c.Apply(&Record{Topic: ""}); err == nil || !strings.Contains(err.Error(), "copying fields from value to key") {
		t.Errorf("tombstone: %v", err)
	}
}

func TestExtractField(t *testing.T) {
	c := one(t, ExtractFieldKey, map[string]string{"field": "magic"})
	// schemaless
	out := apply(t, c, &Record{Topic: "", Key: map[string]any{"magic": 42}})
	if out.Key != 42 || out.KeySchema != nil {
		t.Errorf("schemaless %v", out.Key)
	}
	// testNullSchemaless, nonExistentFieldSchemalessShouldReturnNull
	if out := apply(t, c, &Record{Topic: ""}); out.Key != nil {
		t.Errorf("null: %v", out.Key)
	}
	if out := apply(t, c, &Record{Topic: "", Key: map[string]any{"other": 1}}); out.Key != nil {
		t.Errorf("missing field: %v", out.Key)
	}
	// withSchema
	ks := &data.Schema{Type: data.StructType, Fields: []data.Field{{Name: "magic", Schema: data.Int32Schema}}}
	out = apply(t, c, &Record{Topic: "", KeySchema: ks, Key: data.NewStruct(ks).Put("magic", int32(42))})
	if out.KeySchema != data.Int32Schema || out.Key != int32(42) {
		t.Errorf("with schema: %+v", out)
	}
	// testNullWithSchema
	out = apply(t, c, &Record{Topic: "", KeySchema: ks})
	if out.KeySchema != data.Int32Schema || out.Key != nil {
		t.Errorf("null with schema: %+v", out)
	}
	// nonExistentFieldWithSchemaShouldFail
	c2 := one(t, ExtractFieldKey, map[string]string{"field": "nonexistent"})
	if _, err := c2.Apply(&Record{Topic: "", KeySchema: ks, Key: data.NewStruct(ks)}); err == nil || !strings.Contains(err.Error(), "Unknown field: nonexistent") {
		t.Errorf("unknown field: %v", err)
	}
	// field.syntax.version=V2: nested structs and maps.
	inner := &data.Schema{Type: data.StructType, Optional: true, Fields: []data.Field{{Name: "c.d", Schema: data.Int64Schema}, {Name: "e", Schema: &data.Schema{Type: data.String, Optional: true, Default: "dflt"}}}}
	outer := &data.Schema{Type: data.StructType, Fields: []data.Field{{Name: "a", Schema: inner}}}
	v := data.NewStruct(outer).Put("a", data.NewStruct(inner).Put("c.d", int64(5)))
	for _, tc := range []struct {
		field, replace string
		schema         *data.Schema
		want           any
	}{
		{"a.`c.d`", "true", data.Int64Schema, int64(5)},
		{"a.e", "true", inner.Fields[1].Schema, "dflt"},
		{"a.e", "false", inner.Fields[1].Schema, nil},
	} {
		c := one(t, ExtractFieldValue, map[string]string{"field": tc.field, "field.syntax.version": "v2", "replace.null.with.default": tc.replace})
		out := apply(t, c, &Record{Topic: "", ValueSchema: outer, Value: v})
		if out.ValueSchema != tc.schema || out.Value != tc.want {
			t.Errorf("V2 %s: %+v %v", tc.field, out.ValueSchema, out.Value)
		}
	}
	c = one(t, ExtractFieldValue, map[string]string{"field": "a.b", "field.syntax.version": "V2"})
	if out := apply(t, c, &Record{Topic: "", Value: map[string]any{"a": data.Map{{Key: "b", Value: "x"}}}}); out.Value != "x" {
		t.Errorf("V2 schemaless: %v", out.Value)
	}
	// V1 takes the name as it is.
	c = one(t, ExtractFieldValue, map[string]string{"field": "a.b"})
	if out := apply(t, c, &Record{Topic: "", Value: map[string]any{"a.b": 1, "a": map[string]any{"b": 2}}}); out.Value != 1 {
		t.Errorf("V1 dotted name: %v", out.Value)
	}
}

func TestFieldPathV2(t *testing.T) {
	// SingleFieldPathTest
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"foo", []string{"foo"}},
		{"foo.bar", []string{"foo", "bar"}},
		{"foo.bar.baz", []string{"foo", "bar", "baz"}},
		{"`foo.bar`.baz", []string{"foo.bar", "baz"}},
		{"foo.`bar.baz`", []string{"foo", "bar.baz"}},
		{"`foo\\`.bar`.baz", []string{"foo`.bar", "baz"}},
		{"foo.", []string{"foo", ""}},
		{"`foo`bar`.baz", []string{"foo`bar", "baz"}},
	} {
		got, err := fieldPathV2(tc.path)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q %v, want %q", tc.path, got, err, tc.want)
		}
	}
	if _, err := fieldPathV2("`foo.bar"); err == nil || !strings.Contains(err.Error(), "Incomplete backtick pair in path: [`foo.bar]") {
		t.Errorf("incomplete backtick: %v", err)
	}
}
