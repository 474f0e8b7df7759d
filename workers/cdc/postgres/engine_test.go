package postgres

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/connect/convert"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// plain is a record's key and value as JsonConverter writes them with schemas.enable=false,
// decoded, with the value's source block and timestamps left out.
func plain(t testing.TB, r cdc.Record) (key, value map[string]any) {
	t.Helper()
	c := &convert.JSON{SchemasEnable: false, DecimalFormat: convert.DecimalBase64, ReplaceNullWithDefault: true}
	kb, err := c.FromConnect(r.Topic, r.KeySchema, r.Key)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := c.FromConnect(r.Topic, r.ValueSchema, r.Value)
	if err != nil {
		t.Fatal(err)
	}
	if kb != nil {
		if err := json.Unmarshal(kb, &key); err != nil {
			t.Fatal(err)
		}
	}
	if vb != nil {
		if err := json.Unmarshal(vb, &value); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"ts_ms", "ts_us", "ts_ns", "transaction"} {
			delete(value, k)
		}
	}
	return key, value
}

func jsonOf(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// event is a compact rendering of a change record: topic, key, op, before, after.
func event(t testing.TB, r cdc.Record) string {
	k, v := plain(t, r)
	if v == nil {
		return r.Topic + " " + jsonOf(t, k) + " tombstone"
	}
	return r.Topic + " " + jsonOf(t, k) + " " + v["op"].(string) + " " + jsonOf(t, v["before"]) + " " + jsonOf(t, v["after"])
}

func TestSnapshotThenStreaming(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db,
		`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email varchar(100))`,
		`CREATE TABLE full_ident (id int PRIMARY KEY, qty int NOT NULL, note text)`,
		`ALTER TABLE full_ident REPLICA IDENTITY FULL`,
		`CREATE TABLE ignored (id int PRIMARY KEY)`,
		`INSERT INTO customers VALUES (1, 'Ann', 'ann@x.org'), (2, 'Bob', NULL)`,
		`INSERT INTO full_ident VALUES (1, 5, 'a')`,
		`INSERT INTO ignored VALUES (1)`,
	)
	r := start(t, config(db, "table.include.list", "public.customers,public.full_ident"), nil)
	snap := r.c.wait(t, 3)
	want := []string{
		`srv.public.customers {"id":1} r null {"email":"ann@x.org","id":1,"name":"Ann"}`,
		`srv.public.customers {"id":2} r null {"email":null,"id":2,"name":"Bob"}`,
		`srv.public.full_ident {"id":1} r null {"id":1,"note":"a","qty":5}`,
	}
	var markers []any
	for i, rec := range snap {
		if got := event(t, rec); got != want[i] {
			t.Errorf("snapshot record %d = %s, want %s", i, got, want[i])
		}
		src := field(rec, "source").(*data.Struct)
		markers = append(markers, src.Get("snapshot"))
		if rec.Offset["snapshot"] != "INITIAL" || rec.Offset["lsn"] == nil {
			t.Errorf("snapshot offset %v", rec.Offset)
		}
	}
	if !reflect.DeepEqual(markers, []any{"first", "last_in_data_collection", "last"}) {
		t.Errorf("snapshot markers %v, want first, last_in_data_collection, last", markers)
	}
	if last := snap[2].Offset; last["last_snapshot_record"] != true {
		t.Errorf("last snapshot offset %v lacks last_snapshot_record", last)
	}

	sqlExec(t, db,
		`INSERT INTO customers VALUES (3, 'Cy', 'cy@x.org')`,
		`UPDATE customers SET email = 'bob@x.org' WHERE id = 2`,
		`DELETE FROM customers WHERE id = 1`,
		`UPDATE customers SET id = 30 WHERE id = 3`,
		`INSERT INTO ignored VALUES (2)`,
		`UPDATE full_ident SET qty = 6 WHERE id = 1`,
		`DELETE FROM full_ident WHERE id = 1`,
		`BEGIN; INSERT INTO customers VALUES (4, 'Di', NULL); INSERT INTO customers VALUES (5, 'Ed', NULL); COMMIT`,
		`TRUNCATE full_ident`,
	)
	want = []string{
		`srv.public.customers {"id":3} c null {"email":"cy@x.org","id":3,"name":"Cy"}`,
		// REPLICA IDENTITY DEFAULT: no old row when the key is unchanged.
		`srv.public.customers {"id":2} u null {"email":"bob@x.org","id":2,"name":"Bob"}`,
		// … and only the key in a delete's before, the other columns null or their zero.
		`srv.public.customers {"id":1} d {"email":null,"id":1,"name":""} null`,
		`srv.public.customers {"id":1} tombstone`,
		// A key change: a delete of the old key, its tombstone, a create of the new key.
		`srv.public.customers {"id":3} d {"email":null,"id":3,"name":""} null`,
		`srv.public.customers {"id":3} tombstone`,
		`srv.public.customers {"id":30} c null {"email":"cy@x.org","id":30,"name":"Cy"}`,
		// REPLICA IDENTITY FULL: the whole old row.
		`srv.public.full_ident {"id":1} u {"id":1,"note":"a","qty":5} {"id":1,"note":"a","qty":6}`,
		`srv.public.full_ident {"id":1} d {"id":1,"note":"a","qty":6} null`,
		`srv.public.full_ident {"id":1} tombstone`,
		`srv.public.customers {"id":4} c null {"email":null,"id":4,"name":"Di"}`,
		`srv.public.customers {"id":5} c null {"email":null,"id":5,"name":"Ed"}`,
	}
	recs := r.c.wait(t, 3+len(want))[3:]
	time.Sleep(200 * time.Millisecond) // the TRUNCATE, which must not show
	for i, rec := range recs[:len(want)] {
		if got := event(t, rec); got != want[i] {
			t.Errorf("record %d = %s, want %s", i, got, want[i])
		}
	}
	if len(r.c.data()) != 3+len(want) {
		t.Errorf("%d records, want %d (TRUNCATE is skipped by default): %v", len(r.c.data()), 3+len(want), summary(r.c.data()))
	}
	if hdr := recs[4].Headers; len(hdr) != 1 || hdr[0].Key != "__debezium.newkey" {
		t.Errorf("key-change delete headers %v", hdr)
	}

	// The source block and offset of a streamed event.
	src := field(recs[0], "source").(*data.Struct)
	for _, f := range []string{"version", "connector", "name", "db", "schema", "table", "snapshot"} {
		t.Logf("source.%s = %v", f, src.Get(f))
	}
	if src.Get("connector") != "postgresql" || src.Get("name") != "srv" || src.Get("db") != db || src.Get("schema") != "public" ||
		src.Get("table") != "customers" || src.Get("snapshot") != "false" || src.Get("txId") == nil || src.Get("lsn") == nil {
		t.Errorf("source block %v", src.Values)
	}
	if !strings.HasPrefix(src.Get("sequence").(string), "[") {
		t.Errorf("source.sequence = %v", src.Get("sequence"))
	}
	off := recs[0].Offset
	for _, k := range []string{"lsn", "txId", "ts_usec", "lsn_proc", "messageType"} {
		if off[k] == nil {
			t.Errorf("offset %v lacks %s", off, k)
		}
	}
	if recs[0].Partition["server"] != "srv" {
		t.Errorf("partition %v", recs[0].Partition)
	}
	// Both inserts of the one transaction carry its txId.
	if a, b := field(recs[10], "source").(*data.Struct).Get("txId"), field(recs[11], "source").(*data.Struct).Get("txId"); a != b {
		t.Errorf("txId %v and %v in one transaction", a, b)
	}
}

