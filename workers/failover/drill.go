package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/checkpoint"
	"github.com/fjord-io/fjord/workers/mirror"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

const (
	sourceAlias = "east"
	targetAlias = "west"
	srcTopic    = "orders"
	tgtTopic    = sourceAlias + "." + srcTopic // DefaultReplicationPolicy
	connector   = "drill"
	// defaultPatience is the default of Options.Patience.
	defaultPatience = 90 * time.Second
)

// Options configures a drill. The zero value is a valid drill: at-least-once, without restart,
// 6 partitions, about 3,000 records.
type Options struct {
	// Transactional runs the MirrorSource tasks exactly-once (exactly.once.support=required);
	// false runs them at-least-once.
	Transactional bool
	// Restart stops the checkpoint task in the middle of its work (after its first
	// checkpoints) and then the source task, while records and commits go on, and restarts
	// both, the source as two tasks so that partitions move between tasks.
	Restart bool
	// Partitions is the number of partitions of the drilled topic; default 6.
	Partitions int
	// Records is about how many records the drill produces to the source, over all
	// partitions: a first batch of 60%, then 30% and, with Restart, 20% more, plus a few
	// transactions and 10 records per partition after the last commits. At least 6 per
	// partition; default 3,000.
	Records int
	// Groups is the number of consumer groups that commit at random points besides the
	// drill's own five (a group consumer and admin commits); default 0.
	Groups int
	// LagMax is MM2's offset.lag.max; 0 keeps MM2's default. A value far above the
	// partition sizes syncs offsets only where the offset delta changes, so that groups
	// commit inside long runs that no offset sync names.
	LagMax int64
	// Seed seeds the choice of the random commit points.
	Seed uint64
	// Patience bounds every wait of the drill (a sync, a read, a consume), so that a broken
	// drill fails instead of hanging; default 90s.
	Patience time.Duration
	// Logger receives the tasks' logs; default: discarded.
	Logger *slog.Logger

	// decodeCheckpoint decodes the records of the checkpoints topic; default
	// records.DecodeCheckpoint. The tests of this package decode with a decoder written from
	// MM2's schema instead.
	decodeCheckpoint func(key, value []byte) (records.Checkpoint, error)
}

// withDefaults fills in the defaults documented on the fields.
func (o Options) withDefaults() Options {
	if o.Partitions == 0 {
		o.Partitions = 6
	}
	if o.Records == 0 {
		o.Records = 3_000
	}
	if o.Patience == 0 {
		o.Patience = defaultPatience
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.decodeCheckpoint == nil {
		o.decodeCheckpoint = records.DecodeCheckpoint
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.Partitions < 1:
		return fmt.Errorf("failover drill: %d partitions, need at least 1", o.Partitions)
	case o.Records < 6*o.Partitions:
		return fmt.Errorf("failover drill: %d records over %d partitions, need at least 6 per partition", o.Records, o.Partitions)
	case o.Groups < 0:
		return fmt.Errorf("failover drill: %d extra groups", o.Groups)
	case o.Patience < 0:
		return fmt.Errorf("failover drill: negative patience %v", o.Patience)
	}
	return nil
}

// Result is what a drill measured.
type Result struct {
	// GroupPartitions is the number of group partitions checked: every partition on which a
	// group committed on the source.
	GroupPartitions int
	// Skipped counts the records, over all group partitions, between the record after a
	// group's last commit on the source and the first record it reads on the target: records
	// the group never reads. A first record that is not a readable record of the source
	// partition counts as one.
	Skipped int
	// Redelivered counts the records a group read on the source before its last commit and
	// reads again on the target.
	Redelivered int
	// Mismatches describes, one line each, the group partitions that skip or re-deliver.
	Mismatches []string
	// Duration is the wall time of the drill: setup, replication, sync, check and teardown.
	Duration time.Duration
}

// Run runs one failover drill: a source and a target kfake cluster, the topic "orders" on the
// source, a MirrorSource and a MirrorCheckpoint task in this process with group offset sync.
// Consumer groups commit on the source through a real group consumer and through the admin API
// at random points — while replication runs, on aborted records and transaction markers, at
// the end of partitions — and records keep arriving. Once every commit is checkpointed and
// synced to the target, each group is joined on the target and, per partition, the first
// record it reads is compared with the first readable record at or after its source commit.
//
// Mismatches are counted in the Result, not returned as errors; an error means the drill could
// not run: a cluster, a task, a wait or a check failed, or ctx ended.
func Run(ctx context.Context, opts Options) (res Result, err error) {
	start := time.Now()
	d, err := newDrill(ctx, opts)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		err = errors.Join(err, d.close())
		res.Duration = time.Since(start)
	}()
	if err := d.scenario(ctx, d.opts.Records*3/5/d.opts.Partitions); err != nil {
		return Result{}, err
	}
	return d.verify(ctx)
}

