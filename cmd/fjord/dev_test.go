package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDev runs `fjord dev` twice on one data directory: the first run must come up, print
// its endpoints, serve the aws CLI, run a Kafka cluster that speaks Kafka over TCP, and stop on
// SIGTERM with exit code 0 and no process left behind; the second must find the first's data.
func TestDev(t *testing.T) {
	t.Parallel()
	bin := buildFjord(t)
	dataDir := filepath.Join(reachableTempDir(t), "dev")

	// ---- first run ----
	d := startDev(t, bin, dataDir)
	for _, want := range []string{
		"Fjord dev is ready.",
		"http://" + d.http + "/healthz",
		"gRPC             " + d.grpc,
		"Kafka Connect    http://" + d.rest,
		`Kafka "source"   ` + d.source,
		`Kafka "target"   ` + d.target,
		"Kafka limits     records kept 1h0m0s, at most 32 MiB per partition",
		"data dir         " + dataDir,
		`access key "test", secret "test" → account 000000000000`,
		"aws --endpoint-url http://" + d.http + " kafka list-clusters-v2",
	} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, d.stdout)
		}
	}

	clusters := d.clusters(t)
	if !slices.Equal(slices.Sorted(maps.Keys(clusters)), []string{"source", "target"}) {
		t.Fatalf("list-clusters-v2 shows %v, want source and target", clusters)
	}
	var brokers struct{ BootstrapBrokerString string }
	d.aws(t, &brokers, "kafka", "get-bootstrap-brokers", "--cluster-arn", clusters["source"])
	if brokers.BootstrapBrokerString != d.source {
		t.Errorf("bootstrap brokers of source = %q, want %q", brokers.BootstrapBrokerString, d.source)
	}

	// The source cluster speaks Kafka over TCP: one record in, the same record out.
	produceConsume(t, brokers.BootstrapBrokerString)

	// SIGHUP does not stop fjord dev; without --credentials-file it keeps test/test (used below).
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "fjord dev to log the SIGHUP", func() bool {
		return strings.Contains(d.stderr.String(), "SIGHUP: no --credentials-file to reload")
	})
	if d.exited() {
		t.Fatalf("fjord dev exited on SIGHUP: %v", d.err)
	}

	props := base64.StdEncoding.EncodeToString([]byte("key.converter=org.apache.kafka.connect.storage.StringConverter\n"))
	var wc struct{ WorkerConfigurationArn, WorkerConfigurationState string }
	d.aws(t, &wc, "kafkaconnect", "create-worker-configuration", "--name", "dev-wc", "--properties-file-content", props)
	if wc.WorkerConfigurationState != "ACTIVE" || wc.WorkerConfigurationArn == "" {
		t.Fatalf("create-worker-configuration returned %+v", wc)
	}

	d.sigterm(t)

	// ---- second run, on the same data directory and new ports ----
	d2 := startDev(t, bin, dataDir)
	var list struct {
		WorkerConfigurations []struct{ Name, WorkerConfigurationArn string }
	}
	d2.aws(t, &list, "kafkaconnect", "list-worker-configurations")
	if len(list.WorkerConfigurations) != 1 || list.WorkerConfigurations[0].WorkerConfigurationArn != wc.WorkerConfigurationArn {
		t.Fatalf("after a restart list-worker-configurations shows %+v, want %s", list.WorkerConfigurations, wc.WorkerConfigurationArn)
	}
	// The sealed properties open: the encryption key persisted in the data directory too.
	var desc struct {
		LatestRevision struct{ PropertiesFileContent string }
	}
	d2.aws(t, &desc, "kafkaconnect", "describe-worker-configuration", "--worker-configuration-arn", wc.WorkerConfigurationArn)
	if desc.LatestRevision.PropertiesFileContent != props {
		t.Errorf("properties after a restart = %q, want %q", desc.LatestRevision.PropertiesFileContent, props)
	}
	// The clusters are registered again, with the new addresses, not twice.
	clusters2 := d2.clusters(t)
	if len(clusters2) != 2 || clusters2["source"] != clusters["source"] || clusters2["target"] != clusters["target"] {
		t.Errorf("after a restart clusters are %v, want %v", clusters2, clusters)
	}
	d2.aws(t, &brokers, "kafka", "get-bootstrap-brokers", "--cluster-arn", clusters2["source"])
	if brokers.BootstrapBrokerString != d2.source {
		t.Errorf("bootstrap brokers of source after a restart = %q, want %q", brokers.BootstrapBrokerString, d2.source)
	}
	d2.sigterm(t)
}

