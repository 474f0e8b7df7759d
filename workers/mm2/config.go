package mm2

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/connect/convert"
)

// Connector classes of MirrorMaker 2 that Fjord runs natively.
const (
	SourceConnectorClass     = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
	CheckpointConnectorClass = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
	HeartbeatConnectorClass  = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"
)

// Replication policy classes accepted in replication.policy.class (the short names
// "DefaultReplicationPolicy" and "IdentityReplicationPolicy" are accepted too).
const (
	DefaultPolicyClass  = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
	IdentityPolicyClass = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
)

// Location says which cluster holds the offset-syncs topic.
type Location string

// Locations of offset-syncs.topic.location.
const (
	LocationSource Location = "source"
	LocationTarget Location = "target"
)

// SyncMode is the consumer group offset sync mode of a replicator.
type SyncMode string

// Consumer group offset sync modes (fjord.consumer.group.offset.sync.mode).
const (
	SyncModeLegacy   SyncMode = "LEGACY"
	SyncModeEnhanced SyncMode = "ENHANCED"
)

// StartPosition is where a partition without recorded progress starts.
type StartPosition string

// Starting positions (consumer.auto.offset.reset; a replicator's startingPosition).
const (
	StartEarliest StartPosition = "earliest"
	StartLatest   StartPosition = "latest"
)

