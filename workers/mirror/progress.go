package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2/records"
)

// readProgress reads the progress topic read_committed from its start up to the high
// watermark it has now (after fencing, in transactional mode) and returns this connector's
// last recorded offset per source partition. Reading to the high watermark rather than to
// the last stable offset matters: another task's open transaction may hold the stable offset
// below a committed transaction of ours, so the read waits for the stable offset to pass the
// high watermark seen at start (control records are kept so that the wait ends even when the
// log ends in a marker).
//
// With a Runtime cluster the progress is in its offsets topic; a partition without progress
// there takes it from mm2-offsets.<source alias>.internal on the target, if that topic exists
// (where the connector recorded its progress before it had a runtime cluster).
func (t *SourceTask) readProgress(ctx context.Context) (map[tp]int64, error) {
	seeds, opts := t.cfg.TargetBootstrap, t.opts.TargetOpts
	if rt := t.opts.Runtime; rt != nil {
		seeds, opts = rt.Bootstrap, rt.Opts
	}
	out, err := t.readProgressTopic(ctx, t.rtAdm, seeds, opts, t.progressTopic)
	if err != nil || t.legacyProgress == "" {
		return out, err
	}
	var exists bool
	if err := retry(ctx, t.log, "describe "+t.legacyProgress, func() error {
		d, err := topicPartitions(ctx, t.adm, t.legacyProgress)
		if err != nil {
			return err
		}
		md, ok := d[t.legacyProgress]
		exists = ok && md.err == nil && md.partitions > 0
		return nil
	}); err != nil || !exists {
		return out, err
	}
	legacy, err := t.readProgressTopic(ctx, t.tgtAdm, t.cfg.TargetBootstrap, t.opts.TargetOpts, t.legacyProgress)
	if err != nil {
		return nil, err
	}
	n := 0
	for k, off := range legacy {
		if _, ok := out[k]; !ok {
			out[k] = off
			n++
		}
	}
	if n > 0 {
		t.log.Info("resuming partitions from the progress recorded before the connector had a runtime cluster", "topic", t.legacyProgress, "partitions", n)
	}
	return out, nil
}

// readProgressTopic reads this connector's progress records of topic through adm's cluster.
func (t *SourceTask) readProgressTopic(ctx context.Context, adm *kadm.Client, seeds []string, extra []kgo.Opt, topic string) (map[tp]int64, error) {
	out := map[tp]int64{}
	var starts, ends map[int32]int64
	err := retry(ctx, t.log, "list progress offsets", func() error {
		s, err := adm.ListStartOffsets(ctx, topic)
		if err == nil {
			err = s.Error()
		}
		if err != nil {
			return err
		}
		e, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = e.Error()
		}
		if err != nil {
			return err
		}
		starts, ends = map[int32]int64{}, map[int32]int64{}
		for p, o := range s[topic] {
			starts[p] = o.Offset
		}
		for p, o := range e[topic] {
			ends[p] = o.Offset
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	assign := map[int32]kgo.Offset{}
	remaining := map[int32]int64{} // partition → last offset to see
	for p, end := range ends {
		if end > starts[p] {
			assign[p] = kgo.NewOffset().AtStart()
			remaining[p] = end - 1
		}
	}
	if len(assign) == 0 {
		return out, nil
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.WithLogger(kgoLogger{t.log}),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	}, slices.Clone(extra)...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("progress reader: %w", err)
	}
	defer cl.Close()
	n, mine := 0, 0
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, p int32, err error) {
			t.log.Warn("read progress", "partition", p, "error", err)
			if ferr == nil && permanent(err) {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, fmt.Errorf("read progress topic %s: %w", topic, ferr)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if last, ok := remaining[r.Partition]; ok && r.Offset >= last {
				delete(remaining, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			n++
			so, err := records.DecodeSourceOffset(r.Key, r.Value)
			if err != nil && !errors.Is(err, records.ErrTombstone) {
				return // another connector's record in a shared topic, or garbage: not ours
			}
			if so.Connector != t.opts.ConnectorName || so.Cluster != t.cfg.SourceAlias {
				return
			}
			mine++
			k := tp{so.Topic, so.Partition}
			if errors.Is(err, records.ErrTombstone) {
				delete(out, k)
				return
			}
			out[k] = so.Offset
		})
	}
	t.log.Info("read progress", "topic", topic, "records", n, "this_connector", mine, "partitions", len(out))
	return out, nil
}
