package postgres

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/fjord-io/fjord/store/pgembed"
	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// The tests' PostgreSQL: one throwaway cluster with logical replication, a database per test.
var (
	cluster    *pgembed.Cluster
	clusterDir string
	admin      *pgxpool.Pool
	dbSeq      atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "fjord-cdc-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	clusterDir = dir
	cluster, err = pgembed.Start(ctx, pgembed.Options{Dir: dir, Fast: true, Settings: map[string]string{
		"wal_level": "logical", "max_replication_slots": "40", "max_wal_senders": "40"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start postgres:", err)
		return 1
	}
	defer cluster.Stop()
	admin, err = pgxpool.New(ctx, cluster.URL("postgres"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer admin.Close()
	code := m.Run()
	if code == 0 {
		// No goroutine of an engine outlives its Run (the pool's and the cluster's are ours).
		if err := goleak.Find(goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
			goleak.IgnoreTopFunction("github.com/jackc/puddle/v2.(*Pool).createIdleResources")); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			return 1
		}
	}
	return code
}

// newDB creates a database for t and returns its name.
func newDB(t testing.TB) string {
	t.Helper()
	name := "cdc_" + strconv.FormatInt(dbSeq.Add(1), 10)
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		// Slots keep a database alive; drop what a test left, once their connections ended.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var left int
			_, _ = admin.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active", name)
			_ = admin.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE database = $1", name).Scan(&left)
			if left == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return name
}

// sqlExec runs statements in db.
func sqlExec(t testing.TB, db string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cluster.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func query1(t testing.TB, db, q string, args ...any) string {
	t.Helper()
	var s *string
	if err := admin.QueryRow(context.Background(), q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if s == nil {
		return ""
	}
	return *s
}

// config is a connector configuration for db; kv overrides.
func config(db string, kv ...string) map[string]string {
	m := map[string]string{
		"connector.class":   debezium.PostgresConnector,
		"database.hostname": "127.0.0.1",
		"database.port":     strconv.Itoa(cluster.Port()),
		"database.user":     "postgres",
		"database.dbname":   db,
		"database.sslmode":  "disable",
		"topic.prefix":      "srv",
		"slot.name":         "slot_" + db,
		"publication.name":  "pub_" + db,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// collector is a test Emitter.
type collector struct {
	mu   sync.Mutex
	recs []cdc.Record
	cond chan struct{}
}

func newCollector() *collector { return &collector{cond: make(chan struct{}, 1)} }

func (c *collector) Emit(ctx context.Context, recs ...cdc.Record) error {
	c.mu.Lock()
	c.recs = append(c.recs, recs...)
	c.mu.Unlock()
	select {
	case c.cond <- struct{}{}:
	default:
	}
	return ctx.Err()
}

// data returns the records with a key or value (offset-only records left out).
func (c *collector) data() []cdc.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cdc.Record
	for _, r := range c.recs {
		if r.Key != nil || r.Value != nil {
			out = append(out, r)
		}
	}
	return out
}

// wait waits until n data records arrived and returns them.
func (c *collector) wait(t testing.TB, n int) []cdc.Record {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if recs := c.data(); len(recs) >= n {
			return recs
		}
		select {
		case <-c.cond:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d records after 30s, want %d: %v", len(c.data()), n, summary(c.data()))
		}
	}
}

// run is a running engine.
type run struct {
	e      *Engine
	c      *collector
	cancel context.CancelFunc
	done   chan error
}

func start(t testing.TB, cfg map[string]string, offset map[string]any) *run {
	t.Helper()
	eng, err := New(cdc.Env{Name: "conn", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{e: eng.(*Engine), c: newCollector(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- eng.Run(ctx, offset, r.c) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *run) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30s after cancel")
	}
	return nil
}

// runErr runs an engine that must fail and returns its error.
func runErr(t testing.TB, cfg map[string]string) error {
	t.Helper()
	eng, err := New(cdc.Env{Name: "conn", Config: cfg})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = eng.Run(ctx, nil, newCollector())
	if err == nil {
		t.Fatal("Run returned nil, want an error")
	}
	return err
}

// op, before, after, source of a change record.
func field(r cdc.Record, name string) any {
	if r.Value == nil {
		return nil
	}
	return r.Value.(*data.Struct).Get(name)
}

func rowField(r cdc.Record, which, col string) any {
	s, _ := field(r, which).(*data.Struct)
	if s == nil {
		return nil
	}
	return s.Get(col)
}

func summary(recs []cdc.Record) []string {
	var out []string
	for _, r := range recs {
		if r.Value == nil {
			out = append(out, r.Topic+":tombstone")
			continue
		}
		out = append(out, fmt.Sprintf("%s:%v", r.Topic, field(r, "op")))
	}
	return out
}

// waitStreaming waits until the engine streams from its slot.
func waitStreaming(t testing.TB, r *run) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !r.e.streaming.Load() {
		if time.Now().After(deadline) {
			t.Fatal("not streaming after 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func cdcEnv(cfg map[string]string) cdc.Env { return cdc.Env{Name: "conn", Config: cfg} }

// queryIn runs a one-value query in db.
func queryIn(t testing.TB, db, q string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, cluster.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s *string
	if err := conn.QueryRow(ctx, q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if s == nil {
		return ""
	}
	return *s
}
