// Command bench measures the REST face of Fjord's API server the way a busy AWS client sees it:
// SigV4-signed DescribeConnector and ListConnectors calls from a concurrent Go client over
// loopback, against a server (in this process) holding 1,000 connectors in a throwaway
// Postgres (store/pgembed). Each result is compared with a baseline measured in the same run:
// the same client against a bare net/http handler that returns a canned body (a response
// captured from the real server), so that the ratio shows what the server costs on top of the
// client, HTTP and loopback. Server and baseline are measured in alternating slices (-rounds
// rounds after an unmeasured warm-up of -warmup each, the order alternating from round to
// round), so that both see the same share of a machine that other processes use too.
//
// It prints one JSON object per line:
//
//	{"bench":"describe_connector_throughput","value":3512.4,"unit":"requests/s","baseline":9210.7,"ratio":0.383,"min":0.35,"max":0.41,"rounds":10}
//
// value and baseline are the medians over the rounds; ratio is the median of the same-round
// ratios value/baseline, min and max their extremes (paired.go). A figure measured once has
// rounds 1.
//
// The "replication" suite (replication.go) measures the data plane the same way, each result
// against a baseline from the same run: replication_throughput, replication_latency_p99,
// create_to_running_s and failover_s, with the clusters, the server and the agents as separate
// processes.
//
// The "scale" suite (scale.go) measures one replicator copying 12,000 partitions (1,000 topics)
// against one copying 12: replication_scale_latency_p99_ms (same stream rate, ratio of the p99s),
// replication_scale_rss_per_partition_bytes, replication_scale_idle_cpu_percent,
// replication_scale_new_topic_s and replication_scale_initial_sync_s, each against its target
// when there is no measured baseline (about a minute and a half).
//
// The "scheduler" suite (scheduler.go) times the leader's reconcile (snapshot from Postgres,
// plan, apply) for 100, 1,000 and 5,000 workloads over 200 agents: scheduler_reconcile_ms_N
// (the first, placing reconcile) and scheduler_reconcile_steady_ms_N, each against the
// smallest size's cost per workload times N (ratio 1 = linear growth).
//
// The "cdc" suite (cdc.go, cdc_postgres.go, cdc_mysql.go) measures one task of a Debezium
// connector (the CDC runtime of workers/cdc with the PostgreSQL or the MySQL engine) against a
// raw loop reading the same changes with the same library, on a throwaway PostgreSQL
// (pgembed, wal_level=logical) and MariaDB (mysqltest.Launch) and an in-process kfake, about
// 2.5 minutes in all (-cdc-databases, -cdc-rows, -cdc-rounds, -cdc-schemas, -cdc-cpuprofile).
// Figures of one run on the shared 2-core development machine (load average 8–10 from other
// work; the rounds' ratios spread widely, see min and max):
//
//	{"bench":"cdc_postgres_events_per_s","value":87200.137,"unit":"events/s","baseline":103096.67,"ratio":0.826,"min":0.319,"max":1.761,"rounds":5}
//	{"bench":"cdc_latency_p99_ms","value":14.54,"unit":"ms","baseline":87.87,"ratio":0.777,"min":0.086,"max":1.189,"rounds":5}
//	{"bench":"cdc_latency_p50_ms","value":2.312,"unit":"ms","baseline":0.425,"ratio":5.295,"min":2.707,"max":10.502,"rounds":5}
//	{"bench":"cdc_mysql_events_per_s","value":102671.04,"unit":"events/s","baseline":306626.893,"ratio":0.358,"min":0.24,"max":0.467,"rounds":5}
//	{"bench":"cdc_mysql_latency_p99_ms","value":5.877,"unit":"ms","baseline":5.955,"ratio":0.987,"min":0.822,"max":1.359,"rounds":5}
//	{"bench":"cdc_mysql_latency_p50_ms","value":0.283,"unit":"ms","baseline":0.206,"ratio":1.228,"min":1.162,"max":1.388,"rounds":5}
//
// api-docs/cdc.md (Performance) says what the baselines leave out.
//
// The "density" suite (density.go) packs -density-connectors (50) MirrorSource connectors of
// one worker × 1 MCU, one topic each, on one `fjord agent --mcu 50` beside `fjord dev`, about a
// minute in all: agent_density_create_to_running_s (the 50 CreateConnector calls
// until all RUNNING; target 15 s), agent_density_rss_total_mib and
// agent_density_rss_per_worker_mib (idle; target 40 MiB per worker), the same as Pss
// (agent_density_pss_*: shared pages of the fjord binary divided among the processes that map
// them, which is what the host spends) and agent_density_idle_cpu_percent (agent and workers,
// no traffic, percent of one core; target 10 %). The targets are the baselines.
//
// Run it with `make bench` or `go run ./bench -duration 10s -concurrency 16`; -only (or
// $BENCH_ONLY, or `make bench ONLY=...`) runs some suites: `go run ./bench -only replication`. Progress, setup
// times and the CPU time per request (this process, and Postgres) go to stderr. -cpuprofile
// PREFIX writes CPU profiles of the comparisons (PREFIX-describe.pprof, PREFIX-list.pprof) in
// which the server's goroutines carry the label side=server and the client's side=client:
// `go tool pprof -tagfocus side=server PREFIX-describe.pprof`.
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"

	"github.com/fjord-io/fjord/migrations"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/server/replica"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/store/pgembed"
)