// drill is a source and a target kfake cluster, the topic "orders" on the source, MirrorSource
// and MirrorCheckpoint tasks running in this process, and the groups' commits on the source.
// Its methods are the steps of a drill; they run on one goroutine.
type drill struct {
	opts       Options // with defaults
	partitions int32
	src, tgt   []string
	cfg        mm2.Config
	rng        *rand.Rand
	prod       *kgo.Client // source producer
	txnProd    *kgo.Client // source transactional producer: aborted records and markers upstream
	srcAdm     *kadm.Client
	tgtAdm     *kadm.Client
	next       map[int32]int // per-partition value counter
	txns       int
	sources    []*running
	cp         *running
	commits    map[string]map[int32]int64 // group → source partition → committed offset
	watch      *checkpointWatch
	closers    []func() // clusters and clients, closed in reverse order by close
}

// newDrill starts the clusters and creates the source topic. The caller closes the drill.
func newDrill(ctx context.Context, opts Options) (_ *drill, err error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	d := &drill{opts: opts, partitions: int32(opts.Partitions), rng: rand.New(rand.NewPCG(opts.Seed, 7)),
		next: map[int32]int{}, commits: map[string]map[int32]int64{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.close())
		}
	}()
	if d.src, err = d.cluster(); err != nil {
		return nil, err
	}
	if d.tgt, err = d.cluster(); err != nil {
		return nil, err
	}
	keys := mirrorKeys(sourceAlias, targetAlias, d.src, d.tgt, srcTopic, opts.Transactional)
	if opts.LagMax > 0 {
		keys["offset.lag.max"] = fmt.Sprint(opts.LagMax)
	}
	if d.cfg, err = mm2.ParseConfig(keys); err != nil {
		return nil, fmt.Errorf("parse the drill's MM2 configuration: %w", err)
	}
	if d.prod, err = d.client(d.src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)); err != nil {
		return nil, err
	}
	if d.txnProd, err = d.client(d.src, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("drill-upstream")); err != nil {
		return nil, err
	}
	srcAdm, err := d.client(d.src)
	if err != nil {
		return nil, err
	}
	tgtAdm, err := d.client(d.tgt)
	if err != nil {
		return nil, err
	}
	d.srcAdm, d.tgtAdm = kadm.NewClient(srcAdm), kadm.NewClient(tgtAdm)
	ctx, cancel := context.WithTimeout(ctx, opts.Patience)
	defer cancel()
	resp, err := d.srcAdm.CreateTopic(ctx, d.partitions, 1, nil, srcTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", srcTopic, err)
	}
	if d.watch, err = newCheckpointWatch(d.tgt, sourceAlias+".checkpoints.internal", tgtTopic, opts.decodeCheckpoint); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.watch.close)
	return d, nil
}

