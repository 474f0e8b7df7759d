package badinput

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/proto/awsmodel"
	"github.com/fjord-io/fjord/server/servertest"
)

// fixtures are what valid bodies refer to.
type fixtures struct {
	pluginARN, workerConfigARN, bucketARN string
	source, target                        string
}

// setup creates an ACTIVE custom plugin and a worker configuration through the API.
func setup(t *testing.T, env *servertest.Env) fixtures {
	t.Helper()
	f := fixtures{source: env.SourceClusterARN, target: env.TargetClusterARN}
	f.bucketARN = env.PutPluginZip(t, "plugins", "connector.zip")
	r := send(t, env, http.MethodPost, "/v1/custom-plugins", "kafkaconnect", marshal(body{
		"name": "fixture-plugin", "contentType": "ZIP",
		"location": body{"s3Location": body{"bucketArn": f.bucketARN, "fileKey": "connector.zip"}},
	}))
	if r.status != http.StatusOK {
		t.Fatalf("create plugin: %d %s", r.status, r.raw)
	}
	f.pluginARN = r.body["customPluginArn"].(string)
	servertest.Eventually(t, 20*time.Second, "custom plugin ACTIVE", func() bool {
		d := send(t, env, http.MethodGet, "/v1/custom-plugins/"+escape(f.pluginARN), "kafkaconnect", nil)
		return d.status == http.StatusOK && d.body["customPluginState"] == "ACTIVE"
	})
	r = send(t, env, http.MethodPost, "/v1/worker-configurations", "kafkaconnect", marshal(body{
		"name": "fixture-workers", "propertiesFileContent": b64("key.converter=org.apache.kafka.connect.storage.StringConverter\n"),
	}))
	if r.status != http.StatusOK {
		t.Fatalf("create worker configuration: %d %s", r.status, r.raw)
	}
	f.workerConfigARN = r.body["workerConfigurationArn"].(string)
	return f
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func escape(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// bases are valid bodies of each operation; together they set every member of the input
// shape (variants cover mutually exclusive members). Each is sent for real at the end of the
// sweep and must succeed, so every case above failed because of its one change.
func (f fixtures) bases() map[string][]body {
	connector := func(name string, capacity body, cluster body) body {
		return body{
			"connectorName":                    name,
			"connectorDescription":             "a connector",
			"capacity":                         capacity,
			"connectorConfiguration":           body{"connector.class": "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector", "tasks.max": "1", "source.cluster.bootstrap.servers": "127.0.0.1:9092", "target.cluster.bootstrap.servers": "127.0.0.1:9093"},
			"kafkaCluster":                     cluster,
			"kafkaClusterClientAuthentication": body{"authenticationType": "NONE"},
			"kafkaClusterEncryptionInTransit":  body{"encryptionType": "TLS"},
			"kafkaConnectVersion":              "2.7.1",
			"logDelivery": body{"workerLogDelivery": body{
				"cloudWatchLogs": body{"enabled": true, "logGroup": "connect-logs"},
				"firehose":       body{"enabled": true, "deliveryStream": "connect-stream"},
				"s3":             body{"enabled": true, "bucket": "connect-logs", "prefix": "logs/"},
			}},
			"networkType":             "IPV4",
			"plugins":                 []any{body{"customPlugin": body{"customPluginArn": f.pluginARN, "revision": 1}}},
			"serviceExecutionRoleArn": "arn:aws:iam::000000000000:role/connect",
			"workerConfiguration":     body{"workerConfigurationArn": f.workerConfigARN, "revision": 1},
			"tags":                    body{"team": "data"},
		}
	}
	cluster := body{"apacheKafkaCluster": body{"bootstrapServers": "b-1:9092,b-2:9092",
		"vpc": body{"subnets": []any{"subnet-1"}, "securityGroups": []any{"sg-1"}}}}
	autoScaling := body{"autoScaling": body{"maxWorkerCount": 4, "mcuCount": 2, "minWorkerCount": 1, "maxAutoscalingTaskCount": 8,
		"scaleInPolicy": body{"cpuUtilizationPercentage": 20}, "scaleOutPolicy": body{"cpuUtilizationPercentage": 80}}}
	provisioned := body{"provisionedCapacity": body{"mcuCount": 1, "workerCount": 2}}

	replicationInfo := func(src, dst string, byID bool) body {
		ri := body{
			"targetCompressionType": "GZIP",
			"topicReplication": body{
				"copyAccessControlListsForTopics": true, "copyTopicConfigurations": true, "detectAndCopyNewTopics": true,
				"startingPosition":       body{"type": "EARLIEST"},
				"topicNameConfiguration": body{"type": "PREFIXED_WITH_SOURCE_CLUSTER_ALIAS"},
				"topicsToExclude":        []any{"internal-.*"},
				"topicsToReplicate":      []any{"orders.*"},
			},
			"consumerGroupReplication": body{
				"consumerGroupsToExclude": []any{"console-.*"}, "consumerGroupsToReplicate": []any{".*"},
				"detectAndCopyNewConsumerGroups": true, "synchroniseConsumerGroupOffsets": true,
				"consumerGroupOffsetSyncMode": "ENHANCED",
			},
		}
		if byID {
			ri["sourceKafkaClusterId"], ri["targetKafkaClusterId"] = src, dst
		} else {
			ri["sourceKafkaClusterArn"], ri["targetKafkaClusterArn"] = src, dst
		}
		return ri
	}
	vpc := body{"subnetIds": []any{"subnet-1"}, "securityGroupIds": []any{"sg-1"}}
	replicator := func(name string, clusters []any, ri body) body {
		return body{
			"replicatorName":          name,
			"description":             "a replicator",
			"kafkaClusters":           clusters,
			"replicationInfoList":     []any{ri},
			"serviceExecutionRoleArn": "arn:aws:iam::000000000000:role/replicator",
			"tags":                    body{"team": "data"},
			"logDelivery": body{"replicatorLogDelivery": body{
				"cloudWatchLogs": body{"enabled": true, "logGroup": "replicator-logs"},
				"firehose":       body{"enabled": true, "deliveryStream": "replicator-stream"},
				"s3":             body{"enabled": true, "bucket": "replicator-logs", "prefix": "logs/"},
			}},
		}
	}
	apache := func(id, brokers string) body {
		return body{
			"apacheKafkaCluster":   body{"apacheKafkaClusterId": id, "bootstrapBrokerString": brokers},
			"vpcConfig":            vpc,
			"clientAuthentication": body{"saslScram": body{"mechanism": "SHA512", "secretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:kafka-abc"}},
			"encryptionInTransit":  body{"encryptionType": "TLS", "rootCaCertificate": "-----BEGIN CERTIFICATE-----"},
		}
	}

	return map[string][]body{
		"CreateConnector": {
			connector("base-autoscaling", autoScaling, cluster),
			connector("base-provisioned", provisioned, cluster),
		},
		"CreateWorkerConfiguration": {{
			"name": "base-workers", "description": "workers",
			"propertiesFileContent": b64("key.converter=org.apache.kafka.connect.json.JsonConverter\noffset.flush.interval.ms=10000\n"),
			"tags":                  body{"team": "data"},
		}},
		"CreateCustomPlugin": {{
			"name": "base-plugin", "description": "plugin", "contentType": "ZIP",
			"location": body{"s3Location": body{"bucketArn": f.bucketARN, "fileKey": "connector.zip", "objectVersion": "v1"}},
			"tags":     body{"team": "data"},
		}},
		"CreateReplicator": {
			replicator("base-msk", []any{
				body{"amazonMskCluster": body{"mskClusterArn": f.source}, "vpcConfig": vpc},
				body{"amazonMskCluster": body{"mskClusterArn": f.target}, "vpcConfig": vpc},
			}, replicationInfo(f.source, f.target, false)),
			replicator("base-apache", []any{
				apache("onprem-a", "kafka-a:9096"),
				apache("onprem-b", "kafka-b:9096"),
			}, replicationInfo("onprem-a", "onprem-b", true)),
		},
	}
}

// modelCases derives the cases of every operation from the model and the bases, and checks
// that the bases reach every constrained member.
func modelCases(t *testing.T, bases map[string][]body) []tcase {
	t.Helper()
	var out []tcase
	for _, op := range sortedOps() {
		svc := awsmodel.KafkaConnect
		if operations[op].service == "kafka" {
			svc = awsmodel.Kafka
		}
		m := awsmodel.MustLoad(svc)
		input := m.Operations[op].Input.Shape
		g := &generator{model: m, op: op, seen: map[string]bool{}, visited: map[string]bool{}}
		for _, b := range bases[op] {
			g.base = b
			g.structure(input, nil)
		}
		for _, p := range constrained(m, input) {
			if !g.visited[p] {
				t.Errorf("%s: no base sets the constrained member %s", op, p)
			}
		}
		out = append(out, g.cases...)
	}
	return out
}

// handCases are the rules beyond the model (api-docs/README.md, "Errors", and the handlers) and bodies that are
// not valid JSON objects.
func handCases(bases map[string][]body, f fixtures) []tcase {
	var out []tcase
	add := func(op, name string, raw []byte, want ...string) {
		out = append(out, tcase{op: op, name: name, raw: raw, want: want})
	}
	edit := func(op string, variant int, name string, p path, v any, want ...string) {
		add(op, name, marshal(set(bases[op][variant], p, v, false)), want...)
	}
	drop := func(op string, variant int, name string, p path, want ...string) {
		add(op, name, marshal(set(bases[op][variant], p, nil, true)), want...)
	}

	// ---- JSON that is not a valid object, for every operation ----
	nested := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	for _, op := range sortedOps() {
		valid := marshal(bases[op][0])
		for _, bad := range []struct{ name, raw string }{
			{"truncated", string(valid[:len(valid)/2])},
			{"truncated after a key", `{"name":`},
			{"only an opening brace", `{`},
			{"trailing garbage", string(valid) + "x"},
			{"trailing second object", string(valid) + "{}"},
			{"trailing comma", `{"name": "x",}`},
			{"single quotes", `{'name': 'x'}`},
			{"unquoted key", `{name: "x"}`},
			{"bad escape", `{"name": "\x41"}`},
			{"NaN", `{"name": NaN}`},
			{"byte order mark", "\ufeff" + string(valid)},
			{"nesting bomb", `{"x": ` + nested + `}`},
			{"array", `[]`},
			{"array of the object", "[" + string(valid) + "]"},
			{"string", `"` + op + `"`},
			{"number", `42`},
			{"boolean", `true`},
			{"null", `null`},
		} {
			add(op, "malformed JSON: "+bad.name, []byte(bad.raw), "JSON", "json", "body")
		}
	}

	// ---- CreateConnector ----
	const cc = "CreateConnector"
	edit(cc, 0, "both autoScaling and provisionedCapacity", path{"capacity", "provisionedCapacity"}, body{"mcuCount": 1, "workerCount": 1}, "capacity")
	edit(cc, 0, "neither autoScaling nor provisionedCapacity", path{"capacity"}, body{}, "capacity")
	for _, n := range []int{3, 5, 6, 7} {
		edit(cc, 0, fmt.Sprintf("autoScaling mcuCount %d", n), path{"capacity", "autoScaling", "mcuCount"}, n, "capacity.autoScaling.mcuCount")
		edit(cc, 1, fmt.Sprintf("provisioned mcuCount %d", n), path{"capacity", "provisionedCapacity", "mcuCount"}, n, "capacity.provisionedCapacity.mcuCount")
	}
	edit(cc, 1, "workerCount 0", path{"capacity", "provisionedCapacity", "workerCount"}, 0, "capacity.provisionedCapacity.workerCount")
	edit(cc, 1, "workerCount 11", path{"capacity", "provisionedCapacity", "workerCount"}, 11, "capacity.provisionedCapacity.workerCount")
	edit(cc, 1, "workerCount -1", path{"capacity", "provisionedCapacity", "workerCount"}, -1, "capacity.provisionedCapacity.workerCount")
	edit(cc, 0, "minWorkerCount 0", path{"capacity", "autoScaling", "minWorkerCount"}, 0, "capacity.autoScaling.minWorkerCount")
	edit(cc, 0, "maxWorkerCount 11", path{"capacity", "autoScaling", "maxWorkerCount"}, 11, "capacity.autoScaling.maxWorkerCount")
	edit(cc, 0, "minWorkerCount above maxWorkerCount", path{"capacity", "autoScaling", "minWorkerCount"}, 5, "capacity.autoScaling.minWorkerCount")
	edit(cc, 0, "maxAutoscalingTaskCount below maxWorkerCount", path{"capacity", "autoScaling", "maxAutoscalingTaskCount"}, 3, "capacity.autoScaling.maxAutoscalingTaskCount")
	edit(cc, 0, "scale-in threshold equal to scale-out", path{"capacity", "autoScaling", "scaleInPolicy", "cpuUtilizationPercentage"}, 80, "scaleInPolicy.cpuUtilizationPercentage")
	edit(cc, 0, "scale-in threshold above scale-out", path{"capacity", "autoScaling", "scaleOutPolicy", "cpuUtilizationPercentage"}, 10, "scaleInPolicy.cpuUtilizationPercentage")
	edit(cc, 0, "no connector.class", path{"connectorConfiguration"}, body{"tasks.max": "1"}, "connectorConfiguration")
	edit(cc, 0, "blank connector.class", path{"connectorConfiguration", "connector.class"}, "  ", "connectorConfiguration")
	edit(cc, 0, "empty connectorConfiguration", path{"connectorConfiguration"}, body{}, "connectorConfiguration")
	for _, v := range []string{"0", "-1", "abc", "1.5", "2x", "0x10", ""} {
		edit(cc, 0, fmt.Sprintf("tasks.max %q", v), path{"connectorConfiguration", "tasks.max"}, v, "connectorConfiguration", "tasks.max")
	}
	// The class registry's validation (workers/catalog): the key is named, nothing is stored.
	edit(cc, 0, "unknown connector.class", path{"connectorConfiguration", "connector.class"}, "com.acme.NoSuchConnector", "connectorConfiguration", "connector.class", "com.acme.NoSuchConnector")
	edit(cc, 0, "topics not a regex", path{"connectorConfiguration", "topics"}, "orders(", "connectorConfiguration", "topics")
	edit(cc, 0, "emit.heartbeats.enabled not a boolean", path{"connectorConfiguration", "emit.heartbeats.enabled"}, "yes", "emit.heartbeats.enabled")
	edit(cc, 0, "same aliases", path{"connectorConfiguration", "target.cluster.alias"}, "source", "target.cluster.alias")
	edit(cc, 0, "no target bootstrap", path{"connectorConfiguration", "target.cluster.bootstrap.servers"}, "", "target.cluster.bootstrap.servers")
	edit(cc, 0, "unknown key.converter", path{"connectorConfiguration", "key.converter"}, "com.acme.AvroConverter", "key.converter", "com.acme.AvroConverter")
	edit(cc, 0, "unknown transform", path{"connectorConfiguration", "transforms"}, "route", "transforms.route.type")
	edit(cc, 0, "exactly.once.support bad", path{"connectorConfiguration", "exactly.once.support"}, "always", "exactly.once.support")
	edit(cc, 0, "unknown kafkaConnectVersion", path{"kafkaConnectVersion"}, "9.9.9", "kafkaConnectVersion")
	edit(cc, 0, "empty kafkaConnectVersion", path{"kafkaConnectVersion"}, "", "kafkaConnectVersion")
	for _, v := range []string{"", "b-1", "b-1:", ":9092", "b-1:port", "b-1:0", "b-1:70000", "b-1:9092,", "b-1:9092,b-2"} {
		edit(cc, 0, fmt.Sprintf("bootstrapServers %q", v), path{"kafkaCluster", "apacheKafkaCluster", "bootstrapServers"}, v, "kafkaCluster.apacheKafkaCluster.bootstrapServers")
	}
	edit(cc, 0, "no apacheKafkaCluster", path{"kafkaCluster"}, body{}, "kafkaCluster.apacheKafkaCluster")
	for _, v := range []string{"", "role/connect", "arn:aws:iam", "not an arn"} {
		edit(cc, 0, fmt.Sprintf("serviceExecutionRoleArn %q", v), path{"serviceExecutionRoleArn"}, v, "serviceExecutionRoleArn")
	}
	edit(cc, 0, "no plugins", path{"plugins"}, []any{}, "plugins")
	edit(cc, 0, "two plugins", path{"plugins"}, []any{bases[cc][0]["plugins"].([]any)[0], bases[cc][0]["plugins"].([]any)[0]}, "plugins")
	edit(cc, 0, "plugin ARN of a worker configuration", path{"plugins", 0, "customPlugin", "customPluginArn"}, f.workerConfigARN, "plugins.1.customPlugin.customPluginArn")
	edit(cc, 0, "plugin ARN malformed", path{"plugins", 0, "customPlugin", "customPluginArn"}, "my-plugin", "plugins.1.customPlugin.customPluginArn")
	edit(cc, 0, "plugin ARN empty", path{"plugins", 0, "customPlugin", "customPluginArn"}, "", "plugins.1.customPlugin.customPluginArn")
	edit(cc, 0, "worker configuration ARN of a plugin", path{"workerConfiguration", "workerConfigurationArn"}, f.pluginARN, "workerConfiguration.workerConfigurationArn")
	edit(cc, 0, "worker configuration ARN malformed", path{"workerConfiguration", "workerConfigurationArn"}, "workers", "workerConfiguration.workerConfigurationArn")
	edit(cc, 0, "reserved tag prefix", path{"tags"}, body{"aws:owner": "x"}, "tags")
	edit(cc, 0, "reserved tag prefix, upper case", path{"tags"}, body{"AWS:owner": "x"}, "tags")

	// ---- CreateWorkerConfiguration ----
	const wc = "CreateWorkerConfiguration"
	edit(wc, 0, "propertiesFileContent not base64", path{"propertiesFileContent"}, "key.converter=x", "propertiesFileContent")
	edit(wc, 0, "propertiesFileContent truncated base64", path{"propertiesFileContent"}, b64("a=b\n")[:5], "propertiesFileContent")
	for _, key := range []string{"bootstrap.servers", "group.id", "plugin.path", "config.storage.topic", "status.storage.topic",
		"security.protocol", "sasl.mechanism", "ssl.truststore.location", "admin.retries", "client.id", "worker.sync.timeout.ms",
		"rest.port", "metrics.num.samples", "internal.key.converter", "listeners.https.ssl.keystore.location"} {
		edit(wc, 0, "forbidden property "+key, path{"propertiesFileContent"}, b64("key.converter=x\n"+key+"=y\n"), "propertiesFileContent")
	}
	edit(wc, 0, "reserved tag prefix", path{"tags"}, body{"aws:owner": "x"}, "tags")

	// ---- CreateCustomPlugin ----
	const cp = "CreateCustomPlugin"
	for _, v := range []string{"my-bucket", "arn:aws:s3:::", "arn:aws:iam::000000000000:role/x", "s3://my-bucket", ""} {
		edit(cp, 0, fmt.Sprintf("bucketArn %q", v), path{"location", "s3Location", "bucketArn"}, v, "location.s3Location.bucketArn")
	}
	edit(cp, 0, "no s3Location", path{"location"}, body{}, "location.s3Location")
	edit(cp, 0, "reserved tag prefix", path{"tags"}, body{"aws:owner": "x"}, "tags")

	// ---- CreateReplicator ----
	const cr = "CreateReplicator"
	msk := bases[cr][0]["kafkaClusters"].([]any)
	edit(cr, 0, "one cluster", path{"kafkaClusters"}, msk[:1], "kafkaClusters")
	edit(cr, 0, "three clusters", path{"kafkaClusters"}, []any{msk[0], msk[1], msk[1]}, "kafkaClusters")
	edit(cr, 0, "no clusters", path{"kafkaClusters"}, []any{}, "kafkaClusters")
	edit(cr, 0, "the same cluster twice", path{"kafkaClusters", 1}, msk[0], "kafkaClusters")
	both := clone(msk[0].(map[string]any))
	both["apacheKafkaCluster"] = body{"apacheKafkaClusterId": "x", "bootstrapBrokerString": "x:9092"}
	edit(cr, 0, "both amazonMskCluster and apacheKafkaCluster", path{"kafkaClusters", 0}, both, "kafkaClusters.1")
	edit(cr, 0, "neither amazonMskCluster nor apacheKafkaCluster", path{"kafkaClusters", 1}, body{"vpcConfig": body{"subnetIds": []any{"s"}}}, "kafkaClusters.2")
	edit(cr, 0, "mskClusterArn of a connector", path{"kafkaClusters", 0, "amazonMskCluster", "mskClusterArn"}, f.pluginARN, "kafkaClusters.1.amazonMskCluster.mskClusterArn")
	edit(cr, 0, "mskClusterArn malformed", path{"kafkaClusters", 0, "amazonMskCluster", "mskClusterArn"}, "source", "kafkaClusters.1.amazonMskCluster.mskClusterArn")
	for _, v := range []string{"", "has space", "a/b", strings.Repeat("a", 65)} {
		edit(cr, 1, fmt.Sprintf("apacheKafkaClusterId %q", v), path{"kafkaClusters", 0, "apacheKafkaCluster", "apacheKafkaClusterId"}, v, "kafkaClusters.1.apacheKafkaCluster.apacheKafkaClusterId")
	}
	for _, v := range []string{"", "kafka-a", "kafka-a:99999"} {
		edit(cr, 1, fmt.Sprintf("bootstrapBrokerString %q", v), path{"kafkaClusters", 1, "apacheKafkaCluster", "bootstrapBrokerString"}, v, "kafkaClusters.2.apacheKafkaCluster.bootstrapBrokerString")
	}
	ri := bases[cr][0]["replicationInfoList"].([]any)
	edit(cr, 0, "no replication info", path{"replicationInfoList"}, []any{}, "replicationInfoList")
	edit(cr, 0, "two replication infos", path{"replicationInfoList"}, []any{ri[0], ri[0]}, "replicationInfoList")
	// List counts are checked before the clusters are looked up: with an unknown cluster too,
	// the answer still names the list.
	unknownCluster := strings.Replace(f.source, "/source/", "/no-such-cluster/", 1)
	add(cr, "two replication infos, with an unknown cluster", marshal(set(set(bases[cr][0], path{"kafkaClusters", 0, "amazonMskCluster", "mskClusterArn"}, unknownCluster, false),
		path{"replicationInfoList"}, []any{ri[0], ri[0]}, false)), "replicationInfoList")
	add(cr, "three clusters, one unknown", marshal(set(bases[cr][0], path{"kafkaClusters"}, []any{msk[0], msk[1],
		set(msk[0].(map[string]any), path{"amazonMskCluster", "mskClusterArn"}, unknownCluster, false)}, false)), "kafkaClusters")
	cp0 := bases[cc][0]["plugins"].([]any)[0]
	add(cc, "two plugins, one unknown", marshal(set(bases[cc][0], path{"plugins"}, []any{cp0,
		set(cp0.(map[string]any), path{"customPlugin", "customPluginArn"}, strings.Replace(f.pluginARN, "fixture-plugin", "no-such-plugin", 1), false)}, false)), "plugins")
	edit(cr, 0, "source not among kafkaClusters", path{"replicationInfoList", 0, "sourceKafkaClusterArn"},
		strings.Replace(f.source, "/source/", "/elsewhere/", 1), "replicationInfoList.1.sourceKafkaClusterArn")
	edit(cr, 0, "target not among kafkaClusters", path{"replicationInfoList", 0, "targetKafkaClusterArn"}, "arn:aws:kafka:us-east-1:000000000000:cluster/x/y", "replicationInfoList.1.targetKafkaClusterArn")
	edit(cr, 0, "source equals target", path{"replicationInfoList", 0, "targetKafkaClusterArn"}, f.source, "replicationInfoList.1")
	drop(cr, 0, "no source", path{"replicationInfoList", 0, "sourceKafkaClusterArn"}, "replicationInfoList.1.sourceKafkaCluster")
	edit(cr, 0, "source by ARN and by id", path{"replicationInfoList", 0, "sourceKafkaClusterId"}, "onprem-a", "replicationInfoList.1.sourceKafkaCluster")
	edit(cr, 1, "source id unknown", path{"replicationInfoList", 0, "sourceKafkaClusterId"}, "onprem-z", "replicationInfoList.1.sourceKafkaClusterId")
	edit(cr, 0, "no topics to replicate", path{"replicationInfoList", 0, "topicReplication", "topicsToReplicate"}, []any{}, "replicationInfoList.1.topicReplication.topicsToReplicate")
	for _, p := range []path{
		{"replicationInfoList", 0, "topicReplication", "topicsToReplicate"},
		{"replicationInfoList", 0, "topicReplication", "topicsToExclude"},
		{"replicationInfoList", 0, "consumerGroupReplication", "consumerGroupsToReplicate"},
		{"replicationInfoList", 0, "consumerGroupReplication", "consumerGroupsToExclude"},
	} {
		for _, re := range []string{"(", "[z-a]", "a**", `(?<=x)y`} {
			edit(cr, 0, fmt.Sprintf("%s invalid regular expression %q", p.decoderForm(), re), p, []any{"ok", re}, p.validatorForm())
		}
	}
	for _, v := range []string{"", "arn:aws:iam", "replicator-role"} {
		edit(cr, 0, fmt.Sprintf("serviceExecutionRoleArn %q", v), path{"serviceExecutionRoleArn"}, v, "serviceExecutionRoleArn")
	}
	edit(cr, 0, "reserved tag prefix", path{"tags"}, body{"aws:owner": "x"}, "tags")

	// ---- tag bounds (AWS's documented limits; the kafka model states none), every create ----
	// Each is also sent with a reference the handler would have to look up in the database
	// (an unknown plugin, worker configuration or cluster): the answer still names tags, so
	// the bounds were checked before any lookup.
	unknown := map[string]struct {
		p path
		v any
	}{
		cc: {path{"plugins", 0, "customPlugin", "customPluginArn"}, strings.Replace(f.pluginARN, "fixture-plugin", "no-such-plugin", 1)},
		cr: {path{"kafkaClusters", 0, "amazonMskCluster", "mskClusterArn"}, strings.Replace(f.source, "/source/", "/no-such-cluster/", 1)},
	}
	for _, op := range []string{cc, wc, cp, cr} {
		for _, tc := range []struct {
			name string
			tags body
			want string
		}{
			{"51 tags", manyTags(51), "tags"},
			{"tag key of 129 characters", body{strings.Repeat("k", 129): "v"}, "tags"},
			{"tag key empty", body{"": "v"}, "tags"},
			{"tag value of 257 characters", body{"team": strings.Repeat("v", 257)}, "tags.team"},
		} {
			edit(op, 0, tc.name, path{"tags"}, tc.tags, tc.want)
			if u, ok := unknown[op]; ok {
				add(op, tc.name+", with an unknown reference", marshal(set(set(bases[op][0], u.p, u.v, false), path{"tags"}, tc.tags, false)), tc.want)
			}
		}
	}
	return out
}

// manyTags returns n distinct tags.
func manyTags(n int) body {
	out := body{}
	for i := range n {
		out[fmt.Sprintf("key-%03d", i)] = "v"
	}
	return out
}

// TestBadInputSweep sends every case and requires a 400 BadRequestException naming the member;
// afterwards nothing was created, and every base body succeeds.
func TestBadInputSweep(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	f := setup(t, env)
	bases := f.bases()
	cases := append(modelCases(t, bases), handCases(bases, f)...)
	counts := map[string]int{}
	for _, c := range cases {
		counts[c.op]++
	}
	t.Logf("%d cases: %v", len(cases), counts)

	before := inventory(t, env)
	t.Run("sweep", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.op+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				op := operations[c.op]
				badRequest(t, send(t, env, op.method, op.path, op.service, c.raw), c.want)
			})
		}
	})
	if after := inventory(t, env); !reflect.DeepEqual(before, after) {
		t.Fatalf("the sweep created or removed resources:\nbefore %v\nafter  %v", before, after)
	}

	// The bases are valid: each created exactly one resource.
	for _, op := range sortedOps() {
		for i, b := range bases[op] {
			o := operations[op]
			r := send(t, env, o.method, o.path, o.service, marshal(b))
			if r.status != http.StatusOK {
				t.Errorf("base %d of %s: %d %s", i, op, r.status, r.raw)
			}
		}
	}
	after := inventory(t, env)
	for _, op := range sortedOps() {
		if got, want := len(after[op]), len(before[op])+len(bases[op]); got != want {
			t.Errorf("%s: %d resources after the bases, want %d", op, got, want)
		}
	}
}

// TestOversizeBody: a body over the 8 MiB limit is refused as too large, before decoding.
func TestOversizeBody(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	big, _ := json.Marshal(body{"name": "big", "propertiesFileContent": b64(strings.Repeat("k=v\n", 2<<20))})
	r := send(t, env, http.MethodPost, "/v1/worker-configurations", "kafkaconnect", big)
	if r.status != http.StatusRequestEntityTooLarge || r.header.Get("X-Amzn-ErrorType") != "RequestEntityTooLargeException" {
		t.Fatalf("oversize body: %d %s %s", r.status, r.header.Get("X-Amzn-ErrorType"), r.raw)
	}
	if inv := inventory(t, env); len(inv["CreateWorkerConfiguration"]) != 0 {
		t.Fatalf("oversize body created %v", inv)
	}
}
