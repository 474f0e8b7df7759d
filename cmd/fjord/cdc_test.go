package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/store/pgembed"
)

// debeziumPluginZip is a custom plugin archive as Debezium publishes a connector: a directory
// of JARs, one of which holds the connector's class (path like
// io/debezium/connector/mysql/MySqlConnector.class).
func debeziumPluginZip(t *testing.T, jarName string, classes ...string) []byte {
	t.Helper()
	var jar bytes.Buffer
	jz := zip.NewWriter(&jar)
	for _, name := range append([]string{"META-INF/MANIFEST.MF"}, classes...) {
		w, err := jz.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte{0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61}) // a class file's magic
	}
	if err := jz.Close(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create(strings.TrimSuffix(jarName, ".jar") + "/" + jarName)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(jar.Bytes())
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// debeziumPlugin uploads a Debezium plugin archive as a custom plugin and waits until it is
// ACTIVE.
func (f *fleet) debeziumPlugin(t *testing.T, name string, archive []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.pluginDir, "plugins", name+".zip"), archive, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := f.api.kc.CreateCustomPlugin(t.Context(), &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String(name), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{
			BucketArn: aws.String("arn:aws:s3:::plugins"), FileKey: aws.String(name + ".zip")}},
	})
	if err != nil {
		t.Fatalf("CreateCustomPlugin: %v", err)
	}
	poll(t, time.Minute, "the plugin "+name+" ACTIVE", func() bool {
		d, err := f.api.kc.DescribeCustomPlugin(t.Context(), &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: out.CustomPluginArn})
		if err != nil {
			t.Fatalf("DescribeCustomPlugin: %v", err)
		}
		if d.CustomPluginState == kctypes.CustomPluginStateCreateFailed {
			t.Fatalf("custom plugin failed: %v", d.StateDescription)
		}
		return d.CustomPluginState == kctypes.CustomPluginStateActive
	})
	return aws.ToString(out.CustomPluginArn)
}

// changeEvent is a Debezium change event without schema (JsonConverter schemas.enable=false).
type changeEvent struct {
	Op     string         `json:"op"`
	Before map[string]any `json:"before"`
	After  map[string]any `json:"after"`
	Source map[string]any `json:"source"`
}

// cdcEvents reads a topic's change events with a read_committed consumer until done says
// enough, and returns them in order (tombstones as nil).
func cdcEvents(t *testing.T, addr, topic string, timeout time.Duration, done func([]*changeEvent) bool) []*changeEvent {
	t.Helper()
	cl := openClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var out []*changeEvent
	for !done(out) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d events within %v, not enough", topic, len(out), timeout)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Value == nil {
				out = append(out, nil)
				return
			}
			var ev changeEvent
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Fatalf("%s: value %q is not a change event without schema: %v", topic, r.Value, err)
			}
			out = append(out, &ev)
		})
	}
	return out
}

// idOf reads the integer id column of a row.
func idOf(row map[string]any) int {
	if v, ok := row["id"].(float64); ok {
		return int(v)
	}
	return -1
}

// createsByID counts the c and r events of each id.
func createsByID(evs []*changeEvent) map[int]int {
	m := map[int]int{}
	for _, ev := range evs {
		if ev != nil && (ev.Op == "c" || ev.Op == "r") && ev.After != nil {
			m[idOf(ev.After)]++
		}
	}
	return m
}

