package postgres

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/store/pgembed"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/connect/convert"
	"github.com/fjord-io/fjord/workers/runtime"
)

func TestSchemaChangeAndToast(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, `CREATE TABLE t (id int PRIMARY KEY, a text, big text)`)
	cfg := config(db)
	r := start(t, cfg, nil)
	waitStreaming(t, r)
	// An incompressible value larger than the TOAST threshold is stored out of line; an
	// update that leaves it alone does not send it.
	sqlExec(t, db,
		`INSERT INTO t VALUES (1, 'x', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 300) g))`,
		`UPDATE t SET a = 'y' WHERE id = 1`,
		`ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 7`,
		`INSERT INTO t VALUES (2, 'z', 'small')`,
		`ALTER TABLE t DROP COLUMN a`,
		`INSERT INTO t VALUES (3, 'small', 9)`,
	)
	recs := r.c.wait(t, 4)
	if got := rowField(recs[1], "after", "big"); got != "__debezium_unavailable_value" {
		t.Errorf("unchanged TOASTed column = %.40v, want Debezium's placeholder", got)
	}
	if got := rowField(recs[1], "after", "a"); got != "y" {
		t.Errorf("updated column = %v", got)
	}
	want := []string{
		`srv.public.t {"id":2} c null {"a":"z","big":"small","c":7,"id":2}`,
		`srv.public.t {"id":3} c null {"big":"small","c":9,"id":3}`,
	}
	for i, w := range want {
		if got := event(t, recs[2+i]); got != w {
			t.Errorf("after ALTER TABLE: %s, want %s", got, w)
		}
	}
	if recs[2].ValueSchema == recs[0].ValueSchema {
		t.Error("the envelope schema did not change with the table")
	}
	// Constant column defaults are in the schema, as Debezium writes them.
	jc := &convert.JSON{SchemasEnable: true, DecimalFormat: convert.DecimalBase64, ReplaceNullWithDefault: true}
	b, err := jc.FromConnect(recs[2].Topic, recs[2].ValueSchema, recs[2].Value)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"int32","optional":false,"default":7,"field":"c"}`; !strings.Contains(string(b), want) {
		t.Errorf("schema lacks %s: %s", want, b)
	}
}

func TestPublicationAndSlot(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sqlExec(t, db, `CREATE TABLE a (id int PRIMARY KEY)`, `CREATE TABLE b (id int PRIMARY KEY)`, `CREATE SCHEMA other`, `CREATE TABLE other.c (id int PRIMARY KEY)`)

	// filtered: the publication holds only the captured tables.
	cfg := config(db, "publication.autocreate.mode", "filtered", "table.include.list", "public\\.a", "slot.drop.on.stop", "true")
	r := start(t, cfg, nil)
	waitStreaming(t, r)
	if got := queryIn(t, db, `SELECT string_agg(schemaname || '.' || tablename, ',') FROM pg_publication_tables WHERE pubname = $1`, cfg["publication.name"]); got != "public.a" {
		t.Errorf("filtered publication holds %q, want public.a", got)
	}
	sqlExec(t, db, `INSERT INTO a VALUES (1)`, `INSERT INTO b VALUES (1)`)
	recs := r.c.wait(t, 1)
	time.Sleep(200 * time.Millisecond)
	if n := len(r.c.data()); n != 1 || recs[0].Topic != "srv.public.a" {
		t.Errorf("filtered: %v", summary(r.c.data()))
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// slot.drop.on.stop: the slot is gone after a clean stop.
	if n := query1(t, "", "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = $1", cfg["slot.name"]); n != "0" {
		t.Errorf("slot.drop.on.stop: %s slots left", n)
	}

	// disabled without a publication: a clear error, and no slot created.
	cfg2 := config(db, "publication.autocreate.mode", "disabled", "publication.name", "missing_pub", "slot.name", "s2_"+db)
	err := runErr(t, cfg2)
	if !strings.Contains(err.Error(), `publication "missing_pub" does not exist`) || !isPermanent(err) {
		t.Errorf("disabled: %v", err)
	}
	if n := query1(t, "", "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = $1", cfg2["slot.name"]); n != "0" {
		t.Errorf("disabled: %s slots left", n)
	}

	// schema.include.list and the default slot kept after a stop.
	cfg3 := config(db, "schema.include.list", "other", "publication.name", "pub3", "slot.name", "s3_"+db)
	r3 := start(t, cfg3, nil)
	waitStreaming(t, r3)
	sqlExec(t, db, `INSERT INTO a VALUES (2)`, `INSERT INTO other.c VALUES (1)`)
	recs = r3.c.wait(t, 1)
	time.Sleep(200 * time.Millisecond)
	if n := len(r3.c.data()); n != 1 || recs[0].Topic != "srv.other.c" {
		t.Errorf("schema.include.list: %v", summary(r3.c.data()))
	}
	if err := r3.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := query1(t, "", "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = $1", cfg3["slot.name"]); n != "1" {
		t.Errorf("slot.drop.on.stop=false: %s slots, want 1", n)
	}
}

func isPermanent(err error) bool {
	var re *runtime.Error
	return errors.As(err, &re) && re.Permanent && re.Code == catalog.CodeInvalidConfiguration
}

func slotCount(t *testing.T) string {
	return query1(t, "", "SELECT count(*)::text FROM pg_replication_slots")
}

func TestBadInput(t *testing.T) {
	db := newDB(t)
	// Roles are cluster-wide: named after the database, left to the throwaway cluster.
	norepl, withpw := "norepl_"+db, "withpw_"+db
	sqlExec(t, db, `CREATE TABLE t (id int PRIMARY KEY)`,
		`CREATE ROLE `+norepl+` LOGIN PASSWORD 'pw'`, `GRANT ALL ON DATABASE `+db+` TO `+norepl,
		`CREATE ROLE `+withpw+` LOGIN REPLICATION SUPERUSER PASSWORD 'right'`)
	// Password authentication for the two roles (the cluster trusts everyone else).
	hba := filepath.Join(clusterDir, "data", "pg_hba.conf")
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	lines := "host all " + withpw + " 127.0.0.1/32 scram-sha-256\nhost all " + norepl + " 127.0.0.1/32 scram-sha-256\nhost replication " + withpw + " 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(lines), orig...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(hba, orig, 0o600)
		_, _ = admin.Exec(context.Background(), "SELECT pg_reload_conf()")
	})
	if _, err := admin.Exec(context.Background(), "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	before := slotCount(t)

	cases := []struct {
		name string
		cfg  map[string]string
		want string
	}{
		{"wrong password", config(db, "database.user", withpw, "database.password", "wrong"), `cannot log in to PostgreSQL`},
		{"no REPLICATION", config(db, "database.user", norepl, "database.password", "pw"), `user "` + norepl + `" has neither the REPLICATION attribute nor superuser`},
		{"database down", config(db, "database.port", "1"), `cannot connect to PostgreSQL at 127.0.0.1:1`},
		{"no database", config("nosuchdb"), `database "nosuchdb" does not exist`},
	}
	for _, c := range cases {
		err := runErr(t, c.cfg)
		if !strings.Contains(err.Error(), c.want) || !isPermanent(err) {
			t.Errorf("%s: %v, want a permanent INVALID_CONFIGURATION error containing %q", c.name, err, c.want)
		}
		if strings.Contains(err.Error(), "wrong") && c.name == "wrong password" {
			t.Errorf("%s: the error echoes the password: %v", c.name, err)
		}
	}
	// The right password works (and the role's slot is the connector's).
	good := config(db, "database.user", withpw, "database.password", "right", "slot.drop.on.stop", "true")
	r := start(t, good, nil)
	waitStreaming(t, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := slotCount(t); got != before {
		t.Errorf("%s replication slots after the failed starts, want %s", got, before)
	}

	// Configuration errors at New.
	for k, v := range map[string]string{"plugin.name": "decoderbufs", "slot.name": "Bad-Name", "snapshot.isolation.mode": "read_committed", "publication.autocreate.mode": "some"} {
		if _, err := New(cdcEnv(config(db, k, v))); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	if _, err := New(cdcEnv(map[string]string{"topic.prefix": "x"})); err == nil || !strings.Contains(err.Error(), "database.hostname") {
		t.Errorf("missing database.hostname: %v", err)
	}
}

// TestWalLevelReplica: a server without wal_level=logical fails the connector naming it, and
// leaves no slot behind.
func TestWalLevelReplica(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "fjord-cdc-replica-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := pgembed.Start(ctx, pgembed.Options{Dir: dir, Fast: true, Settings: map[string]string{"wal_level": "replica"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cfg := config("postgres", "database.port", itoa(c.Port()))
	err = runErr(t, cfg)
	if !strings.Contains(err.Error(), "wal_level is replica; logical replication needs wal_level=logical") || !isPermanent(err) {
		t.Errorf("wal_level=replica: %v", err)
	}
}

// TestSnapshotFailureLeavesNoSlot: a user with REPLICATION but without SELECT on a captured
// table fails the snapshot, naming the table; the slot created for it is dropped again.
func TestSnapshotFailureLeavesNoSlot(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	role := "noselect_" + db
	sqlExec(t, db, `CREATE TABLE secret (id int PRIMARY KEY)`, `INSERT INTO secret VALUES (1)`,
		`CREATE ROLE `+role+` LOGIN REPLICATION`, `CREATE PUBLICATION pub_`+db+` FOR ALL TABLES`)
	cfg := config(db, "database.user", role)
	err := runErr(t, cfg)
	if !strings.Contains(err.Error(), `may not read public.secret`) || !isPermanent(err) {
		t.Errorf("snapshot without SELECT: %v", err)
	}
	if n := query1(t, "", "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = $1", cfg["slot.name"]); n != "0" {
		t.Errorf("%s slots left after the failed snapshot", n)
	}
}