const (
	accessKey = "test"
	secretKey = "test"
	account   = "000000000000"
	region    = "us-east-1"
)

type config struct {
	duration    time.Duration
	rounds      int
	warmup      time.Duration
	concurrency int
	connectors  int
	client      string
	cpuProfile  string
	analyze     bool
	logLevel    string
}

func main() {
	var c config
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "how long each measurement runs (the server's; the baseline's as long)")
	flag.IntVar(&c.rounds, "rounds", 10, "slices in which the server and baseline measurements alternate")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured load before each measurement")
	flag.IntVar(&c.concurrency, "concurrency", 16, "concurrent requests in flight")
	flag.IntVar(&c.connectors, "connectors", 1000, "connectors stored before measuring")
	flag.StringVar(&c.client, "client", "raw", `"raw" (net/http + the SDK's SigV4 signer) or "sdk" (the aws-sdk-go-v2 kafkaconnect client)`)
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write CPU profiles of the comparisons to PREFIX-describe.pprof and PREFIX-list.pprof")
	flag.StringVar(&c.logLevel, "log-level", "warn", "server log level")
	flag.BoolVar(&c.analyze, "analyze", true, "ANALYZE the database after loading it, as autovacuum would within a minute")
	var rc replConfig
	rc.register()
	var sc schedConfig
	sc.register(&c.cpuProfile)
	var tc translationConfig
	tc.register()
	var ac autoscaleConfig
	ac.register()
	var cc cdcConfig
	cc.register()
	var scc scaleConfig
	scc.register()
	var dc densityConfig
	dc.register()
	suites := flag.String("suites", "api,replication,scale,scheduler,translation,autoscale,cdc,density", `comma-separated suites to run: "api" (the REST API, this file), "replication" (the data plane, replication.go), "scale" (one replicator at 12 and 12,000 partitions, scale.go), "scheduler" (the leader's reconcile, scheduler.go), "translation" (the failover drill's offset translation, translation.go), "autoscale" (the autoscaler's reaction, autoscale.go), "cdc" (change data capture, cdc.go) and "density" (many small connectors on one agent, density.go); $BENCH_ONLY, when set, overrides the default`)
	only := flag.String("only", "", "the same as -suites, which it overrides when set")
	if v := os.Getenv("BENCH_ONLY"); v != "" {
		*suites = v
	}
	flag.Parse()
	if *only != "" {
		*suites = *only
	}
	if c.client != "raw" && c.client != "sdk" {
		fmt.Fprintln(os.Stderr, "bench: -client must be raw or sdk")
		os.Exit(2)
	}
	if c.rounds < 1 || c.concurrency < 1 || c.duration < time.Duration(c.rounds)*time.Millisecond {
		fmt.Fprintln(os.Stderr, "bench: -rounds and -concurrency must be at least 1, and -duration at least a millisecond per round")
		os.Exit(2)
	}
	for _, suite := range strings.Split(*suites, ",") {
		var err error
		switch strings.TrimSpace(suite) {
		case "api":
			err = run(c)
		case "replication":
			err = runReplicationSuite(rc)
		case "scheduler":
			err = runSchedulerSuite(sc)
		case "translation":
			err = runTranslationSuite(tc)
		case "autoscale":
			err = runAutoscaleSuite(ac, rc.fjord)
		case "cdc":
			err = runCDCSuite(cc)
		case "scale":
			err = runScaleSuite(scc, rc.fjord)
		case "density":
			err = runDensitySuite(dc, rc.fjord)
		default:
			err = fmt.Errorf("unknown suite %q: use api, replication, scale, scheduler, translation, autoscale, cdc and/or density", suite)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

func run(c config) error {
	ctx := context.Background()
	logf("GOMAXPROCS %d, %d CPUs, concurrency %d, %v per measurement, client %s", runtime.GOMAXPROCS(0), runtime.NumCPU(), c.concurrency, c.duration, c.client)

	env, err := startEnv(ctx, c)
	if err != nil {
		return err
	}
	defer env.stop()

	cl := newClient(c.client, c.concurrency)
	defer cl.close()

	// Canned bodies for the baseline, captured from the real server.
	describeBody, err := cl.capture(ctx, env.url, func(ctx context.Context, base string) error {
		return cl.describe(ctx, base, env.arns[0])
	})
	if err != nil {
		return fmt.Errorf("capture DescribeConnector: %w", err)
	}
	listBody, err := cl.capture(ctx, env.url, func(ctx context.Context, base string) error { return cl.list(ctx, base, 100) })
	if err != nil {
		return fmt.Errorf("capture ListConnectors: %w", err)
	}
	if n := strings.Count(string(listBody), `"connectorArn"`); n != min(100, c.connectors) {
		return fmt.Errorf("ListConnectors maxResults=100 returned %d connectors", n)
	}
	base, err := startCanned(describeBody, listBody)
	if err != nil {
		return err
	}
	defer base.Close()
	baseURL := "http://" + base.Addr().String()

	var arnIdx atomic.Uint64
	describe := func(ctx context.Context, url string) error {
		i := arnIdx.Add(1)
		return cl.describe(ctx, url, env.arns[int(i%uint64(len(env.arns)))])
	}
	list := func(ctx context.Context, url string) error { return cl.list(ctx, url, 100) }

	// Baseline and server alternate in slices (see comparison); Describe first, then List.
	pgDir := env.pgDataDir()
	descTargets := [2]target{{"baseline DescribeConnector", baseURL}, {"server DescribeConnector", env.url}}
	listTargets := [2]target{{"baseline ListConnectors", baseURL}, {"server ListConnectors", env.url}}
	var desc, lst [2]measurement
	if err := profiled(c, "describe", func() { desc = comparison(ctx, c, pgDir, descTargets, describe) }); err != nil {
		return err
	}
	if err := profiled(c, "list", func() { lst = comparison(ctx, c, pgDir, listTargets, list) }); err != nil {
		return err
	}
	descBase, descSrv, listBase, listSrv := desc[0], desc[1], lst[0], lst[1]
	// Other processes on a shared machine move the rates; CPU per request does not move much.
	// On idle cores a request costs its client, server and Postgres CPU and nothing else.
	for _, p := range [][2]measurement{{descBase, descSrv}, {listBase, listSrv}} {
		bSelf, _ := p[0].perRequest()
		sSelf, sPG := p[1].perRequest()
		logf("%s: the server costs ~%dµs CPU per request (+%dµs in Go over the baseline, %dµs in Postgres); "+
			"%d idle cores would serve at most ~%.0f requests/s with this client",
			p[1].name, (sSelf - bSelf + sPG).Microseconds(), (sSelf - bSelf).Microseconds(), sPG.Microseconds(),
			runtime.NumCPU(), float64(runtime.NumCPU())*float64(time.Second)/float64(sSelf+sPG))
	}
	for _, m := range []measurement{descBase, listBase, descSrv, listSrv} {
		if m.errors > 0 {
			return fmt.Errorf("%s: %d of %d requests failed; first: %v", m.name, m.errors, m.errors+len(m.latencies), m.firstErr)
		}
	}

	// Each figure pairs the server's and the baseline's slice of the same round.
	descRate := newPaired("describe_connector_throughput", "requests/s")
	descP99 := newPaired("describe_connector_p99_ms", "ms")
	listRate := newPaired("list_connectors_throughput", "requests/s")
	for i := range descSrv.rounds {
		descRate.add(descSrv.rounds[i].rate, descBase.rounds[i].rate)
		descP99.add(descSrv.rounds[i].p99, descBase.rounds[i].p99)
	}
	for i := range listSrv.rounds {
		listRate.add(listSrv.rounds[i].rate, listBase.rounds[i].rate)
	}
	return emit(os.Stdout, descRate.result(), descP99.result(), listRate.result())
}

// profiled runs m, with a CPU profile written to PREFIX-name.pprof when -cpuprofile PREFIX is
// given.
func profiled(c config, name string, m func()) error {
	if c.cpuProfile == "" {
		m()
		return nil
	}
	stop, err := cpuProfile(c.cpuProfile + "-" + name + ".pprof")
	if err != nil {
		return err
	}
	m()
	stop()
	return nil
}

// cpuProfile starts a CPU profile written to path; stop ends it and closes the file.
func cpuProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		logf("CPU profile written to %s", path)
	}, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// ---- the environment: Postgres, the server, 1,000 connectors ----

type env struct {
	dir  string
	pg   *pgembed.Cluster
	st   *store.Store
	srv  *server.Server
	url  string
	arns []string
}

func (e *env) stop() {
	if e.srv != nil {
		e.srv.Stop()
	}
	if e.st != nil {
		e.st.Close()
	}
	if e.pg != nil {
		if err := e.pg.Stop(); err != nil {
			logf("stop Postgres: %v", err)
		}
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

func startEnv(ctx context.Context, c config) (e *env, err error) {
	e = &env{}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	// 0755: as root, pgembed runs Postgres as the postgres user, who must enter the directory.
	if e.dir, err = os.MkdirTemp("", "fjord-bench-"); err != nil {
		return e, err
	}
	if err := os.Chmod(e.dir, 0o755); err != nil {
		return e, err
	}
	t0 := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if e.pg, err = pgembed.Start(sctx, pgembed.Options{Dir: filepath.Join(e.dir, "pg"), Fast: true}); err != nil {
		return e, err
	}
	if err := e.pg.CreateDatabase(sctx, "fjord"); err != nil {
		return e, err
	}
	dbURL := e.pg.URL("fjord")
	if err := migrations.Up(dbURL); err != nil {
		return e, err
	}
	key := make([]byte, store.KeySize)
	if _, err := rand.Read(key); err != nil {
		return e, err
	}
	if e.st, err = store.Open(ctx, store.Config{DatabaseURL: dbURL, Key: key}); err != nil {
		return e, err
	}
	if err := e.st.CredentialPut(ctx, store.Credential{AccessKeyID: accessKey, SecretAccessKey: secretKey, AccountID: account}); err != nil {
		return e, err
	}
	logf("Postgres ready in %v", time.Since(t0).Round(time.Millisecond))

	s3Dir := filepath.Join(e.dir, "s3")
	if err := writePlugin(filepath.Join(s3Dir, "bench", "plugin.zip")); err != nil {
		return e, err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.logLevel))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if e.srv, err = replica.New(server.Config{
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", Store: e.st, Secret: key,
		Artifacts: artifact.NewDirFetcher(s3Dir), Logger: log,
	}, workload.Config{}, scheduler.LeaderConfig{}); err != nil {
		return e, err
	}
	// Every goroutine the server starts, and those they start, carry side=server in profiles.
	pprof.Do(ctx, pprof.Labels("side", "server"), func(ctx context.Context) { err = e.srv.Start(ctx) })
	if err != nil {
		e.srv = nil
		return e, err
	}
	e.url = "http://" + e.srv.HTTPAddr()

	t0 = time.Now()
	if e.arns, err = createConnectors(ctx, e.url, c.connectors, c.concurrency); err != nil {
		return e, err
	}
	logf("created %d connectors in %v", len(e.arns), time.Since(t0).Round(time.Millisecond))
	// Measure the steady state. Before its first ANALYZE, Postgres may plan
	// `WHERE arn = $1 AND account_id = $2 AND region = $3` (store's Resources.Get) as a scan of
	// the (account_id, region, name) index that filters every connector of the account: with
	// 1,000 connectors that costs several times the CPU of the primary-key lookup.
	if c.analyze {
		if _, err := e.st.Pool().Exec(ctx, "ANALYZE"); err != nil {
			return e, fmt.Errorf("analyze: %w", err)
		}
	}
	return e, nil
}

// pgDataDir is the Postgres data directory, the working directory of every Postgres process.
func (e *env) pgDataDir() string { return filepath.Join(e.dir, "pg", "data") }

// selfCPU is the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time the live processes working in dataDir (the Postgres server and
// its backends) have used, read from /proc; 0 where there is no /proc.
func postgresCPU(dataDir string) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); cwd != dataDir {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses: utime and stime are the 12th
		// and 13th.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux architecture Go
// supports.
const clockTicks = 100

func writePlugin(path string) error {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create("META-INF/MANIFEST.MF")
	if err == nil {
		_, err = w.Write([]byte("Manifest-Version: 1.0\n"))
	}
	if err == nil {
		err = z.Close()
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o755)
	}
	if err == nil {
		err = os.WriteFile(path, b.Bytes(), 0o644)
	}
	return err
}

// createConnectors creates a custom plugin and n connectors through the API.
func createConnectors(ctx context.Context, url string, n, concurrency int) ([]string, error) {
	kc := kafkaconnect.NewFromConfig(sdkConfig(url, concurrency))
	cp, err := kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String("bench-plugin"), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{
			BucketArn: aws.String("arn:aws:s3:::bench"), FileKey: aws.String("plugin.zip"),
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("create custom plugin: %w", err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		d, err := kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: cp.CustomPluginArn})
		if err != nil {
			return nil, err
		}
		if d.CustomPluginState == kctypes.CustomPluginStateActive {
			break
		}
		if d.CustomPluginState == kctypes.CustomPluginStateCreateFailed || time.Now().After(deadline) {
			return nil, fmt.Errorf("custom plugin is %s", d.CustomPluginState)
		}
	}

	arns := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				out, err := kc.CreateConnector(ctx, connectorInput(i, aws.ToString(cp.CustomPluginArn)))
				if err != nil {
					errs <- fmt.Errorf("create connector %d: %w", i, err)
					return
				}
				arns[i] = aws.ToString(out.ConnectorArn)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return arns, nil
}

