package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LineageTopic is the compacted topic in which Fjord records, on every cluster it replicates
// to, where the records of each target topic came from: key the topic's name, value a
// [Lineage] in JSON. Its name ends in ".internal", so no replication policy replicates it.
//
// MirrorMaker 2 tells remote topics from local ones by name only (the source aliases the
// replication policy puts in front of them), so two replication flows between the same two
// clusters under different aliases — an IDENTICAL replicator a↔b and a MirrorSource
// connector src→dst — never see each other's topics as cycles and copy them back and forth
// under ever longer names (src.b.heartbeats, src.b.src.b.heartbeats, …). The lineage names
// clusters by their cluster IDs, so it does not depend on aliases, and it is kept in Kafka,
// so it survives restarts and is shared by every task and connector writing to the cluster.
const LineageTopic = "fjord-lineage.internal"

// LineageSource is one upstream topic whose records a topic holds: the identity of its
// cluster (the cluster ID, or the alias when the IDs cannot tell the clusters apart) and its
// name there.
type LineageSource struct {
	Cluster string `json:"cluster"`
	Topic   string `json:"topic"`
}

// Lineage is the value of a [LineageTopic] record: every upstream topic, any number of hops
// away, whose records the keyed topic holds; never one of its own cluster.
type Lineage struct {
	Sources []LineageSource `json:"sources"`
}

// has reports whether l lists s.
func (l Lineage) has(s LineageSource) bool { return slices.Contains(l.Sources, s) }

// covers reports whether l lists every source of o.
func (l Lineage) covers(o Lineage) bool {
	for _, s := range o.Sources {
		if !l.has(s) {
			return false
		}
	}
	return true
}

// union is l with the sources of o it lacks, sorted.
func (l Lineage) union(o Lineage) Lineage {
	out := Lineage{Sources: slices.Clone(l.Sources)}
	for _, s := range o.Sources {
		if !out.has(s) {
			out.Sources = append(out.Sources, s)
		}
	}
	sort.Slice(out.Sources, func(i, j int) bool {
		a, b := out.Sources[i], out.Sources[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return a.Topic < b.Topic
	})
	return out
}

// remoteLineage is the lineage a copy on cluster target of topic (on cluster source, with
// lineage up) holds: topic itself and everything upstream of it, except target's own topics.
func remoteLineage(source, topic string, up Lineage, target string) Lineage {
	var out Lineage
	for _, s := range append(slices.Clone(up.Sources), LineageSource{Cluster: source, Topic: topic}) {
		if s.Cluster != target && !out.has(s) {
			out.Sources = append(out.Sources, s)
		}
	}
	return out.union(Lineage{})
}

// LineageCycle reports whether copying a topic with lineage up to the cluster target, as
// the topic remote, would bring records back to target under another name: up lists a topic
// of target other than remote itself. Only copies under another name than their source topic
// have a lineage (see recordLineage). Copies into the very topic the records came from (an
// IDENTICAL replicator's active-active topics) are not cycles at the topic level; the
// provenance header keeps their records from looping (provenance.go).
func LineageCycle(up Lineage, target, remote string) bool {
	for _, s := range up.Sources {
		if s.Cluster == target && s.Topic != remote {
			return true
		}
	}
	return false
}

// lineageLog is what one cluster's [LineageTopic] holds, read incrementally.
type lineageLog struct {
	opts    []kgo.Opt // reach the cluster: seed brokers, TLS, SASL
	adm     *kadm.Client
	next    map[int32]int64 // next offset to read, by partition
	byTopic map[string]Lineage
}

func newLineageLog(adm *kadm.Client, opts []kgo.Opt) *lineageLog {
	return &lineageLog{opts: opts, adm: adm, next: map[int32]int64{}, byTopic: map[string]Lineage{}}
}

// refresh reads the records appended since the last refresh. A cluster without the topic
// has an empty lineage.
func (l *lineageLog) refresh(ctx context.Context) error {
	ends, err := l.adm.ListEndOffsets(ctx, LineageTopic)
	if err != nil {
		return err
	}
	starts, err := l.adm.ListStartOffsets(ctx, LineageTopic)
	if err != nil {
		return err
	}
	assign := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			if !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				errs = append(errs, o.Err)
			}
			return
		}
		from := l.next[o.Partition]
		if s, ok := starts.Lookup(LineageTopic, o.Partition); ok && s.Err == nil && s.Offset > from {
			from = s.Offset // compacted or deleted below: those records are superseded
		}
		if o.Offset > from {
			assign[o.Partition] = kgo.NewOffset().At(from)
			want[o.Partition] = o.Offset
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(assign) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(l.opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{LineageTopic: assign}),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for len(want) > 0 {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			return fmt.Errorf("read %s: %w", LineageTopic, rctx.Err())
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			// Nothing left to read below the end listed: the rest was compacted away.
			if end, ok := want[p.Partition]; ok && p.Err == nil && len(p.Records) == 0 && p.HighWatermark >= end {
				l.next[p.Partition] = max(l.next[p.Partition], end)
				delete(want, p.Partition)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			l.next[r.Partition] = r.Offset + 1
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			topic := string(r.Key)
			if r.Value == nil {
				delete(l.byTopic, topic)
				return
			}
			var v Lineage
			if json.Unmarshal(r.Value, &v) == nil {
				l.byTopic[topic] = v.union(Lineage{})
			}
		})
	}
	return nil
}

