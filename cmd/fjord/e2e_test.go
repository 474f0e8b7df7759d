package main

// End-to-end tests of the data plane (issue 3's acceptance) with real processes: Postgres
// (pgtest), two kfake clusters in the test process reached over TCP, `fjord server`, and
// `fjord agent`s whose workers are `fjord worker` child processes. They check data, not just
// states: every record produced to the source is looked up on the target by the coordinates
// written into its value, and compared field by field.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/store/pgtest"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

// The connector classes, as in connector.class.
const (
	classSource     = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
	classCheckpoint = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
	classHeartbeat  = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"
)

// TestReplicatorE2E: a replicator created through aws-sdk-go-v2 (amazonMskCluster form,
// startingPosition EARLIEST) reaches RUNNING; 100,000 records on 3 topics × 6 partitions, half
// produced before the replicator exists and half after, appear on the target under
// <alias>.<topic> identical and in order; a topic created afterwards is replicated without an
// API call; a second replicator does the same with IDENTICAL names.
func TestReplicatorE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second)
	f.startAgent(t, "agent-1", 4)
	ctx := t.Context()

	orders := []string{"orders.0", "orders.1", "orders.2"}
	idents := []string{"ident.0", "ident.1", "ident.2"}
	createTopics(t, f.src, 6, append(slices.Clone(orders), idents...)...)
	prod := newProducer(t, f.src)

	const total = 100_000
	c := newCorpus()
	c.produce(t, prod, orders, 6, total/2)

	t0 := time.Now()
	arn := f.createReplicator(t, "rep-prefixed", []string{`orders\..*`}, ktypes.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias)
	f.waitReplicatorRunning(t, arn, time.Minute)
	t.Logf("replicator create→RUNNING: %.2f s", time.Since(t0).Seconds())

	d, err := f.api.k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	alias := aws.ToString(d.ReplicationInfoList[0].SourceKafkaClusterAlias)
	if alias == "" || aws.ToString(d.KafkaClusters[0].KafkaClusterAlias) != alias {
		t.Fatalf("source alias %q, clusters %+v", alias, d.KafkaClusters)
	}

	c.produce(t, prod, orders, 6, total/2)
	check := newMirrorCheck(t, c, f.tgt, func(topic string) string { return alias + "." + topic }, `^`+regexp.QuoteMeta(alias)+`\.orders\.`)
	t1 := time.Now()
	check.waitComplete(t, 3*time.Minute, fmt.Sprintf("%d records under %s.orders.*", total, alias))
	t.Logf("%d records replicated to %s.orders.* (%d partitions) %.1f s after the second half was produced; %d duplicates",
		check.seen-check.dups, alias, len(c.partitions()), time.Since(t1).Seconds(), check.dups)
	samePartitionCounts(t, f.src, f.tgt, orders, func(s string) string { return alias + "." + s })

	// A topic created after the start is picked up by the refresh: no API call.
	createTopics(t, f.src, 4, "orders.late")
	c.produce(t, prod, []string{"orders.late"}, 4, 2000)
	t2 := time.Now()
	check.waitComplete(t, 2*time.Minute, "the records of orders.late, a topic created after the start")
	t.Logf("orders.late (created after the start) replicated %.1f s after its records were produced", time.Since(t2).Seconds())
	samePartitionCounts(t, f.src, f.tgt, []string{"orders.late"}, func(s string) string { return alias + "." + s })

	// IDENTICAL names.
	ci := newCorpus()
	ci.produce(t, prod, idents, 6, 9000)
	t3 := time.Now()
	arn2 := f.createReplicator(t, "rep-identical", []string{`ident\..*`}, ktypes.ReplicationTopicNameConfigurationTypeIdentical)
	f.waitReplicatorRunning(t, arn2, time.Minute)
	t.Logf("IDENTICAL replicator create→RUNNING: %.2f s", time.Since(t3).Seconds())
	ci.produce(t, prod, idents, 6, 9000)
	checkI := newMirrorCheck(t, ci, f.tgt, func(topic string) string { return topic }, `^ident\.`)
	checkI.waitComplete(t, 2*time.Minute, "18,000 records under identical names")
	t.Logf("IDENTICAL: %d records replicated; %d duplicates", checkI.seen-checkI.dups, checkI.dups)
	samePartitionCounts(t, f.src, f.tgt, idents, func(s string) string { return s })
}

