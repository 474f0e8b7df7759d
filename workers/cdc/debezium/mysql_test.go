package debezium

import (
	"strings"
	"testing"
	"time"
)

// The configuration of AWS's MSK Connect launch post (Debezium 1.x names).
var debezium1 = map[string]string{
	"connector.class":                          MySQLConnector,
	"tasks.max":                                "1",
	"database.hostname":                        "db.example.com",
	"database.port":                            "3306",
	"database.user":                            "dbuser",
	"database.password":                        "secret",
	"database.server.id":                       "123456",
	"database.server.name":                     "salesdb",
	"database.include.list":                    "salesdb",
	"database.history.kafka.topic":             "dbhistory.salesdb",
	"database.history.kafka.bootstrap.servers": "b-1:9092,b-2:9092",
	"include.schema.changes":                   "true",
}

// The same with Debezium 2.x names.
var debezium2 = map[string]string{
	"connector.class":                                 MySQLConnector,
	"database.hostname":                               "db.example.com",
	"database.user":                                   "dbuser",
	"database.password":                               "secret",
	"database.server.id":                              "123456",
	"topic.prefix":                                    "salesdb",
	"database.include.list":                           "salesdb",
	"schema.history.internal.kafka.topic":             "dbhistory.salesdb",
	"schema.history.internal.kafka.bootstrap.servers": "b-1:9092,b-2:9092",
}

func TestParseMySQLBothGenerations(t *testing.T) {
	for name, m := range map[string]map[string]string{"1.x": debezium1, "2.x": debezium2} {
		c, errs := ParseMySQL(m)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", name, errs)
		}
		if c.Prefix != "salesdb" || c.Hostname != "db.example.com" || c.Port != 3306 || c.User != "dbuser" || c.Password != "secret" ||
			c.ServerID != 123456 || c.HistoryTopic != "dbhistory.salesdb" || strings.Join(c.HistoryBootstrap, ",") != "b-1:9092,b-2:9092" ||
			!c.IncludeSchemaChanges || c.SnapshotMode != SnapshotInitial || c.TimePrecisionMode != TimeAdaptiveMicroseconds ||
			c.BigintUnsignedMode != BigintLong || c.LockingMode != LockingMinimal || c.SSLMode != SSLPreferred ||
			c.ConnectTimeout != 30*time.Second || c.FailureMode != FailureFail {
			t.Errorf("%s: %+v", name, c)
		}
		if !c.CapturesTable("salesdb", "orders") || c.CapturesTable("other", "orders") || c.CapturesTable("mysql", "user") {
			t.Errorf("%s: database filter", name)
		}
		if got := c.Topic("salesdb", "orders"); got != "salesdb.salesdb.orders" {
			t.Errorf("%s: topic %s", name, got)
		}
	}
}

func TestParseMySQLErrors(t *testing.T) {
	_, errs := ParseMySQL(map[string]string{})
	var keys []string
	for _, e := range errs {
		keys = append(keys, e.Key)
	}
	want := []string{"topic.prefix", "database.hostname", "database.user", "database.server.id", "schema.history.internal.kafka.topic", "schema.history.internal.kafka.bootstrap.servers"}
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("errors for an empty configuration: %v", errs)
	}
	if !strings.Contains(errs.Error(), "database.server.name") || !strings.Contains(errs.Error(), "database.history.kafka.topic") {
		t.Errorf("the messages do not mention the 1.x names: %v", errs)
	}
	bad := map[string]string{}
	for k, v := range debezium2 {
		bad[k] = v
	}
	for k, v := range map[string]string{
		"database.port": "99999", "database.server.id": "x", "bigint.unsigned.handling.mode": "huge", "time.precision.mode": "adaptive",
		"snapshot.locking.mode": "extended", "database.ssl.mode": "verify_ca", "event.deserialization.failure.handling.mode": "explode",
		"database.exclude.list": "a", "schema.history.internal": "io.debezium.storage.file.history.FileSchemaHistory", "include.query": "maybe",
	} {
		bad[k] = v
	}
	_, errs = ParseMySQL(bad)
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Key] = true
	}
	for _, k := range []string{"database.port", "database.server.id", "bigint.unsigned.handling.mode", "time.precision.mode", "snapshot.locking.mode",
		"database.ssl.mode", "event.deserialization.failure.handling.mode", "database.exclude.list", "schema.history.internal", "include.query"} {
		if !got[k] {
			t.Errorf("no error for %s: %v", k, errs)
		}
	}
}

func TestMySQLKeysDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range MySQLKeys {
		if k.Doc == "" || k.Type == "" || seen[k.Name] {
			t.Errorf("key %+v", k)
		}
		seen[k.Name] = true
	}
	for _, k := range []string{"database.hostname", "database.port", "database.user", "database.password", "database.server.id",
		"database.include.list", "database.exclude.list", "include.schema.changes", "schema.history.internal.kafka.topic",
		"schema.history.internal.kafka.bootstrap.servers", "bigint.unsigned.handling.mode", "time.precision.mode", "snapshot.locking.mode",
		"gtid.source.includes", "gtid.source.excludes", "database.ssl.mode", "connect.timeout.ms", "include.query",
		"event.deserialization.failure.handling.mode"} {
		if !seen[k] {
			t.Errorf("MySQLKeys lacks %s", k)
		}
	}
}

func TestMySQLSourceBlock(t *testing.T) {
	var names []string
	for _, f := range MySQLSource.Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "version,connector,name,ts_ms,snapshot,db,sequence,ts_us,ts_ns,table,server_id,gtid,file,pos,row,thread,query" {
		t.Fatalf("source fields %s", got)
	}
	s := (&MySQLSourceInfo{Name: "p", TS: time.UnixMilli(1000), DB: "d", File: "f", Pos: 4, Thread: -1}).Struct()
	if s.Get("snapshot") != "false" || s.Get("thread") != nil || s.Get("table") != nil || s.Get("connector") != "mysql" || s.Get("ts_ms") != int64(1000) {
		t.Errorf("source %v", s.Values)
	}
}
