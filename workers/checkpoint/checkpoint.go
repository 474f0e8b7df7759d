package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

// Defaults, as MirrorMaker 2's.
const (
	// DefaultInterval is emit.checkpoints.interval.seconds' default.
	DefaultInterval = 60 * time.Second
	// DefaultSyncInterval is sync.group.offsets.interval.seconds' default.
	DefaultSyncInterval = 60 * time.Second
	// DefaultReplicationFactor is checkpoints.topic.replication.factor's default.
	DefaultReplicationFactor int16 = 3
	// DefaultCatchUpTimeout bounds how long a round waits to read the offset-syncs topic to
	// its end before translating with the syncs it has.
	DefaultCatchUpTimeout = 10 * time.Second
)

// Options configure a Task. Zero values take the documented defaults.
type Options struct {
	// SourceAlias and TargetAlias are source.cluster.alias and target.cluster.alias; required.
	SourceAlias, TargetAlias string

	// Source and Target reach the two clusters: kgo.SeedBrokers plus any TLS, SASL or
	// logger options. Both required.
	Source, Target []kgo.Opt

	// Policy names the target topics and the internal topics; default
	// mm2.DefaultReplicationPolicy{}.
	Policy mm2.ReplicationPolicy

	// Topics selects the source topics whose group offsets are checkpointed (topics,
	// topics.exclude) and Groups the groups (groups, groups.exclude). A zero Filter selects
	// nothing, as in MM2 a blank list does; build them with mm2.NewFilter or take them from
	// mm2.Config.
	Topics, Groups mm2.Filter

	// TaskID and TaskCount shard the groups: this task handles the groups whose FNV-1a 32-bit
	// hash modulo TaskCount is TaskID. TaskCount defaults to 1.
	TaskID, TaskCount int

	// OffsetSyncsOnTarget reads the offset syncs from the target cluster
	// (offset-syncs.topic.location=target); by default they are read from the source.
	OffsetSyncsOnTarget bool
	// OffsetSyncsTopic overrides the offset-syncs topic name; default
	// Policy.OffsetSyncsTopic(TargetAlias), or Policy.OffsetSyncsTopic(SourceAlias) when the
	// syncs are on the target (MM2's MirrorCheckpointConfig.offsetSyncsTopic).
	OffsetSyncsTopic string
	// CheckpointsTopic overrides the checkpoints topic; default
	// Policy.CheckpointsTopic(SourceAlias).
	CheckpointsTopic string

	// ProgressTopic is the topic in the target cluster where the MirrorSource tasks
	// replicating from SourceAlias record their progress as Connect SourceOffset records;
	// default mm2.OffsetsTopic(SourceAlias). The source task records a partition's progress
	// only after the offset syncs of the records it covers were acknowledged, so the progress
	// proves how far replication got even between syncs (see doc.go). A topic that does not
	// exist just gives no such proof. SourceConnector, when set, restricts it to the records
	// of that connector (by default every connector's records for SourceAlias count).
	ProgressTopic   string
	SourceConnector string
	// Progress are the client options (seed brokers included) of the cluster holding
	// ProgressTopic when it is not the target: a MirrorSource connector records its progress in
	// the offsets topic of its Connect runtime's cluster (its kafkaCluster). nil: Target.
	Progress []kgo.Opt

	// Enhanced is the ENHANCED offset sync mode (fjord.consumer.group.offset.sync.mode): the
	// task also reads the history of the replicator in the opposite direction (TargetAlias to
	// SourceAlias: its offset syncs on the target, its progress on the source) and translates
	// so that a group that failed over to the source fails back to the target without
	// skipping records (doc.go, "Failback"). It needs offset-syncs.topic.location=source for
	// both replicators and tagged (ENHANCED) offset syncs from both.
	Enhanced bool
	// PeerSyncsTopic is the offset-syncs topic of the opposite replicator, on the target;
	// default Policy.OffsetSyncsTopic(SourceAlias). PeerProgressTopic is where it records its
	// progress, on the source; default mm2.OffsetsTopic(TargetAlias). PeerConnector, when
	// set, restricts that progress to the records of that connector (by default every
	// connector's records for TargetAlias count).
	PeerSyncsTopic, PeerProgressTopic, PeerConnector string

	// Interval is emit.checkpoints.interval.seconds: how often groups are translated; default
	// 60 s.
	Interval time.Duration
	// NoCheckpoints stops the Checkpoint records (emit.checkpoints.enabled=false) while
	// translation goes on for SyncGroupOffsets. MM2 starts no task at all in that case; at
	// least one of the two must be on.
	NoCheckpoints bool
	// SyncGroupOffsets commits translated offsets to idle target groups
	// (sync.group.offsets.enabled) every SyncInterval (default 60 s).
	SyncGroupOffsets bool
	SyncInterval     time.Duration

	// ReplicationFactor is used when the task creates the checkpoints topic. 0 means MM2's
	// default of 3, falling back to the broker's default on smaller clusters; -1 asks for the
	// broker's default; other values are used as given.
	ReplicationFactor int16

	// MaxSyncsPerPartition bounds the offset-sync history kept per source partition; default
	// DefaultMaxSyncsPerPartition. Groups behind the oldest kept sync are not translated.
	MaxSyncsPerPartition int

	// CatchUpTimeout bounds each round's wait for the offset-syncs topic; default
	// DefaultCatchUpTimeout.
	CatchUpTimeout time.Duration

	// Logger receives the task's logs; default discards them.
	Logger *slog.Logger
	// Metrics receives the task's metrics; nil for none.
	Metrics MetricsSink
}