// mirrorKeys are the MM2 keys of a drill's replication of topic from src to tgt: every group,
// checkpoints and group offset sync every second, no heartbeats, no ACL sync.
func mirrorKeys(src, tgt string, srcAddrs, tgtAddrs []string, topic string, transactional bool) map[string]string {
	keys := map[string]string{
		"source.cluster.alias":                src,
		"target.cluster.alias":                tgt,
		"source.cluster.bootstrap.servers":    strings.Join(srcAddrs, ","),
		"target.cluster.bootstrap.servers":    strings.Join(tgtAddrs, ","),
		"topics":                              topic,
		"groups":                              ".*",
		"refresh.topics.interval.seconds":     "1",
		"refresh.groups.interval.seconds":     "1",
		"emit.checkpoints.interval.seconds":   "1",
		"sync.group.offsets.enabled":          "true",
		"sync.group.offsets.interval.seconds": "1",
		"emit.heartbeats.enabled":             "false",
		"sync.topic.acls.enabled":             "false",
	}
	if transactional {
		keys["exactly.once.support"] = "required"
	}
	return keys
}

// close stops the tasks, then closes the clients and the clusters. It returns the tasks'
// errors.
func (d *drill) close() error {
	err := d.stopSources()
	if d.cp != nil {
		err = errors.Join(err, d.cp.stop())
		d.cp = nil
	}
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
	return err
}

// cluster starts a one-broker kfake cluster that close stops.
func (d *drill) cluster() ([]string, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, fmt.Errorf("start a kfake cluster: %w", err)
	}
	d.closers = append(d.closers, c.Close)
	return c.ListenAddrs(), nil
}

// client is a client of the cluster at addrs that close closes.
func (d *drill) client(addrs []string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := newClient(addrs, opts...)
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, cl.Close)
	return cl, nil
}

// newClient is a client of the cluster at addrs that refreshes metadata quickly, as topics
// appear during a drill.
func newClient(addrs []string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.MetadataMinAge(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("client of %v: %w", addrs, err)
	}
	return cl, nil
}

// scenario runs the drill's steps; n is the records per partition of the first batch.
func (d *drill) scenario(ctx context.Context, n int) error {
	all := int(d.partitions)
	if err := d.produce(ctx, n); err != nil {
		return err
	}
	if err := d.startSources(ctx, 1); err != nil {
		return err
	}
	if err := d.startCheckpoint(ctx); err != nil {
		return err
	}
	// Commits while replication is under way: most are past what was copied yet.
	if err := d.consumeAndCommit(ctx, "live", all*n/3); err != nil {
		return err
	}
	if err := d.commitRandom(ctx, "admin-1", all/2+1); err != nil {
		return err
	}
	if d.opts.Restart {
		if err := d.restart(ctx, n); err != nil {
			return err
		}
	} else {
		if err := d.produce(ctx, n/2); err != nil {
			return err
		}
		if err := d.consumeAndCommit(ctx, "live", all*n/2); err != nil {
			return err
		}
		for _, group := range []string{"admin-2", "admin-3"} {
			if err := d.commitRandom(ctx, group, all); err != nil {
				return err
			}
		}
	}
	for i := range d.opts.Groups {
		if err := d.commitRandom(ctx, fmt.Sprintf("random-%d", i), all); err != nil {
			return err
		}
	}
	if err := d.commitAtEnd(ctx, "admin-end"); err != nil { // nothing after these commits yet
		return err
	}
	if err := d.produce(ctx, 10); err != nil { // records after the commits
		return err
	}
	return d.waitSynced(ctx)
}

// restart is the middle of a scenario with Restart: it stops the checkpoint task in the middle
// of its work (after its first checkpoints), keeps producing and committing, stops the source
// too, and restarts both while records and commits wait to be copied.
func (d *drill) restart(ctx context.Context, n int) error {
	all := int(d.partitions)
	if err := d.watch.waitAny(ctx, d.opts.Patience); err != nil {
		return err
	}
	err := d.cp.stop()
	d.cp = nil
	if err != nil {
		return err
	}
	if err := d.produce(ctx, n/2); err != nil {
		return err
	}
	if err := d.commitRandom(ctx, "admin-2", all); err != nil {
		return err
	}
	if err := d.stopSources(); err != nil {
		return err
	}
	if err := d.produce(ctx, n/3); err != nil { // copied only after the restart
		return err
	}
	if err := d.consumeAndCommit(ctx, "live", all*n/2); err != nil {
		return err
	}
	if err := d.commitRandom(ctx, "admin-3", all); err != nil {
		return err
	}
	if err := d.startSources(ctx, 2); err != nil { // partitions move between tasks
		return err
	}
	return d.startCheckpoint(ctx)
}