// reachableTempDir returns t.TempDir() opened up (with its parents below the system temporary
// directory) to 0755: as root, pgembed runs Postgres as the postgres user, who must be able to
// enter every parent of the cluster directory, and t.TempDir's directories are 0700.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tmp := filepath.Clean(os.TempDir())
	for p := dir; p != tmp && p != filepath.Dir(p); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// devRun is one `fjord dev` process.
type devRun struct {
	*proc
	dataDir                          string
	http, grpc, source, target, rest string
}

func startDev(t *testing.T, bin, dataDir string, extra ...string) *devRun {
	t.Helper()
	d := &devRun{dataDir: dataDir, http: freeAddr(t), grpc: freeAddr(t), source: freeAddr(t), target: freeAddr(t), rest: freeAddr(t)}
	d.proc = startProc(t, "fjord dev", bin, append([]string{"dev",
		"--data-dir", dataDir,
		"--http-addr", d.http,
		"--grpc-addr", d.grpc,
		"--source-kafka-addr", d.source,
		"--target-kafka-addr", d.target,
		"--connect-rest-addr", d.rest,
	}, extra...)...)
	// The cleanup of startProc stops the process; this one, registered later, runs first and
	// looks for survivors only after it: a failing test must not leave Postgres running either.
	t.Cleanup(func() {
		d.stop(t, 15*time.Second)
		for _, pid := range processesUnder(dataDir) {
			t.Errorf("process %d still runs in %s after fjord dev exited; killing it", pid, dataDir)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	waitHealthy(t, d.proc, d.http, 2*time.Minute)
	// The leftover check must see the running Postgres, or it would prove nothing later.
	if pids := processesUnder(dataDir); !slices.ContainsFunc(pids, func(pid int) bool { return pid != d.cmd.Process.Pid }) {
		t.Fatalf("no process but fjord dev (%d) found in %s: %v", d.cmd.Process.Pid, dataDir, pids)
	}
	// /healthz answers as soon as the server listens; the banner follows.
	poll(t, 10*time.Second, "the banner", func() bool {
		if d.exited() {
			t.Fatalf("fjord dev exited: %v", d.err)
		}
		return strings.Contains(d.stdout.String(), "Stop with Ctrl-C.")
	})
	return d
}

// sigterm stops fjord dev with SIGTERM and checks that it exits 0 within 15 s and leaves no
// process running in its data directory.
func (d *devRun) sigterm(t *testing.T) {
	t.Helper()
	t0 := time.Now()
	if !d.stop(t, 15*time.Second) {
		t.FailNow()
	}
	t.Logf("fjord dev stopped %v after SIGTERM", time.Since(t0).Round(time.Millisecond))
	if code := d.exitCode(); code != 0 {
		t.Fatalf("fjord dev exited with %v after SIGTERM, want 0", d.err)
	}
	if pids := processesUnder(d.dataDir); len(pids) > 0 {
		t.Fatalf("processes %v still run in %s after fjord dev exited", pids, d.dataDir)
	}
}

// processesUnder lists the live processes whose command line names dir or whose working
// directory is under it: postgres (which changes into its data directory and rewrites its
// command line in the backends), runuser, or a fjord dev itself.
func processesUnder(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if strings.Contains(string(cmdline), dir) || cwd == dir || strings.HasPrefix(cwd, dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// aws runs the aws CLI against this fjord dev with the test/test credential and decodes its
// JSON output into out.
func (d *devRun) aws(t *testing.T, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", "http://" + d.http, "--output", "json"}, args...)...)
	cmd.Env = childEnv("AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("aws %s printed %q: %v", strings.Join(args, " "), stdout, err)
	}
}

// clusters lists the clusters with the aws CLI: name → ARN.
func (d *devRun) clusters(t *testing.T) map[string]string {
	t.Helper()
	var out struct {
		ClusterInfoList []struct{ ClusterName, ClusterArn, State string }
	}
	d.aws(t, &out, "kafka", "list-clusters-v2")
	m := map[string]string{}
	for _, c := range out.ClusterInfoList {
		if c.State != "ACTIVE" {
			t.Errorf("cluster %s is %s", c.ClusterName, c.State)
		}
		if _, dup := m[c.ClusterName]; dup {
			t.Errorf("cluster %s listed twice", c.ClusterName)
		}
		m[c.ClusterName] = c.ClusterArn
	}
	return m
}

// produceConsume writes one record to a new topic of the cluster at bootstrap and reads it back
// with a second client.
func produceConsume(t *testing.T, bootstrap string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic = "fjord-dev-test"
	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	rec := &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("hello from TestDev")}
	if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", bootstrap, err)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume from %s: no record within the deadline", bootstrap)
		}
		for _, fe := range fetches.Errors() {
			t.Logf("fetch %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		for _, r := range fetches.Records() {
			if string(r.Key) != "k" || string(r.Value) != "hello from TestDev" || r.Partition != rec.Partition || r.Offset != rec.Offset {
				t.Fatalf("consumed %s=%s at %d/%d, want k=hello from TestDev at %d/%d",
					r.Key, r.Value, r.Partition, r.Offset, rec.Partition, rec.Offset)
			}
			return
		}
	}
}

// TestDevKafkaBound: the dev clusters do not keep more than their retention bound. A partition
// given four times its retention.bytes keeps at most the bound plus one segment, its log start
// moves past the first records, and the cluster reports the ID it was given. Like a stock
// broker, it offers no client telemetry (KIP-714).
func TestDevKafkaBound(t *testing.T) {
	t.Parallel()
	if _, err := parseDevKafkaLimits("1h", "1000"); err == nil {
		t.Error("--kafka-retention-bytes 1000 accepted")
	}
	if _, err := parseDevKafkaLimits("0s", "33554432"); err == nil {
		t.Error("--kafka-retention 0s accepted")
	}
	lim, err := parseDevKafkaLimits("1h", "1048576")
	if err != nil {
		t.Fatal(err)
	}
	lim.Every = 100 * time.Millisecond
	addr := freeAddr(t)
	kc, err := startKafka(addr, "fjord-dev-bound", lim)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("big"), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "big"); err != nil {
		t.Fatal(err)
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil || meta.Cluster != "fjord-dev-bound" {
		t.Fatalf("cluster id = %q (%v), want fjord-dev-bound", meta.Cluster, err)
	}
	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bv := range versions {
		if bv.Err != nil {
			t.Fatal(bv.Err)
		}
		for _, k := range []kmsg.Key{kmsg.GetTelemetrySubscriptions, kmsg.PushTelemetry} {
			if _, _, ok := bv.KeyVersions(int16(k)); ok {
				t.Errorf("broker %d offers %s", bv.NodeID, k.Name())
			}
		}
		if _, maxV, ok := bv.KeyVersions(int16(kmsg.Produce)); !ok || maxV < 9 {
			t.Errorf("broker %d offers Produce up to v%d (%v), want a current protocol", bv.NodeID, maxV, ok)
		}
	}
	const total = 4 << 20
	value := make([]byte, 16<<10)
	for i := 0; i < total/len(value); i++ {
		_, _ = rand.Read(value) // incompressible
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var size, start int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		dirs, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		size = 0
		dirs.Each(func(d kadm.DescribedLogDir) {
			for _, p := range d.Topics["big"] {
				size += p.Size
			}
		})
		starts, err := adm.ListStartOffsets(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := starts.Lookup("big", 0)
		start = o.Offset
		if size <= lim.RetentionBytes+lim.segmentBytes() && start > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s partition big holds %d bytes from offset %d; want at most %d and a log start past 0",
				size, start, lim.RetentionBytes+lim.segmentBytes())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("produced %d bytes; the partition keeps %d bytes from offset %d", total, size, start)
}
