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

		// The keys each connector requires besides database.hostname (those of the other
		// connector are ignored).
		conf := map[string]string{"connector.class": c.name, "database.server.name": "db1", "database.password": "${secretsmanager:db:password}",
			"database.user": "debezium", "database.dbname": "inventory", "database.server.id": "184054",
			"schema.history.internal.kafka.topic": "schema-changes.inventory", "schema.history.internal.kafka.bootstrap.servers": "127.0.0.1:9092"}
		_, errs := Validate(conf)
		if len(errs) != 1 || errs[0].Key != "database.hostname" {
			t.Errorf("%s without database.hostname: %v", c.name, errs)
		}
		conf["database.hostname"] = "${secretsmanager:db:host}"
		if _, errs := Validate(conf); len(errs) != 0 {
			t.Errorf("%s with a referenced database.hostname: %v", c.name, errs)
		}
		tc, errs := ParseTopicCreation(map[string]string{"topic.creation.default.partitions": "3", "topic.creation.default.cleanup.policy": "compact",
			"topic.creation.groups": "big", "topic.creation.big.include": "db1\\.big.*,db1\\.huge", "topic.creation.big.exclude": "db1\\.bigger",
			"topic.creation.big.partitions": "6"})
		if len(errs) != 0 || tc.For("db1.big1").Partitions != 6 || tc.For("db1.bigger").Partitions != 3 || tc.For("db1.x").Partitions != 3 ||
			*tc.For("db1.big1").Configs["cleanup.policy"] != "compact" || tc.For("db1.hugely").Partitions != 3 {
			t.Errorf("ParseTopicCreation = %+v, %v", tc, errs)
		}
		conf["database.hostname"] = "db.internal"
		conf["topic.creation.default.partitions"] = "0"
		conf["topic.creation.groups"] = "big"
		conf["topic.creation.big.include"] = "db1\\.inventory\\.(big"
		_, errs = Validate(conf)
		if len(errs) != 2 || errs[0].Key != "topic.creation.big.include" || errs[1].Key != "topic.creation.default.partitions" {
			t.Errorf("%s with bad topic.creation keys: %v", c.name, errs)
		}
		delete(conf, "topic.creation.default.partitions")
		delete(conf, "topic.creation.big.include")
		conf["snapshot.mode"] = "sometimes"
		if _, errs := Validate(conf); len(errs) != 1 || errs[0].Key != "snapshot.mode" {
			t.Errorf("%s with a bad snapshot.mode: %v", c.name, errs)
		}
	}
}