// Config is a validated MirrorMaker 2 connector configuration. Build it with [ParseConfig],
// which fills every default; the field docs name the key each field comes from.
type Config struct {
	// ConnectorClass is connector.class ("" when absent: the caller knows what it runs).
	ConnectorClass string

	// SourceAlias is source.cluster.alias; default "source".
	SourceAlias string
	// TargetAlias is target.cluster.alias; default "target".
	TargetAlias string
	// SourceBootstrap is source.cluster.bootstrap.servers, split on commas; required.
	SourceBootstrap []string
	// TargetBootstrap is target.cluster.bootstrap.servers, split on commas; required.
	TargetBootstrap []string

	// Topics selects the source topics to replicate (topics, topics.exclude).
	Topics Filter
	// Groups selects the consumer groups whose offsets are checkpointed (groups,
	// groups.exclude).
	Groups Filter
	// ConfigProperties selects the topic configuration properties that are copied to the
	// target: all but config.properties.exclude.
	ConfigProperties Filter

	// Policy names remote and internal topics (replication.policy.class,
	// replication.policy.separator, replication.policy.internal.topic.separator.enabled).
	Policy ReplicationPolicy

	// RefreshTopicsInterval is how often new source topics and partitions are looked for
	// (refresh.topics.interval.seconds); 0 when refresh.topics.enabled=false. Default 5s.
	RefreshTopicsInterval time.Duration
	// RefreshGroupsInterval is how often new consumer groups are looked for
	// (refresh.groups.interval.seconds); 0 when disabled. Default 5s.
	RefreshGroupsInterval time.Duration

	// SyncTopicConfigs copies topic configurations to the target (sync.topic.configs.enabled,
	// default true) every SyncTopicConfigsInterval (default 5s).
	SyncTopicConfigs         bool
	SyncTopicConfigsInterval time.Duration
	// SyncTopicACLs copies literal topic ACLs to the target (sync.topic.acls.enabled,
	// default true) every SyncTopicACLsInterval (default 5s).
	SyncTopicACLs         bool
	SyncTopicACLsInterval time.Duration

	// EmitHeartbeats enables MirrorHeartbeatConnector's heartbeats (emit.heartbeats.enabled,
	// default true) every EmitHeartbeatsInterval (default 1s).
	EmitHeartbeats         bool
	EmitHeartbeatsInterval time.Duration
	// EmitCheckpoints enables checkpoints (emit.checkpoints.enabled, default true) every
	// EmitCheckpointsInterval (default 60s, MM2's).
	EmitCheckpoints         bool
	EmitCheckpointsInterval time.Duration
	// SyncGroupOffsets writes translated offsets to idle target groups
	// (sync.group.offsets.enabled, default false) every SyncGroupOffsetsInterval (default 60s).
	SyncGroupOffsets         bool
	SyncGroupOffsetsInterval time.Duration

	// EmitOffsetSyncs enables offset-sync records (emit.offset-syncs.enabled, default true).
	EmitOffsetSyncs bool
	// OffsetSyncsLocation is offset-syncs.topic.location; default source.
	OffsetSyncsLocation Location
	// OffsetSyncMode is fjord.consumer.group.offset.sync.mode (MSK Replicator's
	// consumerGroupOffsetSyncMode): SyncModeLegacy (the default) or SyncModeEnhanced, which
	// makes MirrorSource tag its offset syncs with their kind and the checkpoint task
	// translate through the history of the replicator in the opposite direction too, so that
	// groups fail back in an active-active pair (workers/checkpoint/doc.go).
	OffsetSyncMode SyncMode
	// SourceConnector and PeerConnector are fjord.source.connector and fjord.peer.connector:
	// the MirrorSource connectors whose progress vouches for the checkpoint task's
	// translations (its own direction, and the opposite one in ENHANCED mode); "" accepts any.
	SourceConnector, PeerConnector string
	// OffsetLagMax is offset.lag.max: an offset sync is emitted at least every this many
	// records of a partition; default 100.
	OffsetLagMax int64

	// TasksMax is tasks.max; default 1.
	TasksMax int
	// ReplicationFactor is replication.factor for the target topics Fjord creates; 0 (the
	// default) means min(3, number of target brokers); -1 means the broker's default.
	ReplicationFactor int
	// InternalReplicationFactor is the replication factor of the internal topics Fjord
	// creates (offset-syncs, checkpoints, heartbeats, progress), from
	// offset-syncs.topic.replication.factor; 0 (the default) means min(3, brokers).
	InternalReplicationFactor int

	// Transactional is true when exactly.once.support is requested or required: records and
	// progress are written in one Kafka transaction. Default false (Connect's default worker
	// has exactly-once source support disabled).
	Transactional bool
	// ExactlyOnceRequired is true for exactly.once.support=required.
	ExactlyOnceRequired bool

	// StartingPosition is where partitions without recorded progress start
	// (consumer.auto.offset.reset); default earliest, as MM2.
	StartingPosition StartPosition
	// ReadCommitted makes the source consumer skip aborted transactional records
	// (consumer.isolation.level); default true in Fjord (MM2 inherits read_uncommitted).
	ReadCommitted bool
	// MaxPollRecords bounds records handled per poll (consumer.max.poll.records); 0 = no bound.
	MaxPollRecords int

	// SourceSecurity and TargetSecurity are how the clients of each cluster connect
	// (security.protocol, sasl.*, ssl.* under source.cluster. / target.cluster., or
	// unprefixed for both); every client of a cluster uses them — see SourceSecurityOpts.
	SourceSecurity ClientSecurity
	TargetSecurity ClientSecurity

	// Consumer and Producer hold the franz-go settings that consumer.* / producer.* keys
	// map to; zero values leave franz-go's defaults.
	Consumer ClientSettings
	Producer ClientSettings

	// Connect is the Kafka Connect cluster the connector runs in (fjord.connect.*, added by the
	// server from the connector's kafkaCluster); nil for replicators and bare configurations.
	Connect *ConnectCluster
	// Progress is where the MirrorSource connector named by fjord.source.connector records its
	// progress (fjord.progress.*, added by the server for checkpoint tasks); nil means
	// mm2-offsets.<source alias>.internal on the target cluster.
	Progress *ProgressLocation

	// KeyConverter, ValueConverter and HeaderConverter are key.converter, value.converter and
	// header.converter with their options (value.converter.schemas.enable, …): MirrorSource
	// writes each copied record's key, value and headers (optional bytes, as MM2's records
	// are in Connect) through them. nil copies the bytes as they are, which is what Fjord does
	// when no converter is configured (see SupportedKeys).
	KeyConverter, ValueConverter convert.Converter
	HeaderConverter              convert.HeaderConverter
	// KeyConverterClass, ValueConverterClass and HeaderConverterClass name them ("" none).
	KeyConverterClass, ValueConverterClass, HeaderConverterClass string

	// OffsetFlushInterval is offset.flush.interval.ms: how often an at-least-once
	// MirrorSource task records its progress; 0 keeps the engine's default (1 s).
	OffsetFlushInterval time.Duration

	// Extra keeps every key Fjord does not interpret, verbatim. MM2 ignores unknown keys, and
	// so does Fjord; they are kept for display. Security keys are never in Extra.
	Extra map[string]string
}

