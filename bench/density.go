package main

// The density benchmarks: what many small connectors cost on one agent.
//
// Set-up, on loopback (startDevEnv): `fjord dev --agents 0` as a child process (Postgres, the
// API server, the kfake clusters "source" and "target") and one `fjord agent --mcu
// -density-mcu` (50) child process, whose workers (`fjord worker`) are its children. One agent
// offering the host's capacity is what a platform team runs: an agent per host (the default
// agent id is claimed per host), its --mcu the share of the host given to workers; two agents
// on one host would only add a second agent process and its stream, and split the packing.
// startDevEnv drops the fjord binary from the page cache before it starts (evictPageCache), so
// that its processes map it as a host loads it from disk (see below).
//
// -density-connectors (50) topics of -density-partitions partitions (1) are created on the
// source with -density-records records each (10), then as many connectors through the
// kafkaconnect API (the aws-sdk-go-v2 client; a custom plugin, then CreateConnector with
// provisionedCapacity 1 worker × 1 MCU), each a MirrorSourceConnector with tasks.max 1 copying
// its own topic source → target (the connector's kafkaCluster is the target: its Connect
// runtime topics live there). The CreateConnector calls are issued at once, as a client
// creating a batch of connectors would (16 in flight).
//
//   - agent_density_create_to_running_s: from the first CreateConnector call until
//     DescribeConnector (polled for each connector not yet RUNNING, sweep after sweep, 50 ms
//     apart) has said RUNNING for all of them. Baseline: the 15 s target. Afterwards every copy
//     is checked: source.<topic> on the target must hold the topic's records.
//   - agent_density_rss_total_mib: resident memory (/proc/<pid>/smaps_rollup Rss) of the agent
//     and all its worker processes together, idle, -density-settle (20 s) after every copy
//     was complete. Baseline: the target, 40 MiB per worker.
//   - agent_density_rss_per_worker_mib: the median worker's Rss. Baseline: the 40 MiB target.
//   - agent_density_pss_total_mib, agent_density_pss_per_worker_mib: the same with Pss, in
//     which a page that n processes share counts 1/n in each: what the host spends. Rss counts
//     the pages of the fjord binary that a worker maps (its code, read-only data and the
//     function tables the Go runtime reads: ~30 MiB) in every worker, though the host holds
//     them once. Same baselines.
//   - agent_density_idle_cpu_percent: CPU time (utime + stime of /proc/<pid>/stat) of the
//     agent and its workers together, with no traffic, as a percentage of one core. Baseline:
//     the 10 % target. (fjord dev's, which serves the workers' idle fetches, is logged, not
//     counted.)
//
// The idle figures are measured over -density-rounds (3) consecutive windows of
// -density-window (10 s), a round per window (memory sampled at each window's end); the worker
// processes must be the same at the start and the end (none restarted). The whole suite takes
// about a minute (plus the build of fjord without -fjord).
//
// A run on the shared 2-core machine (load average 0.3–0.5 then):
//
//	{"bench":"agent_density_create_to_running_s","value":1.252,"unit":"s","baseline":15,"ratio":0.083,"min":0.083,"max":0.083,"rounds":1}
//	{"bench":"agent_density_rss_total_mib","value":2066.648,"unit":"MiB","baseline":2000,"ratio":1.033,"min":1.024,"max":1.045,"rounds":3}
//	{"bench":"agent_density_rss_per_worker_mib","value":40.445,"unit":"MiB","baseline":40,"ratio":1.011,"min":1.001,"max":1.021,"rounds":3}
//	{"bench":"agent_density_pss_total_mib","value":540.389,"unit":"MiB","baseline":2000,"ratio":0.27,"min":0.261,"max":0.281,"rounds":3}
//	{"bench":"agent_density_pss_per_worker_mib","value":10.481,"unit":"MiB","baseline":40,"ratio":0.262,"min":0.252,"max":0.273,"rounds":3}
//	{"bench":"agent_density_idle_cpu_percent","value":5.296,"unit":"%","baseline":10,"ratio":0.53,"min":0.529,"max":0.53,"rounds":3}
//
// What the figures showed, and what was done:
//
//   - A third of an idle worker's heap was client telemetry (KIP-714): kfake asks every client
//     for all its metrics every 30 s, and each franz-go client kept gzip and lz4 compressors
//     (4 MiB lz4 blocks) for the pushes; a worker's anonymous memory grew to 18.6 MiB. A broker
//     offers telemetry only with a telemetry plugin (MSK offers none), so fjord dev's clusters
//     no longer do: 10–11 MiB now, of which the Go heap is ~3.5 MiB live (mostly what the
//     packages of the one fjord binary allocate at init: the AWS SDK's schemas and endpoint
//     tables, regular expressions, protobuf descriptors) with the GC letting it grow to twice
//     that between collections. Three ARN patterns with `{1,512}` held 66 KB each in every
//     process and were a fifth of the init allocations (5.0 → 4.0 MB): bounded apart now.
//   - Rss depends on how the binary sits in the page cache: on this kernel (6.18, ext4 with
//     large folios) a binary the Go linker has just written is cached in large folios, and
//     the kernel maps a whole folio into a process that touches one page of it: each worker
//     mapped ~40 MiB of the binary (14.8 MiB of its 19 MiB function tables already at
//     start), against ~30 MiB (5.5 MiB) for the same binary read back from disk, as a host
//     runs it.
//   - Idle CPU (~0.1 % of a core per worker: its fetch long-poll every 500 ms, offset flush
//     ticks, metadata and topic refreshes every 5 s; the agent ~0.5 % for all 50) and
//     create→RUNNING (the 50 workers spawned and RUNNING within ~2 s) meet their targets.
//   - agent_density_rss_per_worker_mib misses 40 MiB by 0.5–1 MiB (41.7 before the
//     patterns; 46–52 MiB with telemetry and the linker's page cache), and where it lands
//     depends on the GC cycle (a worker's anonymous memory climbs ~0.5 MiB per 10 s idle, the
//     metadata of its topic refreshes every 5 s, until a collection). What it misses by is
//     shared pages of the one fjord binary. A worker-only binary would take them out: a main with
//     only the worker's packages (workers/..., prometheus; no server, API models, Postgres,
//     kfake, grpc-gateway), read from disk and waiting for its spec, had an Rss of 24.7 MiB
//     against fjord worker's 35.0 MiB (before the patterns were bounded): 18.4 MiB of the
//     binary mapped against 25.3, 4.8 MiB anonymous against 8.0 (its packages allocate
//     2.3 MB at init against 5.0 MB), so
//     ~10 MiB less Rss and ~3 MiB less real memory per worker. It would need the agent to find
//     and start it (a --worker-command, or a fjord-worker beside fjord) and the image and
//     packages to ship it.

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type densityConfig struct {
	fjord      string
	connectors int
	mcu        int
	partitions int
	records    int
	settle     time.Duration
	window     time.Duration
	rounds     int
}

