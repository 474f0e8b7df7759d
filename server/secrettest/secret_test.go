// Package secrettest checks replicators whose clusters use SASL/SCRAM and TLS end to end: a
// real server (Postgres), moto_server as Secrets Manager (written with the aws-sdk-go-v2
// client), a real agent running real `worker` processes (this test binary, re-executed), and
// kfake clusters with SCRAM users and TLS certificates of a CA generated here. Records must
// arrive on the target, and a replicator whose secret is missing must be FAILED with a state
// message naming it.
package secrettest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/fjord-io/fjord/server/motoserver"
	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store/pgtest"
	"github.com/fjord-io/fjord/workers/agent"
	"github.com/fjord-io/fjord/workers/runtime"
	"github.com/fjord-io/fjord/workers/tasks"
)

// envWorker makes this test binary a `fjord worker` (the agent's child processes).
const envWorker = "FJORD_SECRETTEST_WORKER"

// envWorkerDebug = 1 makes such a worker log at debug level.
const envWorkerDebug = "FJORD_SECRETTEST_WORKER_DEBUG"

func TestMain(m *testing.M) {
	if os.Getenv(envWorker) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		level := slog.LevelWarn
		if os.Getenv(envWorkerDebug) == "1" {
			level = slog.LevelDebug
		}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		os.Exit(runtime.Main(ctx, tasks.Registry(), os.Stdin, os.Stdout, log))
	}
	pgtest.Main(m)
}

func startMoto(t *testing.T) string { return motoserver.Start(t) }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newCA returns a self-signed CA (PEM) and a broker certificate for 127.0.0.1 it signed.
func newCA(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fjord test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
}

