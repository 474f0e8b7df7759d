package server

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/fjord-io/fjord/proto/awsmodel"
	kv "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// kafkaService implements the MSK operations Fjord serves: MSK Replicator, tags, and the
// read side of the cluster registry.
type kafkaService struct {
	kv.UnimplementedKafkaServer
	s *Server
}

const kafkaSvc = awsmodel.Kafka

func (k *kafkaService) validate(op string, m proto.Message) error { return k.s.kValid.Request(op, m) }

// ---- replicators ----

// clusterRef is one of a replicator's clusters, resolved.
type clusterRef struct {
	arn, id, alias string
}

func (k *kafkaService) CreateReplicator(ctx context.Context, req *kv.CreateReplicatorRequest) (*kv.CreateReplicatorResponse, error) {
	s := k.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.validate("CreateReplicator", req); err != nil {
		return nil, err
	}
	if err := checkTags(req.GetTags()); err != nil {
		return nil, err
	}
	if _, ok := workload.ParseARN(req.GetServiceExecutionRoleArn()); !ok {
		return nil, apierr.BadRequest("serviceExecutionRoleArn", "serviceExecutionRoleArn must be an IAM role ARN")
	}
	if len(req.KafkaClusters) != 2 {
		return nil, apierr.BadRequest("kafkaClusters", "kafkaClusters must list exactly two clusters, the source and the target")
	}
	if len(req.ReplicationInfoList) != 1 {
		return nil, apierr.BadRequest("replicationInfoList", "replicationInfoList must have exactly one entry")
	}
	refs := make([]clusterRef, len(req.KafkaClusters))
	for i, c := range req.KafkaClusters {
		member := fmt.Sprintf("kafkaClusters.%d", i+1)
		ref, err := k.resolveCluster(ctx, caller, c, member)
		if err != nil {
			return nil, err
		}
		refs[i] = ref
	}
	if (refs[0].arn != "" && refs[0].arn == refs[1].arn) || (refs[0].id != "" && refs[0].id == refs[1].id) {
		return nil, apierr.BadRequest("kafkaClusters", "kafkaClusters must name two different clusters")
	}
	doc := &kv.DescribeReplicatorResponse{}
	project(doc, req)
	doc.Tags = nil
	doc.ReplicatorDescription = req.Description
	for i, c := range doc.KafkaClusters {
		c.KafkaClusterAlias = proto.String(refs[i].alias)
	}
	for i, ri := range req.ReplicationInfoList {
		member := fmt.Sprintf("replicationInfoList.%d", i+1)
		src, err := pickCluster(refs, ri.GetSourceKafkaClusterArn(), ri.GetSourceKafkaClusterId(), member+".sourceKafkaCluster")
		if err != nil {
			return nil, err
		}
		dst, err := pickCluster(refs, ri.GetTargetKafkaClusterArn(), ri.GetTargetKafkaClusterId(), member+".targetKafkaCluster")
		if err != nil {
			return nil, err
		}
		if src == dst {
			return nil, apierr.BadRequest(member, "%s: the source and target clusters must differ", member)
		}
		if len(ri.GetTopicReplication().GetTopicsToReplicate()) == 0 {
			return nil, apierr.BadRequest(member+".topicReplication.topicsToReplicate", "%s.topicReplication.topicsToReplicate must list at least one topic pattern", member)
		}
		if err := checkPatterns(ri.GetTopicReplication().GetTopicsToReplicate(), member+".topicReplication.topicsToReplicate"); err != nil {
			return nil, err
		}
		if err := checkPatterns(ri.GetTopicReplication().GetTopicsToExclude(), member+".topicReplication.topicsToExclude"); err != nil {
			return nil, err
		}
		if err := checkPatterns(ri.GetConsumerGroupReplication().GetConsumerGroupsToReplicate(), member+".consumerGroupReplication.consumerGroupsToReplicate"); err != nil {
			return nil, err
		}
		if err := checkPatterns(ri.GetConsumerGroupReplication().GetConsumerGroupsToExclude(), member+".consumerGroupReplication.consumerGroupsToExclude"); err != nil {
			return nil, err
		}
		d := doc.ReplicationInfoList[i]
		d.SourceKafkaClusterAlias = proto.String(refs[src].alias)
		d.TargetKafkaClusterAlias = proto.String(refs[dst].alias)
		fillReplicationDefaults(d)
	}
	arn := newARN(kafkaSvc, caller.Region, caller.AccountID, rtReplicator, req.GetReplicatorName())
	doc.ReplicatorArn = proto.String(arn)
	doc.ReplicatorResourceArn = proto.String(arn)
	doc.IsReplicatorReference = proto.Bool(false)
	res := &store.Resource{ARN: arn, AccountID: caller.AccountID, Region: caller.Region, Name: req.GetReplicatorName(),
		State: stateCreating, Doc: workload.EncodeDoc(doc)}
	if err := s.st.Replicators.Create(ctx, res, req.GetTags(), nil); err != nil {
		return nil, s.storeErr(ctx, err, "replicator "+req.GetReplicatorName())
	}
	s.trigger()
	return &kv.CreateReplicatorResponse{ReplicatorArn: proto.String(arn), ReplicatorName: req.ReplicatorName, ReplicatorState: proto.String(stateCreating)}, nil
}