// MetricsSink receives a Task's metrics. Calls come from Run's goroutine; implementations
// must not block.
type MetricsSink interface {
	// Groups reports how many consumer groups the task replicates — its share of the source
	// groups the groups filter selects — after every listing (MSK: ConsumerGroupCount).
	Groups(n int)
	// OffsetSyncFailed counts a commit of translated offsets to target group that failed
	// (MSK: ConsumerGroupOffsetSyncFailure); err says why.
	OffsetSyncFailed(group string, err error)
	// Error counts any failed request the task logged and will retry (the sync failures
	// above included); what says what failed.
	Error(what string, err error)
}

// FromConfig maps a parsed MirrorCheckpointConnector configuration onto Options for task
// taskID of taskCount. The caller appends security options (TLS, SASL) to Source and Target.
func FromConfig(cfg mm2.Config, taskID, taskCount int) Options {
	return Options{
		SourceAlias:         cfg.SourceAlias,
		TargetAlias:         cfg.TargetAlias,
		Source:              []kgo.Opt{kgo.SeedBrokers(cfg.SourceBootstrap...)},
		Target:              []kgo.Opt{kgo.SeedBrokers(cfg.TargetBootstrap...)},
		Policy:              cfg.Policy,
		Topics:              cfg.Topics,
		Groups:              cfg.Groups,
		TaskID:              taskID,
		TaskCount:           taskCount,
		OffsetSyncsOnTarget: cfg.OffsetSyncsLocation == mm2.LocationTarget,
		Enhanced:            cfg.OffsetSyncMode == mm2.SyncModeEnhanced,
		SourceConnector:     cfg.SourceConnector,
		PeerConnector:       cfg.PeerConnector,
		Interval:            cfg.EmitCheckpointsInterval,
		NoCheckpoints:       !cfg.EmitCheckpoints,
		SyncGroupOffsets:    cfg.SyncGroupOffsets,
		SyncInterval:        cfg.SyncGroupOffsetsInterval,
		ReplicationFactor:   int16(cfg.InternalReplicationFactor),
	}
}

