package checkpoint

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seed is a client option for tests that never connect.
var seed = []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}

const (
	srcTopic  = "orders"
	tgtTopic  = "src.orders" // DefaultReplicationPolicy with source alias "src"
	syncTopic = "mm2-offset-syncs.tgt.internal"
	progTopic = "mm2-offsets.src.internal"
	cpTopic   = "src.checkpoints.internal"
)

// cluster starts a kfake cluster reached over TCP on loopback and returns its addresses.
func cluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func client(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(50 * time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// copier is the test's stand-in for MirrorSource: a raw loop that copies source records to
// the target one by one and writes offset syncs by the engine's rule (doc.go, C1–C3).
type copier struct {
	t        *testing.T
	srcB     []string
	src, tgt *kgo.Client
	next     map[int32]int64            // next source offset to read
	pairs    map[int32][][2]int64       // (upstream, downstream) of every copy, in order
	delta    map[int32]int64            // delta of the last sync
	synced   map[int32]bool             // a sync was written this lifetime
	values   map[int32]map[int64]string // downstream offset → value
}

func newCopier(t *testing.T, srcB []string, src, tgt *kgo.Client) *copier {
	return &copier{t: t, srcB: srcB, src: src, tgt: tgt, next: map[int32]int64{}, pairs: map[int32][][2]int64{},
		delta: map[int32]int64{}, synced: map[int32]bool{}, values: map[int32]map[int64]string{}}
}

// copy copies the next n data records of source partition p (read_committed, so aborted
// records and markers are gaps).
func (c *copier) copy(p int32, n int) {
	t := c.t
	cons := client(t, c.srcB, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{srcTopic: {p: kgo.NewOffset().At(c.next[p])}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("copier: %d records of partition %d still to copy", n, p)
		}
		for _, r := range fs.Records() {
			if n == 0 {
				break
			}
			c.next[p] = r.Offset + 1
			out := &kgo.Record{Topic: tgtTopic, Partition: p, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
			must(t, c.tgt.ProduceSync(ctx, out).FirstErr())
			c.pairs[p] = append(c.pairs[p], [2]int64{r.Offset, out.Offset})
			if c.values[p] == nil {
				c.values[p] = map[int64]string{}
			}
			c.values[p][out.Offset] = string(r.Value)
			if d := out.Offset - r.Offset; !c.synced[p] || d != c.delta[p] {
				c.synced[p], c.delta[p] = true, d
				c.sync(p, r.Offset, out.Offset)
			}
			n--
		}
	}
}

func (c *copier) sync(p int32, up, down int64) {
	s := records.OffsetSync{Topic: srcTopic, Partition: p, UpstreamOffset: up, DownstreamOffset: down}
	must(c.t, c.src.ProduceSync(context.Background(), &kgo.Record{Topic: syncTopic, Partition: 0, Key: s.Key(), Value: s.Value()}).FirstErr())
}

// positionSync writes C3's sync for the last record copied from p.
func (c *copier) positionSync(p int32) {
	last := c.pairs[p][len(c.pairs[p])-1]
	c.sync(p, last[0], last[1])
}

// progress records, like MirrorSource, that p was replicated through its last copied record.
func (c *copier) progress(p int32) {
	last := c.pairs[p][len(c.pairs[p])-1]
	so := records.SourceOffset{Connector: "mirror-source", Cluster: "src", Topic: srcTopic, Partition: p, Offset: last[0]}
	must(c.t, c.tgt.ProduceSync(context.Background(), &kgo.Record{Topic: progTopic, Partition: 0, Key: so.Key(), Value: so.Value()}).FirstErr())
}

// foreign writes n records of another writer into target partition p: a downstream gap.
func (c *copier) foreign(p int32, n int) {
	for range n {
		must(c.t, c.tgt.ProduceSync(context.Background(), &kgo.Record{Topic: tgtTopic, Partition: p, Value: []byte("foreign")}).FirstErr())
	}
}

// expect is the exact translation of committed upstream offset x of partition p: the copy
// of the first record at or after x, or the position after the last copy.
func (c *copier) expect(p int32, x int64) int64 {
	for _, pr := range c.pairs[p] {
		if pr[0] >= x {
			return pr[1]
		}
	}
	return c.pairs[p][len(c.pairs[p])-1][1] + 1
}

func produce(t *testing.T, cl *kgo.Client, p int32, values ...string) {
	t.Helper()
	for _, v := range values {
		must(t, cl.ProduceSync(context.Background(), &kgo.Record{Topic: srcTopic, Partition: p, Value: []byte(v)}).FirstErr())
	}
}

func commit(t *testing.T, adm *kadm.Client, group string, offsets map[int32]int64) {
	t.Helper()
	var os kadm.Offsets
	for p, at := range offsets {
		os.Add(kadm.Offset{Topic: srcTopic, Partition: p, At: at, LeaderEpoch: -1})
	}
	resps, err := adm.CommitOffsets(context.Background(), group, os)
	if err == nil {
		err = resps.Error()
	}
	must(t, err)
}

// eventually polls cond until it returns "" or the deadline passes.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

type cpKey struct {
	group string
	p     int32
}

// checkpoints follows the checkpoints topic and keeps the latest checkpoint per key.
type checkpoints struct {
	cl     *kgo.Client
	latest map[cpKey]records.Checkpoint
}

func (c *checkpoints) poll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	fs := c.cl.PollFetches(ctx)
	fs.EachRecord(func(r *kgo.Record) {
		cp, err := records.DecodeCheckpoint(r.Key, r.Value)
		if err != nil {
			t.Errorf("undecodable checkpoint at offset %d: %v", r.Offset, err)
			return
		}
		if cp.Topic != tgtTopic {
			t.Errorf("checkpoint for topic %q, want %q", cp.Topic, tgtTopic)
		}
		c.latest[cpKey{cp.ConsumerGroupID, cp.Partition}] = cp
	})
}

func (c *checkpoints) want(t *testing.T, group string, p int32, up, down int64) func() string {
	return func() string {
		c.poll(t)
		cp, ok := c.latest[cpKey{group, p}]
		if !ok {
			return fmt.Sprintf("no checkpoint for %s/%d", group, p)
		}
		if cp.UpstreamOffset != up || cp.DownstreamOffset != down {
			return fmt.Sprintf("checkpoint %s/%d = %d→%d, want %d→%d", group, p, cp.UpstreamOffset, cp.DownstreamOffset, up, down)
		}
		return ""
	}
}

func targetOffset(adm *kadm.Client, group string, p int32, want int64) func() string {
	return func() string {
		got, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return err.Error()
		}
		o, ok := got.Lookup(tgtTopic, p)
		if !ok {
			return fmt.Sprintf("target group %s has no offset for partition %d", group, p)
		}
		if o.At != want {
			return fmt.Sprintf("target group %s partition %d at %d, want %d", group, p, o.At, want)
		}
		return ""
	}
}

// firstValueAt reads target partition p from offset at and returns the first record's value.
func firstValueAt(t *testing.T, brokers []string, p int32, at int64) string {
	t.Helper()
	cl := client(t, brokers, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{tgtTopic: {p: kgo.NewOffset().At(at)}}))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("nothing to read at %s/%d offset %d", tgtTopic, p, at)
		}
		if recs := fs.Records(); len(recs) > 0 {
			return string(recs[0].Value)
		}
	}
}

