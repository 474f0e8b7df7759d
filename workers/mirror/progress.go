package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
func (t *SourceTask) readProgress(ctx context.Context) (map[tp]int64, error) {
	out := map[tp]int64{}
	var starts, ends map[int32]int64
	err := retry(ctx, t.log, "list progress offsets", func() error {
		s, err := t.tgtAdm.ListStartOffsets(ctx, t.progressTopic)
		if err == nil {
			err = s.Error()
		}
		if err != nil {
			return err
		}
		e, err := t.tgtAdm.ListEndOffsets(ctx, t.progressTopic)
		if err == nil {
			err = e.Error()
		}
		if err != nil {
			return err
		}
		starts, ends = map[int32]int64{}, map[int32]int64{}
		for p, o := range s[t.progressTopic] {
			starts[p] = o.Offset
		}
		for p, o := range e[t.progressTopic] {
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
		kgo.SeedBrokers(t.cfg.TargetBootstrap...),
		kgo.WithLogger(kgoLogger{t.log}),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{t.progressTopic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	}, slices.Clone(t.opts.TargetOpts)...)
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
			return nil, fmt.Errorf("read progress topic %s: %w", t.progressTopic, ferr)
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
	t.log.Info("read progress", "topic", t.progressTopic, "records", n, "this_connector", mine, "partitions", len(out))
	return out, nil
}
