package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// spyMetrics is a MetricsSink that adds everything up.
type spyMetrics struct {
	mu       sync.Mutex
	records  int64
	bytes    int64
	maxLat   time.Duration
	lag      map[string]int64
	errs     map[string]int
	latCalls int
	polled   int64
	topics   map[string]bool // every topic any Topics call named
}

func (s *spyMetrics) Polled(topic string, p int32, records int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polled += records
}

func (s *spyMetrics) Topics(topics []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics == nil {
		s.topics = map[string]bool{}
	}
	for _, topic := range topics {
		s.topics[topic] = true
	}
}

func (s *spyMetrics) Replicated(topic string, p int32, records, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records += records
	s.bytes += bytes
}

func (s *spyMetrics) Latency(topic string, p int32, mean, max time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latCalls++
	if max > s.maxLat {
		s.maxLat = max
	}
}

func (s *spyMetrics) Lag(topic string, p int32, records int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lag == nil {
		s.lag = map[string]int64{}
	}
	s.lag[fmt.Sprintf("%s/%d", topic, p)] = records
}

func (s *spyMetrics) Error(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errs == nil {
		s.errs = map[string]int{}
	}
	s.errs[op]++
}

// TestReplicateTwoTasks is acceptance (a) and (g): 3 topics × 6 partitions, 30,000 records,
// two tasks at once; every record arrives under source.<topic> with its key, value, headers,
// timestamp and partition, in order; progress is Connect's JSON; offset syncs translate
// every offset exactly.
func TestReplicateTwoTasks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	topics := []string{"orders", "payments", "users"}
	prod := producer(t, e.srcAddrs)
	for _, topic := range topics {
		createTopic(t, e.srcAddrs, topic, 6)
		produceN(t, prod, topic, 6, 0, 5000, 100)
	}
	cfg := e.config(t, nil)
	spy := &spyMetrics{}
	var tasks []*runningTask
	for id := range 2 {
		tasks = append(tasks, startTask(t, SourceOptions{Config: cfg, ConnectorName: "mm2-source", TaskID: id, TaskCount: 2, Metrics: spy}, false))
	}
	for _, topic := range topics { // the second half arrives while the tasks run
		produceN(t, prod, topic, 6, 5000, 5000, 100)
	}
	pairs := map[string]string{}
	for _, topic := range topics {
		pairs[topic] = "source." + topic
	}
	if dups := waitCopied(t, e, pairs, false, 45*time.Second); dups != 0 {
		t.Errorf("%d duplicates without any restart", dups)
	}
	for _, rt := range tasks {
		if err := rt.stop(t); err != nil {
			t.Errorf("Run: %v", err)
		}
	}

	// Partitions were split between the tasks by Owner, and each task wrote the progress of
	// exactly its partitions, in Connect's format.
	progress := readProgressTopic(t, e.tgtAddrs, "mm2-offsets.source.internal")
	srcAdm := kadm.NewClient(client(t, e.srcAddrs))
	ends, err := srcAdm.ListEndOffsets(context.Background(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		key := fmt.Sprintf(`["mm2-source",{"cluster":"source","partition":%d,"topic":"%s"}]`, o.Partition, o.Topic)
		got, ok := progress[key]
		if !ok {
			t.Errorf("no progress record with key %s", key)
			return
		}
		if want := fmt.Sprintf(`{"offset":%d}`, o.Offset-1); got != want {
			t.Errorf("progress %s = %s, want %s", key, got, want)
		}
	})
	if len(progress) != 18 {
		t.Errorf("%d progress keys, want 18", len(progress))
	}
	owned := [2]int{}
	for _, topic := range topics {
		for p := range int32(6) {
			owned[Owner(topic, p, 2)]++
		}
	}
	if owned[0] == 0 || owned[1] == 0 {
		t.Errorf("ownership split %v", owned)
	}

	for _, topic := range topics {
		checkOffsetSyncs(t, e, topic, "source."+topic)
	}

	spy.mu.Lock()
	defer spy.mu.Unlock()
	if spy.records != 30000 || spy.bytes < 30000*100 || spy.latCalls == 0 {
		t.Errorf("metrics: %d records, %d bytes, %d latency reports", spy.records, spy.bytes, spy.latCalls)
	}
	// Every record was fetched once (SourceRecordPollRate), and the tasks replicated 3 topics
	// between them (TopicCount).
	if spy.polled != 30000 || len(spy.topics) != 3 {
		t.Errorf("metrics: %d records polled, topics %v; want 30000 and %v", spy.polled, spy.topics, topics)
	}
	for k, lag := range spy.lag {
		if lag != 0 {
			t.Errorf("final lag of %s is %d", k, lag)
		}
	}
	t.Logf("ownership split %v; metrics: %d records, %d bytes, max latency %v, errors %v", owned, spy.records, spy.bytes, spy.maxLat, spy.errs)
}

