// Package mirror is Fjord's MirrorSourceConnector: a [SourceTask] copies the records of the
// source topics it owns to the target cluster with MirrorMaker 2 semantics, keeping each
// record's key, value, headers, timestamp and partition number and the order within a
// partition, and records its progress in the target cluster in Kafka Connect's format.
//
// # Ownership
//
// Tasks do not coordinate. Task i of n owns the source partition (topic, p) when
// (fnv32a(topic) + p) mod n == i (see [Owner]): adding a topic or a partition never moves an
// existing partition to another task, and every task agrees on the split without talking.
// Each task lists the source topics every refresh.topics.interval (Fjord default 5 s) and
// starts copying new topics and partitions without a restart.
//
// # Cycles
//
// Besides the replication policy's alias rule ([ShouldReplicate]), a source topic is not
// replicated when its lineage (recorded by Fjord in [LineageTopic] on every cluster it writes
// to, by cluster ID) says its records came from a topic of the target cluster other than the
// copy it would write ([LineageCycle]); records copied under IDENTICAL names carry
// [ProvenanceHeader] so that they never come back either.
//
// # Progress
//
// Progress lives in the target cluster, in the compacted topic
// mm2-offsets.<source alias>.internal (one partition, cleanup.policy=compact; a topic that
// already exists with more partitions, e.g. created by a Connect cluster, is used as is and
// keys are spread over it with Kafka's murmur2 partitioner, as Connect does). Records are
// Connect's source offsets: key ["<connector>",{"cluster":"<alias>","partition":N,
// "topic":"<topic>"}], value {"offset":N} with N the last replicated source offset; a task
// resumes at N+1. An offset is recorded only once the target acknowledged that record and every
// earlier record of its partition, and once every offset sync up to it was acknowledged.
// Offsets that are not copied — the source's transaction markers (the source consumer keeps
// control records to see them; aborted records lie before their abort marker) and records
// skipped by loop prevention — are recorded like copied ones once everything before them is
// acknowledged, so a partition that ends in markers is recorded through its last marker (its
// last stable offset − 1) without waiting for a later record, and a restart resumes past them.
// At-least-once tasks write progress every CommitInterval (offset.flush.interval.ms, default
// 1 s) and on stop; on a crash the records after the last progress are copied again
// (duplicates, never a loss).
//
// # Converters
//
// In Kafka Connect, MirrorSourceConnector's records have optional bytes keys and values and
// bytes headers, which the worker's key.converter, value.converter and header.converter turn
// into the bytes written to the target. The task applies the converters its configuration
// names (workers/connect/convert) the same way: JsonConverter writes
// {"schema":{"type":"bytes","optional":true},"payload":"<base64>"}, ByteArrayConverter the
// bytes as they are. Fjord's own headers (fjord.*, e.g. ProvenanceHeader) are never converted,
// so loop prevention keeps working, and offsets — hence offset syncs and checkpoints — do not
// depend on the records' bytes. With no converter configured the bytes are copied as they are
// and nothing is done per record; that departs from Connect, whose default worker converters
// would mangle MM2's byte arrays (MSK's guides always set ByteArrayConverter). A record a
// converter cannot write fails the task (Connect's errors.tolerance=none), progress staying
// before it.
//
// A connector's task runs in its Connect runtime's cluster ([SourceOptions].Runtime, from the
// connector's kafkaCluster): the producer writes the copies there and the progress, in the same
// format, to the runtime's offsets topic (MSK Connect's __amazon_msk_connect_offsets_<name>_<id>,
// 25 partitions), while topic creation and the config and ACL sync use the target cluster's
// admin client. Partitions the offsets topic does not know resume from
// mm2-offsets.<source alias>.internal on the target, where the connector recorded its progress
// before it had a runtime cluster.
//
// # Exactly once
//
// With Transactional, the task's target producer is transactional (TransactionalID, one per
// workload task): before reading its progress the task initialises its producer id, which
// fences any older producer with the same id and aborts its open transaction, then reads the
// progress topic read_committed up to the high watermark seen after fencing. Each transaction
// holds a batch of replicated records and the progress records of their partitions, so a
// crash or a fenced zombie leaves nothing visible to read_committed consumers twice.
//
// # Offset syncs
//
// The task writes MM2 OffsetSync records (workers/mm2/records) to
// mm2-offset-syncs.<target alias>.internal on the source cluster (or the target, per
// offset-syncs.topic.location) for a partition's first record in the task's lifetime,
// whenever downstream − upstream changes from the last sync written (a gap upstream, a
// transaction marker downstream, a restart), and at least every offset.lag.max records. Between
// two syncs every copied record therefore has downstream = upstream + delta, which makes
// translation exact (issue 4). When progress passes offsets that are not copied with no copy
// after them (markers or skipped records at the end of a partition), the task writes the
// position sync (next source offset, target offset after the last copy) first — C3 in
// workers/checkpoint — and records that progress only after the sync is acknowledged (in
// transactional mode both go in the same transaction round), so a group committed at the end of
// such a partition translates at once.
//
// With fjord.consumer.group.offset.sync.mode=ENHANCED the task also writes a sync at both ends
// of every run of consecutive copies and tags every sync with its kind (header
// fjord.offset-sync; runs.go, and C4 in workers/checkpoint), so that the checkpoint task of the
// opposite replicator of an active-active pair can tell, for every offset, whether and where it
// was copied. Both replicators of the pair then need offset-syncs.topic.location=source.
//
// # Goroutines and locks
//
//   - Run's goroutine polls the source and produces to the target; it alone pushes upstream
//     offsets onto a partition's in-flight queue (partState.mu) before producing.
//   - franz-go calls produce promises serially on its own goroutine; the data promise pops
//     the in-flight queue, advances the acknowledged offset and may produce an offset sync
//     on the separate sync client (never on the client whose promise it runs in, which could
//     deadlock). The sync promise releases the offset's hold on progress.
//   - A ticker goroutine writes progress (at-least-once mode) and reports metrics. Progress
//     writers hold progressMu so that the two writers (ticker, final flush) produce a key's
//     values in order; nothing is produced while a partState.mu is held.
//   - A refresh goroutine lists topics, creates target topics and adds partitions to the
//     consumer (t.mu guards the partition maps).
//
// In transactional mode only Run's goroutine produces progress, inside the transaction.
package mirror
