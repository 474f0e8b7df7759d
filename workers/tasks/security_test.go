package tasks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"go.uber.org/goleak"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/store/pgtest"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, pgtest.IgnoreInitDaemons) }

// testCA is a self-signed CA and a broker certificate for 127.0.0.1 that it signed.
type testCA struct {
	pem    string // the CA certificate, PEM
	server tls.Certificate
}

func newCA(t *testing.T) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fjord test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{
		pem:    string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		server: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key},
	}
}

// cluster is a kfake cluster and the franz-go options of a test client allowed in.
type cluster struct {
	addrs []string
	opts  []kgo.Opt
}

func newCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func (c cluster) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{kgo.SeedBrokers(c.addrs...)}, c.opts...)
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// secureClusters starts a source with SASL/SCRAM-SHA-512 over TLS and a target with TLS only,
// both with certificates of ca.
func secureClusters(t *testing.T, ca testCA) (src, tgt cluster) {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(ca.pem))
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}
	clientTLS := kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	src = cluster{
		addrs: newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "replicator", "s3cr3t-Pa55"), kfake.TLS(serverTLS)),
		opts:  []kgo.Opt{clientTLS, kgo.SASL(scram.Auth{User: "replicator", Pass: "s3cr3t-Pa55"}.AsSha512Mechanism())},
	}
	tgt = cluster{addrs: newCluster(t, kfake.TLS(serverTLS.Clone())), opts: []kgo.Opt{clientTLS}}
	return src, tgt
}

// securityConfig is an MM2 configuration for the clusters of secureClusters: the source's keys
// under source.cluster., the target's as unprefixed keys (which apply to both clusters, and
// which the source.cluster. keys override).
func securityConfig(src, tgt cluster, ca testCA, password string) map[string]string {
	return map[string]string{
		"source.cluster.alias":                  "src",
		"target.cluster.alias":                  "dst",
		"source.cluster.bootstrap.servers":      strings.Join(src.addrs, ","),
		"target.cluster.bootstrap.servers":      strings.Join(tgt.addrs, ","),
		"source.cluster.security.protocol":      "SASL_SSL",
		"source.cluster.sasl.mechanism":         "SCRAM-SHA-512",
		"source.cluster.sasl.jaas.config":       `org.apache.kafka.common.security.scram.ScramLoginModule required username="replicator" password="` + password + `";`,
		"security.protocol":                     "SSL",
		"ssl.truststore.type":                   "PEM",
		"ssl.truststore.certificates":           ca.pem,
		"refresh.topics.interval.seconds":       "1",
		"refresh.groups.interval.seconds":       "1",
		"emit.checkpoints.interval.seconds":     "1",
		"emit.heartbeats.interval.seconds":      "1",
		"offset-syncs.topic.replication.factor": "1",
		"replication.factor":                    "1",
	}
}

// logBuffer collects every log line of the tasks, to check that no secret is logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start builds a task through the registry, as a worker does, and runs it until the test ends.
func start(t *testing.T, class string, conf map[string]string, logs *logBuffer) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	spec := &agentv1.TaskSpec{TaskId: 0, ConnectorClass: class, Config: conf, TaskIndex: 0, TaskCount: 1}
	env := runtime.TaskEnv{Worker: &agentv1.WorkerSpec{WorkloadName: "secure"},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	task, err := Registry()[class](ctx, spec, env)
	if err != nil {
		cancel()
		t.Fatalf("build %s: %v", class, err)
	}
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		done <- task.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", class)
		}
	})
	return done
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSecureReplication runs all three MirrorMaker 2 tasks between a SASL_SSL (SCRAM-SHA-512)
// source and an SSL target: records are copied, heartbeats and checkpoints written, and the
// password appears in no log line.
func TestSecureReplication(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	src, tgt := secureClusters(t, ca)
	const password = "s3cr3t-Pa55"
	conf := securityConfig(src, tgt, ca, password)
	ctx := context.Background()

	srcAdm := kadm.NewClient(src.client(t))
	if _, err := srcAdm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	prod := src.client(t, kgo.DefaultProduceTopic("orders"))
	const n = 300
	for i := range n {
		prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A consumer group with a committed offset, for the checkpoint task.
	if _, err := srcAdm.CommitOffsets(ctx, "billing", kadm.OffsetsFromRecords(kgo.Record{Topic: "orders", Partition: 0, Offset: 5})); err != nil {
		t.Fatal(err)
	}

	logs := &logBuffer{}
	for _, class := range []string{catalog.MirrorSource, catalog.MirrorCheckpoint, catalog.MirrorHeartbeat} {
		done := start(t, class, conf, logs)
		go func() {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s returned: %v", class, err)
			}
		}()
	}

	tgtAdm := kadm.NewClient(tgt.client(t))
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
	waitFor(t, 60*time.Second, "300 records in src.orders on the target", func() bool { return endOf("src.orders") == n })
	waitFor(t, 30*time.Second, "heartbeats on the target", func() bool { return endOf("heartbeats") > 0 })
	waitFor(t, 60*time.Second, "a checkpoint of group billing on the target", func() bool { return endOf("src.checkpoints.internal") > 0 })

	// Read the copy back and compare it.
	cons := tgt.client(t, kgo.ConsumeTopics("src.orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]string{}
	for len(got) < n {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := cons.PollFetches(fctx)
		timedOut := fctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("read back %d of %d records", len(got), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Key)] = string(r.Value) })
	}
	for i := range n {
		if v := got[fmt.Sprintf("k%d", i)]; v != fmt.Sprintf("v%d", i) {
			t.Fatalf("record k%d: got value %q", i, v)
		}
	}
	if strings.Contains(logs.String(), password) {
		t.Fatal("the SASL password appears in the tasks' logs")
	}
}

