package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/mysql/mysqltest"
	"github.com/fjord-io/fjord/workers/connect/convert"
	"github.com/fjord-io/fjord/workers/connect/data"
	"github.com/fjord-io/fjord/workers/runtime"
)

// collector is a test Emitter: it keeps every record.
type collector struct {
	mu   sync.Mutex
	recs []cdc.Record
	fail error
}

func (c *collector) Emit(ctx context.Context, recs ...cdc.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.recs = append(c.recs, recs...)
	return nil
}

func (c *collector) all() []cdc.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cdc.Record(nil), c.recs...)
}

// waitFor waits until cond holds for the records emitted so far.
func (c *collector) waitFor(t *testing.T, what string, cond func([]cdc.Record) bool) []cdc.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs := c.all()
		if cond(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			for _, r := range recs {
				t.Logf("%s", describe(r))
			}
			t.Fatalf("timed out waiting for %s (%d records)", what, len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// changes are the records of a topic that have a value.
func changes(recs []cdc.Record, topic string) []cdc.Record {
	var out []cdc.Record
	for _, r := range recs {
		if r.Topic == topic {
			out = append(out, r)
		}
	}
	return out
}

func jsonOf(t testing.TB, schemas bool, s *data.Schema, v any) string {
	t.Helper()
	c, err := convert.NewJSON(convert.Value, map[string]string{"schemas.enable": fmt.Sprint(schemas)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.FromConnect("t", s, v)
	if err != nil {
		t.Fatalf("converting: %v", err)
	}
	return string(b)
}

func describe(r cdc.Record) string {
	c, _ := convert.NewJSON(convert.Value, map[string]string{"schemas.enable": "false"})
	var k, v []byte
	if r.KeySchema != nil || r.Key != nil {
		k, _ = c.FromConnect(r.Topic, r.KeySchema, r.Key)
	}
	if r.ValueSchema != nil || r.Value != nil {
		v, _ = c.FromConnect(r.Topic, r.ValueSchema, r.Value)
	}
	return fmt.Sprintf("%s key=%s value=%s offset=%v", r.Topic, k, v, r.Offset)
}

// payload is a record's value as schemaless JSON, decoded.
func payload(t testing.TB, r cdc.Record) map[string]any {
	t.Helper()
	if r.Value == nil {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(jsonOf(t, false, r.ValueSchema, r.Value)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// rawPayload is a record's value's fields as schemaless JSON, in order-preserving text.
func rawPayload(t testing.TB, r cdc.Record) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(jsonOf(t, false, r.ValueSchema, r.Value)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type env struct {
	t      *testing.T
	db     *mysqltest.Server
	kafka  *kfake.Cluster
	config map[string]string
}

func newEnv(t *testing.T) *env {
	db := mysqltest.Start(t, mysqltest.Options{})
	k, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return &env{t: t, db: db, kafka: k, config: map[string]string{
		"connector.class":                     "io.debezium.connector.mysql.MySqlConnector",
		"database.hostname":                   db.Host,
		"database.port":                       fmt.Sprint(db.Port),
		"database.user":                       "root",
		"database.password":                   "",
		"database.server.id":                  "5400",
		"topic.prefix":                        "shop",
		"database.include.list":               "inventory",
		"schema.history.internal.kafka.topic": "schema-changes.inventory",
		"schema.history.internal.kafka.bootstrap.servers": strings.Join(k.ListenAddrs(), ","),
	}}
}

func logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// metrics records what the engine reports.
type metrics struct {
	mu        sync.Mutex
	polled    int
	behind    []time.Duration
	snapshots []string
}

func (m *metrics) Polled(n int) { m.mu.Lock(); m.polled += n; m.mu.Unlock() }
func (m *metrics) BehindSource(d time.Duration) {
	m.mu.Lock()
	m.behind = append(m.behind, d)
	m.mu.Unlock()
}
func (m *metrics) Snapshot(running bool, table string, rows, estimate int64, done, tables int) {
	m.mu.Lock()
	m.snapshots = append(m.snapshots, fmt.Sprintf("%v %s %d/%d", running, table, done, tables))
	m.mu.Unlock()
}

// run starts the engine; stop cancels it and returns Run's result.
func (e *env) run(offset map[string]any) (*collector, func() error) {
	out, _, stop := e.runWithMetrics(offset)
	return out, stop
}

func (e *env) runWithMetrics(offset map[string]any) (*collector, *metrics, func() error) {
	e.t.Helper()
	m := &metrics{}
	eng, err := New(cdc.Env{Name: "c1", Config: e.config, Logger: logger(e.t), Metrics: m})
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	out := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := eng.Run(ctx, offset, out)
		if err != nil {
			e.t.Logf("Run: %v", err)
		}
		done <- err
	}()
	var once sync.Once
	var res error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case res = <-done:
			case <-time.After(30 * time.Second):
				res = errors.New("Run did not return after its context was cancelled")
			}
		})
		return res
	}
	e.t.Cleanup(func() { stop() })
	return out, m, stop
}

func TestSnapshotThenStream(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE DATABASE other",
		"CREATE TABLE inventory.customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128))",
		"INSERT INTO inventory.customers VALUES (1, 'Sally', 'sally@example.com'), (2, 'George', NULL)",
		"CREATE TABLE other.ignored (id INT PRIMARY KEY)", "INSERT INTO other.ignored VALUES (1)")
	out, stop := e.run(nil)
	topic := "shop.inventory.customers"
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, topic)) >= 2 })
	e.db.Exec(t, "INSERT INTO inventory.customers VALUES (3, 'Edward', 'ed@example.com')",
		"UPDATE inventory.customers SET email = 'george@example.com' WHERE id = 2",
		"DELETE FROM inventory.customers WHERE id = 1",
		"BEGIN", "INSERT INTO inventory.customers VALUES (4, 'Anne', NULL)", "INSERT INTO inventory.customers VALUES (5, 'Ben', NULL)", "COMMIT",
		"INSERT INTO other.ignored VALUES (2)")
	recs := out.waitFor(t, "the changes", func(r []cdc.Record) bool { return len(changes(r, topic)) >= 8 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	cs := changes(recs, topic)
	type want struct {
		op     string
		key    string
		before string
		after  string
	}
	wants := []want{
		{"r", `{"id":1}`, "null", `{"id":1,"name":"Sally","email":"sally@example.com"}`},
		{"r", `{"id":2}`, "null", `{"id":2,"name":"George","email":null}`},
		{"c", `{"id":3}`, "null", `{"id":3,"name":"Edward","email":"ed@example.com"}`},
		{"u", `{"id":2}`, `{"id":2,"name":"George","email":null}`, `{"id":2,"name":"George","email":"george@example.com"}`},
		{"d", `{"id":1}`, `{"id":1,"name":"Sally","email":"sally@example.com"}`, "null"},
		{"", `{"id":1}`, "", ""}, // tombstone
		{"c", `{"id":4}`, "null", `{"id":4,"name":"Anne","email":null}`},
		{"c", `{"id":5}`, "null", `{"id":5,"name":"Ben","email":null}`},
	}
	if len(cs) != len(wants) {
		for _, r := range cs {
			t.Logf("%s", describe(r))
		}
		t.Fatalf("%d records on %s, want %d", len(cs), topic, len(wants))
	}
	for i, w := range wants {
		r := cs[i]
		if k := jsonOf(t, false, r.KeySchema, r.Key); k != w.key {
			t.Errorf("record %d: key %s, want %s", i, k, w.key)
		}
		if w.op == "" {
			if r.Value != nil {
				t.Errorf("record %d: want a tombstone, got %s", i, describe(r))
			}
			continue
		}
		p := payload(t, r)
		rw := rawPayload(t, r)
		b, a := string(rw["before"]), string(rw["after"])
		if p["op"] != w.op || b != w.before || a != w.after {
			t.Errorf("record %d: op %v before %s after %s, want %s %s %s", i, p["op"], b, a, w.op, w.before, w.after)
		}
		src := p["source"].(map[string]any)
		if src["connector"] != "mysql" || src["name"] != "shop" || src["db"] != "inventory" || src["table"] != "customers" {
			t.Errorf("record %d: source %v", i, src)
		}
		if w.op == "r" {
			if want := map[int]string{0: "first", 1: "last"}[i]; src["snapshot"] != want {
				t.Errorf("record %d: source.snapshot %v, want %s", i, src["snapshot"], want)
			}
		} else if src["snapshot"] != "false" || src["file"] == "" || src["pos"].(float64) <= 0 {
			t.Errorf("record %d: source %v", i, src)
		}
		if r.Partition["server"] != "shop" {
			t.Errorf("record %d: partition %v", i, r.Partition)
		}
	}
	for _, r := range recs {
		if strings.Contains(r.Topic, "other") {
			t.Errorf("a record of an excluded database: %s", describe(r))
		}
	}
	// The schema change topic got the snapshot's CREATE TABLE.
	sc := changes(recs, "shop")
	if len(sc) == 0 {
		t.Fatalf("no schema change record")
	}
	p := payload(t, sc[0])
	if p["databaseName"] != "inventory" || !strings.Contains(p["ddl"].(string), "CREATE TABLE") {
		t.Errorf("schema change %v", p)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE USER 'norepl'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT, RELOAD ON *.* TO 'norepl'@'%'",
		"CREATE USER 'repl'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT, RELOAD, REPLICATION SLAVE ON *.* TO 'repl'@'%'")
	runErr := func(conf map[string]string) error {
		eng, err := New(cdc.Env{Name: "c1", Config: conf, Logger: logger(t)})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return eng.Run(ctx, nil, &collector{})
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range e.config {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		conf map[string]string
		want string
	}{
		{"wrong password", with("database.password", "nope"), "cannot log in"},
		{"no replication privileges", with("database.user", "norepl", "database.password", "pw"), "REPLICATION SLAVE and REPLICATION CLIENT (BINLOG MONITOR)"},
		{"no replication client", with("database.user", "repl", "database.password", "pw"), "lacks the privileges REPLICATION CLIENT (BINLOG MONITOR)"},
		{"database down", with("database.port", "1", "connect.timeout.ms", "2000"), "cannot connect to the database at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runErr(tc.conf)
			var re *runtime.Error
			if !errors.As(err, &re) || !re.Permanent || re.Code != catalog.CodeInvalidConfiguration || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want a permanent %s naming %q", err, catalog.CodeInvalidConfiguration, tc.want)
			}
		})
	}
	t.Run("binlog off", func(t *testing.T) {
		off := mysqltest.Start(t, mysqltest.Options{NoBinlog: true})
		err := runErr(with("database.port", fmt.Sprint(off.Port)))
		var re *runtime.Error
		if !errors.As(err, &re) || !re.Permanent || !strings.Contains(err.Error(), "log_bin=OFF") {
			t.Fatalf("Run: %v, want a permanent error naming log_bin=OFF", err)
		}
	})
}

