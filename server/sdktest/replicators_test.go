package sdktest

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	kt "github.com/aws/aws-sdk-go-v2/service/kafka/types"

	"github.com/fjord-io/fjord/server/servertest"
)

// TestReplicatorAmazonMsk: CreateReplicator between the two registered clusters; Describe
// shows the clusters with their aliases (the registered names) and MSK Replicator's documented
// defaults for everything left out.
func TestReplicatorAmazonMsk(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	in := f.replicatorInput("orders-dr")
	in.Description = aws.String("orders to DR")
	in.Tags = map[string]string{"env": "prod"}
	created := must(f.k.CreateReplicator(ctx, in)).get(t)
	arn := aws.ToString(created.ReplicatorArn)
	arnPrefix(t, "replicatorArn", arn, "kafka", servertest.Account, "replicator", "orders-dr")
	eq(t, "create name", aws.ToString(created.ReplicatorName), "orders-dr")
	eq(t, "create state", created.ReplicatorState, kt.ReplicatorStateCreating)

	d := describeReplicator(t, f.k, arn)
	eq(t, "arn", aws.ToString(d.ReplicatorArn), arn)
	eq(t, "resource arn", aws.ToString(d.ReplicatorResourceArn), arn)
	eq(t, "name", aws.ToString(d.ReplicatorName), "orders-dr")
	eq(t, "description", aws.ToString(d.ReplicatorDescription), "orders to DR")
	eq(t, "state", d.ReplicatorState, kt.ReplicatorStateCreating)
	eq(t, "role", aws.ToString(d.ServiceExecutionRoleArn), roleARN)
	eq(t, "isReplicatorReference", aws.ToBool(d.IsReplicatorReference), false)
	if aws.ToString(d.CurrentVersion) == "" {
		t.Error("currentVersion is empty")
	}
	recent(t, "creationTime", d.CreationTime)
	eqMap(t, "tags", d.Tags, map[string]string{"env": "prod"})

	if len(d.KafkaClusters) != 2 {
		t.Fatalf("kafkaClusters %+v", d.KafkaClusters)
	}
	for i, want := range []struct{ arn, alias string }{{f.env.SourceClusterARN, "source"}, {f.env.TargetClusterARN, "target"}} {
		c := d.KafkaClusters[i]
		if c.AmazonMskCluster == nil || aws.ToString(c.AmazonMskCluster.MskClusterArn) != want.arn || c.ApacheKafkaCluster != nil {
			t.Errorf("kafkaClusters[%d] %+v; want amazonMskCluster %s", i, c, want.arn)
		}
		eq(t, "kafkaClusterAlias", aws.ToString(c.KafkaClusterAlias), want.alias)
		if c.VpcConfig == nil {
			t.Errorf("kafkaClusters[%d] lost its vpcConfig", i)
		} else {
			eqSlice(t, "subnetIds", c.VpcConfig.SubnetIds, []string{"subnet-0a1b2c"})
		}
	}
	if len(d.ReplicationInfoList) != 1 {
		t.Fatalf("replicationInfoList %+v", d.ReplicationInfoList)
	}
	ri := d.ReplicationInfoList[0]
	eq(t, "sourceKafkaClusterAlias", aws.ToString(ri.SourceKafkaClusterAlias), "source")
	eq(t, "targetKafkaClusterAlias", aws.ToString(ri.TargetKafkaClusterAlias), "target")
	eq(t, "targetCompressionType", ri.TargetCompressionType, kt.TargetCompressionTypeNone)
	tr := ri.TopicReplication
	eqSlice(t, "topicsToReplicate", tr.TopicsToReplicate, []string{"orders.*"})
	eq(t, "default startingPosition", tr.StartingPosition.Type, kt.ReplicationStartingPositionTypeLatest)
	eq(t, "default topicNameConfiguration", tr.TopicNameConfiguration.Type, kt.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias)
	eq(t, "default copyAccessControlListsForTopics", aws.ToBool(tr.CopyAccessControlListsForTopics), true)
	eq(t, "default copyTopicConfigurations", aws.ToBool(tr.CopyTopicConfigurations), true)
	eq(t, "default detectAndCopyNewTopics", aws.ToBool(tr.DetectAndCopyNewTopics), true)
	gr := ri.ConsumerGroupReplication
	eqSlice(t, "consumerGroupsToReplicate", gr.ConsumerGroupsToReplicate, []string{".*"})
	eq(t, "default detectAndCopyNewConsumerGroups", aws.ToBool(gr.DetectAndCopyNewConsumerGroups), true)
	eq(t, "default synchroniseConsumerGroupOffsets", aws.ToBool(gr.SynchroniseConsumerGroupOffsets), true)
	eq(t, "default consumerGroupOffsetSyncMode", gr.ConsumerGroupOffsetSyncMode, kt.ConsumerGroupOffsetSyncModeLegacy)

	// Every setting given explicitly, false included, is kept as given.
	in = f.replicatorInput("explicit")
	in.ReplicationInfoList[0].TargetCompressionType = kt.TargetCompressionTypeZstd
	in.ReplicationInfoList[0].TopicReplication = &kt.TopicReplication{
		TopicsToReplicate:               []string{"a", "b.*"},
		TopicsToExclude:                 []string{"b\\.internal"},
		StartingPosition:                &kt.ReplicationStartingPosition{Type: kt.ReplicationStartingPositionTypeEarliest},
		TopicNameConfiguration:          &kt.ReplicationTopicNameConfiguration{Type: kt.ReplicationTopicNameConfigurationTypeIdentical},
		CopyAccessControlListsForTopics: aws.Bool(false),
		CopyTopicConfigurations:         aws.Bool(false),
		DetectAndCopyNewTopics:          aws.Bool(false),
	}
	in.ReplicationInfoList[0].ConsumerGroupReplication = &kt.ConsumerGroupReplication{
		ConsumerGroupsToReplicate:       []string{"app-.*"},
		ConsumerGroupsToExclude:         []string{"app-test"},
		DetectAndCopyNewConsumerGroups:  aws.Bool(false),
		SynchroniseConsumerGroupOffsets: aws.Bool(false),
		ConsumerGroupOffsetSyncMode:     kt.ConsumerGroupOffsetSyncModeEnhanced,
	}
	ri = describeReplicator(t, f.k, createReplicator(t, f.k, in)).ReplicationInfoList[0]
	eq(t, "targetCompressionType", ri.TargetCompressionType, kt.TargetCompressionTypeZstd)
	tr = ri.TopicReplication
	eqSlice(t, "topicsToReplicate", tr.TopicsToReplicate, []string{"a", "b.*"})
	eqSlice(t, "topicsToExclude", tr.TopicsToExclude, []string{"b\\.internal"})
	eq(t, "startingPosition", tr.StartingPosition.Type, kt.ReplicationStartingPositionTypeEarliest)
	eq(t, "topicNameConfiguration", tr.TopicNameConfiguration.Type, kt.ReplicationTopicNameConfigurationTypeIdentical)
	if tr.CopyAccessControlListsForTopics == nil || *tr.CopyAccessControlListsForTopics || tr.CopyTopicConfigurations == nil ||
		*tr.CopyTopicConfigurations || tr.DetectAndCopyNewTopics == nil || *tr.DetectAndCopyNewTopics {
		t.Errorf("explicit false topic settings not kept: %+v", tr)
	}
	gr = ri.ConsumerGroupReplication
	eqSlice(t, "consumerGroupsToExclude", gr.ConsumerGroupsToExclude, []string{"app-test"})
	if gr.DetectAndCopyNewConsumerGroups == nil || *gr.DetectAndCopyNewConsumerGroups || gr.SynchroniseConsumerGroupOffsets == nil || *gr.SynchroniseConsumerGroupOffsets {
		t.Errorf("explicit false group settings not kept: %+v", gr)
	}
	eq(t, "consumerGroupOffsetSyncMode", gr.ConsumerGroupOffsetSyncMode, kt.ConsumerGroupOffsetSyncModeEnhanced)
}

