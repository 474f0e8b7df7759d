package mm2

// Key documents one configuration key Fjord understands. Fjord's API reference
// (api-docs/) is generated from [SupportedKeys].
type Key struct {
	// Name is the key as written in a connector configuration. A name ending in ".*" stands
	// for a prefix (client overrides).
	Name string
	// Default is the value used when the key is absent, as written in a configuration.
	Default string
	// Doc is one line saying what the key does in Fjord, and how that differs from MM2.
	Doc string
}

// SupportedKeys lists every MirrorMaker 2 key [ParseConfig] interprets or deliberately accepts,
// in documentation order.
var SupportedKeys = []Key{
	{"connector.class", "", "MirrorSourceConnector, MirrorCheckpointConnector or MirrorHeartbeatConnector (org.apache.kafka.connect.mirror.*)."},
	{"source.cluster.alias", "source", "Name of the source cluster; prefixes remote topic names and names internal topics."},
	{"target.cluster.alias", "target", "Name of the target cluster; names the offset-syncs topic and detects replication cycles."},
	{"source.cluster.bootstrap.servers", "(required)", "Comma-separated host:port list of the source cluster."},
	{"target.cluster.bootstrap.servers", "(required)", "Comma-separated host:port list of the target cluster."},
	{"topics", DefaultTopicsInclude, "Comma-separated regexes (full match, RE2 syntax) of source topics to replicate."},
	{"topics.exclude", DefaultTopicsExclude, "Comma-separated regexes of topics never replicated; topics.blacklist is accepted as an old name."},
	{"groups", DefaultGroupsInclude, "Comma-separated regexes of consumer groups whose offsets are checkpointed."},
	{"groups.exclude", DefaultGroupsExclude, "Comma-separated regexes of groups never checkpointed; groups.blacklist is accepted as an old name."},
	{"topic.filter.class", "org.apache.kafka.connect.mirror.DefaultTopicFilter", "Only the default filter is supported."},
	{"group.filter.class", "org.apache.kafka.connect.mirror.DefaultGroupFilter", "Only the default filter is supported."},
	{"config.property.filter.class", "org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter", "Only the default filter is supported."},
	{"config.properties.exclude", DefaultConfigPropertiesExclude, "Topic configuration properties never copied to the target."},
	{"replication.policy.class", DefaultPolicyClass, "DefaultReplicationPolicy (<alias><separator><topic>) or IdentityReplicationPolicy (same names); full or short class name."},
	{"replication.policy.separator", DefaultSeparator, "Separator between the source alias and the topic in remote topic names."},
	{"replication.policy.internal.topic.separator.enabled", "true", "When false, internal topic names use '.' whatever the separator."},
	{"refresh.topics.enabled", "true", "Look for new source topics and partitions periodically."},
	{"refresh.topics.interval.seconds", "5", "How often new topics and partitions are looked for. Fjord's default is 5 s (MM2: 600 s) so new topics replicate within seconds; a negative value disables."},
	{"refresh.groups.enabled", "true", "Look for new consumer groups periodically."},
	{"refresh.groups.interval.seconds", "5", "How often new consumer groups are looked for. Fjord's default is 5 s (MM2: 600 s)."},
	{"sync.topic.configs.enabled", "true", "Copy topic configurations (minus config.properties.exclude) to the target."},
	{"sync.topic.configs.interval.seconds", "5", "How often topic configurations are copied. Fjord's default is 5 s (MM2: 600 s)."},
	{"sync.topic.acls.enabled", "true", "Copy literal topic ACLs to the target (WRITE only as DENY, as MM2)."},
	{"sync.topic.acls.interval.seconds", "5", "How often ACLs are copied. Fjord's default is 5 s (MM2: 600 s)."},
	{"emit.heartbeats.enabled", "true", "MirrorHeartbeatConnector writes heartbeats to the target's heartbeats topic."},
	{"emit.heartbeats.interval.seconds", "1", "Interval between heartbeats."},
	{"emit.checkpoints.enabled", "true", "MirrorCheckpointConnector writes translated group offsets to <source>.checkpoints.internal."},
	{"emit.checkpoints.interval.seconds", "60", "Interval between checkpoints."},
	{"sync.group.offsets.enabled", "false", "Write translated offsets to target consumer groups that have no active member."},
	{"sync.group.offsets.interval.seconds", "60", "Interval between group offset syncs."},
	{"emit.offset-syncs.enabled", "true", "MirrorSourceConnector writes offset syncs (needed for checkpoints)."},
	{"offset-syncs.topic.location", "source", "Cluster holding mm2-offset-syncs.<target>.internal: source or target."},
	{"offset-syncs.topic.replication.factor", "3", "Replication factor of the internal topics Fjord creates; capped at the number of brokers."},
	{"heartbeats.topic.replication.factor", "3", "Accepted; Fjord uses min(value, brokers)."},
	{"checkpoints.topic.replication.factor", "3", "Accepted; Fjord uses min(value, brokers)."},
	{"offset.lag.max", "100", "An offset sync is written at least every this many records of a partition (and whenever the offset delta changes, which makes translation exact)."},
	{"tasks.max", "1", "Upper bound on the number of tasks; partitions are spread over tasks by a stable hash."},
	{"replication.factor", "min(3, brokers)", "Replication factor of created target topics; -1 for the broker default. MM2's default is 2."},
	{"exactly.once.support", "disabled", "requested or required: records and progress are written in one Kafka transaction on the target; disabled: at-least-once."},
	{"consumer.auto.offset.reset", "earliest", "Where partitions without recorded progress start: earliest or latest. Topics and partitions that appear after the task started always start at earliest, so nothing produced to them is skipped."},
	{"consumer.isolation.level", "read_committed", "Fjord reads the source read_committed so aborted transactions are not copied (MM2 inherits read_uncommitted)."},
	{"consumer.max.poll.records", "(unbounded)", "Most records handled per poll."},
	{"consumer.fetch.max.bytes", "50 MiB", "franz-go FetchMaxBytes."},
	{"consumer.max.partition.fetch.bytes", "1 MiB", "franz-go FetchMaxPartitionBytes."},
	{"consumer.fetch.min.bytes", "1", "franz-go FetchMinBytes."},
	{"consumer.fetch.max.wait.ms", "500", "How long the source broker may hold a fetch without data (Java's default; franz-go's own is 5 s)."},
	{"consumer.client.id", "kgo", "Client id of the source consumer."},
	{"producer.compression.type", "snappy", "Codec of batches written to the target: none, gzip, snappy, lz4, zstd (franz-go's default is snappy; Java's is none)."},
	{"producer.linger.ms", "10", "How long a partition's batch waits for more records (franz-go default 10 ms)."},
	{"producer.batch.size", "1 MiB", "With max.request.size, sets franz-go's ProducerBatchMaxBytes (the larger of the two), which also bounds the largest record."},
	{"producer.max.request.size", "1 MiB", "See producer.batch.size."},
	{"producer.buffer.memory", "(unbounded)", "franz-go MaxBufferedBytes."},
	{"producer.request.timeout.ms", "", "franz-go ProduceRequestTimeout."},
	{"producer.client.id", "kgo", "Client id of the target producer."},
	{"producer.acks", "all", "Only all (-1) is accepted."},
	{"producer.enable.idempotence", "true", "Only true is accepted."},
	{"producer.retries, producer.delivery.timeout.ms, producer.max.in.flight.requests.per.connection", "", "Accepted, no effect: Fjord retries until the target acknowledges, or the task fails and resumes from its progress."},
	{"source.consumer.*, consumer.override.*", "", "Synonyms of consumer.* (first wins: source.consumer., consumer.override., consumer.)."},
	{"target.producer.*, producer.override.*", "", "Synonyms of producer.* (first wins: target.producer., producer.override., producer.)."},
	{"name, key.converter, value.converter, header.converter, clusters, admin.timeout.ms, consumer.poll.timeout.ms, offset.flush.interval.ms, errors.*, transaction.boundary", "", "Accepted and ignored: Fjord copies bytes as ByteArrayConverter does and flushes progress every second."},
	{"source.cluster.security.protocol, target.cluster.security.protocol, security.protocol", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. For this and every security key below, the source.cluster. / target.cluster. key applies to every client of that cluster and wins over the unprefixed key, which applies to both."},
	{"source.cluster.sasl.mechanism, target.cluster.sasl.mechanism, sasl.mechanism", "", "SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN; required with SASL_PLAINTEXT and SASL_SSL (Kafka's default GSSAPI, OAUTHBEARER and AWS_MSK_IAM are refused)."},
	{"source.cluster.sasl.jaas.config, target.cluster.sasl.jaas.config, sasl.jaas.config", "", `One login module with its credentials: org.apache.kafka.common.security.scram.ScramLoginModule required username="…" password="…"; (PlainLoginModule for PLAIN). Sensitive: never logged nor echoed in errors.`},
	{"source.cluster.ssl.truststore.type, target.cluster.ssl.truststore.type, ssl.truststore.type", "PEM", "Only PEM is read (JKS and PKCS12 are refused when a truststore is given)."},
	{"source.cluster.ssl.truststore.certificates, target.cluster.ssl.truststore.certificates, ssl.truststore.certificates", "(system roots)", "PEM text of the CA certificates that verify the brokers (SSL, SASL_SSL); a replicator's encryptionInTransit.rootCaCertificate maps here."},
	{"source.cluster.ssl.truststore.location, target.cluster.ssl.truststore.location, ssl.truststore.location", "(system roots)", "A PEM file on the worker's host, read when the task starts; ssl.truststore.certificates wins."},
	{"source.cluster.ssl.endpoint.identification.algorithm, target.cluster.ssl.endpoint.identification.algorithm, ssl.endpoint.identification.algorithm", "https", "https checks the broker's host name (or IP) against its certificate; empty skips that check but still verifies the certificate chain."},
	{"ssl.keystore.location, ssl.keystore.certificate.chain, ssl.keystore.key (and their source.cluster. / target.cluster. forms)", "", "Refused with SSL and SASL_SSL: client certificates (mutual TLS) are not supported yet. ssl.keystore.type and the ssl.*.password keys are accepted and ignored."},
	{"(any other key)", "", "Kept verbatim and otherwise ignored, as MM2 does (per-client security overrides such as source.consumer.security.protocol included: use the cluster keys above)."},
}
