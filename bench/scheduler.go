package main

// The "scheduler" suite measures one full reconcile of the scheduler's leader: the code path
// scheduler.Leader.Reconcile runs on every tick (expire silent agents, snapshot agents,
// workers and workloads from Postgres, plan, apply the plan in one transaction), called
// directly, for 100, 1,000 and 5,000 workloads over 200 live agents. Workloads are created
// through the store as the API creates them: 80% connectors with provisioned capacity of 1–4
// workers of 1, 2, 4 or 8 MCU running MirrorSourceConnector, 20% replicators (one 1-MCU
// worker).
//
// For each size it measures, median of -sched-runs runs:
//   - scheduler_reconcile_ms_N: the first reconcile, which places every worker (workers table
//     empty, every workload CREATING; each run starts from that state again, with a new
//     Leader and so cold shape caches);
//   - scheduler_reconcile_steady_ms_N: a reconcile in which nothing changed (every worker
//     placed and reporting RUNNING, every workload RUNNING): the leader's every-second case.
//
// The baseline of each is the cost per workload at the smallest size times N, so the ratio is
// the growth per workload (1 = linear). Between the two it also times, and logs to stderr,
// the reconcile that turns every workload RUNNING once its workers report RUNNING. With
// -cpuprofile PREFIX it writes PREFIX-scheduler.pprof for the largest size, with the phases
// labelled: `go tool pprof -tagfocus phase=first PREFIX-scheduler.pprof`.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/fjord-io/fjord/migrations"
	kv "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/store/pgembed"
	"github.com/fjord-io/fjord/workers/catalog"
)

type schedConfig struct {
	sizes      string // comma-separated workload counts
	agents     int
	agentMCU   int
	runs       int
	steady     int
	cpuProfile *string // shared with the api suite's -cpuprofile
}

func (sc *schedConfig) register(cpuProfile *string) {
	flag.StringVar(&sc.sizes, "sched-workloads", "100,1000,5000", "comma-separated workload counts of the scheduler benchmarks (the first is the baseline's)")
	flag.IntVar(&sc.agents, "sched-agents", 200, "live agents of the scheduler benchmarks")
	flag.IntVar(&sc.agentMCU, "sched-agent-mcu", 256, "MCU capacity of each agent of the scheduler benchmarks")
	flag.IntVar(&sc.runs, "sched-runs", 5, "first (placing) reconciles measured per size; the median is reported")
	flag.IntVar(&sc.steady, "sched-steady", 5, "steady-state reconciles measured after each first reconcile")
	sc.cpuProfile = cpuProfile
}

// runSchedulerSuite runs the scheduler benchmarks and prints their results.
func runSchedulerSuite(sc schedConfig) error {
	ctx := context.Background()
	t0 := time.Now()
	var sizes []int
	for _, f := range strings.Split(sc.sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-sched-workloads: %q is not a positive count", f)
		}
		sizes = append(sizes, n)
	}
	if sc.runs < 1 || sc.steady < 1 || sc.agents < 1 {
		return errors.New("-sched-runs, -sched-steady and -sched-agents must be at least 1")
	}
	logf("scheduler: %v workloads over %d agents of %d MCU, %d first and %d×%d steady reconciles per size, GOMAXPROCS %d",
		sizes, sc.agents, sc.agentMCU, sc.runs, sc.runs, sc.steady, runtime.GOMAXPROCS(0))

	pg, err := startSchedPostgres(ctx)
	if err != nil {
		return err
	}
	defer pg.stop()
	logf("Postgres ready in %v", time.Since(t0).Round(time.Millisecond))

	type measured struct{ first, steady float64 }
	got := make([]measured, len(sizes))
	for i, n := range sizes {
		profile := ""
		if *sc.cpuProfile != "" && i == len(sizes)-1 {
			profile = *sc.cpuProfile + "-scheduler.pprof"
		}
		first, steady, err := measureScheduler(ctx, sc, pg, n, profile)
		if err != nil {
			return fmt.Errorf("scheduler %d workloads: %w", n, err)
		}
		got[i] = measured{first, steady}
	}

	// Baseline: the smallest size's cost per workload, times N.
	n0 := float64(sizes[0])
	for i, n := range sizes {
		if err := emit(os.Stdout,
			single(fmt.Sprintf("scheduler_reconcile_ms_%d", n), "ms", got[i].first, got[0].first/n0*float64(n)),
			single(fmt.Sprintf("scheduler_reconcile_steady_ms_%d", n), "ms", got[i].steady, got[0].steady/n0*float64(n)),
		); err != nil {
			return err
		}
	}
	logf("scheduler suite took %v", time.Since(t0).Round(time.Millisecond))
	return nil
}