// TestReplicatorApacheKafka: the apacheKafkaCluster form (apacheKafkaClusterId +
// bootstrapBrokerString), alone and mixed with a registered cluster; the cluster id is the alias.
func TestReplicatorApacheKafka(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	d := describeReplicator(t, f.k, createReplicator(t, f.k, apacheReplicatorInput("onprem-to-cloud")))
	if len(d.KafkaClusters) != 2 {
		t.Fatalf("kafkaClusters %+v", d.KafkaClusters)
	}
	c0 := d.KafkaClusters[0]
	if c0.ApacheKafkaCluster == nil || c0.AmazonMskCluster != nil {
		t.Fatalf("kafkaClusters[0] %+v", c0)
	}
	eq(t, "apacheKafkaClusterId", aws.ToString(c0.ApacheKafkaCluster.ApacheKafkaClusterId), "onprem")
	eq(t, "bootstrapBrokerString", aws.ToString(c0.ApacheKafkaCluster.BootstrapBrokerString), "10.0.0.1:9092,10.0.0.2:9092")
	eq(t, "alias 0", aws.ToString(c0.KafkaClusterAlias), "onprem")
	eq(t, "alias 1", aws.ToString(d.KafkaClusters[1].KafkaClusterAlias), "cloud")
	ri := d.ReplicationInfoList[0]
	eq(t, "source alias", aws.ToString(ri.SourceKafkaClusterAlias), "onprem")
	eq(t, "target alias", aws.ToString(ri.TargetKafkaClusterAlias), "cloud")
	eq(t, "targetCompressionType", ri.TargetCompressionType, kt.TargetCompressionTypeLz4)

	// Mixed: an Apache Kafka source into a registered MSK target.
	in := apacheReplicatorInput("onprem-to-msk")
	in.KafkaClusters[1] = kt.KafkaCluster{AmazonMskCluster: &kt.AmazonMskCluster{MskClusterArn: aws.String(f.env.TargetClusterARN)}}
	in.ReplicationInfoList[0].TargetKafkaClusterId = nil
	in.ReplicationInfoList[0].TargetKafkaClusterArn = aws.String(f.env.TargetClusterARN)
	d = describeReplicator(t, f.k, createReplicator(t, f.k, in))
	eq(t, "mixed source alias", aws.ToString(d.ReplicationInfoList[0].SourceKafkaClusterAlias), "onprem")
	eq(t, "mixed target alias", aws.ToString(d.ReplicationInfoList[0].TargetKafkaClusterAlias), "target")
	eq(t, "mixed target arn", aws.ToString(d.KafkaClusters[1].AmazonMskCluster.MskClusterArn), f.env.TargetClusterARN)

	// UpdateReplicationInfo names Apache Kafka clusters by id.
	arn := aws.ToString(d.ReplicatorArn)
	_, err := f.k.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{
		ReplicatorArn: aws.String(arn), CurrentVersion: d.CurrentVersion,
		SourceKafkaClusterId: aws.String("onprem"), TargetKafkaClusterArn: aws.String(f.env.TargetClusterARN),
		ConsumerGroupReplication: &kt.ConsumerGroupReplicationUpdate{ConsumerGroupsToReplicate: []string{"only-this"}, ConsumerGroupsToExclude: []string{},
			DetectAndCopyNewConsumerGroups: aws.Bool(false), SynchroniseConsumerGroupOffsets: aws.Bool(true)},
	})
	check(t, err)
	d2 := describeReplicator(t, f.k, arn)
	eqSlice(t, "groups after update by id", d2.ReplicationInfoList[0].ConsumerGroupReplication.ConsumerGroupsToReplicate, []string{"only-this"})
	eqSlice(t, "topics untouched", d2.ReplicationInfoList[0].TopicReplication.TopicsToReplicate, []string{".*"})
	_, err = f.k.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{
		ReplicatorArn: aws.String(arn), CurrentVersion: d2.CurrentVersion,
		SourceKafkaClusterId: aws.String("ghost"), TargetKafkaClusterArn: aws.String(f.env.TargetClusterARN),
		ConsumerGroupReplication: &kt.ConsumerGroupReplicationUpdate{ConsumerGroupsToReplicate: []string{"x"}, ConsumerGroupsToExclude: []string{},
			DetectAndCopyNewConsumerGroups: aws.Bool(false), SynchroniseConsumerGroupOffsets: aws.Bool(true)},
	})
	wantErr[*kt.BadRequestException](t, err, 400, "ghost")
	sameOutput(t, "replicator after a refused update", d2, describeReplicator(t, f.k, arn))

	// The same two Apache Kafka clusters in another account: names are per account.
	must(f.otherK.CreateReplicator(ctx, apacheReplicatorInput("onprem-to-cloud"))).get(t)
}

