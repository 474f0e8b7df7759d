package mirror

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

// Defaults of SourceOptions.
const (
	// DefaultCommitInterval is how often an at-least-once task writes progress.
	DefaultCommitInterval = time.Second
	// DefaultTxnInterval is how long a transactional task collects records into one
	// transaction before committing it.
	DefaultTxnInterval = 250 * time.Millisecond
	// DefaultStopTimeout bounds how long Run waits, after its context ends, for in-flight
	// records to be acknowledged before giving up on them.
	DefaultStopTimeout = 15 * time.Second
)

// SourceOptions configure a SourceTask.
type SourceOptions struct {
	// Config is the parsed MirrorMaker 2 configuration; required.
	Config mm2.Config
	// ConnectorName names the progress records (Connect's offset namespace: the connector
	// name); required. Tasks of one connector share it.
	ConnectorName string
	// TaskID and TaskCount place this task among its connector's tasks: 0 ≤ TaskID < TaskCount.
	TaskID, TaskCount int
	// Logger receives structured logs; the caller adds workload and worker ids. nil discards.
	Logger *slog.Logger
	// Metrics receives the task's metrics; nil for none.
	Metrics MetricsSink
	// Transactional writes records and progress in one transaction per batch (exactly once).
	Transactional bool
	// TransactionalID is the target producer's transactional id, e.g. fjord-<workload>-<task>;
	// required when Transactional. A newer task with the same id fences this one.
	TransactionalID string
	// SourceOpts and TargetOpts are extra franz-go options (TLS, SASL, dialer) for the
	// clients of each cluster; seed brokers come from Config.
	SourceOpts, TargetOpts []kgo.Opt
	// Runtime is the Kafka Connect cluster the connector runs in (MSK Connect's kafkaCluster):
	// when set, the task's producer writes the copies and the progress there — the progress to
	// Runtime.OffsetsTopic, in one transaction with the copies in transactional mode — while
	// topic creation and the config and ACL sync stay on the target cluster (target.cluster.*),
	// as MirrorSourceConnector's admin client does in Connect. nil: everything on the target.
	Runtime *RuntimeCluster
	// CommitInterval is how often progress is written in at-least-once mode (default
	// Config.OffsetFlushInterval, else 1 s) and
	// how long a transaction collects records in transactional mode (default 250 ms).
	CommitInterval time.Duration
	// StopTimeout bounds the wait for in-flight records on stop; default 15 s.
	StopTimeout time.Duration
}

// RuntimeCluster is the Kafka cluster of a connector's Connect runtime.
type RuntimeCluster struct {
	// Bootstrap are its seed brokers; required.
	Bootstrap []string
	// Opts are extra franz-go options (TLS) for its clients.
	Opts []kgo.Opt
	// OffsetsTopic is the runtime's offsets topic (offset.storage.topic); required.
	OffsetsTopic string
	// OffsetsPartitions is the partition count the task creates OffsetsTopic with when it does
	// not exist (Kafka Connect's offset.storage.partitions); default 25.
	OffsetsPartitions int
}

// DefaultOffsetsPartitions is Kafka Connect's offset.storage.partitions default.
const DefaultOffsetsPartitions = 25