// Task is one MirrorCheckpointConnector task. Run it once.
type Task struct {
	opts Options
	log  *slog.Logger

	syncs *syncLog
	// peer is the opposite replicator's history (Enhanced only).
	peer *syncLog
	// latest is the newest translation per group and target partition; emitted the last
	// Checkpoint written per group and target partition. Both are touched by Run's goroutine
	// only.
	latest  map[string]map[topicPartition]records.Checkpoint
	emitted map[string]map[topicPartition]records.Checkpoint
	// synced is, per group and target partition, the downstream offset the target group was
	// last found at or given; a translation that differs is synced right after its round.
	synced map[string]map[topicPartition]int64
}

// NewTask validates opts and fills in the defaults. It does not connect to anything.
func NewTask(opts Options) (*Task, error) {
	switch {
	case opts.SourceAlias == "" || opts.TargetAlias == "":
		return nil, errors.New("checkpoint: source and target cluster aliases are required")
	case len(opts.Source) == 0 || len(opts.Target) == 0:
		return nil, errors.New("checkpoint: source and target cluster client options are required")
	case opts.NoCheckpoints && !opts.SyncGroupOffsets:
		return nil, errors.New("checkpoint: both checkpoints and group offset sync are disabled; do not start a task")
	case opts.Enhanced && opts.OffsetSyncsOnTarget:
		// With the syncs on the targets, the two replicators' topics and this task's reads
		// of them do not line up (doc.go, "Failback").
		return nil, errors.New("checkpoint: the ENHANCED offset sync mode needs offset-syncs.topic.location=source")
	}
	if opts.TaskCount <= 0 {
		opts.TaskCount = 1
	}
	if opts.TaskID < 0 || opts.TaskID >= opts.TaskCount {
		return nil, fmt.Errorf("checkpoint: task id %d out of range [0, %d)", opts.TaskID, opts.TaskCount)
	}
	if opts.Policy == nil {
		opts.Policy = mm2.DefaultReplicationPolicy{}
	}
	if opts.OffsetSyncsTopic == "" {
		if opts.OffsetSyncsOnTarget {
			opts.OffsetSyncsTopic = opts.Policy.OffsetSyncsTopic(opts.SourceAlias)
		} else {
			opts.OffsetSyncsTopic = opts.Policy.OffsetSyncsTopic(opts.TargetAlias)
		}
	}
	if opts.ProgressTopic == "" {
		opts.ProgressTopic = mm2.OffsetsTopic(opts.SourceAlias)
	}
	if opts.PeerSyncsTopic == "" {
		opts.PeerSyncsTopic = opts.Policy.OffsetSyncsTopic(opts.SourceAlias)
	}
	if opts.PeerProgressTopic == "" {
		opts.PeerProgressTopic = mm2.OffsetsTopic(opts.TargetAlias)
	}
	if opts.CheckpointsTopic == "" {
		opts.CheckpointsTopic = opts.Policy.CheckpointsTopic(opts.SourceAlias)
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.MaxSyncsPerPartition <= 0 {
		opts.MaxSyncsPerPartition = DefaultMaxSyncsPerPartition
	}
	if opts.CatchUpTimeout <= 0 {
		opts.CatchUpTimeout = DefaultCatchUpTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "checkpoint", "source_alias", opts.SourceAlias,
		"target_alias", opts.TargetAlias, "task_id", opts.TaskID)
	return &Task{
		opts:    opts,
		log:     log,
		syncs:   newSyncLog(opts.MaxSyncsPerPartition),
		peer:    newSyncLog(opts.MaxSyncsPerPartition),
		latest:  make(map[string]map[topicPartition]records.Checkpoint),
		emitted: make(map[string]map[topicPartition]records.Checkpoint),
		synced:  make(map[string]map[topicPartition]int64),
	}, nil
}

// Owns reports whether this task handles group: fnv32a(group) % TaskCount == TaskID.
func (t *Task) Owns(group string) bool {
	h := fnv.New32a()
	h.Write([]byte(group))
	return int(h.Sum32()%uint32(t.opts.TaskCount)) == t.opts.TaskID
}

// Run creates the checkpoints topic if needed, then translates every Interval (and syncs
// group offsets every SyncInterval) until ctx ends, when it returns nil. It returns an error
// only when the checkpoints topic cannot be created for a reason retrying will not fix.
// Unreachable clusters and failed requests are logged and retried at the next round.
func (t *Task) Run(ctx context.Context) error {
	source, err := kgo.NewClient(t.opts.Source...)
	if err != nil {
		return fmt.Errorf("checkpoint: source client: %w", err)
	}
	defer source.Close()
	target, err := kgo.NewClient(append(slices.Clone(t.opts.Target),
		kgo.DefaultProduceTopic(t.opts.CheckpointsTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)...)
	if err != nil {
		return fmt.Errorf("checkpoint: target client: %w", err)
	}
	defer target.Close()
	syncOpts := t.opts.Source
	if t.opts.OffsetSyncsOnTarget {
		syncOpts = t.opts.Target
	}
	syncs, err := newFollower(syncOpts, t.opts.OffsetSyncsTopic, false, t.applySync, t.log)
	if err != nil {
		return fmt.Errorf("checkpoint: offset-syncs client: %w", err)
	}
	defer syncs.close()
	progressOpts := t.opts.Target
	if t.opts.Progress != nil {
		progressOpts = t.opts.Progress
	}
	progress, err := newFollower(progressOpts, t.opts.ProgressTopic, true, t.applyProgress, t.log)
	if err != nil {
		return fmt.Errorf("checkpoint: progress client: %w", err)
	}
	defer progress.close()
	var peer peerFollowers
	if t.opts.Enhanced {
		if peer.progress, err = newFollower(t.opts.Source, t.opts.PeerProgressTopic, true, t.applyPeerProgress, t.log); err != nil {
			return fmt.Errorf("checkpoint: peer progress client: %w", err)
		}
		defer peer.progress.close()
		if peer.syncs, err = newFollower(t.opts.Target, t.opts.PeerSyncsTopic, false, t.applyPeerSync, t.log); err != nil {
			return fmt.Errorf("checkpoint: peer offset-syncs client: %w", err)
		}
		defer peer.syncs.close()
	}

	sadm, tadm := kadm.NewClient(source), kadm.NewClient(target)
	if !t.opts.NoCheckpoints {
		if err := mm2.EnsureCompactedTopic(ctx, tadm, t.opts.CheckpointsTopic, t.opts.ReplicationFactor, t.log); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("checkpoint: %w", err)
		}
	}

	emitTick := time.NewTicker(t.opts.Interval)
	defer emitTick.Stop()
	var syncC <-chan time.Time
	if t.opts.SyncGroupOffsets {
		syncTick := time.NewTicker(t.opts.SyncInterval)
		defer syncTick.Stop()
		syncC = syncTick.C
	}

	// Every round is followed by a sync of the groups whose translation changed, so that a
	// group new on the source (or one that moved on) reaches the target within one Interval,
	// not Interval + SyncInterval. The SyncInterval pass goes over every group again (a target
	// group that someone rewound, or a sync refused meanwhile).
	t.round(ctx, sadm, target, progress, syncs, peer)
	if t.opts.SyncGroupOffsets {
		t.syncGroupOffsets(ctx, tadm, false)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-emitTick.C:
			t.round(ctx, sadm, target, progress, syncs, peer)
			if t.opts.SyncGroupOffsets {
				t.syncGroupOffsets(ctx, tadm, true)
			}
		case <-syncC:
			t.syncGroupOffsets(ctx, tadm, false)
		}
	}
}

