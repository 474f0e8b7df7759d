package mirror

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Continuous topic-config and ACL sync.
//
// MM2's MirrorSourceConnector (the connector, not its tasks) copies topic configs every
// sync.topic.configs.interval.seconds and topic ACLs every sync.topic.acls.interval.seconds.
// Fjord has no connector process: task 0 of the connector does both (Fjord default 5 s each),
// on goroutines of its own that stop with the task. Each round lists the source topics, so it
// covers every replicated topic, not only task 0's partitions; a target topic that does not
// exist yet (the owning task creates it) is picked up by a later round.
//
// Configs: the replicable configs of each source topic (replicableConfigs: set on the topic,
// not sensitive, selected by config.properties.exclude) are compared with the target topic's
// current values and the differing ones are SET with IncrementalAlterConfigs; nothing is
// written when they agree. A config the source stops overriding is reset (DELETE) on the
// target only when this task saw the source set it and the target still holds that value —
// i.e. the target's override is the one Fjord copied; configs set on the target by someone else
// are never removed. That memory lives for the task's lifetime: an override removed on the
// source while no task 0 ran stays on the target. (MM2 with incremental alter configs only
// ever sets.) Target topics are never deleted.
//
// Partition counts are not this loop's job: every task grows the target topics of the
// partitions it owns at each refresh.topics.interval (discover in topics.go).

// startSyncLoops starts the config and ACL sync loops on task 0; wg waits for them and ctx
// stops them.
func (t *SourceTask) startSyncLoops(ctx context.Context, wg *sync.WaitGroup) {
	if t.opts.TaskID != 0 {
		return
	}
	if t.cfg.SyncTopicConfigs && t.cfg.SyncTopicConfigsInterval > 0 {
		cs := &configSync{t: t, last: map[string]map[string]string{}}
		wg.Go(func() { t.every(ctx, t.cfg.SyncTopicConfigsInterval, "sync topic configs", cs.round) })
	}
	if t.cfg.SyncTopicACLs && t.cfg.SyncTopicACLsInterval > 0 {
		wg.Go(func() { t.every(ctx, t.cfg.SyncTopicACLsInterval, "sync topic acls", t.syncTopicACLs) })
	}
}

// errStopSync ends a sync loop for good (e.g. a cluster without an ACL authorizer).
var errStopSync = errors.New("sync not possible on these clusters")

// every runs fn at once and then every interval until ctx ends. A failing round is logged
// (once per distinct error, not every round) and retried at the next one; errStopSync ends
// the loop.
func (t *SourceTask) every(ctx context.Context, interval time.Duration, what string, fn func(context.Context) error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastErr := ""
	for {
		err := fn(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errStopSync):
			t.log.Info(what+": stopped", "reason", err)
			return
		case err != nil:
			t.metricsError("refresh", err)
			if err.Error() != lastErr {
				t.log.Warn(what, "error", err)
			}
			lastErr = err.Error()
		default:
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// replicatedTopics maps each replicated source topic to its target topic name.
func (t *SourceTask) replicatedTopics(ctx context.Context) (map[string]string, error) {
	details, err := topicPartitions(ctx, t.src)
	if err != nil {
		return nil, fmt.Errorf("list source topics: %w", err)
	}
	out := map[string]string{}
	for topic, d := range details {
		if d.err == nil && !d.internal && ShouldReplicate(t.cfg, topic) && !t.isBlocked(topic) {
			out[topic] = t.policy.FormatRemoteTopic(t.cfg.SourceAlias, topic)
		}
	}
	return out, nil
}

// configSync is the state of task 0's config sync loop; only its goroutine uses it.
type configSync struct {
	t *SourceTask
	// last is, per target topic, the replicable source configs at the round that last
	// brought the target in line.
	last map[string]map[string]string
}

func (cs *configSync) round(ctx context.Context) error {
	t := cs.t
	pairs, err := t.replicatedTopics(ctx)
	if err != nil || len(pairs) == 0 {
		return err
	}
	srcNames := make([]string, 0, len(pairs))
	tgtNames := make([]string, 0, len(pairs))
	for s, d := range pairs {
		srcNames, tgtNames = append(srcNames, s), append(tgtNames, d)
	}
	sort.Strings(srcNames)
	srcRCs, err := t.srcAdm.DescribeTopicConfigs(ctx, srcNames...)
	if err != nil {
		return fmt.Errorf("describe source topic configs: %w", err)
	}
	tgtRCs, err := t.tgtAdm.DescribeTopicConfigs(ctx, tgtNames...)
	if err != nil {
		return fmt.Errorf("describe target topic configs: %w", err)
	}
	tgtBy := make(map[string]kadm.ResourceConfig, len(tgtRCs))
	for _, rc := range tgtRCs {
		tgtBy[rc.Name] = rc
	}
	var errs []error
	for _, src := range srcRCs {
		name, ok := pairs[src.Name]
		tgt, exists := tgtBy[name]
		if !ok || src.Err != nil || !exists || tgt.Err != nil {
			continue // a topic deleted meanwhile, or a target topic not created yet
		}
		want := replicableConfigs(src, t.cfg.ConfigProperties)
		alters := configAlterations(want, cs.last[name], tgt)
		if len(alters) > 0 {
			resp, err := t.tgtAdm.AlterTopicConfigs(ctx, alters, name)
			if err == nil {
				for _, r := range resp {
					if r.Err != nil {
						err = fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
					}
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("alter configs of %s: %w", name, err))
				continue
			}
			keys := make([]string, 0, len(alters))
			for _, a := range alters {
				keys = append(keys, a.Name)
			}
			t.log.Info("synced topic configs", "topic", name, "configs", keys)
		}
		cs.last[name] = want
	}
	return errors.Join(errs...)
}

// configAlterations are the incremental changes that bring target topic config tgt in line
// with want, the source's replicable configs: a SET for every value that differs, and a
// DELETE for each key of last (what the source set before) the source no longer sets and
// the target still holds as a topic override with the copied value.
func configAlterations(want, last map[string]string, tgt kadm.ResourceConfig) []kadm.AlterConfig {
	have := make(map[string]kadm.Config, len(tgt.Configs))
	for _, c := range tgt.Configs {
		have[c.Key] = c
	}
	var out []kadm.AlterConfig
	for k, v := range want {
		if c, ok := have[k]; ok && c.Value != nil && *c.Value == v {
			continue
		}
		out = append(out, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
	}
	for k, v := range last {
		if _, still := want[k]; still {
			continue
		}
		if c, ok := have[k]; ok && c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil && *c.Value == v {
			out = append(out, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