// chaos kills the agent's worker processes and the agent itself, alternately, every 1.5–3 s,
// kills times, while progress reports how far the load is; it returns the agent now running.
func (f *fleet) chaos(t *testing.T, agent *fjordAgent, id string, kills int, progress func() int64) *fjordAgent {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for i := range kills {
		time.Sleep(time.Duration(1500+rng.IntN(1500)) * time.Millisecond)
		if i%2 == 0 {
			pids := childPIDs(agent.cmd.Process.Pid)
			if len(pids) == 0 {
				t.Logf("kill %d: the agent runs no worker right now; killing the agent instead", i+1)
			} else {
				victim := pids[rng.IntN(len(pids))]
				if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
					t.Fatalf("kill worker: %v", err)
				}
				t.Logf("kill %d: worker %d (kill -9), %d rows in", i+1, victim, progress())
				continue
			}
		}
		pids := childPIDs(agent.cmd.Process.Pid)
		agent.kill(t)
		poll(t, 10*time.Second, "the killed agent's workers to exit", func() bool {
			for _, pid := range pids {
				if alive(pid) {
					return false
				}
			}
			return true
		})
		t.Logf("kill %d: agent (kill -9), %d rows in", i+1, progress())
		agent = f.startAgent(t, id, 4)
	}
	return agent
}

// startLogicalPostgres starts a throwaway PostgreSQL with wal_level=logical.
func startLogicalPostgres(t *testing.T) *pgembed.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgembed.Start(ctx, pgembed.Options{Dir: reachableTempDir(t), Fast: true, Settings: map[string]string{
		"wal_level": "logical", "max_replication_slots": "10", "max_wal_senders": "10"}})
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