// produce writes n records to every partition; in every call one partition also gets a
// committed and an aborted transaction (upstream gaps: markers and aborted records).
func (d *drill) produce(ctx context.Context, n int) error {
	if err := d.producePlain(ctx, n); err != nil {
		return err
	}
	p := int32(d.txns) % d.partitions
	d.txns++
	if err := d.transaction(ctx, p, 3, true); err != nil {
		return err
	}
	return d.transaction(ctx, p, 3, false)
}

// producePlain writes n records to every partition, without transactions.
func (d *drill) producePlain(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Patience)
	defer cancel()
	var recs []*kgo.Record
	for p := range d.partitions {
		for range n {
			recs = append(recs, &kgo.Record{Topic: srcTopic, Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, d.next[p])})
			d.next[p]++
		}
	}
	if err := d.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// transaction writes n records to partition p in one transaction of the source's
// transactional producer, committed or aborted: the partition then ends in its marker.
func (d *drill) transaction(ctx context.Context, p int32, n int, commit bool) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Patience)
	defer cancel()
	if err := d.txnProd.BeginTransaction(); err != nil {
		return fmt.Errorf("begin source transaction: %w", err)
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
	if err == nil {
		err = d.txnProd.EndTransaction(ctx, kgo.TransactionEndTry(commit))
	}
	if err != nil {
		return fmt.Errorf("source transaction: %w", err)
	}
	return nil
}

// running is a task running in its own goroutine.
type running struct {
	name   string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs f in a new goroutine until stop; name says what it is in errors.
func start(ctx context.Context, name string, f func(context.Context) error) *running {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{name: name, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f(ctx) }()
	return r
}

// stop cancels the task and waits for it to return. It returns the task's error, on its first
// call only.
func (r *running) stop() (err error) {
	r.once.Do(func() {
		r.cancel()
		if e := <-r.done; e != nil {
			err = fmt.Errorf("%s: %w", r.name, e)
		}
	})
	return err
}

// startSources starts count MirrorSource tasks (stopping any running ones first).
func (d *drill) startSources(ctx context.Context, count int) error {
	if err := d.stopSources(); err != nil {
		return err
	}
	for i := range count {
		task, err := mirror.NewSourceTask(mirror.SourceOptions{
			Config: d.cfg, ConnectorName: connector, TaskID: i, TaskCount: count,
			Transactional: d.opts.Transactional, TransactionalID: fmt.Sprintf("drill-task-%d", i),
			CommitInterval: 100 * time.Millisecond, Logger: d.opts.Logger,
		})
		if err != nil {
			return fmt.Errorf("source task %d/%d: %w", i, count, err)
		}
		d.sources = append(d.sources, start(ctx, fmt.Sprintf("source task %d/%d", i, count), task.Run))
	}
	return nil
}

// stopSources stops the MirrorSource tasks and returns their errors.
func (d *drill) stopSources() error {
	var err error
	for _, r := range d.sources {
		err = errors.Join(err, r.stop())
	}
	d.sources = nil
	return err
}

func (d *drill) startCheckpoint(ctx context.Context) error {
	opts := checkpoint.FromConfig(d.cfg, 0, 1)
	opts.SourceConnector = connector
	opts.ReplicationFactor = -1
	opts.Logger = d.opts.Logger
	task, err := checkpoint.NewTask(opts)
	if err != nil {
		return fmt.Errorf("checkpoint task: %w", err)
	}
	d.cp = start(ctx, "checkpoint task", task.Run)
	return nil
}

// consumeAndCommit consumes n records of the source topic as a member of group (from where
// the group left off), commits them and leaves the group.
func (d *drill) consumeAndCommit(ctx context.Context, group string, n int) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Patience)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.src...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(srcTopic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return fmt.Errorf("group %s: %w", group, err)
	}
	defer cl.Close()
	last := map[int32]int64{}
	for got := 0; got < n; {
		fs := cl.PollRecords(ctx, n-got)
		if ctx.Err() != nil {
			return fmt.Errorf("group %s: consumed %d of %d records: %w", group, got, n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			last[r.Partition] = r.Offset
			got++
		})
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("group %s: commit: %w", group, err)
	}
	for p, o := range last {
		d.setCommit(group, p, o+1) // the record after the last one consumed
	}
	return nil
}