// schedPostgres is where the scheduler benchmarks make their databases: a throwaway cluster,
// or the server of DATABASE_URL.
type schedPostgres struct {
	dir     string
	cluster *pgembed.Cluster
	admin   *pgxpool.Pool
	base    string // URL of the admin database
	dataDir string // "" when not ours: no Postgres CPU accounting
}

func startSchedPostgres(ctx context.Context) (p *schedPostgres, err error) {
	p = &schedPostgres{}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	if p.base = os.Getenv("DATABASE_URL"); p.base == "" {
		// 0755: as root, pgembed runs Postgres as the postgres user, who must enter the directory.
		if p.dir, err = os.MkdirTemp("", "fjord-bench-sched-"); err != nil {
			return p, err
		}
		if err := os.Chmod(p.dir, 0o755); err != nil {
			return p, err
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if p.cluster, err = pgembed.Start(sctx, pgembed.Options{Dir: filepath.Join(p.dir, "pg"), Fast: true}); err != nil {
			return p, err
		}
		p.base = p.cluster.URL("postgres")
		p.dataDir = filepath.Join(p.dir, "pg", "data")
	} else {
		logf("scheduler: using DATABASE_URL (its durability settings apply; the throwaway cluster runs with fsync off)")
	}
	if p.admin, err = pgxpool.New(ctx, p.base); err == nil {
		err = p.admin.Ping(ctx)
	}
	if err != nil {
		return p, fmt.Errorf("connect to Postgres: %w", err)
	}
	return p, nil
}

// database creates a new database and returns its URL and a function that drops it.
func (p *schedPostgres) database(ctx context.Context, prefix string) (string, func(), error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := prefix + "_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := p.admin.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		if _, err := p.admin.Exec(context.Background(), "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			logf("drop database %s: %v", name, err)
		}
	}
	// Same server and options, another database.
	u, err := url.Parse(p.base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		drop()
		return "", nil, fmt.Errorf("DATABASE_URL must be a postgres:// URL: %v", err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), drop, nil
}

func (p *schedPostgres) stop() {
	if p.admin != nil {
		p.admin.Close()
	}
	if p.cluster != nil {
		if err := p.cluster.Stop(); err != nil {
			logf("stop Postgres: %v", err)
		}
	}
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

// schedWorkload is one workload the benchmark created, with the shape it should get.
type schedWorkload struct {
	kind           string
	workers, mcu   int
	arn, name      string
	tasksMax       int
	connectorClass string
}

// schedWorkloads is the deterministic mix of n workloads.
func schedWorkloads(n int) []schedWorkload {
	rng := mrand.New(mrand.NewPCG(1, uint64(n)))
	out := make([]schedWorkload, n)
	for i := range out {
		if i%5 == 4 {
			name := fmt.Sprintf("bench-replicator-%05d", i)
			out[i] = schedWorkload{kind: workload.KindReplicator, workers: 1, mcu: 1, name: name,
				arn: fmt.Sprintf("arn:aws:kafka:%s:%s:replicator/%s/%s", region, account, name, uuidish(rng))}
			continue
		}
		name := fmt.Sprintf("bench-connector-%05d", i)
		w := schedWorkload{kind: workload.KindConnector, workers: 1 + rng.IntN(4), mcu: 1 << rng.IntN(4), name: name,
			arn:            fmt.Sprintf("arn:aws:kafkaconnect:%s:%s:connector/%s/%s", region, account, name, uuidish(rng)),
			connectorClass: catalog.MirrorSource}
		w.tasksMax = w.workers * (1 + rng.IntN(4))
		out[i] = w
	}
	return out
}

func uuidish(rng *mrand.Rand) string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff,
		rng.Uint32()&0xffff, rng.Uint64()&(1<<48-1))
}