// round translates the committed offsets of this task's groups and writes the checkpoints
// that are new (see doc.go, "Rounds").
func (t *Task) round(ctx context.Context, sadm *kadm.Client, target *kgo.Client, progress, syncs *follower, peer peerFollowers) {
	groups, err := t.listGroups(ctx, sadm)
	if err != nil {
		t.warn(ctx, "list source consumer groups", err)
		return
	}
	if t.opts.Metrics != nil {
		t.opts.Metrics.Groups(len(groups))
	}
	committed := sadm.FetchManyOffsets(ctx, groups...)
	// Progress, then syncs, are read after the group offsets: every sync written before the
	// progress read (which the progress may vouch for) has then been read too.
	if err := progress.catchUp(ctx, t.opts.CatchUpTimeout); err != nil {
		t.warn(ctx, "read source progress to the end; translating with what was read so far", err)
	}
	if err := syncs.catchUp(ctx, t.opts.CatchUpTimeout); err != nil {
		t.warn(ctx, "read offset syncs to the end; translating with the syncs read so far", err)
	}
	if peer.progress != nil {
		if err := peer.progress.catchUp(ctx, t.opts.CatchUpTimeout); err != nil {
			t.warn(ctx, "read the opposite replicator's progress to the end; translating with what was read so far", err)
		}
		if err := peer.syncs.catchUp(ctx, t.opts.CatchUpTimeout); err != nil {
			t.warn(ctx, "read the opposite replicator's offset syncs to the end; translating with what was read so far", err)
		}
	}
	if ctx.Err() != nil {
		return
	}

	var out []records.Checkpoint
	seen := make(map[string]bool, len(groups))
	for _, group := range groups {
		seen[group] = true // listed: keep its state even if its offsets cannot be read now
		resp, ok := committed[group]
		if !ok || resp.Err != nil {
			if ok {
				t.warn(ctx, "fetch committed offsets of group "+group, resp.Err)
			}
			continue
		}
		fresh := make(map[topicPartition]records.Checkpoint)
		resp.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 || !t.opts.Topics.Matches(o.Topic) {
				return
			}
			target := t.targetTopic(o.Topic)
			down, ok := t.translate(o.Topic, target, o.Partition, o.At)
			if !ok {
				return
			}
			cp := records.Checkpoint{
				ConsumerGroupID:  group,
				Topic:            target,
				Partition:        o.Partition,
				UpstreamOffset:   o.At,
				DownstreamOffset: down,
				Metadata:         o.Metadata,
			}
			if err := cp.Validate(); err != nil {
				t.log.Warn("cannot encode checkpoint", "group", group, "topic", o.Topic, "partition", o.Partition, "error", err)
				return
			}
			tp := topicPartition{cp.Topic, cp.Partition}
			fresh[tp] = cp
			if prev, ok := t.emitted[group][tp]; !ok || cp.UpstreamOffset < prev.UpstreamOffset || cp.DownstreamOffset > prev.DownstreamOffset {
				out = append(out, cp)
			}
		})
		// Only what translates now is synced to the target group.
		if len(fresh) > 0 {
			t.latest[group] = fresh
		} else {
			delete(t.latest, group)
		}
	}
	// Forget groups that disappeared from the source (or from this task's share).
	for group := range t.latest {
		if !seen[group] {
			delete(t.latest, group)
		}
	}
	for group := range t.emitted {
		if !seen[group] {
			delete(t.emitted, group)
		}
	}
	for group := range t.synced {
		if !seen[group] {
			delete(t.synced, group)
		}
	}
	if t.opts.NoCheckpoints || len(out) == 0 {
		return
	}

	now := time.Now()
	recs := make([]*kgo.Record, len(out))
	for i, cp := range out {
		recs[i] = &kgo.Record{Key: cp.Key(), Value: cp.Value(), Partition: 0, Timestamp: now}
	}
	results := target.ProduceSync(ctx, recs...)
	written := 0
	for i, r := range results {
		if r.Err != nil {
			t.warn(ctx, "write checkpoint", r.Err)
			continue
		}
		setIn(t.emitted, out[i].ConsumerGroupID, topicPartition{out[i].Topic, out[i].Partition}, out[i])
		written++
	}
	t.log.Debug("wrote checkpoints", "count", written, "groups", len(seen))
}