func TestTransactionMetadata(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, `CREATE TABLE a (id int PRIMARY KEY)`, `CREATE TABLE b (id int PRIMARY KEY)`)
	cfg := config(db, "provide.transaction.metadata", "true")
	r := start(t, cfg, nil)
	waitStreaming(t, r)
	sqlExec(t, db, `BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (1); INSERT INTO a VALUES (2); COMMIT`)
	recs := r.c.wait(t, 5)
	c := &convert.JSON{SchemasEnable: false, DecimalFormat: convert.DecimalBase64, ReplaceNullWithDefault: true}
	var got []string
	for _, rec := range recs {
		if rec.Topic == "srv.transaction" {
			v, _ := c.FromConnect(rec.Topic, rec.ValueSchema, rec.Value)
			s := string(v)
			s = s[:strings.Index(s, `,"ts_ms"`)] // the commit time varies
			got = append(got, rec.Topic+" "+s)
			continue
		}
		tx, _ := c.FromConnect(rec.Topic, rec.ValueSchema.Fields[3].Schema, field(rec, "transaction"))
		got = append(got, rec.Topic+" "+string(tx))
	}
	id := strings.TrimSuffix(strings.TrimPrefix(got[1], `srv.public.a {"id":"`), `","total_order":1,"data_collection_order":1}`)
	want := []string{
		`srv.transaction {"status":"BEGIN","id":"` + id + `","event_count":null,"data_collections":null`,
		`srv.public.a {"id":"` + id + `","total_order":1,"data_collection_order":1}`,
		`srv.public.b {"id":"` + id + `","total_order":2,"data_collection_order":1}`,
		`srv.public.a {"id":"` + id + `","total_order":3,"data_collection_order":2}`,
		`srv.transaction {"status":"END","id":"` + id + `","event_count":3,"data_collections":[{"data_collection":"public.a","event_count":2},{"data_collection":"public.b","event_count":1}]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The END event's offset is the commit's: a restart from it repeats nothing.
	end := recs[4].Offset
	if end["messageType"] != "COMMIT" || end["lsn_commit"] == nil {
		t.Fatalf("END offset %v", end)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	r2 := start(t, cfg, end)
	waitStreaming(t, r2)
	sqlExec(t, db, `INSERT INTO b VALUES (2)`)
	r2.c.wait(t, 3)
	time.Sleep(200 * time.Millisecond)
	if s := summary(r2.c.data()); len(s) != 3 || s[1] != "srv.public.b:c" {
		t.Errorf("after a restart from the END offset: %v", s)
	}
}

func TestMessageKeyColumns(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, `CREATE TABLE k (id int PRIMARY KEY, region text NOT NULL, code int NOT NULL)`, `CREATE TABLE nokey (v text)`,
		`INSERT INTO k VALUES (1, 'eu', 7)`, `INSERT INTO nokey VALUES ('x')`)
	r := start(t, config(db, "message.key.columns", "public.k:region,code"), nil)
	recs := r.c.wait(t, 2)
	want := []string{
		`srv.public.k {"code":7,"region":"eu"} r null {"code":7,"id":1,"region":"eu"}`,
		`srv.public.nokey null r null {"v":"x"}`, // no primary key: no key
	}
	for i, w := range want {
		if got := event(t, recs[i]); got != w {
			t.Errorf("record %d = %s, want %s", i, got, w)
		}
	}
	if recs[0].KeySchema.Name != "srv.public.k.Key" {
		t.Errorf("key schema name %q", recs[0].KeySchema.Name)
	}
}
