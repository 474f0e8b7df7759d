package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
	owned := map[string]int32{} // source topics with owned partitions → partition count
	for topic, d := range details {
		if d.err != nil || d.internal || !ShouldReplicate(t.cfg, topic) || t.lineageCycle(topic) {
			delete(details, topic)
		}
	}
	t.mu.RLock()
	for topic, d := range details {
		h := topicHash(topic)
		for p := range d.partitions {
			if ownerOf(h, p, t.opts.TaskCount) != t.opts.TaskID {
				continue
			}
			owned[topic] = d.partitions
			k := tp{topic, p}
			if t.bySource[k] == nil {
				fresh = append(fresh, k)
				need[topic] = d.partitions
			}
		}
	}
	t.mu.RUnlock()
	t.dropVanished(owned)
	t.recordLineage(ctx, slices.Sorted(maps.Keys(owned)))
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
	var added []*partState
	t.mu.Lock()
	for _, k := range fresh {
		ps := &partState{src: k, target: tp{t.policy.FormatRemoteTopic(t.cfg.SourceAlias, k.topic), k.partition}, acked: -1, written: -1, nextDown: -1, skipHeld: -1, firstUp: -1, lastU: -1, lastD: -1, lagReported: -1}
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
		t.ownedGen++
		added = append(added, ps)
		t.byTarget[ps.target] = ps
		t.log.Debug("owning partition", "topic", k.topic, "partition", k.partition, "target_topic", ps.target.topic, "start", how, "offset", ps.acked+1)
	}
	t.started = true
	t.mu.Unlock()
	for _, ps := range added {
		t.markDirty(ps) // a latest start is recorded at the next commit
	}
	t.src.AddConsumePartitions(assign)
	if !initial {
		t.log.Info("new source partitions", "count", len(fresh), "topics", len(assign))
	}
	return err
}