// TestConnectorsE2E: the MSK Connect path. Three connectors created with CreateConnector from
// MirrorMaker 2 keys replicate the way a replicator does, the heartbeats topic appears and a
// checkpoint is emitted; an unknown connector.class fails naming it; a connector larger than any
// agent waits in CREATING, saying how many MCU are missing, and runs once a big enough agent
// joins; deleting a running connector stops its writes and removes it from ListConnectors.
func TestConnectorsE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second)
	f.startAgent(t, "agent-small", 4)
	ctx := t.Context()
	plugin := f.customPlugin(t)

	topics := []string{"conn.0", "conn.1", "conn.2"}
	createTopics(t, f.src, 6, topics...)
	prod := newProducer(t, f.src)
	c := newCorpus()
	c.produce(t, prod, topics, 6, 18_000)

	mm2 := func(class string, extra map[string]string) map[string]string {
		m := map[string]string{
			"connector.class":                   class,
			"tasks.max":                         "2",
			"source.cluster.alias":              "east",
			"target.cluster.alias":              "west",
			"source.cluster.bootstrap.servers":  f.src,
			"target.cluster.bootstrap.servers":  f.tgt,
			"topics":                            `conn\..*`,
			"groups":                            "e2e-.*",
			"replication.policy.class":          "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
			"refresh.topics.interval.seconds":   "1",
			"refresh.groups.interval.seconds":   "1",
			"emit.checkpoints.interval.seconds": "1",
			"emit.heartbeats.interval.seconds":  "1",
			"key.converter":                     "org.apache.kafka.connect.converters.ByteArrayConverter",
			"value.converter":                   "org.apache.kafka.connect.converters.ByteArrayConverter",
		}
		maps.Copy(m, extra)
		return m
	}
	t0 := time.Now()
	srcARN := f.createConnector(t, plugin, "mirror-source", 1, mm2(classSource, nil))
	cpARN := f.createConnector(t, plugin, "mirror-checkpoint", 1, mm2(classCheckpoint, nil))
	hbARN := f.createConnector(t, plugin, "mirror-heartbeat", 1, mm2(classHeartbeat, nil))
	bigARN := f.createConnector(t, plugin, "big-heartbeat", 8, mm2(classHeartbeat, map[string]string{"source.cluster.alias": "big"}))

	for _, arn := range []string{srcARN, cpARN, hbARN} {
		f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
		t.Logf("connector %s create→RUNNING: %.2f s", arnName(arn), time.Since(t0).Seconds())
	}

	// A class in none of the connector's plugins is refused at creation, naming itself and the
	// plugin; nothing is stored.
	_, err := f.api.kc.CreateConnector(t.Context(), f.connectorInput(plugin, "jdbc",
		&kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		mm2("io.confluent.connect.jdbc.JdbcSourceConnector", nil)))
	var bad *kctypes.BadRequestException
	if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), "io.confluent.connect.jdbc.JdbcSourceConnector") ||
		!strings.Contains(bad.ErrorMessage(), plugin) {
		t.Errorf("a class in no plugin: %v", err)
	}

	// 8 MCU with a 4-MCU agent: CREATING, with the missing MCU named.
	var big *kafkaconnect.DescribeConnectorOutput
	poll(t, time.Minute, "the 8-MCU connector's capacity message", func() bool {
		big = f.describeConnector(t, bigARN)
		return big.StateDescription != nil && strings.Contains(aws.ToString(big.StateDescription.Message), "8 MCU missing")
	})
	if big.ConnectorState != kctypes.ConnectorStateCreating || aws.ToString(big.StateDescription.Code) != "INSUFFICIENT_CAPACITY" {
		t.Errorf("8-MCU connector without capacity: %s %s", big.ConnectorState, aws.ToString(big.StateDescription.Code))
	}
	t.Logf("8-MCU connector on a 4-MCU fleet: %s, %s: %s", big.ConnectorState, aws.ToString(big.StateDescription.Code), aws.ToString(big.StateDescription.Message))

	// The source connector replicates like a replicator.
	check := newMirrorCheck(t, c, f.tgt, func(topic string) string { return "east." + topic }, `^east\.conn\.`)
	check.waitComplete(t, 2*time.Minute, "18,000 records under east.conn.*")
	t.Logf("MirrorSourceConnector: %d records replicated; %d duplicates", check.seen-check.dups, check.dups)
	samePartitionCounts(t, f.src, f.tgt, topics, func(s string) string { return "east." + s })

	// The heartbeat connector writes MM2 heartbeats east→west.
	waitRecord(t, f.tgt, "heartbeats", time.Minute, "a heartbeat east→west", func(r *kgo.Record) bool {
		h, err := records.DecodeHeartbeat(r.Key, r.Value)
		return err == nil && h.SourceClusterAlias == "east" && h.TargetClusterAlias == "west"
	})
	// The checkpoint connector translates a source group's offset.
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "conn.0", Partition: 0, At: 100, LeaderEpoch: -1})
	if err := kadm.NewClient(newClient(t, f.src)).CommitAllOffsets(ctx, "e2e-group", offs); err != nil {
		t.Fatalf("commit a source group offset: %v", err)
	}
	waitRecord(t, f.tgt, "east.checkpoints.internal", time.Minute, "a checkpoint of e2e-group", func(r *kgo.Record) bool {
		cp, err := records.DecodeCheckpoint(r.Key, r.Value)
		return err == nil && cp.ConsumerGroupID == "e2e-group" && cp.Topic == "east.conn.0" && cp.Partition == 0 && cp.UpstreamOffset == 100
	})

	// A big enough agent joins: the 8-MCU connector runs there.
	t4 := time.Now()
	f.startAgent(t, "agent-big", 8)
	f.waitConnector(t, bigARN, kctypes.ConnectorStateRunning, time.Minute)
	t.Logf("8-MCU connector RUNNING %.2f s after an 8-MCU agent was started", time.Since(t4).Seconds())
	if rows := f.workers(t, bigARN); len(rows) != 1 || rows[0].agent != "agent-big" {
		t.Errorf("8-MCU connector's workers: %+v, want one on agent-big", rows)
	}

	// Deleting the running source connector stops its writes while the source keeps
	// receiving records; it disappears from ListConnectors.
	s := c.stream(t, prod, topics, 6, 3)
	defer s.halt(t)
	targets := []string{"east.conn.0", "east.conn.1", "east.conn.2"}
	before := sumOffsets(endOffsets(t, f.tgt, targets...))
	poll(t, time.Minute, "the source connector to copy the streamed records", func() bool {
		return sumOffsets(endOffsets(t, f.tgt, targets...)) > before+100
	})
	t5 := time.Now()
	if _, err := f.api.kc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(srcARN)}); err != nil {
		t.Fatalf("DeleteConnector: %v", err)
	}
	poll(t, time.Minute, "the deleted connector to leave ListConnectors", func() bool {
		l, err := f.api.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{MaxResults: aws.Int32(100)})
		if err != nil {
			t.Fatalf("ListConnectors: %v", err)
		}
		return !slices.ContainsFunc(l.Connectors, func(c kctypes.ConnectorSummary) bool { return aws.ToString(c.ConnectorArn) == srcARN })
	})
	t.Logf("deleted connector gone from ListConnectors %.2f s after DeleteConnector", time.Since(t5).Seconds())
	if rows := f.workers(t, srcARN); len(rows) != 0 {
		t.Errorf("deleted connector still has workers: %+v", rows)
	}
	// Its writes have stopped: while the source receives more records and the heartbeat
	// connector writes three more heartbeats (seconds of a live data plane), the end offsets
	// of its target topics stay where they were.
	gone := endOffsets(t, f.tgt, targets...)
	srcBefore := sumOffsets(endOffsets(t, f.src, topics...))
	hbBefore := sumOffsets(endOffsets(t, f.tgt, "heartbeats"))
	poll(t, time.Minute, "more source records and three more heartbeats", func() bool {
		return sumOffsets(endOffsets(t, f.src, topics...)) > srcBefore+300 && sumOffsets(endOffsets(t, f.tgt, "heartbeats")) >= hbBefore+3
	})
	if now := endOffsets(t, f.tgt, targets...); !maps.EqualFunc(now, gone, maps.Equal) {
		t.Errorf("target end offsets moved after the connector was deleted: %v → %v", gone, now)
	}
	s.halt(t)
	t.Logf("after the delete the source got %d more records, the target none", sumOffsets(endOffsets(t, f.src, topics...))-srcBefore)
}

