package workload

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	kv "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/mm2"
)

// Workload kinds, as in the workers table and WorkerSpec.workload_kind.
const (
	KindConnector  = "connector"
	KindReplicator = "replicator"
)

// Replicators are sized by Fjord (MSK Replicator users never size them): 1-MCU workers, from
// ReplicatorMinWorkers to ReplicatorMaxWorkers, scaled out above ReplicatorScaleOutCPU percent
// average CPU utilization and in below ReplicatorScaleInCPU. A replicator runs
// ReplicatorSourceTasks MirrorSource tasks per worker, plus one checkpoint and one heartbeat
// task.
const (
	ReplicatorSourceTasks = 2
	ReplicatorMinWorkers  = 1
	ReplicatorMaxWorkers  = 4
	ReplicatorScaleOutCPU = 75
	ReplicatorScaleInCPU  = 20
)

// replicatorTasks is a replicator's task count with workers workers: the source tasks, then
// the checkpoint task, then the heartbeat task.
func replicatorTasks(workers int) int { return ReplicatorSourceTasks*max(workers, 1) + 2 }

// CachedShape is BaseShape memoised by (ARN, current version): the scheduler asks for every
// workload's shape on every reconcile, and a shape only changes with a client's change, which
// renews the version.
func (w *Compiler) CachedShape(kind string, r *store.Resource) (scheduler.Shape, error) {
	key := r.ARN + "@" + r.CurrentVersion
	if v, ok := w.shapes.Load(key); ok {
		return v.(scheduler.Shape), nil
	}
	sh, err := BaseShape(kind, r)
	if err != nil {
		return sh, err
	}
	if w.shapeCount.Add(1) > 100_000 {
		w.shapes.Clear() // bounded: stale versions are never asked for again
		w.shapeCount.Store(0)
	}
	w.shapes.Store(key, sh)
	return sh, nil
}

// Shape is the scheduler's ShapeFunc: CachedShape; for a connector a check that its
// worker configuration revision can be read (workerConfigShape); and for a replicator whose clusters
// use SASL/SCRAM a check that every secret can be read, so that a missing secret fails the
// replicator (SECRET_UNAVAILABLE) before any worker is placed. Reads go through the secrets
// cache, so the check costs a Secrets Manager call per secret at most once per secretTTL.
func (w *Compiler) Shape(kind string, r *store.Resource) (scheduler.Shape, error) {
	sh, err := w.CachedShape(kind, r)
	if err != nil || sh.FailCode != "" {
		return sh, err
	}
	if kind == KindConnector {
		if sh = w.workerConfigShape(kind, r, sh); sh.FailCode != "" { // workerconfig.go
			return sh, nil
		}
		return w.connectorProviderShape(r, sh)
	}
	if kind != KindReplicator {
		return sh, nil
	}
	d, err := ReplicatorDescription(r)
	if err != nil {
		return sh, err
	}
	for _, c := range d.KafkaClusters {
		if e := c.GetEncryptionInTransit(); e.GetEncryptionType() == "TLS" && e.GetRootCaCertificate() != "" {
			if _, err := rootCAPEM(e.GetRootCaCertificate()); err != nil {
				return scheduler.Shape{FailCode: catalog.CodeInvalidConfiguration, FailMessage: fmt.Sprintf(
					"encryptionInTransit.rootCaCertificate of Kafka cluster %s %v", c.GetKafkaClusterAlias(), err)}, nil
			}
		}
		sc := c.GetClientAuthentication().GetSaslScram()
		if sc == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
		_, err := w.secrets.scram(ctx, sc.GetSecretArn(), d.GetServiceExecutionRoleArn())
		cancel()
		var se *secretError
		switch {
		case err == nil:
		case errors.As(err, &se) && !se.Transient:
			return scheduler.Shape{FailCode: catalog.CodeSecretUnavailable, FailMessage: fmt.Sprintf(
				"the SASL/SCRAM secret %s of Kafka cluster %s cannot be used: %v", sc.GetSecretArn(), c.GetKafkaClusterAlias(), se.Err)}, nil
		default:
			w.log.Warn("read replicator secret; will retry", "workload_arn", r.ARN, "secret_arn", sc.GetSecretArn(), "error", err)
		}
	}
	return sh, nil
}

