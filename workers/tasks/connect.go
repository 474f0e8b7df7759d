package tasks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/mirror"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/runtime"
)

// ConnectClusterTimeout bounds how long a task of a connector waits, when it starts, for its
// Connect runtime's cluster (the connector's kafkaCluster) to answer and to hold the runtime's
// internal topics. Past it the task fails permanently with CLUSTER_UNREACHABLE naming the
// cluster, and so does the connector.
const ConnectClusterTimeout = 45 * time.Second

// Kafka Connect's partition counts of its internal topics (offset.storage.partitions,
// status.storage.partitions; the config topic has one partition) and its replication factor
// default, capped at the cluster's broker count.
const (
	connectOffsetsPartitions = 25
	connectStatusPartitions  = 5
	connectConfigsPartitions = 1
	connectReplication       = 3
)

// Connect's task and connector states in the status topic.
const (
	stateRunning    = "RUNNING"
	stateFailed     = "FAILED"
	stateUnassigned = "UNASSIGNED"
)

// connectTask runs a connector's task inside its Connect runtime's cluster: before the engine
// starts it checks that the cluster answers (within ConnectClusterTimeout), creates the
// runtime's internal topics there as Kafka Connect does, and writes what a Connect worker
// writes to them — the connector's configuration records (task 0) and the task's status
// (connector's too for task 0) — then keeps the status current: RUNNING, FAILED with the
// error as trace, UNASSIGNED when stopped. The engine itself writes the source offsets.
type connectTask struct {
	runtime.Task
	cc    *mm2.ConnectCluster
	spec  *agentv1.TaskSpec
	env   runtime.TaskEnv
	name  string
	class string
	log   *slog.Logger
}

// inConnect wraps t when the task configuration names a Connect runtime cluster (cc, the
// task's fjord.connect.* keys; nil: none).
func inConnect(t runtime.Task, cc *mm2.ConnectCluster, spec *agentv1.TaskSpec, env runtime.TaskEnv) runtime.Task {
	if cc == nil {
		return t
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := spec.Config["name"]
	if name == "" {
		name = env.Worker.GetWorkloadName()
	}
	return &connectTask{Task: t, cc: cc, spec: spec, env: env, name: name, class: spec.ConnectorClass,
		log: log.With("component", "connect_runtime", "connect_cluster", strings.Join(cc.Bootstrap, ","))}
}

// where names the Connect cluster in errors, with the API member it comes from.
func (t *connectTask) where() string {
	return fmt.Sprintf("the connector's Kafka cluster (kafkaCluster.apacheKafkaCluster.bootstrapServers %s)", strings.Join(t.cc.Bootstrap, ","))
}

func (t *connectTask) Run(ctx context.Context) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(t.cc.Bootstrap...), kgo.WithLogger(runtime.KgoLogger(t.log)),
		kgo.RequiredAcks(kgo.AllISRAcks())}, t.cc.Security.Opts()...)...)
	if err != nil {
		return &runtime.Error{Code: runtime.CodeInvalidConfiguration, Permanent: true, Err: fmt.Errorf("%s: %w", t.where(), err)}
	}
	defer cl.Close()
	if err := t.prepare(ctx, cl); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	t.writeStatus(cl, stateRunning, "")
	err = t.Task.Run(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		t.writeStatus(cl, stateFailed, t.scrub(err.Error()))
	default:
		t.writeStatus(cl, stateUnassigned, "")
	}
	return err
}