// applySync adds a record of the offset-syncs topic to the history.
func (t *Task) applySync(rec *kgo.Record) {
	s, err := records.DecodeOffsetSync(rec.Key, rec.Value)
	if err != nil {
		t.log.Warn("skipping undecodable offset sync", "partition", rec.Partition, "offset", rec.Offset, "error", err)
		return
	}
	t.syncs.add(s, syncKind(rec))
}

// syncKind is the kind of an offset-syncs record (records.SyncUntagged without the header).
func syncKind(rec *kgo.Record) records.SyncKind {
	for _, h := range rec.Headers {
		if h.Key == records.SyncKindHeader {
			return records.ParseSyncKind(h.Value)
		}
	}
	return records.SyncUntagged
}

// applyProgress records a MirrorSource progress record for SourceAlias.
func (t *Task) applyProgress(rec *kgo.Record) {
	so, err := records.DecodeSourceOffset(rec.Key, rec.Value)
	tombstone := errors.Is(err, records.ErrTombstone)
	if err != nil && !tombstone {
		return // not a MirrorSource record: the topic may hold other connectors' offsets
	}
	if so.Cluster != t.opts.SourceAlias || (t.opts.SourceConnector != "" && so.Connector != t.opts.SourceConnector) {
		return
	}
	if tombstone {
		so.Offset = -1
	}
	t.syncs.setProgress(so.Topic, so.Partition, so.Offset)
}