// readProgressTopic returns the latest value of each key of the progress topic, as text, and
// checks that each record decodes as Connect's schemaless JSON (a generic decoder, not
// Fjord's own).
func readProgressTopic(t *testing.T, addrs []string, topic string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, recs := range readAll(t, addrs, topic, true) {
		for _, r := range recs {
			var key []json.RawMessage
			if err := json.Unmarshal(r.Key, &key); err != nil || len(key) != 2 {
				t.Fatalf("progress key %s is not a JSON [connector, partition] pair: %v", r.Key, err)
			}
			var name string
			var part struct {
				Cluster   *string `json:"cluster"`
				Partition *int    `json:"partition"`
				Topic     *string `json:"topic"`
			}
			if json.Unmarshal(key[0], &name) != nil || json.Unmarshal(key[1], &part) != nil ||
				part.Cluster == nil || part.Partition == nil || part.Topic == nil {
				t.Fatalf("progress key %s does not hold connector, cluster, partition and topic", r.Key)
			}
			var val struct {
				Offset *int64 `json:"offset"`
			}
			if err := json.Unmarshal(r.Value, &val); err != nil || val.Offset == nil {
				t.Fatalf("progress value %s is not {\"offset\":N}: %v", r.Value, err)
			}
			out[string(r.Key)] = string(r.Value)
		}
	}
	return out
}

// checkOffsetSyncs verifies, for a replication without restarts, that the offset syncs
// translate every source offset to the target offset of its copy.
func checkOffsetSyncs(t *testing.T, e *env, srcTopic, dstTopic string) {
	t.Helper()
	var syncs []records.OffsetSync
	for _, recs := range readAll(t, e.srcAddrs, "mm2-offset-syncs.target.internal", false) {
		for _, r := range recs {
			s, err := records.DecodeOffsetSync(r.Key, r.Value)
			if err != nil {
				t.Fatalf("offset sync does not decode: %v", err)
			}
			if s.Topic == srcTopic {
				syncs = append(syncs, s)
			}
		}
	}
	if len(syncs) == 0 {
		t.Fatalf("no offset syncs for %s", srcTopic)
	}
	src := readAll(t, e.srcAddrs, srcTopic, false)
	dst := readAll(t, e.tgtAddrs, dstTopic, false)
	checked := 0
	for p, recs := range src {
		var ps []records.OffsetSync
		for _, s := range syncs {
			if s.Partition == p {
				ps = append(ps, s)
			}
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].UpstreamOffset < ps[j].UpstreamOffset })
		byOffset := map[int64]*kgo.Record{}
		for _, r := range dst[p] {
			byOffset[r.Offset] = r
		}
		for _, r := range recs {
			i := sort.Search(len(ps), func(i int) bool { return ps[i].UpstreamOffset > r.Offset }) - 1
			if i < 0 {
				t.Fatalf("%s/%d: no offset sync at or before %d", srcTopic, p, r.Offset)
			}
			d := r.Offset + ps[i].DownstreamOffset - ps[i].UpstreamOffset
			if c := byOffset[d]; c == nil || seq(c) != seq(r) {
				t.Fatalf("%s/%d: offset %d translates to %d, which is not its copy", srcTopic, p, r.Offset, d)
			}
			checked++
		}
	}
	t.Logf("%s: %d offset syncs translate all %d offsets exactly", srcTopic, len(syncs), checked)
}

