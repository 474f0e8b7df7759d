package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	saws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/fjord-io/fjord/server/kafkaiam"
)

// TestDevKafkaIAM: `fjord dev --kafka-auth iam` serves both clusters over TLS with SASL
// AWS_MSK_IAM only, registered as MSK publishes them (GetBootstrapBrokers:
// BootstrapBrokerStringSaslIam). A client signing with Fjord's credentials is served; a wrong
// secret, an expired signature, SCRAM, and kcat with SASL PLAIN are refused. A replicator
// between the registered clusters, and a MirrorSourceConnector configured as AWS's
// MirrorMaker-on-MSK-Connect guide (AWS_MSK_IAM for both clusters, kafkaClusterClientAuthentication
// IAM), copy a topic: their workers sign with their service execution roles, assumed through
// the development STS.
func TestDevKafkaIAM(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1") // franz-go's signing region for 127.0.0.1 brokers
	bin := buildFjord(t)
	dataDir := filepath.Join(reachableTempDir(t), "dev-iam")
	d := startDev(t, bin, dataDir, "--kafka-auth", "iam", "--sts-addr", freeAddr(t))
	caPath := filepath.Join(dataDir, "kafka-ca.pem")
	for _, want := range []string{"AWS_MSK_IAM over TLS only", "CA certificate   " + caPath, "sasl.mechanism=AWS_MSK_IAM",
		"sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;", "ssl.truststore.location=" + caPath} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, d.stdout)
		}
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("kafka-ca.pem holds no certificate")
	}
	ctx := t.Context()
	api := newAPIClients(t, d.http)
	clusters := d.clusters(t)
	b, err := api.k.GetBootstrapBrokers(ctx, &kafka.GetBootstrapBrokersInput{ClusterArn: aws.String(clusters["source"])})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(b.BootstrapBrokerStringSaslIam) != d.source || b.BootstrapBrokerString != nil {
		t.Fatalf("bootstrap brokers of source: IAM %q, plaintext %q", aws.ToString(b.BootstrapBrokerStringSaslIam), aws.ToString(b.BootstrapBrokerString))
	}

	client := func(addr string, mech sasl.Mechanism, opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
			kgo.SASL(mech), kgo.RetryTimeout(5 * time.Second)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	good := saws.Auth{AccessKey: "test", SecretKey: "test"}.AsManagedStreamingIAMMechanism()
	ping := func(cl *kgo.Client) error {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return cl.Ping(pctx)
	}
	if err := ping(client(d.source, good)); err != nil {
		t.Fatalf("a client signing with Fjord's credentials: %v", err)
	}
	for name, c := range map[string]struct {
		mech sasl.Mechanism
		want error
	}{
		"wrong secret":      {saws.Auth{AccessKey: "test", SecretKey: "wrong"}.AsManagedStreamingIAMMechanism(), kerr.SaslAuthenticationFailed},
		"expired signature": {expiredIAM{"test", "test"}, kerr.SaslAuthenticationFailed},
		"SCRAM":             {scram.Auth{User: "test", Pass: "test"}.AsSha512Mechanism(), kerr.UnsupportedSaslMechanism},
	} {
		if err := ping(client(d.source, c.mech)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	out, err := exec.CommandContext(kctx, "kcat", "-b", d.source, "-L", "-m", "5", "-X", "security.protocol=SASL_SSL",
		"-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=test", "-X", "sasl.password=test", "-X", "ssl.ca.location="+caPath).CombinedOutput()
	cancel()
	if err == nil || strings.Contains(string(out), "topic") {
		t.Errorf("kcat with SASL PLAIN was served:\n%s", out)
	}

	// Records to copy.
	src := client(d.source, good, kgo.DefaultProduceTopic("orders"))
	if _, err := kadm.NewClient(src).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		src.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v")}, nil)
	}
	if err := src.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	tgtAdm := kadm.NewClient(client(d.target, good))
	endOf := func(topic string) int64 {
		ends, err := tgtAdm.ListEndOffsets(ctx, topic)
		if err != nil {
			return -1
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				sum += o.Offset
			}
		})
		return sum
	}

	// A replicator between the registered clusters: IAM, as MSK Replicator.
	rep, err := api.k.CreateReplicator(ctx, &kafka.CreateReplicatorInput{
		ReplicatorName: aws.String("iam-replicator"),
		KafkaClusters: []ktypes.KafkaCluster{
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(clusters["source"])},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}}},
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(clusters["target"])},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-2"}}},
		},
		ReplicationInfoList: []ktypes.ReplicationInfo{{
			SourceKafkaClusterArn: aws.String(clusters["source"]), TargetKafkaClusterArn: aws.String(clusters["target"]),
			TargetCompressionType: ktypes.TargetCompressionTypeNone,
			TopicReplication: &ktypes.TopicReplication{TopicsToReplicate: []string{"orders"},
				StartingPosition: &ktypes.ReplicationStartingPosition{Type: ktypes.ReplicationStartingPositionTypeEarliest}},
			ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
		}},
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/replicator"),
	})
	if err != nil {
		t.Fatalf("CreateReplicator: %v", err)
	}
	poll(t, 2*time.Minute, fmt.Sprintf("%d records in source.orders on the target (replicator %s)", n, aws.ToString(rep.ReplicatorArn)), func() bool {
		return endOf("source.orders") >= n // with the transactions' commit markers
	})

	// A MirrorSourceConnector as AWS's MirrorMaker-on-MSK-Connect guide configures it.
	if err := os.MkdirAll(filepath.Join(dataDir, "s3", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "s3", "plugins", "mm2.zip"), pluginZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, err := api.kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{Name: aws.String("mm2"), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{BucketArn: aws.String("arn:aws:s3:::plugins"), FileKey: aws.String("mm2.zip")}}})
	if err != nil {
		t.Fatalf("CreateCustomPlugin: %v", err)
	}
	poll(t, time.Minute, "the custom plugin to become ACTIVE", func() bool {
		p, err := api.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: cp.CustomPluginArn})
		return err == nil && p.CustomPluginState == kctypes.CustomPluginStateActive
	})
	conf := map[string]string{
		"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
		"tasks.max":                        "1",
		"topics":                           "orders",
		"source.cluster.alias":             "guide",
		"target.cluster.alias":             "target",
		"source.cluster.bootstrap.servers": d.source,
		"target.cluster.bootstrap.servers": d.target,
		"replication.factor":               "1",
	}
	for _, p := range []string{"source.cluster.", "target.cluster."} {
		conf[p+"security.protocol"] = "SASL_SSL"
		conf[p+"sasl.mechanism"] = "AWS_MSK_IAM"
		conf[p+"sasl.jaas.config"] = "software.amazon.msk.auth.iam.IAMLoginModule required;"
		conf[p+"sasl.client.callback.handler.class"] = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
		conf[p+"ssl.truststore.location"] = caPath
	}
	conn, err := api.kc.CreateConnector(ctx, &kafkaconnect.CreateConnectorInput{
		ConnectorName:          aws.String("mm2-iam"),
		Capacity:               &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		ConnectorConfiguration: conf,
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{BootstrapServers: aws.String(d.target),
			Vpc: &kctypes.Vpc{Subnets: []string{"subnet-1"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeIam},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypeTls},
		KafkaConnectVersion:              aws.String("3.7.x"),
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: cp.CustomPluginArn, Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/mm2-connector"),
	})
	if err != nil {
		t.Fatalf("CreateConnector: %v", err)
	}
	poll(t, 2*time.Minute, fmt.Sprintf("%d records in guide.orders on the target (connector %s)", n, aws.ToString(conn.ConnectorArn)), func() bool {
		if dc, err := api.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: conn.ConnectorArn}); err == nil && dc.ConnectorState == kctypes.ConnectorStateFailed {
			t.Fatalf("connector FAILED: %s", aws.ToString(dc.StateDescription.Message))
		}
		return endOf("guide.orders") >= n
	})

	// The guide's other two connectors, over IAM as well: heartbeats reach the target, and the
	// checkpoint connector runs without failing.
	others := map[string]*string{}
	for _, class := range []string{"MirrorCheckpointConnector", "MirrorHeartbeatConnector"} {
		c := map[string]string{}
		for k, v := range conf {
			c[k] = v
		}
		c["connector.class"] = "org.apache.kafka.connect.mirror." + class
		c["emit.heartbeats.interval.seconds"], c["emit.checkpoints.interval.seconds"] = "1", "1"
		out, err := api.kc.CreateConnector(ctx, &kafkaconnect.CreateConnectorInput{
			ConnectorName:          aws.String(strings.ToLower(strings.TrimSuffix(class, "Connector")) + "-iam"),
			Capacity:               &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
			ConnectorConfiguration: c,
			KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{BootstrapServers: aws.String(d.target),
				Vpc: &kctypes.Vpc{Subnets: []string{"subnet-1"}}}},
			KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeIam},
			KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypeTls},
			KafkaConnectVersion:              aws.String("3.7.x"),
			Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: cp.CustomPluginArn, Revision: 1}}},
			ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/mm2-connector"),
		})
		if err != nil {
			t.Fatalf("CreateConnector %s: %v", class, err)
		}
		others[class] = out.ConnectorArn
	}
	notFailed := func() {
		for class, arn := range others {
			if dc, err := api.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: arn}); err == nil && dc.ConnectorState == kctypes.ConnectorStateFailed {
				t.Fatalf("%s FAILED: %s", class, aws.ToString(dc.StateDescription.Message))
			}
		}
	}
	poll(t, 2*time.Minute, "heartbeats on the target over IAM", func() bool {
		notFailed()
		return endOf("heartbeats") > 0
	})
	poll(t, time.Minute, "the checkpoint connector RUNNING over IAM", func() bool {
		notFailed()
		dc, err := api.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: others["MirrorCheckpointConnector"]})
		return err == nil && dc.ConnectorState == kctypes.ConnectorStateRunning
	})
	for class, arn := range others { // their MCUs are needed below
		if _, err := api.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: arn}); err != nil {
			t.Fatalf("DeleteConnector %s: %v", class, err)
		}
	}

	// A connector whose role STS will not let Fjord assume (another account's) fails, naming it.
	const foreign = "arn:aws:iam::111122223333:role/not-ours"
	conf["source.cluster.alias"] = "foreign"
	bad, err := api.kc.CreateConnector(ctx, &kafkaconnect.CreateConnectorInput{
		ConnectorName:          aws.String("mm2-foreign-role"),
		Capacity:               &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		ConnectorConfiguration: conf,
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{BootstrapServers: aws.String(d.target),
			Vpc: &kctypes.Vpc{Subnets: []string{"subnet-1"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeIam},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypeTls},
		KafkaConnectVersion:              aws.String("3.7.x"),
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: cp.CustomPluginArn, Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String(foreign),
	})
	if err != nil {
		t.Fatalf("CreateConnector: %v", err)
	}
	poll(t, 2*time.Minute, "the connector with another account's role FAILED naming it", func() bool {
		dc, err := api.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: bad.ConnectorArn})
		return err == nil && dc.ConnectorState == kctypes.ConnectorStateFailed && dc.StateDescription != nil &&
			strings.Contains(aws.ToString(dc.StateDescription.Message), foreign)
	})
	if endOf("foreign.orders") > 0 {
		t.Error("the connector without its role copied records")
	}
	d.sigterm(t)
}

