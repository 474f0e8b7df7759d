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
//
// # Failback (ENHANCED offset sync mode)
//
// In an active-active pair — clusters S and T, a topic under the same name on both
// (IdentityReplicationPolicy), replicators S→T and T→S that skip the records that came from
// their target (workers/mirror, provenance) — each partition of T holds T's own records
// ("originals") and copies of S's. A group that failed over from T to S and consumed there
// read, on S, copies of T's records as well as S's originals. The forward translation above
// uses S→T's syncs only, which describe S's originals: it places the group exactly among the
// copies of S's records, but anywhere among T's originals between two of them, so the group
// re-reads, or could skip, T's originals it consumed as copies on S. With
// fjord.consumer.group.offset.sync.mode=ENHANCED (Options.Enhanced) the task of S→T also
// reads T→S's history — its offset syncs on T (mm2-offset-syncs.<S>.internal, with
// offset-syncs.topic.location=source) and its progress on S (mm2-offsets.<T>.internal) — and
// translates a committed offset x of S to
//
//	X = min(first copy on T of an original of S at or after x,
//	        first original of T whose copy on S lies at or after x)
//
// so that, when the two sides hold their records in the same order (nothing written on both
// sides within one replication lag), the group resumes on T at the first record it consumed
// on neither side: nothing skipped, nothing re-read. A record counts as consumed on S when it
// lies before x there; the records before the offset the group was failed over at count as
// consumed on T, which the exact forward translation of that failover guarantees for S's
// originals. The contract this needs from both replicators:
//
//   - C4 runs: a run is a maximal sequence of records copied by one task lifetime with
//     consecutive upstream and consecutive downstream offsets. Every sync carries its kind in
//     the header fjord.offset-sync (records.SyncKindHeader): "start" for the first record of
//     every run, "end" for the last record of a run followed by a gap, "mid" inside a run,
//     "position" for C3's position syncs and for the first offset a lifetime handles when it
//     is not copied. The end of a run is written before recorded progress passes the first
//     offset after it, like every other sync. Fjord's MirrorSource does this in the ENHANCED
//     mode (workers/mirror/runs.go); these syncs also satisfy C1–C3, so the forward
//     translation of them is unchanged.
//
// From a replicator's tagged syncs and progress the task derives, per source partition, spans
// covering every offset from the first sync kept to the progress: copy spans [u, u+n) → [d,
// d+n), and gap spans of offsets that were not copied (skipped copies of the other side,
// transaction markers, aborted records); a run cut short by a new lifetime without its end
// keeps only what C2 bounds. Then, with own = S→T's spans and peer = T→S's spans:
//
//   - own forward of x: in a copy span, the copy of x; in a gap, the start of the next copy
//     span; past the spans (x = progress + 1, or in the last gap), the frontier — where the
//     next copy lands at the earliest — moved past every offset of T that lies in an exact
//     copy span of peer (T's originals, so no copy of S can be there). x before the first
//     span, or beyond progress + 1: not translated (yet);
//   - peer reverse of x (x on peer's target S): the first offset of T whose copy lies at or
//     after x — in the copy span holding x, its original; else the start of the next copy
//     span; past them, peer's progress + 1. When peer's history does not start at offset 0
//     and x lies before its first target offset, records before it may have copies at or
//     after x: not translated. When the answer is peer's progress + 1 and it lies below the
//     forward result, T→S has not read T that far yet: not translated yet.
//
// Every record of T below X is then an original whose copy lies below x on S, a copy of an
// original of S below x, or no record (marker, aborted): nothing is skipped, whatever the
// timing. Checkpoints and syncs follow the rules above: the target group is committed only
// while it has no member and only forward, so a failback moves T's group to where it got on S
// and never back; a group that did not move on S keeps its offset on T.
//
// Partitions that T→S has no sync of, or whose syncs (either side's) carry no kind, translate
// as above without the mode. Not covered: records written on both sides within one
// replication lag may be read twice after a failback (and the forward translation of the
// failover itself may skip such records of T, which the group then never read); with
// exactly-once replicators, a transaction marker T→S wrote after its last copy stops the
// frontier move, so originals of T consumed on S right after it may be read twice. The mode
// needs offset-syncs.topic.location=source on both replicators (the task refuses target):
// the syncs of T→S are then on T and its own on S, and Fjord's MirrorSource names the
// offset-syncs topic after its target in both locations, so with target the two replicators'
// topics and what this task reads do not line up.
package checkpoint