// prepare waits for the cluster and creates the internal topics, within ConnectClusterTimeout;
// then task 0 writes the connector's configuration records.
func (t *connectTask) prepare(ctx context.Context, cl *kgo.Client) error {
	pctx, cancel := context.WithTimeout(ctx, ConnectClusterTimeout)
	defer cancel()
	adm := kadm.NewClient(cl)
	var brokers int
	last := errors.New("no answer")
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		md, err := adm.BrokerMetadata(pctx)
		if err == nil {
			brokers = len(md.Brokers)
			break
		}
		if refused := t.securityRefusal(err); refused != nil {
			return refused
		}
		last = err
		select {
		case <-pctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			hint := ""
			if t.cc.Security.TLS() {
				hint = " (kafkaClusterEncryptionInTransit is TLS: do its brokers speak TLS?)"
			}
			return &runtime.Error{Code: catalog.CodeClusterUnreachable, Permanent: true,
				Err: fmt.Errorf("%s did not answer within %s%s: %w", t.where(), ConnectClusterTimeout, hint, last)}
		case <-time.After(backoff):
		}
	}
	rf := int16(max(1, min(connectReplication, brokers)))
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	for _, topic := range []struct {
		name       string
		partitions int32
	}{{t.cc.OffsetsTopic, connectOffsetsPartitions}, {t.cc.ConfigsTopic, connectConfigsPartitions}, {t.cc.StatusTopic, connectStatusPartitions}} {
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
			resp, err := adm.CreateTopic(pctx, topic.partitions, rf, compact, topic.name)
			if err == nil {
				err = resp.Err
			}
			if err == nil {
				t.log.Info("created Connect internal topic", "topic", topic.name, "partitions", topic.partitions, "replication_factor", rf)
				break
			}
			if errors.Is(err, kerr.TopicAlreadyExists) {
				break
			}
			var ke *kerr.Error
			if errors.As(err, &ke) && !ke.Retriable {
				return &runtime.Error{Code: runtime.CodeInvalidConfiguration, Permanent: true,
					Err: fmt.Errorf("%s refused to create the Connect internal topic %s: %w", t.where(), topic.name, err)}
			}
			select {
			case <-pctx.Done():
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return &runtime.Error{Code: catalog.CodeClusterUnreachable, Permanent: true,
					Err: fmt.Errorf("%s: the Connect internal topic %s could not be created within %s: %w", t.where(), topic.name, ConnectClusterTimeout, err)}
			case <-time.After(backoff):
			}
		}
	}
	if t.spec.TaskIndex == 0 {
		t.writeConfigs(pctx, cl)
	}
	return nil
}

// scrub hides from a status trace the values a trace must not show: those of secret keys, and
// those resolved from config-provider references (shown as their reference).
func (t *connectTask) scrub(msg string) string {
	class, _ := catalog.Lookup(t.spec.Config["connector.class"])
	for k, v := range t.spec.Config {
		if len(v) < 3 {
			continue
		}
		if ref, ok := t.cc.ConnectorConfig[k]; ok && ref != v && catalog.HasReference(ref) {
			msg = strings.ReplaceAll(msg, v, ref)
		} else if class.IsSecretKey(k) {
			msg = strings.ReplaceAll(msg, v, "[hidden]")
		}
	}
	return msg
}

// securityRefusal turns a TLS failure with the cluster into a permanent configuration error.
func (t *connectTask) securityRefusal(err error) error {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var rhe tls.RecordHeaderError
	switch {
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &he):
		return &runtime.Error{Code: runtime.CodeInvalidConfiguration, Permanent: true,
			Err: fmt.Errorf("%s: the broker's TLS certificate does not verify with the system's roots (kafkaClusterEncryptionInTransit TLS): %w", t.where(), err)}
	case errors.As(err, &rhe):
		return &runtime.Error{Code: runtime.CodeInvalidConfiguration, Permanent: true,
			Err: fmt.Errorf("%s does not speak TLS (kafkaClusterEncryptionInTransit is TLS): %w", t.where(), err)}
	}
	return nil
}

// connectStatus is a status record's value, as Kafka Connect's KafkaStatusBackingStore writes
// it (JSON, no schema).
type connectStatus struct {
	State      string  `json:"state"`
	Trace      *string `json:"trace"`
	WorkerID   string  `json:"worker_id"`
	Generation int64   `json:"generation"`
}