// connectorInput is a realistic MirrorMaker 2 source connector, about 1.5 KB described.
func connectorInput(i int, pluginARN string) *kafkaconnect.CreateConnectorInput {
	return &kafkaconnect.CreateConnectorInput{
		ConnectorName:        aws.String(fmt.Sprintf("bench-connector-%04d", i)),
		ConnectorDescription: aws.String("MirrorMaker 2 source connector for the benchmark"),
		Capacity: &kctypes.Capacity{AutoScaling: &kctypes.AutoScaling{
			McuCount: 1, MinWorkerCount: 1, MaxWorkerCount: 2,
			ScaleInPolicy:  &kctypes.ScaleInPolicy{CpuUtilizationPercentage: 20},
			ScaleOutPolicy: &kctypes.ScaleOutPolicy{CpuUtilizationPercentage: 80},
		}},
		ConnectorConfiguration: map[string]string{
			"connector.class":                       "org.apache.kafka.connect.mirror.MirrorSourceConnector",
			"tasks.max":                             "4",
			"topics":                                "orders.*,payments.*",
			"source.cluster.alias":                  "source",
			"target.cluster.alias":                  "target",
			"source.cluster.bootstrap.servers":      "b-1.source:9092,b-2.source:9092",
			"target.cluster.bootstrap.servers":      "b-1.target:9092,b-2.target:9092",
			"replication.factor":                    "3",
			"sync.topic.configs.enabled":            "true",
			"refresh.topics.interval.seconds":       "30",
			"key.converter":                         "org.apache.kafka.connect.converters.ByteArrayConverter",
			"value.converter":                       "org.apache.kafka.connect.converters.ByteArrayConverter",
			"replication.policy.class":              "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
			"emit.heartbeats.enabled":               "true",
			"source.cluster.security.protocol":      "PLAINTEXT",
			"target.cluster.security.protocol":      "PLAINTEXT",
			"offset-syncs.topic.location":           "target",
			"offset-syncs.topic.replication.factor": "3",
		},
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String("b-1.target:9092,b-2.target:9092"),
			Vpc:              &kctypes.Vpc{Subnets: []string{"subnet-0a1b2c3d", "subnet-4e5f6a7b"}, SecurityGroups: []string{"sg-0123456789abcdef0"}},
		}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		KafkaConnectVersion:              aws.String("3.7.x"),
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: aws.String(pluginARN), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/bench-connect"),
		Tags:                             map[string]string{"team": "bench"},
	}
}