// ClientSettings are the client knobs Fjord maps from consumer.* and producer.* overrides.
// Zero means "franz-go's default" for every field.
type ClientSettings struct {
	ClientID string
	// Consumer side.
	FetchMaxBytes          int32
	FetchMaxPartitionBytes int32
	FetchMinBytes          int32
	FetchMaxWait           time.Duration
	// Producer side. Compression is a preference list of codecs ("none", "gzip", "snappy",
	// "lz4", "zstd"); empty keeps franz-go's default (snappy, falling back to none).
	Compression      []string
	Linger           time.Duration
	LingerSet        bool
	BatchMaxBytes    int32
	MaxBufferedBytes int
	RequestTimeout   time.Duration
}

// ConsumerOpts are the franz-go options the consumer.* keys map to (not including seed
// brokers, starting offsets or security).
func (c Config) ConsumerOpts() []kgo.Opt {
	var opts []kgo.Opt
	s := c.Consumer
	if s.ClientID != "" {
		opts = append(opts, kgo.ClientID(s.ClientID))
	}
	if s.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(s.FetchMaxBytes))
	}
	if s.FetchMaxPartitionBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(s.FetchMaxPartitionBytes))
	}
	if s.FetchMinBytes > 0 {
		opts = append(opts, kgo.FetchMinBytes(s.FetchMinBytes))
	}
	if s.FetchMaxWait > 0 {
		opts = append(opts, kgo.FetchMaxWait(s.FetchMaxWait))
	}
	if c.ReadCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	return opts
}

// ProducerOpts are the franz-go options the producer.* keys map to, always with acks=all
// (and franz-go's idempotent producer, which is its default).
func (c Config) ProducerOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}
	s := c.Producer
	if s.ClientID != "" {
		opts = append(opts, kgo.ClientID(s.ClientID))
	}
	if len(s.Compression) > 0 {
		codecs := make([]kgo.CompressionCodec, 0, len(s.Compression))
		for _, name := range s.Compression {
			codecs = append(codecs, compressionCodecs[name])
		}
		opts = append(opts, kgo.ProducerBatchCompression(codecs...))
	}
	if s.LingerSet {
		opts = append(opts, kgo.ProducerLinger(s.Linger))
	}
	if s.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(s.BatchMaxBytes))
	}
	if s.MaxBufferedBytes > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(s.MaxBufferedBytes))
	}
	if s.RequestTimeout > 0 {
		opts = append(opts, kgo.ProduceRequestTimeout(s.RequestTimeout))
	}
	return opts
}

var compressionCodecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// ConfigError is one problem with one configuration key. ParseConfig returns all problems
// at once, joined with errors.Join; use errors.As to get the first.
type ConfigError struct {
	Key     string
	Problem string
}

func (e *ConfigError) Error() string { return e.Key + ": " + e.Problem }

// Prefixes under which client overrides are accepted. MM2 reads consumer settings from
// consumer.* and source.consumer.*; a connector running in Connect sets its producer through
// producer.override.*; a dedicated MM2 cluster through producer.* or target.producer.*.
var (
	consumerPrefixes = []string{"source.consumer.", "consumer.override.", "consumer."}
	producerPrefixes = []string{"target.producer.", "producer.override.", "producer."}
)