// TestIdentityPolicy is acceptance (b): IdentityReplicationPolicy keeps topic names; the
// heartbeats topic is replicated (as source.heartbeats, as MM2 does); internal topics are not.
// It also puts the offset syncs on the target (offset-syncs.topic.location=target).
func TestIdentityPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	prod := producer(t, e.srcAddrs)
	createTopic(t, e.srcAddrs, "events", 3)
	createTopic(t, e.srcAddrs, "heartbeats", 1)
	createTopic(t, e.srcAddrs, "app.internal", 1)
	produceN(t, prod, "events", 3, 0, 900, 50)
	produceN(t, prod, "heartbeats", 1, 0, 10, 20)
	produceN(t, prod, "app.internal", 1, 0, 10, 20)
	cfg := e.config(t, map[string]string{"replication.policy.class": mm2.IdentityPolicyClass, "topics": "events",
		"offset-syncs.topic.location": "target"})
	rt := startTask(t, SourceOptions{Config: cfg, ConnectorName: "identity", TaskCount: 1}, false)
	dups := waitCopied(t, e, map[string]string{"events": "events", "heartbeats": "source.heartbeats"}, false, 20*time.Second)
	if dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
	if err := rt.stop(t); err != nil {
		t.Fatal(err)
	}
	tgt, err := kadm.NewClient(client(t, e.tgtAddrs)).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.internal", "source.app.internal", "source.events"} {
		if tgt.Has(name) {
			t.Errorf("target has %s", name)
		}
	}
	syncs := 0
	// On the target the topic is named after the source (MM2's MirrorSourceConfig), which is
	// where the checkpoint task reads it.
	for _, recs := range readAll(t, e.tgtAddrs, "mm2-offset-syncs.source.internal", false) {
		syncs += len(recs)
	}
	if syncs == 0 {
		t.Error("no offset syncs on the target")
	}
	if src, err := kadm.NewClient(client(t, e.srcAddrs)).ListTopics(context.Background()); err != nil ||
		src.Has("mm2-offset-syncs.target.internal") || src.Has("mm2-offset-syncs.source.internal") {
		t.Errorf("offset-syncs topic on the source: %v", err)
	}
	if tgt.Has("mm2-offset-syncs.target.internal") {
		t.Error("offset syncs on the target under the source-location name")
	}
}

// TestNewTopicsAndPartitions is acceptance (c): a topic created on the source after start,
// and partitions added to a replicated topic, are replicated without a restart.
func TestNewTopicsAndPartitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	prod := producer(t, e.srcAddrs)
	createTopic(t, e.srcAddrs, "first", 2)
	produceN(t, prod, "first", 2, 0, 200, 50)
	cfg := e.config(t, nil)
	rt := startTask(t, SourceOptions{Config: cfg, ConnectorName: "c", TaskCount: 1}, false)
	waitCopied(t, e, map[string]string{"first": "source.first"}, false, 10*time.Second)

	start := time.Now()
	createTopic(t, e.srcAddrs, "late", 4)
	produceN(t, prod, "late", 4, 0, 400, 50)
	srcAdm := kadm.NewClient(client(t, e.srcAddrs))
	if _, err := srcAdm.UpdatePartitions(context.Background(), 4, "first"); err != nil {
		t.Fatal(err)
	}
	produceN(t, producer(t, e.srcAddrs), "first", 4, 200, 400, 50) // a client that sees 4 partitions
	waitCopied(t, e, map[string]string{"late": "source.late", "first": "source.first"}, false, 10*time.Second)
	t.Logf("new topic and partitions replicated %v after creation", time.Since(start).Round(time.Millisecond))
	tgt, err := kadm.NewClient(client(t, e.tgtAddrs)).ListTopics(context.Background(), "source.first")
	if err != nil || len(tgt["source.first"].Partitions) != 4 {
		t.Errorf("target partitions: %v %v", err, tgt)
	}
	if err := rt.stop(t); err != nil {
		t.Fatal(err)
	}
}