// resolveCluster checks one of a replicator's clusters: exactly one of amazonMskCluster (a
// registered cluster of the caller's account) and apacheKafkaCluster (id + bootstrap servers).
// The alias is the registered cluster's name, or the Apache Kafka cluster's id.
func (k *kafkaService) resolveCluster(ctx context.Context, caller Caller, c *kv.KafkaCluster, member string) (clusterRef, error) {
	if (c.AmazonMskCluster == nil) == (c.ApacheKafkaCluster == nil) {
		return clusterRef{}, apierr.BadRequest(member, "%s must set exactly one of amazonMskCluster and apacheKafkaCluster", member)
	}
	if err := checkClusterSecurity(c, member, caller.AccountID); err != nil {
		return clusterRef{}, err
	}
	if m := c.AmazonMskCluster; m != nil {
		arn := m.GetMskClusterArn()
		if _, err := resourceARN(caller, arn, member+".amazonMskCluster.mskClusterArn", kafkaSvc, rtCluster); err != nil {
			return clusterRef{}, err
		}
		cl, err := k.s.st.Cluster(ctx, caller.AccountID, caller.Region, arn)
		if err != nil {
			return clusterRef{}, k.s.storeErr(ctx, err, "cluster "+arn)
		}
		return clusterRef{arn: arn, alias: cl.Name}, nil
	}
	a := c.ApacheKafkaCluster
	if !aliasRE.MatchString(a.GetApacheKafkaClusterId()) {
		return clusterRef{}, apierr.BadRequest(member+".apacheKafkaCluster.apacheKafkaClusterId",
			"%s.apacheKafkaCluster.apacheKafkaClusterId must be 1 to 64 letters, digits, '-' or '_'", member)
	}
	if err := checkBootstrapServers(a.GetBootstrapBrokerString(), member+".apacheKafkaCluster.bootstrapBrokerString"); err != nil {
		return clusterRef{}, err
	}
	return clusterRef{id: a.GetApacheKafkaClusterId(), alias: a.GetApacheKafkaClusterId()}, nil
}

// aliasRE bounds an Apache Kafka cluster id, which becomes a topic-name prefix.
var aliasRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// pickCluster finds the cluster a replication info names by ARN or id.
func pickCluster(refs []clusterRef, arn, id, member string) (int, error) {
	if (arn == "") == (id == "") {
		return 0, apierr.BadRequest(member+"Arn", "%sArn or %sId must be given (exactly one)", member, member)
	}
	for i, r := range refs {
		if (arn != "" && r.arn == arn) || (id != "" && r.id == id) {
			return i, nil
		}
	}
	if arn != "" {
		return 0, apierr.BadRequest(member+"Arn", "%sArn %s is not one of kafkaClusters", member, arn)
	}
	return 0, apierr.BadRequest(member+"Id", "%sId %s is not one of kafkaClusters", member, id)
}

// checkPatterns compiles each pattern. MSK takes Java regular expressions; Fjord takes RE2
// (Go) syntax, which covers them but for look-arounds and back-references.
func checkPatterns(patterns []string, member string) error {
	for i, p := range patterns {
		if _, err := regexp.Compile("^(?:" + p + ")$"); err != nil {
			return apierr.BadRequest(member, "%s.%d is not a valid regular expression (RE2 syntax): %v", member, i+1, err)
		}
	}
	return nil
}

