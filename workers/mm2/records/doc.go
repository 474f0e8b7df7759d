// Package records owns MirrorMaker 2's record formats, byte for byte, so that MM2 tooling
// (RemoteClusterUtils, the Checkpoint/OffsetSync/Heartbeat formatters, MirrorClient) reads
// what Fjord writes and Fjord reads what MM2 wrote:
//
//   - OffsetSync, written by the source connector to mm2-offset-syncs.<alias>.internal;
//   - Checkpoint, written by the checkpoint connector to <alias>.checkpoints.internal;
//   - Heartbeat, written by the heartbeat connector to heartbeats;
//   - SourceOffset, Kafka Connect's source-offset record that the source connector uses for
//     its progress (key and value in Connect's schemaless JSON).
//
// The first three use Kafka's org.apache.kafka.common.protocol.types Struct encoding: fields in
// schema order, INT16/INT32/INT64 big-endian two's complement, STRING as an INT16 byte length
// followed by that many bytes of UTF-8 (at most 32767 bytes; no null). Checkpoint and Heartbeat
// values start with an INT16 version (0 is the only one MM2 defines); OffsetSync values carry no
// version. Decoders return errors, never panic, and ignore trailing bytes after the last field
// as MM2's Schema.read does.
package records
