// Package clitest drives the real `aws` CLI (v1, on PATH) against a real Fjord server
// (servertest: Postgres-backed, SigV4 verified) and checks the JSON the CLI prints: the CLI
// builds every request from the botocore models, signs it, follows nextToken by itself, and
// parses every response and error, so what passes here works for CLI users.
package clitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// result is one finished CLI run.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("aws %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// cli runs the aws CLI against one server with one credential.
type cli struct {
	t              *testing.T
	endpoint       string
	access, secret string
}

func newCLI(t *testing.T, env *servertest.Env, access, secret string) *cli {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatalf("the aws CLI v1 must be on PATH for this test (pip install awscli): %v", err)
	}
	return &cli{t: t, endpoint: env.URL, access: access, secret: secret}
}

// run runs `aws args… --endpoint-url URL --output json` with nothing from the user's AWS
// configuration, and returns what it printed and its exit code.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	full := append(slices.Clone(args), "--endpoint-url", c.endpoint, "--output", "json")
	cmd := exec.CommandContext(c.t.Context(), "aws", full...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"AWS_ACCESS_KEY_ID="+c.access,
		"AWS_SECRET_ACCESS_KEY="+c.secret,
		"AWS_DEFAULT_REGION="+servertest.Region,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		c.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs the CLI, requires exit code 0 and decodes its JSON output into a generic value.
func (c *cli) ok(args ...string) obj {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("want success\n%s", r)
	}
	if strings.TrimSpace(r.stdout) == "" {
		return obj{}
	}
	var out obj
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		c.t.Fatalf("output is not a JSON object: %v\n%s", err, r)
	}
	return out
}

// fail runs the CLI and requires the exit code of a service error (255 in CLI v1; v2 would
// say 254) with errType named on stderr.
func (c *cli) fail(errType string, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 255 {
		c.t.Fatalf("want exit code 255 (CLI v1: the service returned an error)\n%s", r)
	}
	if !strings.Contains(r.stderr, "("+errType+")") {
		c.t.Fatalf("want stderr to name %s\n%s", errType, r)
	}
	if strings.TrimSpace(r.stdout) != "" {
		c.t.Fatalf("want nothing on stdout\n%s", r)
	}
	return r
}

// obj is a decoded JSON object with path accessors that fail the test on a missing member.
type obj map[string]any

func (o obj) get(t *testing.T, path string) any {
	t.Helper()
	var cur any = map[string]any(o)
	for _, k := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[k]
			if !ok {
				t.Fatalf("member %s missing (at %q) in %s", path, k, o)
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscanf(k, "%d", &i); err != nil || i < 0 || i >= len(c) {
				t.Fatalf("member %s: index %q out of range of %d in %s", path, k, len(c), o)
			}
			cur = c[i]
		default:
			t.Fatalf("member %s: %q is not inside an object or array in %s", path, k, o)
		}
	}
	return cur
}

func (o obj) has(path string) bool {
	var cur any = map[string]any(o)
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[k]; !ok {
			return false
		}
	}
	return true
}

func (o obj) str(t *testing.T, path string) string {
	t.Helper()
	s, ok := o.get(t, path).(string)
	if !ok {
		t.Fatalf("member %s = %v, want a string", path, o.get(t, path))
	}
	return s
}

func (o obj) num(t *testing.T, path string) float64 {
	t.Helper()
	n, ok := o.get(t, path).(float64)
	if !ok {
		t.Fatalf("member %s = %#v, want a number", path, o.get(t, path))
	}
	return n
}

func (o obj) list(t *testing.T, path string) []any {
	t.Helper()
	l, ok := o.get(t, path).([]any)
	if !ok {
		t.Fatalf("member %s = %#v, want an array", path, o.get(t, path))
	}
	return l
}

// items is the array at path, or none when the member is absent (an empty list may be left
// out of a response).
func (o obj) items(t *testing.T, path string) []any {
	t.Helper()
	if !o.has(path) {
		return nil
	}
	return o.list(t, path)
}

func (o obj) obj(t *testing.T, path string) obj {
	t.Helper()
	m, ok := o.get(t, path).(map[string]any)
	if !ok {
		t.Fatalf("member %s = %#v, want an object", path, o.get(t, path))
	}
	return m
}

func (o obj) String() string { b, _ := json.Marshal(map[string]any(o)); return string(b) }

// eq requires member path to equal want (compared as JSON).
func (o obj) eq(t *testing.T, path string, want any) {
	t.Helper()
	got, _ := json.Marshal(o.get(t, path))
	w, _ := json.Marshal(want)
	if !bytes.Equal(got, w) {
		t.Errorf("member %s = %s, want %s", path, got, w)
	}
}

// recent requires member path to be a timestamp (the CLI prints ISO 8601 with an offset) within
// a minute of now.
func (o obj) recent(t *testing.T, path string) {
	t.Helper()
	s := o.str(t, path)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("member %s = %q is not an RFC 3339 timestamp: %v", path, s, err)
		return
	}
	if d := time.Since(tm); d < -time.Minute || d > time.Minute {
		t.Errorf("member %s = %s is %v away from now", path, s, d)
	}
}

