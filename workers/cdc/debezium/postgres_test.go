package debezium

import (
	"strings"
	"testing"
	"time"
)

func TestParsePostgres(t *testing.T) {
	c, errs := ParsePostgres(map[string]string{
		"database.hostname": "db", "database.user": "u", "database.password": "secret", "database.dbname": "inventory",
		"database.server.name": "dbserver1",
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if c.Prefix != "dbserver1" || c.Port != 5432 || c.Slot != "debezium" || c.Publication != "dbz_publication" ||
		c.PublicationMode != PublicationAllTables || c.DropSlotOnStop || c.SSLMode != "prefer" || c.TimePrecisionMode != TimeAdaptive ||
		c.IntervalMode != IntervalNumeric || c.MoneyFractionDigits != 2 || c.Unavailable != UnavailableValue ||
		c.StatusInterval != 10*time.Second || c.SnapshotIsolation != "SERIALIZABLE" || !c.Skipped["t"] || c.Password != "secret" {
		t.Errorf("defaults: %+v", c)
	}

	_, errs = ParsePostgres(map[string]string{
		"topic.prefix": "p", "plugin.name": "decoderbufs", "slot.name": "Bad-Slot", "publication.name": "1pub",
		"publication.autocreate.mode": "sometimes", "database.port": "70000", "snapshot.isolation.mode": "read_uncommitted",
		"time.precision.mode": "nanos", "schema.include.list": "a", "schema.exclude.list": "b", "snapshot.mode": "recovery",
	})
	got := map[string]string{}
	for _, e := range errs {
		got[e.Key] = e.Message
	}
	for _, k := range []string{"database.hostname", "database.user", "database.dbname", "plugin.name", "slot.name", "publication.name",
		"publication.autocreate.mode", "database.port", "snapshot.isolation.mode", "time.precision.mode", "schema.exclude.list", "snapshot.mode"} {
		if got[k] == "" {
			t.Errorf("no error for %s (errors: %v)", k, errs)
		}
	}
	if !strings.Contains(got["plugin.name"], "decoderbufs") {
		t.Errorf("plugin.name error does not name decoderbufs: %s", got["plugin.name"])
	}
	for _, k := range PostgresKeys {
		if k.Name == "database.password" && !k.Password {
			t.Error("database.password is not a password key")
		}
	}
}