// ParseConfig validates a MirrorMaker 2 connector configuration and fills every default.
// Keys Fjord does not know are kept in Config.Extra and are not an error. Every problem is
// reported as a *ConfigError naming its key.
func ParseConfig(m map[string]string) (Config, error) {
	return parseConfig(&parser{m: m, used: map[string]bool{}})
}

// Validate returns the problems ParseConfig would find in m, sorted by key, without reading
// any file the configuration names (ssl.truststore.location is read where the task runs).
func Validate(m map[string]string) []*ConfigError {
	_, err := parseConfig(&parser{m: m, used: map[string]bool{}, noFiles: true})
	var out []*ConfigError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if ce, ok := e.(*ConfigError); ok {
				out = append(out, ce)
			}
		}
	}
	return out
}

func parseConfig(p *parser) (Config, error) {
	m := p.m
	c := Config{Extra: map[string]string{}}

	c.ConnectorClass = p.str("connector.class", "")
	c.SourceAlias = p.str("source.cluster.alias", "source")
	c.TargetAlias = p.str("target.cluster.alias", "target")
	if c.SourceAlias == "" {
		p.fail("source.cluster.alias", "must not be empty")
	}
	if c.TargetAlias == "" {
		p.fail("target.cluster.alias", "must not be empty")
	}
	if c.SourceAlias != "" && c.SourceAlias == c.TargetAlias {
		p.fail("target.cluster.alias", fmt.Sprintf("must differ from source.cluster.alias (both are %q)", c.SourceAlias))
	}
	c.SourceBootstrap = p.servers("source.cluster.bootstrap.servers")
	c.TargetBootstrap = p.servers("target.cluster.bootstrap.servers")

	c.Topics = p.filter("topics", DefaultTopicsInclude, "topics.exclude", "topics.blacklist", DefaultTopicsExclude)
	c.Groups = p.filter("groups", DefaultGroupsInclude, "groups.exclude", "groups.blacklist", DefaultGroupsExclude)
	c.ConfigProperties = p.filter("", "", "config.properties.exclude", "config.properties.blacklist", DefaultConfigPropertiesExclude)
	p.onlyClass("topic.filter.class", "org.apache.kafka.connect.mirror.DefaultTopicFilter", "DefaultTopicFilter")
	p.onlyClass("group.filter.class", "org.apache.kafka.connect.mirror.DefaultGroupFilter", "DefaultGroupFilter")
	p.onlyClass("config.property.filter.class", "org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter", "DefaultConfigPropertyFilter")

	sep := p.str("replication.policy.separator", DefaultSeparator)
	if sep == "" {
		p.fail("replication.policy.separator", "must not be empty")
		sep = DefaultSeparator
	}
	plainInternal := !p.boolean("replication.policy.internal.topic.separator.enabled", true)
	switch class := p.str("replication.policy.class", DefaultPolicyClass); class {
	case DefaultPolicyClass, "DefaultReplicationPolicy":
		c.Policy = DefaultReplicationPolicy{Separator: sep, PlainInternalSeparator: plainInternal}
	case IdentityPolicyClass, "IdentityReplicationPolicy":
		c.Policy = IdentityReplicationPolicy{SourceAlias: c.SourceAlias, Separator: sep, PlainInternalSeparator: plainInternal}
	default:
		p.fail("replication.policy.class", fmt.Sprintf("%q is not supported; use %s or %s", class, DefaultPolicyClass, IdentityPolicyClass))
		c.Policy = DefaultReplicationPolicy{Separator: sep}
	}

	c.RefreshTopicsInterval = p.interval("refresh.topics.enabled", "refresh.topics.interval.seconds", 5*time.Second)
	c.RefreshGroupsInterval = p.interval("refresh.groups.enabled", "refresh.groups.interval.seconds", 5*time.Second)
	c.SyncTopicConfigsInterval = p.interval("sync.topic.configs.enabled", "sync.topic.configs.interval.seconds", 5*time.Second)
	c.SyncTopicConfigs = c.SyncTopicConfigsInterval > 0
	c.SyncTopicACLsInterval = p.interval("sync.topic.acls.enabled", "sync.topic.acls.interval.seconds", 5*time.Second)
	c.SyncTopicACLs = c.SyncTopicACLsInterval > 0
	c.EmitHeartbeatsInterval = p.interval("emit.heartbeats.enabled", "emit.heartbeats.interval.seconds", time.Second)
	c.EmitHeartbeats = c.EmitHeartbeatsInterval > 0
	c.EmitCheckpointsInterval = p.interval("emit.checkpoints.enabled", "emit.checkpoints.interval.seconds", 60*time.Second)
	c.EmitCheckpoints = c.EmitCheckpointsInterval > 0
	c.SyncGroupOffsets = p.boolean("sync.group.offsets.enabled", false)
	c.SyncGroupOffsetsInterval = p.seconds("sync.group.offsets.interval.seconds", 60*time.Second)
	if !c.SyncGroupOffsets {
		c.SyncGroupOffsetsInterval = 0
	}

	c.EmitOffsetSyncs = p.boolean("emit.offset-syncs.enabled", true)
	switch loc := strings.ToLower(p.str("offset-syncs.topic.location", string(LocationSource))); loc {
	case string(LocationSource), string(LocationTarget):
		c.OffsetSyncsLocation = Location(loc)
	default:
		p.fail("offset-syncs.topic.location", fmt.Sprintf("%q is not source or target", loc))
	}
	c.OffsetLagMax = p.int64("offset.lag.max", 100, 1)
	switch mode := strings.ToUpper(p.str("fjord.consumer.group.offset.sync.mode", "")); mode {
	case "", string(SyncModeLegacy):
		c.OffsetSyncMode = SyncModeLegacy
	case string(SyncModeEnhanced):
		c.OffsetSyncMode = SyncModeEnhanced
	default:
		p.fail("fjord.consumer.group.offset.sync.mode", fmt.Sprintf("%q is not LEGACY or ENHANCED", mode))
	}

	c.SourceConnector = p.str("fjord.source.connector", "")
	c.PeerConnector = p.str("fjord.peer.connector", "")

	c.TasksMax = int(p.int64("tasks.max", 1, 1))
	c.ReplicationFactor = int(p.int64("replication.factor", 0, -1))
	c.InternalReplicationFactor = int(p.int64("offset-syncs.topic.replication.factor", 0, -1))
	for _, k := range []string{"heartbeats.topic.replication.factor", "checkpoints.topic.replication.factor",
		"offset.storage.replication.factor", "config.storage.replication.factor", "status.storage.replication.factor"} {
		p.int64(k, 0, -1) // validated, then min(value, brokers) like the offset-syncs topic
	}

	switch eos := strings.ToLower(p.str("exactly.once.support", "disabled")); eos {
	case "disabled":
	case "requested":
		c.Transactional = true
	case "required":
		c.Transactional, c.ExactlyOnceRequired = true, true
	default:
		p.fail("exactly.once.support", fmt.Sprintf("%q is not requested, required or disabled", eos))
	}

	p.clients(&c)
	c.KeyConverterClass, c.KeyConverter = p.converter(convert.Key)
	c.ValueConverterClass, c.ValueConverter = p.converter(convert.Value)
	c.HeaderConverterClass, c.HeaderConverter = p.headerConverter()
	if n := p.int64("offset.flush.interval.ms", 0, 1); n > 0 {
		c.OffsetFlushInterval = time.Duration(n) * time.Millisecond
	}
	p.serviceRole()
	c.SourceSecurity = p.security(SourceClusterPrefix)
	c.TargetSecurity = p.security(TargetClusterPrefix)
	c.Connect = p.connect()
	c.Progress = p.progress()
	if c.Connect != nil && c.TargetSecurity.Protocol != ProtocolPlaintext && SameServers(c.Connect.Bootstrap, c.TargetBootstrap) {
		// The Connect cluster is the target: the target's own client settings (SASL, a
		// private CA) reach it, as a connector's producer.override.* would in Connect.
		c.Connect.Security = c.TargetSecurity
	}
	if c.Progress != nil && c.TargetSecurity.Protocol != ProtocolPlaintext && SameServers(c.Progress.Bootstrap, c.TargetBootstrap) {
		c.Progress.Security = c.TargetSecurity
	}

	// Keys accepted for compatibility that change nothing in Fjord.
	for _, k := range ignoredKeys {
		p.str(k, "")
	}
	for k, v := range m {
		if !p.used[k] {
			c.Extra[k] = v
		}
	}
	if len(p.errs) > 0 {
		sort.Slice(p.errs, func(i, j int) bool { return p.errs[i].(*ConfigError).Key < p.errs[j].(*ConfigError).Key })
		return Config{}, errors.Join(p.errs...)
	}
	return c, nil
}