// TestListReplicators: order by name, replicatorNameFilter, pagination, summaries.
func TestListReplicators(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arns := map[string]string{}
	for _, n := range []string{"dr-b", "dr-a", "analytics", "dr-c"} {
		arns[n] = createReplicator(t, f.k, f.replicatorInput(n))
	}
	must(f.otherK.CreateReplicator(ctx, apacheReplicatorInput("dr-0"))).get(t)

	all := must(f.k.ListReplicators(ctx, &kafka.ListReplicatorsInput{})).get(t)
	var names []string
	for _, r := range all.Replicators {
		n := aws.ToString(r.ReplicatorName)
		names = append(names, n)
		eq(t, n+" arn", aws.ToString(r.ReplicatorArn), arns[n])
		eq(t, n+" resource arn", aws.ToString(r.ReplicatorResourceArn), arns[n])
		eq(t, n+" state", r.ReplicatorState, kt.ReplicatorStateCreating)
		eq(t, n+" isReplicatorReference", aws.ToBool(r.IsReplicatorReference), false)
		if aws.ToString(r.CurrentVersion) == "" {
			t.Errorf("%s has no currentVersion", n)
		}
		recent(t, n+" creationTime", r.CreationTime)
		if len(r.KafkaClustersSummary) != 2 || aws.ToString(r.KafkaClustersSummary[0].KafkaClusterAlias) != "source" ||
			aws.ToString(r.KafkaClustersSummary[1].KafkaClusterAlias) != "target" ||
			aws.ToString(r.KafkaClustersSummary[0].AmazonMskCluster.MskClusterArn) != f.env.SourceClusterARN {
			t.Errorf("%s kafkaClustersSummary %+v", n, r.KafkaClustersSummary)
		}
		if len(r.ReplicationInfoSummaryList) != 1 || aws.ToString(r.ReplicationInfoSummaryList[0].SourceKafkaClusterAlias) != "source" ||
			aws.ToString(r.ReplicationInfoSummaryList[0].TargetKafkaClusterAlias) != "target" {
			t.Errorf("%s replicationInfoSummaryList %+v", n, r.ReplicationInfoSummaryList)
		}
	}
	eqSlice(t, "all", names, []string{"analytics", "dr-a", "dr-b", "dr-c"})

	pages := listReplicatorPages(t, f.k, &kafka.ListReplicatorsInput{MaxResults: aws.Int32(3)})
	eq(t, "pages", len(pages), 2)
	eqSlice(t, "paginated", flatten(pages), []string{"analytics", "dr-a", "dr-b", "dr-c"})
	pages = listReplicatorPages(t, f.k, &kafka.ListReplicatorsInput{MaxResults: aws.Int32(2), ReplicatorNameFilter: aws.String("dr-")})
	eq(t, "filtered pages", len(pages), 2)
	eqSlice(t, "filtered", flatten(pages), []string{"dr-a", "dr-b", "dr-c"})
	none := must(f.k.ListReplicators(ctx, &kafka.ListReplicatorsInput{ReplicatorNameFilter: aws.String("zzz")})).get(t)
	eq(t, "no match", len(none.Replicators), 0)

	other := must(f.otherK.ListReplicators(ctx, &kafka.ListReplicatorsInput{})).get(t)
	if len(other.Replicators) != 1 || aws.ToString(other.Replicators[0].ReplicatorName) != "dr-0" {
		t.Errorf("other account lists %+v", other.Replicators)
	}
}