// listGroups returns this task's share of the source consumer groups the filter selects.
func (t *Task) listGroups(ctx context.Context, sadm *kadm.Client) ([]string, error) {
	listed, err := sadm.ListGroups(ctx)
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) || len(listed) == 0 {
			return nil, err
		}
		t.warn(ctx, "list consumer groups on some brokers", err)
	}
	var groups []string
	for _, g := range listed.Sorted() {
		// As Java's Admin.listConsumerGroups: consumer groups, and groups that only commit.
		if g.ProtocolType != "consumer" && g.ProtocolType != "" {
			continue
		}
		if t.opts.Groups.Matches(g.Group) && t.Owns(g.Group) {
			groups = append(groups, g.Group)
		}
	}
	return groups, nil
}

// targetTopic names on the target the source topic a group consumed, as MM2's
// renameTopicPartition: a topic that came from the target goes back to its original name,
// any other is formatted as a remote topic of the source.
func (t *Task) targetTopic(topic string) string {
	if t.opts.Policy.TopicSource(topic) == t.opts.TargetAlias {
		return t.opts.Policy.OriginalTopic(topic)
	}
	return t.opts.Policy.FormatRemoteTopic(t.opts.SourceAlias, topic)
}

// syncGroupOffsets commits the latest translations to the target groups that have no
// member there, for partitions where the target is behind (see doc.go). With changedOnly, only
// the groups with a translation not yet synced are looked at.
func (t *Task) syncGroupOffsets(ctx context.Context, tadm *kadm.Client, changedOnly bool) {
	groups := make([]string, 0, len(t.latest))
	for g, tps := range t.latest {
		if !changedOnly || t.unsynced(g, tps) {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return
	}
	slices.Sort(groups)
	idle, err := t.idleGroups(ctx, tadm, groups)
	if err != nil {
		t.warn(ctx, "describe target groups", err)
		return
	}
	for _, group := range groups {
		if !idle[group] {
			t.log.Debug("target group has members; not syncing its offsets", "group", group)
			continue
		}
		current, err := tadm.FetchOffsets(ctx, group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			current, err = nil, nil // a group new to the target: nothing committed yet
		}
		if err != nil {
			t.warn(ctx, "fetch target offsets of group "+group, err)
			continue
		}
		var commit kadm.Offsets
		for tp, cp := range t.latest[group] {
			if cur, ok := current.Lookup(tp.topic, tp.partition); ok && cur.Err == nil && cur.At >= cp.DownstreamOffset {
				t.markSynced(group, tp, cp.DownstreamOffset)
				continue
			}
			commit.Add(kadm.Offset{Topic: tp.topic, Partition: tp.partition, At: cp.DownstreamOffset, LeaderEpoch: -1, Metadata: cp.Metadata})
		}
		if len(commit) == 0 {
			continue
		}
		resps, err := tadm.CommitOffsets(ctx, group, commit)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			// Most likely a consumer joined the group since it was described: the broker
			// refuses admin commits to a non-empty group, which is what we want.
			t.warn(ctx, "commit translated offsets of group "+group+" on the target", err)
			if ctx.Err() == nil && t.opts.Metrics != nil {
				t.opts.Metrics.OffsetSyncFailed(group, err)
			}
			continue
		}
		n := 0
		resps.Each(func(o kadm.OffsetResponse) {
			t.markSynced(group, topicPartition{o.Topic, o.Partition}, o.At)
			n++
		})
		t.log.Debug("synced group offsets", "group", group, "partitions", n)
	}
}

