package pgtest

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestDBName(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tc := range []struct{ test, prefix string }{
		{"TestX", "test_testx_"},
		{"TestX/sub_test#01", "test_testx_sub_test_01_"},
		{"Test Ünïcode/..//x", "test_test_n_code_x_"},
		{strings.Repeat("TestLong", 20), "test_" + strings.Repeat("testlong", 5) + "_"},
	} {
		got := dbName(tc.test)
		if !strings.HasPrefix(got, tc.prefix) || len(got) != len(tc.prefix)+8 || len(got) > 63 {
			t.Errorf("dbName(%q) = %q, want %q and 8 hex digits", tc.test, got, tc.prefix)
		}
		if seen[got] {
			t.Errorf("dbName(%q) = %q again", tc.test, got)
		}
		seen[got] = true
	}
}

// TestDatabaseURL points DATABASE_URL at the shared cluster and checks that
// databases are then made on that server, which stop leaves running.
func TestDatabaseURL(t *testing.T) {
	shared, err := get()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvURL, shared.base.String())
	ext, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if ext.cluster != nil {
		t.Fatal("start ran a cluster although DATABASE_URL is set")
	}
	t.Run("db", func(t *testing.T) {
		raw := ext.newDatabase(t)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if u.Host != shared.base.Host || u.RawQuery != shared.base.RawQuery {
			t.Errorf("URL %s is not on %s", raw, shared.base)
		}
		conn, err := pgx.Connect(t.Context(), raw)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var name string
		if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil || "/"+name != u.Path {
			t.Errorf("current_database() = %q, %v; URL path %q", name, err, u.Path)
		}
	})
	if err := ext.stop(); err != nil {
		t.Fatal(err)
	}
	if err := shared.admin.Ping(t.Context()); err != nil {
		t.Errorf("shared server gone after stopping the DATABASE_URL one: %v", err)
	}
}