// fillReplicationDefaults shows MSK Replicator's defaults in the description.
func fillReplicationDefaults(d *kv.ReplicationInfoDescription) {
	t := d.TopicReplication
	if t == nil {
		t = &kv.TopicReplication{}
		d.TopicReplication = t
	}
	if t.StartingPosition == nil || t.StartingPosition.Type == nil {
		t.StartingPosition = &kv.ReplicationStartingPosition{Type: proto.String("LATEST")}
	}
	if t.TopicNameConfiguration == nil || t.TopicNameConfiguration.Type == nil {
		t.TopicNameConfiguration = &kv.ReplicationTopicNameConfiguration{Type: proto.String("PREFIXED_WITH_SOURCE_CLUSTER_ALIAS")}
	}
	for _, b := range []**bool{&t.CopyAccessControlListsForTopics, &t.CopyTopicConfigurations, &t.DetectAndCopyNewTopics} {
		if *b == nil {
			*b = proto.Bool(true)
		}
	}
	g := d.ConsumerGroupReplication
	if g == nil {
		g = &kv.ConsumerGroupReplication{}
		d.ConsumerGroupReplication = g
	}
	for _, b := range []**bool{&g.DetectAndCopyNewConsumerGroups, &g.SynchroniseConsumerGroupOffsets} {
		if *b == nil {
			*b = proto.Bool(true)
		}
	}
	if g.ConsumerGroupOffsetSyncMode == nil {
		g.ConsumerGroupOffsetSyncMode = proto.String("LEGACY")
	}
}

func (k *kafkaService) DescribeReplicator(ctx context.Context, req *kv.DescribeReplicatorRequest) (*kv.DescribeReplicatorResponse, error) {
	s := k.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.validate("DescribeReplicator", req); err != nil {
		return nil, err
	}
	arn := req.GetReplicatorArn()
	if _, err := resourceARN(caller, arn, "replicatorArn", kafkaSvc, rtReplicator); err != nil {
		return nil, err
	}
	r, err := s.st.Replicators.Get(ctx, caller.AccountID, caller.Region, arn)
	if err != nil {
		return nil, s.storeErr(ctx, err, "replicator "+arn)
	}
	out, err := workload.ReplicatorDescription(r)
	if err != nil {
		return nil, s.storeErr(ctx, err, "replicator "+arn)
	}
	if out.Tags, err = s.st.Tags(ctx, arn); err != nil {
		return nil, s.storeErr(ctx, err, "replicator "+arn)
	}
	return out, nil
}

func (k *kafkaService) ListReplicators(ctx context.Context, req *kv.ListReplicatorsRequest) (*kv.ListReplicatorsResponse, error) {
	s := k.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.validate("ListReplicators", req); err != nil {
		return nil, err
	}
	out := &kv.ListReplicatorsResponse{}
	next, err := s.listResources(ctx, caller, s.st.Replicators, "replicators", req.GetReplicatorNameFilter(), "", req.NextToken, pageSize(req.MaxResults),
		func(r *store.Resource) error {
			d, err := workload.ReplicatorDescription(r)
			if err != nil {
				return err
			}
			sum := &kv.ReplicatorSummary{}
			project(sum, d)
			for _, c := range d.KafkaClusters {
				cs := &kv.KafkaClusterSummary{}
				project(cs, c)
				sum.KafkaClustersSummary = append(sum.KafkaClustersSummary, cs)
			}
			for _, ri := range d.ReplicationInfoList {
				sum.ReplicationInfoSummaryList = append(sum.ReplicationInfoSummaryList, &kv.ReplicationInfoSummary{
					SourceKafkaClusterAlias: ri.SourceKafkaClusterAlias, TargetKafkaClusterAlias: ri.TargetKafkaClusterAlias,
				})
			}
			out.Replicators = append(out.Replicators, sum)
			return nil
		})
	out.NextToken = next
	return out, err
}

