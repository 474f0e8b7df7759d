package catalog

import (
	"strings"
	"testing"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
)

// TestDebeziumClasses: the Debezium classes are found under Connect's names, need their
// plugin, run one task, mask the password, and validate with the connector's parser — a
// reference value is checked once resolved.
func TestDebeziumClasses(t *testing.T) {
	for _, c := range []struct{ name, simple string }{
		{debezium.MySQLConnector, "MySqlConnector"}, {debezium.PostgresConnector, "PostgresConnector"},
	} {
		for _, n := range []string{c.name, c.simple, strings.TrimSuffix(c.simple, "Connector")} {
			got, ok := Lookup(n)
			if !ok || got.Name != c.name {
				t.Fatalf("Lookup(%s) = %v, %v", n, got, ok)
			}
		}
		class, _ := Lookup(c.name)
		if class.BuiltIn || class.Kind != KindSource || class.Version != debezium.Version || class.TaskCap(map[string]string{"tasks.max": "4"}) != 1 {
			t.Errorf("%s: %+v", c.name, class)
		}
		if !class.IsSecretKey("database.password") {
			t.Errorf("%s: database.password is not secret", c.name)
		}
		keys := map[string]Key{}
		for _, k := range class.Keys {
			keys[k.Name] = k
		}
		if k := keys["topic.prefix"]; !k.Required || k.Group != "Debezium" || keys["database.server.name"].Name == "" {
			t.Errorf("%s: topic.prefix %+v, database.server.name %+v", c.name, k, keys["database.server.name"])
		}

		conf := map[string]string{"connector.class": c.name, "database.server.name": "db1", "database.password": "${secretsmanager:db:password}"}
		_, errs := Validate(conf)
		if len(errs) != 1 || errs[0].Key != "database.hostname" {
			t.Errorf("%s without database.hostname: %v", c.name, errs)
		}
		conf["database.hostname"] = "${secretsmanager:db:host}"
		if _, errs := Validate(conf); len(errs) != 0 {
			t.Errorf("%s with a referenced database.hostname: %v", c.name, errs)
		}
		conf["database.hostname"] = "db.internal"
		conf["snapshot.mode"] = "sometimes"
		if _, errs := Validate(conf); len(errs) != 1 || errs[0].Key != "snapshot.mode" {
			t.Errorf("%s with a bad snapshot.mode: %v", c.name, errs)
		}
	}
}
