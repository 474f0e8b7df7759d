package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fjord-io/fjord/workers/mm2"
)

// ShouldReplicate reports whether MirrorSourceConnector replicates source topic under cfg:
// selected by the topic filter (heartbeats topics always are), not internal per the
// replication policy, and not a cycle back to the target cluster. Same rule as MM2's
// MirrorSourceConnector.shouldReplicateTopic.
func ShouldReplicate(cfg mm2.Config, topic string) bool {
	p := cfg.Policy
	return (cfg.Topics.Matches(topic) || mm2.IsHeartbeatsTopic(p, topic)) &&
		!p.IsInternalTopic(topic) && !mm2.IsCycle(p, cfg.TargetAlias, topic)
}

func (t *SourceTask) refreshLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.RefreshTopicsInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := t.discover(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("refresh topics", "error", err)
			t.metricsError("refresh", err)
		}
	}
}

// discover lists the source topics, and starts copying the owned partitions not yet copied
// (creating or growing their target topics first). Partitions whose topic disappeared are
// no longer fetched.
func (t *SourceTask) discover(ctx context.Context) error {
	details, err := topicPartitions(ctx, t.src)
	if err != nil {
		return fmt.Errorf("list source topics: %w", err)
	}
	// Read the lineage after listing the topics: a copy's lineage is recorded before the copy
	// is created, so every listed copy made by Fjord has its lineage in what is read now.
	t.refreshLineage(ctx)
	need := map[string]int32{} // source topic → partition count, for topics with new owned partitions
	var fresh []tp
	var owned []string // source topics with owned partitions
	present := map[tp]bool{}
	for topic, d := range details {
		if d.err != nil || d.internal || !ShouldReplicate(t.cfg, topic) || t.lineageCycle(topic) {
			continue
		}
		for p := range d.partitions {
			if Owner(topic, p, t.opts.TaskCount) != t.opts.TaskID {
				continue
			}
			if !slices.Contains(owned, topic) {
				owned = append(owned, topic)
			}
			k := tp{topic, p}
			present[k] = true
			if t.lookupSource(topic, p) == nil {
				fresh = append(fresh, k)
				need[topic] = d.partitions
			}
		}
	}
	t.dropVanished(present)
	sort.Strings(owned)
	t.recordLineage(ctx, owned)
	if len(fresh) == 0 {
		t.mu.Lock()
		t.started = true
		t.mu.Unlock()
		return nil
	}
	ready, err := t.ensureTargetTopics(ctx, need)
	if err != nil {
		t.log.Warn("target topics", "error", err)
	}
	fresh = slices.DeleteFunc(fresh, func(k tp) bool { return !ready[k.topic] })
	if len(fresh) == 0 {
		return err
	}
	sort.Slice(fresh, func(i, j int) bool {
		if fresh[i].topic != fresh[j].topic {
			return fresh[i].topic < fresh[j].topic
		}
		return fresh[i].partition < fresh[j].partition
	})

	t.mu.RLock()
	initial := !t.started
	t.mu.RUnlock()
	var ends kadm.ListedOffsets
	if initial && t.cfg.StartingPosition == mm2.StartLatest {
		topics := map[string]bool{}
		for _, k := range fresh {
			if _, ok := t.progress[k]; !ok {
				topics[k.topic] = true
			}
		}
		if len(topics) > 0 {
			names := make([]string, 0, len(topics))
			for n := range topics {
				names = append(names, n)
			}
			if ends, err = t.srcAdm.ListEndOffsets(ctx, names...); err != nil {
				return fmt.Errorf("list source end offsets: %w", err)
			}
			if err := ends.Error(); err != nil {
				return fmt.Errorf("list source end offsets: %w", err)
			}
		}
	}

	assign := map[string]map[int32]kgo.Offset{}
	t.mu.Lock()
	for _, k := range fresh {
		ps := &partState{src: k, target: tp{t.policy.FormatRemoteTopic(t.cfg.SourceAlias, k.topic), k.partition}, acked: -1, written: -1, nextDown: -1, skipHeld: -1, firstUp: -1, lastU: -1, lastD: -1}
		ps.hwm.Store(-1)
		start := kgo.NewOffset().AtStart()
		how := "earliest"
		if off, ok := t.progress[k]; ok {
			start = kgo.NewOffset().At(off + 1)
			ps.acked, ps.written = off, off
			how = "progress"
		} else if lo, ok := ends.Lookup(k.topic, k.partition); ok && lo.Offset > 0 {
			// Latest, made concrete and recorded at once: a restart resumes here rather than
			// at a later "latest", which would skip what was produced in between.
			start = kgo.NewOffset().At(lo.Offset)
			ps.acked = lo.Offset - 1
			how = "latest"
		}
		if assign[k.topic] == nil {
			assign[k.topic] = map[int32]kgo.Offset{}
		}
		assign[k.topic][k.partition] = start
		t.bySource[k] = ps
		t.byTarget[ps.target] = ps
		t.log.Debug("owning partition", "topic", k.topic, "partition", k.partition, "target_topic", ps.target.topic, "start", how, "offset", ps.acked+1)
	}
	t.started = true
	t.mu.Unlock()
	t.src.AddConsumePartitions(assign)
	if !initial {
		t.log.Info("new source partitions", "count", len(fresh), "topics", len(assign))
	}
	return err
}

