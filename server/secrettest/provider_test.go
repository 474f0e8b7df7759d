package secrettest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/workers/agent"
)

// TestConnectorConfigProviders: a MirrorSourceConnector whose target SCRAM password is
// ${secretsmanager:…} (moto's Secrets Manager, resolved by the server), whose username is
// ${file:…} and whose source bootstrap servers are ${env:…} (both resolved by the worker
// process), all declared in its worker configuration, replicates; the password then appears in
// no API response, no log line of the server, agent or workers, no workload event, no Postgres
// row and no worker command line. References to undeclared providers are refused at creation;
// a missing secret and a missing file fail the connector with SECRET_UNAVAILABLE naming the
// reference.
func TestConnectorConfigProviders(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "moto")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "moto")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	moto := startMoto(t)

	const password = "Pr0vider-S3cret-7Zq"
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("eu-west-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("moto", "moto", "")))
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(moto) })
	secret, _ := json.Marshal(map[string]string{"username": "ignored", "password": password})
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("onprem-target"), SecretString: aws.String(string(secret))}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	userFile := filepath.Join(dir, "user.properties")
	if err := os.WriteFile(userFile, []byte("username=dst-connector\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Clusters: a plaintext source with records, a SCRAM target.
	srcBoot := newCluster(t)
	dstBoot := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "dst-connector", password))
	const n = 200
	if _, err := kadm.NewClient(client(t, srcBoot)).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	prod := client(t, srcBoot, kgo.DefaultProduceTopic("orders"))
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// Server, agent and worker processes, every log captured at debug level.
	serverLogs, agentLogs, workerLogs := &syncBuffer{}, &syncBuffer{}, &syncBuffer{}
	env := servertest.Start(t, servertest.Options{SecretsEndpoint: moto, Log: serverLogs})
	runAgent(ctx, t, agent.Config{ServerAddr: env.GRPCAddr, Token: servertest.AgentToken, CAFingerprint: env.CAFingerprint, AgentID: "provider-agent", MCU: 4,
		WorkerCommand: []string{os.Args[0]},
		WorkerEnv:     []string{envWorker + "=1", envWorkerDebug + "=1", "PROVIDERTEST_SOURCE_BOOTSTRAP=" + srcBoot},
		Stderr:        workerLogs, MetricsInterval: 200 * time.Millisecond, DrainTimeout: 10 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(agentLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	kc := env.KafkaConnect()
	bucket := env.PutPluginZip(t, "plugins", "mm2.zip")
	plugin, err := kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String("mm2"), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{BucketArn: aws.String(bucket), FileKey: aws.String("mm2.zip")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "plugin ACTIVE", func() bool {
		d, err := kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: plugin.CustomPluginArn})
		return err == nil && d.CustomPluginState == kctypes.CustomPluginStateActive
	})
	props := strings.Join([]string{
		"config.providers=secretsmanager,file,env",
		"config.providers.secretsmanager.class=com.amazonaws.kafka.config.providers.SecretsManagerConfigProvider",
		"config.providers.secretsmanager.param.region=eu-west-1",
		"config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider",
		"config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
	}, "\n")
	wc, err := kc.CreateWorkerConfiguration(ctx, &kafkaconnect.CreateWorkerConfigurationInput{
		Name: aws.String("providers"), PropertiesFileContent: aws.String(base64.StdEncoding.EncodeToString([]byte(props)))})
	if err != nil {
		t.Fatal(err)
	}
	jaas := func(passwordRef string) string {
		return `org.apache.kafka.common.security.scram.ScramLoginModule required username="${file:` + userFile + `:username}" password="` + passwordRef + `";`
	}
	config := func(passwordRef string) map[string]string {
		return map[string]string{
			"connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector", "tasks.max": "1",
			"source.cluster.alias": "src", "target.cluster.alias": "dst",
			"source.cluster.bootstrap.servers": "${env:PROVIDERTEST_SOURCE_BOOTSTRAP}",
			"target.cluster.bootstrap.servers": dstBoot,
			"target.cluster.security.protocol": "SASL_PLAINTEXT",
			"target.cluster.sasl.mechanism":    "SCRAM-SHA-512",
			"target.cluster.sasl.jaas.config":  jaas(passwordRef),
			"topics":                           "orders",
			"sync.topic.acls.enabled":          "false",
		}
	}
	create := func(name string, conf map[string]string) (string, error) {
		out, err := kc.CreateConnector(ctx, &kafkaconnect.CreateConnectorInput{
			ConnectorName: aws.String(name), KafkaConnectVersion: aws.String("3.7.x"),
			Capacity:               &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
			ConnectorConfiguration: conf,
			KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
				BootstrapServers: aws.String(dstBoot), Vpc: &kctypes.Vpc{Subnets: []string{"local"}}}},
			KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
			KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
			Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: plugin.CustomPluginArn, Revision: 1}}},
			WorkerConfiguration:              &kctypes.WorkerConfiguration{WorkerConfigurationArn: wc.WorkerConfigurationArn, Revision: 1},
			ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/fjord"),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ConnectorArn), nil
	}

	// A reference to a provider the worker configuration does not declare is refused, naming
	// the key and the provider.
	if _, err := create("undeclared", config("${vault:secret/kafka:password}")); err == nil ||
		!strings.Contains(err.Error(), "target.cluster.sasl.jaas.config") || !strings.Contains(err.Error(), `"vault"`) {
		t.Fatalf("undeclared provider: want a BadRequest naming the key and the provider, got %v", err)
	}

	arn, err := create("mirror", config("${secretsmanager:onprem-target:password}"))
	if err != nil {
		t.Fatal(err)
	}

	// Records arrive on the target, under the source alias.
	dst := client(t, dstBoot, kgo.SASL(scram.Auth{User: "dst-connector", Pass: password}.AsSha512Mechanism()),
		kgo.ConsumeTopics("src.orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]string{}
	deadline := time.Now().Add(90 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records arrived on the target; worker logs:\n%s", len(got), n, workerLogs.String())
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		dst.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[string(r.Key)] = string(r.Value) })
		cancel()
	}
	for i := range n {
		if got[fmt.Sprintf("k%d", i)] != fmt.Sprintf("v%d", i) {
			t.Fatalf("record k%d has value %q", i, got[fmt.Sprintf("k%d", i)])
		}
	}
	servertest.Eventually(t, 30*time.Second, "connector RUNNING", func() bool {
		d, err := kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
		return err == nil && d.ConnectorState == kctypes.ConnectorStateRunning
	})

	// No worker process has the password on its command line.
	workers := 0
	for _, pid := range childPIDs(t) {
		cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue // exited meanwhile
		}
		workers++
		if strings.Contains(string(cmdline), password) {
			t.Errorf("worker process %d has the password on its command line", pid)
		}
	}
	if workers == 0 {
		t.Fatal("found no worker process to check")
	}

	// The API shows the configuration as given, references and all.
	d, err := kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.ConnectorConfiguration["target.cluster.sasl.jaas.config"]; got != jaas("${secretsmanager:onprem-target:password}") {
		t.Errorf("DescribeConnector shows sasl.jaas.config as %q, not as given", got)
	}
	var responses []any
	responses = append(responses, d)
	list, err := kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})
	if err != nil {
		t.Fatal(err)
	}
	responses = append(responses, list)

	// An update is checked against the worker configuration too; a good one is an operation
	// whose configurations are masked.
	bad := config("${nowhere:x}")
	if _, err := kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d.CurrentVersion,
		ConnectorConfiguration: bad}); err == nil || !strings.Contains(err.Error(), `"nowhere"`) {
		t.Fatalf("update with an undeclared provider: %v", err)
	}
	next := config("${secretsmanager:onprem-target:password}")
	next["sync.topic.configs.enabled"] = "false"
	up, err := kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn), CurrentVersion: d.CurrentVersion,
		ConnectorConfiguration: next})
	if err != nil {
		t.Fatal(err)
	}
	var op *kafkaconnect.DescribeConnectorOperationOutput
	servertest.Eventually(t, 60*time.Second, "update complete", func() bool {
		op, err = kc.DescribeConnectorOperation(ctx, &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: up.ConnectorOperationArn})
		return err == nil && op.ConnectorOperationState == kctypes.ConnectorOperationStateUpdateComplete
	})
	if op.TargetConnectorConfiguration["target.cluster.sasl.jaas.config"] != "<redacted>" {
		t.Errorf("the operation's target configuration is not masked: %v", op.TargetConnectorConfiguration)
	}
	ops, err := kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	responses = append(responses, op, ops)

	// A missing secret fails its connector before it is placed; a missing file fails it on its
	// worker. Both name the reference.
	noSecret, err := create("no-secret", config("${secretsmanager:onprem-nowhere:password}"))
	if err != nil {
		t.Fatal(err)
	}
	noFile := config("${secretsmanager:onprem-target:password}")
	noFile["target.cluster.sasl.jaas.config"] = strings.Replace(noFile["target.cluster.sasl.jaas.config"], userFile, filepath.Join(dir, "none.properties"), 1)
	noFileARN, err := create("no-file", noFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ arn, ref string }{
		{noSecret, "${secretsmanager:onprem-nowhere:password}"},
		{noFileARN, "${file:" + filepath.Join(dir, "none.properties") + ":username}"},
	} {
		var failed *kafkaconnect.DescribeConnectorOutput
		servertest.Eventually(t, 60*time.Second, "connector FAILED naming "+c.ref, func() bool {
			failed, err = kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(c.arn)})
			return err == nil && failed.ConnectorState == kctypes.ConnectorStateFailed && failed.StateDescription != nil
		})
		code, msg := aws.ToString(failed.StateDescription.Code), aws.ToString(failed.StateDescription.Message)
		if code != "SECRET_UNAVAILABLE" || !strings.Contains(msg, c.ref) || !strings.Contains(msg, "target.cluster.sasl.jaas.config") {
			t.Errorf("%s: state %s: %s; want SECRET_UNAVAILABLE naming the key and %s", c.arn, code, msg, c.ref)
		}
		t.Logf("%s: %s", code, msg)
		responses = append(responses, failed)
	}

	// The password is in no response, log line, event or row.
	for _, r := range responses {
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), password) {
			t.Errorf("an API response holds the password: %T", r)
		}
	}
	for name, logs := range map[string]*syncBuffer{"server": serverLogs, "agent": agentLogs, "worker": workerLogs} {
		if logs.String() == "" {
			t.Errorf("no %s log lines were captured", name)
		}
		if strings.Contains(logs.String(), password) {
			t.Errorf("a %s log line holds the password", name)
		}
	}
	for _, a := range []string{arn, noSecret, noFileARN} {
		events, err := env.Store.WorkloadEvents(ctx, a, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			t.Errorf("no events for %s", a)
		}
		for _, e := range events {
			if strings.Contains(fmt.Sprint(e), password) {
				t.Errorf("an event of %s holds the password: %+v", a, e)
			}
		}
	}
	rows, err := env.Store.Pool().Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, table := range tables {
		var count int
		q := fmt.Sprintf(`SELECT count(*) FROM %q r WHERE r::text LIKE '%%' || $1 || '%%'`, table)
		if err := env.Store.Pool().QueryRow(ctx, q, password).Scan(&count); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if count != 0 {
			t.Errorf("table %s holds the password in %d rows", table, count)
		}
	}
}

// childPIDs lists the processes whose parent is this test process (the agent's workers).
func childPIDs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so read after its ')'.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) {
			out = append(out, pid)
		}
	}
	return out
}