func jsonArg(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var uuidRev = `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-\d+`

func arnRE(service, resourceType, name string) *regexp.Regexp {
	return regexp.MustCompile(`^arn:aws:` + service + `:us-east-1:` + servertest.Account + `:` + resourceType + `/` +
		regexp.QuoteMeta(name) + `/` + uuidRev + `$`)
}

func matches(t *testing.T, what string, re *regexp.Regexp, s string) {
	t.Helper()
	if !re.MatchString(s) {
		t.Fatalf("%s = %q, want to match %s", what, s, re)
	}
}

// TestKafkaConnectCLI walks MSK Connect's life cycle with the CLI: worker configuration, custom
// plugin, connectors (with auto-pagination), tags, update, delete, and errors.
func TestKafkaConnectCLI(t *testing.T) {
	t.Parallel()
	// The connector's sasl.jaas.config refers to Secrets Manager through the worker
	// configuration's config provider; here the secret is in the local secrets folder.
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "onprem-kafka.json"),
		[]byte(`{"jaas": "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := servertest.Start(t, servertest.Options{SecretsDir: secrets})
	aws := newCLI(t, env, servertest.AccessKey, servertest.SecretKey)

	// ---- create-worker-configuration ----
	props := "key.converter=org.apache.kafka.connect.storage.StringConverter\n" +
		"value.converter=org.apache.kafka.connect.json.JsonConverter\n" +
		"value.converter.schemas.enable=false\n" +
		"offset.flush.interval.ms=10000\n" +
		"config.providers=secretManager\n" +
		"config.providers.secretManager.class=com.github.jcustenborder.kafka.config.aws.SecretsManagerConfigProvider\n" +
		"config.providers.secretManager.param.aws.region=us-east-1\n"
	propsB64 := base64.StdEncoding.EncodeToString([]byte(props))
	wc := aws.ok("kafkaconnect", "create-worker-configuration",
		"--name", "cli-json-workers",
		"--description", "JSON values, string keys",
		"--properties-file-content", propsB64,
		"--tags", "team=data,env=test")
	wcARN := wc.str(t, "workerConfigurationArn")
	matches(t, "workerConfigurationArn", arnRE("kafkaconnect", "worker-configuration", "cli-json-workers"), wcARN)
	wc.eq(t, "name", "cli-json-workers")
	wc.eq(t, "workerConfigurationState", "ACTIVE")
	wc.eq(t, "latestRevision.revision", 1)
	wc.eq(t, "latestRevision.description", "JSON values, string keys")
	wc.recent(t, "creationTime")
	wc.recent(t, "latestRevision.creationTime")

	wcd := aws.ok("kafkaconnect", "describe-worker-configuration", "--worker-configuration-arn", wcARN)
	wcd.eq(t, "workerConfigurationArn", wcARN)
	wcd.eq(t, "latestRevision.propertiesFileContent", propsB64)
	wcd.eq(t, "latestRevision.revision", 1)
	wcd.eq(t, "description", "JSON values, string keys")

	// ---- create-custom-plugin, then ACTIVE ----
	bucketARN := env.PutPluginZip(t, "cli-plugins", "mm2/connect-mirror-3.7.1.zip")
	cp := aws.ok("kafkaconnect", "create-custom-plugin",
		"--name", "cli-mirror-maker",
		"--description", "MirrorMaker 2 connectors",
		"--content-type", "ZIP",
		"--location", jsonArg(t, map[string]any{"s3Location": map[string]any{
			"bucketArn": bucketARN, "fileKey": "mm2/connect-mirror-3.7.1.zip"}}),
		"--tags", "team=data")
	pluginARN := cp.str(t, "customPluginArn")
	matches(t, "customPluginArn", arnRE("kafkaconnect", "custom-plugin", "cli-mirror-maker"), pluginARN)
	cp.eq(t, "customPluginState", "CREATING")
	cp.eq(t, "name", "cli-mirror-maker")
	cp.eq(t, "revision", 1)

	var plugin obj
	servertest.Eventually(t, 30*time.Second, "custom plugin ACTIVE", func() bool {
		plugin = aws.ok("kafkaconnect", "describe-custom-plugin", "--custom-plugin-arn", pluginARN)
		if s := plugin.str(t, "customPluginState"); s != "CREATING" && s != "ACTIVE" {
			t.Fatalf("custom plugin went %s: %s", s, plugin)
		}
		return plugin.str(t, "customPluginState") == "ACTIVE"
	})
	plugin.eq(t, "customPluginArn", pluginARN)
	plugin.eq(t, "description", "MirrorMaker 2 connectors")
	plugin.eq(t, "latestRevision.contentType", "ZIP")
	plugin.eq(t, "latestRevision.revision", 1)
	plugin.eq(t, "latestRevision.location.s3Location.bucketArn", bucketARN)
	plugin.eq(t, "latestRevision.location.s3Location.fileKey", "mm2/connect-mirror-3.7.1.zip")
	if n := plugin.num(t, "latestRevision.fileDescription.fileSize"); n <= 0 {
		t.Errorf("fileSize = %v, want > 0", n)
	}
	matches(t, "fileMd5", regexp.MustCompile(`^[0-9a-f]{32}$`), plugin.str(t, "latestRevision.fileDescription.fileMd5"))
	plugin.recent(t, "creationTime")

	// ---- create-connector, every member the CLI offers ----
	// A MirrorMaker 2 source connector: a class Fjord runs itself (others go FAILED).
	connConfig := map[string]string{
		"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
		"tasks.max":                        "4",
		"source.cluster.alias":             "onprem",
		"target.cluster.alias":             "msk",
		"source.cluster.bootstrap.servers": "kafka-1.onprem.internal:9093,kafka-2.onprem.internal:9093",
		"source.cluster.security.protocol": "SASL_SSL",
		"source.cluster.sasl.mechanism":    "SCRAM-SHA-512",
		"source.cluster.sasl.jaas.config":  "${secretManager:onprem-kafka:jaas}",
		"topics":                           "orders.*,payments",
		"topics.exclude":                   ".*[-.]internal",
		"replication.factor":               "3",
		"sync.topic.configs.enabled":       "true",
		"key.converter":                    "org.apache.kafka.connect.converters.ByteArrayConverter",
		"value.converter":                  "org.apache.kafka.connect.converters.ByteArrayConverter",
	}
	capacity := map[string]any{"autoScaling": map[string]any{
		"maxWorkerCount": 4, "mcuCount": 2, "minWorkerCount": 1,
		"scaleInPolicy":           map[string]any{"cpuUtilizationPercentage": 25},
		"scaleOutPolicy":          map[string]any{"cpuUtilizationPercentage": 75},
		"maxAutoscalingTaskCount": 8,
	}}
	kafkaCluster := map[string]any{"apacheKafkaCluster": map[string]any{
		"bootstrapServers": "b-1.orders.kafka.internal:9098,b-2.orders.kafka.internal:9098",
		"vpc": map[string]any{
			"subnets":        []string{"subnet-0a1b2c3d", "subnet-4e5f6a7b"},
			"securityGroups": []string{"sg-0123456789abcdef0"},
		},
	}}
	logDelivery := map[string]any{"workerLogDelivery": map[string]any{
		"cloudWatchLogs": map[string]any{"enabled": true, "logGroup": "/msk-connect/orders-mirror"},
		"firehose":       map[string]any{"enabled": false},
		"s3":             map[string]any{"enabled": true, "bucket": "connect-logs", "prefix": "orders-mirror/"},
	}}
	roleARN := "arn:aws:iam::" + servertest.Account + ":role/msk-connect-orders"
	createConnector := func(name string, extra ...string) obj {
		args := []string{"kafkaconnect", "create-connector",
			"--connector-name", name,
			"--connector-description", "orders from on-prem Kafka to MSK",
			"--capacity", jsonArg(t, capacity),
			"--connector-configuration", jsonArg(t, connConfig),
			"--kafka-cluster", jsonArg(t, kafkaCluster),
			"--kafka-cluster-client-authentication", "authenticationType=NONE",
			"--kafka-cluster-encryption-in-transit", "encryptionType=TLS",
			"--kafka-connect-version", "2.7.1",
			"--log-delivery", jsonArg(t, logDelivery),
			"--plugins", jsonArg(t, []any{map[string]any{"customPlugin": map[string]any{"customPluginArn": pluginARN, "revision": 1}}}),
			"--service-execution-role-arn", roleARN,
			"--worker-configuration", jsonArg(t, map[string]any{"workerConfigurationArn": wcARN, "revision": 1}),
		}
		return aws.ok(append(args, extra...)...)
	}
	cc := createConnector("orders-mirror", "--network-type", "IPV4", "--tags", "team=data,env=test")
	connARN := cc.str(t, "connectorArn")
	matches(t, "connectorArn", arnRE("kafkaconnect", "connector", "orders-mirror"), connARN)
	cc.eq(t, "connectorName", "orders-mirror")
	cc.eq(t, "connectorState", "CREATING")

	// ---- describe-connector: everything sent comes back ----
	d := aws.ok("kafkaconnect", "describe-connector", "--connector-arn", connARN)
	d.eq(t, "connectorArn", connARN)
	d.eq(t, "connectorName", "orders-mirror")
	d.eq(t, "connectorDescription", "orders from on-prem Kafka to MSK")
	live(t, d, "connectorState")
	d.eq(t, "connectorConfiguration", connConfig)
	d.eq(t, "capacity.autoScaling.mcuCount", 2)
	d.eq(t, "capacity.autoScaling.minWorkerCount", 1)
	d.eq(t, "capacity.autoScaling.maxWorkerCount", 4)
	d.eq(t, "capacity.autoScaling.maxAutoscalingTaskCount", 8)
	d.eq(t, "capacity.autoScaling.scaleInPolicy.cpuUtilizationPercentage", 25)
	d.eq(t, "capacity.autoScaling.scaleOutPolicy.cpuUtilizationPercentage", 75)
	if d.has("capacity.provisionedCapacity") {
		t.Errorf("capacity.provisionedCapacity set on an auto-scaled connector: %s", d)
	}
	d.eq(t, "kafkaCluster.apacheKafkaCluster.bootstrapServers", "b-1.orders.kafka.internal:9098,b-2.orders.kafka.internal:9098")
	d.eq(t, "kafkaCluster.apacheKafkaCluster.vpc.subnets", []string{"subnet-0a1b2c3d", "subnet-4e5f6a7b"})
	d.eq(t, "kafkaCluster.apacheKafkaCluster.vpc.securityGroups", []string{"sg-0123456789abcdef0"})
	d.eq(t, "kafkaClusterClientAuthentication.authenticationType", "NONE")
	d.eq(t, "kafkaClusterEncryptionInTransit.encryptionType", "TLS")
	d.eq(t, "kafkaConnectVersion", "2.7.1")
	d.eq(t, "logDelivery.workerLogDelivery.cloudWatchLogs", map[string]any{"enabled": true, "logGroup": "/msk-connect/orders-mirror"})
	d.eq(t, "logDelivery.workerLogDelivery.firehose.enabled", false)
	d.eq(t, "logDelivery.workerLogDelivery.s3", map[string]any{"enabled": true, "bucket": "connect-logs", "prefix": "orders-mirror/"})
	d.eq(t, "networkType", "IPV4")
	d.eq(t, "plugins.0.customPlugin.customPluginArn", pluginARN)
	d.eq(t, "plugins.0.customPlugin.revision", 1)
	d.eq(t, "serviceExecutionRoleArn", roleARN)
	d.eq(t, "workerConfiguration.workerConfigurationArn", wcARN)
	d.eq(t, "workerConfiguration.revision", 1)
	d.recent(t, "creationTime")
	version := d.str(t, "currentVersion")
	if version == "" {
		t.Fatal("currentVersion is empty")
	}

	// ---- list-connectors: 8 connectors, pages of 2, the CLI follows nextToken ----
	names := []string{"orders-mirror"}
	var wg sync.WaitGroup
	for i := range 7 {
		name := fmt.Sprintf("cli-page-%02d", i)
		names = append(names, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := aws.run("kafkaconnect", "create-connector",
				"--connector-name", name,
				"--capacity", "provisionedCapacity={mcuCount=1,workerCount=1}",
				"--connector-configuration", "connector.class=org.apache.kafka.connect.mirror.MirrorHeartbeatConnector,tasks.max=1,source.cluster.bootstrap.servers=127.0.0.1:9092,target.cluster.bootstrap.servers=127.0.0.1:9093",
				"--kafka-cluster", "apacheKafkaCluster={bootstrapServers=127.0.0.1:9092,vpc={subnets=[subnet-1]}}",
				"--kafka-cluster-client-authentication", "authenticationType=NONE",
				"--kafka-cluster-encryption-in-transit", "encryptionType=PLAINTEXT",
				"--kafka-connect-version", "3.7.x",
				"--plugins", "customPlugin={customPluginArn="+pluginARN+",revision=1}",
				"--service-execution-role-arn", roleARN)
			if r.code != 0 {
				t.Errorf("create %s:\n%s", name, r)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	sort.Strings(names)

	connectorNames := func(o obj) []string {
		var out []string
		for i, c := range o.list(t, "connectors") {
			co := obj(c.(map[string]any))
			out = append(out, co.str(t, "connectorName"))
			matches(t, fmt.Sprintf("connectors[%d].connectorArn", i), arnRE("kafkaconnect", "connector", co.str(t, "connectorName")), co.str(t, "connectorArn"))
		}
		return out
	}
	all := aws.run("kafkaconnect", "list-connectors", "--page-size", "2", "--debug")
	if all.code != 0 {
		t.Fatalf("list-connectors:\n%s", all)
	}
	var listed obj
	if err := json.Unmarshal([]byte(all.stdout), &listed); err != nil {
		t.Fatalf("list-connectors output: %v\n%s", err, all.stdout)
	}
	if got := connectorNames(listed); !slices.Equal(got, names) {
		t.Errorf("list-connectors --page-size 2 listed %v, want each of %v exactly once, in name order", got, names)
	}
	if listed.has("nextToken") {
		t.Errorf("auto-paginated output still has nextToken: %s", listed)
	}
	// The CLI logs each HTTP request it makes: 8 connectors in pages of 2 are 4 requests, each
	// with maxResults=2, all but the first with a nextToken.
	reqs := regexp.MustCompile(`(?m)Making request for OperationModel\(name=ListConnectors\)`).FindAllString(all.stderr, -1)
	if len(reqs) != 4 {
		t.Errorf("the CLI made %d ListConnectors requests for 8 connectors in pages of 2, want 4", len(reqs))
	}
	if n := strings.Count(all.stderr, "maxResults=2"); n < 4 {
		t.Errorf("maxResults=2 appears %d times in the CLI's debug log, want ≥ 4", n)
	}
	if n := len(regexp.MustCompile(`nextToken=`).FindAllString(all.stderr, -1)); n < 3 {
		t.Errorf("nextToken= appears %d times in the CLI's debug log, want ≥ 3 (pages 2-4)", n)
	}
	// --max-items stops early and hands out a CLI token that resumes where it stopped.
	first := aws.ok("kafkaconnect", "list-connectors", "--page-size", "2", "--max-items", "3")
	gotFirst := connectorNames(first)
	if !slices.Equal(gotFirst, names[:3]) {
		t.Errorf("first 3 = %v, want %v", gotFirst, names[:3])
	}
	rest := aws.ok("kafkaconnect", "list-connectors", "--page-size", "2", "--starting-token", first.str(t, "NextToken"))
	if got := connectorNames(rest); !slices.Equal(got, names[3:]) {
		t.Errorf("after --starting-token: %v, want %v", got, names[3:])
	}
	prefixed := aws.ok("kafkaconnect", "list-connectors", "--connector-name-prefix", "cli-page-0", "--page-size", "3")
	if got := connectorNames(prefixed); !slices.Equal(got, names[:7]) {
		t.Errorf("--connector-name-prefix cli-page-0: %v, want %v", got, names[:7])
	}
	for _, c := range listed.list(t, "connectors") {
		co := obj(c.(map[string]any))
		if co.str(t, "connectorName") != "orders-mirror" {
			continue
		}
		co.eq(t, "connectorArn", connARN)
		live(t, co, "connectorState")
		co.eq(t, "capacity.autoScaling.mcuCount", 2)
		co.eq(t, "kafkaConnectVersion", "2.7.1")
		co.eq(t, "workerConfiguration.workerConfigurationArn", wcARN)
		co.recent(t, "creationTime")
		if co.has("connectorConfiguration") {
			t.Errorf("list-connectors shows the connector configuration: %s", co)
		}
	}

	// ---- tag-resource, untag-resource, list-tags-for-resource ----
	aws.ok("kafkaconnect", "tag-resource", "--resource-arn", connARN, "--tags", "owner=alice,cost-center=42,team=data-platform")
	aws.ok("kafkaconnect", "untag-resource", "--resource-arn", connARN, "--tag-keys", "env", "owner")
	tags := aws.ok("kafkaconnect", "list-tags-for-resource", "--resource-arn", connARN)
	tags.eq(t, "tags", map[string]string{"team": "data-platform", "cost-center": "42"})
	wcTags := aws.ok("kafkaconnect", "list-tags-for-resource", "--resource-arn", wcARN)
	wcTags.eq(t, "tags", map[string]string{"team": "data", "env": "test"})

	// ---- update-connector: capacity, then configuration ----
	// update-connector only records the operation and leaves the connector UPDATING; the
	// scheduler applies it (at once: no agent runs the connector) and the connector is
	// CREATING again, with the target settings.
	up := aws.ok("kafkaconnect", "update-connector", "--connector-arn", connARN, "--current-version", version,
		"--capacity", "provisionedCapacity={mcuCount=4,workerCount=3}")
	up.eq(t, "connectorArn", connARN)
	up.eq(t, "connectorState", "UPDATING")
	opARN := up.str(t, "connectorOperationArn")
	matches(t, "connectorOperationArn", regexp.MustCompile(`^arn:aws:kafkaconnect:us-east-1:`+servertest.Account+
		`:connector-operation/orders-mirror/[0-9a-f-]{36}/[0-9a-f-]{36}$`), opARN)
	op := aws.waitOperation(opARN)
	op.eq(t, "connectorOperationArn", opARN)
	op.eq(t, "connectorArn", connARN)
	op.eq(t, "connectorOperationType", "UPDATE_WORKER_SETTING")
	op.eq(t, "connectorOperationState", "UPDATE_COMPLETE")
	op.eq(t, "operationSteps", completedSteps("UPDATE_WORKER_SETTING"))
	op.recent(t, "creationTime")
	op.recent(t, "endTime")
	if op.has("errorInfo") {
		t.Errorf("completed operation has errorInfo: %s", op)
	}
	op.eq(t, "targetWorkerSetting.capacity.provisionedCapacity.mcuCount", 4)
	op.eq(t, "targetWorkerSetting.capacity.provisionedCapacity.workerCount", 3)
	op.eq(t, "originWorkerSetting.capacity.autoScaling.mcuCount", 2)
	d = aws.ok("kafkaconnect", "describe-connector", "--connector-arn", connARN)
	d.eq(t, "connectorState", "CREATING")
	d.eq(t, "capacity.provisionedCapacity", map[string]any{"mcuCount": 4, "workerCount": 3})
	if d.has("capacity.autoScaling") {
		t.Errorf("capacity.autoScaling survived a switch to provisioned capacity: %s", d)
	}
	d.eq(t, "connectorConfiguration", connConfig)
	newVersion := d.str(t, "currentVersion")
	if newVersion == version {
		t.Errorf("currentVersion %q did not change on update", version)
	}

	// A stale currentVersion is refused and changes nothing.
	r := aws.fail("BadRequestException", "kafkaconnect", "update-connector", "--connector-arn", connARN,
		"--current-version", version, "--capacity", "provisionedCapacity={mcuCount=8,workerCount=1}")
	if !strings.Contains(r.stderr, "currentVersion") {
		t.Errorf("stale-version error does not name currentVersion:\n%s", r)
	}
	// A capacity MSK Connect does not offer is refused by the server (the CLI's own checks
	// accept 3: the model only says 1 ≤ mcuCount ≤ 8).
	r = aws.fail("BadRequestException", "kafkaconnect", "update-connector", "--connector-arn", connARN,
		"--current-version", newVersion, "--capacity", "provisionedCapacity={mcuCount=3,workerCount=1}")
	if !strings.Contains(r.stderr, "mcuCount") {
		t.Errorf("error does not name mcuCount:\n%s", r)
	}
	d = aws.ok("kafkaconnect", "describe-connector", "--connector-arn", connARN)
	d.eq(t, "currentVersion", newVersion)
	d.eq(t, "capacity.provisionedCapacity", map[string]any{"mcuCount": 4, "workerCount": 3})

	newConfig := maps(connConfig, map[string]string{"tasks.max": "2", "topics": "orders.*"})
	up = aws.ok("kafkaconnect", "update-connector", "--connector-arn", connARN, "--current-version", newVersion,
		"--connector-configuration", jsonArg(t, newConfig))
	up.eq(t, "connectorArn", connARN)
	up.eq(t, "connectorState", "UPDATING")
	op = aws.waitOperation(up.str(t, "connectorOperationArn"))
	op.eq(t, "connectorOperationType", "UPDATE_CONNECTOR_CONFIGURATION")
	op.eq(t, "connectorOperationState", "UPDATE_COMPLETE")
	op.eq(t, "operationSteps", completedSteps("UPDATE_CONNECTOR_CONFIGURATION"))
	op.recent(t, "endTime")
	// Operations show connector.class and tasks.max; every other value is redacted.
	if o := op.obj(t, "originConnectorConfiguration"); o["tasks.max"] != connConfig["tasks.max"] || o["connector.class"] != connConfig["connector.class"] {
		t.Errorf("originConnectorConfiguration = %s", o)
	}
	if tc := op.obj(t, "targetConnectorConfiguration"); tc["tasks.max"] != "2" || tc["topics"] != "<redacted>" || len(tc) != len(newConfig) {
		t.Errorf("targetConnectorConfiguration = %s", tc)
	}
	d = aws.ok("kafkaconnect", "describe-connector", "--connector-arn", connARN)
	d.eq(t, "connectorState", "CREATING")
	d.eq(t, "connectorConfiguration", newConfig)
	d.eq(t, "capacity.provisionedCapacity.workerCount", 3)
	if d.str(t, "currentVersion") == newVersion {
		t.Errorf("currentVersion %q did not change on a configuration update", newVersion)
	}
	ops := aws.ok("kafkaconnect", "list-connector-operations", "--connector-arn", connARN)
	var opTypes []string
	for _, o := range ops.list(t, "connectorOperations") {
		oo := obj(o.(map[string]any))
		opTypes = append(opTypes, oo.str(t, "connectorOperationType"))
		oo.eq(t, "connectorOperationState", "UPDATE_COMPLETE")
	}
	sort.Strings(opTypes)
	if want := []string{"UPDATE_CONNECTOR_CONFIGURATION", "UPDATE_WORKER_SETTING"}; !slices.Equal(opTypes, want) {
		t.Errorf("list-connector-operations types = %v, want %v", opTypes, want)
	}

	// ---- errors: another account, an unknown ARN; its empty list is [] (botocore sees the key) ----
	other := newCLI(t, env, servertest.OtherAccess, servertest.OtherSecret)
	other.fail("NotFoundException", "kafkaconnect", "describe-connector", "--connector-arn", connARN)
	otherList := other.ok("kafkaconnect", "list-connectors")
	if n := len(otherList.list(t, "connectors")); n != 0 {
		t.Errorf("the other account lists %d connectors, want 0", n)
	}
	missing := strings.Replace(connARN, "/orders-mirror/", "/no-such-connector/", 1)
	r = aws.fail("NotFoundException", "kafkaconnect", "describe-connector", "--connector-arn", missing)
	if !strings.Contains(r.stderr, "DescribeConnector operation") || !strings.Contains(r.stderr, "not found") {
		t.Errorf("stderr does not say which operation failed and why:\n%s", r)
	}

	// ---- delete-connector: DELETING, then gone ----
	d = aws.ok("kafkaconnect", "describe-connector", "--connector-arn", connARN)
	del := aws.ok("kafkaconnect", "delete-connector", "--connector-arn", connARN, "--current-version", d.str(t, "currentVersion"))
	del.eq(t, "connectorArn", connARN)
	del.eq(t, "connectorState", "DELETING")
	servertest.Eventually(t, 20*time.Second, "deleted connector to disappear", func() bool {
		r := aws.run("kafkaconnect", "describe-connector", "--connector-arn", connARN)
		if r.code == 0 {
			return false
		}
		if r.code != 255 || !strings.Contains(r.stderr, "(NotFoundException)") {
			t.Fatalf("describe of a deleted connector:\n%s", r)
		}
		return true
	})
	left := connectorNames(aws.ok("kafkaconnect", "list-connectors", "--page-size", "5"))
	if !slices.Equal(left, names[:7]) {
		t.Errorf("after delete, list-connectors = %v, want %v", left, names[:7])
	}
}

// waitOperation polls describe-connector-operation until the operation has ended
// (UPDATE_COMPLETE, UPDATE_FAILED, ROLLBACK_COMPLETE or ROLLBACK_FAILED) and returns it.
// update-connector only records the operation; the server's scheduler carries it out.
func (c *cli) waitOperation(opARN string) obj {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second) // each CLI run takes a while
	for {
		op := c.ok("kafkaconnect", "describe-connector-operation", "--connector-operation-arn", opARN)
		switch st := op.str(c.t, "connectorOperationState"); st {
		case "UPDATE_COMPLETE", "UPDATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED":
			return op
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("operation %s has not ended: %s", opARN, op)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// completedSteps are the steps of a completed update of type typ, as the CLI prints them.
func completedSteps(typ string) []map[string]string {
	var out []map[string]string
	for _, st := range []string{"INITIALIZE_UPDATE", typ, "VALIDATE_UPDATE", "FINALIZE_UPDATE"} {
		out = append(out, map[string]string{"stepType": st, "stepState": "COMPLETED"})
	}
	return out
}

// live requires a workload state that a healthy new workload may be in: CREATING until the
// fleet runs it (no agents run in these tests), RUNNING after.
func live(t *testing.T, o obj, member string) {
	t.Helper()
	if s := o.str(t, member); s != "CREATING" && s != "RUNNING" {
		t.Errorf("%s = %q, want CREATING or RUNNING: %s", member, s, o)
	}
}

func maps(base, over map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// TestReplicatorCLI walks MSK Replicator's life cycle and the cluster registry with the CLI.
// The kafka service's CLI input and output use the model's member names (PascalCase).
func TestReplicatorCLI(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	aws := newCLI(t, env, servertest.AccessKey, servertest.SecretKey)

	// ---- list-clusters-v2, get-bootstrap-brokers ----
	clusters := aws.ok("kafka", "list-clusters-v2")
	got := map[string]string{}
	for _, c := range clusters.list(t, "ClusterInfoList") {
		co := obj(c.(map[string]any))
		got[co.str(t, "ClusterName")] = co.str(t, "ClusterArn")
		co.eq(t, "ClusterType", "PROVISIONED")
		co.eq(t, "State", "ACTIVE")
		co.eq(t, "Provisioned.NumberOfBrokerNodes", 1)
		co.recent(t, "CreationTime")
	}
	if want := map[string]string{"source": env.SourceClusterARN, "target": env.TargetClusterARN}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("list-clusters-v2 = %v, want %v", got, want)
	}
	filtered := aws.ok("kafka", "list-clusters-v2", "--cluster-name-filter", "tar")
	if l := filtered.list(t, "ClusterInfoList"); len(l) != 1 || obj(l[0].(map[string]any)).str(t, "ClusterArn") != env.TargetClusterARN {
		t.Errorf("--cluster-name-filter tar = %s, want only the target cluster", filtered)
	}
	bb := aws.ok("kafka", "get-bootstrap-brokers", "--cluster-arn", env.SourceClusterARN)
	bb.eq(t, "BootstrapBrokerString", "127.0.0.1:19092")
	bb = aws.ok("kafka", "get-bootstrap-brokers", "--cluster-arn", env.TargetClusterARN)
	bb.eq(t, "BootstrapBrokerString", "127.0.0.1:29092")

	// ---- create-replicator ----
	vpc := map[string]any{"SubnetIds": []string{"subnet-0a1b2c3d", "subnet-4e5f6a7b"}, "SecurityGroupIds": []string{"sg-0123456789abcdef0"}}
	kafkaClusters := []any{
		map[string]any{"AmazonMskCluster": map[string]any{"MskClusterArn": env.SourceClusterARN}, "VpcConfig": vpc},
		map[string]any{"AmazonMskCluster": map[string]any{"MskClusterArn": env.TargetClusterARN}, "VpcConfig": vpc},
	}
	info := []any{map[string]any{
		"SourceKafkaClusterArn": env.SourceClusterARN,
		"TargetKafkaClusterArn": env.TargetClusterARN,
		"TargetCompressionType": "LZ4",
		"TopicReplication": map[string]any{
			"TopicsToReplicate":               []string{"orders\\..*", "payments"},
			"TopicsToExclude":                 []string{"orders\\.internal-.*"},
			"CopyTopicConfigurations":         true,
			"CopyAccessControlListsForTopics": false,
			"DetectAndCopyNewTopics":          true,
			"StartingPosition":                map[string]any{"Type": "EARLIEST"},
			"TopicNameConfiguration":          map[string]any{"Type": "IDENTICAL"},
		},
		"ConsumerGroupReplication": map[string]any{
			"ConsumerGroupsToReplicate":       []string{".*"},
			"ConsumerGroupsToExclude":         []string{"console-consumer-.*"},
			"DetectAndCopyNewConsumerGroups":  true,
			"SynchroniseConsumerGroupOffsets": false,
			"ConsumerGroupOffsetSyncMode":     "ENHANCED",
		},
	}}
	roleARN := "arn:aws:iam::" + servertest.Account + ":role/msk-replicator"
	cr := aws.ok("kafka", "create-replicator",
		"--replicator-name", "orders-dr",
		"--description", "orders to the DR cluster",
		"--kafka-clusters", jsonArg(t, kafkaClusters),
		"--replication-info-list", jsonArg(t, info),
		"--service-execution-role-arn", roleARN,
		"--log-delivery", jsonArg(t, map[string]any{"ReplicatorLogDelivery": map[string]any{
			"CloudWatchLogs": map[string]any{"Enabled": true, "LogGroup": "/msk/replicator/orders-dr"}}}),
		"--tags", "team=data,env=test")
	repARN := cr.str(t, "ReplicatorArn")
	matches(t, "ReplicatorArn", arnRE("kafka", "replicator", "orders-dr"), repARN)
	cr.eq(t, "ReplicatorName", "orders-dr")
	cr.eq(t, "ReplicatorState", "CREATING")

	// ---- describe-replicator ----
	d := aws.ok("kafka", "describe-replicator", "--replicator-arn", repARN)
	d.eq(t, "ReplicatorArn", repARN)
	d.eq(t, "ReplicatorName", "orders-dr")
	d.eq(t, "ReplicatorDescription", "orders to the DR cluster")
	live(t, d, "ReplicatorState")
	d.eq(t, "ServiceExecutionRoleArn", roleARN)
	d.eq(t, "IsReplicatorReference", false)
	d.eq(t, "Tags", map[string]string{"team": "data", "env": "test"})
	d.eq(t, "KafkaClusters.0.AmazonMskCluster.MskClusterArn", env.SourceClusterARN)
	d.eq(t, "KafkaClusters.0.KafkaClusterAlias", "source")
	d.eq(t, "KafkaClusters.0.VpcConfig", vpc)
	d.eq(t, "KafkaClusters.1.AmazonMskCluster.MskClusterArn", env.TargetClusterARN)
	d.eq(t, "KafkaClusters.1.KafkaClusterAlias", "target")
	d.eq(t, "ReplicationInfoList.0.SourceKafkaClusterAlias", "source")
	d.eq(t, "ReplicationInfoList.0.TargetKafkaClusterAlias", "target")
	d.eq(t, "ReplicationInfoList.0.TargetCompressionType", "LZ4")
	d.eq(t, "ReplicationInfoList.0.TopicReplication", info[0].(map[string]any)["TopicReplication"])
	d.eq(t, "ReplicationInfoList.0.ConsumerGroupReplication", info[0].(map[string]any)["ConsumerGroupReplication"])
	d.eq(t, "LogDelivery.ReplicatorLogDelivery.CloudWatchLogs.LogGroup", "/msk/replicator/orders-dr")
	d.recent(t, "CreationTime")
	version := d.str(t, "CurrentVersion")

	// ---- list-replicators ----
	lr := aws.ok("kafka", "list-replicators")
	reps := lr.list(t, "Replicators")
	if len(reps) != 1 {
		t.Fatalf("list-replicators = %s, want 1 replicator", lr)
	}
	rs := obj(reps[0].(map[string]any))
	rs.eq(t, "ReplicatorArn", repARN)
	rs.eq(t, "ReplicatorName", "orders-dr")
	live(t, rs, "ReplicatorState")
	rs.eq(t, "CurrentVersion", version)
	rs.eq(t, "KafkaClustersSummary.0.KafkaClusterAlias", "source")
	rs.eq(t, "KafkaClustersSummary.1.KafkaClusterAlias", "target")
	rs.eq(t, "ReplicationInfoSummaryList", []any{map[string]any{"SourceKafkaClusterAlias": "source", "TargetKafkaClusterAlias": "target"}})
	rs.recent(t, "CreationTime")
	if n := len(aws.ok("kafka", "list-replicators", "--replicator-name-filter", "nothing-like-it").list(t, "Replicators")); n != 0 {
		t.Errorf("a filter matching nothing listed %d replicators", n)
	}

	// ---- tags through the kafka CLI ----
	aws.ok("kafka", "tag-resource", "--resource-arn", repARN, "--tags", "owner=bob")
	aws.ok("kafka", "untag-resource", "--resource-arn", repARN, "--tag-keys", "env")
	aws.ok("kafka", "list-tags-for-resource", "--resource-arn", repARN).eq(t, "Tags", map[string]string{"team": "data", "owner": "bob"})

	// ---- update-replication-info ----
	newTopics := map[string]any{
		"TopicsToReplicate":               []string{"orders\\..*", "payments", "refunds"},
		"TopicsToExclude":                 []string{},
		"CopyTopicConfigurations":         false,
		"CopyAccessControlListsForTopics": true,
		"DetectAndCopyNewTopics":          false,
	}
	ur := aws.ok("kafka", "update-replication-info",
		"--replicator-arn", repARN,
		"--current-version", version,
		"--source-kafka-cluster-arn", env.SourceClusterARN,
		"--target-kafka-cluster-arn", env.TargetClusterARN,
		"--topic-replication", jsonArg(t, newTopics))
	ur.eq(t, "ReplicatorArn", repARN)
	d = aws.ok("kafka", "describe-replicator", "--replicator-arn", repARN)
	tr := d.obj(t, "ReplicationInfoList.0.TopicReplication")
	tr.eq(t, "TopicsToReplicate", newTopics["TopicsToReplicate"])
	tr.eq(t, "CopyTopicConfigurations", false)
	tr.eq(t, "CopyAccessControlListsForTopics", true)
	tr.eq(t, "DetectAndCopyNewTopics", false)
	if tr.has("TopicsToExclude") && len(tr.list(t, "TopicsToExclude")) != 0 {
		t.Errorf("TopicsToExclude = %v after setting it to []", tr.get(t, "TopicsToExclude"))
	}
	tr.eq(t, "StartingPosition.Type", "EARLIEST") // cannot change
	tr.eq(t, "TopicNameConfiguration.Type", "IDENTICAL")
	d.eq(t, "ReplicationInfoList.0.ConsumerGroupReplication", info[0].(map[string]any)["ConsumerGroupReplication"])
	newVersion := d.str(t, "CurrentVersion")
	if newVersion == version {
		t.Errorf("CurrentVersion %q did not change on update", version)
	}
	r := aws.fail("BadRequestException", "kafka", "update-replication-info",
		"--replicator-arn", repARN, "--current-version", version,
		"--source-kafka-cluster-arn", env.SourceClusterARN, "--target-kafka-cluster-arn", env.TargetClusterARN,
		"--topic-replication", jsonArg(t, newTopics))
	if !strings.Contains(r.stderr, "currentVersion") {
		t.Errorf("stale-version error does not name currentVersion:\n%s", r)
	}

	// ---- errors ----
	other := newCLI(t, env, servertest.OtherAccess, servertest.OtherSecret)
	other.fail("NotFoundException", "kafka", "describe-replicator", "--replicator-arn", repARN)
	other.fail("NotFoundException", "kafka", "get-bootstrap-brokers", "--cluster-arn", env.SourceClusterARN)
	if n := len(other.ok("kafka", "list-clusters-v2").items(t, "ClusterInfoList")); n != 0 {
		t.Errorf("the other account lists %d clusters, want 0", n)
	}
	r = aws.fail("BadRequestException", "kafka", "create-replicator",
		"--replicator-name", "same-cluster-twice",
		"--kafka-clusters", jsonArg(t, []any{kafkaClusters[0], kafkaClusters[0]}),
		"--replication-info-list", jsonArg(t, info),
		"--service-execution-role-arn", roleARN)
	if !strings.Contains(r.stderr, "kafkaClusters") {
		t.Errorf("error does not name kafkaClusters:\n%s", r)
	}

	// ---- delete-replicator ----
	del := aws.ok("kafka", "delete-replicator", "--replicator-arn", repARN, "--current-version", newVersion)
	del.eq(t, "ReplicatorArn", repARN)
	del.eq(t, "ReplicatorState", "DELETING")
	servertest.Eventually(t, 20*time.Second, "deleted replicator to disappear", func() bool {
		r := aws.run("kafka", "describe-replicator", "--replicator-arn", repARN)
		if r.code == 0 {
			return false
		}
		if r.code != 255 || !strings.Contains(r.stderr, "(NotFoundException)") {
			t.Fatalf("describe of a deleted replicator:\n%s", r)
		}
		return true
	})
	if n := len(aws.ok("kafka", "list-replicators").items(t, "Replicators")); n != 0 {
		t.Errorf("list-replicators after delete lists %d replicators", n)
	}
}
