package failover

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/checkpoint"
	"github.com/fjord-io/fjord/workers/mirror"
	"github.com/fjord-io/fjord/workers/mm2"
)

const (
	sourceAlias = "east"
	targetAlias = "west"
	srcTopic    = "orders"
	tgtTopic    = sourceAlias + "." + srcTopic // DefaultReplicationPolicy
	connector   = "drill"
	// patience bounds every wait of a drill, so that a broken drill fails instead of hanging.
	patience = 90 * time.Second
)

// TestFailoverDrill moves consumer groups from the source to the target and checks, per
// group and partition, that a member of the group on the target reads first exactly the
// record after the last one the group consumed (committed) on the source: nothing skipped,
// nothing read again. Groups commit through a real group consumer and through the admin API
// at random points (also in the middle of runs without offset syncs, on aborted records and
// transaction markers of the source, and at the end of partitions), while replication runs
// and records keep arriving.
func TestFailoverDrill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		eos     bool
		restart bool
		lagMax  int64
	}{
		{name: "at-least-once", eos: false},
		{name: "exactly-once", eos: true},
		// The checkpoint task is stopped in the middle of its work and the source task is
		// stopped, then both restart — the source as two tasks, so partitions move.
		{name: "at-least-once/restart", eos: false, restart: true},
		{name: "exactly-once/restart", eos: true, restart: true},
		// offset.lag.max far above the partition sizes: syncs only where the delta changes,
		// so groups commit inside long runs no sync names.
		{name: "at-least-once/unsynced-runs", eos: false, lagMax: 1_000_000},
		{name: "exactly-once/unsynced-runs", eos: true, lagMax: 1_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDrill(t, drillOptions{eos: tc.eos, partitions: 6, lagMax: tc.lagMax, seed: uint64(len(tc.name))})
			d.scenario(300, tc.restart)
			res := d.verify()
			t.Logf("%d group partitions checked: %d records skipped, %d re-delivered", res.checked, res.skipped, res.redelivered)
			if res.skipped+res.redelivered != 0 || res.checked == 0 {
				t.Errorf("translation error: %d records skipped, %d re-delivered over %d group partitions", res.skipped, res.redelivered, res.checked)
			}
		})
	}
}

// TestFailoverDrillIdleEnd moves groups that committed at the very end of source partitions
// ending in transaction markers — past the last marker, as a Java read_committed consumer
// does — while nothing more is produced: the target groups must get the translated end
// without waiting for a new record, and after that a member of each group on the target
// reads first the record produced next. One partition ends in an aborted transaction, the
// others in a committed one. With restart, the source tasks stop after the first groups were
// synced, more transactions end the partitions, and two new tasks (partitions move) resume
// past the markers their predecessor settled.
func TestFailoverDrillIdleEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		eos, restart bool
	}{
		{name: "at-least-once", eos: false},
		{name: "exactly-once", eos: true},
		{name: "at-least-once/restart", eos: false, restart: true},
		{name: "exactly-once/restart", eos: true, restart: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDrill(t, drillOptions{eos: tc.eos, partitions: 3, seed: uint64(len(tc.name))})
			d.producePlain(50)
			d.endInTransactions()
			d.startSources(1)
			d.startCheckpoint()
			d.commitAtEnd("idle-end-1")
			d.waitSynced()
			d.checkAtCopyEnd("idle-end-1")
			if tc.restart {
				d.stopSources()
				d.producePlain(5)
				d.endInTransactions() // copied only after the restart
				d.startSources(2)
				d.commitAtEnd("idle-end-2")
				d.waitSynced()
				d.checkAtCopyEnd("idle-end-2")
			}
			d.producePlain(1) // the record each group must read first on the target
			res := d.verify()
			t.Logf("%d group partitions checked: %d records skipped, %d re-delivered", res.checked, res.skipped, res.redelivered)
			if res.skipped+res.redelivered != 0 || res.checked == 0 {
				t.Errorf("translation error: %d records skipped, %d re-delivered over %d group partitions", res.skipped, res.redelivered, res.checked)
			}
		})
	}
}