// startCanned serves the baseline: every GET /v1/connectors/{arn} gets describeBody and every
// GET /v1/connectors gets listBody, with nothing read, checked or computed.
func startCanned(describeBody, listBody []byte) (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := describeBody
		if r.URL.EscapedPath() == "/v1/connectors" {
			body = listBody
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
	go func() { _ = (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(l) }()
	return l, nil
}

// ---- the client ----

// client issues signed DescribeConnector and ListConnectors calls, either through the SDK or as
// plain net/http requests signed with the SDK's SigV4 signer.
type client struct {
	kind string
	tr   *http.Transport
	hc   *http.Client
	rec  *lastBody

	signer *v4.Signer
	creds  aws.Credentials

	mu  sync.Mutex
	sdk map[string]*kafkaconnect.Client // by endpoint
}

func newClient(kind string, concurrency int) *client {
	tr := newTransport(concurrency)
	rec := &lastBody{}
	return &client{
		kind: kind, tr: tr, rec: rec,
		hc:     &http.Client{Transport: &recordingTransport{next: tr, rec: rec}, Timeout: 30 * time.Second},
		signer: v4.NewSigner(),
		creds:  aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		sdk:    map[string]*kafkaconnect.Client{},
	}
}

func (c *client) close() { c.tr.CloseIdleConnections() }

func newTransport(concurrency int) *http.Transport {
	return &http.Transport{
		MaxIdleConns: concurrency * 2, MaxIdleConnsPerHost: concurrency * 2, IdleConnTimeout: time.Minute,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
}

func sdkConfig(url string, concurrency int) aws.Config {
	return aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		BaseEndpoint:     aws.String(url),
		HTTPClient:       &http.Client{Transport: newTransport(concurrency), Timeout: 30 * time.Second},
		RetryMaxAttempts: 1,
	}
}

func (c *client) sdkFor(url string) *kafkaconnect.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	kc, ok := c.sdk[url]
	if !ok {
		cfg := sdkConfig(url, 0)
		cfg.HTTPClient = c.hc
		kc = kafkaconnect.NewFromConfig(cfg)
		c.sdk[url] = kc
	}
	return kc
}

// capture runs call against url and returns the raw response body.
func (c *client) capture(ctx context.Context, url string, call func(ctx context.Context, url string) error) ([]byte, error) {
	c.rec.on.Store(true)
	defer c.rec.on.Store(false)
	if err := call(ctx, url); err != nil {
		return nil, err
	}
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return c.rec.body, nil
}

func (c *client) describe(ctx context.Context, url, arn string) error {
	if c.kind == "sdk" {
		_, err := c.sdkFor(url).DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
		return err
	}
	return c.get(ctx, url+"/v1/connectors/"+escapeRFC3986(arn), "")
}

func (c *client) list(ctx context.Context, url string, max int32) error {
	if c.kind == "sdk" {
		out, err := c.sdkFor(url).ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{MaxResults: aws.Int32(max)})
		if err == nil && len(out.Connectors) == 0 {
			err = errors.New("ListConnectors returned no connectors")
		}
		return err
	}
	return c.get(ctx, url+"/v1/connectors", "maxResults="+strconv.Itoa(int(max)))
}

