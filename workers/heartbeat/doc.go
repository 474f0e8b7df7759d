// Package heartbeat is Fjord's MirrorHeartbeatConnector task
// (org.apache.kafka.connect.mirror.MirrorHeartbeatConnector and MirrorHeartbeatTask).
//
// A Task writes a Heartbeat{source alias, target alias, now} record (MM2's format, see
// workers/mm2/records) to the heartbeats topic of the TARGET cluster every interval
// (emit.heartbeats.interval.seconds, default 1 s), always to partition 0 as MM2 does. Before
// the first heartbeat it creates the topic if it is missing: one partition,
// cleanup.policy=compact, heartbeats.topic.replication.factor replicas (MM2's default 3),
// exactly as MM2's MirrorUtils.createSinglePartitionCompactedTopic. The heartbeats topic is then
// replicated onwards by MirrorSource like any topic, so its remote copies (`<alias>.heartbeats`)
// reveal the replication topology and its end-to-end latency.
//
// Differences from MM2, on purpose: the first heartbeat is written as soon as the topic exists
// (MM2 waits one interval), and a heartbeat is skipped, not queued, while the previous one is
// still unacknowledged, so an unreachable target never accumulates stale heartbeats.
package heartbeat