// SourceTask replicates the source partitions it owns to the target cluster. Run it once.
type SourceTask struct {
	opts   SourceOptions
	cfg    mm2.Config
	log    *slog.Logger
	policy mm2.ReplicationPolicy

	progressTopic string
	syncTopic     string

	// tgt is the producer of the copies and the progress: a client of the target cluster, or
	// of the Runtime cluster when there is one. adm is the client of the target cluster's admin
	// work (tgt itself unless Runtime names other brokers).
	src, tgt, syncCl, adm *kgo.Client
	// srcAdm and tgtAdm administer the source and target clusters; rtAdm the cluster tgt
	// writes to (the progress topic's and the copies' cluster).
	srcAdm, tgtAdm, rtAdm *kadm.Client
	// legacyProgress is mm2-offsets.<source alias>.internal on the target, read as well when
	// the progress is in Runtime.OffsetsTopic: a connector that recorded its progress there
	// before it had a runtime cluster resumes from it.
	legacyProgress string

	// progressParts is the partition count of the progress topic (1 unless it pre-existed).
	progressParts int
	// progress is what the progress topic held at start, by source partition.
	progress map[tp]int64

	mu       sync.RWMutex
	bySource map[tp]*partState
	byTarget map[tp]*partState
	started  bool   // first discovery done: later partitions start at earliest
	ownedGen uint64 // bumped whenever bySource changes

	// reportedGen and reportedTopics are the owned topics last reported to Metrics.Topics and
	// the ownedGen they were computed at; only the metrics reporter (never two at once) uses them.
	reportedGen    uint64
	reportedTopics []string

	progressMu sync.Mutex

	fatalOnce sync.Once
	fatalErr  error
	fatal     chan struct{}

	// txnSyncs collects the offset syncs of the open transaction (transactional mode).
	txnMu    sync.Mutex
	txnSyncs []taggedSync
	txnErr   error
	// txnDirty are the partitions whose progress the open transaction may have to write:
	// touched by it (inTxn), new, or settled by anchorHeld (transactional mode). A commit
	// walks them rather than every owned partition; a full walk every fullWalkRounds rounds
	// is the safety net.
	txnDirty []*partState
	txnRound int

	// prov is the loop-prevention state (provenance.go); set in setup, read-only after.
	prov provenance
	// lin is the topic-level cycle prevention (lineage.go); set in setup.
	lin *lineage
	// enhanced tags offset syncs with their kind and writes one at both ends of every run
	// (fjord.consumer.group.offset.sync.mode=ENHANCED; runs.go).
	enhanced bool
	// held are partitions whose skipped records wait for a downstream anchor (provenance.go);
	// only Run's goroutine touches it.
	held map[*partState]struct{}

	// conv converts copied records (key.converter, value.converter, header.converter); nil
	// copies them as they are.
	conv *recordConverter

	// crashOnStop makes Run return without flushing anything when its context ends: tests use
	// it to simulate a killed process.
	crashOnStop atomic.Bool

	stats taskStats
}

type taskStats struct {
	produced, acked, skipped atomic.Int64
}

type tp struct {
	topic     string
	partition int32
}

// partState is one owned source partition.
type partState struct {
	src    tp
	target tp
	hwm    atomic.Int64 // source high watermark from the latest fetch; -1 unknown

	// syncMu orders the offset syncs of the partition when they come from two goroutines
	// (records that are not copied — transaction markers, and records skipped by loop
	// prevention — are settled on Run's goroutine, acknowledgements on the promise
	// goroutine). Taken before mu, never while holding it; held across producing the sync,
	// which may block only on the offset-syncs client's own promises (onSyncAck takes mu
	// only).
	syncMu sync.Mutex

	mu       sync.Mutex
	inflight []flight // records produced and not yet acknowledged, oldest first
	head     int
	acked    int64 // last upstream offset the target acknowledged, in order; -1 none
	// nextDown is the target offset just after the last acknowledged copy, or the target's
	// end offset measured before this task produced anything to the partition; -1 unknown.
	nextDown int64
	// skipHeld is the last skipped upstream offset that waits for nextDown to be known; -1 none.
	skipHeld int64
	pending  []pendingSync // offset syncs not yet acknowledged, oldest first (at-least-once)
	failed   bool          // a record failed: progress stays where it is
	written  int64         // last progress value produced; -1 none
	// offset-sync rule state
	haveSync  bool
	syncUp    int64
	syncDelta int64
	// ENHANCED mode's run state (runs.go): the first upstream offset handled in this task's
	// lifetime (-1 none yet), whether a sync was written in it, the last acknowledged copy
	// (-1 none) and whether its run has not been ended by a run-end sync yet.
	firstUp      int64
	begun        bool
	lastU, lastD int64
	runOpen      bool
	// metrics since the last report
	lagReported      int64 // lag last reported to Metrics.Lag; -1 none
	nRecords, nBytes int64
	nPolled          int64 // records fetched, copied or skipped
	latSum, latMax   time.Duration
	// inTxn marks partitions touched by the open transaction.
	inTxn bool
}

// flight is a produced record not yet acknowledged: its upstream offset, and the last upstream
// offset its acknowledgement settles (greater when skipped records follow it).
type flight struct{ up, through int64 }

// pendingSync is an offset sync written and not yet acknowledged: its upstream offset, and
// hold, the first upstream offset recorded progress may not cover until it is acknowledged.
// A record's sync holds its record (hold = up); a position sync written when progress passes
// records that are not copied holds all of them (hold = the first one), since the checkpoint
// task would translate a group positioned among them with the previous sync's delta.
type pendingSync struct{ up, hold int64 }

// committable is the progress that may be recorded: acknowledged, with its syncs
// acknowledged. Callers hold ps.mu.
func (ps *partState) committable() int64 {
	if len(ps.pending) > 0 {
		return min(ps.acked, ps.pending[0].hold-1)
	}
	return ps.acked
}

