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

// SyncKindHeader is the record header in which Fjord's MirrorSource, in the ENHANCED offset
// sync mode (fjord.consumer.group.offset.sync.mode), says what an offset sync describes. MM2
// and Fjord's LEGACY mode write no such header; MM2 ignores it. See workers/checkpoint/doc.go
// (C4) for what the kinds promise.
const SyncKindHeader = "fjord.offset-sync"

// SyncKind is what an offset sync describes.
type SyncKind uint8

// Kinds of offset syncs. A run is a maximal sequence of records copied by one task lifetime
// with consecutive upstream and consecutive downstream offsets.
const (
	// SyncUntagged is a sync without a SyncKindHeader (MM2, or Fjord's LEGACY mode).
	SyncUntagged SyncKind = iota
	// SyncRunStart is the first record of a run.
	SyncRunStart
	// SyncRunMid is a record inside a run (written every offset.lag.max records).
	SyncRunMid
	// SyncRunEnd is the last record of a run that a gap follows.
	SyncRunEnd
	// SyncRunOne is a run of one record: its start and its end.
	SyncRunOne
	// SyncPosition is a position, not a copy: a consumer of the source at UpstreamOffset
	// corresponds to one of the target at DownstreamOffset; the records from UpstreamOffset
	// up to the next sync of the partition were not copied.
	SyncPosition
)

var syncKindNames = [...]string{"", "start", "mid", "end", "one", "position"}

// String is the header value of k ("" for SyncUntagged).
func (k SyncKind) String() string {
	if int(k) < len(syncKindNames) {
		return syncKindNames[k]
	}
	return fmt.Sprintf("SyncKind(%d)", uint8(k))
}

// ParseSyncKind reads a SyncKindHeader value; unknown values are SyncUntagged.
func ParseSyncKind(v []byte) SyncKind {
	for i, n := range syncKindNames {
		if i > 0 && string(v) == n {
			return SyncKind(i)
		}
	}
	return SyncUntagged
}

// IsCopy reports whether a sync of kind k names a copied record (every kind but SyncPosition;
// untagged syncs may be either).
func (k SyncKind) IsCopy() bool { return k >= SyncRunStart && k <= SyncRunOne }
