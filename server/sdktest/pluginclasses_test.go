package sdktest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/server/sigv4"
)

const mysqlConnector = "io.debezium.connector.mysql.MySqlConnector"

// archive builds a ZIP (or JAR) archive with the entries in the given order.
func archive(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := z.Create(e[0])
		check(t, err)
		_, err = w.Write([]byte(e[1]))
		check(t, err)
	}
	check(t, z.Close())
	return b.Bytes()
}

// debeziumZip is a plugin ZIP holding a JAR that holds a JAR with MySqlConnector.
func debeziumZip(t *testing.T) []byte {
	inner := archive(t, [2]string{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"},
		[2]string{"io/debezium/connector/mysql/MySqlConnector.class", "\xca\xfe\xba\xbe"},
		[2]string{"io/debezium/connector/mysql/MySqlConnectorTask.class", "\xca\xfe\xba\xbe"},
		[2]string{"io/debezium/connector/mysql/MySqlConnector$1.class", "\xca\xfe\xba\xbe"})
	outer := archive(t, [2]string{"io/debezium/embedded/EmbeddedEngine.class", "\xca\xfe\xba\xbe"},
		[2]string{"lib/debezium-connector-mysql-2.7.jar", string(inner)})
	return archive(t, [2]string{"debezium-connector-mysql/", ""},
		[2]string{"debezium-connector-mysql/debezium-bundle.jar", string(outer)},
		[2]string{"debezium-connector-mysql/README.md", "Debezium MySQL\n"})
}

// createPlugin uploads data as a ZIP plugin and waits until it leaves CREATING.
func (f *fixture) createPlugin(t *testing.T, name string, data []byte) (string, *kafkaconnect.DescribeCustomPluginOutput) {
	t.Helper()
	key := "zips/" + name + ".zip"
	f.env.PutObject(t, pluginBucket, key, data)
	out := must(f.kc.CreateCustomPlugin(t.Context(), pluginInput(name, key, kct.CustomPluginContentTypeZip))).get(t)
	return *out.CustomPluginArn, waitPlugin(t, f.kc, *out.CustomPluginArn)
}

// admin returns an admin API client of account 000000000000, signing as `fjord plugins` does.
func (f *fixture) admin(t *testing.T) adminv1.AdminClient {
	t.Helper()
	return f.adminAs(t, servertest.AccessKey, servertest.SecretKey)
}

// adminAs returns an admin API client signing with the given credential.
func (f *fixture) adminAs(t *testing.T, access, secret string) adminv1.AdminClient {
	t.Helper()
	conn, err := grpc.NewClient(f.env.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(sigv4.UnaryClientInterceptor(sigv4.Credential{AccessKeyID: access, SecretAccessKey: secret}, servertest.Region, "kafka")))
	check(t, err)
	t.Cleanup(func() { conn.Close() })
	return adminv1.NewAdminClient(conn)
}

// wantStatus asserts a gRPC error's code and that its message contains want.
func wantStatus(t *testing.T, err error, code codes.Code, want string) {
	t.Helper()
	st, ok := status.FromError(err)
	if err == nil || !ok || st.Code() != code || !strings.Contains(st.Message(), want) {
		t.Fatalf("error %v; want %v containing %q", err, code, want)
	}
}

// TestPluginClassIndex: a ZIP holding a JAR holding a JAR with MySqlConnector is indexed when
// it becomes ACTIVE; DescribeCustomPlugin keeps AWS's members only; the admin API shows the
// classes, the likely connector classes, and who uses the plugin.
func TestPluginClassIndex(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	data := debeziumZip(t)
	arn, d := f.createPlugin(t, "debezium-mysql", data)
	eq(t, "state", d.CustomPluginState, kct.CustomPluginStateActive)
	eq(t, "fileSize", d.LatestRevision.FileDescription.FileSize, int64(len(data)))

	// DescribeCustomPlugin on the wire: exactly the model's members, nothing about classes.
	raw := f.rawCall(t, "kafkaconnect", "GET", "/v1/custom-plugins/"+pathEscape(arn), "", nil, true)
	eq(t, "raw describe status", raw.status, 200)
	var body map[string]json.RawMessage
	check(t, json.Unmarshal(raw.body, &body))
	model := []string{"creationTime", "customPluginArn", "customPluginState", "description", "latestRevision", "name", "stateDescription"}
	for k := range body {
		if !slices.Contains(model, k) {
			t.Errorf("DescribeCustomPlugin has member %q, which AWS's model does not", k)
		}
	}
	for _, k := range []string{"creationTime", "customPluginArn", "customPluginState", "latestRevision", "name"} {
		if _, ok := body[k]; !ok {
			t.Errorf("DescribeCustomPlugin lacks %q: %s", k, raw.body)
		}
	}
	if strings.Contains(string(raw.body), "MySqlConnector") {
		t.Errorf("DescribeCustomPlugin shows classes: %s", raw.body)
	}

	admin := f.admin(t)
	p := must(admin.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: arn})).get(t)
	eq(t, "indexed", p.Indexed, true)
	eq(t, "revision", p.Revision, int64(1))
	eq(t, "archives", p.ArchiveCount, int32(3))
	eqSlice(t, "classes", p.Classes, []string{"io.debezium.connector.mysql.MySqlConnector", "io.debezium.connector.mysql.MySqlConnectorTask", "io.debezium.embedded.EmbeddedEngine"})
	eqSlice(t, "connector classes", p.ConnectorClasses, []string{mysqlConnector})
	eq(t, "class count", p.ClassCount, int32(3))
	// Another account sees nothing; bad arguments are named.
	other := f.adminAs(t, servertest.OtherAccess, servertest.OtherSecret)
	_, err := other.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: arn})
	wantStatus(t, err, codes.NotFound, arn)
	_, err = admin.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: "not-an-arn"})
	wantStatus(t, err, codes.InvalidArgument, "customPluginArn")
	_, err = admin.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: arn, Revision: 2})
	wantStatus(t, err, codes.NotFound, arn)
	_, err = admin.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: arn, MaxClasses: 100001})
	wantStatus(t, err, codes.InvalidArgument, "maxClasses")
	p = must(admin.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: arn, ClassPrefix: "io.debezium.connector.", MaxClasses: 1})).get(t)
	eqSlice(t, "classes by prefix, at most 1", p.Classes, []string{mysqlConnector})
	eq(t, "matching", p.MatchingClassCount, int32(2))

	// A MirrorMaker 2 connector on it (MM2 ships with Kafka: no plugin content needed) uses it.
	conn := createConnector(t, f.kc, connectorInput("mm2-on-debezium", arn))
	p = must(admin.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: arn})).get(t)
	if len(p.UsedBy) != 1 || p.UsedBy[0].ConnectorArn != conn || p.UsedBy[0].Revision != 1 {
		t.Errorf("usedBy %+v; want %s revision 1", p.UsedBy, conn)
	}
	w := must(admin.DescribeWorkload(ctx, &adminv1.DescribeWorkloadRequest{WorkloadArn: conn})).get(t)
	if len(w.Plugins) != 1 || w.Plugins[0].CustomPluginArn != arn || w.Plugins[0].ClassCount != 3 || !slices.Equal(w.Plugins[0].ConnectorClasses, []string{mysqlConnector}) {
		t.Errorf("DescribeWorkload plugins %+v", w.Plugins)
	}
}