// dropVanished stops fetching owned partitions whose topic no longer exists on the source.
// Their state is kept: in-flight records still complete and their progress is still written.
func (t *SourceTask) dropVanished(present map[tp]bool) {
	t.mu.RLock()
	var gone []tp
	for k := range t.bySource {
		if !present[k] {
			gone = append(gone, k)
		}
	}
	t.mu.RUnlock()
	if len(gone) == 0 {
		return
	}
	// A topic missing from one listing may be a metadata hiccup; removing and re-adding a
	// partition is safe either way because re-adding resumes from acknowledged progress.
	// Partitions with records still in flight are removed at a later refresh.
	rm := map[string][]int32{}
	t.mu.Lock()
	for _, k := range gone {
		ps := t.bySource[k]
		ps.mu.Lock()
		idle := ps.head >= len(ps.inflight)
		c := ps.committable()
		ps.mu.Unlock()
		if !idle {
			continue
		}
		delete(t.bySource, k)
		delete(t.byTarget, ps.target)
		if c >= 0 {
			t.progress[k] = c
		}
		rm[k.topic] = append(rm[k.topic], k.partition)
	}
	t.mu.Unlock()
	if len(rm) > 0 {
		t.src.RemoveConsumePartitions(rm)
		t.log.Info("source topics disappeared; stopped fetching them", "topics", len(rm))
	}
}

