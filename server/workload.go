package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	kv "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/store"
)

// The connector classes Fjord runs natively (DESIGN.md §5).
const (
	ClassMirrorSource     = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
	ClassMirrorCheckpoint = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
	ClassMirrorHeartbeat  = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"
)

// SupportedConnectorClasses lists them, sorted.
var SupportedConnectorClasses = []string{ClassMirrorCheckpoint, ClassMirrorHeartbeat, ClassMirrorSource}

// Workload kinds, as in the workers table and WorkerSpec.workload_kind.
const (
	KindConnector  = "connector"
	KindReplicator = "replicator"
)

// ReplicatorSourceTasks is how many MirrorSource tasks a replicator runs; MSK Replicator users
// never size replicators, so Fjord fixes it (with one checkpoint and one heartbeat task).
const ReplicatorSourceTasks = 2

// cachedShape is Shape memoised by (ARN, current version): the scheduler asks for every
// workload's shape on every reconcile, and a shape only changes with a client's change, which
// renews the version.
func (s *Server) cachedShape(kind string, r *store.Resource) (scheduler.Shape, error) {
	key := r.ARN + "@" + r.CurrentVersion
	if v, ok := s.shapes.Load(key); ok {
		return v.(scheduler.Shape), nil
	}
	sh, err := Shape(kind, r)
	if err != nil {
		return sh, err
	}
	if s.shapeCount.Add(1) > 100_000 {
		s.shapes.Clear() // bounded: stale versions are never asked for again
		s.shapeCount.Store(0)
	}
	s.shapes.Store(key, sh)
	return sh, nil
}

// Shape derives a workload's worker count, size and task count from its stored description.
func Shape(kind string, r *store.Resource) (scheduler.Shape, error) {
	switch kind {
	case KindConnector:
		d, err := connectorDescription(r)
		if err != nil {
			return scheduler.Shape{}, err
		}
		class := d.ConnectorConfiguration["connector.class"]
		if !contains(SupportedConnectorClasses, class) {
			return scheduler.Shape{FailCode: "UNKNOWN_CONNECTOR_CLASS", FailMessage: fmt.Sprintf(
				"connector.class %s is not supported; Fjord runs %s", class, strings.Join(SupportedConnectorClasses, ", "))}, nil
		}
		tasksMax := 1
		if v, ok := d.ConnectorConfiguration["tasks.max"]; ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				tasksMax = n
			}
		}
		sh := scheduler.Shape{}
		if p := d.GetCapacity().GetProvisionedCapacity(); p != nil {
			sh.Workers, sh.MCU, sh.Tasks = int(p.GetWorkerCount()), int(p.GetMcuCount()), tasksMax
		} else if a := d.GetCapacity().GetAutoScaling(); a != nil {
			sh.Workers, sh.MCU = int(a.GetMinWorkerCount()), int(a.GetMcuCount())
			sh.Tasks = min(sh.Workers*sh.MCU*2, tasksMax)
			if m := int(a.GetMaxAutoscalingTaskCount()); m > 0 {
				sh.Tasks = min(sh.Tasks, m)
			}
		}
		if class == ClassMirrorHeartbeat {
			sh.Tasks = 1 // MM2 runs one heartbeat task whatever tasks.max says
		}
		sh.Tasks = max(sh.Tasks, 1)
		return sh, nil
	case KindReplicator:
		return scheduler.Shape{Workers: 1, MCU: 1, Tasks: ReplicatorSourceTasks + 2}, nil
	}
	return scheduler.Shape{}, fmt.Errorf("unknown workload kind %q", kind)
}

// taskSpecs builds the TaskSpecs of the given task ids of a workload.
func (s *Server) taskSpecs(ctx context.Context, kind string, r *store.Resource, ids []int) ([]*agentv1.TaskSpec, error) {
	switch kind {
	case KindConnector:
		d, err := connectorDescription(r)
		if err != nil {
			return nil, err
		}
		sh, err := Shape(kind, r)
		if err != nil {
			return nil, err
		}
		var out []*agentv1.TaskSpec
		for _, id := range ids {
			conf := map[string]string{"name": d.GetConnectorName()}
			for k, v := range d.ConnectorConfiguration {
				conf[k] = v
			}
			t := &agentv1.TaskSpec{TaskId: int32(id), ConnectorClass: conf["connector.class"], Config: conf,
				TaskIndex: int32(id), TaskCount: int32(sh.Tasks)}
			if conf["exactly.once.support"] == "required" {
				t.TransactionalId = transactionalID(r.ARN, id)
			}
			out = append(out, t)
		}
		return out, nil
	case KindReplicator:
		d, err := replicatorDescription(r)
		if err != nil {
			return nil, err
		}
		base, err := s.replicatorConfig(ctx, r, d)
		if err != nil {
			return nil, err
		}
		tags, err := s.st.Tags(ctx, r.ARN)
		if err != nil {
			return nil, err
		}
		exactlyOnce := tags["fjord:delivery"] == "exactly-once"
		var out []*agentv1.TaskSpec
		for _, id := range ids {
			conf := map[string]string{}
			for k, v := range base {
				conf[k] = v
			}
			t := &agentv1.TaskSpec{TaskId: int32(id), Config: conf}
			switch {
			case id < ReplicatorSourceTasks:
				t.ConnectorClass, t.TaskIndex, t.TaskCount = ClassMirrorSource, int32(id), ReplicatorSourceTasks
				if exactlyOnce {
					conf["exactly.once.support"] = "required"
					t.TransactionalId = transactionalID(r.ARN, id)
				}
			case id == ReplicatorSourceTasks:
				t.ConnectorClass, t.TaskIndex, t.TaskCount = ClassMirrorCheckpoint, 0, 1
			default:
				t.ConnectorClass, t.TaskIndex, t.TaskCount = ClassMirrorHeartbeat, 0, 1
			}
			out = append(out, t)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown workload kind %q", kind)
}

// transactionalID is the Kafka transactional id of a workload's task: stable across moves, so
// that a task's newer incarnation fences the older one.
func transactionalID(workloadARN string, task int) string {
	a, _ := ParseARN(workloadARN)
	return fmt.Sprintf("fjord-%s-%s-task-%d", a.ResourceType, strings.ReplaceAll(a.Resource, "/", "-"), task)
}

// replicatorConfig maps a replicator's ReplicationInfo to MirrorMaker 2 keys.
func (s *Server) replicatorConfig(ctx context.Context, r *store.Resource, d *kv.DescribeReplicatorResponse) (map[string]string, error) {
	if len(d.ReplicationInfoList) == 0 {
		return nil, fmt.Errorf("replicator %s has no replication info", r.ARN)
	}
	ri := d.ReplicationInfoList[0]
	bootstrap := map[string]string{}
	for _, c := range d.KafkaClusters {
		alias := c.GetKafkaClusterAlias()
		if m := c.GetAmazonMskCluster(); m != nil {
			cl, err := s.st.Cluster(ctx, r.AccountID, r.Region, m.GetMskClusterArn())
			if err != nil {
				return nil, fmt.Errorf("cluster %s of replicator %s: %w", m.GetMskClusterArn(), r.ARN, err)
			}
			bootstrap[alias] = cl.BootstrapServers
		} else {
			bootstrap[alias] = c.GetApacheKafkaCluster().GetBootstrapBrokerString()
		}
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
		"producer.compression.type":             strings.ToLower(ri.GetTargetCompressionType()),
		"fjord.consumer.group.offset.sync.mode": gr.GetConsumerGroupOffsetSyncMode(),
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
	return conf, nil
}