// TestCDCPostgresE2E: Debezium's PostgresConnector (pgoutput) on a fleet, from its plugin ZIP.
// 100 rows exist before it starts (op=r), then 20,000 single-row INSERTs go in while the worker
// and the agent are killed with SIGKILL; exactly once (read_committed) every row arrives once,
// with no second snapshot; UPDATEs of a REPLICA IDENTITY FULL table carry the whole before
// row, DELETEs their tombstone. A new connector under the same name after the delete starts
// fresh (a new snapshot).
func TestCDCPostgresE2E(t *testing.T) {
	t.Parallel()
	total, rate := 20_000, 2_000
	if raceEnabled() {
		total, rate = 3_000, 500
	}
	pg := startLogicalPostgres(t)
	ctx := t.Context()
	db, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	for _, q := range []string{
		"CREATE TABLE orders (id int PRIMARY KEY, v text NOT NULL)",
		"ALTER TABLE orders REPLICA IDENTITY FULL",
		"INSERT INTO orders SELECT g, 'before-' || g FROM generate_series(1, 100) g",
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	f := startFleet(t, 3*time.Second)
	agent := f.startAgent(t, "pg-agent", 4)
	plugin := f.debeziumPlugin(t, "debezium-postgres", debeziumPluginZip(t, "debezium-connector-postgres-3.2.0.Final.jar",
		"io/debezium/connector/postgresql/PostgresConnector.class", "io/debezium/connector/postgresql/PostgresConnectorTask.class"))
	conf := map[string]string{
		"connector.class":                "io.debezium.connector.postgresql.PostgresConnector",
		"tasks.max":                      "1",
		"plugin.name":                    "pgoutput",
		"database.hostname":              "127.0.0.1",
		"database.port":                  fmt.Sprint(pg.Port()),
		"database.user":                  "postgres",
		"database.password":              "unused-trust",
		"database.dbname":                "postgres",
		"database.sslmode":               "disable",
		"topic.prefix":                   "pg",
		"table.include.list":             "public.orders",
		"slot.name":                      "fjord_e2e",
		"exactly.once.support":           "required",
		"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   "false",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false",
	}
	capacity := &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}}
	arn := f.createConnectorWith(t, plugin, "orders-cdc", capacity, conf)
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, 2*time.Minute)
	if got := f.describeConnector(t, arn).ConnectorConfiguration["database.password"]; got == "unused-trust" {
		t.Log("note: DescribeConnector returns database.password as stored (as MSK Connect does)")
	}

	var inserted atomic.Int64
	insertDone := make(chan error, 1)
	go func() {
		c, err := pgx.Connect(context.Background(), pg.URL("postgres"))
		if err != nil {
			insertDone <- err
			return
		}
		defer c.Close(context.Background())
		start := time.Now()
		for i := 101; i <= 100+total; i++ {
			if _, err := c.Exec(context.Background(), "INSERT INTO orders VALUES ($1, $2)", i, fmt.Sprintf("row-%d", i)); err != nil {
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
	agent = f.chaos(t, agent, "pg-agent", 4, inserted.Load)
	if err := <-insertDone; err != nil {
		t.Fatalf("inserts: %v", err)
	}
	for _, q := range []string{"UPDATE orders SET v = 'updated' WHERE id = 7", "DELETE FROM orders WHERE id = 8"} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	n := 100 + total
	var evs []*changeEvent
	evs = cdcEvents(t, f.tgt, "pg.public.orders", 3*time.Minute, func(got []*changeEvent) bool {
		evs = got
		deleted := false
		for _, ev := range got {
			deleted = deleted || (ev != nil && ev.Op == "d")
		}
		return len(createsByID(got)) >= n && deleted
	})
	creates, reads := createsByID(evs), 0
	for id := 1; id <= n; id++ {
		if creates[id] != 1 {
			t.Errorf("row %d: %d create/read events, want exactly 1", id, creates[id])
		}
	}
	var update, del *changeEvent
	tombstoneAfterDelete, streamed := false, false
	for i, ev := range evs {
		switch {
		case ev == nil:
		case ev.Op == "r":
			reads++
			if ev.Source["snapshot"] == "false" || ev.Source["snapshot"] == nil {
				t.Errorf("a read event outside the snapshot: %v", ev.Source)
			}
			if streamed {
				t.Errorf("a read event of row %d after streaming began: a second snapshot", idOf(ev.After))
			}
		case ev.Op == "c":
			streamed = true
		case ev.Op == "u":
			update = ev
		case ev.Op == "d":
			del = ev
			tombstoneAfterDelete = i+1 < len(evs) && evs[i+1] == nil
		}
	}
	// The snapshot holds the 100 rows and those inserted before the slot was created (the
	// connector is RUNNING as soon as its task starts): rows 1..reads, then streaming.
	if reads < 100 {
		t.Errorf("%d read (snapshot) events, want at least the 100 rows present at the start", reads)
	}
	for _, ev := range evs {
		if ev != nil && ev.Op == "r" && idOf(ev.After) > reads {
			t.Errorf("row %d read in the snapshot, beyond the snapshot's %d rows", idOf(ev.After), reads)
		}
	}
	if update == nil || update.Before["v"] != "before-7" || update.After["v"] != "updated" {
		t.Errorf("the update of a REPLICA IDENTITY FULL row: %+v, want the whole before row", update)
	}
	if del == nil || idOf(del.Before) != 8 || del.After != nil || !tombstoneAfterDelete {
		t.Errorf("the delete: %+v, tombstone after it %v", del, tombstoneAfterDelete)
	}
	t.Logf("%d rows (%d snapshotted, the rest streamed under 4 kills) each exactly once; update and delete as Debezium writes them", n, reads)

	// A new connector under the same name after the delete starts fresh: a new snapshot of
	// what the table holds now.
	if _, err := f.api.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(arn)}); err != nil {
		t.Fatalf("DeleteConnector: %v", err)
	}
	poll(t, time.Minute, "the connector deleted", func() bool {
		_, err := f.api.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
		return err != nil
	})
	conf["slot.name"] = "fjord_e2e_2"
	conf["topic.prefix"] = "pg2"
	arn2 := f.createConnectorWith(t, plugin, "orders-cdc", capacity, conf)
	f.waitConnector(t, arn2, kctypes.ConnectorStateRunning, 2*time.Minute)
	again := cdcEvents(t, f.tgt, "pg2.public.orders", 2*time.Minute, func(got []*changeEvent) bool { return len(createsByID(got)) >= n-1 })
	if r := createsByID(again); len(r) != n-1 || r[8] != 0 {
		t.Errorf("the new connector snapshotted %d rows, want %d (all but the deleted one)", len(r), n-1)
	}
	_ = agent
}
