package records

import (
	"errors"
	"fmt"
)

// Checkpoint records that consumer group ConsumerGroupID had committed UpstreamOffset on the
// source partition and that this translates to DownstreamOffset on the target partition
// Topic/Partition. Topic is the target (downstream, i.e. renamed) topic, as MM2 writes it, so a
// consumer of the target can commit DownstreamOffset directly. Metadata is the group's commit
// metadata, copied.
//
// Key:   group STRING, topic STRING, partition INT32.
// Value: version INT16 (0), upstreamOffset INT64, offset INT64, metadata STRING.
type Checkpoint struct {
	ConsumerGroupID  string
	Topic            string
	Partition        int32
	UpstreamOffset   int64
	DownstreamOffset int64
	Metadata         string
}

// Validate reports whether the checkpoint can be encoded (every string fits a Kafka STRING).
func (c Checkpoint) Validate() error {
	return errors.Join(validString("group", c.ConsumerGroupID), validString("topic", c.Topic),
		validString("metadata", c.Metadata))
}

// Key is the record key, one per (group, partition) in the compacted checkpoints topic.
func (c Checkpoint) Key() []byte {
	w := writer{b: make([]byte, 0, 2+len(c.ConsumerGroupID)+2+len(c.Topic)+4)}
	w.string(c.ConsumerGroupID)
	w.string(c.Topic)
	w.int32(c.Partition)
	return w.b
}

// Value is the record value, version 0.
func (c Checkpoint) Value() []byte {
	w := writer{b: make([]byte, 0, 2+8+8+2+len(c.Metadata))}
	w.int16(0)
	w.int64(c.UpstreamOffset)
	w.int64(c.DownstreamOffset)
	w.string(c.Metadata)
	return w.b
}

// DecodeCheckpoint reads a checkpoints record. Errors wrap ErrMalformed.
func DecodeCheckpoint(key, value []byte) (Checkpoint, error) {
	var c Checkpoint
	k := reader{b: key}
	c.ConsumerGroupID = k.string("group")
	c.Topic = k.string("topic")
	c.Partition = k.int32("partition")
	v := reader{b: value}
	v.version()
	c.UpstreamOffset = v.int64("upstreamOffset")
	c.DownstreamOffset = v.int64("offset")
	c.Metadata = v.string("metadata")
	if err := errors.Join(k.err, v.err); err != nil {
		return Checkpoint{}, fmt.Errorf("decode checkpoint: %w", err)
	}
	return c, nil
}