func (dc *densityConfig) register() {
	flag.IntVar(&dc.connectors, "density-connectors", 50, "connectors of 1 worker × 1 MCU in the density suite")
	flag.IntVar(&dc.mcu, "density-mcu", 50, "MCU offered by the density suite's agent")
	flag.IntVar(&dc.partitions, "density-partitions", 1, "partitions of each connector's topic in the density suite")
	flag.IntVar(&dc.records, "density-records", 10, "records on each connector's topic, checked on the target")
	flag.DurationVar(&dc.settle, "density-settle", 20*time.Second, "idle time before the density suite's idle measurements")
	flag.DurationVar(&dc.window, "density-window", 10*time.Second, "length of each idle measurement window of the density suite")
	flag.IntVar(&dc.rounds, "density-rounds", 3, "idle measurement windows of the density suite")
}

func runDensitySuite(dc densityConfig, fjordBin string) error {
	dc.fjord = fjordBin
	logf("density: %d connectors (1 worker × 1 MCU, tasks.max 1, one topic of %d partitions each) on one agent of %d MCU; idle over %d windows of %v after %v",
		dc.connectors, dc.partitions, dc.mcu, dc.rounds, dc.window, dc.settle)
	results, err := runDensity(context.Background(), dc)
	if err != nil {
		return err
	}
	return emit(os.Stdout, results...)
}