// ids are the id key fields of a topic's change records (tombstones left out), with their op.
func ids(t testing.TB, recs []cdc.Record, topic string) []string {
	var out []string
	for _, r := range changes(recs, topic) {
		if r.Value == nil {
			continue
		}
		p := payload(t, r)
		row, _ := p["after"].(map[string]any)
		if row == nil {
			row, _ = p["before"].(map[string]any)
		}
		out = append(out, fmt.Sprintf("%s%v", p["op"], row["id"]))
	}
	return out
}

func TestResumeFromOffsets(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO inventory.t VALUES (0, 'snap')")
	out, stop := e.run(nil)
	topic := "shop.inventory.t"
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, topic)) >= 1 })
	e.db.Exec(t,
		"BEGIN", "INSERT INTO inventory.t VALUES (1, 'a'), (2, 'b'), (3, 'c')", "INSERT INTO inventory.t VALUES (4, 'd')", "UPDATE inventory.t SET v = 'x' WHERE id IN (1, 2)", "COMMIT",
		"INSERT INTO inventory.t VALUES (5, 'e')", "FLUSH BINARY LOGS",
		"BEGIN", "DELETE FROM inventory.t WHERE id = 3", "INSERT INTO inventory.t VALUES (6, 'f')", "COMMIT")
	all := out.waitFor(t, "the changes", func(r []cdc.Record) bool { return len(ids(t, r, topic)) >= 10 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{"r0", "c1", "c2", "c3", "c4", "u1", "u2", "c5", "d3", "c6"}
	if got := ids(t, all, topic); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first run: %v, want %v", got, want)
	}
	// Restarting from the offset of each record yields exactly the records after it.
	var withOffsets []int
	for i, r := range all {
		if r.Offset != nil && r.Topic == topic {
			withOffsets = append(withOffsets, i)
		}
	}
	for _, i := range withOffsets {
		off := all[i].Offset
		// The offset as it comes back from the Connect offsets topic: JSON numbers.
		b, _ := json.Marshal(off)
		var stored map[string]any
		json.Unmarshal(b, &stored)
		wantAfter := ids(t, all[i+1:], topic)
		out2, stop2 := e.run(stored)
		if len(wantAfter) > 0 {
			out2.waitFor(t, fmt.Sprintf("the records after %s", b), func(r []cdc.Record) bool { return len(ids(t, r, topic)) >= len(wantAfter) })
		}
		time.Sleep(300 * time.Millisecond)
		if err := stop2(); err != nil {
			t.Fatal(err)
		}
		if got := ids(t, out2.all(), topic); fmt.Sprint(got) != fmt.Sprint(wantAfter) {
			t.Errorf("resuming from %s: %v, want %v", b, got, wantAfter)
		}
	}
}