func listReplicatorPages(t *testing.T, c *kafka.Client, in *kafka.ListReplicatorsInput) [][]string {
	t.Helper()
	var pages [][]string
	p := kafka.NewListReplicatorsPaginator(c, in)
	for p.HasMorePages() {
		out := must(p.NextPage(t.Context())).get(t)
		var page []string
		for _, r := range out.Replicators {
			page = append(page, aws.ToString(r.ReplicatorName))
		}
		if len(page) > int(aws.ToInt32(in.MaxResults)) {
			t.Errorf("page of %d > maxResults %d", len(page), aws.ToInt32(in.MaxResults))
		}
		pages = append(pages, page)
	}
	return pages
}

// TestUpdateReplicationInfo: currentVersion travels in the body; a fresh one applies the change
// and changes the version, a stale one, an invalid regex or a cluster outside kafkaClusters is
// refused and changes nothing, as is logDelivery in the same request as topic or group changes
// (MSK takes them separately); startingPosition cannot change.
func TestUpdateReplicationInfo(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arn := createReplicator(t, f.k, f.replicatorInput("r"))
	v0 := describeReplicator(t, f.k, arn)
	src, dst := aws.String(f.env.SourceClusterARN), aws.String(f.env.TargetClusterARN)

	out := must(f.k.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{
		ReplicatorArn: aws.String(arn), CurrentVersion: v0.CurrentVersion,
		SourceKafkaClusterArn: src, TargetKafkaClusterArn: dst,
		TopicReplication: &kt.TopicReplicationUpdate{
			TopicsToReplicate: []string{"payments.*", "orders.*"}, TopicsToExclude: []string{"payments\\.tmp"},
			CopyAccessControlListsForTopics: aws.Bool(false), CopyTopicConfigurations: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(false),
		},
		ConsumerGroupReplication: &kt.ConsumerGroupReplicationUpdate{
			ConsumerGroupsToReplicate: []string{"svc-.*"}, ConsumerGroupsToExclude: []string{},
			DetectAndCopyNewConsumerGroups: aws.Bool(true), SynchroniseConsumerGroupOffsets: aws.Bool(false),
		},
	})).get(t)
	eq(t, "update arn", aws.ToString(out.ReplicatorArn), arn)
	// Nothing runs yet (no agents here): a CREATING replicator takes the new info and goes on
	// creating (a RUNNING one goes UPDATING: server/fleettest, cmd/fjord).
	eq(t, "update state", out.ReplicatorState, kt.ReplicatorStateCreating)
	v1 := describeReplicator(t, f.k, arn)
	if aws.ToString(v1.CurrentVersion) == aws.ToString(v0.CurrentVersion) {
		t.Error("currentVersion did not change")
	}
	tr := v1.ReplicationInfoList[0].TopicReplication
	eqSlice(t, "topicsToReplicate", tr.TopicsToReplicate, []string{"payments.*", "orders.*"})
	eqSlice(t, "topicsToExclude", tr.TopicsToExclude, []string{"payments\\.tmp"})
	eq(t, "copyAccessControlListsForTopics", aws.ToBool(tr.CopyAccessControlListsForTopics), false)
	eq(t, "detectAndCopyNewTopics", aws.ToBool(tr.DetectAndCopyNewTopics), false)
	eq(t, "startingPosition unchanged", tr.StartingPosition.Type, kt.ReplicationStartingPositionTypeLatest)
	eq(t, "topicNameConfiguration unchanged", tr.TopicNameConfiguration.Type, kt.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias)
	gr := v1.ReplicationInfoList[0].ConsumerGroupReplication
	eqSlice(t, "consumerGroupsToReplicate", gr.ConsumerGroupsToReplicate, []string{"svc-.*"})
	eq(t, "synchroniseConsumerGroupOffsets", aws.ToBool(gr.SynchroniseConsumerGroupOffsets), false)
	eq(t, "name unchanged", aws.ToString(v1.ReplicatorName), "r")
	eq(t, "clusters unchanged", len(v1.KafkaClusters), 2)

	update := func(c *kafka.Client, version *string, mut func(*kafka.UpdateReplicationInfoInput)) error {
		in := &kafka.UpdateReplicationInfoInput{
			ReplicatorArn: aws.String(arn), CurrentVersion: version, SourceKafkaClusterArn: src, TargetKafkaClusterArn: dst,
			TopicReplication: &kt.TopicReplicationUpdate{TopicsToReplicate: []string{"x"}, TopicsToExclude: []string{},
				CopyAccessControlListsForTopics: aws.Bool(true), CopyTopicConfigurations: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true)},
		}
		if mut != nil {
			mut(in)
		}
		_, err := c.UpdateReplicationInfo(ctx, in)
		return err
	}
	unknownCluster := unknownARN("kafka", "cluster", "elsewhere")
	for _, tc := range []struct {
		name    string
		version *string
		mut     func(*kafka.UpdateReplicationInfoInput)
		want    string
	}{
		{"stale version", v0.CurrentVersion, nil, "currentVersion"},
		{"made-up version", aws.String("v-made-up"), nil, "currentVersion"},
		{"invalid regex", v1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) {
			in.TopicReplication.TopicsToReplicate = []string{"orders.(*"}
		}, "topicsToReplicate"},
		{"invalid exclude regex", v1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) { in.TopicReplication.TopicsToExclude = []string{"[a-"} }, "topicsToExclude"},
		{"invalid group regex", v1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) {
			in.ConsumerGroupReplication = &kt.ConsumerGroupReplicationUpdate{ConsumerGroupsToReplicate: []string{"("}, ConsumerGroupsToExclude: []string{},
				DetectAndCopyNewConsumerGroups: aws.Bool(true), SynchroniseConsumerGroupOffsets: aws.Bool(true)}
		}, "consumerGroupsToReplicate"},
		{"source not in kafkaClusters", v1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) { in.SourceKafkaClusterArn = aws.String(unknownCluster) }, "not one of kafkaClusters"},
		{"target not in kafkaClusters", v1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) { in.TargetKafkaClusterArn = aws.String(unknownCluster) }, "not one of kafkaClusters"},
		{"reversed direction", v1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) {
			in.SourceKafkaClusterArn, in.TargetKafkaClusterArn = dst, src
		}, "no replication"},
		{"nothing to update", v1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) { in.TopicReplication = nil }, "topicReplication"},
		{"logDelivery with topicReplication", v1.CurrentVersion, func(in *kafka.UpdateReplicationInfoInput) {
			in.LogDelivery = &kt.LogDelivery{ReplicatorLogDelivery: &kt.ReplicatorLogDelivery{
				CloudWatchLogs: &kt.ReplicatorCloudWatchLogs{Enabled: aws.Bool(true), LogGroup: aws.String("g")}}}
		}, "logDelivery"},
	} {
		e := wantErr[*kt.BadRequestException](t, update(f.k, tc.version, tc.mut), 400, tc.want)
		if tc.name == "logDelivery with topicReplication" && aws.ToString(e.InvalidParameter) != "logDelivery" {
			t.Errorf("%s: invalidParameter %q, want logDelivery", tc.name, aws.ToString(e.InvalidParameter))
		}
	}
	sameOutput(t, "replicator after refused updates", v1, describeReplicator(t, f.k, arn))

	unknown := unknownARN("kafka", "replicator", "r")
	_, err := f.k.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{ReplicatorArn: aws.String(unknown), CurrentVersion: v1.CurrentVersion,
		SourceKafkaClusterArn: src, TargetKafkaClusterArn: dst, TopicReplication: &kt.TopicReplicationUpdate{TopicsToReplicate: []string{"x"},
			TopicsToExclude: []string{}, CopyAccessControlListsForTopics: aws.Bool(true), CopyTopicConfigurations: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true)}})
	wantErr[*kt.NotFoundException](t, err, 404, unknown)
	wantErr[*kt.NotFoundException](t, update(f.otherK, v1.CurrentVersion, nil), 404)
	sameOutput(t, "replicator after foreign update", v1, describeReplicator(t, f.k, arn))

	// The fresh version still works after all the refusals.
	check(t, update(f.k, v1.CurrentVersion, nil))
	v2 := describeReplicator(t, f.k, arn)
	eqSlice(t, "topics after second update", v2.ReplicationInfoList[0].TopicReplication.TopicsToReplicate, []string{"x"})
	if aws.ToString(v2.CurrentVersion) == aws.ToString(v1.CurrentVersion) {
		t.Error("currentVersion did not change on the second update")
	}
}