// TestConnectorClassInPlugin: connector.class must be in the connector's plugin unless it
// ships with Apache Kafka. A class in no plugin is refused naming the class and the plugin
// (nothing stored); a class in the plugin that Fjord has no engine for (Confluent's S3 sink)
// gets the catalog's message; MirrorMaker 2 on a dummy ZIP works; converters and transforms are held to the same
// rule, at UpdateConnector too; a transform Fjord does not apply, a bad option of one, or
// transforms on a class whose engine applies none are refused naming the key.
func TestConnectorClassInPlugin(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	debezium, _ := f.createPlugin(t, "debezium", debeziumZip(t))
	dummy, d := f.createPlugin(t, "mm2", archive(t, [2]string{"README", "mm2"}))
	eq(t, "dummy plugin state", d.CustomPluginState, kct.CustomPluginStateActive)

	with := func(name, plugin string, conf map[string]string) *kafkaconnect.CreateConnectorInput {
		in := connectorInput(name, plugin)
		in.ConnectorConfiguration = conf
		return in
	}
	classConf := func(class string) map[string]string {
		c := mirrorConfig()
		c["connector.class"] = class
		return c
	}

	// (a) In no plugin: the class and the plugin (ARN and revision) are named.
	_, err := f.kc.CreateConnector(ctx, with("s3", debezium, classConf("io.confluent.connect.s3.S3SinkConnector")))
	t.Log(wantErr[*kct.BadRequestException](t, err, 400, "io.confluent.connect.s3.S3SinkConnector", debezium, "revision 1", "connector.class").ErrorMessage())
	_, err = f.kc.CreateConnector(ctx, with("mysql-on-dummy", dummy, classConf(mysqlConnector)))
	wantErr[*kct.BadRequestException](t, err, 400, mysqlConnector, dummy, "revision 1")
	// (b) In the plugin, but no engine: the catalog's message, by full name and by alias.
	const s3Sink = "io.confluent.connect.s3.S3SinkConnector"
	s3, _ := f.createPlugin(t, "s3-sink", archive(t, [2]string{"io/confluent/connect/s3/S3SinkConnector.class", "\xca\xfe\xba\xbe"}))
	for _, class := range []string{s3Sink, "S3SinkConnector", "S3Sink"} {
		_, err = f.kc.CreateConnector(ctx, with("s3", s3, classConf(class)))
		e := wantErr[*kct.BadRequestException](t, err, 400, "connector.class "+class+" is not supported; Fjord runs")
		t.Log(e.ErrorMessage())
		if strings.Contains(e.ErrorMessage(), s3) {
			t.Errorf("a class the plugin holds is refused naming the plugin: %s", e.ErrorMessage())
		}
	}
	// A converter that is neither Kafka's nor the plugin's.
	conf := mirrorConfig()
	conf["value.converter"] = "io.confluent.connect.avro.AvroConverter"
	_, err = f.kc.CreateConnector(ctx, with("avro", dummy, conf))
	wantErr[*kct.BadRequestException](t, err, 400, "value.converter", "io.confluent.connect.avro.AvroConverter", dummy)
	conf = mirrorConfig()
	conf["transforms"] = "route"
	conf["transforms.route.type"] = "io.debezium.transforms.ByLogicalTableRouter"
	_, err = f.kc.CreateConnector(ctx, with("route", debezium, conf))
	wantErr[*kct.BadRequestException](t, err, 400, "transforms.route.type", "io.debezium.transforms.ByLogicalTableRouter", debezium)
	// A transform of Kafka's that Fjord does not apply: the catalog's message naming it and
	// the transforms Fjord applies; a bad option of one it applies: the option's key.
	conf = mirrorConfig()
	conf["transforms"] = "flat"
	conf["transforms.flat.type"] = "org.apache.kafka.connect.transforms.Flatten$Value"
	_, err = f.kc.CreateConnector(ctx, with("flat", dummy, conf))
	wantErr[*kct.BadRequestException](t, err, 400, "transforms.flat.type", "Flatten$Value", "is not supported by Fjord", "org.apache.kafka.connect.transforms.RegexRouter")
	conf["transforms.flat.type"] = "org.apache.kafka.connect.transforms.RegexRouter"
	conf["transforms.flat.regex"] = "orders("
	_, err = f.kc.CreateConnector(ctx, with("flat", dummy, conf))
	wantErr[*kct.BadRequestException](t, err, 400, "transforms.flat.regex", "orders(", "transforms.flat.replacement")
	// Transforms Fjord applies, but not on MirrorMaker 2 (its engine applies none): refused
	// rather than ignored.
	conf = mirrorConfig()
	conf["transforms"] = "route"
	conf["transforms.route.type"] = "org.apache.kafka.connect.transforms.RegexRouter"
	conf["transforms.route.regex"] = "(.*)"
	conf["transforms.route.replacement"] = "copy.$1"
	_, err = f.kc.CreateConnector(ctx, with("mm2-routed", dummy, conf))
	wantErr[*kct.BadRequestException](t, err, 400, "transforms: Invalid value route", "applies no single message transforms")

	l := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	eq(t, "connectors after refusals", len(l.Connectors), 0)
	if u := must(f.admin(t).DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: debezium})).get(t).UsedBy; len(u) != 0 {
		t.Errorf("a refused connector uses the plugin: %+v", u)
	}

	// MirrorMaker 2 by full name and alias, and Kafka's converters, on the dummy ZIP.
	arn := createConnector(t, f.kc, with("mm2", dummy, mirrorConfig()))
	conf = classConf("MirrorSource")
	conf["value.converter"] = "org.apache.kafka.connect.converters.ByteArrayConverter"
	createConnector(t, f.kc, with("mm2-alias", dummy, conf))

	// UpdateConnector: the same rule on the target configuration; nothing changes.
	before := describeConnector(t, f.kc, arn)
	conf = mirrorConfig()
	conf["key.converter"] = "io.confluent.connect.avro.AvroConverter"
	_, err = f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: before.CurrentVersion, ConnectorConfiguration: conf})
	wantErr[*kct.BadRequestException](t, err, 400, "key.converter", "io.confluent.connect.avro.AvroConverter", dummy, "revision 1")
	_, err = f.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: before.CurrentVersion, ConnectorConfiguration: classConf(mysqlConnector)})
	wantErr[*kct.BadRequestException](t, err, 400, mysqlConnector, dummy)
	sameOutput(t, "connector after refused updates", before, describeConnector(t, f.kc, arn))
}

