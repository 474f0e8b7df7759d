package mm2

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The Kafka Connect runtime keys. The server adds them to a connector's task configurations
// from its kafkaCluster, kafkaClusterClientAuthentication and kafkaClusterEncryptionInTransit
// members (replicators have none): the cluster the Connect runtime of the connector uses, as
// in MSK Connect — its internal topics live there, and a source connector's records and source
// offsets are written there. They are never part of a connector's own configuration (the
// Connect config record leaves them out).
const (
	// ConnectPrefix starts every Connect runtime key.
	ConnectPrefix = "fjord.connect."
	// KeyConnectBootstrap is the Connect cluster's bootstrap servers
	// (kafkaCluster.apacheKafkaCluster.bootstrapServers).
	KeyConnectBootstrap = ConnectPrefix + "bootstrap.servers"
	// KeyConnectProtocol is PLAINTEXT (kafkaClusterEncryptionInTransit PLAINTEXT) or SSL (TLS,
	// verified with the system's roots, no client certificate).
	KeyConnectProtocol = ConnectPrefix + "security.protocol"
	// KeyConnectMechanism is AWS_MSK_IAM for kafkaClusterClientAuthentication IAM: the runtime's
	// clients authenticate with the workload's service execution role (KeyServiceExecutionRole),
	// over TLS when KeyConnectProtocol is SSL (SASL_SSL), as MSK Connect's do.
	KeyConnectMechanism = ConnectPrefix + "sasl.mechanism"
	// KeyConnectOffsets, KeyConnectConfigs and KeyConnectStatus name the runtime's internal
	// topics (MSK Connect: __amazon_msk_connect_<offsets|configs|status>_<name>_<id>).
	KeyConnectOffsets = ConnectPrefix + "offset.storage.topic"
	KeyConnectConfigs = ConnectPrefix + "config.storage.topic"
	KeyConnectStatus  = ConnectPrefix + "status.storage.topic"
	// KeyConnectConnectorConfig is the connector's configuration as its Connect config record
	// holds it (connector-<name>): base64 of a JSON object, so that the config-provider
	// references it keeps unresolved are not resolved on the worker like the task's own keys.
	KeyConnectConnectorConfig = ConnectPrefix + "connector.config"

	// ProgressPrefix starts the keys of a checkpoint task that say where the MirrorSource
	// connector named by fjord.source.connector records its progress: the offsets topic of
	// that connector's Connect cluster.
	ProgressPrefix = "fjord.progress."
	// KeyProgressTopic is that offsets topic.
	KeyProgressTopic = ProgressPrefix + "topic"
	// KeyProgressBootstrap and KeyProgressProtocol are the cluster holding it.
	KeyProgressBootstrap = ProgressPrefix + "bootstrap.servers"
	KeyProgressProtocol  = ProgressPrefix + "security.protocol"
	KeyProgressMechanism = ProgressPrefix + "sasl.mechanism"
)

// IAMMechanism is the SASL mechanism of MSK's IAM client authentication.
const IAMMechanism = "AWS_MSK_IAM"

// ConnectCluster is the Kafka cluster the Connect runtime of a connector uses, and the names
// of its internal topics there.
type ConnectCluster struct {
	Bootstrap []string
	// Security is PLAINTEXT or SSL (system roots).
	Security ClientSecurity
	// OffsetsTopic, ConfigsTopic and StatusTopic are the runtime's internal topics.
	OffsetsTopic, ConfigsTopic, StatusTopic string
	// ConnectorConfig is the connector's configuration for its config record (unresolved,
	// without literal secrets); nil when the server sent none.
	ConnectorConfig map[string]string
}

// ProgressLocation is where a MirrorSource connector's progress is: a topic of a cluster.
type ProgressLocation struct {
	Topic     string
	Bootstrap []string
	Security  ClientSecurity
}

// IsRuntimeKey reports whether key is one the server adds (fjord.connect.*, fjord.progress.*,
// fjord.service.execution.role.arn) rather than part of a connector's own configuration.
func IsRuntimeKey(key string) bool {
	return strings.HasPrefix(key, ConnectPrefix) || strings.HasPrefix(key, ProgressPrefix) || key == KeyServiceExecutionRole
}

// serviceRole is the workload's service execution role (KeyServiceExecutionRole), "" when the
// server sent none.
func (p *parser) serviceRole() string {
	if p.roleRead {
		return p.role
	}
	p.roleRead = true
	v := strings.TrimSpace(p.str(KeyServiceExecutionRole, ""))
	if v != "" && !IsRoleARN(v) {
		p.fail(KeyServiceExecutionRole, "is not an IAM role ARN")
		return ""
	}
	p.role = v
	return v
}