// TestDeleteReplicator: a stale currentVersion changes nothing; the current one, or none, makes
// the replicator DELETING and then gone.
func TestDeleteReplicator(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	a := createReplicator(t, f.k, f.replicatorInput("a"))
	b := createReplicator(t, f.k, f.replicatorInput("b"))
	keep := createReplicator(t, f.k, f.replicatorInput("keep"))
	before := describeReplicator(t, f.k, a)

	_, err := f.k.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: aws.String(a), CurrentVersion: aws.String("stale")})
	wantErr[*kt.BadRequestException](t, err, 400, "currentVersion")
	sameOutput(t, "replicator after a stale delete", before, describeReplicator(t, f.k, a))
	_, err = f.otherK.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: aws.String(a)})
	wantErr[*kt.NotFoundException](t, err, 404)
	_, err = f.otherK.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(a)})
	wantErr[*kt.NotFoundException](t, err, 404)
	sameOutput(t, "replicator after a foreign delete", before, describeReplicator(t, f.k, a))

	out := must(f.k.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: aws.String(a), CurrentVersion: before.CurrentVersion})).get(t)
	eq(t, "delete arn", aws.ToString(out.ReplicatorArn), a)
	eq(t, "delete state", out.ReplicatorState, kt.ReplicatorStateDeleting)
	out = must(f.k.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: aws.String(b)})).get(t)
	eq(t, "delete state without currentVersion", out.ReplicatorState, kt.ReplicatorStateDeleting)

	for _, arn := range []string{a, b} {
		servertest.Eventually(t, 10*time.Second, "replicator "+arn+" to disappear", func() bool {
			d, err := f.k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
			if err == nil {
				if d.ReplicatorState != kt.ReplicatorStateDeleting {
					t.Fatalf("deleted replicator is %s", d.ReplicatorState)
				}
				return false
			}
			wantErr[*kt.NotFoundException](t, err, 404, arn)
			return true
		})
		_, err = f.k.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: aws.String(arn)})
		wantErr[*kt.NotFoundException](t, err, 404, arn)
	}
	l := must(f.k.ListReplicators(ctx, &kafka.ListReplicatorsInput{})).get(t)
	if len(l.Replicators) != 1 || aws.ToString(l.Replicators[0].ReplicatorArn) != keep {
		t.Errorf("replicators after deletes: %+v", l.Replicators)
	}
	createReplicator(t, f.k, f.replicatorInput("a"))
}