// DefaultConfigPropertiesExclude is MM2's DefaultConfigPropertyFilter exclude list: topic
// properties that are never copied to the target.
const DefaultConfigPropertiesExclude = `follower\.replication\.throttled\.replicas, leader\.replication\.throttled\.replicas, message\.timestamp\.difference\.max\.ms, message\.timestamp\.type, unclean\.leader\.election\.enable, min\.insync\.replicas`

var ignoredKeys = []string{
	"name", "clusters",
	"admin.timeout.ms", "consumer.poll.timeout.ms", "heartbeats.topic.retention.ms",
	"checkpoints.topic.retention.ms", "offset.flush.timeout.ms",
	"errors.tolerance", "errors.log.enable", "errors.log.include.messages", "transaction.boundary",
	"offset.storage.topic", "metric.reporters", "config.action.reload",
}

type parser struct {
	m    map[string]string
	used map[string]bool
	errs []error
	// noFiles skips reading the files keys name (validation away from the task's host).
	noFiles bool
	// role is KeyServiceExecutionRole, once read (roleRead).
	role     string
	roleRead bool
}

func (p *parser) fail(key, problem string) {
	p.errs = append(p.errs, &ConfigError{Key: key, Problem: problem})
}

func (p *parser) lookup(key string) (string, bool) {
	v, ok := p.m[key]
	if ok {
		p.used[key] = true
	}
	return strings.TrimSpace(v), ok
}