// expiredIAM signs an AWS_MSK_IAM payload dated 20 minutes ago with a 5-minute expiry, as a
// client replaying an old payload would send it.
type expiredIAM struct{ ak, secret string }

func (expiredIAM) Name() string { return "AWS_MSK_IAM" }

func (e expiredIAM) Authenticate(_ context.Context, host string) (sasl.Session, []byte, error) {
	h := strings.Split(host, ":")[0]
	date := time.Now().Add(-20 * time.Minute).UTC().Format("20060102T150405Z")
	cred := e.ak + "/" + date[:8] + "/us-east-1/kafka-cluster/aws4_request"
	q := "Action=kafka-cluster%3AConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + strings.ReplaceAll(cred, "/", "%2F") +
		"&X-Amz-Date=" + date + "&X-Amz-Expires=300&X-Amz-SignedHeaders=host"
	payload, err := json.Marshal(map[string]string{"version": "2020_10_22", "host": h, "user-agent": "test", "action": "kafka-cluster:Connect",
		"x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": cred, "x-amz-date": date, "x-amz-signedheaders": "host",
		"x-amz-expires": "300", "x-amz-signature": kafkaiam.Sign(e.secret, "us-east-1", date, h, q)})
	return expiredSession{}, payload, err
}

type expiredSession struct{}

func (expiredSession) Challenge([]byte) (bool, []byte, error) { return true, nil, nil }