// emptyHash is the SHA-256 of an empty body.
var emptyHash = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// get sends a signed GET, as the Go SDK does, and reads the whole response.
func (c *client) get(ctx context.Context, rawURL, rawQuery string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.URL.RawQuery = rawQuery
	if err := c.signer.SignHTTP(ctx, c.creds, req, emptyHash, "kafkaconnect", region, time.Now()); err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", rawURL, resp.Status, body)
	}
	return nil
}

// escapeRFC3986 percent-encodes everything but A-Za-z0-9-_.~ with uppercase hex, as AWS
// clients encode path labels (api-docs/wire.md).
func escapeRFC3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

// lastBody keeps the last response body while on.
type lastBody struct {
	on   atomic.Bool
	mu   sync.Mutex
	body []byte
}

type recordingTransport struct {
	next http.RoundTripper
	rec  *lastBody
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || !t.rec.on.Load() {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	t.rec.mu.Lock()
	t.rec.body = b
	t.rec.mu.Unlock()
	return resp, nil
}

// ---- measuring ----

type measurement struct {
	name      string
	elapsed   time.Duration
	latencies []time.Duration
	errors    int
	firstErr  error
	// cpuSelf is the CPU time this process (client and server) used; cpuPG that of Postgres.
	cpuSelf, cpuPG time.Duration
	// rounds are the rate and p99 (ms) of each round's slice.
	rounds []sliceStat
}

type sliceStat struct{ rate, p99 float64 }

// perRequest returns the CPU time per request of this process and of Postgres.
func (m measurement) perRequest() (self, pg time.Duration) {
	n := time.Duration(max(len(m.latencies), 1))
	return m.cpuSelf / n, m.cpuPG / n
}

func (m measurement) rate() float64 { return float64(len(m.latencies)) / m.elapsed.Seconds() }

// p returns the q-quantile of the latencies in milliseconds.
func (m measurement) p(q float64) float64 {
	if len(m.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(m.latencies)))) - 1
	return float64(m.latencies[max(i, 0)].Microseconds()) / 1000
}