func (p *parser) str(key, def string) string {
	if v, ok := p.lookup(key); ok {
		return v
	}
	return def
}

func (p *parser) servers(key string) []string {
	v, ok := p.lookup(key)
	list := SplitList(v)
	if !ok || len(list) == 0 {
		p.fail(key, "is required (comma-separated host:port list)")
	}
	return list
}

func (p *parser) boolean(key string, def bool) bool {
	v, ok := p.lookup(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(key, fmt.Sprintf("%q is not true or false", v))
	return def
}

func (p *parser) int64(key string, def, min int64) int64 {
	v, ok := p.lookup(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(key, fmt.Sprintf("%q is not an integer", v))
		return def
	}
	if n < min {
		p.fail(key, fmt.Sprintf("%d is below the minimum %d", n, min))
		return def
	}
	return n
}

func (p *parser) seconds(key string, def time.Duration) time.Duration {
	v, ok := p.lookup(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > 1<<31 {
		p.fail(key, fmt.Sprintf("%q is not a positive number of seconds", v))
		return def
	}
	return time.Duration(n) * time.Second
}

// interval reads an MM2 "<x>.enabled" / "<x>.interval.seconds" pair: 0 means disabled. As in
// MM2, a negative interval disables too.
func (p *parser) interval(enabledKey, secondsKey string, def time.Duration) time.Duration {
	enabled := p.boolean(enabledKey, true)
	v, ok := p.lookup(secondsKey)
	d := def
	if ok {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil || n > 1<<31:
			p.fail(secondsKey, fmt.Sprintf("%q is not a number of seconds", v))
		case n < 0:
			d = 0
		case n == 0:
			p.fail(secondsKey, "must be positive (or negative to disable)")
		default:
			d = time.Duration(n) * time.Second
		}
	}
	if !enabled {
		return 0
	}
	return d
}

func (p *parser) filter(includeKey, includeDef, excludeKey, legacyExcludeKey, excludeDef string) Filter {
	var include []string
	if includeKey != "" {
		include = SplitList(p.str(includeKey, includeDef))
	} else {
		include = []string{".*"}
	}
	excl, ok := p.lookup(excludeKey)
	if !ok {
		excl, ok = p.lookup(legacyExcludeKey)
		if !ok {
			excl = excludeDef
		}
	} else {
		p.lookup(legacyExcludeKey) // the new key wins, as in MM2
	}
	exclude := SplitList(excl)
	f, err := NewFilter(include, nil)
	if err != nil {
		p.fail(includeKey, err.Error())
		return Filter{}
	}
	f, err = NewFilter(include, exclude)
	if err != nil {
		p.fail(excludeKey, err.Error())
		return Filter{}
	}
	return f
}

// converterOptions marks the options of the converter under kind as used and returns them.
func (p *parser) converterOptions(kind convert.Kind) map[string]string {
	opts := convert.Options(p.m, kind)
	for k := range opts {
		p.used[string(kind)+"."+k] = true
	}
	return opts
}

// converter builds the key or value converter the configuration names, if any.
func (p *parser) converter(kind convert.Kind) (string, convert.Converter) {
	class, ok := p.lookup(string(kind))
	if !ok {
		return "", nil
	}
	c, err := convert.New(kind, class, p.converterOptions(kind))
	if err != nil {
		p.convertFail(kind, err)
		return "", nil
	}
	return class, c
}

// headerConverter builds the header converter the configuration names, if any.
func (p *parser) headerConverter() (string, convert.HeaderConverter) {
	class, ok := p.lookup(string(convert.Header))
	if !ok {
		return "", nil
	}
	c, err := convert.NewHeader(class, p.converterOptions(convert.Header))
	if err != nil {
		p.convertFail(convert.Header, err)
		return "", nil
	}
	return class, c
}

func (p *parser) convertFail(kind convert.Kind, err error) {
	var ce *convert.Error
	if errors.As(err, &ce) {
		p.fail(ce.Key, ce.Problem)
		return
	}
	p.fail(string(kind), err.Error())
}

func (p *parser) onlyClass(key string, accepted ...string) {
	v, ok := p.lookup(key)
	if !ok {
		return
	}
	for _, a := range accepted {
		if v == a {
			return
		}
	}
	p.fail(key, fmt.Sprintf("%q is not supported; only %s", v, accepted[0]))
}

// override looks a client setting up under each prefix, first match wins.
func (p *parser) override(prefixes []string, name string) (key, value string, ok bool) {
	for _, pre := range prefixes {
		if v, found := p.lookup(pre + name); found && !ok {
			key, value, ok = pre+name, v, true
		}
	}
	return key, value, ok
}

func (p *parser) clientInt(prefixes []string, name string, min int64) (int64, bool) {
	key, v, ok := p.override(prefixes, name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > 1<<31-1 {
		p.fail(key, fmt.Sprintf("%q is not an integer between %d and %d", v, min, 1<<31-1))
		return 0, false
	}
	return n, true
}

func (p *parser) clients(c *Config) {
	c.StartingPosition = StartEarliest
	if key, v, ok := p.override(consumerPrefixes, "auto.offset.reset"); ok {
		switch strings.ToLower(v) {
		case "earliest":
			c.StartingPosition = StartEarliest
		case "latest":
			c.StartingPosition = StartLatest
		default:
			p.fail(key, fmt.Sprintf("%q is not earliest or latest", v))
		}
	}
	c.ReadCommitted = true
	if key, v, ok := p.override(consumerPrefixes, "isolation.level"); ok {
		switch strings.ToLower(v) {
		case "read_committed":
		case "read_uncommitted":
			c.ReadCommitted = false
		default:
			p.fail(key, fmt.Sprintf("%q is not read_committed or read_uncommitted", v))
		}
	}
	if n, ok := p.clientInt(consumerPrefixes, "max.poll.records", 1); ok {
		c.MaxPollRecords = int(n)
	}
	if _, v, ok := p.override(consumerPrefixes, "client.id"); ok {
		c.Consumer.ClientID = v
	}
	if n, ok := p.clientInt(consumerPrefixes, "fetch.max.bytes", 1); ok {
		c.Consumer.FetchMaxBytes = int32(n)
	}
	if n, ok := p.clientInt(consumerPrefixes, "max.partition.fetch.bytes", 1); ok {
		c.Consumer.FetchMaxPartitionBytes = int32(n)
	}
	if n, ok := p.clientInt(consumerPrefixes, "fetch.min.bytes", 1); ok {
		c.Consumer.FetchMinBytes = int32(n)
	}
	if n, ok := p.clientInt(consumerPrefixes, "fetch.max.wait.ms", 1); ok {
		c.Consumer.FetchMaxWait = time.Duration(n) * time.Millisecond
	}

	if _, v, ok := p.override(producerPrefixes, "client.id"); ok {
		c.Producer.ClientID = v
	}
	if key, v, ok := p.override(producerPrefixes, "compression.type"); ok {
		v = strings.ToLower(v)
		if _, known := compressionCodecs[v]; !known {
			p.fail(key, fmt.Sprintf("%q is not none, gzip, snappy, lz4 or zstd", v))
		} else {
			c.Producer.Compression = []string{v}
		}
	}
	if n, ok := p.clientInt(producerPrefixes, "linger.ms", 0); ok {
		c.Producer.Linger, c.Producer.LingerSet = time.Duration(n)*time.Millisecond, true
	}
	// franz-go has one size knob, the largest record batch, which also bounds the largest
	// record. Java's batch.size is a soft per-partition target (a bigger record still goes, in
	// a batch of its own) and max.request.size the hard limit: take the larger of the two so
	// that no record Java would send is refused.
	if n, ok := p.clientInt(producerPrefixes, "batch.size", 1); ok {
		c.Producer.BatchMaxBytes = int32(n)
	}
	if n, ok := p.clientInt(producerPrefixes, "max.request.size", 1); ok && int32(n) > c.Producer.BatchMaxBytes {
		c.Producer.BatchMaxBytes = int32(n)
	}
	if n, ok := p.clientInt(producerPrefixes, "buffer.memory", 1); ok {
		c.Producer.MaxBufferedBytes = int(n)
	}
	if n, ok := p.clientInt(producerPrefixes, "request.timeout.ms", 1); ok {
		c.Producer.RequestTimeout = time.Duration(n) * time.Millisecond
	}
	if key, v, ok := p.override(producerPrefixes, "acks"); ok && v != "all" && v != "-1" {
		p.fail(key, fmt.Sprintf("%q is not allowed: Fjord always writes with acks=all", v))
	}
	if key, v, ok := p.override(producerPrefixes, "enable.idempotence"); ok && strings.ToLower(v) != "true" {
		p.fail(key, fmt.Sprintf("%q is not allowed: Fjord always uses the idempotent producer", v))
	}
	// Accepted, with no effect: Fjord retries until the record is written or the task fails.
	for _, name := range []string{"retries", "delivery.timeout.ms", "max.in.flight.requests.per.connection",
		"retry.backoff.ms", "max.block.ms", "transaction.timeout.ms"} {
		p.override(producerPrefixes, name)
	}
	for _, name := range []string{"group.id", "enable.auto.commit", "auto.commit.interval.ms",
		"session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms", "receive.buffer.bytes"} {
		p.override(consumerPrefixes, name)
	}
}
