package mm2

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestDefaultReplicationPolicy(t *testing.T) {
	t.Parallel()
	p := DefaultReplicationPolicy{}
	cases := []struct {
		topic, source, upstream, original string
		internal                          bool
	}{
		{"orders", "", "", "orders", false},
		{"us-west.orders", "us-west", "orders", "orders", false},
		{"a.b.orders", "a", "b.orders", "orders", false},
		{"a.", "", "", "a.", false},
		{".hidden", "", "hidden", "hidden", true},
		{"__consumer_offsets", "", "", "__consumer_offsets", true},
		{"mm2-offsets.CLUSTER.internal", "mm2-offsets", "CLUSTER.internal", "internal", true},
		{"mm2-offsets-CLUSTER-internal", "", "", "mm2-offsets-CLUSTER-internal", true},
		{"mm2-offsets_CLUSTER_internal", "", "", "mm2-offsets_CLUSTER_internal", false},
		{"src.checkpoints.internal", "src", "checkpoints.internal", "internal", true},
	}
	for _, c := range cases {
		if got := p.TopicSource(c.topic); got != c.source {
			t.Errorf("TopicSource(%q) = %q, want %q", c.topic, got, c.source)
		}
		if got := p.UpstreamTopic(c.topic); got != c.upstream {
			t.Errorf("UpstreamTopic(%q) = %q, want %q", c.topic, got, c.upstream)
		}
		if got := p.OriginalTopic(c.topic); got != c.original {
			t.Errorf("OriginalTopic(%q) = %q, want %q", c.topic, got, c.original)
		}
		if got := p.IsInternalTopic(c.topic); got != c.internal {
			t.Errorf("IsInternalTopic(%q) = %v, want %v", c.topic, got, c.internal)
		}
	}
	if got := p.FormatRemoteTopic("src", "orders"); got != "src.orders" {
		t.Errorf("FormatRemoteTopic = %q", got)
	}
	if got := p.OffsetSyncsTopic("tgt"); got != "mm2-offset-syncs.tgt.internal" {
		t.Errorf("OffsetSyncsTopic = %q", got)
	}
	if got := p.CheckpointsTopic("src"); got != "src.checkpoints.internal" {
		t.Errorf("CheckpointsTopic = %q", got)
	}
	if got := p.HeartbeatsTopic(); got != "heartbeats" {
		t.Errorf("HeartbeatsTopic = %q", got)
	}
	if !IsHeartbeatsTopic(p, "a.b.heartbeats") || IsHeartbeatsTopic(p, "a.myheartbeats") {
		t.Error("IsHeartbeatsTopic")
	}
	if !IsCycle(p, "tgt", "tgt.orders") || !IsCycle(p, "tgt", "x.tgt.orders") || IsCycle(p, "tgt", "x.orders") {
		t.Error("IsCycle")
	}

	u := DefaultReplicationPolicy{Separator: "_"}
	if got := u.FormatRemoteTopic("src", "orders"); got != "src_orders" {
		t.Errorf("custom separator FormatRemoteTopic = %q", got)
	}
	if got := u.OffsetSyncsTopic("tgt"); got != "mm2-offset-syncs_tgt_internal" {
		t.Errorf("custom separator OffsetSyncsTopic = %q", got)
	}
	if !u.IsInternalTopic("x_internal") {
		t.Error("custom separator internal suffix")
	}
	plain := DefaultReplicationPolicy{Separator: "_", PlainInternalSeparator: true}
	if got := plain.CheckpointsTopic("src"); got != "src.checkpoints.internal" {
		t.Errorf("plain internal separator CheckpointsTopic = %q", got)
	}
}