// target is one side of a comparison: the server or the baseline.
type target struct {
	name string
	url  string
}

// comparison runs call against the baseline and the server alternately, in c.rounds rounds of a
// slice of c.duration/c.rounds each (in alternating order: baseline first in odd rounds) after
// a warm-up of c.warmup each, so that both see the same machine: on a shared machine other
// processes come and go, and measuring one after the other would compare two different
// machines. It returns the two measurements, latencies sorted, with each round's rate and p99.
func comparison(ctx context.Context, c config, pgDir string, targets [2]target, call func(ctx context.Context, url string) error) [2]measurement {
	var out [2]measurement
	for i, t := range targets {
		out[i].name = t.name
	}
	slice := c.duration / time.Duration(c.rounds)
	steps := make([]func(int) error, len(targets))
	for i, t := range targets {
		steps[i] = func(round int) error {
			if round == 0 { // the warm-up
				if c.warmup > 0 {
					load(ctx, c, c.warmup, t.url, call, nil)
				}
				return nil
			}
			var m measurement
			self0, pg0 := selfCPU(), postgresCPU(pgDir)
			load(ctx, c, slice, t.url, call, &m)
			m.cpuSelf, m.cpuPG = selfCPU()-self0, postgresCPU(pgDir)-pg0
			o := &out[i]
			o.latencies = append(o.latencies, m.latencies...)
			o.elapsed += m.elapsed
			o.errors += m.errors
			if o.firstErr == nil {
				o.firstErr = m.firstErr
			}
			o.cpuSelf += m.cpuSelf
			o.cpuPG += m.cpuPG
			slices.Sort(m.latencies)
			o.rounds = append(o.rounds, sliceStat{m.rate(), m.p(0.99)})
			return nil
		}
	}
	_ = interleave(c.rounds, nil, steps, nil)
	for i := range out {
		m := &out[i]
		slices.Sort(m.latencies)
		self, pg := m.perRequest()
		logf("%-27s %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  CPU/request: this process %4dµs, Postgres %4dµs  (%d requests, %d errors)",
			m.name, m.rate(), m.p(0.5), m.p(0.99), self.Microseconds(), pg.Microseconds(), len(m.latencies), m.errors)
	}
	return out
}

// load runs call from c.concurrency goroutines for d and adds the latencies, errors and
// elapsed time to m (nil: a warm-up, nothing kept).
func load(ctx context.Context, c config, d time.Duration, url string, call func(ctx context.Context, url string) error, m *measurement) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for range c.concurrency {
		wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
			defer wg.Done()
			var lat []time.Duration
			var errs int
			var first error
			for {
				t0 := time.Now()
				if t0.After(stop) {
					break
				}
				if err := call(ctx, url); err != nil {
					if first == nil {
						first = err
					}
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			if m == nil {
				return
			}
			mu.Lock()
			m.latencies = append(m.latencies, lat...)
			m.errors += errs
			if m.firstErr == nil {
				m.firstErr = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if m != nil {
		m.elapsed += time.Since(start)
	}
}