func (k *kafkaService) UpdateReplicationInfo(ctx context.Context, req *kv.UpdateReplicationInfoRequest) (*kv.UpdateReplicationInfoResponse, error) {
	s := k.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.validate("UpdateReplicationInfo", req); err != nil {
		return nil, err
	}
	arn := req.GetReplicatorArn()
	if _, err := resourceARN(caller, arn, "replicatorArn", kafkaSvc, rtReplicator); err != nil {
		return nil, err
	}
	if req.TopicReplication == nil && req.ConsumerGroupReplication == nil && req.LogDelivery == nil {
		return nil, apierr.BadRequest("topicReplication", "UpdateReplicationInfo needs at least one of topicReplication, consumerGroupReplication and logDelivery")
	}
	if req.LogDelivery != nil && (req.TopicReplication != nil || req.ConsumerGroupReplication != nil) {
		return nil, apierr.BadRequest("logDelivery", "logDelivery cannot be updated in the same request as topicReplication or consumerGroupReplication: update them in separate requests")
	}
	if t := req.TopicReplication; t != nil {
		if err := checkPatterns(t.TopicsToReplicate, "topicReplication.topicsToReplicate"); err != nil {
			return nil, err
		}
		if err := checkPatterns(t.TopicsToExclude, "topicReplication.topicsToExclude"); err != nil {
			return nil, err
		}
	}
	if g := req.ConsumerGroupReplication; g != nil {
		if err := checkPatterns(g.ConsumerGroupsToReplicate, "consumerGroupReplication.consumerGroupsToReplicate"); err != nil {
			return nil, err
		}
		if err := checkPatterns(g.ConsumerGroupsToExclude, "consumerGroupReplication.consumerGroupsToExclude"); err != nil {
			return nil, err
		}
	}
	a, _ := workload.ParseARN(arn)
	op := &store.Operation{ARN: workload.ARN{Partition: "aws", Service: kafkaSvc, Region: caller.Region, Account: caller.AccountID,
		ResourceType: rtReplicatorOp, Resource: a.Name() + "/" + uuid.NewString()}.String(),
		ConnectorARN: arn, AccountID: caller.AccountID, State: "UPDATE_IN_PROGRESS", Replicator: true}
	// The new replication info is stored here, with the operation that brings it to the
	// workers (server/workload/replicatorupdate.go) and the UPDATING state, in one transaction: a refused
	// update writes nothing.
	updated, err := s.st.Replicators.Update(ctx, caller.AccountID, caller.Region, arn,
		store.UpdateOptions{ExpectVersion: req.GetCurrentVersion(), Operation: op},
		func(r *store.Resource) error {
			switch r.State {
			case stateDeleting, stateFailed:
				return apierr.BadRequest("replicatorArn", "replicator %s is %s and cannot be updated", arn, r.State)
			case stateUpdating:
				return apierr.BadRequest("replicatorArn", "replicator %s is UPDATING: a previous update is still being applied; retry once it is RUNNING", arn)
			}
			d, err := workload.ReplicatorDescription(r)
			if err != nil {
				return err
			}
			refs := make([]clusterRef, len(d.KafkaClusters))
			for i, c := range d.KafkaClusters {
				refs[i] = clusterRef{arn: c.GetAmazonMskCluster().GetMskClusterArn(), id: c.GetApacheKafkaCluster().GetApacheKafkaClusterId(), alias: c.GetKafkaClusterAlias()}
			}
			src, err := pickCluster(refs, req.GetSourceKafkaClusterArn(), req.GetSourceKafkaClusterId(), "sourceKafkaCluster")
			if err != nil {
				return err
			}
			dst, err := pickCluster(refs, req.GetTargetKafkaClusterArn(), req.GetTargetKafkaClusterId(), "targetKafkaCluster")
			if err != nil {
				return err
			}
			var info *kv.ReplicationInfoDescription
			for _, ri := range d.ReplicationInfoList {
				if ri.GetSourceKafkaClusterAlias() == refs[src].alias && ri.GetTargetKafkaClusterAlias() == refs[dst].alias {
					info = ri
				}
			}
			if info == nil {
				return apierr.BadRequest("sourceKafkaClusterArn", "the replicator has no replication from %s to %s", refs[src].alias, refs[dst].alias)
			}
			before := proto.Clone(info)
			if t := req.TopicReplication; t != nil {
				// startingPosition and topicNameConfiguration cannot change: they are not in the
				// update shape and stay as they are.
				project(info.TopicReplication, t)
				info.TopicReplication.TopicsToReplicate = t.TopicsToReplicate
				info.TopicReplication.TopicsToExclude = t.TopicsToExclude
			}
			if g := req.ConsumerGroupReplication; g != nil {
				project(info.ConsumerGroupReplication, g)
				info.ConsumerGroupReplication.ConsumerGroupsToReplicate = g.ConsumerGroupsToReplicate
				info.ConsumerGroupReplication.ConsumerGroupsToExclude = g.ConsumerGroupsToExclude
			}
			logChanged := false
			if req.LogDelivery != nil {
				logChanged = !proto.Equal(d.LogDelivery, req.LogDelivery)
				d.LogDelivery = req.LogDelivery
			}
			d.CreationTime, d.CurrentVersion, d.ReplicatorState, d.StateInfo, d.Tags = nil, nil, nil, nil, nil
			r.Doc = workload.EncodeDoc(d)
			st := workload.ReplicatorUpdate{
				// The replication info reaches the workers' task configurations, the log
				// delivery their specs: the workers restart with them (a stopping worker
				// delivers the lines it holds first).
				Restart:  !proto.Equal(before, info) || logChanged,
				Creating: r.State == stateCreating,
			}
			if op.Doc, err = json.Marshal(st); err != nil {
				return err
			}
			if !st.Creating {
				r.State, r.StateCode, r.StateMessage = stateUpdating, "", ""
			}
			return nil
		})
	if err != nil {
		return nil, s.storeErr(ctx, err, "replicator "+arn)
	}
	s.trigger()
	return &kv.UpdateReplicationInfoResponse{ReplicatorArn: proto.String(arn), ReplicatorState: proto.String(updated.State)}, nil
}