// TestFailoverE2E: with two agents, kill -9 the one running a replicator while records stream
// in. Its worker runs on the other agent within TTL + 5 s, and the target ends up holding
// every source record (none lost; duplicates are counted and logged).
func TestFailoverE2E(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	f := startFleet(t, ttl)
	agents := map[string]*fjordAgent{"agent-a": f.startAgent(t, "agent-a", 4), "agent-b": f.startAgent(t, "agent-b", 4)}

	topics := []string{"fo.0", "fo.1", "fo.2"}
	createTopics(t, f.src, 6, topics...)
	prod := newProducer(t, f.src)
	c := newCorpus()
	c.produce(t, prod, topics, 6, 6000)
	arn := f.createReplicator(t, "rep-failover", []string{`fo\..*`}, ktypes.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias)
	f.waitReplicatorRunning(t, arn, time.Minute)

	var w workerRow
	poll(t, time.Minute, "the replicator's worker to run on an agent", func() bool {
		rows := f.workers(t, arn)
		if len(rows) != 1 {
			return false
		}
		w = rows[0]
		return w.agent != "" && w.reportedAgent == w.agent && w.state == "RUNNING" && w.reportedEpoch == w.epoch
	})
	victim := agents[w.agent]
	var survivor string
	for id := range agents {
		if id != w.agent {
			survivor = id
		}
	}
	workerPIDs := childPIDs(victim.cmd.Process.Pid)
	if len(workerPIDs) == 0 {
		t.Fatalf("agent %s (pid %d) runs no worker process", victim.id, victim.cmd.Process.Pid)
	}
	t.Logf("worker %s epoch %d runs on %s (agent pid %d, worker pids %v)", w.id, w.epoch, w.agent, victim.cmd.Process.Pid, workerPIDs)

	// Records stream in (about 1,800 records/s) across the kill.
	s := c.stream(t, prod, topics, 6, 1)
	defer s.halt(t)
	check := newMirrorCheck(t, c, f.tgt, func(topic string) string { return "source." + topic }, `^source\.fo\.`)
	check.waitFor(t, time.Minute, "replication mid-stream", func() bool { return check.seen > 6000+3000 })

	killedAt := time.Now()
	victim.kill(t)
	// Its workers die with it (Pdeathsig).
	poll(t, 10*time.Second, "the killed agent's workers to die with it", func() bool {
		return !slices.ContainsFunc(workerPIDs, alive)
	})
	var moved workerRow
	poll(t, ttl+30*time.Second, "the worker to run on the surviving agent", func() bool {
		rows := f.workers(t, arn)
		if len(rows) != 1 {
			return false
		}
		moved = rows[0]
		return moved.agent == survivor && moved.reportedAgent == survivor && moved.state == "RUNNING" && moved.reportedEpoch == moved.epoch
	})
	failover := time.Since(killedAt)
	t.Logf("failover: worker %s RUNNING on %s with epoch %d %.2f s after kill -9 of %s (lease TTL %v)",
		moved.id, survivor, moved.epoch, failover.Seconds(), victim.id, ttl)
	if moved.epoch <= w.epoch {
		t.Errorf("moved worker epoch %d, want > %d", moved.epoch, w.epoch)
	}
	if failover > ttl+5*time.Second {
		t.Errorf("failover took %.2f s, want at most TTL + 5 s = %v", failover.Seconds(), ttl+5*time.Second)
	}

	// The new worker copies what keeps arriving, then the stream stops and every record must be
	// on the target.
	seenAtFailover := check.seen
	check.waitFor(t, time.Minute, "replication after the failover", func() bool { return check.seen > seenAtFailover+2000 })
	s.halt(t)
	check.waitComplete(t, 2*time.Minute, "every source record on the target after the failover")
	t.Logf("after kill -9: %d source records, all on the target (0 lost), %d duplicates", check.seen-check.dups, check.dups)
	if rows := f.workers(t, arn); len(rows) != 1 || rows[0].agent != survivor {
		t.Errorf("replicator workers at the end: %+v", rows)
	}
}

