// Package servertest starts a real Fjord API server for tests: a fresh Postgres database
// (store/pgtest), migrations, the server on 127.0.0.1 with free ports, custom plugin buckets in
// a temporary folder, two credentials in two accounts, and two registered clusters — and hands
// out real aws-sdk-go-v2 clients pointed at it. A test package using it needs
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package servertest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"

	"github.com/fjord-io/fjord/migrations"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/server/replica"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/store/pgtest"
)

// The two accounts every Env knows.
const (
	Account      = "000000000000"
	AccessKey    = "test"
	SecretKey    = "test"
	OtherAccount = "111111111111"
	OtherAccess  = "other"
	OtherSecret  = "other-secret"
	Region       = "us-east-1"
)

// Env is a running server and what tests need to call it.
type Env struct {
	// URL is the REST endpoint, e.g. http://127.0.0.1:PORT.
	URL string
	// GRPCAddr is the gRPC endpoint (the API, and the agent gateway over TLS).
	GRPCAddr string
	// CAFingerprint is the Fjord CA's fingerprint: agents' trust anchor (agent.Config.CAFingerprint).
	CAFingerprint string
	// DatabaseURL is the test's own database.
	DatabaseURL string
	// Key is the at-rest encryption key.
	Key []byte
	// S3Dir holds the custom plugin buckets: bucket B is S3Dir/B (ARN arn:aws:s3:::B).
	S3Dir string
	// SourceClusterARN and TargetClusterARN are registered clusters "source" and "target" of
	// Account (bootstrap servers 127.0.0.1:19092 and 127.0.0.1:29092; nothing listens there).
	SourceClusterARN, TargetClusterARN string
	Store                              *store.Store
	Server                             *server.Server
}

// Options adjust Start.
type Options struct {
	// DatabaseURL reuses an existing database (for restart tests); "" = a fresh one.
	DatabaseURL string
	// Key reuses an encryption key; nil = a fresh one.
	Key []byte
	// S3Dir reuses a bucket folder; "" = a fresh one.
	S3Dir string
	// LeaseTTL is the agents' lease; default 10s.
	LeaseTTL time.Duration
	// SecretsEndpoint and SecretsDir are the workload compiler's (workload.Config); "" = unset.
	SecretsEndpoint, SecretsDir string
	// AutoscaleWindow and AutoscaleCooldown are the scheduler's (scheduler.AutoscaleConfig);
	// 0 = defaults.
	AutoscaleWindow, AutoscaleCooldown time.Duration
	// Retention is the scheduler leader's (scheduler.RetentionConfig); zero = defaults.
	Retention scheduler.RetentionConfig
	// PluginIngestConcurrency is the server's (server.Config); 0 = default.
	PluginIngestConcurrency int
	// WrapArtifacts, when set, wraps the server's plugin fetcher (a spy around the real one).
	WrapArtifacts func(artifact.Fetcher) artifact.Fetcher
	// Log, when set, also receives every server log line, debug level included (JSON).
	Log io.Writer
	// AgentCACert and AgentCAKey (PEM) import an operator's Fjord CA (server.Config).
	AgentCACert, AgentCAKey []byte
}

// AgentToken is the join token of every Env's agent gateway.
const AgentToken = "test-agent-token"

