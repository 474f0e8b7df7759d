package mm2

import "strings"

// ReplicationPolicy decides how topics are named across clusters, as MirrorMaker 2's
// org.apache.kafka.connect.mirror.ReplicationPolicy does. Where Java returns null, the Go
// methods return "".
type ReplicationPolicy interface {
	// FormatRemoteTopic is the name on the target of topic replicated from sourceAlias.
	FormatRemoteTopic(sourceAlias, topic string) string
	// TopicSource is the alias of the cluster a remote topic came from, or "" when topic is
	// not a remote topic.
	TopicSource(topic string) string
	// UpstreamTopic is the name of topic one hop upstream, or "" when topic is not remote.
	UpstreamTopic(topic string) string
	// OriginalTopic is the name of the topic where it was first produced, following every
	// hop; topic itself when it is not remote.
	OriginalTopic(topic string) string
	// IsInternalTopic reports topics that are never replicated: Kafka's own (`__*`, `.*`),
	// Connect's and MM2's (`*.internal`, `*-internal`).
	IsInternalTopic(topic string) bool
	// HeartbeatsTopic is the name of the topic MirrorHeartbeatConnector writes: "heartbeats".
	HeartbeatsTopic() string
	// OffsetSyncsTopic is MM2's offset-syncs topic for the given (target) cluster alias:
	// `mm2-offset-syncs.<alias>.internal`.
	OffsetSyncsTopic(clusterAlias string) string
	// CheckpointsTopic is MM2's checkpoints topic for the given (source) cluster alias:
	// `<alias>.checkpoints.internal`.
	CheckpointsTopic(clusterAlias string) string
}

// DefaultSeparator is MirrorMaker 2's default replication.policy.separator.
const DefaultSeparator = "."

// HeartbeatsTopic is the name of MirrorMaker 2's heartbeats topic.
const HeartbeatsTopic = "heartbeats"

// OffsetsTopic is the name of the compacted topic in the target cluster where Fjord, like a
// dedicated MirrorMaker 2 cluster (offset.storage.topic), keeps the progress of the
// connectors replicating from sourceAlias: `mm2-offsets.<sourceAlias>.internal`.
func OffsetsTopic(sourceAlias string) string {
	return "mm2-offsets." + sourceAlias + ".internal"
}

// DefaultReplicationPolicy names remote topics `<source alias><separator><topic>`, as MM2's
// org.apache.kafka.connect.mirror.DefaultReplicationPolicy.
type DefaultReplicationPolicy struct {
	// Separator goes between the source alias and the topic name; "" means ".".
	Separator string
	// PlainInternalSeparator, when true, makes internal topic names use "." whatever the
	// Separator (MM2's replication.policy.internal.topic.separator.enabled=false).
	PlainInternalSeparator bool
}

func (p DefaultReplicationPolicy) sep() string {
	if p.Separator == "" {
		return DefaultSeparator
	}
	return p.Separator
}

func (p DefaultReplicationPolicy) internalSep() string {
	if p.PlainInternalSeparator {
		return "."
	}
	return p.sep()
}

func (p DefaultReplicationPolicy) internalSuffix() string { return p.internalSep() + "internal" }

func (p DefaultReplicationPolicy) checkpointsSuffix() string {
	return p.internalSep() + "checkpoints" + p.internalSuffix()
}

// FormatRemoteTopic implements [ReplicationPolicy].
func (p DefaultReplicationPolicy) FormatRemoteTopic(sourceAlias, topic string) string {
	return sourceAlias + p.sep() + topic
}

// TopicSource implements [ReplicationPolicy]: the text before the first separator, with
// Java's String.split semantics (trailing empty parts dropped, so "a." is not remote).
func (p DefaultReplicationPolicy) TopicSource(topic string) string {
	src, _ := p.topicSource(topic)
	return src
}

// topicSource is Java's topicSource with null as ok=false: ".x" has the source "" (ok).
func (p DefaultReplicationPolicy) topicSource(topic string) (string, bool) {
	parts := strings.Split(topic, p.sep())
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) < 2 {
		return "", false
	}
	return parts[0], true
}

// UpstreamTopic implements [ReplicationPolicy].
func (p DefaultReplicationPolicy) UpstreamTopic(topic string) string {
	src, ok := p.topicSource(topic)
	if !ok {
		return ""
	}
	return topic[len(src)+len(p.sep()):]
}

// OriginalTopic implements [ReplicationPolicy].
func (p DefaultReplicationPolicy) OriginalTopic(topic string) string {
	return originalTopic(p, topic)
}

// IsInternalTopic implements [ReplicationPolicy].
func (p DefaultReplicationPolicy) IsInternalTopic(topic string) bool {
	return strings.HasSuffix(topic, p.internalSuffix()) || isKafkaOrConnectInternal(topic)
}

// HeartbeatsTopic implements [ReplicationPolicy].
func (p DefaultReplicationPolicy) HeartbeatsTopic() string { return HeartbeatsTopic }

