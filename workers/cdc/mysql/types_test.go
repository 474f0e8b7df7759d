package mysql

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/fjord-io/fjord/workers/cdc"
)

const typesTable = `CREATE TABLE inventory.types (
	id INT PRIMARY KEY,
	ti TINYINT, tiu TINYINT UNSIGNED, b1 TINYINT(1),
	si SMALLINT, siu SMALLINT UNSIGNED,
	mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
	i INT, iu INT UNSIGNED,
	bi BIGINT, biu BIGINT UNSIGNED,
	f FLOAT, d DOUBLE,
	dec1 DECIMAL(10,3),
	bit1 BIT(1), bit12 BIT(12),
	c CHAR(3), vc VARCHAR(20), tx TEXT,
	bn BINARY(4), vb VARBINARY(10), bl BLOB,
	dt DATE, tm TIME, tm6 TIME(6),
	dtm DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6),
	ts TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL,
	y YEAR,
	j JSON,
	e ENUM('small','medium','large'),
	st SET('a','b','c'),
	zd DATE, zdt DATETIME,
	nn INT NOT NULL DEFAULT 42, ns VARCHAR(5) NOT NULL DEFAULT 'x'
)`

const typesValues = `-5, 250, 1, -300, 65000, -8000000, 16000000, -2000000000, 4000000000, -9000000000000000000, 18000000000000000000,
	1.5, 2.25, 12345.678, b'1', b'101000000011', 'ab', 'hello', 'text', 'ab', 0xDEADBEEF, 'blob',
	'2024-02-29', '-12:34:56', '12:34:56.123456', '2024-02-29 12:34:56', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.123456',
	'2024-02-29 12:34:56', '2024-02-29 12:34:56.123456', 2024, '{"a": 1}', 'medium', 'a,c', '0000-00-00', '0000-00-00 00:00:00', 7, 'y'`

const typesNulls = `NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, DEFAULT, DEFAULT`

// The expected JSON follows Debezium's MySQL type mapping (BinlogValueConverters, the MySQL
// connector documentation's tables): TINYINT and TINYINT(1) → int16, unsigned types one size
// up, BIGINT UNSIGNED as long (wrapping), DECIMAL as Connect Decimal (base64 of the unscaled
// two's complement), BIT(1) → boolean, BIT(n) → io.debezium.data.Bits little-endian,
// DATE → io.debezium.time.Date days, TIME → MicroTime, DATETIME → Timestamp (ms) or
// MicroTimestamp (µs) by precision, TIMESTAMP → ZonedTimestamp at the column's precision,
// YEAR → io.debezium.time.Year, ENUM/SET → their strings, zero dates → null, and MariaDB's
// JSON (a LONGTEXT alias) → string.
const typesAfter = `{"id":ID,"ti":-5,"tiu":250,"b1":1,"si":-300,"siu":65000,"mi":-8000000,"miu":16000000,"i":-2000000000,"iu":4000000000,` +
	`"bi":-9000000000000000000,"biu":-446744073709551616,"f":1.5,"d":2.25,"dec1":"ALxhTg==","bit1":true,"bit12":"Awo=",` +
	`"c":"ab","vc":"hello","tx":"text","bn":"YWIAAA==","vb":"3q2+7w==","bl":"YmxvYg==",` +
	`"dt":19782,"tm":-45296000000,"tm6":45296123456,"dtm":1709210096000,"dtm3":1709210096789,"dtm6":1709210096123456,` +
	`"ts":"2024-02-29T12:34:56Z","ts6":"2024-02-29T12:34:56.123456Z","y":2024,"j":"{\"a\": 1}","e":"medium","st":"a,c",` +
	`"zd":null,"zdt":null,"nn":7,"ns":"y"}`

const typesNullAfter = `{"id":ID,"ti":null,"tiu":null,"b1":null,"si":null,"siu":null,"mi":null,"miu":null,"i":null,"iu":null,"bi":null,"biu":null,` +
	`"f":null,"d":null,"dec1":null,"bit1":null,"bit12":null,"c":null,"vc":null,"tx":null,"bn":null,"vb":null,"bl":null,"dt":null,` +
	`"tm":null,"tm6":null,"dtm":null,"dtm3":null,"dtm6":null,"ts":null,"ts6":null,"y":null,"j":null,"e":null,"st":null,"zd":null,` +
	`"zdt":null,"nn":42,"ns":"x"}`