// Owner is the task, among taskCount, that owns source partition (topic, partition):
// (fnv32a(topic) + partition) mod taskCount, computed in uint32.
func Owner(topic string, partition int32, taskCount int) int {
	return ownerOf(topicHash(topic), partition, taskCount)
}

// topicHash is fnv32a(topic), Owner's hash of a topic: computed once per topic when deciding
// the owners of all its partitions.
func topicHash(topic string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(topic))
	return h.Sum32()
}

// ownerOf is Owner with the topic's hash (topicHash) already computed.
func ownerOf(topicHash uint32, partition int32, taskCount int) int {
	return int((topicHash + uint32(partition)) % uint32(taskCount))
}

// NewSourceTask validates opts. It does not connect to anything.
func NewSourceTask(opts SourceOptions) (*SourceTask, error) {
	c := opts.Config
	switch {
	case opts.ConnectorName == "":
		return nil, errors.New("mirror: ConnectorName is required")
	case opts.TaskCount < 1 || opts.TaskID < 0 || opts.TaskID >= opts.TaskCount:
		return nil, fmt.Errorf("mirror: task %d of %d: need 0 <= TaskID < TaskCount", opts.TaskID, opts.TaskCount)
	case len(c.SourceBootstrap) == 0 || len(c.TargetBootstrap) == 0:
		return nil, errors.New("mirror: Config needs source and target bootstrap servers (use mm2.ParseConfig)")
	case c.Policy == nil || c.SourceAlias == "" || c.TargetAlias == "":
		return nil, errors.New("mirror: Config needs a replication policy and both cluster aliases (use mm2.ParseConfig)")
	case opts.Transactional && opts.TransactionalID == "":
		return nil, errors.New("mirror: TransactionalID is required in transactional mode")
	case opts.Runtime != nil && (len(opts.Runtime.Bootstrap) == 0 || opts.Runtime.OffsetsTopic == ""):
		return nil, errors.New("mirror: Runtime needs bootstrap servers and an offsets topic")
	}
	if opts.CommitInterval <= 0 && !opts.Transactional {
		opts.CommitInterval = c.OffsetFlushInterval // offset.flush.interval.ms
	}
	if opts.CommitInterval <= 0 {
		opts.CommitInterval = DefaultCommitInterval
		if opts.Transactional {
			opts.CommitInterval = DefaultTxnInterval
		}
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if c.OffsetLagMax <= 0 {
		c.OffsetLagMax = 100
	}
	if c.OffsetSyncsLocation == "" {
		c.OffsetSyncsLocation = mm2.LocationSource
	}
	if c.StartingPosition == "" {
		c.StartingPosition = mm2.StartEarliest
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "mirror_source", "connector", opts.ConnectorName, "task_id", opts.TaskID,
		"source_alias", c.SourceAlias, "target_alias", c.TargetAlias)
	progressTopic, legacy := mm2.OffsetsTopic(c.SourceAlias), ""
	if opts.Runtime != nil {
		progressTopic, legacy = opts.Runtime.OffsetsTopic, progressTopic
		if opts.Runtime.OffsetsPartitions <= 0 {
			r := *opts.Runtime
			r.OffsetsPartitions = DefaultOffsetsPartitions
			opts.Runtime = &r
		}
	}
	return &SourceTask{
		opts:           opts,
		cfg:            c,
		log:            log,
		policy:         c.Policy,
		legacyProgress: legacy,
		progressTopic:  progressTopic,
		syncTopic:      offsetSyncsTopic(c),
		bySource:       map[tp]*partState{},
		byTarget:       map[tp]*partState{},
		fatal:          make(chan struct{}),
		enhanced:       c.OffsetSyncMode == mm2.SyncModeEnhanced && c.EmitOffsetSyncs,
		conv:           newRecordConverter(c),
	}, nil
}

// markDirty adds ps to the partitions the next commit writes the progress of (transactional
// mode; nothing otherwise).
func (t *SourceTask) markDirty(ps *partState) {
	if !t.opts.Transactional {
		return
	}
	t.txnMu.Lock()
	t.txnDirty = append(t.txnDirty, ps)
	t.txnMu.Unlock()
}

// fail records the first fatal error and makes the poll loop stop.
func (t *SourceTask) fail(err error) {
	t.fatalOnce.Do(func() {
		t.fatalErr = err
		close(t.fatal)
		t.metricsError("fatal", err)
	})
}

// Run replicates until ctx ends; then it stops fetching, waits for in-flight records to be
// acknowledged (at most StopTimeout), writes final progress and returns nil. It returns an
// error when the task cannot continue: a record the target refused, a fenced transactional
// producer, a configuration the clusters reject. Progress never covers a record that was not
// acknowledged, so restarting after an error loses nothing.
func (t *SourceTask) Run(ctx context.Context) (err error) {
	defer func() {
		if t.src != nil {
			t.src.Close()
		}
		if t.syncCl != nil {
			t.syncCl.Close()
		}
		if t.tgt != nil {
			t.tgt.Close()
		}
		if t.adm != nil && t.adm != t.tgt {
			t.adm.Close()
		}
	}()
	if err := t.connect(); err != nil {
		return err
	}
	if err := t.setup(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	t.log.Info("replicating", "partitions", t.ownedCount(), "transactional", t.opts.Transactional,
		"progress_topic", t.progressTopic)

	// prodCtx cancels buffered records only when a stop gives up on them (or on a crash).
	prodCtx, prodCancel := context.WithCancel(context.Background())
	defer prodCancel()
	// loopCtx ends the poll loop on stop or on a fatal error.
	loopCtx, loopCancel := context.WithCancel(ctx)
	defer loopCancel()
	go func() {
		select {
		case <-t.fatal:
			loopCancel()
		case <-loopCtx.Done():
		}
	}()

	var refreshWG, tickWG sync.WaitGroup
	bgCtx, bgCancel := context.WithCancel(context.Background())
	defer bgCancel()
	if t.cfg.RefreshTopicsInterval > 0 {
		refreshWG.Go(func() { t.refreshLoop(loopCtx) })
	}
	t.startSyncLoops(loopCtx, &refreshWG)
	tickWG.Go(func() { t.tickLoop(bgCtx, prodCtx) })

	if t.opts.Transactional {
		err = t.runTxn(loopCtx, prodCtx)
	} else {
		t.runLoop(loopCtx, prodCtx)
	}

	loopCancel()
	refreshWG.Wait()
	if t.crashOnStop.Load() && ctx.Err() != nil {
		prodCancel()
		bgCancel()
		tickWG.Wait()
		t.log.Warn("crash simulated: stopped without flushing")
		return nil
	}
	// Stop: no more fetches; wait for in-flight records, then write the final progress.
	if t.src != nil {
		t.src.PauseFetchTopics(t.ownedTopics()...)
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), t.opts.StopTimeout)
	defer stopCancel()
	if !t.opts.Transactional {
		if ferr := t.flushAll(stopCtx); ferr != nil {
			t.log.Error("in-flight records were not acknowledged before the stop timeout; progress covers only acknowledged ones", "error", ferr)
			prodCancel()
			err = errors.Join(err, fmt.Errorf("stop: %w", ferr))
		}
		bgCancel()
		tickWG.Wait()
		if perr := t.writeProgress(stopCtx, true); perr != nil {
			err = errors.Join(err, fmt.Errorf("write final progress: %w", perr))
		}
	} else {
		bgCancel()
		tickWG.Wait()
	}
	t.reportMetrics()
	if t.failed() { // reading fatalErr after the channel closed is ordered after its write
		err = errors.Join(t.fatalErr, err)
	}
	t.log.Info("stopped", "produced", t.stats.produced.Load(), "acknowledged", t.stats.acked.Load(), "skipped", t.stats.skipped.Load(), "error", err)
	return err
}

func (t *SourceTask) connect() error {
	var err error
	c := t.cfg
	logOpt := kgo.WithLogger(kgoLogger{t.log})
	// New topics and partitions must be usable within a second of their discovery, not after
	// franz-go's default 5 s minimum metadata age.
	metaOpt := kgo.MetadataMinAge(200 * time.Millisecond)
	srcOpts := []kgo.Opt{
		kgo.SeedBrokers(c.SourceBootstrap...),
		logOpt,
		metaOpt,
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // out of range: replay, never skip
		// Transaction markers are handled like skipped records: seeing them is how the task
		// knows that a partition ending in markers is caught up, so that progress (and a
		// position sync) can pass them before any later record exists (produceFetches).
		kgo.KeepControlRecords(),
		// Java's fetch.max.wait.ms default; franz-go's 5 s would hold newly added partitions
		// back until an idle fetch returns.
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	srcOpts = append(srcOpts, c.ConsumerOpts()...)
	srcOpts = append(srcOpts, t.opts.SourceOpts...)
	if t.src, err = kgo.NewClient(srcOpts...); err != nil {
		return fmt.Errorf("mirror: source client: %w", err)
	}
	seeds, extra := c.TargetBootstrap, t.opts.TargetOpts
	if rt := t.opts.Runtime; rt != nil {
		seeds, extra = rt.Bootstrap, rt.Opts
	}
	tgtOpts := []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		logOpt,
		metaOpt,
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}
	tgtOpts = append(tgtOpts, c.ProducerOpts()...)
	if t.opts.Transactional {
		tgtOpts = append(tgtOpts, kgo.TransactionalID(t.opts.TransactionalID), kgo.TransactionTimeout(time.Minute))
	}
	tgtOpts = append(tgtOpts, extra...)
	if t.tgt, err = kgo.NewClient(tgtOpts...); err != nil {
		return fmt.Errorf("mirror: target client: %w", err)
	}
	t.adm = t.tgt
	if rt := t.opts.Runtime; rt != nil && !mm2.SameServers(rt.Bootstrap, c.TargetBootstrap) {
		admOpts := append([]kgo.Opt{kgo.SeedBrokers(c.TargetBootstrap...), logOpt, metaOpt}, t.opts.TargetOpts...)
		if t.adm, err = kgo.NewClient(admOpts...); err != nil {
			return fmt.Errorf("mirror: target admin client: %w", err)
		}
	}
	if c.EmitOffsetSyncs {
		seeds, extra := c.SourceBootstrap, t.opts.SourceOpts
		if c.OffsetSyncsLocation == mm2.LocationTarget {
			seeds, extra = c.TargetBootstrap, t.opts.TargetOpts
		}
		syncOpts := append([]kgo.Opt{
			kgo.SeedBrokers(seeds...),
			logOpt,
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.DefaultProduceTopic(t.syncTopic),
		}, extra...)
		if t.syncCl, err = kgo.NewClient(syncOpts...); err != nil {
			return fmt.Errorf("mirror: offset-syncs client: %w", err)
		}
	}
	t.srcAdm, t.tgtAdm, t.rtAdm = kadm.NewClient(t.src), kadm.NewClient(t.adm), kadm.NewClient(t.tgt)
	return nil
}

// setup creates the internal topics, fences older producers (transactional mode), reads the
// progress and starts consuming the owned partitions.
func (t *SourceTask) setup(ctx context.Context) error {
	n, err := t.ensureProgressTopic(ctx)
	if err != nil {
		return err
	}
	t.progressParts = n
	if t.syncCl != nil {
		if err := ensureCompacted(ctx, kadm.NewClient(t.syncCl), t.syncTopic, t.cfg.InternalReplicationFactor, t.log); err != nil {
			return err
		}
	}
	if t.opts.Transactional {
		// Initialising the producer id fences any older producer with our transactional id and
		// aborts its open transaction, so the progress read below is final.
		if err := retry(ctx, t.log, "initialise transactional producer", func() error {
			_, _, err := t.tgt.ProducerID(ctx)
			return err
		}); err != nil {
			return err
		}
	}
	if t.progress, err = t.readProgress(ctx); err != nil {
		return err
	}
	if err := t.resolveProvenance(ctx); err != nil {
		return err
	}
	if err := t.resolveLineage(ctx); err != nil {
		return err
	}
	return retry(ctx, t.log, "discover source partitions", func() error { return t.discover(ctx) })
}

// runLoop is the at-least-once loop: poll, produce; progress is written by the ticker.
func (t *SourceTask) runLoop(ctx, prodCtx context.Context) {
	for {
		fetches := t.src.PollRecords(ctx, t.cfg.MaxPollRecords)
		t.handleFetchErrors(fetches)
		t.produceFetches(prodCtx, fetches)
		if ctx.Err() != nil {
			return
		}
	}
}

func (t *SourceTask) handleFetchErrors(fetches kgo.Fetches) {
	fetches.EachError(func(topic string, p int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
			return
		}
		t.log.Warn("fetch", "topic", topic, "partition", p, "error", err)
		t.metricsError("fetch", err)
	})
}

