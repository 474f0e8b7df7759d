package sdktest

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
)

// launchPostConfig is the Debezium 1.x configuration of AWS's MSK Connect launch post, which
// streams an Aurora MySQL database's tables to MSK.
func launchPostConfig() map[string]string {
	return map[string]string{
		"connector.class":                          mysqlConnector,
		"tasks.max":                                "1",
		"database.hostname":                        "ecommerce-db.cluster-abcdefghijkl.us-east-1.rds.amazonaws.com",
		"database.port":                            "3306",
		"database.user":                            "admin",
		"database.password":                        "Sup3r-S3cret-Pa55",
		"database.server.id":                       "123456",
		"database.server.name":                     "ecommercedb",
		"database.include.list":                    "ecommerce",
		"database.history.kafka.topic":             "dbhistory.ecommercedb",
		"database.history.kafka.bootstrap.servers": "127.0.0.1:29092",
	}
}

// TestDebeziumConnector: with a plugin ZIP holding Debezium's MySqlConnector, the launch post's
// Debezium 1.x configuration creates a connector (one task, whatever the capacity); a
// configuration without database.hostname is refused naming connectorConfiguration and the
// key, and nothing is stored; so is a transform Fjord does not apply; the class is refused on a
// plugin that does not hold it; the password is never echoed in an error.
func TestDebeziumConnector(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin, _ := f.createPlugin(t, "debezium-mysql", debeziumZip(t))
	dummy, _ := f.createPlugin(t, "dummy", archive(t, [2]string{"README", "nothing"}))
	with := func(name, plugin string, conf map[string]string) *kafkaconnect.CreateConnectorInput {
		in := connectorInput(name, plugin)
		in.ConnectorConfiguration = conf
		return in
	}

	// Missing database.hostname: refused, naming the member and the key; nothing stored.
	conf := launchPostConfig()
	delete(conf, "database.hostname")
	_, err := f.kc.CreateConnector(ctx, with("orders-cdc", plugin, conf))
	e := wantErr[*kct.BadRequestException](t, err, 400, "connectorConfiguration", "database.hostname")
	if strings.Contains(e.ErrorMessage(), "Sup3r-S3cret-Pa55") {
		t.Errorf("the error echoes the password: %s", e.ErrorMessage())
	}
	// A bad value of a Debezium key is named too.
	conf = launchPostConfig()
	conf["snapshot.mode"] = "sometimes"
	_, err = f.kc.CreateConnector(ctx, with("orders-cdc", plugin, conf))
	wantErr[*kct.BadRequestException](t, err, 400, "connectorConfiguration", "snapshot.mode", "sometimes")
	// A transform Fjord does not apply is named; one it applies is accepted (below).
	conf = launchPostConfig()
	conf["transforms"] = "flat"
	conf["transforms.flat.type"] = "org.apache.kafka.connect.transforms.Flatten$Value"
	_, err = f.kc.CreateConnector(ctx, with("orders-cdc", plugin, conf))
	wantErr[*kct.BadRequestException](t, err, 400, "connectorConfiguration", "transforms.flat.type", "Flatten$Value")
	// The class is in no plugin of the connector.
	_, err = f.kc.CreateConnector(ctx, with("orders-cdc", dummy, launchPostConfig()))
	wantErr[*kct.BadRequestException](t, err, 400, "connector.class", mysqlConnector, dummy)
	l := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	eq(t, "connectors after the refusals", len(l.Connectors), 0)

	// The launch post's configuration, by the class's full name and by its alias.
	arn := createConnector(t, f.kc, with("orders-cdc", plugin, launchPostConfig()))
	d := describeConnector(t, f.kc, arn)
	eq(t, "connector.class", d.ConnectorConfiguration["connector.class"], mysqlConnector)
	eq(t, "database.server.name", d.ConnectorConfiguration["database.server.name"], "ecommercedb")
	if _, ok := d.ConnectorConfiguration["target.cluster.bootstrap.servers"]; ok {
		t.Errorf("a Debezium connector got MirrorMaker 2's target.cluster.bootstrap.servers: %v", d.ConnectorConfiguration)
	}
	conf = launchPostConfig()
	conf["transforms"] = "route"
	conf["transforms.route.type"] = "org.apache.kafka.connect.transforms.RegexRouter"
	conf["transforms.route.regex"] = `ecommercedb\.ecommerce\.(.*)`
	conf["transforms.route.replacement"] = "$1"
	conf["connector.class"] = "MySqlConnector"
	conf["topic.prefix"] = "orders2"
	delete(conf, "database.server.name")
	createConnector(t, f.kc, with("orders-cdc-2x", plugin, conf))

	// UpdateConnector: the same validation; the operation masks the configuration.
	conf = launchPostConfig()
	conf["database.port"] = "3307"
	delete(conf, "database.hostname")
	_, err = f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d.CurrentVersion, ConnectorConfiguration: conf})
	wantErr[*kct.BadRequestException](t, err, 400, "database.hostname")
	sameOutput(t, "connector after a refused update", d, describeConnector(t, f.kc, arn))
	conf["database.hostname"] = "ecommerce-db-2"
	opARN, _ := updateAndWait(t, f.kc, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d.CurrentVersion, ConnectorConfiguration: conf})
	op := describeOperation(t, f.kc, opARN)
	for _, c := range []map[string]string{op.OriginConnectorConfiguration, op.TargetConnectorConfiguration} {
		if c["database.password"] == "Sup3r-S3cret-Pa55" || c["connector.class"] != mysqlConnector {
			t.Errorf("operation configuration %v: want the password masked", c)
		}
	}
}
