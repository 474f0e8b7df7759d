package workload

import (
	"context"
	"fmt"
	"slices"
	"strings"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/mm2"
)

// A connector's kafkaCluster is the cluster its Kafka Connect runtime uses, as in MSK Connect:
// the runtime's internal topics are created there, under MSK Connect's names, and a source
// connector's records and source offsets are written there. The server passes it to every task
// as the fjord.connect.* keys (workers/mm2/connect.go), and tells a checkpoint task where the
// MirrorSource connector whose progress bounds its translations records it (fjord.progress.*).

// The prefixes of MSK Connect's internal topic names: <prefix><connector name>_<connector id>.
const (
	connectOffsetsPrefix = "__amazon_msk_connect_offsets_"
	connectConfigsPrefix = "__amazon_msk_connect_configs_"
	connectStatusPrefix  = "__amazon_msk_connect_status_"
)

// connectTopics are the names of a connector's internal topics: MSK Connect's
// __amazon_msk_connect_<offsets|configs|status>_<connector name>_<connector id>, the id being
// the ARN's last part (<uuid>-<n>). Characters Kafka refuses in topic names become '_'.
func connectTopics(arn string) (offsets, configs, status string) {
	a, _ := ParseARN(arn)
	name, id, _ := strings.Cut(a.Resource, "/")
	suffix := topicSafe(name + "_" + id)
	return connectOffsetsPrefix + suffix, connectConfigsPrefix + suffix, connectStatusPrefix + suffix
}

func topicSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// connectClusterKeys are the fjord.connect.* keys of connector d, with prefix replaced by the
// caller's (ConnectPrefix for its own tasks).
func connectClusterKeys(d *kc.DescribeConnectorResponse) map[string]string {
	m := map[string]string{
		mm2.KeyConnectBootstrap: d.GetKafkaCluster().GetApacheKafkaCluster().GetBootstrapServers(),
		mm2.KeyConnectProtocol:  mm2.ProtocolPlaintext,
	}
	if strings.EqualFold(d.GetKafkaClusterEncryptionInTransit().GetEncryptionType(), "TLS") {
		m[mm2.KeyConnectProtocol] = mm2.ProtocolSSL
	}
	if strings.EqualFold(d.GetKafkaClusterClientAuthentication().GetAuthenticationType(), "IAM") {
		m[mm2.KeyConnectMechanism] = mm2.IAMMechanism // signed with the service execution role
	}
	m[mm2.KeyConnectOffsets], m[mm2.KeyConnectConfigs], m[mm2.KeyConnectStatus] = connectTopics(d.GetConnectorArn())
	m[mm2.KeyConnectConnectorConfig] = mm2.EncodeConnectorConfig(connectConfigRecord(d.ConnectorConfiguration))
	return m
}

// connectConfigRecord is connector configuration conf as the runtime's config record holds it
// (connector-<name>): unresolved, as Kafka Connect stores it, without Fjord's runtime keys and
// without the values of secret keys that are not config-provider references — Connect would
// keep them in clear text in a topic every client of the cluster can read.
func connectConfigRecord(conf map[string]string) map[string]string {
	class, _ := catalog.Lookup(conf["connector.class"])
	out := make(map[string]string, len(conf))
	for k, v := range conf {
		if mm2.IsRuntimeKey(k) || (class.IsSecretKey(k) && !catalog.HasReference(v)) {
			continue
		}
		out[k] = v
	}
	return out
}