// TestWrongPasswordWaits: a wrong SCRAM password does not end the task: it reports
// AUTHENTICATION_FAILED for the source cluster in its health, naming the cluster and the key
// to fix and never the password, and tries again; once the cluster accepts that password (the
// user's credentials changed on the broker) the task runs and its health clears by itself.
func TestWrongPasswordWaits(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	src, tgt := secureClusters(t, ca)
	const wrong = "not-the-Pa55word"
	logs := &logBuffer{}
	m := &runtime.TaskMetrics{}
	ctx, cancel := context.WithCancel(context.Background())
	spec := &agentv1.TaskSpec{TaskId: 0, ConnectorClass: catalog.MirrorSource, Config: securityConfig(src, tgt, ca, wrong), TaskIndex: 0, TaskCount: 1}
	env := runtime.TaskEnv{Worker: &agentv1.WorkerSpec{WorkloadName: "secure"}, Metrics: m,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	task, err := Registry()[catalog.MirrorSource](ctx, spec, env)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- task.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the task did not stop")
		}
	})
	var health string
	waitFor(t, 15*time.Second, "AUTHENTICATION_FAILED in the task's health", func() bool {
		health, _ = m.Health(time.Now())
		return strings.HasPrefix(health, "AUTHENTICATION_FAILED: ")
	})
	for _, want := range []string{`source cluster "src"`, "SASL SCRAM-SHA-512 authentication failed", `user "replicator"`, "source.cluster.sasl.jaas.config"} {
		if !strings.Contains(health, want) {
			t.Errorf("health %q does not say %q", health, want)
		}
	}
	if strings.Contains(health, wrong) || strings.Contains(logs.String(), wrong) {
		t.Error("the wrong password was echoed")
	}
	t.Log(health)
	select {
	case err := <-done:
		t.Fatalf("the task ended on a refused login: %v", err)
	default:
	}
	// The broker now accepts that password: the task runs and its health clears.
	admin, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(src.addrs...)}, src.opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	res, err := kadm.NewClient(admin).AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{{
		User: "replicator", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: wrong}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("change the user's password on the broker: %v", err)
	}
	waitFor(t, 45*time.Second, "the task's health to clear", func() bool {
		health, _ = m.Health(time.Now())
		return health == ""
	})
	select {
	case err := <-done:
		t.Fatalf("the task ended: %v", err)
	default:
	}
}

// TestUntrustedCertificateFails: a target whose certificate the configured CA did not sign
// fails the heartbeat task permanently, naming the truststore key.
func TestUntrustedCertificateFails(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t), newCA(t)
	src, tgt := secureClusters(t, ca)
	conf := securityConfig(src, tgt, ca, "s3cr3t-Pa55")
	conf["target.cluster.ssl.truststore.certificates"] = other.pem
	done := start(t, catalog.MirrorHeartbeat, conf, &logBuffer{})
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the task did not fail within 30s")
	}
	var coded *runtime.Error
	if !errors.As(err, &coded) || coded.Code != runtime.CodeInvalidConfiguration || !coded.Permanent {
		t.Fatalf("want a permanent INVALID_CONFIGURATION error, got %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "target cluster dst") || !strings.Contains(msg, "target.cluster.ssl.truststore.certificates") {
		t.Errorf("error %q does not name the target cluster and its truststore key", msg)
	}
}