// endInTransactions ends every partition with a committed transaction, and partition 0 with
// an aborted one after it: the partitions end in a commit marker, or in aborted records and an
// abort marker.
func (d *drill) endInTransactions() {
	for p := range d.opts.partitions {
		d.transaction(p, 2, true)
	}
	d.transaction(0, 2, false)
}

// checkAtCopyEnd checks that group's committed offset on the target is, on every partition it
// committed on the source, the end of the copy: after every committed record of the target
// partition, and at most its high watermark.
func (d *drill) checkAtCopyEnd(group string) {
	t := d.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	ends, err := d.tgtAdm.ListEndOffsets(ctx, tgtTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	copies := readTopic(t, d.tgt, tgtTopic, true)
	at := d.targetOffsets()[group]
	for p := range d.commits[group] {
		end, _ := ends.Lookup(tgtTopic, p)
		last := int64(-1)
		if rs := copies[p]; len(rs) > 0 {
			last = rs[len(rs)-1].Offset
		}
		if at[p] <= last || at[p] > end.Offset {
			t.Errorf("group %s partition %d: target offset %d, want the end of the copy: after its last record %d, at most its end %d", group, p, at[p], last, end.Offset)
		}
	}
}

func mode(eos bool) string {
	if eos {
		return "exactly-once"
	}
	return "at-least-once"
}

type drillOptions struct {
	eos        bool
	partitions int32
	lagMax     int64 // offset.lag.max; 0 keeps MM2's default
	seed       uint64
}

// drill is a source and a target kfake cluster, the topic "orders" on the source, MirrorSource
// and MirrorCheckpoint tasks running in this process, and the groups' commits on the source.
type drill struct {
	t        testing.TB
	opts     drillOptions
	src, tgt []string
	cfg      mm2.Config
	rng      *rand.Rand
	prod     *kgo.Client // source producer
	txnProd  *kgo.Client // source transactional producer: aborted records and markers upstream
	srcAdm   *kadm.Client
	tgtAdm   *kadm.Client
	next     map[int32]int // per-partition value counter
	txns     int
	sources  []*running
	cp       *running
	commits  map[string]map[int32]int64 // group → source partition → committed offset
	watch    *checkpointWatch
	log      *slog.Logger
}

func newCluster(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func newClient(t testing.TB, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.MetadataMinAge(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newDrill(t testing.TB, opts drillOptions) *drill {
	t.Helper()
	d := &drill{t: t, opts: opts, src: newCluster(t), tgt: newCluster(t), rng: rand.New(rand.NewPCG(opts.seed, 7)),
		next: map[int32]int{}, commits: map[string]map[int32]int64{}, log: testLogger(t)}
	keys := map[string]string{
		"source.cluster.alias":                sourceAlias,
		"target.cluster.alias":                targetAlias,
		"source.cluster.bootstrap.servers":    strings.Join(d.src, ","),
		"target.cluster.bootstrap.servers":    strings.Join(d.tgt, ","),
		"topics":                              srcTopic,
		"groups":                              ".*",
		"refresh.topics.interval.seconds":     "1",
		"refresh.groups.interval.seconds":     "1",
		"emit.checkpoints.interval.seconds":   "1",
		"sync.group.offsets.enabled":          "true",
		"sync.group.offsets.interval.seconds": "1",
		"emit.heartbeats.enabled":             "false",
		"sync.topic.acls.enabled":             "false",
	}
	if opts.lagMax > 0 {
		keys["offset.lag.max"] = fmt.Sprint(opts.lagMax)
	}
	if opts.eos {
		keys["exactly.once.support"] = "required"
	}
	cfg, err := mm2.ParseConfig(keys)
	if err != nil {
		t.Fatal(err)
	}
	d.cfg = cfg
	d.prod = newClient(t, d.src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	d.txnProd = newClient(t, d.src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("drill-upstream"))
	d.srcAdm, d.tgtAdm = kadm.NewClient(newClient(t, d.src)), kadm.NewClient(newClient(t, d.tgt))
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	resp, err := d.srcAdm.CreateTopic(ctx, opts.partitions, 1, nil, srcTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", srcTopic, err)
	}
	d.watch = newCheckpointWatch(t, d.tgt)
	return d
}

// scenario runs the drill's steps; n is the records per partition of the first batch.
func (d *drill) scenario(n int, restart bool) {
	all := int(d.opts.partitions)
	d.produce(n)
	d.startSources(1)
	d.startCheckpoint()
	// Commits while replication is under way: most are past what was copied yet.
	d.consumeAndCommit("live", all*n/3)
	d.commitRandom("admin-1", all/2+1)
	if restart {
		// Stop the checkpoint task in the middle of its work (after its first checkpoints),
		// keep producing and committing, then stop the source too.
		d.watch.waitAny()
		d.cp.stop(d.t)
		d.cp = nil
		d.produce(n / 2)
		d.commitRandom("admin-2", all)
		d.stopSources()
		d.produce(n / 3) // copied only after the restart
		d.consumeAndCommit("live", all*n/2)
		d.commitRandom("admin-3", all)
		d.startSources(2) // partitions move between tasks
		d.startCheckpoint()
	} else {
		d.produce(n / 2)
		d.consumeAndCommit("live", all*n/2)
		d.commitRandom("admin-2", all)
		d.commitRandom("admin-3", all)
	}
	d.commitAtEnd("admin-end") // nothing after these commits yet
	d.produce(10)              // records after the commits
	d.waitSynced()
}

// produce writes n records to every partition; in every call one partition also gets a
// committed and an aborted transaction (upstream gaps: markers and aborted records).
func (d *drill) produce(n int) {
	d.producePlain(n)
	p := int32(d.txns) % d.opts.partitions
	d.txns++
	d.transaction(p, 3, true)
	d.transaction(p, 3, false)
}

// producePlain writes n records to every partition, without transactions.
func (d *drill) producePlain(n int) {
	t := d.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var recs []*kgo.Record
	for p := range d.opts.partitions {
		for range n {
			recs = append(recs, &kgo.Record{Topic: srcTopic, Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, d.next[p])})
			d.next[p]++
		}
	}
	if err := d.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// transaction writes n records to partition p in one transaction of the source's
// transactional producer, committed or aborted: the partition then ends in its marker.
func (d *drill) transaction(p int32, n int, commit bool) {
	t := d.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := d.txnProd.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var txn []*kgo.Record
	for i := range n {
		v := fmt.Sprintf("p%d-%d", p, d.next[p])
		if !commit {
			v = fmt.Sprintf("aborted-p%d-%d-%d", p, d.txns, i)
		} else {
			d.next[p]++
		}
		txn = append(txn, &kgo.Record{Topic: srcTopic, Partition: p, Value: []byte(v)})
	}
	err := d.txnProd.ProduceSync(ctx, txn...).FirstErr()
	end := kgo.TryCommit
	if !commit {
		end = kgo.TryAbort
	}
	if err == nil {
		err = d.txnProd.EndTransaction(ctx, end)
	}
	if err != nil {
		t.Fatalf("source transaction: %v", err)
	}
}

// running is a task running in its own goroutine.
type running struct {
	name   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

func (d *drill) run(name string, f func(context.Context) error) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{name: name, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f(ctx) }()
	d.t.Cleanup(func() { r.stop(d.t) })
	return r
}

// stop cancels the task and waits for it to return.
func (r *running) stop(t testing.TB) {
	r.once.Do(func() {
		r.cancel()
		if err := <-r.done; err != nil {
			t.Errorf("%s: %v", r.name, err)
		}
	})
}

// startSources starts count MirrorSource tasks (stopping any running ones first).
func (d *drill) startSources(count int) {
	d.stopSources()
	for i := range count {
		task, err := mirror.NewSourceTask(mirror.SourceOptions{
			Config: d.cfg, ConnectorName: connector, TaskID: i, TaskCount: count,
			Transactional: d.opts.eos, TransactionalID: fmt.Sprintf("drill-task-%d", i),
			CommitInterval: 100 * time.Millisecond, Logger: d.log,
		})
		if err != nil {
			d.t.Fatal(err)
		}
		d.sources = append(d.sources, d.run(fmt.Sprintf("source task %d/%d", i, count), task.Run))
	}
}

func (d *drill) stopSources() {
	for _, r := range d.sources {
		r.stop(d.t)
	}
	d.sources = nil
}

func (d *drill) startCheckpoint() {
	opts := checkpoint.FromConfig(d.cfg, 0, 1)
	opts.SourceConnector = connector
	opts.ReplicationFactor = -1
	opts.Logger = d.log
	task, err := checkpoint.NewTask(opts)
	if err != nil {
		d.t.Fatal(err)
	}
	d.cp = d.run("checkpoint task", task.Run)
}

// consumeAndCommit consumes n records of the source topic as a member of group (from where
// the group left off), commits them and leaves the group.
func (d *drill) consumeAndCommit(group string, n int) {
	t := d.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.src...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(srcTopic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	last := map[int32]int64{}
	for got := 0; got < n; {
		fs := cl.PollRecords(ctx, n-got)
		if ctx.Err() != nil {
			t.Fatalf("group %s: consumed %d of %d records", group, got, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			last[r.Partition] = r.Offset
			got++
		})
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("group %s: commit: %v", group, err)
	}
	for p, o := range last {
		d.setCommit(group, p, o+1) // the record after the last one consumed
	}
}

func (d *drill) setCommit(group string, p int32, x int64) {
	if d.commits[group] == nil {
		d.commits[group] = map[int32]int64{}
	}
	d.commits[group][p] = x
}

func (d *drill) ends() map[int32]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	lo, err := d.srcAdm.ListEndOffsets(ctx, srcTopic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		d.t.Fatal(err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func (d *drill) commitOffsets(group string, at map[int32]int64) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var os kadm.Offsets
	for p, x := range at {
		os.Add(kadm.Offset{Topic: srcTopic, Partition: p, At: x, LeaderEpoch: -1, Metadata: "drill"})
		d.setCommit(group, p, x)
	}
	resps, err := d.srcAdm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		d.t.Fatalf("commit %s: %v", group, err)
	}
}

// commitRandom commits group at a random offset in [0, end] on k random partitions.
func (d *drill) commitRandom(group string, k int) {
	ends := d.ends()
	at := map[int32]int64{}
	for _, p := range d.rng.Perm(int(d.opts.partitions))[:min(k, int(d.opts.partitions))] {
		at[int32(p)] = d.rng.Int64N(ends[int32(p)] + 1)
	}
	d.commitOffsets(group, at)
}

// commitAtEnd commits group at the end of every partition.
func (d *drill) commitAtEnd(group string) { d.commitOffsets(group, d.ends()) }

// targetOffsets are the groups' committed offsets on the target topic.
func (d *drill) targetOffsets() map[string]map[int32]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	out := map[string]map[int32]int64{}
	for group := range d.commits {
		out[group] = map[int32]int64{}
		os, err := d.tgtAdm.FetchOffsets(ctx, group)
		if err != nil {
			continue
		}
		os.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.Topic == tgtTopic {
				out[group][o.Partition] = o.At
			}
		})
	}
	return out
}

// waitSynced waits until, for every group and partition it committed on the source, the
// checkpoints topic holds a checkpoint of that very commit and the target group was given
// its downstream offset.
func (d *drill) waitSynced() {
	t := d.t
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		latest := d.watch.poll()
		tgt := d.targetOffsets()
		var missing []string
		for group, parts := range d.commits {
			for p, x := range parts {
				c, ok := latest[cpKey{group, p}]
				switch {
				case !ok || c.UpstreamOffset != x:
					missing = append(missing, fmt.Sprintf("%s/%d: no checkpoint of upstream %d (have %+v)", group, p, x, c))
				case tgt[group][p] != c.Offset:
					missing = append(missing, fmt.Sprintf("%s/%d: target at %d, checkpoint says %d", group, p, tgt[group][p], c.Offset))
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(missing)
			t.Fatalf("groups not synced after %v:\n%s", patience, strings.Join(missing, "\n"))
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

type cpKey struct {
	group     string
	partition int32
}

// checkpointWatch follows the checkpoints topic on the target with the schema decoder.
type checkpointWatch struct {
	t      testing.TB
	cl     *kgo.Client
	latest map[cpKey]mm2Checkpoint
	n      int
}

func newCheckpointWatch(t testing.TB, tgt []string) *checkpointWatch {
	cl := newClient(t, tgt, kgo.ConsumeTopics(sourceAlias+".checkpoints.internal"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	return &checkpointWatch{t: t, cl: cl, latest: map[cpKey]mm2Checkpoint{}}
}

// poll reads what arrived (waiting at most 200 ms) and returns the latest checkpoint per key.
func (w *checkpointWatch) poll() map[cpKey]mm2Checkpoint {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	w.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
		c, err := decodeCheckpointSchema(r.Key, r.Value)
		if err != nil {
			w.t.Errorf("checkpoint at offset %d does not decode: %v", r.Offset, err)
			return
		}
		if c.Topic != tgtTopic {
			w.t.Errorf("checkpoint at offset %d names topic %q, want %q", r.Offset, c.Topic, tgtTopic)
		}
		w.latest[cpKey{c.Group, c.Partition}] = c
		w.n++
	})
	return w.latest
}

// waitAny waits for the first checkpoint.
func (w *checkpointWatch) waitAny() {
	deadline := time.Now().Add(patience)
	for w.poll(); w.n == 0; w.poll() {
		if time.Now().After(deadline) {
			w.t.Fatal("no checkpoint written")
		}
	}
}

type drillResult struct {
	checked, skipped, redelivered int
}

// verify joins every group on the target and compares, per partition, the first record it
// reads with the first record at or after the group's source commit.
func (d *drill) verify() drillResult {
	t := d.t
	t.Helper()
	// The source, read_committed: the records a consumer can read, in order.
	source := readTopic(t, d.src, srcTopic, true)
	type pos struct {
		p   int32
		idx int
	}
	index := map[string]pos{}
	offsets := map[int32][]int64{}
	for p, rs := range source {
		for i, r := range rs {
			index[string(r.Value)] = pos{p, i}
			offsets[p] = append(offsets[p], r.Offset)
		}
	}
	var res drillResult
	groups := make([]string, 0, len(d.commits))
	for g := range d.commits {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, group := range groups {
		first := d.firstOnTarget(group)
		for p, x := range d.commits[group] {
			res.checked++
			want, _ := slices.BinarySearch(offsets[p], x) // first readable record at or after x
			got, ok := index[string(first[p].Value)]
			switch {
			case !ok || got.p != p:
				t.Errorf("group %s partition %d: target record %q is not a readable source record of the partition", group, p, first[p].Value)
				res.skipped++
			case got.idx > want:
				res.skipped += got.idx - want
				t.Errorf("group %s partition %d: committed %d on the source, first read %q on the target: %d records skipped", group, p, x, first[p].Value, got.idx-want)
			case got.idx < want:
				res.redelivered += want - got.idx
				t.Errorf("group %s partition %d: committed %d on the source, first read %q on the target: %d records re-delivered", group, p, x, first[p].Value, want-got.idx)
			}
		}
	}
	return res
}

// firstOnTarget joins group on the target (read_committed, no commits) and returns the first
// record it reads on each partition the group committed on the source.
func (d *drill) firstOnTarget(group string) map[int32]*kgo.Record {
	t := d.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.tgt...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(tgtTopic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	first := map[int32]*kgo.Record{}
	for len(first) < len(d.commits[group]) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s on the target: read the first record of %d of %d partitions", group, len(first), len(d.commits[group]))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r
			}
		})
	}
	return first
}

// readTopic reads topic from the start to its current end, per partition (data records only).
func readTopic(t testing.TB, addrs []string, topic string, committed bool) map[int32][]*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addrs))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	assign := map[int32]kgo.Offset{}
	last := map[int32]int64{}
	out := map[int32][]*kgo.Record{}
	ends.Each(func(o kadm.ListedOffset) {
		out[o.Partition] = nil
		if o.Offset > 0 {
			assign[o.Partition] = kgo.NewOffset().AtStart()
			last[o.Partition] = o.Offset - 1
		}
	})
	opts := []kgo.Opt{kgo.SeedBrokers(addrs...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}), kgo.KeepControlRecords()}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for len(last) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %v (partitions left: %v)", topic, ctx.Err(), last)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := last[r.Partition]
			if r.Offset > ends[topic][r.Partition].Offset-1 {
				return
			}
			if !r.Attrs.IsControl() {
				out[r.Partition] = append(out[r.Partition], r)
			}
			if ok && r.Offset >= end {
				delete(last, r.Partition)
			}
		})
	}
	return out
}

func testLogger(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// tbWriter sends log lines to the test log until the test ends.
type tbWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