func TestCheckpointAndSync(t *testing.T) {
	t.Parallel()
	srcB, tgtB := cluster(t), cluster(t)
	src, tgt := client(t, srcB), client(t, tgtB)
	sadm, tadm := kadm.NewClient(src), kadm.NewClient(tgt)
	ctx := context.Background()
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	for _, c := range []struct {
		adm    *kadm.Client
		parts  int32
		topic  string
		config map[string]*string
	}{{sadm, 2, srcTopic, nil}, {sadm, 1, syncTopic, compact}, {tadm, 2, tgtTopic, nil}, {tadm, 1, progTopic, compact}} {
		resp, err := c.adm.CreateTopic(ctx, c.parts, -1, c.config, c.topic)
		if err == nil {
			err = resp.Err
		}
		must(t, err)
	}

	// Source partition 0: records 0..4, an aborted transaction at 5..7 with its marker at 8,
	// records 9..13. Partition 1: records 0..9.
	produce(t, src, 0, "p0-0", "p0-1", "p0-2", "p0-3", "p0-4")
	txn := client(t, srcB, kgo.TransactionalID("aborted"))
	must(t, txn.BeginTransaction())
	for _, v := range []string{"aborted-0", "aborted-1", "aborted-2"} {
		must(t, txn.ProduceSync(ctx, &kgo.Record{Topic: srcTopic, Partition: 0, Value: []byte(v)}).FirstErr())
	}
	must(t, txn.EndTransaction(ctx, kgo.TryAbort))
	produce(t, src, 0, "p0-5", "p0-6", "p0-7", "p0-8", "p0-9")
	produce(t, src, 1, "p1-0", "p1-1", "p1-2", "p1-3", "p1-4", "p1-5", "p1-6", "p1-7", "p1-8", "p1-9")

	// Replicate, with gaps on both sides: another writer's records on the target before the
	// first copy and between copies 2 and 3 of partition 0.
	cp := newCopier(t, srcB, src, tgt)
	cp.foreign(0, 2)
	cp.copy(0, 3)
	cp.foreign(0, 1)
	cp.copy(0, 7)
	cp.progress(0) // partition 0: the engine's progress proves how far it got
	cp.copy(1, 10)
	cp.positionSync(1) // partition 1: C3's sync for the last copy instead
	if got := cp.pairs[0][5]; got != [2]int64{9, 8} {
		t.Fatalf("test setup: record 5 of partition 0 copied as %v, want upstream 9 at 8", got)
	}

	// Source groups. g1 committed in the middle of the aborted gap (6) and at the end of
	// partition 1; g2 inside the first stretch; busy has a live member on the target;
	// console-consumer-* is excluded by MM2's default group filter.
	commit(t, sadm, "g1", map[int32]int64{0: 6, 1: 10})
	commit(t, sadm, "g2", map[int32]int64{0: 1})
	commit(t, sadm, "busy", map[int32]int64{0: 2})
	commit(t, sadm, "console-consumer-7", map[int32]int64{0: 3})

	// A consumer of group busy on the target, which never commits.
	bctx, bcancel := context.WithCancel(ctx)
	busy := client(t, tgtB, kgo.ConsumerGroup("busy"), kgo.ConsumeTopics(tgtTopic), kgo.DisableAutoCommit())
	bdone := make(chan struct{})
	go func() {
		defer close(bdone)
		for bctx.Err() == nil {
			busy.PollFetches(bctx)
		}
	}()
	defer func() { bcancel(); <-bdone }()
	eventually(t, "busy group joins on the target", func() string {
		classic, err := tadm.DescribeGroups(ctx, "busy")
		if err == nil && len(classic["busy"].Members) > 0 {
			return ""
		}
		modern, err2 := tadm.DescribeConsumerGroups(ctx, "busy")
		if err2 == nil && len(modern["busy"].Members) > 0 {
			return ""
		}
		return fmt.Sprintf("no member yet (%v, %v)", err, err2)
	})
	// The member commits offset 1, below the translation (4): only its membership may keep
	// the task from overwriting it.
	must(t, busy.CommitRecords(ctx, &kgo.Record{Topic: tgtTopic, Partition: 0, Offset: 0, LeaderEpoch: -1}))
	eventually(t, "busy member's own commit", targetOffset(tadm, "busy", 0, 1))

	task, err := NewTask(Options{
		SourceAlias:      "src",
		TargetAlias:      "tgt",
		Source:           []kgo.Opt{kgo.SeedBrokers(srcB...)},
		Target:           []kgo.Opt{kgo.SeedBrokers(tgtB...)},
		Topics:           mm2.MustFilter(mm2.SplitList(mm2.DefaultTopicsInclude), mm2.SplitList(mm2.DefaultTopicsExclude)),
		Groups:           mm2.MustFilter(mm2.SplitList(mm2.DefaultGroupsInclude), mm2.SplitList(mm2.DefaultGroupsExclude)),
		Interval:         100 * time.Millisecond,
		SyncGroupOffsets: true,
		SyncInterval:     100 * time.Millisecond,
	})
	must(t, err)
	rctx, rcancel := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- task.Run(rctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			rcancel()
			if err := <-runErr; err != nil {
				t.Errorf("Run returned %v after cancellation", err)
			}
		}
	}
	defer stop()

	cps := &checkpoints{cl: client(t, tgtB, kgo.ConsumeTopics(cpTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())),
		latest: map[cpKey]records.Checkpoint{}}
	want := map[cpKey][2]int64{
		{"g1", 0}:   {6, cp.expect(0, 6)},
		{"g1", 1}:   {10, cp.expect(1, 10)},
		{"g2", 0}:   {1, cp.expect(0, 1)},
		{"busy", 0}: {2, cp.expect(0, 2)},
	}
	// The hand-derived values, to make sure expect itself is right.
	if want[cpKey{"g1", 0}][1] != 8 || want[cpKey{"g1", 1}][1] != 10 || want[cpKey{"g2", 0}][1] != 3 || want[cpKey{"busy", 0}][1] != 4 {
		t.Fatalf("test setup: unexpected expectations %v", want)
	}
	for k, w := range want {
		eventually(t, "checkpoint", cps.want(t, k.group, k.p, w[0], w[1]))
	}

	// The checkpoints topic is MM2's: one partition, compacted.
	td, err := tadm.ListTopics(ctx, cpTopic)
	must(t, err)
	if n := len(td[cpTopic].Partitions); n != 1 {
		t.Errorf("%s has %d partitions, want 1", cpTopic, n)
	}
	rcs, err := tadm.DescribeTopicConfigs(ctx, cpTopic)
	must(t, err)
	rc, err := rcs.On(cpTopic, nil)
	must(t, err)
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
			t.Errorf("%s cleanup.policy = %v, want compact", cpTopic, c.MaybeValue())
		}
	}

	// Sync: idle (here: absent) groups get exactly the translated offsets.
	eventually(t, "g1/0 synced", targetOffset(tadm, "g1", 0, 8))
	eventually(t, "g1/1 synced", targetOffset(tadm, "g1", 1, 10))
	eventually(t, "g2/0 synced", targetOffset(tadm, "g2", 0, 3))

	// Groups are synced in name order in one pass: g2 done means busy was considered, and it
	// must not have been touched.
	if msg := targetOffset(tadm, "busy", 0, 1)(); msg != "" {
		t.Errorf("target group busy has a member and must keep its own offset: %s", msg)
	}
	cps.poll(t)
	for k := range cps.latest {
		if k.group == "console-consumer-7" {
			t.Errorf("checkpoint written for excluded group %s", k.group)
		}
	}

	// The data: a consumer resuming at the checkpoint reads first the copy of the record the
	// source group would have read next.
	if v := firstValueAt(t, tgtB, 0, 8); v != "p0-5" {
		t.Errorf("g1/0 resumes at %q, want p0-5 (the first record after the aborted gap)", v)
	}
	if v := firstValueAt(t, tgtB, 0, 3); v != "p0-1" {
		t.Errorf("g2/0 resumes at %q, want p0-1", v)
	}
	if ends, err := tadm.ListEndOffsets(ctx, tgtTopic); err != nil {
		t.Fatal(err)
	} else if o, _ := ends.Lookup(tgtTopic, 1); o.Offset != 10 {
		t.Errorf("target partition 1 ends at %d; g1/1 (caught up) should be there, at 10", o.Offset)
	}

	// New syncs and progress are followed: three more records, g2 catches up.
	produce(t, src, 0, "p0-10", "p0-11", "p0-12")
	cp.copy(0, 3)
	cp.progress(0)
	commit(t, sadm, "g2", map[int32]int64{0: 17})
	eventually(t, "g2/0 follows", cps.want(t, "g2", 0, 17, cp.expect(0, 17)))
	eventually(t, "g2/0 re-synced", targetOffset(tadm, "g2", 0, cp.expect(0, 17)))
	if got := cp.expect(0, 17); got != 16 {
		t.Errorf("test setup: expect(0, 17) = %d, want 16", got)
	}

	stop()

	// A restarted task knows nothing but what the topics hold. g2 rewinds to 12 (MM2 writes a
	// checkpoint for an upstream rewind); the target group, already further, is not rewound.
	commit(t, sadm, "g2", map[int32]int64{0: 12})
	task2, err := NewTask(Options{
		SourceAlias: "src", TargetAlias: "tgt",
		Source:   []kgo.Opt{kgo.SeedBrokers(srcB...)},
		Target:   []kgo.Opt{kgo.SeedBrokers(tgtB...)},
		Topics:   mm2.MustFilter([]string{srcTopic}, nil),
		Groups:   mm2.MustFilter([]string{"g2"}, nil),
		Interval: 100 * time.Millisecond,
	})
	must(t, err)
	r2ctx, r2cancel := context.WithCancel(ctx)
	run2 := make(chan error, 1)
	go func() { run2 <- task2.Run(r2ctx) }()
	eventually(t, "restarted task checkpoints g2", cps.want(t, "g2", 0, 12, cp.expect(0, 12)))
	r2cancel()
	if err := <-run2; err != nil {
		t.Errorf("restarted task: Run returned %v", err)
	}
	if msg := targetOffset(tadm, "g2", 0, 16)(); msg != "" {
		t.Errorf("target group rewound: %s", msg)
	}
}