// typesSchema is the value schema's fields under JsonConverter with schemas.enable=true.
var typesSchema = []string{
	`{"type":"int32","optional":false,"field":"id"}`,
	`{"type":"int16","optional":true,"field":"ti"}`,
	`{"type":"int16","optional":true,"field":"tiu"}`,
	`{"type":"int16","optional":true,"field":"b1"}`,
	`{"type":"int16","optional":true,"field":"si"}`,
	`{"type":"int32","optional":true,"field":"siu"}`,
	`{"type":"int32","optional":true,"field":"mi"}`,
	`{"type":"int32","optional":true,"field":"miu"}`,
	`{"type":"int32","optional":true,"field":"i"}`,
	`{"type":"int64","optional":true,"field":"iu"}`,
	`{"type":"int64","optional":true,"field":"bi"}`,
	`{"type":"int64","optional":true,"field":"biu"}`,
	`{"type":"float","optional":true,"field":"f"}`,
	`{"type":"double","optional":true,"field":"d"}`,
	`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"3","connect.decimal.precision":"10"},"field":"dec1"}`,
	`{"type":"boolean","optional":true,"field":"bit1"}`,
	`{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"12"},"field":"bit12"}`,
	`{"type":"string","optional":true,"field":"c"}`,
	`{"type":"string","optional":true,"field":"vc"}`,
	`{"type":"string","optional":true,"field":"tx"}`,
	`{"type":"bytes","optional":true,"field":"bn"}`,
	`{"type":"bytes","optional":true,"field":"vb"}`,
	`{"type":"bytes","optional":true,"field":"bl"}`,
	`{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"dt"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"tm"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"tm6"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"dtm"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"dtm3"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"dtm6"}`,
	`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts"}`,
	`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"ts6"}`,
	`{"type":"int32","optional":true,"name":"io.debezium.time.Year","version":1,"field":"y"}`,
	`{"type":"string","optional":true,"field":"j"}`,
	`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"small,medium,large"},"field":"e"}`,
	`{"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"parameters":{"allowed":"a,b,c"},"field":"st"}`,
	`{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"zd"}`,
	`{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"zdt"}`,
	`{"type":"int32","optional":false,"default":42,"field":"nn"}`,
	`{"type":"string","optional":false,"default":"x","field":"ns"}`,
}

func TestTypeMatrix(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", typesTable,
		"SET SESSION sql_mode = '', time_zone = '+00:00'",
		"INSERT INTO inventory.types VALUES (1, "+typesValues+")", "INSERT INTO inventory.types VALUES (2, "+typesNulls+")")
	out, stop := e.run(nil)
	topic := "shop.inventory.types"
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, topic)) >= 2 })
	e.db.Exec(t, "SET SESSION sql_mode = '', time_zone = '+00:00'",
		"INSERT INTO inventory.types VALUES (3, "+typesValues+")", "INSERT INTO inventory.types VALUES (4, "+typesNulls+")")
	recs := out.waitFor(t, "the inserts", func(r []cdc.Record) bool { return len(changes(r, topic)) >= 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	cs := changes(recs, topic)
	for i, want := range []string{typesAfter, typesNullAfter, typesAfter, typesNullAfter} {
		want = strings.Replace(want, "ID", string(rune('1'+i)), 1)
		if got := string(rawPayload(t, cs[i])["after"]); got != want {
			t.Errorf("record %d (%s):\n got %s\nwant %s", i, payload(t, cs[i])["op"], got, want)
		}
	}
	// schemas.enable=true: the envelope's after schema.
	var env struct {
		Schema struct {
			Name   string `json:"name"`
			Fields []struct {
				Field  string            `json:"field"`
				Name   string            `json:"name"`
				Fields []json.RawMessage `json:"fields"`
			} `json:"fields"`
		} `json:"schema"`
	}
	if err := json.Unmarshal([]byte(jsonOf(t, true, cs[2].ValueSchema, cs[2].Value)), &env); err != nil {
		t.Fatal(err)
	}
	if env.Schema.Name != "shop.inventory.types.Envelope" || env.Schema.Fields[1].Name != "shop.inventory.types.Value" {
		t.Fatalf("envelope schema %+v", env.Schema)
	}
	after := env.Schema.Fields[1].Fields
	if len(after) != len(typesSchema) {
		t.Fatalf("%d fields, want %d", len(after), len(typesSchema))
	}
	for i, want := range typesSchema {
		if string(after[i]) != want {
			t.Errorf("field %d:\n got %s\nwant %s", i, after[i], want)
		}
	}
}

func TestTypeModes(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory",
		"CREATE TABLE inventory.m (id INT PRIMARY KEY, dec1 DECIMAL(10,3), biu BIGINT UNSIGNED, vb VARBINARY(10), dt DATE, tm TIME(3), dtm DATETIME(6))")
	for _, tc := range []struct {
		conf   map[string]string
		after  string
		schema []string
	}{
		{map[string]string{"decimal.handling.mode": "string", "bigint.unsigned.handling.mode": "precise", "binary.handling.mode": "hex"},
			`{"id":ID,"dec1":"12345.678","biu":"APnM2KHFCAAA","vb":"deadbeef","dt":19782,"tm":45296123000,"dtm":1709210096123456}`,
			[]string{`{"type":"string","optional":true,"field":"dec1"}`,
				`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0","connect.decimal.precision":"20"},"field":"biu"}`,
				`{"type":"string","optional":true,"field":"vb"}`}},
		{map[string]string{"decimal.handling.mode": "double", "time.precision.mode": "connect", "binary.handling.mode": "base64"},
			`{"id":ID,"dec1":12345.678,"biu":-446744073709551616,"vb":"3q2+7w==","dt":19782,"tm":45296123,"dtm":1709210096123}`,
			[]string{`{"type":"double","optional":true,"field":"dec1"}`, `{"type":"int64","optional":true,"field":"biu"}`,
				`{"type":"string","optional":true,"field":"vb"}`,
				`{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"dt"}`,
				`{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Time","version":1,"field":"tm"}`,
				`{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"dtm"}`}},
	} {
		for k, v := range tc.conf {
			e.config[k] = v
		}
		e.db.Exec(t, "DELETE FROM inventory.m", "INSERT INTO inventory.m VALUES (1, 12345.678, 18000000000000000000, 0xDEADBEEF, '2024-02-29', '12:34:56.123', '2024-02-29 12:34:56.123456')")
		out, stop := e.run(nil)
		recs := out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.m")) >= 1 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		r := changes(recs, "shop.inventory.m")[0]
		if got, want := string(rawPayload(t, r)["after"]), strings.Replace(tc.after, "ID", "1", 1); got != want {
			t.Errorf("%v:\n got %s\nwant %s", tc.conf, got, want)
		}
		s := jsonOf(t, true, r.ValueSchema, r.Value)
		for _, f := range tc.schema {
			if !strings.Contains(s, f) {
				t.Errorf("%v: schema lacks %s:\n%s", tc.conf, f, s)
			}
		}
		for k := range tc.conf {
			delete(e.config, k)
		}
	}
}