// addConnectRuntime adds connector r's Connect runtime keys to its task t, and to a checkpoint
// task the location of its MirrorSource connector's progress.
func (w *Compiler) addConnectRuntime(ctx context.Context, r *store.Resource, d *kc.DescribeConnectorResponse, t *agentv1.TaskSpec) error {
	if d.GetConnectorArn() == "" {
		d.ConnectorArn = &r.ARN
	}
	for k, v := range connectClusterKeys(d) {
		t.Config[k] = v
	}
	topic, err := w.workerOffsetsTopic(ctx, d)
	if err != nil {
		return err
	}
	if topic != "" {
		t.Config[mm2.KeyConnectOffsets] = topic
	}
	if t.ConnectorClass != catalog.MirrorCheckpoint {
		return nil
	}
	src, err := w.progressSource(ctx, r, t.Config)
	if err != nil || src == nil {
		return err
	}
	keys := connectClusterKeys(src)
	if topic, err := w.workerOffsetsTopic(ctx, src); err != nil {
		return err
	} else if topic != "" {
		keys[mm2.KeyConnectOffsets] = topic
	}
	t.Config[mm2.KeyProgressTopic] = keys[mm2.KeyConnectOffsets]
	t.Config[mm2.KeyProgressBootstrap] = keys[mm2.KeyConnectBootstrap]
	t.Config[mm2.KeyProgressProtocol] = keys[mm2.KeyConnectProtocol]
	if mech := keys[mm2.KeyConnectMechanism]; mech != "" {
		t.Config[mm2.KeyProgressMechanism] = mech
	}
	return nil
}

// progressSource finds the MirrorSource connector whose progress bounds a checkpoint
// connector's translations: the connector of the same account and region named by
// fjord.source.connector or, without that key, the only MirrorSource connector there with the
// same source alias and target cluster. nil when there is none (the checkpoint task then reads
// mm2-offsets.<source alias>.internal on the target, where replicators record theirs).
func (w *Compiler) progressSource(ctx context.Context, r *store.Resource, conf map[string]string) (*kc.DescribeConnectorResponse, error) {
	name := strings.TrimSpace(conf["fjord.source.connector"])
	p := store.ListParams{AccountID: r.AccountID, Region: r.Region, Limit: 1000}
	if name != "" {
		p.NamePrefix = name
	}
	list, err := w.st.Connectors.List(ctx, p)
	if err != nil {
		return nil, err
	}
	alias := func(m map[string]string, key string) string {
		if v := strings.TrimSpace(m[key]); v != "" {
			return v
		}
		return strings.TrimSuffix(key, ".cluster.alias")
	}
	var found []*kc.DescribeConnectorResponse
	for _, o := range list {
		if o.ARN == r.ARN || o.State == "DELETING" || (name != "" && o.Name != name) {
			continue
		}
		od, err := ConnectorDescription(o)
		if err != nil {
			continue
		}
		c, ok := catalog.Lookup(od.ConnectorConfiguration["connector.class"])
		if !ok || c.Name != catalog.MirrorSource {
			continue
		}
		oc := od.ConnectorConfiguration
		if name == "" && (alias(oc, "source.cluster.alias") != alias(conf, "source.cluster.alias") ||
			!sameServerList(oc["target.cluster.bootstrap.servers"], conf["target.cluster.bootstrap.servers"])) {
			continue
		}
		found = append(found, od)
	}
	if len(found) != 1 {
		if len(found) > 1 {
			w.log.Warn("several MirrorSource connectors match a checkpoint connector; set fjord.source.connector to name one",
				"connector", r.ARN, "matches", len(found))
		}
		return nil, nil
	}
	return found[0], nil
}

func sameServerList(a, b string) bool {
	x, y := mm2.SplitList(a), mm2.SplitList(b)
	slices.Sort(x)
	slices.Sort(y)
	return len(x) > 0 && slices.Equal(x, y)
}

// workerOffsetsTopic is offset.storage.topic of connector d's worker configuration ("" when it
// has none): MSK Connect lets a connector share or reuse an offsets topic that way.
func (w *Compiler) workerOffsetsTopic(ctx context.Context, d *kc.DescribeConnectorResponse) (string, error) {
	props, err := w.WorkerProperties(ctx, d.GetWorkerConfiguration())
	if err != nil {
		return "", fmt.Errorf("connector %s: %w", d.GetConnectorArn(), err)
	}
	return strings.TrimSpace(props["offset.storage.topic"]), nil
}