// TestCreateReplicatorRefused: clusters that are not registered (or are another account's) are
// NotFound; replication infos naming clusters outside kafkaClusters, invalid regexes and
// reserved tags are BadRequest; a taken name is a Conflict in its account only.
func TestCreateReplicatorRefused(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	unregistered := unknownARN("kafka", "cluster", "nowhere")

	notFound := []struct {
		name string
		c    *kafka.Client
		mut  func(*kafka.CreateReplicatorInput)
		want string
	}{
		{"unregistered source", f.k, func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0].AmazonMskCluster.MskClusterArn = aws.String(unregistered)
			in.ReplicationInfoList[0].SourceKafkaClusterArn = aws.String(unregistered)
		}, unregistered},
		{"another account's clusters", f.otherK, nil, ""},
	}
	for _, tc := range notFound {
		in := f.replicatorInput("r")
		if tc.mut != nil {
			tc.mut(in)
		}
		_, err := tc.c.CreateReplicator(ctx, in)
		if tc.want != "" {
			wantErr[*kt.NotFoundException](t, err, 404, tc.want)
		} else {
			wantErr[*kt.NotFoundException](t, err, 404)
		}
	}

	badRequest := []struct {
		name string
		mut  func(*kafka.CreateReplicatorInput)
		want string
	}{
		{"source not in kafkaClusters", func(in *kafka.CreateReplicatorInput) {
			in.ReplicationInfoList[0].SourceKafkaClusterArn = aws.String(unregistered)
		}, "not one of kafkaClusters"},
		{"target id not in kafkaClusters", func(in *kafka.CreateReplicatorInput) {
			in.ReplicationInfoList[0].TargetKafkaClusterArn = nil
			in.ReplicationInfoList[0].TargetKafkaClusterId = aws.String("ghost")
		}, "not one of kafkaClusters"},
		{"same source and target", func(in *kafka.CreateReplicatorInput) {
			in.ReplicationInfoList[0].TargetKafkaClusterArn = in.ReplicationInfoList[0].SourceKafkaClusterArn
		}, "differ"},
		{"invalid topic regex", func(in *kafka.CreateReplicatorInput) {
			in.ReplicationInfoList[0].TopicReplication.TopicsToReplicate = []string{"orders.*", "(unclosed"}
		}, "topicsToReplicate"},
		{"invalid exclude regex", func(in *kafka.CreateReplicatorInput) {
			in.ReplicationInfoList[0].TopicReplication.TopicsToExclude = []string{"*bad"}
		}, "topicsToExclude"},
		{"invalid group regex", func(in *kafka.CreateReplicatorInput) {
			in.ReplicationInfoList[0].ConsumerGroupReplication.ConsumerGroupsToReplicate = []string{"[z-a]"}
		}, "consumerGroupsToReplicate"},
		{"both cluster forms", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0].ApacheKafkaCluster = &kt.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("x"), BootstrapBrokerString: aws.String("h:1")}
		}, "exactly one of amazonMskCluster and apacheKafkaCluster"},
		{"one cluster", func(in *kafka.CreateReplicatorInput) { in.KafkaClusters = in.KafkaClusters[:1] }, "kafkaClusters"},
		{"same cluster twice", func(in *kafka.CreateReplicatorInput) { in.KafkaClusters[1] = in.KafkaClusters[0] }, "different"},
		{"bootstrap without port", func(in *kafka.CreateReplicatorInput) {
			in.KafkaClusters[0] = kt.KafkaCluster{ApacheKafkaCluster: &kt.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("x"), BootstrapBrokerString: aws.String("host-without-port")}}
		}, "bootstrapBrokerString"},
		{"reserved tag", func(in *kafka.CreateReplicatorInput) { in.Tags = map[string]string{"aws:x": "y"} }, "aws:"},
		{"too many tags", func(in *kafka.CreateReplicatorInput) { in.Tags = manyTags("t", 51) }, "50"},
	}
	for _, tc := range badRequest {
		in := f.replicatorInput("r")
		tc.mut(in)
		_, err := f.k.CreateReplicator(ctx, in)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		wantErr[*kt.BadRequestException](t, err, 400, tc.want)
	}
	l := must(f.k.ListReplicators(ctx, &kafka.ListReplicatorsInput{})).get(t)
	eq(t, "replicators after refusals", len(l.Replicators), 0)

	// Conflict within the account, not across accounts.
	arn := createReplicator(t, f.k, f.replicatorInput("r"))
	before := describeReplicator(t, f.k, arn)
	_, err := f.k.CreateReplicator(ctx, f.replicatorInput("r"))
	wantErr[*kt.ConflictException](t, err, 409, "r")
	sameOutput(t, "replicator after a conflicting create", before, describeReplicator(t, f.k, arn))
	otherArn := createReplicator(t, f.otherK, apacheReplicatorInput("r"))
	arnPrefix(t, "other account's replicator", otherArn, "kafka", servertest.OtherAccount, "replicator", "r")

	// Unknown and malformed replicator ARNs.
	unknown := unknownARN("kafka", "replicator", "r")
	_, err = f.k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(unknown)})
	wantErr[*kt.NotFoundException](t, err, 404, unknown)
	_, err = f.k.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: aws.String(unknown)})
	wantErr[*kt.NotFoundException](t, err, 404, unknown)
	_, err = f.k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String("replicator/r")})
	wantErr[*kt.BadRequestException](t, err, 400, "replicatorArn")
}