// produceFetches copies the fetched records to the target, in order per partition. In
// provenance mode (provenance.go) it stamps each copy's provenance header and skips records
// that came from the target cluster. Transaction markers (control records) are never copied
// either. Records not copied still advance progress, settled by the acknowledgement of the
// produced record before them or, when none is in flight, at once: a partition that ends in
// markers or aborted records (whose abort marker follows them) is settled through its last
// marker, the last stable offset − 1 once the partition is caught up, with the position sync
// of checkpoint's C3 (provenance.go), so a group committed at the end translates without
// waiting for another record. Progress never passes an offset the consumer did not return:
// a marker cut off by a size-limited fetch is settled at the next one.
// It returns the number of data records handled (copied or skipped).
func (t *SourceTask) produceFetches(prodCtx context.Context, fetches kgo.Fetches) int {
	n := 0
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			if p.HighWatermark > 0 {
				if ps := t.lookupSource(p.Topic, p.Partition); ps != nil {
					ps.hwm.Store(p.HighWatermark)
				}
			}
			return
		}
		ps := t.lookupSource(p.Topic, p.Partition)
		if ps == nil {
			// Only partitions we assigned are fetched; one that vanished from our maps was
			// removed (its topic was deleted) between the fetch and now.
			t.log.Warn("fetched records of a partition that is not owned; dropping them", "topic", p.Topic, "partition", p.Partition, "records", len(p.Records))
			return
		}
		ps.hwm.Store(p.HighWatermark)
		var headers [][]kgo.RecordHeader // provenance mode: the copy's headers; nil = skip
		skipped, controls := 0, 0        // records not copied: loop prevention, markers
		if t.prov.on {
			headers = make([][]kgo.RecordHeader, len(p.Records))
		}
		for i, r := range p.Records {
			if r.Attrs.IsControl() {
				controls++
			} else if t.prov.on {
				if h, ok := t.prov.stamp(r.Headers); ok {
					headers[i] = h
				} else {
					skipped++
				}
			}
		}
		if skipped+controls > 0 {
			ps.syncMu.Lock()
		}
		ps.mu.Lock()
		if ps.firstUp < 0 {
			ps.firstUp = p.Records[0].Offset
		}
		tail := int64(-1) // last offset not copied with nothing in flight before it
		for i, r := range p.Records {
			if r.Attrs.IsControl() || (headers != nil && headers[i] == nil) {
				if ps.head < len(ps.inflight) {
					ps.inflight[len(ps.inflight)-1].through = r.Offset
				} else {
					tail = r.Offset
				}
				continue
			}
			ps.inflight = append(ps.inflight, flight{up: r.Offset, through: r.Offset})
			tail, ps.skipHeld = -1, -1 // its acknowledgement settles what was skipped before it
		}
		newlyTouched := !ps.inTxn
		ps.inTxn = true
		ps.nPolled += int64(len(p.Records) - controls)
		var syncs []taggedSync
		if tail >= 0 {
			var held bool
			if syncs, held = t.settleSkippedLocked(ps, tail); held {
				if t.held == nil {
					t.held = map[*partState]struct{}{}
				}
				t.held[ps] = struct{}{}
			}
		}
		ps.mu.Unlock()
		if newlyTouched {
			t.markDirty(ps)
		}
		for _, s := range syncs {
			t.emitSync(ps, s)
		}
		if skipped+controls > 0 {
			ps.syncMu.Unlock()
			t.stats.skipped.Add(int64(skipped))
		}
		for i, r := range p.Records {
			if r.Attrs.IsControl() {
				continue
			}
			out := &kgo.Record{
				Topic:     ps.target.topic,
				Partition: r.Partition,
				Key:       r.Key,
				Value:     r.Value,
				Headers:   r.Headers,
				Timestamp: r.Timestamp,
			}
			if headers != nil {
				if headers[i] == nil {
					continue
				}
				out.Headers = headers[i]
			}
			if t.conv != nil {
				if err := t.conv.apply(out); err != nil {
					// As Connect with errors.tolerance=none: the task fails, and progress stays
					// before this record (it and the ones after it are in flight, never acknowledged).
					t.fail(fmt.Errorf("convert %s/%d offset %d: %w", p.Topic, p.Partition, r.Offset, err))
					return
				}
			}
			t.tgt.Produce(prodCtx, out, t.onAck)
		}
		n += len(p.Records) - controls
		t.stats.produced.Add(int64(len(p.Records) - skipped - controls))
	})
	if len(t.held) > 0 {
		t.anchorHeld(prodCtx)
	}
	return n
}