func TestIdentityReplicationPolicy(t *testing.T) {
	t.Parallel()
	p := IdentityReplicationPolicy{SourceAlias: "src"}
	if got := p.FormatRemoteTopic("src", "orders"); got != "orders" {
		t.Errorf("FormatRemoteTopic = %q", got)
	}
	if got := p.FormatRemoteTopic("src", "heartbeats"); got != "src.heartbeats" {
		t.Errorf("heartbeats FormatRemoteTopic = %q", got)
	}
	if got := p.TopicSource("orders"); got != "src" {
		t.Errorf("TopicSource = %q", got)
	}
	if got := p.UpstreamTopic("orders"); got != "orders" {
		t.Errorf("UpstreamTopic = %q", got)
	}
	if got := p.OriginalTopic("orders"); got != "orders" {
		t.Errorf("OriginalTopic = %q", got)
	}
	if got := p.OriginalTopic("a.b.heartbeats"); got != "heartbeats" {
		t.Errorf("OriginalTopic(heartbeats) = %q", got)
	}
	if IsCycle(p, "tgt", "orders") {
		t.Error("identity topic must not look like a cycle to another target")
	}
	if got := p.OffsetSyncsTopic("tgt"); got != "mm2-offset-syncs.tgt.internal" {
		t.Errorf("OffsetSyncsTopic = %q", got)
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	f := MustFilter(SplitList("orders, pay.*"), SplitList(DefaultTopicsExclude))
	for name, want := range map[string]bool{
		"orders": true, "orders-dlq": false, "payments": true, "pay.internal": false,
		"pay.replica": false, "__pay": false, "xorders": false,
	} {
		if got := f.Matches(name); got != want {
			t.Errorf("Matches(%q) = %v, want %v", name, got, want)
		}
	}
	if (Filter{}).Matches("x") {
		t.Error("zero Filter selects something")
	}
	if _, err := NewFilter([]string{"(?=x)"}, nil); err == nil {
		t.Error("look-ahead accepted")
	}
}

func base() map[string]string {
	return map[string]string{
		"source.cluster.bootstrap.servers": "a:9092, b:9092",
		"target.cluster.bootstrap.servers": "c:9092",
	}
}

func TestParseConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig(base())
	if err != nil {
		t.Fatal(err)
	}
	if c.SourceAlias != "source" || c.TargetAlias != "target" {
		t.Errorf("aliases %q %q", c.SourceAlias, c.TargetAlias)
	}
	if len(c.SourceBootstrap) != 2 || c.SourceBootstrap[1] != "b:9092" {
		t.Errorf("SourceBootstrap %v", c.SourceBootstrap)
	}
	if _, ok := c.Policy.(DefaultReplicationPolicy); !ok {
		t.Errorf("Policy %T", c.Policy)
	}
	if c.RefreshTopicsInterval != 5*time.Second || c.EmitHeartbeatsInterval != time.Second ||
		c.EmitCheckpointsInterval != time.Minute || c.SyncGroupOffsets || !c.SyncTopicConfigs {
		t.Errorf("intervals %+v", c)
	}
	if c.OffsetSyncsLocation != LocationSource || c.OffsetLagMax != 100 || c.TasksMax != 1 {
		t.Errorf("offset syncs %+v", c)
	}
	if c.Transactional || c.StartingPosition != StartEarliest || !c.ReadCommitted {
		t.Errorf("delivery %+v", c)
	}
	if !c.Topics.Matches("orders") || c.Topics.Matches("x.internal") || c.Groups.Matches("console-consumer-1") {
		t.Error("default filters")
	}
	if !c.ConfigProperties.Matches("retention.ms") || c.ConfigProperties.Matches("min.insync.replicas") {
		t.Error("config property filter")
	}
}

