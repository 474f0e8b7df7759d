package postgres

import (
	"strings"
	"testing"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/connect/convert"
)

const typesDDL = `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE types (
	id int PRIMARY KEY,
	i2 smallint, i4 int NOT NULL, i8 bigint, f4 real, f8 double precision,
	num numeric(10,2), numv numeric, b boolean, ch char(3), vc varchar(10), tx text, ba bytea,
	d date, t time, t3 time(3), ttz timetz, ts timestamp, ts3 timestamp(3), tstz timestamptz, tstz0 timestamptz,
	iv interval, u uuid, j json, jb jsonb, x xml, m mood, ai int[], at text[], bit1 bit(1), bit4 bit(4), vb varbit(8),
	mo money, ip inet, net cidr, mac macaddr, nul text, bc date)`

const typesRow = `(1, 1, 2, 3, 1.5, 2.25, 12.34, 12.340, true, 'ab', 'v', 't', '\x0102ff',
	'2016-11-04', '13:51:30.123456', '13:51:30.123', '13:51:30.123456+02', '2016-11-04 13:51:30.123456', '2016-11-04 13:51:30.123',
	'2016-11-04 13:51:30.123456+02', '2016-11-04 13:51:30+00',
	'1 year 2 months 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"a":1}', '<a>1</a>', 'happy',
	'{1,2,NULL}', '{a,"b c"}', B'1', B'1010', B'101', 12.34, '192.168.0.1', '10.0.0.0/8', '08:00:2b:01:02:03', NULL, '1970-01-02')`

// Debezium's documented JSON of each column (JsonConverter, schemas.enable=false).
var typesWant = map[string]string{
	"id": `1`, "i2": `1`, "i4": `2`, "i8": `3`, "f4": `1.5`, "f8": `2.25`,
	"num":  `"BNI="`,                     // Decimal(scale 2) of 1234
	"numv": `{"scale":3,"value":"MDQ="}`, // VariableScaleDecimal of 12340e-3
	"b":    `true`, "ch": `"ab "`, "vc": `"v"`, "tx": `"t"`, "ba": `"AQL/"`,
	"d":     `17109`,              // io.debezium.time.Date: days
	"t":     `49890123456`,        // io.debezium.time.MicroTime
	"t3":    `49890123`,           // io.debezium.time.Time (precision ≤ 3)
	"ttz":   `"11:51:30.123456Z"`, // io.debezium.time.ZonedTime, in UTC
	"ts":    `1478267490123456`,   // io.debezium.time.MicroTimestamp
	"ts3":   `1478267490123`,      // io.debezium.time.Timestamp
	"tstz":  `"2016-11-04T11:51:30.123456Z"`,
	"tstz0": `"2016-11-04T13:51:30.000000Z"`,
	"iv":    `37091106789000`, // io.debezium.time.MicroDuration, 365.25/12 days a month
	"u":     `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`,
	"j":     `"{\"a\": 1}"`, "jb": `"{\"a\": 1}"`, "x": `"<a>1</a>"`, "m": `"happy"`,
	"ai": `[1,2,null]`, "at": `["a","b c"]`,
	"bit1": `true`, "bit4": `"Cg=="`, "vb": `"BQ=="`, // io.debezium.data.Bits: little-endian bit sets
	"mo": `"BNI="`, "ip": `"192.168.0.1"`, "net": `"10.0.0.0/8"`, "mac": `"08:00:2b:01:02:03"`,
	"nul": `null`, "bc": `1`,
}

// Debezium's schemas of some columns (schemas.enable=true).
var typesSchemaWant = []string{
	`{"type":"int32","optional":false,"field":"i4"}`,
	`{"type":"int16","optional":true,"field":"i2"}`,
	`{"type":"float","optional":true,"field":"f4"}`,
	`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"num"}`,
	`{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":true,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal","field":"numv"}`,
	`{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"d"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"t"}`,
	`{"type":"int32","optional":true,"name":"io.debezium.time.Time","version":1,"field":"t3"}`,
	`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTime","version":1,"field":"ttz"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"ts"}`,
	`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"tstz"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.MicroDuration","version":1,"field":"iv"}`,
	`{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"u"}`,
	`{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"j"}`,
	`{"type":"string","optional":true,"name":"io.debezium.data.Xml","version":1,"field":"x"}`,
	`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"sad,ok,happy"},"field":"m"}`,
	`{"type":"array","items":{"type":"int32","optional":true},"optional":true,"field":"ai"}`,
	`{"type":"boolean","optional":true,"field":"bit1"}`,
	`{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"4"},"field":"bit4"}`,
	`{"type":"bytes","optional":true,"field":"ba"}`,
	`"name":"srv.public.types.Envelope","version":2`,
	`"name":"io.debezium.connector.postgresql.Source"`,
	`{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"}`,
}