// onAck runs on franz-go's promise goroutine, serially and in produce order per partition.
func (t *SourceTask) onAck(r *kgo.Record, err error) {
	ps := t.lookupTarget(r.Topic, r.Partition)
	if ps == nil {
		t.fail(fmt.Errorf("acknowledgement for unknown target partition %s/%d", r.Topic, r.Partition))
		return
	}
	// Run's goroutine may settle records that are not copied (markers, skipped records) and
	// write their sync at any time: syncMu keeps this record's sync in order with those.
	ps.syncMu.Lock()
	defer ps.syncMu.Unlock()
	ps.mu.Lock()
	if ps.head >= len(ps.inflight) {
		ps.mu.Unlock()
		t.fail(fmt.Errorf("acknowledgement without an in-flight record for %s/%d", r.Topic, r.Partition))
		return
	}
	f := ps.inflight[ps.head]
	up := f.up
	ps.head++
	if ps.head > 1024 && ps.head*2 > len(ps.inflight) {
		ps.inflight = append(ps.inflight[:0], ps.inflight[ps.head:]...)
		ps.head = 0
	}
	if err != nil || ps.failed {
		first := !ps.failed
		ps.failed = true
		ps.mu.Unlock()
		if first && err != nil {
			t.log.Error("target refused a record; stopping", "topic", ps.src.topic, "partition", ps.src.partition, "offset", up, "error", err)
			t.fail(fmt.Errorf("produce %s/%d (source offset %d): %w", ps.target.topic, ps.target.partition, up, err))
			if t.opts.Transactional {
				t.txnMu.Lock()
				if t.txnErr == nil {
					t.txnErr = err
				}
				t.txnMu.Unlock()
			}
		}
		return
	}
	ps.acked = up
	ps.nextDown = r.Offset + 1
	ps.nRecords++
	ps.nBytes += int64(len(r.Key) + len(r.Value))
	for _, h := range r.Headers {
		ps.nBytes += int64(len(h.Key) + len(h.Value))
	}
	lat := time.Since(r.Timestamp)
	ps.latSum += lat
	ps.latMax = max(ps.latMax, lat)
	var syncs []taggedSync
	if t.syncCl != nil {
		if t.enhanced {
			syncs = t.copySyncsLocked(ps, up, r.Offset)
		} else if delta := r.Offset - up; !ps.haveSync || delta != ps.syncDelta || up-ps.syncUp >= t.cfg.OffsetLagMax {
			syncs = t.addSyncLocked(ps, syncs, up, r.Offset, records.SyncUntagged, up)
		}
	}
	// Records not copied after this one (skipped, markers): with a later record in flight, its
	// acknowledgement settles them (progress stays here until then); otherwise they are
	// settled now.
	if f.through > up && ps.head >= len(ps.inflight) {
		skip, _ := t.settleSkippedLocked(ps, f.through) // nextDown is known: never held
		syncs = append(syncs, skip...)
	}
	ps.mu.Unlock()
	t.stats.acked.Add(1)
	for _, s := range syncs {
		t.emitSync(ps, s)
	}
}