func (k *kafkaService) DeleteReplicator(ctx context.Context, req *kv.DeleteReplicatorRequest) (*kv.DeleteReplicatorResponse, error) {
	s := k.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.validate("DeleteReplicator", req); err != nil {
		return nil, err
	}
	arn := req.GetReplicatorArn()
	if _, err := resourceARN(caller, arn, "replicatorArn", kafkaSvc, rtReplicator); err != nil {
		return nil, err
	}
	_, err = s.st.Replicators.Update(ctx, caller.AccountID, caller.Region, arn, store.UpdateOptions{ExpectVersion: req.GetCurrentVersion()},
		func(r *store.Resource) error {
			r.State, r.StateCode, r.StateMessage = stateDeleting, "", ""
			return nil
		})
	if err != nil {
		return nil, s.storeErr(ctx, err, "replicator "+arn)
	}
	s.trigger()
	return &kv.DeleteReplicatorResponse{ReplicatorArn: proto.String(arn), ReplicatorState: proto.String(stateDeleting)}, nil
}

// ---- tags (gRPC; over REST the shared path is served by the kafkaconnect binding) ----

func (k *kafkaService) TagResource(ctx context.Context, req *kv.TagResourceRequest) (*kv.TagResourceResponse, error) {
	if err := k.validate("TagResource", req); err != nil {
		return nil, err
	}
	return &kv.TagResourceResponse{}, k.s.tagResource(ctx, req.GetResourceArn(), req.GetTags())
}

func (k *kafkaService) UntagResource(ctx context.Context, req *kv.UntagResourceRequest) (*kv.UntagResourceResponse, error) {
	if err := k.validate("UntagResource", req); err != nil {
		return nil, err
	}
	return &kv.UntagResourceResponse{}, k.s.untagResource(ctx, req.GetResourceArn(), req.GetTagKeys())
}

func (k *kafkaService) ListTagsForResource(ctx context.Context, req *kv.ListTagsForResourceRequest) (*kv.ListTagsForResourceResponse, error) {
	if err := k.validate("ListTagsForResource", req); err != nil {
		return nil, err
	}
	tags, err := k.s.listTags(ctx, req.GetResourceArn())
	return &kv.ListTagsForResourceResponse{Tags: tags}, err
}

// ---- cluster registry (read side) ----

func clusterInfo(c *store.Cluster) *kv.Cluster {
	return &kv.Cluster{
		ClusterArn:     proto.String(c.ARN),
		ClusterName:    proto.String(c.Name),
		ClusterType:    proto.String("PROVISIONED"),
		CreationTime:   ts(c.CreatedAt),
		CurrentVersion: proto.String("K0"),
		State:          proto.String("ACTIVE"),
		Provisioned: &kv.Provisioned{
			CurrentBrokerSoftwareInfo: &kv.BrokerSoftwareInfo{KafkaVersion: proto.String(c.KafkaVersion)},
			NumberOfBrokerNodes:       proto.Int32(int32(brokerCount(c))),
			ClientAuthentication: &kv.ClientAuthentication{
				Sasl: &kv.Sasl{Iam: &kv.Iam{Enabled: proto.Bool(c.BootstrapServersSaslIam != "")},
					Scram: &kv.Scram{Enabled: proto.Bool(c.BootstrapServersSaslScram != "")}},
				Tls:             &kv.Tls{Enabled: proto.Bool(false)}, // mutual TLS is not supported
				Unauthenticated: &kv.Unauthenticated{Enabled: proto.Bool(c.BootstrapServers != "" || c.BootstrapServersTLS != "")},
			},
			EncryptionInfo: &kv.EncryptionInfo{EncryptionInTransit: &kv.EncryptionInTransit{ClientBroker: proto.String(clientBroker(c)), InCluster: proto.Bool(true)}},
		},
	}
}