// TestLeaderFailoverE2E: two `fjord server` processes on one database; exactly one schedules,
// and after kill -9 of it the other takes over within the lease TTL.
func TestLeaderFailoverE2E(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	f := startFleet(t, ttl)
	second := startServer(t, f.bin, f.dbURL, f.keyHex, f.credsFile, f.pluginDir, "--agent-token", f.token, "--lease-ttl", ttl.String())
	servers := []*fjordServer{f.srv, second}
	holder := func() (int64, string) {
		var term int64
		var h string
		if err := f.db.QueryRow(t.Context(), `SELECT term, holder FROM scheduler_leader`).Scan(&term, &h); err != nil {
			t.Fatal(err)
		}
		return term, h
	}
	leaderOf := func(h string) (*fjordServer, *fjordServer) {
		for i, s := range servers {
			if strings.Contains(h, fmt.Sprintf("-%d-", s.cmd.Process.Pid)) {
				return s, servers[1-i]
			}
		}
		t.Fatalf("leadership holder %q is neither server (pids %d, %d)", h, f.srv.cmd.Process.Pid, second.cmd.Process.Pid)
		return nil, nil
	}
	poll(t, time.Minute, "a leader", func() bool { term, _ := holder(); return term >= 1 })
	term, h := holder()
	leader, follower := leaderOf(h)
	poll(t, time.Minute, "the leader to reconcile", func() bool { return serverReconciles(t, leader) >= 3 })
	if n := serverReconciles(t, follower); n != 0 {
		t.Errorf("the follower reconciled %d times", n)
	}
	killedAt := time.Now()
	leader.kill(t)
	poll(t, ttl+30*time.Second, "the other server to take over", func() bool {
		t2, h2 := holder()
		return t2 > term && h2 != h
	})
	_, h2 := holder()
	if s, _ := leaderOf(h2); s != follower {
		t.Fatalf("new holder %s is not the surviving server", h2)
	}
	took := time.Since(killedAt)
	t.Logf("leadership moved %.2f s after kill -9 of the leader (lease TTL %v)", took.Seconds(), ttl)
	if took > ttl {
		t.Errorf("takeover took %.2f s, want within the TTL %v", took.Seconds(), ttl)
	}
	poll(t, time.Minute, "the new leader to reconcile", func() bool { return serverReconciles(t, follower) >= 1 })
}

// TestKcatE2E: kcat (librdkafka) produces to and consumes from both clusters of `fjord dev`,
// and franz-go reads exactly what kcat wrote.
func TestKcatE2E(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatalf("kcat is not installed (apt-get install kcat): %v", err)
	}
	bin := buildFjord(t)
	d := startDev(t, bin, filepath.Join(reachableTempDir(t), "dev"))
	for _, addr := range []string{d.source, d.target} {
		const topic = "kcat-e2e"
		var in strings.Builder
		for i := range 20 {
			fmt.Fprintf(&in, "key-%02d|value %02d from kcat\n", i, i)
		}
		kcat(t, in.String(), "-b", addr, "-P", "-t", topic, "-p", "0", "-K", "|", "-H", "origin=kcat")
		out := kcat(t, "", "-b", addr, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%k|%s|%h|%p|%o\n")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 20 {
			t.Fatalf("kcat -C on %s read %d lines, want 20:\n%s", addr, len(lines), out)
		}
		for i, l := range lines {
			if want := fmt.Sprintf("key-%02d|value %02d from kcat|origin=kcat|0|%d", i, i, i); l != want {
				t.Errorf("kcat -C on %s line %d = %q, want %q", addr, i, l, want)
			}
		}
		// franz-go sees the same records.
		cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		var got []*kgo.Record
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		for len(got) < 20 && ctx.Err() == nil {
			got = append(got, cl.PollFetches(ctx).Records()...)
		}
		cancel()
		if len(got) != 20 {
			t.Fatalf("franz-go read %d of kcat's 20 records from %s", len(got), addr)
		}
		for i, r := range got {
			if string(r.Key) != fmt.Sprintf("key-%02d", i) || string(r.Value) != fmt.Sprintf("value %02d from kcat", i) ||
				len(r.Headers) != 1 || r.Headers[0].Key != "origin" || string(r.Headers[0].Value) != "kcat" {
				t.Errorf("record %d from %s: %s=%s %v", i, addr, r.Key, r.Value, r.Headers)
			}
		}
		// And kcat reads what franz-go wrote.
		rec := &kgo.Record{Topic: topic, Partition: 0, Key: []byte("from-franz"), Value: []byte("hello kcat")}
		p := newProducer(t, addr)
		if err := p.ProduceSync(t.Context(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		out = kcat(t, "", "-b", addr, "-C", "-t", topic, "-p", "0", "-o", "20", "-e", "-q", "-f", "%k=%s\n")
		if out != "from-franz=hello kcat\n" {
			t.Errorf("kcat read %q after franz-go's record, want from-franz=hello kcat", out)
		}
	}
}

// kcat runs kcat with stdin and returns its stdout.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, &stderr)
	}
	return stdout.String()
}

// ---- the fleet ----

// fleet is a Fjord deployment of real processes: a database, two kfake clusters registered as
// "source" and "target" with `fjord clusters register`, a `fjord server` and its agents.
type fleet struct {
	bin, dbURL, keyHex, credsFile, pluginDir, token, tokenFile string
	// caFile is the Fjord CA (PEM, read from the database once the server created it) and
	// stateDir holds each agent's enrolled identity (stateDir/<id>).
	caFile, stateDir string
	db               *pgxpool.Pool
	srv              *fjordServer
	api              *apiClients
	// src and tgt are the bootstrap addresses of the clusters; srcARN and tgtARN their ARNs.
	src, tgt, srcARN, tgtARN string
}

