// Package checkpoint is Fjord's MirrorCheckpointConnector task
// (org.apache.kafka.connect.mirror.MirrorCheckpointConnector and MirrorCheckpointTask): it
// translates the committed offsets of source consumer groups into target offsets, writes them
// as MM2 Checkpoint records to `<source alias>.checkpoints.internal` on the target (one
// partition, compacted, created if missing), and, with sync.group.offsets.enabled, commits
// them to the same groups on the target while those groups have no active member there.
//
// # Rounds
//
// Every emit.checkpoints.interval.seconds (first round at start) a Task:
//
//  1. lists the source's consumer groups (protocol type "consumer", or none for groups that
//     only commit), keeps those the group filter selects and whose FNV-1a 32-bit hash modulo
//     the task count is its task id;
//  2. fetches their committed offsets and keeps the partitions of topics the topic filter
//     selects;
//  3. reads the source engine's progress topic (on the target), then the offset-syncs topic
//     (mm2-offset-syncs.<target alias>.internal on the source by default;
//     offset-syncs.topic.location=target reads mm2-offset-syncs.<source alias>.internal on
//     the target), each up to the end offsets listed after step 2, so every sync written
//     before the group offsets and the progress were read is known (it keeps following both
//     topics between rounds; a round proceeds with what it has after a bounded wait);
//  4. translates each committed offset as below, names the target partition with the
//     replication policy (MM2's renameTopicPartition), and writes a Checkpoint when it is the
//     first for that group and partition, when the upstream offset went back (the group was
//     rewound), or when the downstream offset advanced (MM2's rule; the same checkpoint is not
//     written twice and a checkpoint never moves a group backwards otherwise).
//
// Right after every round, for the groups whose translation changed (a group new to the
// task included), and every sync.group.offsets.interval.seconds for all groups, the latest
// translated offsets of each group are committed on the target if the group has no member
// there (classic DescribeGroups and KIP-848 ConsumerGroupDescribe both report none) — the
// broker itself accepts such an admin commit only for an empty group — and only for partitions where the target's committed offset is
// missing or lower (MM2 never rewinds a target group either). A group that starts committing
// on the source therefore reaches the target within one emit.checkpoints.interval.seconds
// (plus the round's own time), once replication has caught up to its offsets; groups are
// listed every round, so refresh.groups.interval.seconds does not add to that.
//
// # Exact translation and the offset-sync contract
//
// An offset sync (u, d) says that a consumer of the source partition positioned at upstream
// offset u corresponds to a consumer of the target partition positioned at d; MirrorSource
// writes one for record r as (r's source offset, the offset of r's copy on the target). Fjord
// translates exactly, relying on this contract with the source engine (workers/mirror):
//
//   - C1 order: for each source partition, syncs are produced in the order the records were
//     replicated, after the target acknowledged the record, all to one partition of the
//     offset-syncs topic (MM2 writes partition 0 of a one-partition topic);
//   - C2 delta: a sync is written for record r when r is the first record of the partition the
//     engine replicates in its lifetime (start, restart, move), and whenever r's delta
//     (downstream − upstream) differs from the delta of the previous sync-or-record of the
//     partition — that is, at every gap on either side: compacted or aborted source records,
//     transaction markers, other writers or duplicates on the target;
//   - C3 progress: the task knows how far replication got. Either the engine records its
//     progress (Connect SourceOffset records in mm2-offsets.<source alias>.internal on the
//     target: the last upstream offset replicated per partition) only after the syncs of the
//     records it covers were acknowledged — Fjord's MirrorSource does — or, whenever it records
//     progress and when a partition goes idle, it writes the sync for its position even when
//     the delta did not change: (u, d) for the last record replicated, or (p, d+1) when it
//     knows the next source position p is past u+1 (transaction markers or compacted records
//     at the end of the partition). MM2 does the second for its last record:
//     MirrorSourceTask.commit promotes its delayed offset syncs.
//
// The task keeps, per source partition, the syncs in write order with every sync removed
// that a later one starts at or before (a restart that re-copies older records supersedes what
// it re-copies); at most MaxSyncsPerPartition of the newest are kept. For a committed upstream
// offset X, with L the newest sync of the partition and T = max(L.u, recorded progress):
//
//   - X > T + 1: not translated yet (the engine may not have copied X−1, and a sync not yet
//     written may change the delta); a later round translates it;
//   - otherwise, with S the newest sync with S.u ≤ X (none: the history for X was dropped or
//     compacted away, and X is not translated — "exact or nothing") and N the sync right after
//     S, if any: downstream = min(S.d + (X − S.u), N.d).
//
// By C2 every record replicated between S and N has S's delta, so S.d + (X − S.u) is the copy
// of X when X was replicated, and otherwise a position before which there are only copies of
// records below X and after which the first record is the copy of the first record at or
// after X (only transaction markers can lie in between, and consumers skip them). The cap
// N.d covers X in a source gap just before N. When S is L, T ≥ X−1 means every record in
// (L.u, X−1] was copied with L's delta, and X = T + 1 lands just after the last copy. A group
// that committed X therefore resumes on the target at the copy of the record at X, or of the
// next one that exists: nothing skipped, nothing read twice, once replication has caught up
// to X. MM2's own translation (OffsetSyncStore) maps any X > S.u to S.d + 1 and so
// re-delivers up to offset.lag.max records. Syncs written by MM2 satisfy C1 and C3, and C2
// only for gaps on the source side (MM2 does not notice gaps on the target, such as the
// transaction markers of exactly-once delivery): translate MM2-written syncs with this rule
// only when the target partitions are written by MM2 alone, without transactions.
//
// The offset-syncs topic is compacted by (topic, partition), so after a restart the history
// may be reduced to the newest sync per partition: groups at or past it translate exactly at
// once, groups behind it only when they have caught up (their previous checkpoint stays in
// the compacted checkpoints topic meanwhile).
package checkpoint