// stopRestart runs a task while records are produced, stops it mid-stream (gracefully or
// as a crash), restarts it, and returns the duplicates found on the target.
func stopRestart(t *testing.T, crash, transactional bool) int {
	e := newEnv(t)
	prod := producer(t, e.srcAddrs)
	createTopic(t, e.srcAddrs, "stream", 6)
	cfg := e.config(t, nil)
	opts := SourceOptions{Config: cfg, ConnectorName: "restart", TaskCount: 1, Transactional: transactional, TransactionalID: "fjord-test-0"}
	tgtAdm := kadm.NewClient(client(t, e.tgtAddrs))
	srcAdm := kadm.NewClient(client(t, e.srcAddrs))
	if crash {
		opts.CommitInterval = 2 * time.Second // leave room between progress writes to crash in
	}

	produceN(t, prod, "stream", 6, 0, 4000, 200)
	first := startTask(t, opts, crash)
	done := make(chan struct{})
	go func() { // keep producing while the task runs and restarts
		defer close(done)
		for i := 4000; i < 12000; i += 500 {
			produceN(t, prod, "stream", 6, i, 500, 200)
		}
	}()
	waitFor(t, 20*time.Second, "some records on the target", func() bool { return endOffsets(t, tgtAdm, "source.stream") >= 3000 })
	if crash {
		// Crash after some progress was written and more records were copied since, so that
		// the restart resumes from progress behind the copy.
		waitFor(t, 10*time.Second, "progress", func() bool { return endOffsets(t, tgtAdm, "mm2-offsets.source.internal") >= 6 })
		produceN(t, prod, "stream", 6, 100_000, 600, 200)
		want := endOffsets(t, srcAdm, "stream")
		waitFor(t, 10*time.Second, "the extra records", func() bool { return endOffsets(t, tgtAdm, "source.stream") >= want })
	}
	if err := first.stop(t); err != nil {
		t.Fatalf("first run: %v", err)
	}
	second := startTask(t, opts, false)
	<-done
	dups := waitCopied(t, e, map[string]string{"stream": "source.stream"}, transactional, 30*time.Second)
	if err := second.stop(t); err != nil {
		t.Fatalf("second run: %v", err)
	}
	return dups
}

// TestGracefulRestart is acceptance (d): a task stopped mid-stream and restarted loses
// nothing and, having written its final progress, duplicates nothing.
func TestGracefulRestart(t *testing.T) {
	t.Parallel()
	dups := stopRestart(t, false, false)
	t.Logf("duplicates after a graceful stop and restart: %d", dups)
	if dups != 0 {
		t.Errorf("%d duplicates after a graceful stop", dups)
	}
}

// TestCrashRestart is acceptance (e): a task that stops without flushing anything (its clients
// closed with records in flight, no final progress) loses nothing after a restart; the
// records after its last progress are copied again and counted.
func TestCrashRestart(t *testing.T) {
	t.Parallel()
	dups := stopRestart(t, true, false)
	t.Logf("duplicates after a crash and restart (at-least-once): %d", dups)
}

// TestTransactionalExactlyOnce is acceptance (f): in transactional mode a read_committed
// consumer of the target sees every record exactly once across a zombie fenced by a newer
// task with the same transactional id, and a crash with a transaction left open.
func TestTransactionalExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	prod := producer(t, e.srcAddrs)
	createTopic(t, e.srcAddrs, "ledger", 6)
	cfg := e.config(t, map[string]string{"exactly.once.support": "required"})
	if !cfg.Transactional {
		t.Fatal("exactly.once.support=required did not set Transactional")
	}
	opts := SourceOptions{Config: cfg, ConnectorName: "eos", TaskCount: 1, Transactional: true, TransactionalID: "fjord-eos-0"}
	tgtAdm := kadm.NewClient(client(t, e.tgtAddrs))

	produceN(t, prod, "ledger", 6, 0, 3000, 200)
	zombie := startTask(t, opts, false)
	// Keep producing until told to stop: a fenced zombie finds out at its next write.
	stopProducing := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 3000; ; i += 300 {
			select {
			case <-stopProducing:
				return
			default:
			}
			produceN(t, prod, "ledger", 6, i, 300, 200)
			if i > 12000 {
				time.Sleep(20 * time.Millisecond) // enough records: just keep a trickle going
			}
		}
	}()
	waitFor(t, 20*time.Second, "first transactions", func() bool { return endOffsets(t, tgtAdm, "source.ledger") >= 1000 })

	// A second task with the same transactional id (a re-placed worker) fences the first.
	successor := startTask(t, opts, false)
	select {
	case err := <-zombie.done:
		zombie.err = err
		close(zombie.done)
		if err == nil {
			t.Fatal("the fenced task returned nil")
		}
		t.Logf("zombie stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the zombie task was not fenced within 20 s")
	}
	waitFor(t, 20*time.Second, "the successor to replicate", func() bool { return endOffsets(t, tgtAdm, "source.ledger") >= 6000 })

	// Crash the successor with a transaction open; the next task fences and aborts it.
	successor.task.crashOnStop.Store(true)
	if err := successor.stop(t); err != nil {
		t.Fatalf("crashed task: %v", err)
	}
	last := startTask(t, opts, false)
	waitFor(t, 20*time.Second, "the last task to replicate", func() bool { return endOffsets(t, tgtAdm, "source.ledger") >= 14000 })
	close(stopProducing)
	<-done
	dups := waitCopied(t, e, map[string]string{"ledger": "source.ledger"}, true, 30*time.Second)
	if dups != 0 {
		t.Errorf("read_committed consumer saw %d duplicates in exactly-once mode", dups)
	}
	uncommitted := 0
	for _, recs := range readAll(t, e.tgtAddrs, "source.ledger", false) {
		uncommitted += len(recs)
	}
	if err := last.stop(t); err != nil {
		t.Fatal(err)
	}
	t.Logf("exactly once: every committed record once; read_uncommitted sees %d records (aborted copies included)", uncommitted)
	progress := readProgressTopic(t, e.tgtAddrs, "mm2-offsets.source.internal")
	if len(progress) != 6 {
		t.Errorf("%d progress keys, want 6", len(progress))
	}
}