func runDensity(ctx context.Context, dc densityConfig) (out []result, err error) {
	if dc.connectors < 1 || dc.mcu < dc.connectors || dc.rounds < 1 || dc.partitions < 1 || dc.records < 1 {
		return nil, fmt.Errorf("density: need -density-connectors ≥ 1, -density-mcu ≥ connectors, -density-partitions, -density-records and -density-rounds ≥ 1")
	}
	f, err := startDevEnv(ctx, "fjord-bench-density-", dc.fjord, nil, agentSpec{id: "density-agent", mcu: dc.mcu})
	if err != nil {
		return nil, err
	}
	defer func() { f.stop(err) }()
	if err := writePlugin(filepath.Join(f.dir, "dev", "s3", "bench", "plugin.zip")); err != nil {
		return nil, err
	}
	agentPID, devPID := f.agents["density-agent"].cmd.Process.Pid, f.children[0].cmd.Process.Pid

	// The topics, with their records.
	src, tgt, closeClients, err := f.clients(producerOpts(f.srcAddr)...)
	if err != nil {
		return nil, err
	}
	defer closeClients()
	topics := make([]string, dc.connectors)
	for i := range topics {
		topics[i] = fmt.Sprintf("density-%03d", i)
	}
	if err := createTopics(ctx, kadm.NewClient(src), int32(dc.partitions), topics...); err != nil {
		return nil, err
	}
	var produceErr atomic.Pointer[error]
	for _, t := range topics {
		for j := range dc.records {
			r := &kgo.Record{Topic: t, Partition: int32(j % dc.partitions), Key: fmt.Appendf(nil, "key-%d", j), Value: []byte("density")}
			src.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					produceErr.CompareAndSwap(nil, &err)
				}
			})
		}
	}
	if err := src.Flush(ctx); err != nil {
		return nil, err
	}
	if e := produceErr.Load(); e != nil {
		return nil, fmt.Errorf("produce to the density topics: %w", *e)
	}

	kc := kafkaconnect.NewFromConfig(sdkConfig("http://"+f.httpAddr, 16))
	plugin, err := activePlugin(ctx, kc, "density-plugin")
	if err != nil {
		return nil, err
	}

	// ---- create → RUNNING ----
	arns := make([]string, dc.connectors)
	var next atomic.Int64
	var wg sync.WaitGroup
	var createErr atomic.Pointer[error]
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= dc.connectors || createErr.Load() != nil {
					return
				}
				c, err := kc.CreateConnector(ctx, densityConnector(topics[i], f.srcAddr, f.tgtAddr, plugin))
				if err != nil {
					err = fmt.Errorf("create connector %s: %w", topics[i], err)
					createErr.CompareAndSwap(nil, &err)
					return
				}
				arns[i] = aws.ToString(c.ConnectorArn)
			}
		}()
	}
	wg.Wait()
	if e := createErr.Load(); e != nil {
		return nil, *e
	}
	created := time.Since(start)
	pending := slices.Clone(arns)
	for {
		var still []string
		for _, arn := range pending {
			d, err := kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
			if err != nil {
				return nil, fmt.Errorf("describe connector: %w", err)
			}
			switch d.ConnectorState {
			case kctypes.ConnectorStateRunning:
			case kctypes.ConnectorStateFailed:
				msg := ""
				if d.StateDescription != nil {
					msg = aws.ToString(d.StateDescription.Message)
				}
				return nil, fmt.Errorf("connector %s FAILED: %s", aws.ToString(d.ConnectorName), msg)
			default:
				still = append(still, arn)
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		if time.Since(start) > 3*time.Minute {
			return nil, fmt.Errorf("%d of %d connectors not RUNNING 3 minutes after the first CreateConnector", len(pending), dc.connectors)
		}
		time.Sleep(50 * time.Millisecond)
	}
	toRunning := time.Since(start)
	logf("density: %d CreateConnector calls took %v; all RUNNING %v after the first", dc.connectors, created.Round(time.Millisecond), toRunning.Round(time.Millisecond))

	// Every copy complete, then idle.
	t0 := time.Now()
	if err := waitCopies(ctx, kadm.NewClient(tgt), topics, int64(dc.records)); err != nil {
		return nil, err
	}
	logf("density: every topic copied %v after all RUNNING", time.Since(t0).Round(time.Millisecond))
	time.Sleep(dc.settle)

	// ---- idle: memory and CPU of the agent and its workers ----
	workers, err := childPIDs(agentPID)
	if err != nil {
		return nil, err
	}
	if len(workers) != dc.connectors {
		return nil, fmt.Errorf("the agent has %d child processes, want %d workers", len(workers), dc.connectors)
	}
	pids := append([]int{agentPID}, workers...)
	rssTotal := newPaired("agent_density_rss_total_mib", "MiB")
	rssWorker := newPaired("agent_density_rss_per_worker_mib", "MiB")
	pssTotal := newPaired("agent_density_pss_total_mib", "MiB")
	pssWorker := newPaired("agent_density_pss_per_worker_mib", "MiB")
	idleCPU := newPaired("agent_density_idle_cpu_percent", "%")
	before, err := cpuTicks(append(pids, devPID))
	if err != nil {
		return nil, err
	}
	for round := 1; round <= dc.rounds; round++ {
		w0 := time.Now()
		time.Sleep(dc.window)
		after, err := cpuTicks(append(pids, devPID))
		if err != nil {
			return nil, fmt.Errorf("a process is gone during the idle window: %w", err)
		}
		wall := time.Since(w0).Seconds()
		var total int64
		for i := range pids {
			total += after[i] - before[i]
		}
		pct := func(ticks int64) float64 { return float64(ticks) / clockTicks / wall * 100 }
		agentCPU, devCPU := pct(after[0]-before[0]), pct(after[len(pids)]-before[len(pids)])
		before = after
		mem := make([]memUsage, len(pids))
		for i, pid := range pids {
			if mem[i], err = readMem(pid); err != nil {
				return nil, err
			}
		}
		var sum memUsage
		var rss, pss, anon []float64
		for i, m := range mem {
			sum.rss, sum.pss = sum.rss+m.rss, sum.pss+m.pss
			if i > 0 {
				rss, pss, anon = append(rss, mib(m.rss)), append(pss, mib(m.pss)), append(anon, mib(m.anon))
			}
		}
		idleCPU.add(pct(total), 10)
		rssTotal.add(mib(sum.rss), 40*float64(dc.connectors))
		rssWorker.add(median(rss), 40)
		pssTotal.add(mib(sum.pss), 40*float64(dc.connectors))
		pssWorker.add(median(pss), 40)
		logf("density: idle window %d (%.1f s, load average %s): CPU %.1f %% of a core (agent %.1f %%; fjord dev, not counted: %.1f %%); agent Rss %.1f MiB, Pss %.1f MiB, anonymous %.1f MiB; workers' Rss median %.1f MiB (min %.1f, max %.1f), Pss median %.1f MiB, anonymous median %.1f MiB",
			round, wall, loadAverage(), pct(total), agentCPU, devCPU, mib(mem[0].rss), mib(mem[0].pss), mib(mem[0].anon),
			median(rss), slices.Min(rss), slices.Max(rss), median(pss), median(anon))
	}
	now, err := childPIDs(agentPID)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(now, workers) {
		return nil, fmt.Errorf("the agent's workers changed during the idle windows (%d processes before, %d after): a worker restarted", len(workers), len(now))
	}
	return []result{
		single("agent_density_create_to_running_s", "s", toRunning.Seconds(), 15),
		rssTotal.result(), rssWorker.result(), pssTotal.result(), pssWorker.result(), idleCPU.result(),
	}, nil
}

// densityConnector is a small MirrorSource connector: 1 worker of 1 MCU, one task, copying
// topic from the source to the target cluster.
func densityConnector(topic, srcAddr, tgtAddr, pluginARN string) *kafkaconnect.CreateConnectorInput {
	return &kafkaconnect.CreateConnectorInput{
		ConnectorName:       aws.String("density-" + strings.TrimPrefix(topic, "density-")),
		KafkaConnectVersion: aws.String("3.7.x"),
		Capacity:            &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		ConnectorConfiguration: map[string]string{
			"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
			"tasks.max":                        "1",
			"topics":                           topic,
			"source.cluster.alias":             "source",
			"target.cluster.alias":             "target",
			"source.cluster.bootstrap.servers": srcAddr,
			"target.cluster.bootstrap.servers": tgtAddr,
		},
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String(tgtAddr), Vpc: &kctypes.Vpc{Subnets: []string{"subnet-1"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: aws.String(pluginARN), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/bench-density"),
	}
}

// activePlugin creates a custom plugin from the plugin.zip that runDensity put in fjord dev's
// S3 folder and waits until it is ACTIVE.
func activePlugin(ctx context.Context, kc *kafkaconnect.Client, name string) (string, error) {
	p, err := kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String(name), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{
			BucketArn: aws.String("arn:aws:s3:::bench"), FileKey: aws.String("plugin.zip")}},
	})
	if err != nil {
		return "", fmt.Errorf("create custom plugin: %w", err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		d, err := kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: p.CustomPluginArn})
		if err != nil {
			return "", err
		}
		if d.CustomPluginState == kctypes.CustomPluginStateActive {
			return aws.ToString(p.CustomPluginArn), nil
		}
		if d.CustomPluginState == kctypes.CustomPluginStateCreateFailed || time.Now().After(deadline) {
			return "", fmt.Errorf("custom plugin is %s", d.CustomPluginState)
		}
	}
}

