package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The source offsets of a connector live in its Connect runtime's offsets topic
// (offset.storage.topic), exactly as Kafka Connect stores a Debezium connector's: the key is
// ["<connector name>",{"server":"<topic.prefix>"}] and the value the engine's offset map, both
// JSON without schema (Connect's internal JsonConverter, schemas.enable=false), the record
// partitioned by murmur2 of its key as Connect's producer does. A null value erases the offset.
// Reading takes the last record of the key in the whole topic (read_committed), so an offsets
// topic written by Java Debezium resumes the same.

// Partition is the source partition of a Debezium connector whose topic.prefix is prefix.
func Partition(prefix string) map[string]any { return map[string]any{"server": prefix} }

// readOffsets reads the connector's last stored source offset (nil when none) from its offsets
// topic (offsets.storage.topic, KIP-618's connector-specific topic, else the runtime's) and,
// when that topic holds none, from the runtime's, as Kafka Connect does.
func (w *writer) readOffsets(ctx context.Context) (map[string]any, error) {
	offset, found, err := w.readOffset(ctx, w.offsetsTopic)
	if err != nil || found || w.offsetsTopic == w.cc.OffsetsTopic {
		return offset, err
	}
	if _, err := w.ensureTopic(ctx, w.cc.OffsetsTopic); err != nil {
		return nil, err
	}
	offset, _, err = w.readOffset(ctx, w.cc.OffsetsTopic)
	return offset, err
}

// readOffset reads the connector's last stored source offset in topic (nil when none; found
// when topic holds a record of the connector's key), and records the topic's partition count.
func (w *writer) readOffset(ctx context.Context, topic string) (_ map[string]any, found bool, _ error) {
	adm := kadm.NewClient(w.cl)
	var starts, ends map[int32]int64
	err := retry(ctx, w.log, "list the offsets topic's offsets", func() error {
		s, err := adm.ListStartOffsets(ctx, topic)
		if err == nil {
			err = s.Error()
		}
		if err != nil {
			return err
		}
		// The last stable offsets: what a read_committed consumer reads up to.
		e, err := adm.ListCommittedOffsets(ctx, topic)
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
		return nil, false, fmt.Errorf("cdc: the offsets topic %s: %w", topic, err)
	}
	w.parts[topic] = len(ends)
	assign := map[int32]kgo.Offset{}
	remaining := map[int32]int64{} // partition → last offset to see
	for p, end := range ends {
		if end > starts[p] {
			assign[p] = kgo.NewOffset().AtStart()
			remaining[p] = end - 1
		}
	}
	if len(assign) == 0 {
		return nil, false, nil
	}
	opts := append(w.kafkaOpts(w.cc.Bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, false, fmt.Errorf("cdc: offsets reader: %w", err)
	}
	defer cl.Close()
	partition := Partition(w.common.Prefix)
	var (
		offset map[string]any
		at     struct {
			partition int32
			offset    int64
		}
		mine int
	)
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, p int32, err error) {
			w.log.Warn("read the offsets topic", "topic", topic, "partition", p, "error", err)
			var ke *kerr.Error
			if ferr == nil && errors.As(err, &ke) && !ke.Retriable {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, false, fmt.Errorf("cdc: read the offsets topic %s: %w", topic, ferr)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if last, ok := remaining[r.Partition]; ok && r.Offset >= last {
				delete(remaining, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			var key []json.RawMessage
			if json.Unmarshal(r.Key, &key) != nil || len(key) != 2 {
				return // not a source offset
			}
			var name string
			if json.Unmarshal(key[0], &name) != nil || name != w.name || !samePartition(key[1], partition) {
				return // another connector's, or another partition's
			}
			mine++
			at.partition, at.offset = r.Partition, r.Offset
			if r.Value == nil || string(r.Value) == "null" {
				offset = nil
				return
			}
			v, err := decodeOffset(r.Value)
			if err != nil {
				w.log.Warn("a stored source offset is not a JSON object; ignored", "topic", topic, "partition", r.Partition, "offset", r.Offset)
				return
			}
			offset = v
		})
	}
	w.log.Info("read the source offsets", "topic", topic, "records", mine, "partition", at.partition, "at", at.offset)
	return offset, mine > 0, nil
}

// retry runs f until it succeeds, ctx is done, or it fails with an error retrying cannot fix.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		err := f()
		if err == nil {
			return nil
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			return err
		}
		log.Warn(what, "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}
