package convert

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/workers/connect/data"
)

func mustJSON(t testing.TB, kind Kind, opts map[string]string) *JSON {
	c, err := NewJSON(kind, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kv(k, v any) data.Entry { return data.Entry{Key: k, Value: v} }

func dec(unscaled int64, scale int32) data.Decimal {
	return data.Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
}

// The expected strings are what Kafka's JsonConverter writes for the cases of its own
// JsonConverterTest (connect/json/src/test/.../JsonConverterTest.java), in Kafka's member order.
func TestJSONGolden(t *testing.T) {
	opt42 := &data.Schema{Type: data.Int32, Optional: true, Default: int32(42)}
	structSchema := data.StructOf(
		data.Field{Name: "field1", Schema: data.BooleanSchema},
		data.Field{Name: "field2", Schema: data.StringSchema},
		data.Field{Name: "field3", Schema: data.StringSchema},
		data.Field{Name: "field4", Schema: data.BooleanSchema},
	)
	nested := data.StructOf(
		data.Field{Name: "id", Schema: data.Int64Schema},
		data.Field{Name: "tags", Schema: data.OptionalOf(data.ArrayOf(data.StringSchema))},
		data.Field{Name: "price", Schema: data.DecimalSchema(2)},
		data.Field{Name: "note", Schema: data.OptionalStringSchema},
	)
	nested.Name, nested.Version = "com.example.Order", new(int32)
	*nested.Version = 3
	day := time.Unix(0, 0).UTC().AddDate(0, 0, 10000)
	cases := []struct {
		name   string
		opts   map[string]string
		schema *data.Schema
		value  any
		want   string
	}{
		{"boolean", nil, data.BooleanSchema, true, `{"schema":{"type":"boolean","optional":false},"payload":true}`},
		{"int8", nil, data.Int8Schema, int8(12), `{"schema":{"type":"int8","optional":false},"payload":12}`},
		{"int16", nil, data.Int16Schema, int16(12), `{"schema":{"type":"int16","optional":false},"payload":12}`},
		{"int32", nil, data.Int32Schema, int32(12), `{"schema":{"type":"int32","optional":false},"payload":12}`},
		{"int64", nil, data.Int64Schema, int64(4398046511104), `{"schema":{"type":"int64","optional":false},"payload":4398046511104}`},
		{"float32", nil, data.Float32Schema, float32(12.34), `{"schema":{"type":"float","optional":false},"payload":12.34}`},
		{"float64", nil, data.Float64Schema, 12.34, `{"schema":{"type":"double","optional":false},"payload":12.34}`},
		{"bytes", nil, data.BytesSchema, []byte("test-string"), `{"schema":{"type":"bytes","optional":false},"payload":"dGVzdC1zdHJpbmc="}`},
		{"string", nil, data.StringSchema, "test-string", `{"schema":{"type":"string","optional":false},"payload":"test-string"}`},
		{"array", nil, data.ArrayOf(data.Int32Schema), []any{int32(1), int32(2), int32(3)},
			`{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2,3]}`},
		{"map string keys", nil, data.MapOf(data.StringSchema, data.Int32Schema), data.Map{kv("key1", int32(12)), kv("key2", int32(15))},
			`{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"key1":12,"key2":15}}`},
		{"map non-string keys", nil, data.MapOf(data.Int32Schema, data.Int32Schema), data.Map{kv(int32(1), int32(12)), kv(int32(2), int32(15))},
			`{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":[[1,12],[2,15]]}`},
		{"struct", nil, structSchema, data.NewStruct(structSchema).Put("field1", true).Put("field2", "string2").Put("field3", "string3").Put("field4", false),
			`{"schema":{"type":"struct","fields":[{"type":"boolean","optional":false,"field":"field1"},{"type":"string","optional":false,"field":"field2"},{"type":"string","optional":false,"field":"field3"},{"type":"boolean","optional":false,"field":"field4"}],"optional":false},"payload":{"field1":true,"field2":"string2","field3":"string3","field4":false}}`},
		{"decimal", nil, data.DecimalSchema(2), dec(156, 2),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}`},
		{"decimal numeric", map[string]string{"decimal.format": "numeric"}, data.DecimalSchema(2), dec(156, 2),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":1.56}`},
		{"decimal negative", nil, data.DecimalSchema(2), dec(-156, 2),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"/2Q="}`},
		{"date", nil, data.DateSchema(), day,
			`{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}`},
		{"time", nil, data.TimeSchema(), time.UnixMilli(14400000),
			`{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400000}`},
		{"timestamp", nil, data.TimestampSchema(), time.UnixMilli(4000000000),
			`{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000000}`},
		{"null schema and primitive", nil, nil, true, `{"schema":null,"payload":true}`},
		{"null schema and array", nil, nil, []any{int32(1), "string", true}, `{"schema":null,"payload":[1,"string",true]}`},
		{"null schema and map", nil, nil, data.Map{kv("key1", int32(12)), kv("key2", "string"), kv("key3", true)},
			`{"schema":null,"payload":{"key1":12,"key2":"string","key3":true}}`},
		{"null schema and map non-string keys", nil, nil, data.Map{kv("string", int32(12)), kv(int32(52), "string"), kv(false, true)},
			`{"schema":null,"payload":[["string",12],[52,"string"],[false,true]]}`},
		{"optional null", nil, data.OptionalBytesSchema, nil, `{"schema":{"type":"bytes","optional":true},"payload":null}`},
		{"null with default", nil, opt42, nil, `{"schema":{"type":"int32","optional":true,"default":42},"payload":42}`},
		{"null kept", map[string]string{"replace.null.with.default": "false"}, opt42, nil, `{"schema":{"type":"int32","optional":true,"default":42},"payload":null}`},
		{"no schemas", map[string]string{"schemas.enable": "false"}, nil, true, `true`},
		{"no schemas struct", map[string]string{"schemas.enable": "false"}, structSchema, data.NewStruct(structSchema).Put("field1", true).Put("field2", "a\"b\\c\n\u0001é").Put("field3", "").Put("field4", false),
			`{"field1":true,"field2":"a\"b\\c\n\u0001é","field3":"","field4":false}`},
		{"no schemas optional null", map[string]string{"schemas.enable": "FALSE"}, data.OptionalStringSchema, nil, `null`},
		{"nested with name, version and optional", nil, nested,
			data.NewStruct(nested).Put("id", int64(7)).Put("tags", []any{"a", "b"}).Put("price", dec(-12345, 2)),
			`{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"price"},{"type":"string","optional":true,"field":"note"}],"optional":false,"name":"com.example.Order","version":3},"payload":{"id":7,"tags":["a","b"],"price":"z8c=","note":null}}`},
		{"NaN", nil, data.Float64Schema, math.NaN(), `{"schema":{"type":"double","optional":false},"payload":"NaN"}`},
		{"large double", nil, data.Float64Schema, 1e21, `{"schema":{"type":"double","optional":false},"payload":1.0E21}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mustJSON(t, Value, tc.opts).FromConnect("topic", tc.schema, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestJSONNullAndErrors(t *testing.T) {
	c := mustJSON(t, Value, nil)
	if got, err := c.FromConnect("t", nil, nil); err != nil || got != nil {
		t.Fatalf("null schema and value: %q, %v; want nil bytes", got, err)
	}
	for name, tc := range map[string]struct {
		schema *data.Schema
		value  any
		want   string
	}{
		"required null":     {data.Int32Schema, nil, "null value for field that is required"},
		"mismatching type":  {data.Float64Schema, true, "Invalid type for FLOAT64: bool"},
		"struct mismatch":   {data.StructOf(data.Field{Name: "a", Schema: data.Int32Schema}), data.NewStruct(data.StructOf(data.Field{Name: "b", Schema: data.Int32Schema})), "Mismatching schema."},
		"decimal scale":     {data.DecimalSchema(3), dec(156, 2), "mismatching scale"},
		"date with time":    {data.DateSchema(), time.UnixMilli(1000), "should not have any time fields"},
		"schemaless struct": {nil, data.NewStruct(data.StructOf()), "Mismatching schema."},
	} {
		if _, err := c.FromConnect("t", tc.schema, tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}

func TestFromBytesMatchesFromConnect(t *testing.T) {
	for _, opts := range []map[string]string{nil, {"schemas.enable": "false"}} {
		c := mustJSON(t, Value, opts)
		for _, b := range [][]byte{nil, {}, []byte("hello"), {0, 1, 2, 0xff, 0xfe}} {
			fast, err := c.FromBytes("t", b)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if b != nil {
				v = b
			}
			slow, err := c.FromConnect("t", data.OptionalBytesSchema, v)
			if err != nil {
				t.Fatal(err)
			}
			if string(fast) != string(slow) {
				t.Fatalf("opts %v, %q: fast %s, slow %s", opts, b, fast, slow)
			}
		}
	}
	got, _ := mustJSON(t, Value, nil).FromBytes("t", []byte("test-string"))
	if want := `{"schema":{"type":"bytes","optional":true},"payload":"dGVzdC1zdHJpbmc="}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestJavaFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {100, 64, "100.0"}, {0.001, 64, "0.001"}, {0.0001, 64, "1.0E-4"},
		{1e7, 64, "1.0E7"}, {1234567, 64, "1234567.0"}, {12345678, 64, "1.2345678E7"}, {-0.5, 64, "-0.5"},
		{0, 64, "0.0"}, {math.Copysign(0, -1), 64, "-0.0"}, {float64(float32(12.34)), 32, "12.34"},
		{float64(float32(0.1)), 32, "0.1"}, {0.1, 64, "0.1"}, {1.5e-10, 64, "1.5E-10"}, {math.Inf(1), 64, "Infinity"},
	} {
		if got := javaFloat(tc.f, tc.bits); got != tc.want {
			t.Errorf("javaFloat(%v, %d) = %s, want %s", tc.f, tc.bits, got, tc.want)
		}
	}
}

func TestDecimalString(t *testing.T) {
	for _, tc := range []struct {
		d    data.Decimal
		want string
	}{
		{dec(156, 2), "1.56"}, {dec(-156, 2), "-1.56"}, {dec(5, 3), "0.005"}, {dec(123, 0), "123"},
		{dec(1, -3), "1E+3"}, {dec(1, 7), "1E-7"}, {dec(12, 8), "1.2E-7"}, {dec(1, 6), "0.000001"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%v/%d: %s, want %s", tc.d.Unscaled, tc.d.Scale, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    int64
		want []byte
	}{{0, []byte{0}}, {127, []byte{0x7f}}, {128, []byte{0, 0x80}}, {-1, []byte{0xff}}, {-128, []byte{0x80}}, {-129, []byte{0xff, 0x7f}}, {-156, []byte{0xff, 0x64}}} {
		got, err := data.DecimalBytes(data.DecimalSchema(0), dec(tc.v, 0))
		if err != nil || string(got) != string(tc.want) {
			t.Errorf("DecimalBytes(%d) = %x, %v; want %x", tc.v, got, err, tc.want)
		}
		back, _ := data.DecimalFromBytes(data.DecimalSchema(0), got)
		if back.Unscaled.Int64() != tc.v {
			t.Errorf("DecimalFromBytes(%x) = %v, want %d", got, back.Unscaled, tc.v)
		}
	}
}

func TestStringAndByteArray(t *testing.T) {
	s, err := New(Value, StringClass, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v    any
		want string
	}{{"héllo", "héllo"}, {[]byte("raw"), "raw"}, {int32(12), "12"}, {true, "true"}, {1e7, "1.0E7"}, {dec(156, 2), "1.56"}} {
		got, err := s.FromConnect("t", nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("StringConverter(%v) = %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
	if got, _ := s.FromConnect("t", data.OptionalStringSchema, nil); got != nil {
		t.Errorf("StringConverter(null) = %q, want nil", got)
	}
	if _, err := New(Value, StringClass, map[string]string{"converter.encoding": "UTF-16"}); err == nil {
		t.Error("converter.encoding UTF-16 was accepted")
	}
	b, _ := New(Key, "ByteArrayConverter", nil)
	if got, err := b.FromConnect("t", data.OptionalBytesSchema, []byte{1, 2}); err != nil || string(got) != "\x01\x02" {
		t.Errorf("ByteArrayConverter = %q, %v", got, err)
	}
	if _, err := b.FromConnect("t", data.StringSchema, "x"); err == nil || !strings.Contains(err.Error(), "Invalid schema type for ByteArrayConverter: STRING") {
		t.Errorf("ByteArrayConverter of a string schema: %v", err)
	}
}

func TestHeaderConverters(t *testing.T) {
	raw := []byte{0xde, 0xad, 'x'}
	for _, tc := range []struct {
		class string
		opts  map[string]string
		want  string
	}{
		{SimpleHeaderClass, nil, "3q14"},
		{ByteArrayClass, nil, "\xde\xadx"},
		{StringClass, nil, "\xde\xadx"},
		{JSONClass, nil, `{"schema":{"type":"bytes","optional":false},"payload":"3q14"}`},
		{JSONClass, map[string]string{"schemas.enable": "false"}, `"3q14"`},
	} {
		h, err := NewHeader(tc.class, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.FromConnectHeader("t", "k", data.BytesSchema, raw)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s %v: %q, %v; want %q", tc.class, tc.opts, got, err, tc.want)
		}
	}
	h := SimpleHeader{}
	s := data.StructOf(data.Field{Name: "a", Schema: data.Int32Schema}, data.Field{Name: "b", Schema: data.StringSchema})
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"plain", "plain"}, {int64(42), "42"}, {true, "true"}, {2.5, "2.5"},
		{[]any{int32(1), "two"}, `[1,"two"]`}, {data.Map{kv("k", "v")}, `{"k":"v"}`},
		{data.NewStruct(s).Put("a", int32(1)).Put("b", `q"`), `{"a":1,"b":"q\""}`},
		{time.UnixMilli(14400000), "04:00:00.000Z"}, {time.Unix(0, 0).AddDate(0, 0, 10000), "1997-05-19"},
		{time.UnixMilli(4000000000), "1970-02-16T07:06:40.000Z"},
	} {
		got, err := h.FromConnectHeader("t", "k", nil, tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("SimpleHeaderConverter(%v) = %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
	if got, _ := h.FromConnectHeader("t", "k", data.BytesSchema, nil); got != nil {
		t.Errorf("SimpleHeaderConverter(null) = %q, want nil", got)
	}
	// Kafka: a required bytes header that is null cannot be written as JSON.
	j, _ := NewHeader(JSONClass, nil)
	if _, err := j.FromConnectHeader("t", "k", data.BytesSchema, nil); err == nil {
		t.Error("JsonConverter wrote a null required header")
	}
}

func TestOptionsAndNew(t *testing.T) {
	conf := map[string]string{"value.converter": JSONClass, "value.converter.schemas.enable": "false", "key.converter.schemas.enable": "true"}
	opts := Options(conf, Value)
	if len(opts) != 1 || opts["schemas.enable"] != "false" {
		t.Fatalf("Options = %v", opts)
	}
	c, err := New(Value, conf["value.converter"], opts)
	if err != nil || c.(*JSON).SchemasEnable {
		t.Fatalf("New = %+v, %v", c, err)
	}
	for _, tc := range []struct {
		kind  Kind
		class string
		opts  map[string]string
		key   string
	}{
		{Value, JSONClass, map[string]string{"schemas.enable": "yes"}, "value.converter.schemas.enable"},
		{Key, JSONClass, map[string]string{"decimal.format": "HEX"}, "key.converter.decimal.format"},
		{Value, "com.example.AvroConverter", nil, "value.converter"},
		{Value, SimpleHeaderClass, nil, "value.converter"},
	} {
		_, err := New(tc.kind, tc.class, tc.opts)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("New(%s, %s, %v): %v, want an error naming %s", tc.kind, tc.class, tc.opts, err, tc.key)
		}
	}
	if _, err := NewHeader("com.example.X", nil); err == nil {
		t.Error("unknown header converter accepted")
	}
}

// BenchmarkJSONFromBytes is JsonConverter's cost per 1 KiB record value (MirrorSource's path).
func BenchmarkJSONFromBytes(b *testing.B) {
	c := mustJSON(b, Value, nil)
	v := []byte(strings.Repeat("x", 1024))
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.FromBytes("t", v); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendString: strings are escaped as Jackson writes them (quote, backslash and control
// characters; other characters, invalid UTF-8 aside, as they are), runs of plain bytes
// included.
func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"":                          `""`,
		"plain value 123":           `"plain value 123"`,
		`a"b\c`:                     `"a\"b\\c"`,
		"tab\there\nnew\r\b\f\x01z": `"tab\there\nnew\r\b\f\u0001z"`,
		"<&>":                       `"<&>"`,
		"héllo ✓ \u2028":            "\"héllo ✓ \u2028\"",
		"bad \xff byte":             "\"bad \uFFFD byte\"",
		"\"":                        `"\""`,
	} {
		if got := string(appendString([]byte("x"), in)); got != "x"+want {
			t.Errorf("appendString(%q) = %s, want %s", in, got[1:], want)
		}
	}
}

// TestJSONSchemaCache: a schema written once is written the same from the cache, a new schema
// of the same name is written as it is, and schemas.cache.size=0 writes every schema afresh.
func TestJSONSchemaCache(t *testing.T) {
	for _, size := range []string{"1000", "1", "0"} {
		c, err := NewJSON(Value, map[string]string{"schemas.cache.size": size})
		if err != nil {
			t.Fatal(err)
		}
		s1 := &data.Schema{Type: data.StructType, Name: "t.Value", Fields: []data.Field{{Name: "id", Schema: data.Int32Schema}}}
		s2 := &data.Schema{Type: data.StructType, Name: "t.Value", Fields: []data.Field{{Name: "id", Schema: data.Int64Schema}}}
		want1 := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"t.Value"},"payload":{"id":1}}`
		want2 := `{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"t.Value"},"payload":{"id":2}}`
		for i := 0; i < 3; i++ {
			b1, err1 := c.FromConnect("t", s1, data.NewStruct(s1).Put("id", int32(1)))
			b2, err2 := c.FromConnect("t", s2, data.NewStruct(s2).Put("id", int64(2)))
			if err1 != nil || err2 != nil || string(b1) != want1 || string(b2) != want2 {
				t.Fatalf("cache size %s, pass %d: %s %v / %s %v", size, i, b1, err1, b2, err2)
			}
		}
	}
}