func TestDDLAndSchemaHistory(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.t (id INT PRIMARY KEY, a VARCHAR(10))")
	out, stop := e.run(nil)
	topic := "shop.inventory.t"
	out.waitFor(t, "the snapshot's schema change", func(r []cdc.Record) bool { return len(changes(r, "shop")) >= 1 })
	e.db.Exec(t, "INSERT INTO inventory.t VALUES (1, 'one')",
		"ALTER TABLE inventory.t ADD COLUMN b INT NOT NULL DEFAULT 7",
		"INSERT INTO inventory.t VALUES (2, 'two', 2)",
		"ALTER TABLE inventory.t DROP COLUMN a",
		"INSERT INTO inventory.t VALUES (3, 3)",
		"CREATE TABLE inventory.u (k VARCHAR(5) PRIMARY KEY)", "INSERT INTO inventory.u VALUES ('x')")
	recs := out.waitFor(t, "the changes", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.u")) >= 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var afters []string
	for _, r := range changes(recs, topic) {
		afters = append(afters, string(rawPayload(t, r)["after"]))
	}
	want := []string{`{"id":1,"a":"one"}`, `{"id":2,"a":"two","b":2}`, `{"id":3,"b":3}`}
	if fmt.Sprint(afters) != fmt.Sprint(want) {
		t.Fatalf("after: %v, want %v", afters, want)
	}
	// The ALTERs on the schema change topic, with Debezium's fields.
	var ddls []string
	for _, r := range changes(recs, "shop") {
		p := payload(t, r)
		ddls = append(ddls, p["ddl"].(string))
		if k := jsonOf(t, false, r.KeySchema, r.Key); k != `{"databaseName":"inventory"}` {
			t.Errorf("schema change key %s", k)
		}
	}
	if len(ddls) != 4 || !strings.HasPrefix(ddls[1], "ALTER TABLE inventory.t ADD COLUMN b") || !strings.HasPrefix(ddls[3], "CREATE TABLE inventory.u") {
		t.Fatalf("schema changes: %q", ddls)
	}
	sc := payload(t, changes(recs, "shop")[1])
	tc := sc["tableChanges"].([]any)[0].(map[string]any)
	if tc["type"] != "ALTER" || tc["id"] != `"inventory"."t"` {
		t.Errorf("tableChanges %v", tc)
	}
	cols := tc["table"].(map[string]any)["columns"].([]any)
	if len(cols) != 3 || cols[2].(map[string]any)["name"] != "b" || cols[2].(map[string]any)["typeName"] != "INT" {
		t.Errorf("columns %v", cols)
	}
	// The value schema's default.
	var last cdc.Record
	for _, r := range changes(recs, topic) {
		last = r
	}
	if s := jsonOf(t, true, last.ValueSchema, last.Value); !strings.Contains(s, `{"type":"int32","optional":false,"default":7,"field":"b"}`) {
		t.Errorf("schema of b: %s", s)
	}

	// Restarted while the table changed: rows written before the change decode with the
	// schema of the history topic, not the live one.
	lastOffset := recs[len(recs)-1].Offset
	e.db.Exec(t, "INSERT INTO inventory.t VALUES (4, 4)", "ALTER TABLE inventory.t ADD COLUMN c VARCHAR(3)", "INSERT INTO inventory.t VALUES (5, 5, 'c')")
	out2, stop2 := e.run(lastOffset)
	recs2 := out2.waitFor(t, "the changes after the restart", func(r []cdc.Record) bool { return len(changes(r, topic)) >= 2 })
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	afters = nil
	for _, r := range changes(recs2, topic) {
		afters = append(afters, string(rawPayload(t, r)["after"]))
	}
	if want := []string{`{"id":4,"b":4}`, `{"id":5,"b":5,"c":"c"}`}; fmt.Sprint(afters) != fmt.Sprint(want) {
		t.Fatalf("after the restart: %v, want %v", afters, want)
	}
	for _, r := range recs2 {
		if p := payload(t, r); p != nil && p["op"] == "r" {
			t.Fatalf("the restart snapshotted again: %s", describe(r))
		}
	}
}

func TestFiltersKeysAndMetrics(t *testing.T) {
	e := newEnv(t)
	e.config["table.include.list"] = "inventory\\.(orders|nokey)"
	e.config["column.exclude.list"] = "inventory\\.orders\\.secret"
	e.config["message.key.columns"] = "inventory.orders:customer,id"
	e.db.Exec(t, "CREATE DATABASE inventory",
		"CREATE TABLE inventory.orders (id INT PRIMARY KEY, customer VARCHAR(10), secret VARCHAR(10))",
		"CREATE TABLE inventory.nokey (v INT)", "CREATE TABLE inventory.skipped (id INT PRIMARY KEY)",
		"INSERT INTO inventory.orders VALUES (1, 'ann', 'pw')", "INSERT INTO inventory.skipped VALUES (1)")
	out, m, stop := e.runWithMetrics(nil)
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.orders")) >= 1 })
	e.db.Exec(t, "INSERT INTO inventory.orders VALUES (2, 'bob', 'pw')", "INSERT INTO inventory.nokey VALUES (7)", "DELETE FROM inventory.nokey",
		"INSERT INTO inventory.skipped VALUES (2)")
	recs := out.waitFor(t, "the changes", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.nokey")) >= 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	orders := changes(recs, "shop.inventory.orders")
	if len(orders) != 2 {
		t.Fatalf("%d orders records", len(orders))
	}
	if k := jsonOf(t, false, orders[1].KeySchema, orders[1].Key); k != `{"id":2,"customer":"bob"}` {
		t.Errorf("message.key.columns key %s", k)
	}
	if a := string(rawPayload(t, orders[1])["after"]); a != `{"id":2,"customer":"bob"}` {
		t.Errorf("column.exclude.list: after %s", a)
	}
	nokey := changes(recs, "shop.inventory.nokey")
	if len(nokey) != 2 || nokey[0].Key != nil || nokey[1].Key != nil || payload(t, nokey[1])["op"] != "d" {
		t.Errorf("a table without a key: %v", nokey)
	}
	for _, r := range recs {
		if r.Topic == "shop.inventory.skipped" {
			t.Fatalf("a record of a table not in table.include.list: %s", describe(r))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.polled < 3 || len(m.behind) == 0 || len(m.snapshots) == 0 || m.snapshots[len(m.snapshots)-1] != "false  2/2" {
		t.Errorf("metrics: polled %d, behind %v, snapshots %v", m.polled, m.behind, m.snapshots)
	}
}

func TestTransactionMetadata(t *testing.T) {
	e := newEnv(t)
	e.config["provide.transaction.metadata"] = "true"
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.a (id INT PRIMARY KEY)", "CREATE TABLE inventory.b (id INT PRIMARY KEY)")
	out, stop := e.run(nil)
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop")) >= 2 })
	e.db.Exec(t, "BEGIN", "INSERT INTO inventory.a VALUES (1)", "INSERT INTO inventory.b VALUES (1)", "INSERT INTO inventory.a VALUES (2)", "COMMIT")
	recs := out.waitFor(t, "the END event", func(r []cdc.Record) bool { return len(changes(r, "shop.transaction")) >= 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	tx := changes(recs, "shop.transaction")
	begin, end := rawPayload(t, tx[0]), rawPayload(t, tx[1])
	id := string(begin["id"])
	if string(begin["status"]) != `"BEGIN"` || string(end["status"]) != `"END"` || string(end["id"]) != id || string(end["event_count"]) != "3" ||
		string(end["data_collections"]) != `[{"data_collection":"inventory.a","event_count":2},{"data_collection":"inventory.b","event_count":1}]` {
		t.Fatalf("transaction events %s / %s", jsonOf(t, false, tx[0].ValueSchema, tx[0].Value), jsonOf(t, false, tx[1].ValueSchema, tx[1].Value))
	}
	if !strings.HasPrefix(id, `"0-1-`) {
		t.Errorf("transaction id %s, want the MariaDB GTID", id)
	}
	var blocks []string
	for _, r := range append(changes(recs, "shop.inventory.a"), changes(recs, "shop.inventory.b")...) {
		blocks = append(blocks, string(rawPayload(t, r)["transaction"]))
	}
	want := []string{`{"id":` + id + `,"total_order":1,"data_collection_order":1}`, `{"id":` + id + `,"total_order":3,"data_collection_order":2}`,
		`{"id":` + id + `,"total_order":2,"data_collection_order":1}`}
	if fmt.Sprint(blocks) != fmt.Sprint(want) {
		t.Errorf("transaction blocks %v, want %v", blocks, want)
	}
	if tx[1].Offset == nil || tx[0].Offset != nil {
		t.Errorf("offsets: BEGIN %v, END %v", tx[0].Offset, tx[1].Offset)
	}
}

func TestConnectionLostIsTransient(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.t (id INT PRIMARY KEY)", "INSERT INTO inventory.t VALUES (1)")
	eng, err := New(cdc.Env{Name: "c1", Config: e.config, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	out := &collector{}
	done := make(chan error, 1)
	go func() { done <- eng.Run(context.Background(), nil, out) }()
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.t")) >= 1 })
	e.db.Kill()
	select {
	case err := <-done:
		var re *runtime.Error
		if err == nil || (errors.As(err, &re) && re.Permanent) {
			t.Fatalf("Run after the database died: %v, want a transient error (the runtime restarts the task)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not notice the database died")
	}
}

func TestPurgedBinlog(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.t (id INT PRIMARY KEY)", "INSERT INTO inventory.t VALUES (1)")
	out, stop := e.run(nil)
	recs := out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.t")) >= 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	offset := recs[len(recs)-1].Offset
	e.db.Exec(t, "INSERT INTO inventory.t VALUES (2)", "FLUSH BINARY LOGS", "INSERT INTO inventory.t VALUES (3)")
	// (a purge skips files a dump thread still reads: the stopped engine's may linger)
	for deadline := time.Now().Add(20 * time.Second); ; {
		logs := e.db.Query(t, "SHOW BINARY LOGS")
		if logs[0][0] != offset["file"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not purged: %v", offset["file"], logs)
		}
		e.db.Exec(t, "PURGE BINARY LOGS TO '"+logs[len(logs)-1][0]+"'")
		time.Sleep(100 * time.Millisecond)
	}

	// initial: the stored offset's binlog is gone, a permanent error says what to do.
	out1, stop1 := e.run(offset)
	time.Sleep(500 * time.Millisecond)
	_ = out1
	err := stop1()
	var re *runtime.Error
	if !errors.As(err, &re) || !re.Permanent || !strings.Contains(err.Error(), "when_needed") {
		t.Fatalf("Run from a purged binlog: %v", err)
	}
	// when_needed: snapshots again.
	e.config["snapshot.mode"] = "when_needed"
	out2, stop2 := e.run(offset)
	got := out2.waitFor(t, "the new snapshot", func(r []cdc.Record) bool { return len(ids(t, r, "shop.inventory.t")) >= 3 })
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if g := ids(t, got, "shop.inventory.t"); fmt.Sprint(g) != "[r1 r2 r3]" {
		t.Fatalf("when_needed: %v", g)
	}
}

func TestIncludeQuery(t *testing.T) {
	e := newEnv(t)
	e.config["include.query"] = "true"
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.t (id INT PRIMARY KEY)")
	out, stop := e.run(nil)
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop")) >= 1 })
	e.db.Exec(t, "INSERT INTO inventory.t VALUES (1), (2)")
	recs := out.waitFor(t, "the inserts", func(r []cdc.Record) bool { return len(ids(t, r, "shop.inventory.t")) >= 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for i, r := range changes(recs, "shop.inventory.t")[:2] {
		src := payload(t, r)["source"].(map[string]any)
		if src["query"] != "INSERT INTO inventory.t VALUES (1), (2)" || src["row"] != float64(i) {
			t.Errorf("source %v", src)
		}
	}
}

// The configuration of AWS's MSK Connect launch post: Debezium 1.x names.
func TestDebezium1xNamesAndHistoryRecords(t *testing.T) {
	e := newEnv(t)
	for _, k := range []string{"topic.prefix", "database.include.list", "schema.history.internal.kafka.topic", "schema.history.internal.kafka.bootstrap.servers"} {
		delete(e.config, k)
	}
	e.config["database.server.name"] = "salesdb"
	e.config["database.whitelist"] = "salesdb"
	e.config["database.history.kafka.topic"] = "dbhistory.salesdb"
	e.config["database.history.kafka.bootstrap.servers"] = strings.Join(e.kafka.ListenAddrs(), ",")
	e.config["tasks.max"] = "1"
	e.db.Exec(t, "CREATE DATABASE salesdb", "CREATE TABLE salesdb.orders (order_id INT PRIMARY KEY, amount DECIMAL(8,2))", "INSERT INTO salesdb.orders VALUES (1, 9.99)")
	out, stop := e.run(nil)
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "salesdb.salesdb.orders")) >= 1 })
	e.db.Exec(t, "ALTER TABLE salesdb.orders ADD COLUMN note VARCHAR(20)", "INSERT INTO salesdb.orders VALUES (2, 1.00, 'hi')")
	recs := out.waitFor(t, "the insert", func(r []cdc.Record) bool { return len(changes(r, "salesdb.salesdb.orders")) >= 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if a := string(rawPayload(t, changes(recs, "salesdb.salesdb.orders")[1])["after"]); a != `{"order_id":2,"amount":"ZA==","note":"hi"}` {
		t.Errorf("after %s", a)
	}
	if len(changes(recs, "salesdb")) != 2 {
		t.Errorf("%d schema changes on salesdb, want the snapshot's CREATE and the ALTER", len(changes(recs, "salesdb")))
	}
	// The schema history topic holds Debezium's history records.
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.kafka.ListenAddrs()...), kgo.ConsumeTopics("dbhistory.salesdb"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var hist []map[string]any
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(hist) < 2 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var m map[string]any
			if err := json.Unmarshal(r.Value, &m); err != nil {
				t.Fatalf("history record %s: %v", r.Value, err)
			}
			hist = append(hist, m)
		})
	}
	if len(hist) != 2 {
		t.Fatalf("%d history records", len(hist))
	}
	alter := hist[1]
	pos := alter["position"].(map[string]any)
	if alter["source"].(map[string]any)["server"] != "salesdb" || alter["databaseName"] != "salesdb" || !strings.HasPrefix(alter["ddl"].(string), "ALTER TABLE") ||
		pos["file"] == nil || pos["pos"] == nil || alter["ts_ms"] == nil {
		t.Errorf("history record %v", alter)
	}
	tc := alter["tableChanges"].([]any)[0].(map[string]any)
	cols := tc["table"].(map[string]any)["columns"].([]any)
	if tc["type"] != "ALTER" || tc["id"] != `"salesdb"."orders"` || len(cols) != 3 || cols[2].(map[string]any)["name"] != "note" {
		t.Errorf("tableChanges %v", tc)
	}
}

func TestSnapshotModes(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.t (id INT PRIMARY KEY)", "INSERT INTO inventory.t VALUES (1)")
	for _, tc := range []struct {
		mode string
		want string
	}{
		{"schema_only", "[c2]"},  // no_data: the schema, then changes from now on
		{"never", "[c1 c2 c2]"},  // the binlog from its start (the insert of 2 above, deleted since, too)
		{"initial_only", "[r1]"}, // the snapshot, no streaming
		{"initial", "[r1 c2]"},   // the default
	} {
		t.Run(tc.mode, func(t *testing.T) {
			e.db.Exec(t, "DELETE FROM inventory.t WHERE id = 2")
			e.config["snapshot.mode"] = tc.mode
			e.config["schema.history.internal.kafka.topic"] = "history-" + tc.mode
			e.config["database.server.id"] = fmt.Sprint(5500 + len(tc.mode))
			out, stop := e.run(nil)
			out.waitFor(t, "the start", func(r []cdc.Record) bool { return len(changes(r, "shop")) >= 1 })
			e.db.Exec(t, "INSERT INTO inventory.t VALUES (2)")
			n := strings.Count(tc.want, " ") + 1
			out.waitFor(t, "the records", func(r []cdc.Record) bool { return len(ids(t, r, "shop.inventory.t")) >= n })
			time.Sleep(300 * time.Millisecond)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, id := range ids(t, out.all(), "shop.inventory.t") {
				if !strings.HasPrefix(id, "d") {
					got = append(got, id)
				}
			}
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("snapshot.mode=%s: %v, want %s", tc.mode, got, tc.want)
			}
		})
	}
}

// Privileges granted through a (default) role pass the checks.
func TestPrivilegesThroughRole(t *testing.T) {
	e := newEnv(t)
	e.db.Exec(t, "CREATE DATABASE inventory", "CREATE TABLE inventory.t (id INT PRIMARY KEY)", "INSERT INTO inventory.t VALUES (1)",
		"CREATE ROLE cdc", "GRANT SELECT, RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO cdc",
		"CREATE USER 'viarole'@'%' IDENTIFIED BY 'pw'", "GRANT cdc TO 'viarole'@'%'", "SET DEFAULT ROLE cdc FOR 'viarole'@'%'")
	e.config["database.user"], e.config["database.password"] = "viarole", "pw"
	out, stop := e.run(nil)
	out.waitFor(t, "the snapshot", func(r []cdc.Record) bool { return len(changes(r, "shop.inventory.t")) >= 1 })
	e.db.Exec(t, "INSERT INTO inventory.t VALUES (2)")
	out.waitFor(t, "the insert", func(r []cdc.Record) bool { return len(ids(t, r, "shop.inventory.t")) >= 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
