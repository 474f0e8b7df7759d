package pgtest_test

import (
	"context"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func rows(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	r, err := conn.Query(t.Context(), "SELECT v FROM items ORDER BY v")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func currentDatabase(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestParallelIsolation runs tests in parallel that create the same table
// and see only their own rows.
func TestParallelIsolation(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		names []string
	)
	t.Cleanup(func() { // after the subtests
		if len(names) != 3 || len(slices.Compact(slices.Sorted(slices.Values(names)))) != 3 {
			t.Errorf("databases %v, want 3 different ones", names)
		}
	})
	for _, v := range []string{"a", "b", "c"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			conn := connect(t, pgtest.URL(t))
			exec(t, conn, "CREATE TABLE items (v text NOT NULL)")
			exec(t, conn, "INSERT INTO items VALUES ($1), ($1 || '2')", v)
			if got, want := rows(t, conn), []string{v, v + "2"}; !slices.Equal(got, want) {
				t.Errorf("rows = %v, want %v", got, want)
			}
			mu.Lock()
			names = append(names, currentDatabase(t, conn))
			mu.Unlock()
		})
	}
}

// TestTwoDatabases checks isolation with both databases in use at once,
// whatever -parallel says.
func TestTwoDatabases(t *testing.T) {
	t.Parallel()
	c1, c2 := connect(t, pgtest.URL(t)), connect(t, pgtest.URL(t))
	for _, c := range []*pgx.Conn{c1, c2} {
		exec(t, c, "CREATE TABLE items (v text NOT NULL)")
	}
	exec(t, c1, "INSERT INTO items VALUES ('one')")
	exec(t, c2, "INSERT INTO items VALUES ('two')")
	if got := rows(t, c1); !slices.Equal(got, []string{"one"}) {
		t.Errorf("first database: %v", got)
	}
	if got := rows(t, c2); !slices.Equal(got, []string{"two"}) {
		t.Errorf("second database: %v", got)
	}
}

// TestDroppedAfterTest checks that a test's database is gone when the test
// is, even though the test left a connection open.
func TestDroppedAfterTest(t *testing.T) {
	t.Parallel()
	var (
		name string
		open *pgx.Conn
	)
	t.Run("inner", func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		open = conn // deliberately not closed before the test ends
		name = currentDatabase(t, conn)
	})
	defer open.Close(context.Background())

	conn := connect(t, pgtest.URL(t))
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test", name)
	}
}

// TestCreateTiming reports how long URL takes; it asserts nothing about
// speed, which depends on the machine.
func TestCreateTiming(t *testing.T) {
	pgtest.URL(t) // the cluster is started
	var ds []time.Duration
	for range 10 {
		t.Run("db", func(t *testing.T) {
			t0 := time.Now()
			pgtest.URL(t)
			ds = append(ds, time.Since(t0))
		})
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	t.Logf("URL: min %v, median %v, max %v", ds[0], ds[len(ds)/2], ds[len(ds)-1])
}

func BenchmarkURL(b *testing.B) {
	pgtest.URL(b)
	for b.Loop() {
		pgtest.URL(b)
	}
}