// afterJSON is the after row's JSON members, by column.
func afterJSON(t *testing.T, r cdc.Record) map[string]string {
	t.Helper()
	c := &convert.JSON{SchemasEnable: false, DecimalFormat: convert.DecimalBase64, ReplaceNullWithDefault: true}
	b, err := c.FromConnect(r.Topic, r.ValueSchema, r.Value)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, `"after":{`)
	if i < 0 {
		t.Fatalf("no after in %s", s)
	}
	out := map[string]string{}
	for col := range typesWant {
		key := `"` + col + `":`
		j := strings.Index(s[i:], key)
		if j < 0 {
			continue
		}
		rest := s[i+j+len(key):]
		out[col] = jsonPrefix(rest)
	}
	return out
}

// jsonPrefix is the JSON value at the start of s.
func jsonPrefix(s string) string {
	depth, inStr := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
				if depth == 0 {
					return s[:i+1]
				}
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return s[:i]
			}
			depth--
			if depth == 0 {
				return s[:i+1]
			}
		case c == ',' && depth == 0:
			return s[:i]
		}
	}
	return s
}

func TestTypeMatrix(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, typesDDL, `INSERT INTO types VALUES `+typesRow)
	r := start(t, config(db), nil)
	r.c.wait(t, 1)
	sqlExec(t, db, `INSERT INTO types VALUES `+strings.Replace(typesRow, "(1,", "(2,", 1))
	recs := r.c.wait(t, 2)
	for i, rec := range recs {
		got := afterJSON(t, rec)
		for col, want := range typesWant {
			if col == "id" {
				want = []string{"1", "2"}[i]
			}
			if got[col] != want {
				t.Errorf("%s (%s): %s = %s, want %s", []string{"snapshot", "streaming"}[i], field(rec, "op"), col, got[col], want)
			}
		}
	}
	c := &convert.JSON{SchemasEnable: true, DecimalFormat: convert.DecimalBase64, ReplaceNullWithDefault: true}
	b, err := c.FromConnect(recs[1].Topic, recs[1].ValueSchema, recs[1].Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range typesSchemaWant {
		if !strings.Contains(string(b), want) {
			t.Errorf("schema lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("value: %s", b)
	}
}

func TestTypeModes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, typesDDL, `INSERT INTO types VALUES `+typesRow)
	r := start(t, config(db, "decimal.handling.mode", "string", "time.precision.mode", "connect", "binary.handling.mode", "hex",
		"interval.handling.mode", "string", "column.exclude.list", "public.types.(ai|at)"), nil)
	rec := r.c.wait(t, 1)[0]
	got := afterJSON(t, rec)
	want := map[string]string{
		"num": `"12.34"`, "numv": `"12.340"`, "mo": `"12.34"`, "ba": `"0102ff"`,
		"d": `17109`, "t": `49890123`, "ts": `1478267490123`, // Connect's Date, Time, Timestamp (ms)
		"iv": `"P1Y2M3DT4H5M6.789S"`, // io.debezium.time.Interval
	}
	for col, w := range want {
		if got[col] != w {
			t.Errorf("%s = %s, want %s", col, got[col], w)
		}
	}
	for _, col := range []string{"ai", "at"} {
		if _, ok := got[col]; ok {
			t.Errorf("column %s not excluded", col)
		}
	}
	c := &convert.JSON{SchemasEnable: true, DecimalFormat: convert.DecimalBase64, ReplaceNullWithDefault: true}
	b, _ := c.FromConnect(rec.Topic, rec.ValueSchema, rec.Value)
	for _, w := range []string{
		`{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"d"}`,
		`{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"ts"}`,
		`{"type":"string","optional":true,"name":"io.debezium.time.Interval","version":1,"field":"iv"}`,
	} {
		if !strings.Contains(string(b), w) {
			t.Errorf("schema lacks %s", w)
		}
	}

	// time.precision.mode=microseconds and nanoseconds.
	for mode, w := range map[string]map[string]string{
		"microseconds": {"t3": `49890123000`, "ts3": `1478267490123000`, "d": `17109`},
		"nanoseconds":  {"t": `49890123456000`, "ts": `1478267490123456000`, "d": `17109`},
	} {
		dbm := newDB(t)
		sqlExec(t, dbm, typesDDL, `INSERT INTO types VALUES `+typesRow)
		rm := start(t, config(dbm, "time.precision.mode", mode), nil)
		got := afterJSON(t, rm.c.wait(t, 1)[0])
		for col, v := range w {
			if got[col] != v {
				t.Errorf("%s: %s = %s, want %s", mode, col, got[col], v)
			}
		}
	}

	// decimal.handling.mode=double.
	db2 := newDB(t)
	sqlExec(t, db2, typesDDL, `INSERT INTO types VALUES `+typesRow)
	r2 := start(t, config(db2, "decimal.handling.mode", "double"), nil)
	got = afterJSON(t, r2.c.wait(t, 1)[0])
	for col, w := range map[string]string{"num": `12.34`, "numv": `12.34`, "mo": `12.34`} {
		if got[col] != w {
			t.Errorf("double: %s = %s, want %s", col, got[col], w)
		}
	}
}