func TestParseConfigValues(t *testing.T) {
	t.Parallel()
	m := base()
	for k, v := range map[string]string{
		"connector.class":                   SourceConnectorClass,
		"source.cluster.alias":              "east",
		"target.cluster.alias":              "west",
		"topics":                            "orders.*",
		"topics.exclude":                    "orders-tmp",
		"replication.policy.class":          "IdentityReplicationPolicy",
		"refresh.topics.interval.seconds":   "2",
		"refresh.groups.enabled":            "false",
		"emit.heartbeats.interval.seconds":  "-1",
		"sync.group.offsets.enabled":        "true",
		"offset-syncs.topic.location":       "target",
		"tasks.max":                         "4",
		"replication.factor":                "-1",
		"offset.lag.max":                    "10",
		"exactly.once.support":              "required",
		"consumer.auto.offset.reset":        "latest",
		"source.consumer.auto.offset.reset": "earliest",
		"producer.compression.type":         "zstd",
		"producer.override.linger.ms":       "0",
		"producer.batch.size":               "16384",
		"producer.max.request.size":         "2097152",
		"name":                              "mm2",
		"some.future.key":                   "x",
		"source.cluster.security.protocol":  "SSL",
	} {
		m[k] = v
	}
	c, err := ParseConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := c.Policy.(IdentityReplicationPolicy); !ok || p.SourceAlias != "east" {
		t.Errorf("Policy %#v", c.Policy)
	}
	if c.Topics.Matches("orders-tmp") || !c.Topics.Matches("orders") {
		t.Error("topics filter")
	}
	if c.RefreshTopicsInterval != 2*time.Second || c.RefreshGroupsInterval != 0 || c.EmitHeartbeats {
		t.Errorf("intervals %v %v %v", c.RefreshTopicsInterval, c.RefreshGroupsInterval, c.EmitHeartbeats)
	}
	if !c.SyncGroupOffsets || c.SyncGroupOffsetsInterval != time.Minute {
		t.Error("sync group offsets")
	}
	if c.OffsetSyncsLocation != LocationTarget || c.TasksMax != 4 || c.ReplicationFactor != -1 || c.OffsetLagMax != 10 {
		t.Errorf("%+v", c)
	}
	if !c.Transactional || !c.ExactlyOnceRequired {
		t.Error("exactly once")
	}
	if c.StartingPosition != StartEarliest {
		t.Error("source.consumer. must win over consumer.")
	}
	if c.Producer.Compression[0] != "zstd" || !c.Producer.LingerSet || c.Producer.Linger != 0 || c.Producer.BatchMaxBytes != 2097152 {
		t.Errorf("producer %+v", c.Producer)
	}
	if len(c.Extra) != 1 || c.Extra["some.future.key"] != "x" || c.SourceSecurity.Protocol != ProtocolSSL {
		t.Errorf("Extra %v", c.Extra)
	}
	if len(c.ProducerOpts()) < 4 || len(c.ConsumerOpts()) != 1 {
		t.Errorf("opts %d %d", len(c.ProducerOpts()), len(c.ConsumerOpts()))
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key, value string
	}{
		{"source.cluster.bootstrap.servers", ""},
		{"target.cluster.alias", "source"},
		{"topics", "("},
		{"topics.exclude", "[a"},
		{"replication.policy.class", "com.example.MyPolicy"},
		{"replication.policy.separator", ""},
		{"refresh.topics.interval.seconds", "soon"},
		{"refresh.topics.interval.seconds", "0"},
		{"refresh.topics.enabled", "yes"},
		{"offset-syncs.topic.location", "elsewhere"},
		{"fjord.consumer.group.offset.sync.mode", "FAST"},
		{"tasks.max", "0"},
		{"offset.lag.max", "-3"},
		{"exactly.once.support", "maybe"},
		{"consumer.auto.offset.reset", "none"},
		{"consumer.isolation.level", "dirty"},
		{"producer.compression.type", "brotli"},
		{"producer.linger.ms", "-1"},
		{"producer.acks", "1"},
		{"producer.enable.idempotence", "false"},
		{"topic.filter.class", "com.example.Filter"},
	}
	for _, c := range cases {
		m := base()
		m[c.key] = c.value
		_, err := ParseConfig(m)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s=%q: no ConfigError (%v)", c.key, c.value, err)
			continue
		}
		if ce.Key != c.key || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s=%q: error names %q: %v", c.key, c.value, ce.Key, err)
		}
	}
	// Several problems are reported together.
	_, err := ParseConfig(map[string]string{"tasks.max": "x"})
	if err == nil || !strings.Contains(err.Error(), "tasks.max") || !strings.Contains(err.Error(), "source.cluster.bootstrap.servers") {
		t.Errorf("joined errors: %v", err)
	}
}