func TestNewTaskValidation(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"empty":             {},
		"no target":         {SourceAlias: "a", TargetAlias: "b", Source: seed},
		"task out of range": {SourceAlias: "a", TargetAlias: "b", Source: seed, Target: seed, TaskID: 2, TaskCount: 2},
		"nothing to do":     {SourceAlias: "a", TargetAlias: "b", Source: seed, Target: seed, NoCheckpoints: true},
	} {
		if _, err := NewTask(o); err == nil {
			t.Errorf("%s: NewTask accepted %+v", name, o)
		}
	}
	task, err := NewTask(Options{SourceAlias: "east", TargetAlias: "west", Source: seed, Target: seed})
	must(t, err)
	o := task.opts
	if o.OffsetSyncsTopic != "mm2-offset-syncs.west.internal" || o.CheckpointsTopic != "east.checkpoints.internal" ||
		o.ProgressTopic != "mm2-offsets.east.internal" || o.Interval != time.Minute || o.SyncInterval != time.Minute || o.TaskCount != 1 {
		t.Errorf("defaults: %+v", o)
	}
	task, err = NewTask(Options{SourceAlias: "east", TargetAlias: "west", Source: seed, Target: seed, OffsetSyncsOnTarget: true})
	must(t, err)
	if task.opts.OffsetSyncsTopic != "mm2-offset-syncs.east.internal" {
		t.Errorf("offset syncs on the target: topic %q, want mm2-offset-syncs.east.internal", task.opts.OffsetSyncsTopic)
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	cfg, err := mm2.ParseConfig(map[string]string{
		"source.cluster.alias": "east", "target.cluster.alias": "west",
		"source.cluster.bootstrap.servers": "127.0.0.1:1", "target.cluster.bootstrap.servers": "127.0.0.1:2",
		"groups": "app-.*", "sync.group.offsets.enabled": "true", "emit.checkpoints.interval.seconds": "5",
		"offset-syncs.topic.location": "target",
	})
	must(t, err)
	task, err := NewTask(FromConfig(cfg, 0, 1))
	must(t, err)
	o := task.opts
	if !o.SyncGroupOffsets || o.Interval != 5*time.Second || !o.OffsetSyncsOnTarget || o.OffsetSyncsTopic != "mm2-offset-syncs.east.internal" ||
		!o.Groups.Matches("app-1") || o.Groups.Matches("other") || !o.Topics.Matches("orders") || o.Topics.Matches("__consumer_offsets") {
		t.Errorf("FromConfig: %+v", o)
	}
}