// waitCopies waits until source.<topic> on the target holds n records for every topic.
func waitCopies(ctx context.Context, adm *kadm.Client, topics []string, n int64) error {
	remote := make([]string, len(topics))
	for i, t := range topics {
		remote[i] = "source." + t
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		got := map[string]int64{}
		if ends, err := adm.ListEndOffsets(ctx, remote...); err == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					got[o.Topic] += o.Offset
				}
			})
		}
		var short []string
		for _, t := range remote {
			if got[t] < n {
				short = append(short, fmt.Sprintf("%s (%d)", t, got[t]))
			}
		}
		if len(short) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d copies hold fewer than %d records a minute after all RUNNING: %s", len(short), n, strings.Join(short[:min(len(short), 5)], ", "))
		}
	}
}

// childPIDs lists the processes whose parent is pid, sorted.
func childPIDs(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := procStat(p); err == nil && st.ppid == pid {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// cpuTicks is the utime + stime of each process, in clock ticks.
func cpuTicks(pids []int) ([]int64, error) {
	out := make([]int64, len(pids))
	for i, pid := range pids {
		st, err := procStat(pid)
		if err != nil {
			return nil, err
		}
		out[i] = st.utime + st.stime
	}
	return out, nil
}

// memUsage is a process's resident memory in bytes: all of it (Rss), its proportional share
// of pages it shares (Pss), and its anonymous pages (heap, stacks).
type memUsage struct{ rss, pss, anon int64 }

// readMem reads /proc/<pid>/smaps_rollup.
func readMem(pid int) (memUsage, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return memUsage{}, err
	}
	var m memUsage
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			m.rss = kb << 10
		case "Pss:":
			m.pss = kb << 10
		case "Anonymous:":
			m.anon = kb << 10
		}
	}
	if m.rss == 0 {
		return m, fmt.Errorf("/proc/%d/smaps_rollup: no Rss", pid)
	}
	return m, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