// TestClusterRegistry: ListClustersV2 (name prefix filter, pagination, accounts),
// DescribeClusterV2 and GetBootstrapBrokers of the registered clusters.
func TestClusterRegistry(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()

	all := must(f.k.ListClustersV2(ctx, &kafka.ListClustersV2Input{})).get(t)
	if all.NextToken != nil {
		t.Error("complete list has a nextToken")
	}
	if len(all.ClusterInfoList) != 2 {
		t.Fatalf("clusters %+v", all.ClusterInfoList)
	}
	for i, want := range []struct{ arn, name string }{{f.env.SourceClusterARN, "source"}, {f.env.TargetClusterARN, "target"}} {
		c := all.ClusterInfoList[i]
		eq(t, "clusterArn", aws.ToString(c.ClusterArn), want.arn)
		eq(t, "clusterName", aws.ToString(c.ClusterName), want.name)
		eq(t, "clusterType", c.ClusterType, kt.ClusterTypeProvisioned)
		eq(t, "state", c.State, kt.ClusterStateActive)
		recent(t, "creationTime", c.CreationTime)
		arnPrefix(t, "clusterArn", aws.ToString(c.ClusterArn), "kafka", servertest.Account, "cluster", want.name)
	}

	var pages [][]string
	p := kafka.NewListClustersV2Paginator(f.k, &kafka.ListClustersV2Input{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		out := must(p.NextPage(ctx)).get(t)
		var page []string
		for _, c := range out.ClusterInfoList {
			page = append(page, aws.ToString(c.ClusterName))
		}
		pages = append(pages, page)
	}
	eq(t, "pages", len(pages), 2)
	eqSlice(t, "paginated", flatten(pages), []string{"source", "target"})

	// clusterNameFilter is a name prefix (as AWS documents it).
	for filter, want := range map[string][]string{"sou": {"source"}, "t": {"target"}, "urce": nil, "x": nil} {
		out := must(f.k.ListClustersV2(ctx, &kafka.ListClustersV2Input{ClusterNameFilter: aws.String(filter)})).get(t)
		var got []string
		for _, c := range out.ClusterInfoList {
			got = append(got, aws.ToString(c.ClusterName))
		}
		eqSlice(t, "clusterNameFilter "+filter, got, want)
	}
	serverless := must(f.k.ListClustersV2(ctx, &kafka.ListClustersV2Input{ClusterTypeFilter: aws.String("SERVERLESS")})).get(t)
	eq(t, "serverless clusters", len(serverless.ClusterInfoList), 0)
	_, err := f.k.ListClustersV2(ctx, &kafka.ListClustersV2Input{ClusterTypeFilter: aws.String("HUGE")})
	wantErr[*kt.BadRequestException](t, err, 400, "clusterTypeFilter")
	other := must(f.otherK.ListClustersV2(ctx, &kafka.ListClustersV2Input{})).get(t)
	eq(t, "other account's clusters", len(other.ClusterInfoList), 0)

	d := must(f.k.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String(f.env.SourceClusterARN)})).get(t)
	c := d.ClusterInfo
	eq(t, "describe name", aws.ToString(c.ClusterName), "source")
	eq(t, "describe arn", aws.ToString(c.ClusterArn), f.env.SourceClusterARN)
	eq(t, "describe type", c.ClusterType, kt.ClusterTypeProvisioned)
	eq(t, "describe state", c.State, kt.ClusterStateActive)
	if c.Provisioned == nil || c.Provisioned.CurrentBrokerSoftwareInfo == nil || aws.ToString(c.Provisioned.CurrentBrokerSoftwareInfo.KafkaVersion) == "" ||
		aws.ToInt32(c.Provisioned.NumberOfBrokerNodes) != 1 {
		t.Errorf("provisioned %+v", c.Provisioned)
	}

	for arn, want := range map[string]string{f.env.SourceClusterARN: "127.0.0.1:19092", f.env.TargetClusterARN: "127.0.0.1:29092"} {
		b := must(f.k.GetBootstrapBrokers(ctx, &kafka.GetBootstrapBrokersInput{ClusterArn: aws.String(arn)})).get(t)
		eq(t, "bootstrapBrokerString", aws.ToString(b.BootstrapBrokerString), want)
	}

	unknown := unknownARN("kafka", "cluster", "nowhere")
	_, err = f.k.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String(unknown)})
	wantErr[*kt.NotFoundException](t, err, 404, unknown)
	_, err = f.otherK.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String(f.env.SourceClusterARN)})
	wantErr[*kt.NotFoundException](t, err, 404)
	// GetBootstrapBrokers's model lists no NotFoundException: the SDK reports it as a generic
	// API error with that code.
	_, err = f.k.GetBootstrapBrokers(ctx, &kafka.GetBootstrapBrokersInput{ClusterArn: aws.String(unknown)})
	wantCode(t, err, "NotFoundException", 404)
	_, err = f.otherK.GetBootstrapBrokers(ctx, &kafka.GetBootstrapBrokersInput{ClusterArn: aws.String(f.env.TargetClusterARN)})
	wantCode(t, err, "NotFoundException", 404)
	_, err = f.k.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String("cluster/source")})
	wantErr[*kt.BadRequestException](t, err, 400, "clusterArn")
}