// taggedSync is an offset sync and its kind (records.SyncUntagged in LEGACY mode).
type taggedSync struct {
	records.OffsetSync
	kind records.SyncKind
}

// addSyncLocked decides the offset sync (up, down) of kind: it updates the sync rule's
// state, holds progress before hold until the sync is acknowledged (at-least-once mode; in
// transactional mode both are written by the same round), and appends it to out. Callers hold
// ps.syncMu and ps.mu, and emit the returned syncs in order after releasing ps.mu.
func (t *SourceTask) addSyncLocked(ps *partState, out []taggedSync, up, down int64, kind records.SyncKind, hold int64) []taggedSync {
	ps.haveSync, ps.syncUp, ps.syncDelta = true, up, down-up
	ps.begun = true
	if !t.opts.Transactional {
		ps.pending = append(ps.pending, pendingSync{up: up, hold: hold})
	}
	return append(out, taggedSync{records.OffsetSync{Topic: ps.src.topic, Partition: ps.src.partition, UpstreamOffset: up, DownstreamOffset: down}, kind})
}

// syncRecord is the offset-syncs record of s, with its kind header in ENHANCED mode.
func syncRecord(s taggedSync) *kgo.Record {
	r := &kgo.Record{Key: s.Key(), Value: s.Value(), Partition: 0}
	if s.kind != records.SyncUntagged {
		r.Headers = []kgo.RecordHeader{{Key: records.SyncKindHeader, Value: []byte(s.kind.String())}}
	}
	return r
}

