package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/cdc/mysql/mysqltest"
)

// TestCDCMySQLE2E: Debezium's MySqlConnector on a fleet, from its plugin ZIP, with the
// configuration AWS's MSK Connect launch post uses (Debezium 1.x names) and exactly-once, and
// a second connector with Debezium 2.x names at least once. 100 rows exist before (op=r), then
// 20,000 single-row INSERTs go in while the worker and the agent are killed with SIGKILL:
// afterwards every row is on both topics, exactly once on the exactly-once one
// (read_committed), with no second snapshot; an ALTER TABLE … ADD COLUMN mid-stream shows in
// the next events and on the schema change topic; an UPDATE and a DELETE (with its tombstone)
// arrive as Debezium writes them.
func TestCDCMySQLE2E(t *testing.T) {
	t.Parallel()
	total, rate := 20_000, 2_000
	if raceEnabled() {
		total, rate = 3_000, 500
	}
	db := mysqltest.Start(t, mysqltest.Options{})
	db.Exec(t, "CREATE DATABASE inventory",
		"CREATE TABLE inventory.orders (id INT PRIMARY KEY, v VARCHAR(32) NOT NULL)",
		"CREATE USER 'debezium'@'%' IDENTIFIED BY 'dbz-Pa55'",
		"GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'debezium'@'%'")
	var values []string
	for i := 1; i <= 100; i++ {
		values = append(values, fmt.Sprintf("(%d, 'before-%d')", i, i))
	}
	db.Exec(t, "INSERT INTO inventory.orders VALUES "+strings.Join(values, ","))

	f := startFleet(t, 3*time.Second)
	agent := f.startAgent(t, "mysql-agent", 4)
	plugin := f.debeziumPlugin(t, "debezium-mysql", debeziumPluginZip(t, "debezium-connector-mysql-1.9.7.Final.jar",
		"io/debezium/connector/mysql/MySqlConnector.class", "io/debezium/connector/mysql/MySqlConnectorTask.class"))
	capacity := &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}}
	json := map[string]string{
		"key.converter": "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable": "false",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
	}
	// The launch post's configuration (Debezium 1.x names), exactly once.
	v1 := map[string]string{
		"connector.class":                          "io.debezium.connector.mysql.MySqlConnector",
		"tasks.max":                                "1",
		"database.hostname":                        db.Host,
		"database.port":                            fmt.Sprint(db.Port),
		"database.user":                            "debezium",
		"database.password":                        "dbz-Pa55",
		"database.server.id":                       "123456",
		"database.server.name":                     "v1",
		"database.include.list":                    "inventory",
		"database.history.kafka.topic":             "dbhistory.inventory",
		"database.history.kafka.bootstrap.servers": f.tgt,
		"include.schema.changes":                   "true",
		"exactly.once.support":                     "required",
	}
	// Debezium 2.x names, at least once.
	v2 := map[string]string{
		"connector.class":                     "io.debezium.connector.mysql.MySqlConnector",
		"database.hostname":                   db.Host,
		"database.port":                       fmt.Sprint(db.Port),
		"database.user":                       "debezium",
		"database.password":                   "dbz-Pa55",
		"database.server.id":                  "123457",
		"topic.prefix":                        "v2",
		"database.include.list":               "inventory",
		"schema.history.internal.kafka.topic": "schemahistory.inventory",
		"schema.history.internal.kafka.bootstrap.servers": f.tgt,
	}
	for k, v := range json {
		v1[k], v2[k] = v, v
	}
	arn1 := f.createConnectorWith(t, plugin, "mysql-v1", capacity, v1)
	arn2 := f.createConnectorWith(t, plugin, "mysql-v2", capacity, v2)
	f.waitConnector(t, arn1, kctypes.ConnectorStateRunning, 2*time.Minute)
	f.waitConnector(t, arn2, kctypes.ConnectorStateRunning, 2*time.Minute)

	var inserted atomic.Int64
	insertDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		c, err := db.Connect(ctx, "root", "")
		if err != nil {
			insertDone <- err
			return
		}
		defer c.Close()
		start := time.Now()
		for i := 101; i <= 100+total; i++ {
			if i == 100+total/2 {
				if _, err := c.ExecuteFetch("ALTER TABLE inventory.orders ADD COLUMN note VARCHAR(16) NULL", 0, false); err != nil {
					insertDone <- err
					return
				}
			}
			q := fmt.Sprintf("INSERT INTO inventory.orders (id, v) VALUES (%d, 'row-%d')", i, i)
			if _, err := c.ExecuteFetch(q, 0, false); err != nil {
				insertDone <- err
				return
			}
			inserted.Store(int64(i - 100))
			if ahead := time.Duration(i-100)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		insertDone <- nil
	}()
	agent = f.chaos(t, agent, "mysql-agent", 4, inserted.Load)
	if err := <-insertDone; err != nil {
		t.Fatalf("inserts: %v", err)
	}
	db.Exec(t, "UPDATE inventory.orders SET v = 'updated', note = 'n' WHERE id = 7", "DELETE FROM inventory.orders WHERE id = 8")
	n := 100 + total
	for _, c := range []struct {
		name, prefix string
		once         bool
	}{{"mysql-v1", "v1", true}, {"mysql-v2", "v2", false}} {
		evs := cdcEvents(t, f.tgt, c.prefix+".inventory.orders", 3*time.Minute, func(got []*changeEvent) bool {
			deleted := false
			for _, ev := range got {
				deleted = deleted || (ev != nil && ev.Op == "d")
			}
			return len(createsByID(got)) >= n && deleted
		})
		creates := createsByID(evs)
		dups := 0
		for id := 1; id <= n; id++ {
			switch {
			case creates[id] == 0:
				t.Errorf("%s: row %d missing", c.name, id)
			case creates[id] > 1:
				dups++
			}
		}
		if c.once && dups > 0 {
			t.Errorf("%s (exactly.once.support=required): %d rows more than once", c.name, dups)
		}
		var update, del *changeEvent
		reads, tomb, withNote := 0, false, false
		for i, ev := range evs {
			switch {
			case ev == nil:
			case ev.Op == "r":
				reads++
			case ev.Op == "u":
				update = ev
			case ev.Op == "d":
				del, tomb = ev, i+1 < len(evs) && evs[i+1] == nil
			case ev.Op == "c":
				if _, ok := ev.After["note"]; ok {
					withNote = true
				}
			}
		}
		if reads < 100 {
			t.Errorf("%s: %d snapshot events, want at least 100", c.name, reads)
		}
		if update == nil || update.Before["v"] != "before-7" || update.After["v"] != "updated" || update.After["note"] != "n" {
			t.Errorf("%s: the update: %+v", c.name, update)
		}
		if del == nil || idOf(del.Before) != 8 || !tomb {
			t.Errorf("%s: the delete %+v, tombstone after it %v", c.name, del, tomb)
		}
		if !withNote {
			t.Errorf("%s: no event after the ALTER TABLE carries the new column", c.name)
		}
		if src := update.Source; src["connector"] != "mysql" || src["db"] != "inventory" || src["table"] != "orders" || src["file"] == nil {
			t.Errorf("%s: source block %v", c.name, src)
		}
		t.Logf("%s: %d rows (%d snapshotted), %d more than once; ALTER, UPDATE, DELETE and tombstone as Debezium writes them", c.name, n, reads, dups)
	}
	// The schema change topic (<prefix>) has the ALTER.
	poll(t, time.Minute, "the ALTER TABLE on the schema change topic v1", func() bool {
		return topicHolds(t, f.tgt, "v1", "ADD COLUMN note")
	})
	_ = agent
}

// topicHolds reads a topic from the start to its end and reports whether a record value
// contains s.
func topicHolds(t *testing.T, addr, topic, s string) bool {
	t.Helper()
	ends := endOffsets(t, addr, topic)[topic]
	cl := openClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	seen := map[int32]int64{}
	for {
		done := true
		for p, end := range ends {
			if seen[p] < end {
				done = false
			}
		}
		if done {
			return false
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return false
		}
		found := false
		fs.EachRecord(func(r *kgo.Record) {
			seen[r.Partition] = r.Offset + 1
			found = found || strings.Contains(string(r.Value), s)
		})
		if found {
			return true
		}
	}
}