// ensureTargetTopics makes sure each target topic exists with at least the source's
// partition count, creating it (with the source's replicable configs) or adding partitions.
// It returns the source topics whose target is ready. Nothing is ever deleted.
func (t *SourceTask) ensureTargetTopics(ctx context.Context, need map[string]int32) (map[string]bool, error) {
	names := make([]string, 0, len(need))
	srcOf := map[string]string{}
	for src := range need {
		n := t.policy.FormatRemoteTopic(t.cfg.SourceAlias, src)
		names = append(names, n)
		srcOf[n] = src
	}
	sort.Strings(names)
	existing, err := topicPartitions(ctx, t.adm, names...)
	if err != nil {
		return nil, fmt.Errorf("describe target topics: %w", err)
	}
	var errs []error
	changed := false
	for _, name := range names {
		want := need[srcOf[name]]
		d, ok := existing[name]
		switch {
		case ok && d.err == nil && d.partitions >= want:
			continue
		case ok && d.err == nil:
			resp, err := t.tgtAdm.UpdatePartitions(ctx, int(want), name)
			if err == nil {
				err = resp.Error()
			}
			if err != nil && !errors.Is(err, kerr.InvalidPartitions) { // another task may have grown it
				errs = append(errs, fmt.Errorf("add partitions to %s: %w", name, err))
				continue
			}
			t.log.Info("grew target topic", "topic", name, "partitions", want)
			changed = true
		case ok && !errors.Is(d.err, kerr.UnknownTopicOrPartition):
			errs = append(errs, fmt.Errorf("describe target topic %s: %w", name, d.err))
		default:
			rf, err := t.replicationFactor(ctx, t.cfg.ReplicationFactor)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			configs := t.sourceConfigs(ctx, srcOf[name])
			resp, err := t.tgtAdm.CreateTopic(ctx, want, rf, configs, name)
			if err == nil {
				err = resp.Err
			}
			switch {
			case errors.Is(err, kerr.TopicAlreadyExists): // another task was first
			case err != nil:
				errs = append(errs, fmt.Errorf("create target topic %s: %w", name, err))
				continue
			default:
				t.log.Info("created target topic", "topic", name, "partitions", want, "replication_factor", rf, "configs", len(configs))
			}
			changed = true
		}
	}
	if changed {
		if existing, err = topicPartitions(ctx, t.adm, names...); err != nil {
			return nil, fmt.Errorf("describe target topics: %w", err)
		}
	}
	ready := map[string]bool{}
	for _, name := range names {
		if d, ok := existing[name]; ok && d.err == nil && d.partitions >= need[srcOf[name]] {
			ready[srcOf[name]] = true
		}
	}
	// The producer refuses a partition beyond the count it last saw, so a topic it already
	// knows must be seen with its new partitions before they are copied — also when another
	// task grew the topic first.
	for _, name := range names {
		if ready[srcOf[name]] && !t.producerSees(ctx, name, need[srcOf[name]]) {
			delete(ready, srcOf[name])
			errs = append(errs, fmt.Errorf("target producer does not see the new partitions of %s yet", name))
		}
	}
	return ready, errors.Join(errs...)
}

