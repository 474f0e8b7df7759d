package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/server/kafkaiam"
	"github.com/fjord-io/fjord/server/replica"
	"github.com/fjord-io/fjord/server/sigv4"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/store/pgembed"
	"github.com/fjord-io/fjord/workers/agent"
)

// devAccount and devCredential are the LocalStack convention: test/test → 000000000000.
const (
	devAccount = "000000000000"
	devKey     = "test"
)

func runDev(ctx context.Context, args []string) error {
	// SIGHUP reloads --credentials-file (as fjord server does); it never ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	f := newFlags("dev", `Starts everything on this machine: a throwaway Postgres under --data-dir (unless
--database-url), two in-process Kafka clusters registered as "source" and "target" (cluster IDs fjord-dev-source
and fjord-dev-target; they keep records in memory, bounded by --kafka-retention and
--kafka-retention-bytes), and the server. Ctrl-C stops everything.`)
	var (
		dataDir, databaseURL, httpAddr, grpcAddr, sourceAddr, targetAddr, credsFile, region, logLevel string
		agents, agentMCU, leaseTTL, metricsEvery                                                      string
	)
	f.str(&dataDir, "data-dir", "", "./.fjord-dev", "where Postgres, the encryption key and the local S3 buckets live")
	f.str(&databaseURL, "database-url", "DATABASE_URL", "", "use this Postgres instead of starting one")
	f.str(&httpAddr, "http-addr", "", "127.0.0.1:8080", "REST (AWS API), /healthz and /metrics listen address")
	f.str(&grpcAddr, "grpc-addr", "", "127.0.0.1:9090", "gRPC listen address")
	f.str(&sourceAddr, "source-kafka-addr", "", "127.0.0.1:19092", "listen address of the in-process Kafka cluster \"source\"")
	f.str(&targetAddr, "target-kafka-addr", "", "127.0.0.1:29092", "listen address of the in-process Kafka cluster \"target\"")
	f.str(&credsFile, "credentials-file", "", "", `JSON list of {"accessKeyId","secretAccessKey","accountId"}; default: test/test as account 000000000000; reloaded on SIGHUP`)
	f.str(&region, "region", "AWS_REGION", "us-east-1", "region in which the dev clusters are registered")
	f.str(&logLevel, "log-level", "", "info", "debug, info, warn or error")
	f.str(&agents, "agents", "", "1", "in-process agents to run (0: none, so that external fjord agent processes join)")
	f.str(&agentMCU, "agent-mcu", "", "4", "MCU each in-process agent offers")
	f.str(&leaseTTL, "lease-ttl", "", "10s", "how long an agent may stay silent before its workers move elsewhere")
	f.str(&metricsEvery, "metrics-interval", "", agent.DefaultMetricsInterval.String(),
		"how often the in-process agents measure each worker's CPU and memory (the autoscaler's samples); at most a sixth of --autoscale-window is used")
	var sched scheduling
	sched.register(f)
	var connectREST connectRESTFlags
	connectREST.register(f, "127.0.0.1:8083")
	var kafkaRetention, kafkaRetentionBytes string
	f.str(&kafkaRetention, "kafka-retention", "", defaultDevKafkaLimits.Retention.String(),
		"the in-process Kafka clusters keep records this long (log.retention.ms; they live in memory)")
	f.str(&kafkaRetentionBytes, "kafka-retention-bytes", "", strconv.FormatInt(defaultDevKafkaLimits.RetentionBytes, 10),
		"and at most this many bytes per partition (log.retention.bytes)")
	var kafkaAuth, stsAddr string
	f.str(&kafkaAuth, "kafka-auth", "", "none", `client authentication of the in-process Kafka clusters: none (plaintext), or iam: TLS (a dev CA, written to <data-dir>/kafka-ca.pem) and SASL AWS_MSK_IAM only, verified as MSK does against the credentials of --credentials-file and the session credentials of the development STS`)
	f.str(&stsAddr, "sts-addr", "", "127.0.0.1:8089", "with --kafka-auth iam: listen address of the development STS (AssumeRole) whose session credentials the clusters accept")
	var secretsEndpoint, secretsDir string
	f.str(&secretsEndpoint, "secrets-endpoint", "FJORD_SECRETS_ENDPOINT", "", "Secrets Manager endpoint for replicators' SASL/SCRAM secrets; also used for secrets missing from --secrets-dir")
	f.str(&secretsDir, "secrets-dir", "", "", "folder of local secrets: secretArn …:secret:NAME reads <dir>/NAME.json ({\"username\",\"password\"}); default <data-dir>/secrets")
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := sched.apply(&workload.Config{}, &scheduler.LeaderConfig{}); err != nil { // refused before anything starts
		return err
	}
	nAgents, err := strconv.Atoi(agents)
	if err != nil || nAgents < 0 {
		return fmt.Errorf("--agents must be a whole number, got %q", agents)
	}
	mcu, err := strconv.Atoi(agentMCU)
	if err != nil || mcu < 1 {
		return fmt.Errorf("--agent-mcu must be a positive integer, got %q", agentMCU)
	}
	ttl, err := time.ParseDuration(leaseTTL)
	if err != nil || ttl <= 0 {
		return fmt.Errorf("--lease-ttl must be a positive duration, got %q", leaseTTL)
	}
	metricsInterval, err := time.ParseDuration(metricsEvery)
	if err != nil || metricsInterval <= 0 {
		return fmt.Errorf("--metrics-interval must be a positive duration, got %q", metricsEvery)
	}
	limits, err := parseDevKafkaLimits(kafkaRetention, kafkaRetentionBytes)
	if err != nil {
		return err
	}
	if kafkaAuth != "none" && kafkaAuth != "iam" {
		return fmt.Errorf("--kafka-auth must be none or iam, got %q", kafkaAuth)
	}
	log := newLogger(logLevel)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	dataDir, _ = filepath.Abs(dataDir)
	key, err := store.EnsureKeyFile(filepath.Join(dataDir, "encryption.key"))
	if err != nil {
		return err
	}
	creds := []store.Credential{{AccessKeyID: devKey, SecretAccessKey: devKey, AccountID: devAccount}}
	if credsFile != "" {
		if creds, err = loadCredentials(credsFile); err != nil {
			return err
		}
	}

	if databaseURL == "" {
		// wal_level=logical: the dev Postgres doubles as a source database for the
		// PostgreSQL CDC connector (io.debezium.connector.postgresql.PostgresConnector).
		pg, err := pgembed.Start(ctx, pgembed.Options{Dir: filepath.Join(dataDir, "postgres"), Logger: log,
			Settings: map[string]string{"wal_level": "logical"}})
		if err != nil {
			return fmt.Errorf("start Postgres: %w", err)
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				log.Error("stop Postgres", "error", err)
			}
		}()
		if err := pg.EnsureDatabase(ctx, "fjord"); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
		databaseURL = pg.URL("fjord")
		// For psql and tools: the throwaway database's URL (local, trust authentication).
		if err := os.WriteFile(filepath.Join(dataDir, "database.url"), []byte(databaseURL+"\n"), 0o600); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, log, databaseURL, key, creds)
	if err != nil {
		return err
	}
	defer st.Close()

	var iam *devIAM
	if kafkaAuth == "iam" {
		if iam, err = startDevIAM(ctx, log, dataDir, stsAddr, region, creds); err != nil {
			return err
		}
		defer iam.Close()
	}
	clusters := map[string]string{"source": sourceAddr, "target": targetAddr}
	for _, name := range []string{"source", "target"} {
		kc, err := startKafka(clusters[name], "fjord-dev-"+name, limits, iam.kafkaOpts(log)...)
		if err != nil {
			return fmt.Errorf("start Kafka cluster %s on %s: %w", name, clusters[name], err)
		}
		defer kc.Close()
		seen := map[string]bool{}
		for _, c := range creds {
			if seen[c.AccountID] {
				continue
			}
			seen[c.AccountID] = true
			reg := &store.Cluster{AccountID: c.AccountID, Region: region, Name: name, BootstrapServers: clusters[name]}
			if iam != nil {
				// As an MSK cluster with IAM access control only: replicators use the IAM string.
				reg.BootstrapServers, reg.BootstrapServersSaslIam, reg.TLSRootCA = "", clusters[name], string(iam.caPEM)
			}
			if _, err := server.RegisterClusterAuth(ctx, st, reg); err != nil {
				return fmt.Errorf("register cluster %s: %w", name, err)
			}
		}
		log.Info("kafka cluster ready", "cluster", name, "bootstrap_servers", clusters[name], "cluster_id", "fjord-dev-"+name,
			"retention", limits.Retention, "retention_bytes_per_partition", limits.RetentionBytes)
	}

	s3Dir := filepath.Join(dataDir, "s3")
	if err := os.MkdirAll(s3Dir, 0o755); err != nil {
		return err
	}
	tokenPath := filepath.Join(dataDir, "agent.token")
	token, err := ensureToken(tokenPath)
	if err != nil {
		return err
	}
	cfg := server.Config{HTTPAddr: httpAddr, GRPCAddr: grpcAddr, Store: st, Secret: key,
		Artifacts: artifact.NewDirFetcher(s3Dir), Logger: log, AgentToken: token, LeaseTTL: ttl}
	wl := workload.Config{SecretsEndpoint: secretsEndpoint, SecretsDir: secretsDir}
	if wl.SecretsDir == "" {
		wl.SecretsDir = filepath.Join(dataDir, "secrets")
	}
	if err := os.MkdirAll(wl.SecretsDir, 0o700); err != nil {
		return err
	}
	var lc scheduler.LeaderConfig
	if err := sched.apply(&wl, &lc); err != nil {
		return err
	}
	cfg.EventWebhook, cfg.EventWebhookAttempts = sched.eventWebhook, sched.eventWebhookAttemptsN
	cfg.PluginIngestConcurrency = sched.pluginIngestN
	srv, err := replica.New(cfg, wl, lc)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Stop()
	connectREST.region, connectREST.clusterID = region, "fjord-dev-target"
	rest, err := connectREST.start(srv, log, creds[0].AccountID, targetAddr, "", "")
	if err != nil {
		return err
	}
	restAddr := ""
	if rest != nil {
		defer rest.Stop()
		restAddr = rest.Addr()
	}

	// In-process agents run their workers as child processes of this binary. On Ctrl-C they
	// drain first (workers record their progress in Kafka, which is still up), then the
	// server, Kafka and Postgres stop.
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// The Fjord CA, for `fjord agent --server-ca` (the banner's "more agents" command).
	caPath := filepath.Join(dataDir, "ca.pem")
	if err := os.WriteFile(caPath, srv.CA().CertPEM(), 0o644); err != nil {
		return err
	}
	var agentsDone sync.WaitGroup
	for i := 1; i <= nAgents; i++ {
		id := fmt.Sprintf("dev-agent-%d", i)
		a, err := agent.New(agent.Config{ServerAddr: srv.GRPCAddr(), Token: token, AgentID: id,
			StateDir: filepath.Join(dataDir, "agents", id), CAFingerprint: srv.CA().Fingerprint(),
			MCU: mcu, Version: version, WorkerCommand: []string{exe, "worker"}, Logger: log, DrainTimeout: 20 * time.Second,
			MetricsInterval: metricsInterval})
		if err != nil {
			return err
		}
		agentsDone.Add(1)
		go func() {
			defer agentsDone.Done()
			if err := a.Run(ctx); err != nil {
				log.Error("agent stopped", "error", err)
			}
		}()
	}
	defer agentsDone.Wait()
	printBanner(log, banner{HTTP: srv.HTTPAddr(), GRPC: srv.GRPCAddr(), ConnectREST: restAddr, Source: sourceAddr, Target: targetAddr,
		Region: region, S3Dir: s3Dir, DataDir: dataDir, Creds: credsFile == "", Agents: nAgents, AgentMCU: mcu, TokenPath: tokenPath,
		CAPath: caPath, CAFingerprint: srv.CA().Fingerprint(),
		IAM:         iam.bannerInfo(),
		KafkaLimits: limits.String(),
		Window:      lc.Autoscale.Window, Cooldown: lc.Autoscale.Cooldown, Sampling: sampling(metricsInterval, lc.Autoscale.Window).Round(time.Millisecond)})
	reloadCredentialsOnHUP(ctx, log, st, credsFile, hup)
	log.Info("shutting down")
	return nil
}

// ensureToken reads the agents' join token at path, creating a random one when missing.
func ensureToken(path string) (string, error) {
	if raw, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		return strings.TrimSpace(string(raw)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write agent token: %w", err)
	}
	return token, nil
}

// devKafkaLimits bound what each in-process Kafka cluster keeps. kfake keeps every record in
// memory, so without a bound a busy (or runaway) replication flow grows `fjord dev` until the
// machine kills it.
type devKafkaLimits struct {
	// Retention is log.retention.ms: records older than this are deleted.
	Retention time.Duration
	// RetentionBytes is log.retention.bytes: a partition keeps at most this many bytes (plus
	// one segment, the unit in which memory is freed).
	RetentionBytes int64
	// Every is how often the retention is applied (kfake itself applies it only hourly).
	Every time.Duration
}

// defaultDevKafkaLimits: an hour, and 32 MiB per partition.
var defaultDevKafkaLimits = devKafkaLimits{Retention: time.Hour, RetentionBytes: 32 << 20, Every: 10 * time.Second}

func parseDevKafkaLimits(retention, retentionBytes string) (devKafkaLimits, error) {
	l := defaultDevKafkaLimits
	d, err := time.ParseDuration(retention)
	if err != nil || d < time.Second {
		return l, fmt.Errorf("--kafka-retention must be a duration of at least 1s, got %q", retention)
	}
	n, err := strconv.ParseInt(retentionBytes, 10, 64)
	if err != nil || n < 1<<20 {
		return l, fmt.Errorf("--kafka-retention-bytes must be a whole number of bytes, at least 1048576, got %q", retentionBytes)
	}
	l.Retention, l.RetentionBytes = d, n
	return l, nil
}

// segmentBytes is log.segment.bytes: a quarter of the retention, at most 8 MiB, so that
// retention frees memory in small steps.
func (l devKafkaLimits) segmentBytes() int64 { return min(l.RetentionBytes/4, 8<<20) }

func (l devKafkaLimits) String() string {
	return fmt.Sprintf("records kept %v, at most %d MiB per partition (in memory; --kafka-retention, --kafka-retention-bytes)",
		l.Retention, l.RetentionBytes>>20)
}

// devKafka is an in-process Kafka cluster whose retention is applied every Every.
type devKafka struct {
	*kfake.Cluster
	stop chan struct{}
	done chan struct{}
}

// Close stops applying the retention, then the cluster.
func (k *devKafka) Close() {
	close(k.stop)
	<-k.done
	k.Cluster.Close()
}

// startKafka starts a one-broker kfake cluster on addr (127.0.0.1:PORT) with the given
// cluster ID (distinct per cluster: replication tells clusters apart by it) and limits. It
// speaks the stable Kafka protocol of franz-go's kversion, like a stock broker: without client
// telemetry (KIP-714), which a broker offers only when a telemetry plugin is configured (MSK
// offers none). kfake would otherwise ask every client for all its metrics every 30 s, and each
// franz-go client would keep compressors of a few MiB for the pushes: in `make bench`'s density
// suite that was a third of an idle worker's heap.
func startKafka(addr, clusterID string, lim devKafkaLimits, extra ...kfake.Opt) (*devKafka, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != "127.0.0.1" && host != "localhost" {
		return nil, errors.New("the in-process Kafka clusters listen on 127.0.0.1 only")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(int16(kmsg.GetTelemetrySubscriptions), -1)
	versions.SetMaxKeyVersion(int16(kmsg.PushTelemetry), -1)
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.Ports(port), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3),
		kfake.ClusterID(clusterID), kfake.MaxVersions(versions),
		kfake.BrokerConfigs(map[string]string{
			"log.retention.ms":    strconv.FormatInt(lim.Retention.Milliseconds(), 10),
			"log.retention.bytes": strconv.FormatInt(lim.RetentionBytes, 10),
			"log.segment.bytes":   strconv.FormatInt(lim.segmentBytes(), 10),
			// Compacted topics (Connect's and MirrorMaker 2's internal topics) too.
			"log.cleaner.backoff.ms": strconv.FormatInt(lim.Every.Milliseconds(), 10),
		})}, extra...)...)
	if err != nil {
		return nil, err
	}
	k := &devKafka{Cluster: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		tick := time.NewTicker(lim.Every)
		defer tick.Stop()
		for {
			select {
			case <-k.stop:
				return
			case <-tick.C:
				c.ApplyRetention()
			}
		}
	}()
	return k, nil
}

type banner struct {
	HTTP, GRPC, ConnectREST, Source, Target, Region, S3Dir, DataDir string
	Creds                                                           bool
	Agents, AgentMCU                                                int
	TokenPath, CAPath, CAFingerprint                                string
	KafkaLimits                                                     string
	Window, Cooldown, Sampling                                      time.Duration
	IAM                                                             *devIAMBanner
}

// sampling is the interval at which agents configured with metricsInterval measure workers
// for a server whose autoscale window is window (Welcome.max_metrics_interval).
func sampling(metricsInterval, window time.Duration) time.Duration {
	limit := scheduler.AutoscaleConfig{Window: window}.MaxSampleInterval()
	return min(metricsInterval, max(limit, agent.MinMetricsInterval))
}

var bannerTmpl = template.Must(template.New("banner").Parse(`
Fjord dev is ready.

  AWS API (REST)   http://{{.HTTP}}     health: http://{{.HTTP}}/healthz   metrics: /metrics
  web console      http://{{.HTTP}}/console/
  gRPC             {{.GRPC}}
{{if .ConnectREST}}  Kafka Connect    http://{{.ConnectREST}}   (Kafka Connect REST API: curl http://{{.ConnectREST}}/connectors?expand=status)
{{end}}  Kafka "source"   {{.Source}}
  Kafka "target"   {{.Target}}
  Kafka limits     {{.KafkaLimits}}
  S3 buckets       {{.S3Dir}}/<bucket>/   (bucket ARN arn:aws:s3:::<bucket>)
  data dir         {{.DataDir}}   (Postgres URL in database.url)
  secrets          {{.DataDir}}/secrets/<name>.json   ({"username","password"} for a saslScram secretArn …:secret:<name>)
  agents           {{.Agents}} in-process × {{.AgentMCU}} MCU; more: fjord agent --server {{.GRPC}} --token-file {{.TokenPath}} --server-ca {{.CAPath}} --mcu 4
  agent CA         {{.CAFingerprint}}   (agents enroll once with the token; fjord agents revoke <id>)
  autoscaling      window {{.Window}} (CPU sampled every {{.Sampling}}), cooldown {{.Cooldown}}; why a workload did not scale: fjord workloads describe <arn>
{{if .Creds}}  credentials      access key "test", secret "test" → account 000000000000
{{end}}{{with .IAM}}
Kafka authentication: AWS_MSK_IAM over TLS only (--kafka-auth iam), as an MSK cluster with IAM access control.
  CA certificate   {{.CAPath}}
  STS (AssumeRole) {{.STS}}   (session credentials of roles of the caller's account; the clusters accept them)
  signing keys     the access keys of the credentials above, or session credentials from that STS
  client properties (Java aws-msk-iam-auth, MirrorMaker source.cluster./target.cluster. prefixes):
    security.protocol=SASL_SSL
    sasl.mechanism=AWS_MSK_IAM
    sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;
    sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler
    ssl.truststore.type=PEM
    ssl.truststore.location={{.CAPath}}
  environment of such clients: AWS_REGION={{.Region}} AWS_ENDPOINT_URL_STS={{.STS}} (and keys as above)
  external agents need the same environment; kcat (librdkafka) cannot sign AWS_MSK_IAM.
{{end}}
Try:
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={{.Region}}
  aws --endpoint-url http://{{.HTTP}} kafka list-clusters-v2
  aws --endpoint-url http://{{.HTTP}} kafkaconnect list-connectors
  mkdir -p {{.S3Dir}}/plugins && (cd /tmp && echo x > x.txt && zip -q mm2.zip x.txt) && cp /tmp/mm2.zip {{.S3Dir}}/plugins/
  aws --endpoint-url http://{{.HTTP}} kafkaconnect create-custom-plugin --name mm2 --content-type ZIP \
      --location 's3Location={bucketArn=arn:aws:s3:::plugins,fileKey=mm2.zip}'
{{if not .IAM}}  kcat -b {{.Source}} -L
{{end}}  fjord agents list     fjord workloads describe <arn>

Stop with Ctrl-C.
`))

func printBanner(log *slog.Logger, b banner) {
	if err := bannerTmpl.Execute(os.Stdout, b); err != nil {
		log.Error("print banner", "error", err)
	}
}

// devIAM is the AWS_MSK_IAM authentication of the dev clusters (--kafka-auth iam): their TLS,
// the verifier of the signed payloads and the development STS.
type devIAM struct {
	tls    *tls.Config
	caPEM  []byte
	caPath string
	v      *kafkaiam.Verifier
	sts    *http.Server
	stsURL string
	region string
}

type devIAMBanner struct{ CAPath, STS, Region string }

func (d *devIAM) bannerInfo() *devIAMBanner {
	if d == nil {
		return nil
	}
	return &devIAMBanner{CAPath: d.caPath, STS: d.stsURL, Region: d.region}
}

// kafkaOpts are the kfake options of one dev cluster (none without IAM).
func (d *devIAM) kafkaOpts(log *slog.Logger) []kfake.Opt {
	if d == nil {
		return nil
	}
	return kafkaiam.Options(d.v, d.tls, log)
}

// startDevIAM makes the dev CA (its PEM in <dataDir>/kafka-ca.pem), starts the development STS
// on stsAddr, and points this process's AWS SDK (and the workers it starts) at it:
// AWS_ENDPOINT_URL_STS, AWS_REGION and, unless set, the first credential as the base keys.
func startDevIAM(ctx context.Context, log *slog.Logger, dataDir, stsAddr, region string, creds []store.Credential) (*devIAM, error) {
	tlsCfg, caPEM, err := kafkaiam.DevTLS()
	if err != nil {
		return nil, err
	}
	caPath := filepath.Join(dataDir, "kafka-ca.pem")
	if err := os.WriteFile(caPath, caPEM, 0o644); err != nil {
		return nil, err
	}
	keys := make([]sigv4.Credential, 0, len(creds))
	for _, c := range creds {
		keys = append(keys, sigv4.Credential{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, AccountID: c.AccountID})
	}
	v, sts := kafkaiam.NewDev(sigv4.NewStaticStore(keys...))
	l, err := net.Listen("tcp", stsAddr)
	if err != nil {
		return nil, fmt.Errorf("--sts-addr: %w", err)
	}
	srv := &http.Server{Handler: sts, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("development STS stopped", "error", err)
		}
	}()
	d := &devIAM{tls: tlsCfg, caPEM: caPEM, caPath: caPath, v: v, sts: srv, stsURL: "http://" + l.Addr().String(), region: region}
	os.Setenv("AWS_ENDPOINT_URL_STS", d.stsURL)
	if os.Getenv("AWS_REGION") == "" {
		os.Setenv("AWS_REGION", region)
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" && len(creds) > 0 {
		os.Setenv("AWS_ACCESS_KEY_ID", creds[0].AccessKeyID)
		os.Setenv("AWS_SECRET_ACCESS_KEY", creds[0].SecretAccessKey)
	}
	log.Info("kafka authentication AWS_MSK_IAM", "ca", caPath, "sts", d.stsURL)
	return d, nil
}

// Close stops the development STS.
func (d *devIAM) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.sts.Shutdown(ctx)
}