// resource is w as CreateConnector or CreateReplicator stores it: the public description
// (proto, deterministic) and, for connectors, the configuration as sealed JSON.
func (w schedWorkload) resource() (*store.Resource, map[string]string, error) {
	res := &store.Resource{ARN: w.arn, AccountID: account, Region: region, Name: w.name, State: "CREATING"}
	tags := map[string]string{"team": "bench"}
	var doc proto.Message
	switch w.kind {
	case workload.KindConnector:
		conf := map[string]string{
			"connector.class":                  w.connectorClass,
			"tasks.max":                        strconv.Itoa(w.tasksMax),
			"topics":                           "orders.*,payments.*",
			"source.cluster.alias":             "source",
			"target.cluster.alias":             "target",
			"source.cluster.bootstrap.servers": "b-1.source:9092,b-2.source:9092",
			"target.cluster.bootstrap.servers": "b-1.target:9092,b-2.target:9092",
			"replication.factor":               "3",
			"key.converter":                    "org.apache.kafka.connect.converters.ByteArrayConverter",
			"value.converter":                  "org.apache.kafka.connect.converters.ByteArrayConverter",
			"replication.policy.class":         "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
		}
		secret, err := json.Marshal(conf)
		if err != nil {
			return nil, nil, err
		}
		res.Secret = secret
		doc = &kc.DescribeConnectorResponse{
			ConnectorArn:         proto.String(w.arn),
			ConnectorName:        proto.String(w.name),
			ConnectorDescription: proto.String("MirrorMaker 2 source connector for the benchmark"),
			Capacity: &kc.CapacityDescription{ProvisionedCapacity: &kc.ProvisionedCapacityDescription{
				McuCount: proto.Int32(int32(w.mcu)), WorkerCount: proto.Int32(int32(w.workers))}},
			KafkaCluster: &kc.KafkaClusterDescription{ApacheKafkaCluster: &kc.ApacheKafkaClusterDescription{
				BootstrapServers: proto.String("b-1.target:9092,b-2.target:9092"),
				Vpc: &kc.VpcDescription{Subnets: []string{"subnet-0a1b2c3d", "subnet-4e5f6a7b"},
					SecurityGroups: []string{"sg-0123456789abcdef0"}},
			}},
			KafkaClusterClientAuthentication: &kc.KafkaClusterClientAuthenticationDescription{AuthenticationType: proto.String("NONE")},
			KafkaClusterEncryptionInTransit:  &kc.KafkaClusterEncryptionInTransitDescription{EncryptionType: proto.String("PLAINTEXT")},
			KafkaConnectVersion:              proto.String("3.7.x"),
			NetworkType:                      proto.String("IPV4"),
			Plugins: []*kc.PluginDescription{{CustomPlugin: &kc.CustomPluginDescription{
				CustomPluginArn: proto.String(fmt.Sprintf("arn:aws:kafkaconnect:%s:%s:custom-plugin/bench-plugin/0f1e2d3c", region, account)),
				Revision:        proto.Int64(1)}}},
			ServiceExecutionRoleArn: proto.String("arn:aws:iam::000000000000:role/bench-connect"),
		}
	case workload.KindReplicator:
		doc = &kv.DescribeReplicatorResponse{
			ReplicatorArn:           proto.String(w.arn),
			ReplicatorResourceArn:   proto.String(w.arn),
			ReplicatorName:          proto.String(w.name),
			IsReplicatorReference:   proto.Bool(false),
			ServiceExecutionRoleArn: proto.String("arn:aws:iam::000000000000:role/bench-replicator"),
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(doc)
	res.Doc = b
	return res, tags, err
}

// measureScheduler loads n workloads and 200 agents into a new database and returns the
// median first and steady-state reconcile times in ms.
func measureScheduler(ctx context.Context, sc schedConfig, pg *schedPostgres, n int, profile string) (first, steady float64, err error) {
	dbURL, drop, err := pg.database(ctx, fmt.Sprintf("fjord_bench_sched_%d", n))
	if err != nil {
		return 0, 0, err
	}
	defer drop()
	if err := migrations.Up(dbURL); err != nil {
		return 0, 0, err
	}
	key := make([]byte, store.KeySize)
	if _, err := rand.Read(key); err != nil {
		return 0, 0, err
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: dbURL, Key: key})
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()

	t0 := time.Now()
	for i := range sc.agents {
		if err := st.AgentHello(ctx, store.Agent{ID: fmt.Sprintf("bench-agent-%03d", i), MCUCapacity: sc.agentMCU,
			Version: "bench", Labels: map[string]string{"zone": fmt.Sprintf("z%d", i%3)}, ServerID: "bench"}); err != nil {
			return 0, 0, fmt.Errorf("register agent: %w", err)
		}
	}
	wls := schedWorkloads(n)
	var wantWorkers, wantMCU int
	for _, w := range wls {
		wantWorkers += w.workers
		wantMCU += w.workers * w.mcu
	}
	if wantMCU > sc.agents*sc.agentMCU {
		return 0, 0, fmt.Errorf("%d workloads want %d MCU; %d agents of %d MCU have %d", n, wantMCU, sc.agents, sc.agentMCU, sc.agents*sc.agentMCU)
	}
	if err := createWorkloads(ctx, st, wls); err != nil {
		return 0, 0, err
	}
	pool := st.Pool()
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return 0, 0, err
	}
	logf("scheduler %d: %d agents, %d workloads (%d workers, %d MCU of %d) created in %v", n, sc.agents, n, wantWorkers,
		wantMCU, sc.agents*sc.agentMCU, time.Since(t0).Round(time.Millisecond))

	lead, err := st.LeaderAcquire(ctx, "bench")
	if err != nil || lead == nil {
		return 0, 0, fmt.Errorf("acquire leadership: %v", err)
	}
	defer lead.Release()

	var prof *os.File
	if profile != "" {
		if prof, err = os.Create(profile); err != nil {
			return 0, 0, err
		}
		defer prof.Close()
		if err := pprof.StartCPUProfile(prof); err != nil {
			return 0, 0, err
		}
		defer func() {
			pprof.StopCPUProfile()
			logf("CPU profile written to %s", profile)
		}()
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var firsts, runnings, steadies []float64
	// CPU time of this process and of Postgres, summed over the first and steady reconciles:
	// steadier than wall time on a shared machine.
	var firstCPU, steadyCPU [2]time.Duration
	for run := range sc.runs {
		if err := resetPlacement(ctx, pool); err != nil {
			return 0, 0, err
		}
		// A new leader, as after a fail-over: nothing remembered, shapes computed afresh (a new
		// compiler's cache, by ARN and version; its checks that read secrets are left out).
		compiler := workload.New(workload.Config{Store: st, Logger: log})
		leader, err := scheduler.NewLeader(scheduler.LeaderConfig{Store: st, ID: "bench", Shape: compiler.CachedShape, Logger: log})
		if err != nil {
			return 0, 0, err
		}
		reconcile := func(phase string) (ms float64, cpu time.Duration, err error) {
			// Live agents heartbeat every few seconds; a slow reconcile must not see them expire.
			if _, err := pool.Exec(ctx, `UPDATE agents SET last_heartbeat = now()`); err != nil {
				return 0, 0, err
			}
			self0, pg0 := selfCPU(), postgresCPU(pg.dataDir)
			t := time.Now()
			pprof.Do(ctx, pprof.Labels("phase", phase), func(ctx context.Context) { err = leader.Reconcile(ctx, lead.Term) })
			ms = float64(time.Since(t).Microseconds()) / 1000
			selfD, pgD := selfCPU()-self0, postgresCPU(pg.dataDir)-pg0
			cpu = selfD + pgD
			switch phase {
			case "first":
				firstCPU[0], firstCPU[1] = firstCPU[0]+selfD, firstCPU[1]+pgD
			case "steady":
				steadyCPU[0], steadyCPU[1] = steadyCPU[0]+selfD, steadyCPU[1]+pgD
			}
			return ms, cpu, err
		}

		ms, _, err := reconcile("first")
		if err != nil {
			return 0, 0, fmt.Errorf("first reconcile: %w", err)
		}
		firsts = append(firsts, ms)
		if err := checkPlaced(ctx, pool, wantWorkers); err != nil {
			return 0, 0, err
		}

		// The agents start every worker and report it RUNNING (as WorkerReportPut would); by
		// then autovacuum has analyzed the new rows.
		for _, q := range []string{
			`UPDATE workers SET reported_agent = agent_id, reported_state = 'RUNNING', reported_epoch = epoch, reported_at = now()`,
			`VACUUM ANALYZE workers, workload_events`,
		} {
			if _, err := pool.Exec(ctx, q); err != nil {
				return 0, 0, err
			}
		}
		if ms, _, err = reconcile("running"); err != nil {
			return 0, 0, fmt.Errorf("running reconcile: %w", err)
		}
		runnings = append(runnings, ms)
		var notRunning int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM connectors WHERE state <> 'RUNNING') +
			(SELECT count(*) FROM replicators WHERE state <> 'RUNNING')`).Scan(&notRunning); err != nil {
			return 0, 0, err
		}
		if notRunning > 0 {
			return 0, 0, fmt.Errorf("%d workloads are not RUNNING after every worker reported RUNNING", notRunning)
		}

		writes0, err := planWrites(ctx, pool)
		if err != nil {
			return 0, 0, err
		}
		for range sc.steady {
			ms, _, err := reconcile("steady")
			if err != nil {
				return 0, 0, fmt.Errorf("steady reconcile: %w", err)
			}
			steadies = append(steadies, ms)
		}
		if writes, err := planWrites(ctx, pool); err != nil {
			return 0, 0, err
		} else if writes != writes0 {
			return 0, 0, fmt.Errorf("steady reconciles changed the placement: %s, then %s", writes0, writes)
		}
		logf("scheduler %d run %d: first %.1f ms, running %.1f ms, steady %.1f ms", n, run+1, firsts[run], ms,
			median(steadies[len(steadies)-sc.steady:]))
	}
	first, steady = median(firsts), median(steadies)
	perRun := func(cpu [2]time.Duration, k int) string {
		pgCPU := "?"
		if pg.dataDir != "" {
			pgCPU = (cpu[1] / time.Duration(k)).Round(100 * time.Microsecond).String()
		}
		return fmt.Sprintf("CPU per reconcile: this process %v, Postgres %s", (cpu[0] / time.Duration(k)).Round(100*time.Microsecond), pgCPU)
	}
	logf("scheduler %d: median first %.1f ms (%.1f µs/workload; %s), running %.1f ms, steady %.1f ms (%.1f µs/workload; %s)",
		n, first, first*1000/float64(n), perRun(firstCPU, len(firsts)), median(runnings), steady, steady*1000/float64(n),
		perRun(steadyCPU, len(steadies)))
	return first, steady, nil
}

// createWorkloads stores the workloads, 8 at a time.
func createWorkloads(ctx context.Context, st *store.Store, wls []schedWorkload) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(wls) {
					return
				}
				w := wls[i]
				res, tags, err := w.resource()
				if err == nil {
					table := st.Connectors
					if w.kind == workload.KindReplicator {
						table = st.Replicators
					}
					err = table.Create(ctx, res, tags, nil)
				}
				if err != nil {
					errs <- fmt.Errorf("create %s %s: %w", w.kind, w.name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// resetPlacement returns the database to "every workload just created": no workers, no
// events, every workload CREATING, every agent's lease fresh.
func resetPlacement(ctx context.Context, pool *pgxpool.Pool) error {
	for _, q := range []string{
		`TRUNCATE workers, workload_events`,
		`UPDATE connectors SET state = 'CREATING', state_code = '', state_message = ''`,
		`UPDATE replicators SET state = 'CREATING', state_code = '', state_message = ''`,
		`UPDATE agents SET state = 'ALIVE', last_heartbeat = now(), generation = 0`,
		// workers and workload_events keep the statistics TRUNCATE leaves, as in a fresh
		// database; the others are analyzed as autovacuum would have after their creation.
		`VACUUM ANALYZE connectors, replicators, agents`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	return nil
}

// checkPlaced fails unless every one of the want workers is placed, within every agent's
// capacity, and no workload waits for capacity.
func checkPlaced(ctx context.Context, pool *pgxpool.Pool, want int) error {
	var total, placed, waiting, overCommitted int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(agent_id) FROM workers WHERE NOT stopping`).Scan(&total, &placed); err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM connectors WHERE state_code = 'INSUFFICIENT_CAPACITY') +
		(SELECT count(*) FROM replicators WHERE state_code = 'INSUFFICIENT_CAPACITY')`).Scan(&waiting); err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT a.id FROM agents a JOIN workers w ON w.agent_id = a.id
		GROUP BY a.id, a.mcu_capacity HAVING sum(w.mcu) > a.mcu_capacity) x`).Scan(&overCommitted); err != nil {
		return err
	}
	if total != want || placed != want || waiting > 0 || overCommitted > 0 {
		return fmt.Errorf("after the first reconcile: %d of %d workers exist, %d placed, %d workloads wait for capacity, %d agents over-committed",
			total, want, placed, waiting, overCommitted)
	}
	return nil
}

// planWrites summarises what plans wrote (to check that steady reconciles write nothing).
func planWrites(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var events, gens int64
	var workers time.Time
	err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM workload_events), (SELECT coalesce(sum(generation), 0) FROM agents),
		(SELECT coalesce(max(updated_at), 'epoch') FROM workers)`).Scan(&events, &gens, &workers)
	return fmt.Sprintf("%d events, generations sum %d, workers updated at %s", events, gens, workers.Format(time.RFC3339Nano)), err
}