// TestStartLatest checks consumer.auto.offset.reset=latest: records already on the source are
// skipped, the position is recorded at once, and records produced while the task is stopped
// are replicated after a restart.
func TestStartLatest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	prod := producer(t, e.srcAddrs)
	createTopic(t, e.srcAddrs, "tail", 2)
	produceN(t, prod, "tail", 2, 0, 100, 20)
	cfg := e.config(t, map[string]string{"consumer.auto.offset.reset": "latest"})
	opts := SourceOptions{Config: cfg, ConnectorName: "latest", TaskCount: 1}
	rt := startTask(t, opts, false)
	tgtAdm := kadm.NewClient(client(t, e.tgtAddrs))
	// The task has started once its progress (latest, made concrete) is written.
	waitFor(t, 10*time.Second, "initial progress", func() bool {
		return endOffsets(t, tgtAdm, "mm2-offsets.source.internal") >= 2
	})
	produceN(t, prod, "tail", 2, 100, 50, 20)
	waitFor(t, 10*time.Second, "new records", func() bool { return endOffsets(t, tgtAdm, "source.tail") >= 50 })
	if err := rt.stop(t); err != nil {
		t.Fatal(err)
	}
	produceN(t, prod, "tail", 2, 150, 50, 20) // while stopped
	rt = startTask(t, opts, false)
	waitFor(t, 10*time.Second, "records produced while stopped", func() bool { return endOffsets(t, tgtAdm, "source.tail") >= 100 })
	if err := rt.stop(t); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, e.tgtAddrs, "source.tail", false)
	n := 0
	for _, recs := range got {
		for _, r := range recs {
			var i int
			fmt.Sscanf(seq(r), "%d", &i)
			if i < 100 {
				t.Errorf("record %d, produced before the start, was replicated", i)
			}
			n++
		}
	}
	if n != 100 {
		t.Errorf("target holds %d records, want 100", n)
	}
}

func TestOwner(t *testing.T) {
	t.Parallel()
	counts := make([]int, 3)
	for i := range 50 {
		topic := fmt.Sprintf("topic-%d", i)
		for p := range int32(12) {
			o := Owner(topic, p, 3)
			if o != Owner(topic, p, 3) || o < 0 || o >= 3 {
				t.Fatalf("Owner(%s, %d, 3) = %d", topic, p, o)
			}
			counts[o]++
		}
		// Consecutive partitions of one topic go to consecutive tasks.
		if Owner(topic, 1, 3) != (Owner(topic, 0, 3)+1)%3 {
			t.Errorf("%s: partitions not spread round-robin", topic)
		}
	}
	for i, c := range counts {
		if c != 200 {
			t.Errorf("task %d owns %d of 600 partitions", i, c)
		}
	}
	if Owner("x", 5, 1) != 0 {
		t.Error("single task must own everything")
	}
}

