package fleettest

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/servertest"
)

// zipOf is a ZIP archive of the given name/content pairs.
func zipOf(t *testing.T, entries ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for i := 0; i+1 < len(entries); i += 2 {
		w, err := z.Create(entries[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(entries[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDebeziumTaskSpecs: a Debezium connector's workers get one task of the class's full name
// (tasks.max aside: Debezium's database connectors run one), with the connector's Kafka
// cluster as the fjord.connect.* keys, a transactional id with exactly.once.support=required,
// and none of MirrorMaker 2's runtime defaults.
func TestDebeziumTaskSpecs(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	kc := env.KafkaConnect()
	ctx := context.Background()
	jar := zipOf(t, "io/debezium/connector/mysql/MySqlConnector.class", "\xca\xfe\xba\xbe")
	env.PutObject(t, "plugins", "debezium.zip", zipOf(t, "debezium-connector-mysql/debezium-connector-mysql-3.2.jar", string(jar)))
	p, err := kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String("debezium"), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{BucketArn: aws.String("arn:aws:s3:::plugins"), FileKey: aws.String("debezium.zip")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "plugin ACTIVE", func() bool {
		d, err := kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: p.CustomPluginArn})
		return err == nil && d.CustomPluginState == kctypes.CustomPluginStateActive
	})
	out, err := kc.CreateConnector(ctx, &kafkaconnect.CreateConnectorInput{
		ConnectorName:       aws.String("orders-cdc"),
		KafkaConnectVersion: aws.String("3.7.x"),
		Capacity:            &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		ConnectorConfiguration: map[string]string{
			"connector.class": "MySqlConnector", "tasks.max": "3",
			"database.hostname": "db.internal", "database.user": "cdc", "database.password": "hunter2",
			"database.server.name": "ecommercedb", "exactly.once.support": "required",
			"database.server.id": "123456", "database.include.list": "ecommerce",
			"database.history.kafka.topic": "dbhistory.ecommerce", "database.history.kafka.bootstrap.servers": "127.0.0.1:29092",
		},
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String("127.0.0.1:29092"), Vpc: &kctypes.Vpc{Subnets: []string{"local"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: p.CustomPluginArn, Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/fjord"),
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := connect(t, env, "agent-1", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "the connector's worker desired", func() bool { return len(a.workers()) == 1 })
	var tasks []*agentv1.TaskSpec
	for _, w := range a.workers() {
		tasks = append(tasks, w.Tasks...)
	}
	if len(tasks) != 1 {
		t.Fatalf("%d tasks, want 1 (tasks.max 3, Debezium runs one)", len(tasks))
	}
	ts := tasks[0]
	c := ts.Config
	if ts.ConnectorClass != "io.debezium.connector.mysql.MySqlConnector" || ts.TaskCount != 1 || ts.TransactionalId == "" {
		t.Errorf("task %s, count %d, transactional id %q", ts.ConnectorClass, ts.TaskCount, ts.TransactionalId)
	}
	if c["name"] != "orders-cdc" || c["fjord.connect.bootstrap.servers"] != "127.0.0.1:29092" ||
		!strings.HasPrefix(c["fjord.connect.offset.storage.topic"], "__amazon_msk_connect_offsets_orders-cdc_") ||
		c["database.password"] != "hunter2" || c["database.server.name"] != "ecommercedb" {
		t.Errorf("task config %v", c)
	}
	if _, ok := c["target.cluster.bootstrap.servers"]; ok {
		t.Errorf("a Debezium task got MirrorMaker 2's target.cluster.bootstrap.servers")
	}
	d := describe(t, kc, aws.ToString(out.ConnectorArn))
	if _, ok := d.ConnectorConfiguration["target.cluster.bootstrap.servers"]; ok {
		t.Errorf("DescribeConnector shows target.cluster.bootstrap.servers: %v", d.ConnectorConfiguration)
	}
}