// TestSupportedKeysAreParsed checks that every documented literal key is consumed by
// ParseConfig (it never lands in Extra), so the generated reference cannot drift.
func TestSupportedKeysAreParsed(t *testing.T) {
	t.Parallel()
	values := map[string]string{
		"connector.class": SourceConnectorClass, "replication.policy.class": DefaultPolicyClass,
		"replication.policy.separator": ".", "offset-syncs.topic.location": "source",
		"exactly.once.support": "disabled", "consumer.auto.offset.reset": "earliest",
		"consumer.isolation.level": "read_committed", "producer.compression.type": "lz4",
		"producer.acks": "all", "producer.enable.idempotence": "true",
		"topic.filter.class":           "org.apache.kafka.connect.mirror.DefaultTopicFilter",
		"group.filter.class":           "org.apache.kafka.connect.mirror.DefaultGroupFilter",
		"config.property.filter.class": "org.apache.kafka.connect.mirror.DefaultConfigPropertyFilter",
		"consumer.client.id":           "c", "producer.client.id": "p", "topics": ".*", "groups": ".*",
		"topics.exclude": "x", "groups.exclude": "x", "config.properties.exclude": "x",
		"source.cluster.alias": "s", "target.cluster.alias": "t",
		"fjord.consumer.group.offset.sync.mode": "ENHANCED",
		KeyConnectBootstrap:                     "connect:9092", KeyConnectProtocol: "SSL", KeyConnectMechanism: "",
		KeyConnectConnectorConfig: "e30=", // {}
		KeyServiceExecutionRole:   "arn:aws:iam::000000000000:role/x",
	}
	m := base()
	for _, k := range []string{KeyConnectOffsets, KeyConnectConfigs, KeyConnectStatus, KeyProgressTopic, KeyProgressProtocol} {
		m[k] = "x"
	}
	m[KeyProgressBootstrap], m[KeyProgressProtocol] = "progress:9092", "PLAINTEXT"
	for _, k := range SupportedKeys {
		if strings.ContainsAny(k.Name, "*,( ") {
			continue
		}
		if k.Doc == "" {
			t.Errorf("%s has no doc", k.Name)
		}
		v, ok := values[k.Name]
		if !ok {
			v = "1"
			if strings.HasSuffix(k.Name, ".enabled") {
				v = "true"
			}
		}
		m[k.Name] = v
	}
	c, err := ParseConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	for k := range c.Extra {
		t.Errorf("documented key %s was not parsed", k)
	}
}

// TestOffsetSyncMode: the replicator's consumerGroupOffsetSyncMode, as the server passes it.
func TestOffsetSyncMode(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]SyncMode{"": SyncModeLegacy, "LEGACY": SyncModeLegacy, "ENHANCED": SyncModeEnhanced, "enhanced": SyncModeEnhanced} {
		m := map[string]string{"source.cluster.bootstrap.servers": "a:9092", "target.cluster.bootstrap.servers": "b:9092"}
		if v != "" {
			m["fjord.consumer.group.offset.sync.mode"] = v
		}
		c, err := ParseConfig(m)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if c.OffsetSyncMode != want {
			t.Errorf("%q: mode %q, want %q", v, c.OffsetSyncMode, want)
		}
		if _, ok := c.Extra["fjord.consumer.group.offset.sync.mode"]; ok {
			t.Errorf("%q: the key is interpreted, not extra", v)
		}
	}
}