// writeStatus writes the task's status (and, for task 0, the connector's) to the status topic;
// a failure is logged, never fatal.
func (t *connectTask) writeStatus(cl *kgo.Client, state, trace string) {
	v := connectStatus{State: state, WorkerID: t.env.Worker.GetWorkerId(), Generation: t.env.Worker.GetEpoch()}
	if trace != "" {
		v.Trace = &trace
	}
	val, _ := json.Marshal(v)
	recs := []*kgo.Record{{Topic: t.cc.StatusTopic, Key: []byte("status-task-" + t.name + "-" + strconv.Itoa(int(t.spec.TaskIndex))), Value: val}}
	if t.spec.TaskIndex == 0 {
		cv := connectStatus{State: stateRunning, WorkerID: v.WorkerID, Generation: v.Generation}
		if state == stateUnassigned {
			cv.State = stateUnassigned
		}
		cval, _ := json.Marshal(cv)
		recs = append(recs, &kgo.Record{Topic: t.cc.StatusTopic, Key: []byte("status-connector-" + t.name), Value: cval})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.log.Warn("write Connect status", "topic", t.cc.StatusTopic, "state", state, "error", err)
	}
}

// writeConfigs writes the connector's records to the config topic as Kafka Connect's
// KafkaConfigBackingStore does: target-state-<name>, connector-<name> with the connector's
// configuration, task-<name>-<i> for every task, then commit-<name> with the task count.
//
// The configuration is the one the server sent for the record (mm2.KeyConnectConnectorConfig):
// the connector's own, unresolved — config-provider references stay ${provider:path:key}, as
// Connect stores them — without Fjord's runtime keys and without the values of secret keys
// that are not references (passwords, JAAS configurations), which Connect would store in clear
// text in a topic every client of the cluster can read. The task's own configuration is never
// written: its references are resolved. Without one, only the status is written.
func (t *connectTask) writeConfigs(ctx context.Context, cl *kgo.Client) {
	if t.cc.ConnectorConfig == nil {
		return
	}
	props := make(map[string]string, len(t.cc.ConnectorConfig)+1)
	for k, v := range t.cc.ConnectorConfig {
		props[k] = v
	}
	props["name"] = t.name
	type configValue struct {
		Properties map[string]string `json:"properties"`
	}
	rec := func(key string, v any) *kgo.Record {
		b, _ := json.Marshal(v)
		return &kgo.Record{Topic: t.cc.ConfigsTopic, Key: []byte(key), Value: b, Partition: 0}
	}
	recs := []*kgo.Record{
		rec("target-state-"+t.name, map[string]string{"state": "STARTED", "state.v2": "STARTED"}),
		rec("connector-"+t.name, configValue{props}),
	}
	taskClass := strings.TrimSuffix(t.class, "Connector") + "Task"
	n := max(int(t.spec.TaskCount), 1)
	for i := range n {
		tp := make(map[string]string, len(props)+1)
		for k, v := range props {
			tp[k] = v
		}
		tp["task.class"] = taskClass
		recs = append(recs, rec("task-"+t.name+"-"+strconv.Itoa(i), configValue{tp}))
	}
	recs = append(recs, rec("commit-"+t.name, map[string]int{"tasks": n}))
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.log.Warn("write Connect config records", "topic", t.cc.ConfigsTopic, "error", err)
	}
}

// runtimeOf is the MirrorSource engine's view of the Connect cluster.
func runtimeOf(c mm2.Config, hooks kgo.Opt) *mirror.RuntimeCluster {
	if c.Connect == nil {
		return nil
	}
	return &mirror.RuntimeCluster{Bootstrap: c.Connect.Bootstrap, Opts: append(c.Connect.Security.Opts(), hooks),
		OffsetsTopic: c.Connect.OffsetsTopic, OffsetsPartitions: connectOffsetsPartitions}
}

// progressOf is where a checkpoint task reads the MirrorSource connector's progress: its topic
// and the options of its cluster's client (nil: the defaults, on the target).
func progressOf(c mm2.Config, hooks kgo.Opt) (string, []kgo.Opt) {
	if c.Progress == nil {
		return "", nil
	}
	return c.Progress.Topic, append([]kgo.Opt{kgo.SeedBrokers(c.Progress.Bootstrap...)}, append(c.Progress.Security.Opts(), hooks)...)
}