// TestDeleteInUse: a plugin or worker configuration that a connector uses cannot be deleted
// (ConflictException naming the connector; still describable) until the connector is gone.
func TestDeleteInUse(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin := f.activePlugin(t, "mm2")
	wc := aws.ToString(must(f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("wc", workerProps))).get(t).WorkerConfigurationArn)
	in := connectorInput("c", plugin)
	in.WorkerConfiguration = &kct.WorkerConfiguration{WorkerConfigurationArn: aws.String(wc), Revision: 1}
	conn := createConnector(t, f.kc, in)
	pluginBefore := must(f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(plugin)})).get(t)
	wcBefore := must(f.kc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String(wc)})).get(t)

	// The model declares no ConflictException for these operations: the SDK reads it as a
	// generic API error with its code and status; the wire form is AWS's.
	_, err := f.kc.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: aws.String(plugin)})
	wantCode(t, err, "ConflictException", 409)
	t.Log(err)
	if !strings.Contains(err.Error(), conn) {
		t.Errorf("conflict %v does not name connector %s", err, conn)
	}
	_, err = f.kc.DeleteWorkerConfiguration(ctx, &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: aws.String(wc)})
	wantCode(t, err, "ConflictException", 409)
	r := f.rawCall(t, "kafkaconnect", "DELETE", "/v1/custom-plugins/"+pathEscape(plugin), "", nil, true)
	wantWireError(t, r, 409, "ConflictException", "custom plugin "+plugin+" is in use by connector "+conn+" (revision 1)")
	r = f.rawCall(t, "kafkaconnect", "DELETE", "/v1/worker-configurations/"+pathEscape(wc), "", nil, true)
	wantWireError(t, r, 409, "ConflictException", "worker configuration "+wc+" is in use by connector "+conn+" (revision 1)")
	sameOutput(t, "plugin after refused deletes", pluginBefore,
		must(f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(plugin)})).get(t))
	sameOutput(t, "worker configuration after refused deletes", wcBefore,
		must(f.kc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String(wc)})).get(t))

	// A DELETING connector is not gone yet: still in use while it exists.
	must(f.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(conn)})).get(t)
	var pluginDeleted *kafkaconnect.DeleteCustomPluginOutput
	servertest.Eventually(t, 10*time.Second, "connector gone", func() bool {
		_, err := f.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(conn)})
		if err == nil {
			out, derr := f.kc.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: aws.String(plugin)})
			if derr == nil {
				// Allowed only if the connector went away between the two calls.
				if _, err := f.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(conn)}); err == nil {
					t.Fatal("plugin deleted while its connector still exists")
				}
				pluginDeleted = out
				return true
			}
			return false
		}
		wantErr[*kct.NotFoundException](t, err, 404)
		return true
	})
	if pluginDeleted == nil {
		pluginDeleted = must(f.kc.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: aws.String(plugin)})).get(t)
	}
	eq(t, "plugin delete state", pluginDeleted.CustomPluginState, kct.CustomPluginStateDeleting)
	eq(t, "worker configuration delete state", must(f.kc.DeleteWorkerConfiguration(ctx, &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: aws.String(wc)})).get(t).WorkerConfigurationState, kct.WorkerConfigurationStateDeleting)
	_, err = f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(plugin)})
	wantErr[*kct.NotFoundException](t, err, 404)
}