// BaseShape derives a workload's worker count, size and task count from its stored description
// alone (Shape adds the checks that read worker configurations and secrets).
func BaseShape(kind string, r *store.Resource) (scheduler.Shape, error) {
	switch kind {
	case KindConnector:
		d, err := ConnectorDescription(r)
		if err != nil {
			return scheduler.Shape{}, err
		}
		class, ok := catalog.Lookup(d.ConnectorConfiguration["connector.class"])
		if !ok {
			return scheduler.Shape{FailCode: catalog.CodeUnknownConnectorClass,
				FailMessage: catalog.UnknownClassError(d.ConnectorConfiguration["connector.class"])}, nil
		}
		// Unset tasks.max: 1 when provisioned, no cap when autoscaled (MSK Connect).
		tasksMax := class.TaskCap(d.ConnectorConfiguration)
		sh := scheduler.Shape{}
		if p := d.GetCapacity().GetProvisionedCapacity(); p != nil {
			sh.Workers, sh.MCU = int(p.GetWorkerCount()), int(p.GetMcuCount())
			sh.Tasks = scheduler.TaskCount(sh.Workers, sh.MCU, tasksMax, 0, false)
		} else if a := d.GetCapacity().GetAutoScaling(); a != nil {
			sh.Workers, sh.MCU = int(a.GetMinWorkerCount()), int(a.GetMcuCount())
			mcu, maxTasks := sh.MCU, int(a.GetMaxAutoscalingTaskCount())
			tasksFor := func(workers int) int { return scheduler.TaskCount(workers, mcu, tasksMax, maxTasks, true) }
			sh.Tasks = tasksFor(sh.Workers)
			sh.Autoscale = &scheduler.AutoscalePolicy{
				MinWorkers: int(a.GetMinWorkerCount()), MaxWorkers: int(a.GetMaxWorkerCount()),
				ScaleOutCPU: float64(a.GetScaleOutPolicy().GetCpuUtilizationPercentage()),
				ScaleInCPU:  float64(a.GetScaleInPolicy().GetCpuUtilizationPercentage()),
				TasksFor:    tasksFor,
			}
		}
		sh.Tasks = max(sh.Tasks, 1)
		if r.TargetState == store.TargetStopped {
			// Stopped through the Connect REST API (KIP-875): no worker, no task, no autoscaling.
			sh.Workers, sh.Tasks, sh.Autoscale = 0, 0, nil
		}
		return sh, nil
	case KindReplicator:
		return scheduler.Shape{Workers: ReplicatorMinWorkers, MCU: 1, Tasks: replicatorTasks(ReplicatorMinWorkers),
			Autoscale: &scheduler.AutoscalePolicy{MinWorkers: ReplicatorMinWorkers, MaxWorkers: ReplicatorMaxWorkers,
				ScaleOutCPU: ReplicatorScaleOutCPU, ScaleInCPU: ReplicatorScaleInCPU, TasksFor: replicatorTasks}}, nil
	}
	return scheduler.Shape{}, fmt.Errorf("unknown workload kind %q", kind)
}

// KeyConnectRestart is the task key counting the restarts of the task asked for through the
// Kafka Connect REST API (store.RestartConnectorTasks). It is a runtime key (fjord.connect.*):
// never part of the connector's own configuration.
const KeyConnectRestart = mm2.ConnectPrefix + "restart"

// Delivery guarantees of replicators: the tag DeliveryTag on a replicator, or the compiler's
// Config.ReplicatorDelivery default.
const (
	DeliveryTag         = "fjord:delivery"
	DeliveryExactlyOnce = "exactly-once"
	DeliveryAtLeastOnce = "at-least-once"
)

