package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// soakDuration is how long TestRunawaySoakDev watches the mix once it settled.
const soakDuration = 5 * time.Minute

// treeRSS is the resident memory of pid and all its descendants, in bytes.
func treeRSS(pid int) int64 {
	var total int64
	var walk func(int)
	walk = func(p int) {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err == nil {
			for _, l := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					total += kb * 1024
				}
			}
		}
		for _, c := range childPIDs(p) {
			walk(c)
		}
	}
	walk(pid)
	return total
}

// topicsOf lists a cluster's topics (internal ones included), sorted.
func topicsOf(t *testing.T, addr string) []string {
	t.Helper()
	cl := openClient(t, addr)
	defer cl.Close()
	md, err := kadm.NewClient(cl).ListTopicsWithInternal(t.Context())
	if err != nil {
		t.Fatalf("list topics of %s: %v", addr, err)
	}
	return slices.Sorted(func(yield func(string) bool) {
		for name := range md {
			if !yield(name) {
				return
			}
		}
	})
}

// TestRunawaySoakDev runs the runaway mix on one `fjord dev` for five minutes, as a
// user would set it up with the aws CLI: two IDENTICAL replicators source→target and
// target→source, and MirrorSource, MirrorCheckpoint and MirrorHeartbeat connectors between the
// same clusters under other aliases (src/dst), with records flowing all along. Once settled,
// the topic sets of both clusters stay the same to the end, and the memory of fjord dev and
// all its processes stays flat.
func TestRunawaySoakDev(t *testing.T) {
	t.Parallel()
	bin := buildFjord(t)
	dataDir := filepath.Join(reachableTempDir(t), "dev")
	d := startDev(t, bin, dataDir)
	clusters := d.clusters(t)

	if err := os.MkdirAll(filepath.Join(dataDir, "s3", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	z := zip.NewWriter(&zb)
	w, _ := z.Create("README")
	_, _ = w.Write([]byte("mm2"))
	_ = z.Close()
	if err := os.WriteFile(filepath.Join(dataDir, "s3", "plugins", "mm2.zip"), zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var plugin struct{ CustomPluginArn string }
	d.aws(t, &plugin, "kafkaconnect", "create-custom-plugin", "--name", "mm2", "--content-type", "ZIP",
		"--location", "s3Location={bucketArn=arn:aws:s3:::plugins,fileKey=mm2.zip}")
	poll(t, time.Minute, "the plugin ACTIVE", func() bool {
		var p struct{ CustomPluginState string }
		d.aws(t, &p, "kafkaconnect", "describe-custom-plugin", "--custom-plugin-arn", plugin.CustomPluginArn)
		return p.CustomPluginState == "ACTIVE"
	})

	input := func(v any) string {
		b, _ := json.Marshal(v)
		f := filepath.Join(t.TempDir(), "input.json")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "file://" + f
	}
	for _, dir := range [][2]string{{"source", "target"}, {"target", "source"}} {
		var rep struct{ ReplicatorArn string }
		d.aws(t, &rep, "kafka", "create-replicator", "--cli-input-json", input(map[string]any{
			"ReplicatorName":          "rep-" + dir[0] + "-" + dir[1],
			"ServiceExecutionRoleArn": "arn:aws:iam::000000000000:role/fjord",
			"KafkaClusters": []any{
				map[string]any{"AmazonMskCluster": map[string]string{"MskClusterArn": clusters[dir[0]]}},
				map[string]any{"AmazonMskCluster": map[string]string{"MskClusterArn": clusters[dir[1]]}},
			},
			"ReplicationInfoList": []any{map[string]any{
				"SourceKafkaClusterArn": clusters[dir[0]], "TargetKafkaClusterArn": clusters[dir[1]], "TargetCompressionType": "NONE",
				"TopicReplication": map[string]any{"TopicsToReplicate": []string{".*"},
					"TopicNameConfiguration": map[string]string{"Type": "IDENTICAL"}},
				"ConsumerGroupReplication": map[string]any{"ConsumerGroupsToReplicate": []string{".*"}},
			}},
		}))
		if rep.ReplicatorArn == "" {
			t.Fatal("create-replicator returned no ARN")
		}
	}
	for _, class := range []string{"MirrorSourceConnector", "MirrorCheckpointConnector", "MirrorHeartbeatConnector"} {
		var conn struct{ ConnectorArn string }
		d.aws(t, &conn, "kafkaconnect", "create-connector", "--cli-input-json", input(map[string]any{
			"connectorName":       strings.ToLower(strings.TrimSuffix(class, "Connector")),
			"kafkaConnectVersion": "3.7.x",
			"capacity":            map[string]any{"provisionedCapacity": map[string]int{"mcuCount": 1, "workerCount": 1}},
			"connectorConfiguration": map[string]string{
				"connector.class":      "org.apache.kafka.connect.mirror." + class,
				"source.cluster.alias": "src", "target.cluster.alias": "dst",
				"source.cluster.bootstrap.servers": d.source, "target.cluster.bootstrap.servers": d.target,
				"topics": ".*", "groups": ".*", "tasks.max": "2",
				"refresh.topics.interval.seconds": "5", "emit.heartbeats.interval.seconds": "1",
				"emit.checkpoints.interval.seconds": "5", "sync.group.offsets.enabled": "true",
			},
			"kafkaCluster": map[string]any{"apacheKafkaCluster": map[string]any{"bootstrapServers": d.target,
				"vpc": map[string]any{"subnets": []string{"local"}}}},
			"kafkaClusterClientAuthentication": map[string]string{"authenticationType": "NONE"},
			"kafkaClusterEncryptionInTransit":  map[string]string{"encryptionType": "PLAINTEXT"},
			"plugins":                          []any{map[string]any{"customPlugin": map[string]any{"customPluginArn": plugin.CustomPluginArn, "revision": 1}}},
			"serviceExecutionRoleArn":          "arn:aws:iam::000000000000:role/fjord",
		}))
		if conn.ConnectorArn == "" {
			t.Fatalf("create-connector %s returned no ARN", class)
		}
	}

	// Records flow all along: a hundred a second into orders on the source.
	createTopics(t, d.source, 3, "orders")
	prod := newClient(t, d.source)
	stop := make(chan struct{})
	produced := make(chan int)
	go func() {
		n := 0
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				produced <- n
				return
			case <-tick.C:
				for range 10 {
					prod.Produce(t.Context(), &kgo.Record{Topic: "orders", Value: []byte(strconv.Itoa(n))}, nil)
					n++
				}
			}
		}
	}()
	defer func() {
		close(stop)
		<-produced
	}()

	// Settled: the same topic sets over 30 s, within 3 minutes.
	var srcTopics, dstTopics []string
	stable := time.Now()
	poll(t, 3*time.Minute, "the topic sets to settle", func() bool {
		s, dd := topicsOf(t, d.source), topicsOf(t, d.target)
		if !slices.Equal(s, srcTopics) || !slices.Equal(dd, dstTopics) {
			srcTopics, dstTopics, stable = s, dd, time.Now()
			return false
		}
		return time.Since(stable) >= 30*time.Second
	})
	t.Logf("settled: %d topics on source %v, %d on target %v", len(srcTopics), srcTopics, len(dstTopics), dstTopics)
	if len(dstTopics) == 0 || !slices.Contains(dstTopics, "orders") || !slices.Contains(dstTopics, "src.orders") {
		t.Fatalf("the mix does not replicate: target topics %v", dstTopics)
	}
	rss0 := treeRSS(d.cmd.Process.Pid)
	maxRSS := rss0
	end := time.Now().Add(soakDuration)
	for time.Now().Before(end) {
		time.Sleep(15 * time.Second)
		s, dd := topicsOf(t, d.source), topicsOf(t, d.target)
		if !slices.Equal(s, srcTopics) || !slices.Equal(dd, dstTopics) {
			t.Fatalf("%s into the soak the topics changed: source %v (was %v), target %v (was %v)",
				time.Until(end).Round(time.Second), s, srcTopics, dd, dstTopics)
		}
		rss := treeRSS(d.cmd.Process.Pid)
		maxRSS = max(maxRSS, rss)
		if d.exited() {
			t.Fatalf("fjord dev exited: %v", d.err)
		}
	}
	rss1 := treeRSS(d.cmd.Process.Pid)
	t.Logf("after %v: topic counts flat (%d source, %d target); fjord dev and its processes %d MiB at the start, %d MiB at the end, %d MiB at most",
		soakDuration, len(srcTopics), len(dstTopics), rss0>>20, rss1>>20, maxRSS>>20)
	if rss1 > rss0+rss0/2 && rss1-rss0 > 256<<20 {
		t.Errorf("memory grew from %d MiB to %d MiB over %v", rss0>>20, rss1>>20, soakDuration)
	}
	for _, topic := range append(slices.Clone(srcTopics), dstTopics...) {
		if strings.Count(topic, "src.") > 1 {
			t.Errorf("topic %q repeats an alias chain", topic)
		}
	}
}
