// Package mm2 owns MirrorMaker 2's vocabulary for Fjord's replication engine: the connector
// configuration keys (parsed into a validated [Config]), the replication policies that name
// remote and internal topics ([DefaultReplicationPolicy], [IdentityReplicationPolicy]) and the
// include/exclude regex [Filter]s for topics and consumer groups.
//
// Everything here follows Apache Kafka's org.apache.kafka.connect.mirror classes so that a
// configuration written for MirrorMaker 2 (or for MSK Connect running MirrorMaker 2) means the
// same thing on Fjord, and so that MM2 tooling recognises the topics Fjord writes. Where Fjord
// deliberately differs (a shorter topic refresh interval, read_committed source fetches, always
// acks=all) the key's documentation in [SupportedKeys] says so.
//
// The package has no I/O; it may be imported by every task of the engine (source, checkpoint,
// heartbeat) and by the code that generates Fjord's API documentation.
package mm2