// Start starts a server for t; it is stopped in t.Cleanup.
func Start(t testing.TB, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx := context.Background()
	e := &Env{DatabaseURL: o.DatabaseURL, Key: o.Key, S3Dir: o.S3Dir}
	if e.DatabaseURL == "" {
		e.DatabaseURL = pgtest.URL(t)
	}
	if e.Key == nil {
		e.Key = make([]byte, store.KeySize)
		if _, err := rand.Read(e.Key); err != nil {
			t.Fatal(err)
		}
	}
	if e.S3Dir == "" {
		e.S3Dir = t.TempDir()
	}
	if err := migrations.Up(e.DatabaseURL); err != nil {
		t.Fatalf("migrations: %v", err)
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: e.DatabaseURL, Key: e.Key})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	e.Store = st
	for _, c := range []store.Credential{
		{AccessKeyID: AccessKey, SecretAccessKey: SecretKey, AccountID: Account},
		{AccessKeyID: OtherAccess, SecretAccessKey: OtherSecret, AccountID: OtherAccount},
	} {
		if err := st.CredentialPut(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for name, addr := range map[string]string{"source": "127.0.0.1:19092", "target": "127.0.0.1:29092"} {
		c, err := server.RegisterCluster(ctx, st, Account, Region, name, addr, "")
		if err != nil {
			t.Fatal(err)
		}
		if name == "source" {
			e.SourceClusterARN = c.ARN
		} else {
			e.TargetClusterARN = c.ARN
		}
	}
	var handler slog.Handler = slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})
	if o.Log != nil {
		handler = slog.NewMultiHandler(handler, slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	log := slog.New(handler)
	var fetcher artifact.Fetcher = artifact.NewDirFetcher(e.S3Dir)
	if o.WrapArtifacts != nil {
		fetcher = o.WrapArtifacts(fetcher)
	}
	srv, err := replica.New(server.Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", Store: st, Secret: e.Key,
		Artifacts: fetcher, Logger: log, LifecycleInterval: 100 * time.Millisecond,
		AgentToken: AgentToken, LeaseTTL: o.LeaseTTL, PluginIngestConcurrency: o.PluginIngestConcurrency,
		AgentCACert: o.AgentCACert, AgentCAKey: o.AgentCAKey,
	}, workload.Config{SecretsEndpoint: o.SecretsEndpoint, SecretsDir: o.SecretsDir}, scheduler.LeaderConfig{
		Interval:  200 * time.Millisecond,
		Autoscale: scheduler.AutoscaleConfig{Window: o.AutoscaleWindow, Cooldown: o.AutoscaleCooldown},
		Retention: o.Retention,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	e.Server = srv
	e.URL = "http://" + srv.HTTPAddr()
	e.GRPCAddr = srv.GRPCAddr()
	e.CAFingerprint = srv.CA().Fingerprint()
	return e
}

// testWriter sends server logs to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// AWSConfig returns an SDK config signing with the given credential against the server.
func (e *Env) AWSConfig(accessKey, secretKey string) aws.Config {
	return aws.Config{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		BaseEndpoint:     aws.String(e.URL),
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
		RetryMaxAttempts: 1,
	}
}

// KafkaConnect returns a kafkaconnect client of Account.
func (e *Env) KafkaConnect() *kafkaconnect.Client {
	return kafkaconnect.NewFromConfig(e.AWSConfig(AccessKey, SecretKey))
}

// Kafka returns a kafka client of Account.
func (e *Env) Kafka() *kafka.Client { return kafka.NewFromConfig(e.AWSConfig(AccessKey, SecretKey)) }

// OtherKafkaConnect and OtherKafka are clients of OtherAccount.
func (e *Env) OtherKafkaConnect() *kafkaconnect.Client {
	return kafkaconnect.NewFromConfig(e.AWSConfig(OtherAccess, OtherSecret))
}

// OtherKafka is a kafka client of OtherAccount.
func (e *Env) OtherKafka() *kafka.Client {
	return kafka.NewFromConfig(e.AWSConfig(OtherAccess, OtherSecret))
}

// PutPluginZip writes a small valid ZIP to bucket/key and returns the bucket ARN.
func (e *Env) PutPluginZip(t testing.TB, bucket, key string) string {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create("META-INF/MANIFEST.MF")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("Manifest-Version: 1.0\n"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	e.PutObject(t, bucket, key, b.Bytes())
	return "arn:aws:s3:::" + bucket
}

// PutObject writes raw bytes to bucket/key.
func (e *Env) PutObject(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	p := filepath.Join(e.S3Dir, bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Eventually polls cond every 20 ms until it returns true or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
