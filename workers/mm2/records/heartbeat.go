package records

import (
	"errors"
	"fmt"
)

// Heartbeat is emitted by the heartbeat connector into the target's heartbeats topic and then
// replicated onwards like any topic, so that its copies reveal the replication topology.
// Timestamp is in milliseconds since the Unix epoch.
//
// Key:   sourceClusterAlias STRING, targetClusterAlias STRING.
// Value: version INT16 (0), timestamp INT64.
type Heartbeat struct {
	SourceClusterAlias string
	TargetClusterAlias string
	Timestamp          int64
}

// Validate reports whether the heartbeat can be encoded (both aliases fit a Kafka STRING).
func (h Heartbeat) Validate() error {
	return errors.Join(validString("sourceClusterAlias", h.SourceClusterAlias),
		validString("targetClusterAlias", h.TargetClusterAlias))
}

// Key is the record key, one per (source, target) pair in the compacted heartbeats topic.
func (h Heartbeat) Key() []byte {
	w := writer{b: make([]byte, 0, 4+len(h.SourceClusterAlias)+len(h.TargetClusterAlias))}
	w.string(h.SourceClusterAlias)
	w.string(h.TargetClusterAlias)
	return w.b
}

// Value is the record value, version 0.
func (h Heartbeat) Value() []byte {
	w := writer{b: make([]byte, 0, 10)}
	w.int16(0)
	w.int64(h.Timestamp)
	return w.b
}

// DecodeHeartbeat reads a heartbeats record. Errors wrap ErrMalformed.
func DecodeHeartbeat(key, value []byte) (Heartbeat, error) {
	var h Heartbeat
	k := reader{b: key}
	h.SourceClusterAlias = k.string("sourceClusterAlias")
	h.TargetClusterAlias = k.string("targetClusterAlias")
	v := reader{b: value}
	v.version()
	h.Timestamp = v.int64("timestamp")
	if err := errors.Join(k.err, v.err); err != nil {
		return Heartbeat{}, fmt.Errorf("decode heartbeat: %w", err)
	}
	return h, nil
}