// startFleet starts the database, the clusters and the server (lease TTL ttl); agents are
// started with startAgent. Cleanups stop agents first, then the server, then the clusters.
func startFleet(t *testing.T, ttl time.Duration, serverArgs ...string) *fleet {
	t.Helper()
	f := &fleet{bin: buildFjord(t), dbURL: pgtest.URL(t), keyHex: randomKeyHex(t), token: randomKeyHex(t)[:32]}
	dir := t.TempDir()
	f.credsFile = filepath.Join(dir, "credentials.json")
	f.tokenFile = filepath.Join(dir, "agent.token")
	f.pluginDir = filepath.Join(dir, "plugins")
	if err := os.WriteFile(f.credsFile, []byte(`[{"accessKeyId":"test","secretAccessKey":"test","accountId":"000000000000"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.tokenFile, []byte(f.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.pluginDir, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.pluginDir, "plugins", "mm2.zip"), pluginZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(t.Context(), f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	f.db = db
	f.src, f.tgt = startCluster(t), startCluster(t)
	f.srv = startServer(t, f.bin, f.dbURL, f.keyHex, f.credsFile, f.pluginDir,
		append([]string{"--agent-token", f.token, "--lease-ttl", ttl.String()}, serverArgs...)...)
	f.api = newAPIClients(t, f.srv.httpAddr)
	var caPEM string
	if err := db.QueryRow(t.Context(), `SELECT certificate FROM fjord_ca`).Scan(&caPEM); err != nil {
		t.Fatalf("the Fjord CA: %v", err)
	}
	f.caFile, f.stateDir = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "agents")
	if err := os.WriteFile(f.caFile, []byte(caPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	f.srcARN = f.registerCluster(t, "source", f.src)
	f.tgtARN = f.registerCluster(t, "target", f.tgt)
	return f
}

// startCluster starts a one-broker kfake cluster on 127.0.0.1 and returns its address.
func startCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// registerCluster registers a cluster with `fjord clusters register` and returns its ARN.
func (f *fleet) registerCluster(t *testing.T, name, bootstrap string) string {
	t.Helper()
	out := runFjord(t, f.bin, "clusters", "register", "--server", f.srv.grpcAddr, "--name", name, "--bootstrap-servers", bootstrap)
	var reg map[string]string
	if err := json.Unmarshal([]byte(out), &reg); err != nil || reg["clusterArn"] == "" {
		t.Fatalf("clusters register printed %q: %v", out, err)
	}
	return reg["clusterArn"]
}

// fjordAgent is a `fjord agent` child process.
type fjordAgent struct {
	*proc
	id, httpAddr string
}

// startAgent starts `fjord agent` offering mcu and waits until its stream to the server is open.
func (f *fleet) startAgent(t *testing.T, id string, mcu int, extra ...string) *fjordAgent {
	t.Helper()
	return f.startAgentEnv(t, id, mcu, nil, extra...)
}

// startAgentEnv is startAgent with env added to the agent's environment (its workers inherit it).
func (f *fleet) startAgentEnv(t *testing.T, id string, mcu int, env []string, extra ...string) *fjordAgent {
	t.Helper()
	a := &fjordAgent{id: id, httpAddr: freeAddr(t)}
	a.proc = startProcEnv(t, "fjord agent "+id, f.bin, env, append(append([]string{"agent", "--server", f.srv.grpcAddr, "--token-file", f.tokenFile,
		"--mcu", strconv.Itoa(mcu), "--id", id, "--http-addr", a.httpAddr, "--drain-timeout", "10s"}, f.agentTrust(id)...), extra...)...)
	waitOK(t, a.proc, a.httpAddr, "/readyz", time.Minute)
	return a
}

// agentTrust are the flags of agent id's enrollment: the Fjord CA and its own state dir
// (kept across restarts of the agent within the test).
func (f *fleet) agentTrust(id string) []string {
	return []string{"--server-ca", f.caFile, "--state-dir", filepath.Join(f.stateDir, id)}
}

// customPlugin creates an ACTIVE custom plugin and returns its ARN.
func (f *fleet) customPlugin(t *testing.T) string {
	t.Helper()
	out, err := f.api.kc.CreateCustomPlugin(t.Context(), &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String("mm2"), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{
			BucketArn: aws.String("arn:aws:s3:::plugins"), FileKey: aws.String("mm2.zip"),
		}},
	})
	if err != nil {
		t.Fatalf("CreateCustomPlugin: %v", err)
	}
	poll(t, time.Minute, "the custom plugin to become ACTIVE", func() bool {
		d, err := f.api.kc.DescribeCustomPlugin(t.Context(), &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: out.CustomPluginArn})
		if err != nil {
			t.Fatalf("DescribeCustomPlugin: %v", err)
		}
		if d.CustomPluginState == kctypes.CustomPluginStateCreateFailed {
			t.Fatalf("custom plugin failed: %v", d.StateDescription)
		}
		return d.CustomPluginState == kctypes.CustomPluginStateActive
	})
	return aws.ToString(out.CustomPluginArn)
}

// createReplicator creates a replicator from the source to the target cluster, in the
// amazonMskCluster form, starting at EARLIEST and detecting new topics.
func (f *fleet) createReplicator(t *testing.T, name string, topics []string, naming ktypes.ReplicationTopicNameConfigurationType) string {
	t.Helper()
	out, err := f.api.k.CreateReplicator(t.Context(), &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(name),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord-replicator"),
		KafkaClusters: []ktypes.KafkaCluster{
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(f.srcARN)},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}}},
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(f.tgtARN)},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-2"}}},
		},
		ReplicationInfoList: []ktypes.ReplicationInfo{{
			SourceKafkaClusterArn: aws.String(f.srcARN),
			TargetKafkaClusterArn: aws.String(f.tgtARN),
			TargetCompressionType: ktypes.TargetCompressionTypeNone,
			TopicReplication: &ktypes.TopicReplication{
				TopicsToReplicate:      topics,
				DetectAndCopyNewTopics: aws.Bool(true),
				StartingPosition:       &ktypes.ReplicationStartingPosition{Type: ktypes.ReplicationStartingPositionTypeEarliest},
				TopicNameConfiguration: &ktypes.ReplicationTopicNameConfiguration{Type: naming},
			},
			ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
		}},
	})
	if err != nil {
		t.Fatalf("CreateReplicator %s: %v", name, err)
	}
	return aws.ToString(out.ReplicatorArn)
}

// waitReplicatorRunning polls DescribeReplicator until RUNNING, failing on FAILED.
func (f *fleet) waitReplicatorRunning(t *testing.T, arn string, timeout time.Duration) {
	t.Helper()
	poll(t, timeout, "replicator "+arnName(arn)+" RUNNING", func() bool {
		d, err := f.api.k.DescribeReplicator(t.Context(), &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeReplicator: %v", err)
		}
		if d.ReplicatorState == ktypes.ReplicatorStateFailed {
			t.Fatalf("replicator %s FAILED: %s", arn, aws.ToString(d.StateInfo.Message))
		}
		return d.ReplicatorState == ktypes.ReplicatorStateRunning
	})
}

// createConnector creates a connector of one worker of mcu MCU with the given MirrorMaker 2
// configuration, targeting the target cluster.
func (f *fleet) createConnector(t *testing.T, plugin, name string, mcu int32, conf map[string]string) string {
	t.Helper()
	return f.createConnectorWith(t, plugin, name, &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: mcu, WorkerCount: 1}}, conf)
}

func (f *fleet) describeConnector(t *testing.T, arn string) *kafkaconnect.DescribeConnectorOutput {
	t.Helper()
	d, err := f.api.kc.DescribeConnector(t.Context(), &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeConnector: %v", err)
	}
	return d
}

// waitConnector polls DescribeConnector until the connector is in state want; reaching FAILED
// instead fails the test at once.
func (f *fleet) waitConnector(t *testing.T, arn string, want kctypes.ConnectorState, timeout time.Duration) *kafkaconnect.DescribeConnectorOutput {
	t.Helper()
	var d *kafkaconnect.DescribeConnectorOutput
	poll(t, timeout, fmt.Sprintf("connector %s %s", arnName(arn), want), func() bool {
		d = f.describeConnector(t, arn)
		if d.ConnectorState == kctypes.ConnectorStateFailed && want != kctypes.ConnectorStateFailed {
			t.Fatalf("connector %s FAILED: %v", arn, aws.ToString(d.StateDescription.Message))
		}
		return d.ConnectorState == want
	})
	return d
}

// workerRow is a row of the server's workers table.
type workerRow struct {
	id, agent, reportedAgent, state string
	epoch, reportedEpoch            int64
}

// workers reads a workload's desired workers (those not stopping) from the server's database.
func (f *fleet) workers(t *testing.T, arn string) []workerRow {
	t.Helper()
	rows, err := f.db.Query(t.Context(), `SELECT id, coalesce(agent_id, ''), epoch, reported_agent, reported_state, reported_epoch
		FROM workers WHERE workload_arn = $1 AND NOT stopping ORDER BY ordinal`, arn)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []workerRow
	for rows.Next() {
		var w workerRow
		if err := rows.Scan(&w.id, &w.agent, &w.epoch, &w.reportedAgent, &w.state, &w.reportedEpoch); err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// serverReconciles reads a server's count of successful reconciles from its /metrics.
func serverReconciles(t *testing.T, s *fjordServer) int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + s.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, `fjord_scheduler_reconcile_seconds_count{outcome="ok"} `); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// arnName is the resource name in an ARN (…:type/name/uuid), for messages.
func arnName(arn string) string {
	parts := strings.Split(arn, "/")
	if len(parts) >= 2 {
		return parts[1]
	}
	return arn
}

// childPIDs lists the live children of pid.
func childPIDs(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, ok := procStat(child); ok && ppid == pid && state != "Z" {
			out = append(out, child)
		}
	}
	return out
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != "Z"
}

// procStat reads a process's parent and state from /proc/<pid>/stat.
func procStat(pid int) (ppid int, state string, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	// The fields after the command name, which is in parentheses: state, ppid, …
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0], true
}

// ---- Kafka ----

// newClient is a franz-go client of the cluster at addr, closed when t ends.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl := openClient(t, addr, opts...)
	t.Cleanup(cl.Close)
	return cl
}

// openClient is a franz-go client of the cluster at addr; the caller closes it.
func openClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// newProducer is a producer that writes each record to the partition it names (acks=all,
// idempotent, franz-go's defaults otherwise: linger 10 ms, snappy).
func newProducer(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	return newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

func createTopics(t *testing.T, addr string, partitions int32, topics ...string) {
	t.Helper()
	cl := openClient(t, addr)
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(t.Context(), partitions, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topics %v: %v", topics, err)
	}
}

// endOffsets returns the end offsets of topics' partitions: topic → partition → offset.
func endOffsets(t *testing.T, addr string, topics ...string) map[string]map[int32]int64 {
	t.Helper()
	cl := openClient(t, addr)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %v: %v", topics, err)
	}
	out := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out
}

func sumOffsets(m map[string]map[int32]int64) int64 {
	var n int64
	for _, ps := range m {
		for _, o := range ps {
			n += o
		}
	}
	return n
}

// samePartitionCounts checks that each source topic's target topic has as many partitions.
func samePartitionCounts(t *testing.T, src, tgt string, topics []string, targetOf func(string) string) {
	t.Helper()
	s := endOffsets(t, src, topics...)
	var targets []string
	for _, topic := range topics {
		targets = append(targets, targetOf(topic))
	}
	d := endOffsets(t, tgt, targets...)
	for _, topic := range topics {
		if len(s[topic]) != len(d[targetOf(topic)]) {
			t.Errorf("%s has %d partitions, its target %s %d", topic, len(s[topic]), targetOf(topic), len(d[targetOf(topic)]))
		}
	}
}

// waitRecord reads topic on the cluster at addr from the start until a record satisfies match.
func waitRecord(t *testing.T, addr, topic string, timeout time.Duration, what string, match func(*kgo.Record) bool) {
	t.Helper()
	cl := openClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(250*time.Millisecond))
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		found := false
		fs.EachRecord(func(r *kgo.Record) { found = found || match(r) })
		if found {
			return
		}
	}
	t.Fatalf("timed out after %v waiting for %s on %s", timeout, what, topic)
}

// ---- what was produced, and checking the target against it ----

// srcTP is a source topic partition.
type srcTP struct {
	topic     string
	partition int32
}

// wantRecord is a produced record's content, kept apart from the *kgo.Record the producer owns.
type wantRecord struct {
	key, value []byte
	headers    []kgo.RecordHeader
	ts         time.Time
}

// corpus is what a test produced to the source, by partition in offset order. Each value starts
// with "<topic>/<partition>/<seq>/", seq being the record's position in its partition, so that
// a record found on the target names the source record it must equal.
type corpus struct {
	base time.Time
	mu   sync.Mutex
	recs map[srcTP][]wantRecord
}

func newCorpus() *corpus {
	// Explicit timestamps an hour in the past: a copy that stamped its own time would show.
	return &corpus{base: time.Now().Add(-time.Hour).Truncate(time.Millisecond), recs: map[srcTP][]wantRecord{}}
}

// next makes the next record of (topic, partition) and remembers it: 100-byte value, a key
// (none on every 1000th record), two or three headers (one with a null value) and an explicit
// timestamp.
func (c *corpus) next(topic string, partition int32) *kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := srcTP{topic, partition}
	seq := len(c.recs[k])
	value := []byte(fmt.Sprintf("%s/%d/%d/", topic, partition, seq))
	for i := 0; len(value) < 100; i++ {
		value = append(value, byte('a'+(seq+i)%26))
	}
	var key []byte
	if seq%1000 != 999 {
		key = []byte(fmt.Sprintf("key-%s-%d-%d", topic, partition, seq))
	}
	headers := []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(seq))}, {Key: "origin", Value: []byte("e2e")}}
	if seq%10 == 0 {
		headers = append(headers, kgo.RecordHeader{Key: "null-value"})
	}
	ts := c.base.Add(time.Duration(seq) * time.Millisecond)
	c.recs[k] = append(c.recs[k], wantRecord{key: key, value: value, headers: headers, ts: ts})
	return &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: slices.Clone(value), Headers: slices.Clone(headers), Timestamp: ts}
}

func (c *corpus) partitions() []srcTP {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Keys(c.recs))
}

// produce writes n records round-robin over topics × partitions and waits for every
// acknowledgement.
func (c *corpus) produce(t *testing.T, cl *kgo.Client, topics []string, partitions int32, n int) {
	t.Helper()
	var mu sync.Mutex
	var first error
	for i := range n {
		r := c.next(topics[i%len(topics)], int32(i/len(topics))%partitions)
		cl.Produce(t.Context(), r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = cmpOr(first, err)
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if first != nil {
		t.Fatalf("produce: %v", first)
	}
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// streamer produces in the background until halted.
type streamer struct {
	stop, done chan struct{}
	once       sync.Once
	mu         sync.Mutex
	err        error
}

// stream produces perTick records to every partition of topics each 10 ms until halted.
func (c *corpus) stream(t *testing.T, cl *kgo.Client, topics []string, partitions int32, perTick int) *streamer {
	s := &streamer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := cl.Flush(ctx); err != nil {
					s.fail(err)
				}
				return
			case <-tick.C:
			}
			for _, topic := range topics {
				for p := range partitions {
					for range perTick {
						cl.Produce(context.Background(), c.next(topic, p), func(_ *kgo.Record, err error) {
							if err != nil {
								s.fail(err)
							}
						})
					}
				}
			}
		}
	}()
	t.Cleanup(func() { s.halt(t) })
	return s
}

func (s *streamer) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = cmpOr(s.err, err)
}

// halt stops the stream and waits until everything produced is acknowledged.
func (s *streamer) halt(t *testing.T) {
	t.Helper()
	s.once.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		t.Errorf("background produce: %v", s.err)
		s.err = nil
	}
}

// mirrorCheck reads the target topics matching a regex from the start and checks every record
// against the corpus: it must be a produced record, on the target topic and the same partition,
// with the same key, value, headers and timestamp, and records of a partition must come in
// order — each either the next one (new) or one already seen (a duplicate, counted), never a
// later one (a loss or a reordering).
type mirrorCheck struct {
	c        *corpus
	targetOf func(string) string
	cl       *kgo.Client
	next     map[srcTP]int
	seen     int // records read, duplicates included
	dups     int
	errs     []string
}

func newMirrorCheck(t *testing.T, c *corpus, tgt string, targetOf func(string) string, regex string) *mirrorCheck {
	t.Helper()
	// read_committed: replicators deliver exactly once by default, and records of aborted
	// transactions (a killed worker's) are not part of the target's data.
	cl := newClient(t, tgt, kgo.ConsumeRegex(), kgo.ConsumeTopics(regex), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMaxAge(time.Second), kgo.FetchMaxWait(250*time.Millisecond), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	return &mirrorCheck{c: c, targetOf: targetOf, cl: cl, next: map[srcTP]int{}}
}

// complete reports whether every produced record has been read.
func (m *mirrorCheck) complete() bool {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	for k, recs := range m.c.recs {
		if m.next[k] < len(recs) {
			return false
		}
	}
	return len(m.c.recs) > 0
}

func (m *mirrorCheck) waitComplete(t *testing.T, timeout time.Duration, what string) {
	t.Helper()
	m.waitFor(t, timeout, what, m.complete)
}

// waitFor reads the target until cond holds, failing at the first wrong record or after timeout.
func (m *mirrorCheck) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	readUntil(t, m.cl, 500*time.Millisecond, timeout, what, cond, m.add, m.progress, func() []string { return m.errs })
}

// readUntil polls cl (each poll waiting at most poll) and hands every record to add until cond
// holds; it fails the test after timeout (saying status()) or as soon as errs() is not empty.
func readUntil(t *testing.T, cl *kgo.Client, poll, timeout time.Duration, what string, cond func() bool,
	add func(*kgo.Record), status func() string, errs func() []string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, status())
		}
		ctx, cancel := context.WithTimeout(t.Context(), poll)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(add)
		if e := errs(); len(e) > 0 {
			t.Fatalf("wrong records on the target (%d; first ones):\n%s", len(e), strings.Join(e[:min(len(e), 10)], "\n"))
		}
	}
}

func (m *mirrorCheck) add(r *kgo.Record) {
	m.seen++
	f := bytes.SplitN(r.Value, []byte("/"), 4)
	if len(f) < 4 {
		m.errs = append(m.errs, fmt.Sprintf("%s/%d@%d: a record the test did not produce: %q", r.Topic, r.Partition, r.Offset, r.Value))
		return
	}
	p, err1 := strconv.Atoi(string(f[1]))
	seq, err2 := strconv.Atoi(string(f[2]))
	k := srcTP{string(f[0]), int32(p)}
	if err1 != nil || err2 != nil {
		m.errs = append(m.errs, fmt.Sprintf("%s/%d@%d: a record the test did not produce: %q", r.Topic, r.Partition, r.Offset, r.Value))
		return
	}
	where := fmt.Sprintf("%s/%d seq %d (target %s/%d@%d)", k.topic, k.partition, seq, r.Topic, r.Partition, r.Offset)
	if r.Topic != m.targetOf(k.topic) || r.Partition != k.partition {
		m.errs = append(m.errs, where+": on the wrong topic or partition")
		return
	}
	m.c.mu.Lock()
	recs := m.c.recs[k]
	var want wantRecord
	if seq < len(recs) {
		want = recs[seq]
	}
	m.c.mu.Unlock()
	if seq >= len(recs) {
		m.errs = append(m.errs, where+": never produced")
		return
	}
	if diff := recordDiff(want, r); diff != "" {
		m.errs = append(m.errs, where+": "+diff)
		return
	}
	switch next := m.next[k]; {
	case seq == next:
		m.next[k]++
	case seq < next:
		m.dups++
	default:
		m.errs = append(m.errs, fmt.Sprintf("%s: out of order or after a gap: expected seq %d next", where, next))
	}
}

// recordDiff says how got differs from want, or "" if it does not.
func recordDiff(want wantRecord, got *kgo.Record) string {
	var d []string
	if !bytes.Equal(want.key, got.Key) || (want.key == nil) != (got.Key == nil) {
		d = append(d, fmt.Sprintf("key %q, want %q", got.Key, want.key))
	}
	if !bytes.Equal(want.value, got.Value) {
		d = append(d, fmt.Sprintf("value %q, want %q", got.Value, want.value))
	}
	if !got.Timestamp.Equal(want.ts) {
		d = append(d, fmt.Sprintf("timestamp %v, want %v", got.Timestamp, want.ts))
	}
	// Copies under IDENTICAL names end with the provenance header that stops active-active
	// loops; it must be the last one and name the source.
	headers := got.Headers
	if n := len(headers); n > 0 && headers[n-1].Key == "fjord.provenance" {
		if len(headers[n-1].Value) == 0 {
			d = append(d, "empty fjord.provenance header")
		}
		headers = headers[:n-1]
	}
	same := len(want.headers) == len(headers)
	for i := 0; same && i < len(want.headers); i++ {
		w, g := want.headers[i], headers[i]
		same = w.Key == g.Key && bytes.Equal(w.Value, g.Value) && (w.Value == nil) == (g.Value == nil)
	}
	if !same {
		d = append(d, fmt.Sprintf("headers %v, want %v", got.Headers, want.headers))
	}
	return strings.Join(d, "; ")
}

// progress summarises what is still missing.
func (m *mirrorCheck) progress() string {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	var missing []string
	total := 0
	for k, recs := range m.c.recs {
		total += len(recs)
		if m.next[k] < len(recs) {
			missing = append(missing, fmt.Sprintf("%s/%d: %d of %d", k.topic, k.partition, m.next[k], len(recs)))
		}
	}
	slices.Sort(missing)
	return fmt.Sprintf("%d records read (%d duplicates) of %d produced; incomplete partitions: %s",
		m.seen, m.dups, total, strings.Join(missing[:min(len(missing), 8)], ", "))
}