// dropVanished stops fetching owned partitions whose topic no longer exists on the source (or
// is no longer replicated): owned maps the topics still owned to their partition counts.
// Their state is kept: in-flight records still complete and their progress is still written.
func (t *SourceTask) dropVanished(owned map[string]int32) {
	t.mu.RLock()
	var gone []tp
	for k := range t.bySource {
		if n, ok := owned[k.topic]; !ok || k.partition >= n {
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
		t.ownedGen++
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
	// One request per kind of change, whatever the number of topics: a replicator that starts
	// on 1,000 topics creates them with one DescribeConfigs on the source and one CreateTopics
	// on the target, not 2,000 round trips.
	var errs []error
	var create []string          // target topics to create
	grow := map[int32][]string{} // partition count → target topics to grow to it
	for _, name := range names {
		want := need[srcOf[name]]
		d, ok := existing[name]
		switch {
		case ok && d.err == nil && d.partitions >= want:
		case ok && d.err == nil:
			grow[want] = append(grow[want], name)
		case ok && !errors.Is(d.err, kerr.UnknownTopicOrPartition):
			errs = append(errs, fmt.Errorf("describe target topic %s: %w", name, d.err))
		default:
			create = append(create, name)
		}
	}
	changed := false
	for want, topics := range grow {
		resp, err := t.tgtAdm.UpdatePartitions(ctx, int(want), topics...)
		if err != nil {
			errs = append(errs, fmt.Errorf("add partitions to %d target topics: %w", len(topics), err))
			continue
		}
		for _, r := range resp.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.InvalidPartitions) { // another task may have grown it
				errs = append(errs, fmt.Errorf("add partitions to %s: %w", r.Topic, r.Err))
				continue
			}
			t.log.Info("grew target topic", "topic", r.Topic, "partitions", want)
			changed = true
		}
	}
	if len(create) > 0 {
		created, err := t.createTargetTopics(ctx, create, srcOf, need)
		errs = append(errs, err)
		changed = changed || created
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
//
// The request goes to one of the brokers the client knows, not through the client: franz-go
// stores the answer of every Metadata request sent through Client.Request in the client's
// cache, replacing what it held. A listing of all topics then costs a rebuild of the cache
// structures of every partition (12,000 of them for 1,000 topics; it was most of the CPU of
// an idle task's discovery and several MB of heap), and the next request for a few topics
// prunes them again. Before the client knows a broker, or when none answers, it goes
// through the client.
func topicPartitions(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]topicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, topic := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	var resp *kmsg.MetadataResponse
	var err error
	for _, b := range cl.DiscoveredBrokers() {
		var r kmsg.Response
		if r, err = b.Request(ctx, req); err == nil {
			resp = r.(*kmsg.MetadataResponse)
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if resp == nil {
		if resp, err = req.RequestWith(ctx, cl); err != nil {
			return nil, err
		}
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

// createTargetTopicsBatch bounds the topics of one CreateTopics request.
const createTargetTopicsBatch = 500

// createTargetTopics creates the target topics names (srcOf maps each to its source topic, need
// gives the partition count by source topic) with their source topics' replicable configs, in
// one CreateTopics request per createTargetTopicsBatch topics. It reports whether any topic was
// created (or found created by another task).
func (t *SourceTask) createTargetTopics(ctx context.Context, names []string, srcOf map[string]string, need map[string]int32) (bool, error) {
	rf, err := t.replicationFactor(ctx, t.cfg.ReplicationFactor)
	if err != nil {
		return false, err
	}
	srcs := make([]string, len(names))
	for i, n := range names {
		srcs[i] = srcOf[n]
	}
	configs := t.sourceConfigs(ctx, srcs)
	var errs []error
	changed := false
	for batch := range slices.Chunk(names, createTargetTopicsBatch) {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 60_000
		for _, name := range batch {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, need[srcOf[name]], rf
			for _, k := range slices.Sorted(maps.Keys(configs[srcOf[name]])) {
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				c.Name, c.Value = k, configs[srcOf[name]][k]
				rt.Configs = append(rt.Configs, c)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, t.adm)
		if err != nil {
			errs = append(errs, fmt.Errorf("create %d target topics: %w", len(batch), err))
			continue
		}
		for _, r := range resp.Topics {
			err := kerr.ErrorForCode(r.ErrorCode)
			switch {
			case errors.Is(err, kerr.TopicAlreadyExists): // another task was first
			case err != nil:
				if r.ErrorMessage != nil {
					err = fmt.Errorf("%w: %s", err, *r.ErrorMessage)
				}
				errs = append(errs, fmt.Errorf("create target topic %s: %w", r.Topic, err))
				continue
			default:
				t.log.Info("created target topic", "topic", r.Topic, "partitions", need[srcOf[r.Topic]], "replication_factor", rf,
					"configs", len(configs[srcOf[r.Topic]]))
			}
			changed = true
		}
	}
	return changed, errors.Join(errs...)
}

// sourceConfigs returns the source topics' replicable configs (see replicableConfigs; nil when
// sync.topic.configs.enabled is false), for creating their target topics, in one DescribeConfigs
// request: copying them at creation keeps e.g. cleanup.policy=compact and message.timestamp
// semantics from the first record on. Later changes are followed by task 0's config sync
// (topicsync.go). A topic whose configs cannot be read is created with the defaults.
func (t *SourceTask) sourceConfigs(ctx context.Context, topics []string) map[string]map[string]*string {
	if !t.cfg.SyncTopicConfigs || len(topics) == 0 {
		return nil
	}
	rcs, err := t.srcAdm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		t.log.Warn("describe source topic configs; creating the target topics with defaults", "topics", len(topics), "error", err)
		return nil
	}
	out := make(map[string]map[string]*string, len(rcs))
	for _, rc := range rcs {
		if rc.Err != nil {
			t.log.Warn("describe source topic configs; creating the target topic with defaults", "topic", rc.Name, "error", rc.Err)
			continue
		}
		m := map[string]*string{}
		for k, v := range replicableConfigs(rc, t.cfg.ConfigProperties) {
			m[k] = kadm.StringPtr(v)
		}
		out[rc.Name] = m
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
