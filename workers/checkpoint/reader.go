package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// follower reads a topic from its start and hands every record to apply. Its client keeps
// fetching in the background; records are applied only by catchUp, on the task's goroutine.
type follower struct {
	cl    *kgo.Client
	adm   *kadm.Client
	topic string
	apply func(*kgo.Record)
	next  map[int32]int64 // next offset to apply, per partition
	log   *slog.Logger
}

// newFollower starts following topic. readCommitted skips aborted transactional records.
// Control records are kept so that the position passes transaction markers and reading "to
// the end offset" terminates even when the log ends in a marker.
func newFollower(opts []kgo.Opt, topic string, readCommitted bool, apply func(*kgo.Record), log *slog.Logger) (*follower, error) {
	opts = append(slices.Clone(opts),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(),
	)
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &follower{cl: cl, adm: kadm.NewClient(cl), topic: topic, apply: apply,
		next: make(map[int32]int64), log: log.With("topic", topic)}, nil
}

func (f *follower) close() { f.cl.Close() }

// catchUp applies every record up to the topic's end offsets (high watermarks) as listed now,
// waiting at most timeout. A topic that does not exist (yet) has nothing to read. With
// read_committed, the wait also covers transactions open below the high watermark.
func (f *follower) catchUp(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ends, err := f.adm.ListEndOffsets(ctx, f.topic)
	if err != nil {
		return fmt.Errorf("list end offsets of %s: %w", f.topic, err)
	}
	starts, err := f.adm.ListStartOffsets(ctx, f.topic)
	if err != nil {
		return fmt.Errorf("list start offsets of %s: %w", f.topic, err)
	}
	want := make(map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Partition < 0 {
			return
		}
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Err == nil && s.Offset >= o.Offset {
			return // empty (or everything deleted): nothing to read
		}
		want[o.Partition] = o.Offset
	})
	refreshed := false
	for {
		behind, started := false, true
		for p, end := range want {
			if f.next[p] < end {
				behind = true
				if _, ok := f.next[p]; !ok {
					started = false
				}
			}
		}
		if !behind {
			return nil
		}
		if !started && !refreshed {
			// The topic may have been created after the client last loaded metadata.
			f.cl.ForceMetadataRefresh()
			refreshed = true
		}
		fs := f.cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
				f.log.Warn("fetch", "partition", p, "error", err)
			}
		})
		fs.EachRecord(func(rec *kgo.Record) {
			f.next[rec.Partition] = rec.Offset + 1
			if !rec.Attrs.IsControl() {
				f.apply(rec)
			}
		})
		if ctx.Err() != nil {
			return fmt.Errorf("read %s to its end: %w", f.topic, ctx.Err())
		}
	}
}
