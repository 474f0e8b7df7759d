package records

import (
	"errors"
	"fmt"
)

// OffsetSync says that the record at UpstreamOffset in the source partition Topic/Partition was
// written to the target at DownstreamOffset. MirrorSource writes it to the offset-syncs topic
// (mm2-offset-syncs.<alias>.internal) and the checkpoint task reads it to translate group
// offsets. Topic is the source (upstream) topic name.
//
// Key:   topic STRING, partition INT32.
// Value: upstreamOffset INT64, offset INT64 (no version header).
type OffsetSync struct {
	Topic            string
	Partition        int32
	UpstreamOffset   int64
	DownstreamOffset int64
}

// Validate reports whether the sync can be encoded (Topic fits a Kafka STRING).
func (s OffsetSync) Validate() error { return validString("topic", s.Topic) }

// Key is the record key, the same for every sync of one partition (the topic is compacted).
func (s OffsetSync) Key() []byte {
	w := writer{b: make([]byte, 0, 2+len(s.Topic)+4)}
	w.string(s.Topic)
	w.int32(s.Partition)
	return w.b
}

// Value is the record value.
func (s OffsetSync) Value() []byte {
	w := writer{b: make([]byte, 0, 16)}
	w.int64(s.UpstreamOffset)
	w.int64(s.DownstreamOffset)
	return w.b
}

// DecodeOffsetSync reads an offset-syncs record. Errors wrap ErrMalformed.
func DecodeOffsetSync(key, value []byte) (OffsetSync, error) {
	var s OffsetSync
	k := reader{b: key}
	s.Topic = k.string("topic")
	s.Partition = k.int32("partition")
	v := reader{b: value}
	s.UpstreamOffset = v.int64("upstreamOffset")
	s.DownstreamOffset = v.int64("offset")
	if err := errors.Join(k.err, v.err); err != nil {
		return OffsetSync{}, fmt.Errorf("decode offset sync: %w", err)
	}
	return s, nil
}