// emitSync writes an offset sync: on the offset-syncs client (never the client whose promise
// may be running, which could deadlock), or into the open transaction's list in
// transactional mode. Syncs of a partition must be emitted in the order they were decided
// (under ps.syncMu).
func (t *SourceTask) emitSync(ps *partState, s taggedSync) {
	if t.opts.Transactional {
		t.txnMu.Lock()
		t.txnSyncs = append(t.txnSyncs, s)
		t.txnMu.Unlock()
		return
	}
	t.syncCl.Produce(context.Background(), syncRecord(s), func(_ *kgo.Record, err error) {
		t.onSyncAck(ps, s.UpstreamOffset, err)
	})
}

func (t *SourceTask) onSyncAck(ps *partState, up int64, err error) {
	if err != nil {
		ps.mu.Lock()
		ps.failed = true // progress must not pass an offset whose sync is missing
		ps.mu.Unlock()
		t.log.Error("offset sync refused; stopping", "topic", t.syncTopic, "source_topic", ps.src.topic, "partition", ps.src.partition, "error", err)
		t.fail(fmt.Errorf("write offset sync to %s: %w", t.syncTopic, err))
		return
	}
	ps.mu.Lock()
	if len(ps.pending) > 0 && ps.pending[0].up == up {
		ps.pending = ps.pending[1:]
	}
	ps.mu.Unlock()
}