func (d *drill) setCommit(group string, p int32, x int64) {
	if d.commits[group] == nil {
		d.commits[group] = map[int32]int64{}
	}
	d.commits[group][p] = x
}

// ends are the end offsets of the source topic's partitions.
func (d *drill) ends(ctx context.Context) (map[int32]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Patience)
	defer cancel()
	lo, err := d.srcAdm.ListEndOffsets(ctx, srcTopic)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", srcTopic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// commitOffsets commits group at the given offsets through the admin API.
func (d *drill) commitOffsets(ctx context.Context, group string, at map[int32]int64) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Patience)
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
		return fmt.Errorf("commit %s: %w", group, err)
	}
	return nil
}

// commitRandom commits group at a random offset in [0, end] on k random partitions.
func (d *drill) commitRandom(ctx context.Context, group string, k int) error {
	ends, err := d.ends(ctx)
	if err != nil {
		return err
	}
	at := map[int32]int64{}
	for _, p := range d.rng.Perm(int(d.partitions))[:min(k, int(d.partitions))] {
		at[int32(p)] = d.rng.Int64N(ends[int32(p)] + 1)
	}
	return d.commitOffsets(ctx, group, at)
}

// commitAtEnd commits group at the end of every partition.
func (d *drill) commitAtEnd(ctx context.Context, group string) error {
	ends, err := d.ends(ctx)
	if err != nil {
		return err
	}
	return d.commitOffsets(ctx, group, ends)
}