func TestDecimalsFastAndSlow(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.d (id INT PRIMARY KEY, a DECIMAL(5,2), b DECIMAL(18,9), c DECIMAL(30,10), u DECIMAL(4,0) UNSIGNED)")
	out, stop := e.run(nil)
	out.waitFor(t, "the snapshot's schema change", func(r []cdc.Record) bool { return len(changes(r, "shop")) >= 1 })
	vals := []string{"(1, 123.45, 123456789.123456789, 12345678901234567890.0123456789, 9999)",
		"(2, -123.45, -0.000000001, -1.5, 0)", "(3, 0, 0, 0, 1)", "(4, -999.99, -999999999.999999999, -99999999999999999999.9999999999, 10)"}
	for _, v := range vals {
		e.db.Exec(t, "INSERT INTO inventory.d VALUES "+v)
	}
	recs := changes(out.waitFor(t, "the inserts", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.d")) >= 4 }), "shop.inventory.d")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.config["snapshot.mode"] = "always"
	out2, stop2 := e.run(nil)
	snap := changes(out2.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.d")) >= 4 }), "shop.inventory.d")
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	// The binlog (binary decoding up to precision 18, vitess's text beyond) and the snapshot
	// (text) agree.
	for i := 0; i < 4; i++ {
		ba, sa := rawPayload(t, recs[i])["after"], rawPayload(t, snap[i])["after"]
		if string(ba) != string(sa) {
			t.Errorf("row %d: binlog %s, snapshot %s", i, ba, sa)
		}
	}
	if got := string(rawPayload(t, snap[1])["after"]); got != `{"id":2,"a":"z8c=","b":"/w==","c":"/IHuKgA=","u":"AA=="}` {
		t.Errorf("row 2: %s", got)
	}
}

func TestCharsets(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory",
		"CREATE TABLE inventory.c (id INT PRIMARY KEY, l1 VARCHAR(20) CHARACTER SET latin1, l2 CHAR(5) CHARACTER SET latin1, t1 TEXT CHARACTER SET latin1,"+
			" u VARCHAR(20) CHARACTER SET utf8mb4, c1251 VARCHAR(20) CHARACTER SET cp1251)")
	ins := "INSERT INTO inventory.c VALUES (%d, 'café €', 'ñandú', 'Grüße', 'naïve 日本', 'привет')"
	e.db.Exec(t, "SET NAMES utf8mb4", fmt.Sprintf(ins, 1))
	out, stop := e.run(nil)
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.c")) >= 1 })
	e.db.Exec(t, "SET NAMES utf8mb4", fmt.Sprintf(ins, 2))
	recs := changes(out.waitFor(t, "the insert", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.c")) >= 2 }), "shop.inventory.c")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		want := fmt.Sprintf(`{"id":%d,"l1":"café €","l2":"ñandú","t1":"Grüße","u":"naïve 日本","c1251":"привет"}`, i+1)
		if got := string(rawPayload(t, r)["after"]); got != want {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