// brokerCount is the number of brokers of a registered cluster's longest bootstrap string.
func brokerCount(c *store.Cluster) int {
	n := 0
	for _, b := range []string{c.BootstrapServers, c.BootstrapServersTLS, c.BootstrapServersSaslScram, c.BootstrapServersSaslIam} {
		if b != "" {
			n = max(n, len(strings.Split(b, ",")))
		}
	}
	return n
}

// clientBroker is MSK's encryptionInTransit.clientBroker of a registered cluster: TLS when
// every bootstrap string it offers is encrypted, PLAINTEXT when none is, else TLS_PLAINTEXT.
func clientBroker(c *store.Cluster) string {
	plain := c.BootstrapServers != ""
	tls := c.BootstrapServersTLS != "" || c.BootstrapServersSaslScram != "" || c.BootstrapServersSaslIam != ""
	switch {
	case plain && tls:
		return "TLS_PLAINTEXT"
	case plain:
		return "PLAINTEXT"
	}
	return "TLS"
}

func (k *kafkaService) cluster(ctx context.Context, arn string) (*store.Cluster, error) {
	caller, err := k.s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := resourceARN(caller, arn, "clusterArn", kafkaSvc, rtCluster); err != nil {
		return nil, err
	}
	c, err := k.s.st.Cluster(ctx, caller.AccountID, caller.Region, arn)
	if err != nil {
		return nil, k.s.storeErr(ctx, err, "cluster "+arn)
	}
	return c, nil
}

func (k *kafkaService) DescribeClusterV2(ctx context.Context, req *kv.DescribeClusterV2Request) (*kv.DescribeClusterV2Response, error) {
	if err := k.validate("DescribeClusterV2", req); err != nil {
		return nil, err
	}
	c, err := k.cluster(ctx, req.GetClusterArn())
	if err != nil {
		return nil, err
	}
	return &kv.DescribeClusterV2Response{ClusterInfo: clusterInfo(c)}, nil
}

func (k *kafkaService) GetBootstrapBrokers(ctx context.Context, req *kv.GetBootstrapBrokersRequest) (*kv.GetBootstrapBrokersResponse, error) {
	if err := k.validate("GetBootstrapBrokers", req); err != nil {
		return nil, err
	}
	c, err := k.cluster(ctx, req.GetClusterArn())
	if err != nil {
		return nil, err
	}
	out := &kv.GetBootstrapBrokersResponse{}
	for _, b := range []struct {
		v   string
		dst **string
	}{{c.BootstrapServers, &out.BootstrapBrokerString}, {c.BootstrapServersTLS, &out.BootstrapBrokerStringTls},
		{c.BootstrapServersSaslScram, &out.BootstrapBrokerStringSaslScram}, {c.BootstrapServersSaslIam, &out.BootstrapBrokerStringSaslIam}} {
		if b.v != "" {
			*b.dst = proto.String(b.v)
		}
	}
	return out, nil
}

func (k *kafkaService) ListClustersV2(ctx context.Context, req *kv.ListClustersV2Request) (*kv.ListClustersV2Response, error) {
	s := k.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := k.validate("ListClustersV2", req); err != nil {
		return nil, err
	}
	out := &kv.ListClustersV2Response{}
	if t := req.GetClusterTypeFilter(); t != "" && t != "PROVISIONED" {
		if t != "SERVERLESS" {
			return nil, apierr.BadRequest("clusterTypeFilter", "clusterTypeFilter must be PROVISIONED or SERVERLESS")
		}
		return out, nil // the registry holds provisioned clusters only
	}
	filter := req.GetClusterNameFilter()
	after := ""
	if req.NextToken != nil {
		pos, err := s.tokens.open(req.GetNextToken(), "clusters", caller.AccountID+"/"+caller.Region, filter)
		if err != nil {
			return nil, err
		}
		after = pos.Name
	}
	limit := pageSize(req.MaxResults)
	rows, err := s.st.Clusters(ctx, caller.AccountID, caller.Region, filter, after, limit+1)
	if err != nil {
		return nil, s.storeErr(ctx, err, "clusters")
	}
	if len(rows) > limit {
		out.NextToken = proto.String(s.tokens.mint(pagePosition{Kind: "clusters", Account: caller.AccountID + "/" + caller.Region, Filter: filter, Name: rows[limit-1].Name}))
		rows = rows[:limit]
	}
	for _, c := range rows {
		out.ClusterInfoList = append(out.ClusterInfoList, clusterInfo(c))
	}
	return out, nil
}