// targetOffsets are the groups' committed offsets on the target topic (none for a group the
// target does not know yet).
func (d *drill) targetOffsets(ctx context.Context) map[string]map[int32]int64 {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Patience)
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
func (d *drill) waitSynced(ctx context.Context) error {
	deadline := time.Now().Add(d.opts.Patience)
	for {
		latest, err := d.watch.poll(ctx)
		if err != nil {
			return err
		}
		tgt := d.targetOffsets(ctx)
		var missing []string
		for group, parts := range d.commits {
			for p, x := range parts {
				c, ok := latest[cpKey{group, p}]
				switch {
				case !ok || c.UpstreamOffset != x:
					missing = append(missing, fmt.Sprintf("%s/%d: no checkpoint of upstream %d (have %+v)", group, p, x, c))
				case tgt[group][p] != c.DownstreamOffset:
					missing = append(missing, fmt.Sprintf("%s/%d: target at %d, checkpoint says %d", group, p, tgt[group][p], c.DownstreamOffset))
				}
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			slices.Sort(missing)
			return fmt.Errorf("groups not synced after %v:\n%s", d.opts.Patience, strings.Join(missing, "\n"))
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

type cpKey struct {
	group     string
	partition int32
}

// checkpointWatch follows a checkpoints topic and keeps the latest checkpoint per group and
// partition.
type checkpointWatch struct {
	cl     *kgo.Client
	topic  string // the replicated topic every checkpoint must name
	decode func(key, value []byte) (records.Checkpoint, error)
	latest map[cpKey]records.Checkpoint
	n      int
}

// newCheckpointWatch follows the topic checkpoints on the cluster at addrs, from its start;
// every checkpoint must decode with decode and name the replicated topic topic. The caller
// closes the watch.
func newCheckpointWatch(addrs []string, checkpoints, topic string, decode func(key, value []byte) (records.Checkpoint, error)) (*checkpointWatch, error) {
	cl, err := newClient(addrs, kgo.ConsumeTopics(checkpoints), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	return &checkpointWatch{cl: cl, topic: topic, decode: decode, latest: map[cpKey]records.Checkpoint{}}, nil
}

func (w *checkpointWatch) close() { w.cl.Close() }

// poll reads what arrived (waiting at most 200 ms) and returns the latest checkpoint per key.
// A checkpoint that does not decode or names another topic is an error.
func (w *checkpointWatch) poll(ctx context.Context) (map[cpKey]records.Checkpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var errs []error
	w.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
		c, err := w.decode(r.Key, r.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("checkpoint at offset %d does not decode: %w", r.Offset, err))
			return
		}
		if c.Topic != w.topic {
			errs = append(errs, fmt.Errorf("checkpoint at offset %d names topic %q, want %q", r.Offset, c.Topic, w.topic))
		}
		w.latest[cpKey{c.ConsumerGroupID, c.Partition}] = c
		w.n++
	})
	return w.latest, errors.Join(errs...)
}

// waitAny waits at most patience for the first checkpoint.
func (w *checkpointWatch) waitAny(ctx context.Context, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for w.n == 0 {
		if _, err := w.poll(ctx); err != nil {
			return err
		}
		if w.n == 0 && (time.Now().After(deadline) || ctx.Err() != nil) {
			return fmt.Errorf("no checkpoint written after %v", patience)
		}
	}
	return nil
}

// verify joins every group on the target and compares, per partition, the first record it
// reads with the first record at or after the group's source commit.
func (d *drill) verify(ctx context.Context) (Result, error) {
	// The source, read_committed: the records a consumer can read, in order.
	source, err := readPartitions(ctx, d.opts.Patience, d.src, srcTopic, true)
	if err != nil {
		return Result{}, err
	}
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
	var res Result
	groups := make([]string, 0, len(d.commits))
	for g := range d.commits {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, group := range groups {
		first, err := d.firstOnTarget(ctx, group)
		if err != nil {
			return Result{}, err
		}
		for p, x := range d.commits[group] {
			res.GroupPartitions++
			want, _ := slices.BinarySearch(offsets[p], x) // first readable record at or after x
			got, ok := index[string(first[p].Value)]
			switch {
			case !ok || got.p != p:
				res.Mismatches = append(res.Mismatches, fmt.Sprintf("group %s partition %d: target record %q is not a readable source record of the partition", group, p, first[p].Value))
				res.Skipped++
			case got.idx > want:
				res.Skipped += got.idx - want
				res.Mismatches = append(res.Mismatches, fmt.Sprintf("group %s partition %d: committed %d on the source, first read %q on the target: %d records skipped", group, p, x, first[p].Value, got.idx-want))
			case got.idx < want:
				res.Redelivered += want - got.idx
				res.Mismatches = append(res.Mismatches, fmt.Sprintf("group %s partition %d: committed %d on the source, first read %q on the target: %d records re-delivered", group, p, x, first[p].Value, want-got.idx))
			}
		}
	}
	return res, nil
}

// firstOnTarget joins group on the target (read_committed, no commits) and returns the first
// record it reads on each partition the group committed on the source.
func (d *drill) firstOnTarget(ctx context.Context, group string) (map[int32]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Patience)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.tgt...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(tgtTopic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("group %s on the target: %w", group, err)
	}
	defer cl.Close()
	first := map[int32]*kgo.Record{}
	for len(first) < len(d.commits[group]) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("group %s on the target: read the first record of %d of %d partitions: %w", group, len(first), len(d.commits[group]), ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r
			}
		})
	}
	return first, nil
}

// readPartitions reads topic on the cluster at addrs from the start to its current end, per
// partition (data records only), read_committed with committed; patience bounds the read.
func readPartitions(ctx context.Context, patience time.Duration, addrs []string, topic string, committed bool) (map[int32][]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	admCl, err := newClient(addrs)
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
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
		return nil, fmt.Errorf("read %s: %w", topic, err)
	}
	defer cl.Close()
	for len(last) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read %s: %w (partitions left: %v)", topic, ctx.Err(), last)
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
	return out, nil
}