// flushAll waits for every buffered data record and offset sync to be acknowledged.
func (t *SourceTask) flushAll(ctx context.Context) error {
	if err := t.tgt.Flush(ctx); err != nil {
		return err
	}
	if t.syncCl != nil {
		return t.syncCl.Flush(ctx)
	}
	return nil
}

// tickLoop reports metrics every second (or CommitInterval, if shorter) and, in
// at-least-once mode, writes progress every CommitInterval, until ctx ends.
func (t *SourceTask) tickLoop(ctx, prodCtx context.Context) {
	tick := time.NewTicker(min(t.opts.CommitInterval, time.Second))
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if !t.opts.Transactional && now.Sub(last) >= t.opts.CommitInterval-time.Millisecond {
				last = now
				if err := t.writeProgress(prodCtx, false); err != nil {
					t.log.Warn("write progress", "error", err)
				}
			}
		}
		t.reportMetrics()
	}
}

// writeProgress produces a progress record for every partition whose committable offset
// changed since it was last written. With wait, it also waits for them to be acknowledged.
func (t *SourceTask) writeProgress(ctx context.Context, wait bool) error {
	t.progressMu.Lock()
	defer t.progressMu.Unlock()
	var errMu sync.Mutex
	var firstErr error
	n := 0
	for _, ps := range t.partitions() {
		ps.mu.Lock()
		c := ps.committable()
		if c == ps.written || c < 0 {
			ps.mu.Unlock()
			continue
		}
		ps.written = c
		ps.mu.Unlock()
		n++
		t.tgt.Produce(ctx, t.progressRecord(ps.src, c), func(_ *kgo.Record, err error) {
			if err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				t.metricsError("progress", err)
			}
		})
	}
	if !wait || n == 0 {
		return nil
	}
	if err := t.tgt.Flush(ctx); err != nil {
		return err
	}
	errMu.Lock()
	defer errMu.Unlock()
	return firstErr
}

// progressRecord is Connect's source-offset record for source partition p at offset.
func (t *SourceTask) progressRecord(p tp, offset int64) *kgo.Record {
	so := records.SourceOffset{Connector: t.opts.ConnectorName, Cluster: t.cfg.SourceAlias, Topic: p.topic, Partition: p.partition, Offset: offset}
	r := &kgo.Record{Topic: t.progressTopic, Key: so.Key(), Value: so.Value()}
	if t.progressParts > 1 {
		r.Partition = int32(kgo.StickyKeyPartitioner(nil).ForTopic(t.progressTopic).Partition(r, t.progressParts))
	}
	return r
}

func (t *SourceTask) lookupSource(topic string, p int32) *partState {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.bySource[tp{topic, p}]
}

func (t *SourceTask) lookupTarget(topic string, p int32) *partState {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byTarget[tp{topic, p}]
}

func (t *SourceTask) partitions() []*partState {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*partState, 0, len(t.bySource))
	for _, ps := range t.bySource {
		out = append(out, ps)
	}
	return out
}

func (t *SourceTask) ownedCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.bySource)
}

func (t *SourceTask) ownedTopics() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	set := map[string]struct{}{}
	for k := range t.bySource {
		set[k.topic] = struct{}{}
	}
	return slices.Collect(maps.Keys(set))
}

// offsetSyncsTopic is MM2's MirrorSourceConfig.offsetSyncsTopic: named after the other cluster
// than the one it lives on — mm2-offset-syncs.<target alias>.internal on the source (the
// default), mm2-offset-syncs.<source alias>.internal on the target — which is where the
// checkpoint task looks for it.
func offsetSyncsTopic(c mm2.Config) string {
	if c.OffsetSyncsLocation == mm2.LocationTarget {
		return c.Policy.OffsetSyncsTopic(c.SourceAlias)
	}
	return c.Policy.OffsetSyncsTopic(c.TargetAlias)
}