// unsynced reports whether a translation of group differs from what was last synced.
func (t *Task) unsynced(group string, tps map[topicPartition]records.Checkpoint) bool {
	done := t.synced[group]
	for tp, cp := range tps {
		if at, ok := done[tp]; !ok || at != cp.DownstreamOffset {
			return true
		}
	}
	return false
}

func (t *Task) markSynced(group string, tp topicPartition, at int64) {
	inner := t.synced[group]
	if inner == nil {
		inner = make(map[topicPartition]int64)
		t.synced[group] = inner
	}
	inner[tp] = at
}

// idleGroups reports, for each group, whether it has no member on the target: neither a
// classic member (DescribeGroups) nor a KIP-848 one (ConsumerGroupDescribe). Groups that do
// not exist are idle.
func (t *Task) idleGroups(ctx context.Context, tadm *kadm.Client, groups []string) (map[string]bool, error) {
	classic, err := tadm.DescribeGroups(ctx, groups...)
	if err != nil {
		return nil, err
	}
	idle := make(map[string]bool, len(groups))
	for _, g := range groups {
		d, ok := classic[g]
		switch {
		case !ok:
		case d.Err == nil && len(d.Members) == 0 && (d.State == "Empty" || d.State == "Dead" || d.State == ""):
			idle[g] = true
		case errors.Is(d.Err, kerr.GroupIDNotFound):
			idle[g] = true
		}
	}
	// A KIP-848 group looks empty (or absent) to the classic describe: ask the new API too.
	modern, err := tadm.DescribeConsumerGroups(ctx, groups...)
	if err != nil {
		var se *kadm.ShardErrors
		if errors.Is(err, kerr.UnsupportedVersion) || (errors.As(err, &se) && allUnsupported(se)) {
			return idle, nil
		}
		return nil, err
	}
	for _, g := range groups {
		d, ok := modern[g]
		if !ok || !idle[g] {
			continue
		}
		switch {
		case d.Err == nil && len(d.Members) > 0:
			idle[g] = false
		case d.Err == nil, errors.Is(d.Err, kerr.GroupIDNotFound):
		default:
			idle[g] = false // cannot tell: do not touch the group
		}
	}
	return idle, nil
}

func allUnsupported(se *kadm.ShardErrors) bool {
	for _, e := range se.Errs {
		if !errors.Is(e.Err, kerr.UnsupportedVersion) {
			return false
		}
	}
	return len(se.Errs) > 0
}

func (t *Task) warn(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return // shutting down: the error is the cancellation
	}
	t.log.Warn(what, "error", err)
	if t.opts.Metrics != nil {
		t.opts.Metrics.Error(what, err)
	}
}

func setIn(m map[string]map[topicPartition]records.Checkpoint, group string, tp topicPartition, cp records.Checkpoint) {
	inner := m[group]
	if inner == nil {
		inner = make(map[topicPartition]records.Checkpoint)
		m[group] = inner
	}
	inner[tp] = cp
}