// lineage is a task's topic-level cycle prevention: the lineage recorded on its source
// cluster (to know where source topics came from) and on its target cluster (to record where
// the topics it writes come from).
type lineage struct {
	// source and target are the clusters' identities (see clusterIdentities).
	source, target string
	src, tgt       *lineageLog

	mu      sync.RWMutex
	blocked map[string]bool // source topics not replicated because of a cycle
}

// resolveLineage learns the clusters' identities; the lineage itself is read at each
// discovery.
func (t *SourceTask) resolveLineage(ctx context.Context) error {
	src, tgt, err := t.identities(ctx, t.tgtAdm, "topic lineage records")
	if err != nil {
		return err
	}
	srcOpts := append([]kgo.Opt{kgo.SeedBrokers(t.cfg.SourceBootstrap...), kgo.WithLogger(kgoLogger{t.log})}, t.opts.SourceOpts...)
	tgtOpts := append([]kgo.Opt{kgo.SeedBrokers(t.cfg.TargetBootstrap...), kgo.WithLogger(kgoLogger{t.log})}, t.opts.TargetOpts...)
	t.lin = &lineage{source: src, target: tgt, src: newLineageLog(t.srcAdm, srcOpts), tgt: newLineageLog(t.tgtAdm, tgtOpts),
		blocked: map[string]bool{}}
	return nil
}

// refreshLineage reads what was recorded on both clusters since the last call. Failures are
// logged: the task then decides with what it knew (the alias rule of the replication policy
// still applies).
func (t *SourceTask) refreshLineage(ctx context.Context) {
	if t.lin == nil {
		return
	}
	for _, l := range []struct {
		what string
		log  *lineageLog
	}{{"source", t.lin.src}, {"target", t.lin.tgt}} {
		if err := l.log.refresh(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("read topic lineage", "cluster", l.what, "topic", LineageTopic, "error", err)
		}
	}
}

// lineageCycle reports whether source topic must not be replicated because its records came
// from the target cluster under another name; it logs the first decision for each topic.
func (t *SourceTask) lineageCycle(topic string) bool {
	if t.lin == nil {
		return false
	}
	up := t.lin.src.byTopic[topic]
	cycle := LineageCycle(up, t.lin.target, t.policy.FormatRemoteTopic(t.cfg.SourceAlias, topic))
	t.lin.mu.Lock()
	was := t.lin.blocked[topic]
	if cycle {
		t.lin.blocked[topic] = true
	} else {
		delete(t.lin.blocked, topic)
	}
	t.lin.mu.Unlock()
	if cycle && !was {
		t.log.Info("not replicating topic: its records came from the target cluster (topic lineage)", "topic", topic,
			"target_identity", t.lin.target, "lineage", up.Sources)
	}
	return cycle
}

// isBlocked reports the last decision of lineageCycle for topic; safe from any goroutine.
func (t *SourceTask) isBlocked(topic string) bool {
	if t.lin == nil {
		return false
	}
	t.lin.mu.RLock()
	defer t.lin.mu.RUnlock()
	return t.lin.blocked[topic]
}

// recordLineage makes the target's lineage of the copy of each source topic in topics cover
// where its records come from, before the copies are created or written: a copy never exists
// without its lineage, whatever stops the task. Only copies under another name than their
// source topic's are recorded: a topic of the same name on the target (IDENTICAL replication)
// also holds the target's own records, and replicating it elsewhere is no cycle. Topics whose lineage could not be recorded are
// still replicated (a warning is logged): the record is written again at the next discovery.
func (t *SourceTask) recordLineage(ctx context.Context, topics []string) {
	if t.lin == nil || len(topics) == 0 {
		return
	}
	var recs []*kgo.Record
	for _, topic := range topics {
		remote := t.policy.FormatRemoteTopic(t.cfg.SourceAlias, topic)
		if remote == topic {
			// IDENTICAL names: the target topic is shared with the target cluster's own
			// producers (active-active), not a copy; the provenance header guards its records.
			continue
		}
		want := remoteLineage(t.lin.source, topic, t.lin.src.byTopic[topic], t.lin.target)
		have := t.lin.tgt.byTopic[remote]
		if have.covers(want) {
			continue
		}
		v, _ := json.Marshal(have.union(want))
		recs = append(recs, &kgo.Record{Topic: LineageTopic, Key: []byte(remote), Value: v})
	}
	if len(recs) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := ensureCompacted(wctx, t.tgtAdm, LineageTopic, t.cfg.InternalReplicationFactor, t.log); err != nil {
		t.log.Warn("create topic lineage topic", "topic", LineageTopic, "error", err)
		return
	}
	cl, err := kgo.NewClient(append(slices.Clone(t.lin.tgt.opts), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		t.log.Warn("record topic lineage", "error", err)
		return
	}
	defer cl.Close()
	if err := cl.ProduceSync(wctx, recs...).FirstErr(); err != nil {
		t.log.Warn("record topic lineage", "topics", len(recs), "error", err)
		return
	}
	for _, r := range recs {
		var v Lineage
		_ = json.Unmarshal(r.Value, &v)
		t.lin.tgt.byTopic[string(r.Key)] = v
	}
	t.log.Debug("recorded topic lineage", "topics", len(recs))
}
