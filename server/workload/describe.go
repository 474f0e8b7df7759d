package workload

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	kv "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// The stored form of connectors, replicators and connector operations, shared by the API
// (server/) and the compiler: a resource's description is its Describe* response as
// deterministic proto bytes (Doc), a connector's configuration sealed JSON (Secret).

// Lifecycle states of connectors and replicators (ConnectorState, ReplicatorState).
const (
	StateCreating = "CREATING"
	StateRunning  = "RUNNING"
	StateUpdating = "UPDATING"
	StateDeleting = "DELETING"
	StateFailed   = "FAILED"
)

// EncodeDoc and DecodeDoc keep a resource's description as deterministic proto bytes.
func EncodeDoc(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", m, err)) // our own messages always encode
	}
	return b
}

// DecodeDoc decodes a description EncodeDoc made.
func DecodeDoc(b []byte, m proto.Message) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("decode stored %T: %w", m, err)
	}
	return nil
}

// ConnectorDescription decodes a connector with its configuration.
func ConnectorDescription(r *store.Resource) (*kc.DescribeConnectorResponse, error) {
	return DescribeConnector(r, true)
}

// DescribeConnector decodes a connector; withConfig false skips the (sealed, JSON) connector
// configuration, which summaries do not show.
func DescribeConnector(r *store.Resource, withConfig bool) (*kc.DescribeConnectorResponse, error) {
	out := &kc.DescribeConnectorResponse{}
	if err := DecodeDoc(r.Doc, out); err != nil {
		return nil, err
	}
	if withConfig && len(r.Secret) > 0 {
		conf, err := decodeConfiguration(r.Secret)
		if err != nil {
			return nil, err
		}
		out.ConnectorConfiguration = conf
	}
	out.CreationTime = timestamppb.New(r.CreatedAt)
	out.ConnectorState = proto.String(r.State)
	out.CurrentVersion = proto.String(r.CurrentVersion)
	if code, msg := stateCodeMessage(r); code != nil {
		out.StateDescription = &kc.StateDescription{Code: code, Message: msg}
	}
	return out, nil
}

// decodedConfigurations memoises decodeConfiguration by the configuration's bytes: every
// DescribeConnector and every reconcile decodes the same JSON, and decoding costs ~20× the copy
// of the map. Keyed by content, a hit is always right; bounded like Compiler's caches.
var (
	decodedConfigurations sync.Map // string(JSON) → map[string]string, never modified
	decodedCount          atomic.Int64
)

// decodeConfiguration decodes a connector's configuration (JSON); the caller owns the map.
func decodeConfiguration(raw []byte) (map[string]string, error) {
	if v, ok := decodedConfigurations.Load(string(raw)); ok {
		return maps.Clone(v.(map[string]string)), nil
	}
	var conf map[string]string
	if err := json.Unmarshal(raw, &conf); err != nil {
		return nil, fmt.Errorf("decode connector configuration: %w", err)
	}
	if decodedCount.Add(1) > 10_000 {
		decodedConfigurations.Clear() // bounded: an old configuration is rarely asked for again
		decodedCount.Store(0)
	}
	decodedConfigurations.Store(string(raw), conf)
	return maps.Clone(conf), nil
}

// ReplicatorDescription decodes a replicator.
func ReplicatorDescription(r *store.Resource) (*kv.DescribeReplicatorResponse, error) {
	out := &kv.DescribeReplicatorResponse{}
	if err := DecodeDoc(r.Doc, out); err != nil {
		return nil, err
	}
	out.CreationTime = timestamppb.New(r.CreatedAt)
	out.CurrentVersion = proto.String(r.CurrentVersion)
	out.ReplicatorState = proto.String(r.State)
	if code, msg := stateCodeMessage(r); code != nil {
		out.StateInfo = &kv.ReplicationStateInfo{Code: code, Message: msg}
	}
	return out, nil
}

// OperationDescription decodes a connector operation.
func OperationDescription(op *store.Operation) (*kc.DescribeConnectorOperationResponse, error) {
	out := &kc.DescribeConnectorOperationResponse{}
	if err := DecodeDoc(op.Doc, out); err != nil {
		return nil, err
	}
	out.CreationTime = timestamppb.New(op.CreatedAt)
	switch op.State {
	case "UPDATE_COMPLETE", "UPDATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED":
		out.EndTime = timestamppb.New(op.UpdatedAt)
	}
	return out, nil
}

// stateCodeMessage returns a resource's state code and message, or nil when both are empty.
func stateCodeMessage(r *store.Resource) (code, message *string) {
	if r.StateCode == "" && r.StateMessage == "" && r.TargetState != "" {
		// Paused or stopped through the Kafka Connect REST API: the connector stays RUNNING
		// for the AWS API, which says so here.
		return proto.String(r.TargetState), proto.String(TargetStateMessage(r.TargetState))
	}
	if r.StateCode == "" && r.StateMessage == "" {
		return nil, nil
	}
	return proto.String(r.StateCode), proto.String(r.StateMessage)
}