// OffsetSyncsTopic implements [ReplicationPolicy].
func (p DefaultReplicationPolicy) OffsetSyncsTopic(clusterAlias string) string {
	return "mm2-offset-syncs" + p.internalSep() + clusterAlias + p.internalSuffix()
}

// CheckpointsTopic implements [ReplicationPolicy].
func (p DefaultReplicationPolicy) CheckpointsTopic(clusterAlias string) string {
	return clusterAlias + p.checkpointsSuffix()
}

// IsCheckpointsTopic reports whether topic is some cluster's checkpoints topic.
func (p DefaultReplicationPolicy) IsCheckpointsTopic(topic string) bool {
	return strings.HasSuffix(topic, p.checkpointsSuffix())
}

// IdentityReplicationPolicy keeps topic names unchanged on the target, as MM2's
// org.apache.kafka.connect.mirror.IdentityReplicationPolicy; only heartbeats topics are
// renamed as [DefaultReplicationPolicy] does. It cannot tell remote topics from local ones by
// name, so cycle prevention needs more than the name (see Fjord's provenance header).
type IdentityReplicationPolicy struct {
	// SourceAlias is what TopicSource answers for every non-heartbeats topic; "" for none.
	SourceAlias string
	// Separator and PlainInternalSeparator apply to heartbeats and internal topics.
	Separator              string
	PlainInternalSeparator bool
}

func (p IdentityReplicationPolicy) def() DefaultReplicationPolicy {
	return DefaultReplicationPolicy{Separator: p.Separator, PlainInternalSeparator: p.PlainInternalSeparator}
}

func looksLikeHeartbeat(topic string) bool { return strings.HasSuffix(topic, HeartbeatsTopic) }

// FormatRemoteTopic implements [ReplicationPolicy].
func (p IdentityReplicationPolicy) FormatRemoteTopic(sourceAlias, topic string) string {
	if looksLikeHeartbeat(topic) {
		return p.def().FormatRemoteTopic(sourceAlias, topic)
	}
	return topic
}

// TopicSource implements [ReplicationPolicy].
func (p IdentityReplicationPolicy) TopicSource(topic string) string {
	if looksLikeHeartbeat(topic) {
		return p.def().TopicSource(topic)
	}
	return p.SourceAlias
}

// UpstreamTopic implements [ReplicationPolicy].
func (p IdentityReplicationPolicy) UpstreamTopic(topic string) string {
	if looksLikeHeartbeat(topic) {
		return p.def().UpstreamTopic(topic)
	}
	return topic
}

// OriginalTopic implements [ReplicationPolicy].
func (p IdentityReplicationPolicy) OriginalTopic(topic string) string {
	return originalTopic(p, topic)
}

// IsInternalTopic implements [ReplicationPolicy].
func (p IdentityReplicationPolicy) IsInternalTopic(topic string) bool {
	return p.def().IsInternalTopic(topic)
}

// HeartbeatsTopic implements [ReplicationPolicy].
func (p IdentityReplicationPolicy) HeartbeatsTopic() string { return HeartbeatsTopic }

// OffsetSyncsTopic implements [ReplicationPolicy].
func (p IdentityReplicationPolicy) OffsetSyncsTopic(clusterAlias string) string {
	return p.def().OffsetSyncsTopic(clusterAlias)
}

// CheckpointsTopic implements [ReplicationPolicy].
func (p IdentityReplicationPolicy) CheckpointsTopic(clusterAlias string) string {
	return p.def().CheckpointsTopic(clusterAlias)
}

// originalTopic follows upstream hops until the topic is not remote, as MM2's default
// ReplicationPolicy.originalTopic (which also stops when a hop does not change the name, the
// IdentityReplicationPolicy case).
func originalTopic(p ReplicationPolicy, topic string) string {
	for i := 0; i < 1000; i++ { // bounded: a pathological policy must not loop forever
		up := p.UpstreamTopic(topic)
		if up == "" || up == topic {
			return topic
		}
		topic = up
	}
	return topic
}

func isKafkaOrConnectInternal(topic string) bool {
	return strings.HasPrefix(topic, "__") || strings.HasPrefix(topic, ".") ||
		strings.HasSuffix(topic, ".internal") || strings.HasSuffix(topic, "-internal")
}

// IsHeartbeatsTopic reports whether topic is a heartbeats topic, local or replicated from
// any number of hops (MM2's ReplicationPolicy.isHeartbeatsTopic). MirrorSourceConnector
// replicates these even when the topic filter would not.
func IsHeartbeatsTopic(p ReplicationPolicy, topic string) bool {
	return p.OriginalTopic(topic) == p.HeartbeatsTopic()
}

// IsCycle reports whether replicating topic to the cluster targetAlias would bring records
// back to where they came from (MM2's MirrorSourceConnector.isCycle).
func IsCycle(p ReplicationPolicy, targetAlias, topic string) bool {
	for i := 0; i < 1000; i++ {
		src := p.TopicSource(topic)
		if src == "" {
			return false
		}
		if src == targetAlias {
			return true
		}
		up := p.UpstreamTopic(topic)
		if up == "" || up == topic {
			return false
		}
		topic = up
	}
	return false
}