// TaskSpecs builds the TaskSpecs of the given task ids of a workload, numbered among count
// tasks (the count the worker's assignment was made for; 0 takes the current shape's).
func (w *Compiler) TaskSpecs(ctx context.Context, kind string, r *store.Resource, ids []int, count int) ([]*agentv1.TaskSpec, error) {
	if count <= 0 {
		sh, err := BaseShape(kind, r)
		if err != nil {
			return nil, err
		}
		count = sh.Tasks
	}
	switch kind {
	case KindConnector:
		if r.TargetState != "" {
			// Paused (or stopped) through the Connect REST API: the worker keeps its assignment
			// and runs none of it; it stopped its tasks, which recorded their progress.
			return nil, nil
		}
		d, err := ConnectorDescription(r)
		if err != nil {
			return nil, err
		}
		restarts, err := w.st.ConnectorTaskRestarts(ctx, r.ARN)
		if err != nil {
			return nil, err
		}
		class := d.ConnectorConfiguration["connector.class"]
		if c, ok := catalog.Lookup(class); ok {
			class = c.Name
		}
		// The worker configuration merged under the connector's keys (workerconfig.go), the
		// runtime's defaults, then config-provider declarations and Secrets Manager values
		// (providers.go) over the merged keys.
		base, err := w.connectorTaskConfig(ctx, d)
		if err != nil {
			return nil, err
		}
		base = WithRuntimeDefaults(base, d.GetKafkaCluster().GetApacheKafkaCluster().GetBootstrapServers())
		if err := w.resolveConfigProviders(ctx, r, d, base); err != nil {
			return nil, err
		}
		var out []*agentv1.TaskSpec
		for _, id := range ids {
			conf := map[string]string{"name": d.GetConnectorName()}
			for k, v := range base {
				conf[k] = v
			}
			withServiceRole(conf, d.GetServiceExecutionRoleArn())
			t := &agentv1.TaskSpec{TaskId: int32(id), ConnectorClass: class, Config: conf,
				TaskIndex: int32(id), TaskCount: int32(count)}
			if conf["exactly.once.support"] == "required" {
				t.TransactionalId = catalog.TransactionalIDForARN(r.ARN, id)
			}
			if err := w.addConnectRuntime(ctx, r, d, t); err != nil {
				return nil, err
			}
			if n := restarts[id]; n > 0 {
				// A restart asked for through the Connect REST API: a new specification, which
				// the agent answers by restarting the worker.
				t.Config[KeyConnectRestart] = strconv.FormatInt(n, 10)
			}
			out = append(out, t)
		}
		return out, nil
	case KindReplicator:
		d, err := ReplicatorDescription(r)
		if err != nil {
			return nil, err
		}
		base, err := w.replicatorConfig(ctx, r, d)
		if err != nil {
			return nil, err
		}
		tags, err := w.st.Tags(ctx, r.ARN)
		if err != nil {
			return nil, err
		}
		// Replicators deliver exactly once unless Config.ReplicatorDelivery or the replicator's
		// fjord:delivery tag says at-least-once.
		exactlyOnce := w.cfg.ReplicatorDelivery != DeliveryAtLeastOnce
		switch tags[DeliveryTag] {
		case DeliveryExactlyOnce:
			exactlyOnce = true
		case DeliveryAtLeastOnce:
			exactlyOnce = false
		}
		var out []*agentv1.TaskSpec
		for _, id := range ids {
			conf := map[string]string{}
			for k, v := range base {
				conf[k] = v
			}
			withServiceRole(conf, d.GetServiceExecutionRoleArn())
			t := &agentv1.TaskSpec{TaskId: int32(id), Config: conf}
			sources := max(count-2, 1)
			switch {
			case id < sources:
				t.ConnectorClass, t.TaskIndex, t.TaskCount = catalog.MirrorSource, int32(id), int32(sources)
				if exactlyOnce {
					conf["exactly.once.support"] = "required"
					t.TransactionalId = catalog.TransactionalIDForARN(r.ARN, id)
				}
			case id == sources:
				t.ConnectorClass, t.TaskIndex, t.TaskCount = catalog.MirrorCheckpoint, 0, 1
			default:
				t.ConnectorClass, t.TaskIndex, t.TaskCount = catalog.MirrorHeartbeat, 0, 1
			}
			out = append(out, t)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown workload kind %q", kind)
}

// withServiceRole sets the workload's serviceExecutionRoleArn as the runtime key
// mm2.KeyServiceExecutionRole, over any value the configuration brought: AWS_MSK_IAM clients
// without an awsRoleArn of their own sign with it.
func withServiceRole(conf map[string]string, role string) {
	delete(conf, mm2.KeyServiceExecutionRole)
	if role != "" {
		conf[mm2.KeyServiceExecutionRole] = role
	}
}

// replicatorConfig maps a replicator's ReplicationInfo to MirrorMaker 2 keys.
func (w *Compiler) replicatorConfig(ctx context.Context, r *store.Resource, d *kv.DescribeReplicatorResponse) (map[string]string, error) {
	if len(d.ReplicationInfoList) == 0 {
		return nil, fmt.Errorf("replicator %s has no replication info", r.ARN)
	}
	ri := d.ReplicationInfoList[0]
	bootstrap, err := w.replicatorBootstraps(ctx, r, d)
	if err != nil {
		return nil, err
	}
	src, dst := ri.GetSourceKafkaClusterAlias(), ri.GetTargetKafkaClusterAlias()
	tr, gr := ri.GetTopicReplication(), ri.GetConsumerGroupReplication()
	conf := map[string]string{
		"name":                                  r.Name,
		"source.cluster.alias":                  src,
		"target.cluster.alias":                  dst,
		"source.cluster.bootstrap.servers":      bootstrap[src],
		"target.cluster.bootstrap.servers":      bootstrap[dst],
		"topics":                                strings.Join(tr.GetTopicsToReplicate(), ","),
		"refresh.topics.enabled":                strconv.FormatBool(tr.GetDetectAndCopyNewTopics()),
		"sync.topic.configs.enabled":            strconv.FormatBool(tr.GetCopyTopicConfigurations()),
		"sync.topic.acls.enabled":               strconv.FormatBool(tr.GetCopyAccessControlListsForTopics()),
		"groups":                                strings.Join(gr.GetConsumerGroupsToReplicate(), ","),
		"refresh.groups.enabled":                strconv.FormatBool(gr.GetDetectAndCopyNewConsumerGroups()),
		"sync.group.offsets.enabled":            strconv.FormatBool(gr.GetSynchroniseConsumerGroupOffsets()),
		"emit.checkpoints.enabled":              "true",
		"emit.heartbeats.enabled":               "true",
		"consumer.auto.offset.reset":            strings.ToLower(tr.GetStartingPosition().GetType()),
		"fjord.consumer.group.offset.sync.mode": gr.GetConsumerGroupOffsetSyncMode(),
		// New topics, partitions, configs, ACLs and groups reach the target within 5 s (MSK
		// Replicator: 30 s; MM2: 10 min): each is found within an interval plus a round.
		"refresh.topics.interval.seconds":     "4",
		"sync.topic.configs.interval.seconds": "4",
		"sync.topic.acls.interval.seconds":    "4",
		"refresh.groups.interval.seconds":     "4",
		"emit.checkpoints.interval.seconds":   "4",
		"sync.group.offsets.interval.seconds": "5",
		// Only this replicator's progress vouches for its translations.
		"fjord.source.connector": r.Name,
	}
	if gr.GetConsumerGroupOffsetSyncMode() == "ENHANCED" {
		// Failback translates through the history of the replicator in the opposite
		// direction: only its progress may vouch for it.
		peer, err := w.reverseReplicator(ctx, r, bootstrap[src], bootstrap[dst])
		if err != nil {
			return nil, err
		}
		if peer != "" {
			conf["fjord.peer.connector"] = peer
		}
	}
	if c := ri.GetTargetCompressionType(); c != "" {
		conf["producer.compression.type"] = strings.ToLower(c)
	}
	if len(tr.GetTopicsToExclude()) > 0 {
		conf["topics.exclude"] = strings.Join(tr.GetTopicsToExclude(), ",")
	}
	if len(gr.GetConsumerGroupsToExclude()) > 0 {
		conf["groups.exclude"] = strings.Join(gr.GetConsumerGroupsToExclude(), ",")
	}
	if tr.GetTopicNameConfiguration().GetType() == "IDENTICAL" {
		conf["replication.policy.class"] = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
	} else {
		conf["replication.policy.class"] = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
		conf["replication.policy.separator"] = "."
	}
	// Client security per cluster; SCRAM credentials are read from the secret here, at
	// task-spec time, and never stored (secrets.go).
	for _, c := range d.KafkaClusters {
		prefix := ""
		switch c.GetKafkaClusterAlias() {
		case src:
			prefix = "source.cluster."
		case dst:
			prefix = "target.cluster."
		default:
			continue
		}
		if err := w.clusterSecurityConfig(ctx, c, prefix, d.GetServiceExecutionRoleArn(), conf); err != nil {
			return nil, fmt.Errorf("replicator %s: %w", r.ARN, err)
		}
		if m := c.GetAmazonMskCluster(); m != nil {
			cl, err := w.st.Cluster(ctx, r.AccountID, r.Region, m.GetMskClusterArn())
			if err != nil {
				return nil, fmt.Errorf("cluster %s of replicator %s: %w", m.GetMskClusterArn(), r.ARN, err)
			}
			mskSecurityConfig(cl, prefix, conf)
		}
	}
	return conf, nil
}

// mskBootstrap picks the bootstrap string a replicator uses for a registered (MSK) cluster:
// SASL/IAM when the cluster offers it, as MSK Replicator always does, else plaintext, else
// TLS. kind is "IAM", "PLAINTEXT" or "TLS".
func mskBootstrap(cl *store.Cluster) (servers, kind string) {
	switch {
	case cl.BootstrapServersSaslIam != "":
		return cl.BootstrapServersSaslIam, "IAM"
	case cl.BootstrapServers != "":
		return cl.BootstrapServers, "PLAINTEXT"
	case cl.BootstrapServersTLS != "":
		return cl.BootstrapServersTLS, "TLS"
	}
	return cl.BootstrapServersSaslScram, "PLAINTEXT" // SCRAM needs a secret MSK Replicator never has
}

// mskSecurityConfig sets the client keys of a registered cluster under prefix: AWS_MSK_IAM
// over TLS with the replicator's service execution role (mm2.KeyServiceExecutionRole), or TLS,
// trusting the cluster's registered root CA when it has one.
func mskSecurityConfig(cl *store.Cluster, prefix string, conf map[string]string) {
	_, kind := mskBootstrap(cl)
	switch kind {
	case "IAM":
		conf[prefix+"security.protocol"] = mm2.ProtocolSASLSSL
		conf[prefix+"sasl.mechanism"] = mm2.MechanismIAM
		conf[prefix+"sasl.jaas.config"] = mm2.IAMLoginModule + " required;"
		conf[prefix+"sasl.client.callback.handler.class"] = mm2.IAMCallbackHandler
	case "TLS":
		conf[prefix+"security.protocol"] = mm2.ProtocolSSL
	default:
		return
	}
	if cl.TLSRootCA != "" {
		conf[prefix+"ssl.truststore.type"] = "PEM"
		conf[prefix+"ssl.truststore.certificates"] = cl.TLSRootCA
	}
}

// replicatorBootstraps resolves a replicator's clusters to bootstrap servers by alias.
func (w *Compiler) replicatorBootstraps(ctx context.Context, r *store.Resource, d *kv.DescribeReplicatorResponse) (map[string]string, error) {
	bootstrap := map[string]string{}
	for _, c := range d.KafkaClusters {
		alias := c.GetKafkaClusterAlias()
		if m := c.GetAmazonMskCluster(); m != nil {
			cl, err := w.st.Cluster(ctx, r.AccountID, r.Region, m.GetMskClusterArn())
			if err != nil {
				return nil, fmt.Errorf("cluster %s of replicator %s: %w", m.GetMskClusterArn(), r.ARN, err)
			}
			bootstrap[alias], _ = mskBootstrap(cl)
		} else {
			bootstrap[alias] = c.GetApacheKafkaCluster().GetBootstrapBrokerString()
		}
	}
	return bootstrap, nil
}

// reverseReplicator names the replicator of r's account and region that copies from target to
// source (r's clusters the other way round), or "" if there is none.
func (w *Compiler) reverseReplicator(ctx context.Context, r *store.Resource, source, target string) (string, error) {
	all, err := w.st.Replicators.All(ctx)
	if err != nil {
		return "", err
	}
	for _, o := range all {
		if o.ARN == r.ARN || o.AccountID != r.AccountID || o.Region != r.Region || o.State == "DELETING" {
			continue
		}
		d, err := ReplicatorDescription(o)
		if err != nil || len(d.ReplicationInfoList) == 0 {
			continue
		}
		b, err := w.replicatorBootstraps(ctx, o, d)
		if err != nil {
			continue // a cluster deregistered since: not a peer to trust
		}
		ri := d.ReplicationInfoList[0]
		if b[ri.GetSourceKafkaClusterAlias()] == target && b[ri.GetTargetKafkaClusterAlias()] == source {
			return o.Name, nil
		}
	}
	return "", nil
}