// TestPluginIndexBounds: a plugin beyond the index's bounds (here: archives nested deeper
// than artifact.MaxNestingDepth) is CREATE_FAILED with the bound in its stateDescription.
func TestPluginIndexBounds(t *testing.T) {
	t.Parallel()
	f := start(t)
	data := archive(t, [2]string{"io/x/Deep.class", "\xca\xfe\xba\xbe"})
	for _, name := range []string{"l3.jar", "l2.jar", "l1.jar"} {
		data = archive(t, [2]string{name, string(data)})
	}
	_, d := f.createPlugin(t, "too-deep", data)
	eq(t, "state", d.CustomPluginState, kct.CustomPluginStateCreateFailed)
	if sd := d.StateDescription; sd == nil || !strings.Contains(aws.ToString(sd.Message), "l1.jar!/l2.jar!/l3.jar, an archive nested deeper than Fjord indexes (3 levels)") {
		t.Errorf("stateDescription %+v", d.StateDescription)
	} else {
		t.Logf("%s: %s", aws.ToString(sd.Code), aws.ToString(sd.Message))
	}
}

// TestPluginUpgrade: a database from before plugin indexes and recorded uses — a connector
// whose uses are not recorded, an ACTIVE plugin without an index — is brought up to date by a
// server: the plugin is indexed, and its plugin and worker configuration cannot be deleted
// under the connector.
func TestPluginUpgrade(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	plugin, _ := f.createPlugin(t, "debezium", debeziumZip(t))
	wc := aws.ToString(must(f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("wc", workerProps))).get(t).WorkerConfigurationArn)
	in := connectorInput("c", plugin)
	in.WorkerConfiguration = &kct.WorkerConfiguration{WorkerConfigurationArn: aws.String(wc), Revision: 1}
	conn := createConnector(t, f.kc, in)
	for _, q := range []string{`DELETE FROM connector_plugins`, `DELETE FROM connector_worker_configurations`, `DELETE FROM custom_plugin_classes`} {
		_, err := f.env.Store.Pool().Exec(ctx, q)
		check(t, err)
	}

	// A server starting on that database (the first one keeps running: replicas share the work).
	env := servertest.Start(t, servertest.Options{DatabaseURL: f.env.DatabaseURL, Key: f.env.Key, S3Dir: f.env.S3Dir})
	g := &fixture{env: env, kc: env.KafkaConnect()}
	admin := g.admin(t)
	servertest.Eventually(t, 10*time.Second, "plugin indexed and in use", func() bool {
		p := must(admin.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: plugin})).get(t)
		return p.Indexed && len(p.UsedBy) == 1 && p.UsedBy[0].ConnectorArn == conn
	})
	_, err := g.kc.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: aws.String(plugin)})
	wantCode(t, err, "ConflictException", 409)
	_, err = g.kc.DeleteWorkerConfiguration(ctx, &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: aws.String(wc)})
	wantCode(t, err, "ConflictException", 409)
	p := must(admin.DescribePlugin(ctx, &adminv1.DescribePluginRequest{CustomPluginArn: plugin})).get(t)
	eqSlice(t, "connector classes after re-indexing", p.ConnectorClasses, []string{mysqlConnector})
}