// WithRuntimeDefaults is a connector configuration as its tasks see it: MirrorMaker 2's
// target.cluster.bootstrap.servers defaults to the connector's Kafka cluster, where the Connect
// runtime writes a source connector's records (MSK Connect's MirrorMaker guides often leave it
// out for that reason). Other classes' configurations are returned as they are.
func WithRuntimeDefaults(conf map[string]string, kafkaCluster string) map[string]string {
	if _, ok := conf["target.cluster.bootstrap.servers"]; ok || kafkaCluster == "" || !isMirrorMaker(conf["connector.class"]) {
		return conf
	}
	out := make(map[string]string, len(conf)+1)
	for k, v := range conf {
		out[k] = v
	}
	out["target.cluster.bootstrap.servers"] = kafkaCluster
	return out
}

// isMirrorMaker reports whether class (a name or an alias) is one of MirrorMaker 2's classes.
func isMirrorMaker(class string) bool {
	c, ok := catalog.Lookup(class)
	if !ok {
		return false
	}
	switch c.Engine {
	case catalog.EngineMirrorSource, catalog.EngineMirrorCheckpoint, catalog.EngineMirrorHeartbeat:
		return true
	}
	return false
}

// ARN is a parsed Amazon Resource Name of one of Fjord's resources:
// arn:aws:{service}:{region}:{account}:{resourceType}/{name}/{id}.
type ARN struct {
	Partition, Service, Region, Account string
	// ResourceType is "connector", "custom-plugin", "worker-configuration",
	// "connector-operation", "replicator" or "cluster".
	ResourceType string
	// Resource is what follows the resource type: "{name}/{uuid}-{n}".
	Resource string
}

func (a ARN) String() string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s/%s", a.Partition, a.Service, a.Region, a.Account, a.ResourceType, a.Resource)
}

// Name is the resource name inside the ARN (the first segment after the type).
func (a ARN) Name() string {
	name, _, _ := strings.Cut(a.Resource, "/")
	return name
}

// ParseARN parses s; ok is false for anything that is not an ARN of the form above.
func ParseARN(s string) (ARN, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return ARN{}, false
	}
	typ, rest, ok := strings.Cut(parts[5], "/")
	if !ok || typ == "" || rest == "" {
		return ARN{}, false
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], ResourceType: typ, Resource: rest}, true
}

// LogDelivery is the log delivery of a workload's workers (nil when it delivers nowhere):
// a connector's logDelivery.workerLogDelivery or a replicator's
// logDelivery.replicatorLogDelivery, with the region, account and resource of its ARN for the
// S3 key layout.
func LogDelivery(kind string, r *store.Resource) (*agentv1.LogDelivery, error) {
	out := &agentv1.LogDelivery{}
	switch kind {
	case KindConnector:
		d, err := ConnectorDescription(r)
		if err != nil {
			return nil, err
		}
		w := d.GetLogDelivery().GetWorkerLogDelivery()
		out = logDestinations(w.GetCloudWatchLogs(), w.GetFirehose(), w.GetS3())
		out.LogType = "KafkaConnectLogs"
	case KindReplicator:
		d, err := ReplicatorDescription(r)
		if err != nil {
			return nil, err
		}
		w := d.GetLogDelivery().GetReplicatorLogDelivery()
		out = logDestinations(w.GetCloudWatchLogs(), w.GetFirehose(), w.GetS3())
		out.LogType = "KafkaReplicatorLogs"
	default:
		return nil, fmt.Errorf("unknown workload kind %q", kind)
	}
	if out.CloudwatchLogGroup == "" && out.FirehoseDeliveryStream == "" && out.S3Bucket == "" {
		return nil, nil
	}
	a, _ := ParseARN(r.ARN)
	out.Region, out.AccountId = a.Region, a.Account
	out.Resource = strings.ReplaceAll(a.Resource, "/", "-")
	return out, nil
}

// The destinations of a connector's or a replicator's log delivery (the two APIs' shapes have
// the same getters).
type (
	cloudWatchDest interface {
		GetEnabled() bool
		GetLogGroup() string
	}
	firehoseDest interface {
		GetEnabled() bool
		GetDeliveryStream() string
	}
	s3Dest interface {
		GetEnabled() bool
		GetBucket() string
		GetPrefix() string
	}
)

// logDestinations is the enabled destinations of a log delivery.
func logDestinations(c cloudWatchDest, f firehoseDest, s s3Dest) *agentv1.LogDelivery {
	out := &agentv1.LogDelivery{}
	if c.GetEnabled() {
		out.CloudwatchLogGroup = c.GetLogGroup()
	}
	if f.GetEnabled() {
		out.FirehoseDeliveryStream = f.GetDeliveryStream()
	}
	if s.GetEnabled() {
		out.S3Bucket, out.S3Prefix = s.GetBucket(), s.GetPrefix()
	}
	return out
}
