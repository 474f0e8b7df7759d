package records

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrTombstone is returned by DecodeSourceOffset for a record with a null value: Connect's way
// of deleting a stored offset (the partition starts over as if never replicated).
var ErrTombstone = errors.New("source offset tombstone")

// SourceOffset is Kafka Connect's source-offset record as MirrorSourceConnector writes it to
// the Connect offsets topic: the progress of one source partition. Connector is the Connect
// connector name (the offset namespace), Cluster the source cluster alias, Topic/Partition the
// source partition, and Offset the upstream offset of the last record replicated (as MM2:
// replication resumes at Offset+1).
//
// Key:   ["<connector>",{"cluster":"<alias>","partition":N,"topic":"<topic>"}]
// Value: {"offset":N}
//
// Both are Connect's schemaless JSON (JsonConverter, schemas.enable=false), compact, fields in
// that order. Connect serializes the partition map with Jackson from a HashMap, so a reader must
// not depend on field order; DecodeSourceOffset does not.
type SourceOffset struct {
	Connector string
	Cluster   string
	Topic     string
	Partition int32
	Offset    int64
}

type sourcePartition struct {
	Cluster   string `json:"cluster"`
	Partition int32  `json:"partition"`
	Topic     string `json:"topic"`
}

type sourceOffsetValue struct {
	Offset int64 `json:"offset"`
}

// marshal writes v as compact JSON without Go's HTML escaping (Jackson does not escape <, >, &),
// so that keys written by Fjord and by Connect for the same partition are the same bytes.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only strings, int32 and int64 are encoded: this cannot fail.
		panic(fmt.Sprintf("records: encode %T: %v", v, err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Key is the record key in the Connect offsets topic.
func (o SourceOffset) Key() []byte {
	return marshal([]any{o.Connector, sourcePartition{Cluster: o.Cluster, Partition: o.Partition, Topic: o.Topic}})
}

// Value is the record value in the Connect offsets topic.
func (o SourceOffset) Value() []byte {
	return marshal(sourceOffsetValue{Offset: o.Offset})
}

// DecodeSourceOffset reads a Connect source-offset record written for a MirrorSource task. A
// null value returns the key's fields and ErrTombstone; other errors wrap ErrMalformed.
func DecodeSourceOffset(key, value []byte) (SourceOffset, error) {
	var o SourceOffset
	var parts []json.RawMessage
	if err := json.Unmarshal(key, &parts); err != nil {
		return SourceOffset{}, fmt.Errorf("decode source offset key: %w: %v", ErrMalformed, err)
	}
	if len(parts) != 2 {
		return SourceOffset{}, fmt.Errorf("decode source offset key: %w: want [connector, partition], got %d elements", ErrMalformed, len(parts))
	}
	if len(parts[0]) == 0 || parts[0][0] != '"' {
		return SourceOffset{}, fmt.Errorf("decode source offset key: %w: connector name is not a string", ErrMalformed)
	}
	if err := json.Unmarshal(parts[0], &o.Connector); err != nil {
		return SourceOffset{}, fmt.Errorf("decode source offset key: %w: connector: %v", ErrMalformed, err)
	}
	var p struct {
		Cluster   *string `json:"cluster"`
		Partition *int32  `json:"partition"`
		Topic     *string `json:"topic"`
	}
	if err := json.Unmarshal(parts[1], &p); err != nil {
		return SourceOffset{}, fmt.Errorf("decode source offset key: %w: partition map: %v", ErrMalformed, err)
	}
	if p.Cluster == nil || p.Partition == nil || p.Topic == nil {
		return SourceOffset{}, fmt.Errorf("decode source offset key: %w: partition map needs cluster, partition and topic", ErrMalformed)
	}
	o.Cluster, o.Partition, o.Topic = *p.Cluster, *p.Partition, *p.Topic
	if value == nil {
		return o, ErrTombstone
	}
	var v struct {
		Offset *int64 `json:"offset"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return SourceOffset{}, fmt.Errorf("decode source offset value: %w: %v", ErrMalformed, err)
	}
	if v.Offset == nil {
		return SourceOffset{}, fmt.Errorf("decode source offset value: %w: no offset", ErrMalformed)
	}
	o.Offset = *v.Offset
	return o, nil
}