func newCluster(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

func client(t *testing.T, bootstrap string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(bootstrap, ",")...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestReplicatorWithScramAndTLS: source SASL_SSL (SCRAM-SHA-512 + TLS with a private CA),
// target SASL_PLAINTEXT (SCRAM-SHA-256); credentials in moto's Secrets Manager.
func TestReplicatorWithScramAndTLS(t *testing.T) {
	// The server's Secrets Manager client takes the SDK's default credentials and no IMDS.
	t.Setenv("AWS_ACCESS_KEY_ID", "moto")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "moto")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	moto := startMoto(t)

	// Secrets, written with the real SDK.
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("eu-west-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("moto", "moto", "")))
	if err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(moto) })
	secret := func(name, user, pass string) string {
		b, _ := json.Marshal(map[string]string{"username": user, "password": pass})
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
		if err != nil {
			t.Fatalf("create secret %s: %v", name, err)
		}
		return aws.ToString(out.ARN)
	}
	const srcPass, dstPass = `s3cr3t "quoted" \ pass`, "target-Pa55"
	srcSecret := secret("AmazonMSK_onprem_source", "src-replicator", srcPass)
	dstSecret := secret("AmazonMSK_onprem_target", "dst-replicator", dstPass)

	// Clusters.
	caPEM, cert := newCA(t)
	srcBoot := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "src-replicator", srcPass),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	dstBoot := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "dst-replicator", dstPass))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(caPEM))
	srcOpts := []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: "src-replicator", Pass: srcPass}.AsSha512Mechanism())}
	dstOpts := []kgo.Opt{kgo.SASL(scram.Auth{User: "dst-replicator", Pass: dstPass}.AsSha256Mechanism())}

	const n = 500
	if _, err := kadm.NewClient(client(t, srcBoot, srcOpts...)).CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	prod := client(t, srcBoot, append(srcOpts, kgo.DefaultProduceTopic("orders"))...)
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// Server, agent and worker processes.
	env := servertest.Start(t, servertest.Options{SecretsEndpoint: moto})
	workerLogs := &syncBuffer{}
	runAgent(ctx, t, agent.Config{ServerAddr: env.GRPCAddr, Token: servertest.AgentToken, CAFingerprint: env.CAFingerprint, AgentID: "secure-agent", MCU: 4,
		WorkerCommand: []string{os.Args[0]}, WorkerEnv: []string{envWorker + "=1"}, Stderr: workerLogs,
		MetricsInterval: 200 * time.Millisecond, DrainTimeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(workerLogs, &slog.HandlerOptions{Level: slog.LevelWarn}))})

	k := env.Kafka()
	cluster := func(id, boot, secretARN string, mech ktypes.KafkaClusterSaslScramMechanism, ca string) ktypes.KafkaCluster {
		c := ktypes.KafkaCluster{
			ApacheKafkaCluster: &ktypes.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String(id), BootstrapBrokerString: aws.String(boot)},
			ClientAuthentication: &ktypes.KafkaClusterClientAuthentication{SaslScram: &ktypes.KafkaClusterSaslScramAuthentication{
				Mechanism: mech, SecretArn: aws.String(secretARN)}},
		}
		if ca != "" {
			c.EncryptionInTransit = &ktypes.KafkaClusterEncryptionInTransit{EncryptionType: ktypes.KafkaClusterEncryptionInTransitTypeTls,
				RootCaCertificate: aws.String(ca)}
		}
		return c
	}
	create := func(name, srcSecretARN string) *string {
		out, err := k.CreateReplicator(ctx, &kafka.CreateReplicatorInput{
			ReplicatorName:          aws.String(name),
			ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord"),
			KafkaClusters: []ktypes.KafkaCluster{
				cluster("onprem-src", srcBoot, srcSecretARN, ktypes.KafkaClusterSaslScramMechanismSha512, caPEM),
				cluster("onprem-dst", dstBoot, dstSecret, ktypes.KafkaClusterSaslScramMechanismSha256, ""),
			},
			ReplicationInfoList: []ktypes.ReplicationInfo{{
				SourceKafkaClusterId: aws.String("onprem-src"), TargetKafkaClusterId: aws.String("onprem-dst"),
				TargetCompressionType: ktypes.TargetCompressionTypeNone,
				TopicReplication: &ktypes.TopicReplication{TopicsToReplicate: []string{"orders"},
					StartingPosition: &ktypes.ReplicationStartingPosition{Type: ktypes.ReplicationStartingPositionTypeEarliest}},
				ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
			}},
		})
		if err != nil {
			t.Fatalf("CreateReplicator %s: %v", name, err)
		}
		return out.ReplicatorArn
	}

	arn := create("secure", srcSecret)
	d, err := k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	src := d.KafkaClusters[0]
	if src.ClientAuthentication == nil || src.ClientAuthentication.SaslScram.Mechanism != ktypes.KafkaClusterSaslScramMechanismSha512 ||
		aws.ToString(src.ClientAuthentication.SaslScram.SecretArn) != srcSecret || src.EncryptionInTransit == nil ||
		aws.ToString(src.EncryptionInTransit.RootCaCertificate) != caPEM {
		t.Fatalf("DescribeReplicator does not return the cluster's security: %+v", src)
	}

	// Records arrive on the target, under the source alias.
	dst := client(t, dstBoot, append(dstOpts, kgo.ConsumeTopics("onprem-src.orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
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
	servertest.Eventually(t, 30*time.Second, "replicator RUNNING", func() bool {
		d, err := k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: arn})
		return err == nil && d.ReplicatorState == ktypes.ReplicatorStateRunning
	})

	// The password is in no Postgres row: task configurations are built when sent.
	var rows int
	if err := env.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM (SELECT * FROM replicators) r WHERE r::text LIKE '%'||$1||'%'`, "target-Pa55").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Error("a replicator row holds the SCRAM password")
	}
	if strings.Contains(workerLogs.String(), "target-Pa55") {
		t.Error("a worker logged the SCRAM password")
	}

	// A replicator whose secret does not exist is FAILED, and says which secret.
	missing := strings.Replace(srcSecret, "AmazonMSK_onprem_source", "AmazonMSK_nowhere", 1)
	bad := create("no-secret", missing)
	var msg string
	servertest.Eventually(t, 30*time.Second, "replicator without its secret FAILED", func() bool {
		d, err := k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: bad})
		if err != nil || d.ReplicatorState != ktypes.ReplicatorStateFailed || d.StateInfo == nil {
			return false
		}
		msg = aws.ToString(d.StateInfo.Code) + ": " + aws.ToString(d.StateInfo.Message)
		return true
	})
	if !strings.Contains(msg, missing) || !strings.Contains(msg, "SECRET_UNAVAILABLE") {
		t.Fatalf("state of the replicator without its secret does not name the secret: %s", msg)
	}
	t.Log(msg)

	// A secretArn that is not a Secrets Manager ARN is refused at creation.
	_, err = k.CreateReplicator(ctx, &kafka.CreateReplicatorInput{
		ReplicatorName: aws.String("bad-arn"), ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord"),
		KafkaClusters: []ktypes.KafkaCluster{
			cluster("a", srcBoot, "arn:aws:s3:::bucket", ktypes.KafkaClusterSaslScramMechanismSha512, ""),
			cluster("b", dstBoot, dstSecret, ktypes.KafkaClusterSaslScramMechanismSha256, ""),
		},
		ReplicationInfoList: []ktypes.ReplicationInfo{{SourceKafkaClusterId: aws.String("a"), TargetKafkaClusterId: aws.String("b"),
			TargetCompressionType:    ktypes.TargetCompressionTypeNone,
			TopicReplication:         &ktypes.TopicReplication{TopicsToReplicate: []string{".*"}},
			ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}}}},
	})
	if err == nil || !strings.Contains(err.Error(), "secretArn") {
		t.Fatalf("a non-Secrets-Manager secretArn: want a BadRequest naming secretArn, got %v", err)
	}
}

// TestLocalSecretsDir: with --secrets-dir (fjord dev), the secret is <dir>/<name>.json, found
// with or without the ARN's random suffix; a malformed file fails the replicator by name.
func TestLocalSecretsDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "AmazonMSK_dev.json"), []byte(`{"username":"dev","password":"dev-pass"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"username":"dev"`), 0o600); err != nil {
		t.Fatal(err)
	}
	dstBoot := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "dev", "dev-pass"))
	srcBoot := newCluster(t)
	env := servertest.Start(t, servertest.Options{SecretsDir: dir})
	k := env.Kafka()
	create := func(name, secretARN string) *string {
		out, err := k.CreateReplicator(ctx, &kafka.CreateReplicatorInput{
			ReplicatorName: aws.String(name), ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord"),
			KafkaClusters: []ktypes.KafkaCluster{
				{ApacheKafkaCluster: &ktypes.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("plain"), BootstrapBrokerString: aws.String(srcBoot)}},
				{ApacheKafkaCluster: &ktypes.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("scram"), BootstrapBrokerString: aws.String(dstBoot)},
					ClientAuthentication: &ktypes.KafkaClusterClientAuthentication{SaslScram: &ktypes.KafkaClusterSaslScramAuthentication{
						Mechanism: ktypes.KafkaClusterSaslScramMechanismSha512, SecretArn: aws.String(secretARN)}}},
			},
			ReplicationInfoList: []ktypes.ReplicationInfo{{SourceKafkaClusterId: aws.String("plain"), TargetKafkaClusterId: aws.String("scram"),
				TargetCompressionType:    ktypes.TargetCompressionTypeNone,
				TopicReplication:         &ktypes.TopicReplication{TopicsToReplicate: []string{".*"}},
				ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.ReplicatorArn
	}
	good := create("dev", "arn:aws:secretsmanager:us-east-1:000000000000:secret:AmazonMSK_dev-Ab12Cd")
	bad := create("broken", "arn:aws:secretsmanager:us-east-1:000000000000:secret:broken")

	// The good one's task configuration carries working credentials: its MirrorHeartbeat task,
	// built from that configuration, writes heartbeats to the SCRAM target.
	a, err := agent.New(agent.Config{ServerAddr: env.GRPCAddr, Token: servertest.AgentToken, CAFingerprint: env.CAFingerprint, AgentID: "dev-agent", MCU: 4,
		WorkerCommand: []string{os.Args[0]}, WorkerEnv: []string{envWorker + "=1"}, Stderr: &syncBuffer{},
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		_ = a.Run(actx)
	}()
	t.Cleanup(func() {
		stopAgent()
		<-agentDone
	})
	adm := kadm.NewClient(client(t, dstBoot, kgo.SASL(scram.Auth{User: "dev", Pass: "dev-pass"}.AsSha512Mechanism())))
	servertest.Eventually(t, 60*time.Second, "heartbeats on the SCRAM target", func() bool {
		ends, err := adm.ListEndOffsets(ctx, "heartbeats")
		if err != nil {
			return false
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		return sum > 0
	})
	servertest.Eventually(t, 30*time.Second, "replicator dev RUNNING", func() bool {
		d, err := k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: good})
		return err == nil && d.ReplicatorState == ktypes.ReplicatorStateRunning
	})
	servertest.Eventually(t, 30*time.Second, "replicator broken FAILED naming its secret", func() bool {
		d, err := k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: bad})
		return err == nil && d.ReplicatorState == ktypes.ReplicatorStateFailed && d.StateInfo != nil &&
			strings.Contains(aws.ToString(d.StateInfo.Message), "secret:broken") &&
			strings.Contains(aws.ToString(d.StateInfo.Message), "broken.json")
	})
}

// runAgent runs an in-process agent (its workers are processes of this test binary) until the
// test ends.
func runAgent(ctx context.Context, t *testing.T, cfg agent.Config) {
	t.Helper()
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(actx)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
}