// ParseConnectCluster reads the fjord.connect.* keys of a task configuration of any connector
// class (a MirrorMaker 2 one reads them with ParseConfig): nil, nil when there are none. Every
// problem is a *ConfigError naming its key.
func ParseConnectCluster(m map[string]string) (*ConnectCluster, error) {
	p := &parser{m: m, used: map[string]bool{}}
	c := p.connect()
	if len(p.errs) > 0 {
		sort.Slice(p.errs, func(i, j int) bool { return p.errs[i].(*ConfigError).Key < p.errs[j].(*ConfigError).Key })
		return nil, errors.Join(p.errs...)
	}
	return c, nil
}

// connect reads the fjord.connect.* keys: nil when there are none.
func (p *parser) connect() *ConnectCluster {
	if _, ok := p.m[KeyConnectBootstrap]; !ok {
		for k := range p.m {
			if strings.HasPrefix(k, ConnectPrefix) {
				p.fail(KeyConnectBootstrap, "is required with the other "+ConnectPrefix+"* keys")
				break
			}
		}
		return nil
	}
	c := &ConnectCluster{Bootstrap: p.servers(KeyConnectBootstrap)}
	c.Security = p.runtimeSecurity(KeyConnectProtocol, KeyConnectMechanism)
	for _, k := range []struct {
		key string
		dst *string
	}{{KeyConnectOffsets, &c.OffsetsTopic}, {KeyConnectConfigs, &c.ConfigsTopic}, {KeyConnectStatus, &c.StatusTopic}} {
		*k.dst = p.str(k.key, "")
		if *k.dst == "" {
			p.fail(k.key, "is required with "+KeyConnectBootstrap)
		}
	}
	if v, ok := p.lookup(KeyConnectConnectorConfig); ok {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err == nil {
			err = json.Unmarshal(raw, &c.ConnectorConfig)
		}
		if err != nil {
			p.fail(KeyConnectConnectorConfig, "is not base64 of a JSON object of strings")
		}
	}
	return c
}

// EncodeConnectorConfig is the value of KeyConnectConnectorConfig for conf.
func EncodeConnectorConfig(conf map[string]string) string {
	raw, _ := json.Marshal(conf)
	return base64.StdEncoding.EncodeToString(raw)
}

// progress reads the fjord.progress.* keys: nil when there are none.
func (p *parser) progress() *ProgressLocation {
	topic, ok := p.lookup(KeyProgressTopic)
	if !ok {
		return nil
	}
	l := &ProgressLocation{Topic: topic, Bootstrap: p.servers(KeyProgressBootstrap)}
	if topic == "" {
		p.fail(KeyProgressTopic, "must not be empty")
	}
	l.Security = p.runtimeSecurity(KeyProgressProtocol, KeyProgressMechanism)
	return l
}

// runtimeSecurity reads the security of a runtime cluster: PLAINTEXT, or SSL with the
// system's roots; with the mechanism AWS_MSK_IAM, SASL_PLAINTEXT or SASL_SSL signed with the
// workload's service execution role (MSK's IAM authentication).
func (p *parser) runtimeSecurity(protocolKey, mechanismKey string) ClientSecurity {
	s := ClientSecurity{Protocol: ProtocolPlaintext}
	v := strings.ToUpper(p.str(protocolKey, ProtocolPlaintext))
	mech := ""
	if mechanismKey != "" {
		mech = strings.ToUpper(p.str(mechanismKey, ""))
	}
	switch {
	case mech == IAMMechanism && (v == ProtocolPlaintext || v == ProtocolSSL):
		s.Protocol, s.Mechanism = ProtocolSASLPlaintext, IAMMechanism
		if v == ProtocolSSL {
			s.Protocol = ProtocolSASLSSL
		}
		s.IAM = IAMAuth{RoleARN: p.serviceRole()}
	case mech == IAMMechanism:
		p.fail(protocolKey, fmt.Sprintf("%q is not PLAINTEXT or SSL", v))
	case mech != "":
		p.fail(mechanismKey, fmt.Sprintf("%q is not supported", mech))
	case v == ProtocolPlaintext || v == ProtocolSSL:
		s.Protocol = v
	default:
		p.fail(protocolKey, fmt.Sprintf("%q is not PLAINTEXT or SSL", v))
	}
	return s
}

// SameServers reports whether two bootstrap lists name the same brokers, in any order.
func SameServers(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return len(x) > 0 && slices.Equal(x, y)
}