func TestShouldReplicate(t *testing.T) {
	t.Parallel()
	cfg, err := mm2.ParseConfig(map[string]string{
		"source.cluster.bootstrap.servers": "a:1", "target.cluster.bootstrap.servers": "b:1",
		"source.cluster.alias": "east", "target.cluster.alias": "west", "topics": "orders.*",
	})
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]bool{
		"orders":                         true,
		"heartbeats":                     true, // not selected by topics, replicated anyway
		"north.heartbeats":               true,
		"payments":                       false,
		"orders.internal":                false,
		"__orders":                       false,
		"west.orders":                    false, // came from the target: a cycle
		"mm2-offset-syncs.west.internal": false,
	} {
		if got := ShouldReplicate(cfg, topic); got != want {
			t.Errorf("ShouldReplicate(%q) = %v, want %v", topic, got, want)
		}
	}
}

func TestNewSourceTaskValidation(t *testing.T) {
	t.Parallel()
	cfg, err := mm2.ParseConfig(map[string]string{"source.cluster.bootstrap.servers": "a:1", "target.cluster.bootstrap.servers": "b:1"})
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]SourceOptions{
		"no connector name":   {Config: cfg, TaskCount: 1},
		"task id too high":    {Config: cfg, ConnectorName: "c", TaskID: 2, TaskCount: 2},
		"no tasks":            {Config: cfg, ConnectorName: "c"},
		"no transactional id": {Config: cfg, ConnectorName: "c", TaskCount: 1, Transactional: true},
		"empty config":        {ConnectorName: "c", TaskCount: 1},
	} {
		if _, err := NewSourceTask(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewSourceTask(SourceOptions{Config: cfg, ConnectorName: "c", TaskCount: 1}); err != nil {
		t.Error(err)
	}
}

// TestRuntimeCluster: with a Runtime cluster (a connector's kafkaCluster) the copies and the
// progress go there, the progress to the runtime's offsets topic (created compacted with
// RuntimeCluster.OffsetsPartitions partitions), in one transaction with the copies. A connector
// that recorded its progress in mm2-offsets.<source>.internal before it had a runtime cluster
// resumes from it; later restarts resume from the offsets topic. Nothing is copied twice.
func TestRuntimeCluster(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	prod := producer(t, e.srcAddrs)
	createTopic(t, e.srcAddrs, "orders", 4)
	tgtAdm := kadm.NewClient(client(t, e.tgtAddrs))
	pairs := map[string]string{"orders": "source.orders"}

	// Before: progress in mm2-offsets.source.internal.
	produceN(t, prod, "orders", 4, 0, 2000, 100)
	legacy := SourceOptions{Config: e.config(t, nil), ConnectorName: "conn", TaskCount: 1}
	first := startTask(t, legacy, false)
	if dups := waitCopied(t, e, pairs, false, 30*time.Second); dups != 0 {
		t.Fatalf("%d duplicates in the first run", dups)
	}
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}

	const offsets = "__amazon_msk_connect_offsets_conn_id-1"
	rt := SourceOptions{Config: e.config(t, map[string]string{"exactly.once.support": "required"}), ConnectorName: "conn", TaskCount: 1,
		Transactional: true, TransactionalID: "fjord-conn-0",
		Runtime: &RuntimeCluster{Bootstrap: e.tgtAddrs, OffsetsTopic: offsets}}
	for round, more := range []int{1000, 500} {
		produceN(t, prod, "orders", 4, 2000+round*1000, more, 100)
		task := startTask(t, rt, false)
		if dups := waitCopied(t, e, pairs, true, 30*time.Second); dups != 0 {
			t.Errorf("round %d: %d duplicates after resuming", round, dups)
		}
		waitFor(t, 10*time.Second, "progress in the runtime's offsets topic", func() bool {
			p := readProgressTopic(t, e.tgtAddrs, offsets)
			return len(p) == 4
		})
		if err := task.stop(t); err != nil {
			t.Fatal(err)
		}
	}
	topics, err := tgtAdm.ListTopics(context.Background(), offsets)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(topics[offsets].Partitions); n != DefaultOffsetsPartitions {
		t.Errorf("%s has %d partitions, want %d", offsets, n, DefaultOffsetsPartitions)
	}
	legacyRecords := readProgressTopic(t, e.tgtAddrs, "mm2-offsets.source.internal")
	t.Logf("progress: legacy %v; runtime %v", legacyRecords, readProgressTopic(t, e.tgtAddrs, offsets))
	for k, v := range readProgressTopic(t, e.tgtAddrs, offsets) {
		if legacyRecords[k] == v {
			t.Errorf("progress %s = %s in both topics: the runtime runs wrote to the legacy topic", k, v)
		}
	}
}