// TestConverters: the converter keys build converters with their options, and a bad class or
// option is refused naming its key.
func TestConverters(t *testing.T) {
	t.Parallel()
	m := base()
	m["key.converter"] = "org.apache.kafka.connect.converters.ByteArrayConverter"
	m["value.converter"] = "org.apache.kafka.connect.json.JsonConverter"
	m["value.converter.schemas.enable"] = "false"
	m["header.converter"] = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
	m["offset.flush.interval.ms"] = "2500"
	c, err := ParseConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyConverter == nil || c.ValueConverter == nil || c.HeaderConverter == nil || len(c.Extra) != 0 {
		t.Fatalf("converters %v %v %v, extra %v", c.KeyConverter, c.ValueConverter, c.HeaderConverter, c.Extra)
	}
	if got, _ := c.ValueConverter.FromConnect("t", nil, "x"); string(got) != `"x"` {
		t.Errorf("value converter without schemas wrote %s", got)
	}
	if c.OffsetFlushInterval != 2500*time.Millisecond {
		t.Errorf("OffsetFlushInterval %v", c.OffsetFlushInterval)
	}
	if c, err := ParseConfig(base()); err != nil || c.KeyConverter != nil || c.ValueConverter != nil || c.HeaderConverter != nil || c.OffsetFlushInterval != 0 {
		t.Errorf("no converter keys: %+v, %v", c, err)
	}
	for key, conf := range map[string]map[string]string{
		"value.converter":                 {"value.converter": "io.confluent.connect.avro.AvroConverter"},
		"key.converter":                   {"key.converter": "org.apache.kafka.connect.storage.SimpleHeaderConverter"},
		"value.converter.schemas.enable":  {"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "yes"},
		"header.converter.decimal.format": {"header.converter": "org.apache.kafka.connect.json.JsonConverter", "header.converter.decimal.format": "hex"},
		"offset.flush.interval.ms":        {"offset.flush.interval.ms": "-1"},
	} {
		m := base()
		maps.Copy(m, conf)
		errs := Validate(m)
		if len(errs) != 1 || errs[0].Key != key {
			t.Errorf("%v: %v, want one error naming %s", conf, errs, key)
		}
	}
}

// TestConnectRuntimeKeys: the runtime keys the server adds parse into Config.Connect and
// Config.Progress; IAM and other protocols are refused naming their key.
func TestConnectRuntimeKeys(t *testing.T) {
	t.Parallel()
	m := base()
	m[KeyConnectBootstrap] = "a:1, b:2"
	m[KeyConnectProtocol] = "ssl"
	m[KeyConnectOffsets], m[KeyConnectConfigs], m[KeyConnectStatus] = "o", "c", "s"
	m[KeyProgressTopic], m[KeyProgressBootstrap] = "p", "x:3"
	m[KeyConnectConnectorConfig] = EncodeConnectorConfig(map[string]string{"topics": "${file:/x:y}"})
	c, err := ParseConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if cc := c.Connect; cc == nil || strings.Join(cc.Bootstrap, ",") != "a:1,b:2" || !cc.Security.TLS() ||
		cc.OffsetsTopic != "o" || cc.ConfigsTopic != "c" || cc.StatusTopic != "s" || cc.ConnectorConfig["topics"] != "${file:/x:y}" {
		t.Errorf("Connect = %+v", c.Connect)
	}
	if p := c.Progress; p == nil || p.Topic != "p" || strings.Join(p.Bootstrap, ",") != "x:3" || p.Security.TLS() {
		t.Errorf("Progress = %+v", c.Progress)
	}
	// The Connect cluster is the target, which needs SASL: the target's settings reach it.
	same := maps.Clone(m)
	same[KeyConnectBootstrap] = same["target.cluster.bootstrap.servers"]
	same[KeyConnectProtocol] = "PLAINTEXT"
	same["target.cluster.security.protocol"], same["target.cluster.sasl.mechanism"] = "SASL_SSL", "SCRAM-SHA-512"
	same["target.cluster.sasl.jaas.config"] = `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";`
	if c, err := ParseConfig(same); err != nil || c.Connect.Security.Protocol != "SASL_SSL" || c.Connect.Security.Username != "u" {
		t.Errorf("Connect cluster = target: %+v, %v", c.Connect, err)
	}
	if c, err := ParseConfig(base()); err != nil || c.Connect != nil || c.Progress != nil {
		t.Errorf("without runtime keys: %+v, %v", c.Connect, err)
	}
	for key, want := range map[string]string{KeyConnectMechanism: "is not supported", KeyConnectProtocol: "not PLAINTEXT or SSL", KeyConnectStatus: "is required",
		KeyConnectConnectorConfig: "not base64"} {
		bad := maps.Clone(m)
		switch key {
		case KeyConnectMechanism:
			bad[key] = "PLAIN"
		case KeyConnectProtocol:
			bad[key] = "SASL_SSL"
		case KeyConnectConnectorConfig:
			bad[key] = "{}"
		default:
			delete(bad, key)
		}
		_, err := ParseConfig(bad)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != key || !strings.Contains(ce.Problem, want) {
			t.Errorf("%s: error %v, want a ConfigError naming it with %q", key, err, want)
		}
	}
}

// TestParseConnectCluster: the fjord.connect.* keys of any class's configuration; none is nil,
// an incomplete set names the missing key.
func TestParseConnectCluster(t *testing.T) {
	t.Parallel()
	if c, err := ParseConnectCluster(map[string]string{"database.hostname": "db"}); c != nil || err != nil {
		t.Errorf("no keys: %v, %v", c, err)
	}
	m := map[string]string{KeyConnectBootstrap: "b1:9092,b2:9092", KeyConnectProtocol: "SSL",
		KeyConnectOffsets: "o", KeyConnectConfigs: "c", KeyConnectStatus: "s",
		KeyConnectConnectorConfig: EncodeConnectorConfig(map[string]string{"a": "b"})}
	c, err := ParseConnectCluster(m)
	if err != nil || len(c.Bootstrap) != 2 || !c.Security.TLS() || c.OffsetsTopic != "o" || c.ConnectorConfig["a"] != "b" {
		t.Errorf("ParseConnectCluster = %+v, %v", c, err)
	}
	delete(m, KeyConnectStatus)
	if _, err := ParseConnectCluster(m); err == nil || !strings.Contains(err.Error(), KeyConnectStatus) {
		t.Errorf("without %s: %v", KeyConnectStatus, err)
	}
}