// producerSees waits (up to 10 s) until the target producer's metadata has partition n-1 of
// topic, or knows nothing of topic (it then loads fresh metadata at its first record).
func (t *SourceTask) producerSees(ctx context.Context, topic string, n int32) bool {
	if leader, _, _ := t.tgt.PartitionLeader(topic, 0); leader < 0 {
		return true
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if leader, _, _ := t.tgt.PartitionLeader(topic, n-1); leader >= 0 {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		t.tgt.ForceMetadataRefresh()
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type topicMeta struct {
	partitions int32
	internal   bool
	err        error
}

// topicPartitions asks a broker for the partitions of topics (all topics when none are
// named), bypassing the client's metadata cache so that new topics and partitions are seen
// at once.
func topicPartitions(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]topicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, topic := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make(map[string]topicMeta, len(resp.Topics))
	for _, rt := range resp.Topics {
		if rt.Topic == nil {
			continue
		}
		out[*rt.Topic] = topicMeta{partitions: int32(len(rt.Partitions)), internal: rt.IsInternal, err: kerr.ErrorForCode(rt.ErrorCode)}
	}
	return out, nil
}

// sourceConfigs returns the source topic's replicable configs (see replicableConfigs; nil
// when sync.topic.configs.enabled is false), for creating its target topic: copying them at
// creation keeps e.g. cleanup.policy=compact and message.timestamp semantics from the first
// record on. Later changes are followed by task 0's config sync (topicsync.go).
func (t *SourceTask) sourceConfigs(ctx context.Context, topic string) map[string]*string {
	if !t.cfg.SyncTopicConfigs {
		return nil
	}
	rcs, err := t.srcAdm.DescribeTopicConfigs(ctx, topic)
	if err != nil || len(rcs) == 0 || rcs[0].Err != nil {
		t.log.Warn("describe source topic configs; creating the target topic with defaults", "topic", topic, "error", err)
		return nil
	}
	out := map[string]*string{}
	for k, v := range replicableConfigs(rcs[0], t.cfg.ConfigProperties) {
		out[k] = kadm.StringPtr(v)
	}
	return out
}

// replicableConfigs are the configs of a source topic that are copied to its target topic:
// set explicitly on the topic (dynamic topic configs, not broker defaults), not sensitive,
// and selected by config.properties.exclude (MM2's DefaultConfigPropertyFilter).
func replicableConfigs(rc kadm.ResourceConfig, filter mm2.Filter) map[string]string {
	out := map[string]string{}
	for _, c := range rc.Configs {
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig || c.Value == nil || c.Sensitive || !filter.Matches(c.Key) {
			continue
		}
		out[c.Key] = *c.Value
	}
	return out
}

// replicationFactor resolves 0 to min(3, target brokers).
func (t *SourceTask) replicationFactor(ctx context.Context, rf int) (int16, error) {
	if rf != 0 {
		return int16(rf), nil
	}
	md, err := t.tgtAdm.BrokerMetadata(ctx)
	if err != nil {
		return 0, fmt.Errorf("target brokers: %w", err)
	}
	return int16(max(1, min(3, len(md.Brokers)))), nil
}

// ensureProgressTopic creates the progress topic (compacted) unless it exists, and returns its
// partition count: mm2-offsets.<source>.internal with 1 partition on the target, or the
// Runtime's offsets topic with Runtime.OffsetsPartitions on the runtime cluster.
func (t *SourceTask) ensureProgressTopic(ctx context.Context) (int, error) {
	parts := 1
	if t.opts.Runtime != nil {
		parts = t.opts.Runtime.OffsetsPartitions
	}
	if err := ensureCompactedN(ctx, t.rtAdm, t.progressTopic, parts, t.cfg.InternalReplicationFactor, t.log); err != nil {
		return 0, err
	}
	var n int
	err := retry(ctx, t.log, "describe progress topic", func() error {
		d, err := topicPartitions(ctx, t.tgt, t.progressTopic)
		if err != nil {
			return err
		}
		td := d[t.progressTopic]
		if td.err != nil {
			return td.err
		}
		n = int(td.partitions)
		if n == 0 {
			return kerr.UnknownTopicOrPartition
		}
		return nil
	})
	return n, err
}

// ensureCompacted creates a one-partition compacted topic unless it exists (MM2's
// createSinglePartitionCompactedTopic). rf 0 means min(3, brokers).
func ensureCompacted(ctx context.Context, adm *kadm.Client, topic string, rf int, log *slog.Logger) error {
	return ensureCompactedN(ctx, adm, topic, 1, rf, log)
}

// ensureCompactedN creates a compacted topic with partitions partitions unless it exists.
func ensureCompactedN(ctx context.Context, adm *kadm.Client, topic string, partitions int, rf int, log *slog.Logger) error {
	return retry(ctx, log, "create topic "+topic, func() error {
		r := int16(rf)
		if rf == 0 {
			md, err := adm.BrokerMetadata(ctx)
			if err != nil {
				return err
			}
			r = int16(max(1, min(3, len(md.Brokers))))
		}
		resp, err := adm.CreateTopic(ctx, int32(partitions), r, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic)
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			log.Info("created topic", "topic", topic, "partitions", partitions, "replication_factor", r)
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
}

// permanent reports errors that retrying will not fix.
func permanent(err error) bool {
	for _, e := range []error{
		kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.GroupAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed, kerr.SaslAuthenticationFailed,
		kerr.InvalidReplicationFactor, kerr.InvalidConfig, kerr.PolicyViolation, kerr.InvalidTopicException,
		kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.TransactionalIDNotFound,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// retry runs fn until it succeeds, returns a permanent error, or ctx ends; with backoff from
// 100 ms to 5 s.
func retry(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	backoff := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if permanent(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		log.Warn("retrying", "what", what, "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
