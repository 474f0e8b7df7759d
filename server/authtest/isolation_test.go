package authtest

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/aws/smithy-go"

	"github.com/fjord-io/fjord/server/servertest"
)

// notFound requires err to be the NotFoundException an AWS client sees for another account's
// resource: HTTP 404, error code NotFoundException, and the typed error when the model lists it.
func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want NotFoundException", what)
		return
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotFound {
		t.Errorf("%s: %v, want HTTP 404", what, err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFoundException" {
		t.Errorf("%s: %v, want NotFoundException", what, err)
	}
	var kcNF *kctypes.NotFoundException
	var kNF *ktypes.NotFoundException
	if !errors.As(err, &kcNF) && !errors.As(err, &kNF) {
		t.Errorf("%s: %T is not the typed NotFoundException", what, err)
	}
}

// accountA is what account 000000000000 owns in an isolation test.
type accountA struct {
	workerConfigARN, pluginARN, connectorARN, connectorVersion, operationARN string
	replicatorARN, replicatorVersion                                         string
}

// setupAccountA creates, as the test account, a worker configuration, a custom plugin (ACTIVE),
// a connector (updated once, so it has an operation) and a replicator, all tagged.
func setupAccountA(t *testing.T, env *servertest.Env) accountA {
	t.Helper()
	ctx := t.Context()
	kc, k := env.KafkaConnect(), env.Kafka()
	var a accountA

	wc, err := kc.CreateWorkerConfiguration(ctx, &kafkaconnect.CreateWorkerConfigurationInput{
		Name:                  aws.String("shared-name"),
		PropertiesFileContent: aws.String(base64.StdEncoding.EncodeToString([]byte("key.converter=org.apache.kafka.connect.storage.StringConverter\n"))),
		Tags:                  map[string]string{"owner": "a"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.workerConfigARN = aws.ToString(wc.WorkerConfigurationArn)

	bucket := env.PutPluginZip(t, "plugins", "p.zip")
	cp, err := kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{
		Name:        aws.String("shared-name"),
		ContentType: kctypes.CustomPluginContentTypeZip,
		Location:    &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{BucketArn: aws.String(bucket), FileKey: aws.String("p.zip")}},
		Tags:        map[string]string{"owner": "a"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.pluginARN = aws.ToString(cp.CustomPluginArn)
	servertest.Eventually(t, 20*time.Second, "custom plugin ACTIVE", func() bool {
		d, err := kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: cp.CustomPluginArn})
		if err != nil {
			t.Fatal(err)
		}
		return d.CustomPluginState == kctypes.CustomPluginStateActive
	})

	cc, err := kc.CreateConnector(ctx, connectorInput("shared-name", a.pluginARN))
	if err != nil {
		t.Fatal(err)
	}
	a.connectorARN = aws.ToString(cc.ConnectorArn)
	d, err := kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: cc.ConnectorArn})
	if err != nil {
		t.Fatal(err)
	}
	up, err := kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: cc.ConnectorArn, CurrentVersion: d.CurrentVersion,
		Capacity: &kctypes.CapacityUpdate{ProvisionedCapacity: &kctypes.ProvisionedCapacityUpdate{McuCount: 2, WorkerCount: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.operationARN = aws.ToString(up.ConnectorOperationArn)
	// The update is asynchronous: the scheduler applies it (changing the connector and its
	// currentVersion again) and completes the operation. The connector's version is taken
	// once it has, so that the end of the test can tell a change by the other account.
	var op *kafkaconnect.DescribeConnectorOperationOutput
	servertest.Eventually(t, 15*time.Second, "connector operation to end", func() bool {
		op, err = kc.DescribeConnectorOperation(ctx, &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: up.ConnectorOperationArn})
		if err != nil {
			t.Fatal(err)
		}
		switch op.ConnectorOperationState {
		case kctypes.ConnectorOperationStateUpdateComplete, kctypes.ConnectorOperationStateUpdateFailed,
			kctypes.ConnectorOperationStateRollbackComplete, kctypes.ConnectorOperationStateRollbackFailed:
			return true
		}
		return false
	})
	if op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateComplete {
		t.Fatalf("connector operation ended %s: %+v", op.ConnectorOperationState, op.ErrorInfo)
	}
	d, err = kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: cc.ConnectorArn})
	if err != nil {
		t.Fatal(err)
	}
	if d.ConnectorState != kctypes.ConnectorStateCreating || d.Capacity == nil || d.Capacity.ProvisionedCapacity == nil ||
		d.Capacity.ProvisionedCapacity.McuCount != 2 || d.Capacity.ProvisionedCapacity.WorkerCount != 2 {
		t.Fatalf("connector after its update: state %s, capacity %+v; want CREATING with 2×2", d.ConnectorState, d.Capacity)
	}
	a.connectorVersion = aws.ToString(d.CurrentVersion)

	cr, err := k.CreateReplicator(ctx, replicatorInput("shared-name", env.SourceClusterARN, env.TargetClusterARN))
	if err != nil {
		t.Fatal(err)
	}
	a.replicatorARN = aws.ToString(cr.ReplicatorArn)
	rd, err := k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: cr.ReplicatorArn})
	if err != nil {
		t.Fatal(err)
	}
	a.replicatorVersion = aws.ToString(rd.CurrentVersion)
	return a
}

func connectorInput(name, pluginARN string) *kafkaconnect.CreateConnectorInput {
	return &kafkaconnect.CreateConnectorInput{
		ConnectorName: aws.String(name),
		Capacity:      &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		ConnectorConfiguration: map[string]string{
			"connector.class": "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector", "tasks.max": "1",
			"source.cluster.bootstrap.servers": "127.0.0.1:9092", "target.cluster.bootstrap.servers": "127.0.0.1:9093",
		},
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String("127.0.0.1:9092"), Vpc: &kctypes.Vpc{Subnets: []string{"subnet-1"}},
		}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		KafkaConnectVersion:              aws.String("2.7.1"),
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: aws.String(pluginARN), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/connect"),
		Tags:                             map[string]string{"owner": "a"},
	}
}

func replicatorInput(name, source, target string) *kafka.CreateReplicatorInput {
	return &kafka.CreateReplicatorInput{
		ReplicatorName: aws.String(name),
		KafkaClusters: []ktypes.KafkaCluster{
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(source)}, VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}}},
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(target)}, VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}}},
		},
		ReplicationInfoList: []ktypes.ReplicationInfo{{
			SourceKafkaClusterArn:    aws.String(source),
			TargetKafkaClusterArn:    aws.String(target),
			TargetCompressionType:    ktypes.TargetCompressionTypeNone,
			TopicReplication:         &ktypes.TopicReplication{TopicsToReplicate: []string{".*"}},
			ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
		}},
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/replicator"),
		Tags:                    map[string]string{"owner": "a"},
	}
}

// TestAccountIsolation: the other account gets NotFoundException for every operation on the
// test account's resources — reads, writes, tags, and references from its own creates — and
// none of its attempts changes them.
func TestAccountIsolation(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	a := setupAccountA(t, env)
	ctx := t.Context()
	okc, ok := env.OtherKafkaConnect(), env.OtherKafka()

	t.Run("kafkaconnect", func(t *testing.T) {
		_, err := okc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: &a.connectorARN})
		notFound(t, "DescribeConnector", err)
		_, err = okc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: &a.connectorARN, CurrentVersion: &a.connectorVersion,
			ConnectorConfiguration: map[string]string{"connector.class": "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector", "tasks.max": "9",
				"source.cluster.bootstrap.servers": "127.0.0.1:9092", "target.cluster.bootstrap.servers": "127.0.0.1:9093"}})
		notFound(t, "UpdateConnector", err)
		_, err = okc.DeleteConnector(ctx, &kafkaconnect.DeleteConnectorInput{ConnectorArn: &a.connectorARN, CurrentVersion: &a.connectorVersion})
		notFound(t, "DeleteConnector", err)
		_, err = okc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: &a.connectorARN})
		notFound(t, "ListConnectorOperations", err)
		_, err = okc.DescribeConnectorOperation(ctx, &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: &a.operationARN})
		notFound(t, "DescribeConnectorOperation", err)
		_, err = okc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: &a.pluginARN})
		notFound(t, "DescribeCustomPlugin", err)
		_, err = okc.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: &a.pluginARN})
		notFound(t, "DeleteCustomPlugin", err)
		_, err = okc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: &a.workerConfigARN})
		notFound(t, "DescribeWorkerConfiguration", err)
		_, err = okc.DeleteWorkerConfiguration(ctx, &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: &a.workerConfigARN})
		notFound(t, "DeleteWorkerConfiguration", err)
		for _, arn := range []string{a.connectorARN, a.pluginARN, a.workerConfigARN} {
			_, err = okc.TagResource(ctx, &kafkaconnect.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"owner": "other"}})
			notFound(t, "TagResource "+arn, err)
			_, err = okc.UntagResource(ctx, &kafkaconnect.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"owner"}})
			notFound(t, "UntagResource "+arn, err)
			_, err = okc.ListTagsForResource(ctx, &kafkaconnect.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			notFound(t, "ListTagsForResource "+arn, err)
		}
		// A create that references the test account's plugin or worker configuration.
		_, err = okc.CreateConnector(ctx, connectorInput("others", a.pluginARN))
		notFound(t, "CreateConnector with another account's plugin", err)
		in := connectorInput("others", strings.Replace(a.pluginARN, servertest.Account, servertest.OtherAccount, 1))
		in.WorkerConfiguration = &kctypes.WorkerConfiguration{WorkerConfigurationArn: &a.workerConfigARN, Revision: 1}
		_, err = okc.CreateConnector(ctx, in)
		notFound(t, "CreateConnector with another account's plugin ARN rewritten", err)

		// Lists are per account.
		lc, err := okc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})
		if err != nil || len(lc.Connectors) != 0 {
			t.Errorf("other ListConnectors = %v, %v; want none", lc, err)
		}
		lp, err := okc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{})
		if err != nil || len(lp.CustomPlugins) != 0 {
			t.Errorf("other ListCustomPlugins = %v, %v; want none", lp, err)
		}
		lw, err := okc.ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{})
		if err != nil || len(lw.WorkerConfigurations) != 0 {
			t.Errorf("other ListWorkerConfigurations = %v, %v; want none", lw, err)
		}
		// Names are per account too: the other account may use the same one.
		wc, err := okc.CreateWorkerConfiguration(ctx, &kafkaconnect.CreateWorkerConfigurationInput{
			Name:                  aws.String("shared-name"),
			PropertiesFileContent: aws.String(base64.StdEncoding.EncodeToString([]byte("a=b\n"))),
		})
		if err != nil {
			t.Fatalf("the other account cannot use a name the test account uses: %v", err)
		}
		if !strings.Contains(aws.ToString(wc.WorkerConfigurationArn), ":"+servertest.OtherAccount+":") {
			t.Errorf("the other account's ARN %s is not in its account", aws.ToString(wc.WorkerConfigurationArn))
		}
	})

	t.Run("kafka", func(t *testing.T) {
		_, err := ok.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: &a.replicatorARN})
		notFound(t, "DescribeReplicator", err)
		_, err = ok.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{
			ReplicatorArn: &a.replicatorARN, CurrentVersion: &a.replicatorVersion,
			SourceKafkaClusterArn: &env.SourceClusterARN, TargetKafkaClusterArn: &env.TargetClusterARN,
			TopicReplication: &ktypes.TopicReplicationUpdate{TopicsToReplicate: []string{"stolen"}, TopicsToExclude: []string{},
				CopyAccessControlListsForTopics: aws.Bool(true), CopyTopicConfigurations: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true)},
		})
		notFound(t, "UpdateReplicationInfo", err)
		_, err = ok.DeleteReplicator(ctx, &kafka.DeleteReplicatorInput{ReplicatorArn: &a.replicatorARN})
		notFound(t, "DeleteReplicator", err)
		_, err = ok.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: &a.replicatorARN, Tags: map[string]string{"owner": "other"}})
		notFound(t, "TagResource replicator", err)
		_, err = ok.UntagResource(ctx, &kafka.UntagResourceInput{ResourceArn: &a.replicatorARN, TagKeys: []string{"owner"}})
		notFound(t, "UntagResource replicator", err)
		_, err = ok.ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: &a.replicatorARN})
		notFound(t, "ListTagsForResource replicator", err)
		_, err = ok.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: &env.SourceClusterARN})
		notFound(t, "DescribeClusterV2", err)
		_, err = ok.GetBootstrapBrokers(ctx, &kafka.GetBootstrapBrokersInput{ClusterArn: &env.SourceClusterARN})
		notFound(t, "GetBootstrapBrokers", err)
		_, err = ok.CreateReplicator(ctx, replicatorInput("others", env.SourceClusterARN, env.TargetClusterARN))
		notFound(t, "CreateReplicator with another account's clusters", err)

		lr, err := ok.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
		if err != nil || len(lr.Replicators) != 0 {
			t.Errorf("other ListReplicators = %v, %v; want none", lr, err)
		}
		lc, err := ok.ListClustersV2(ctx, &kafka.ListClustersV2Input{})
		if err != nil || len(lc.ClusterInfoList) != 0 {
			t.Errorf("other ListClustersV2 = %v, %v; want none", lc, err)
		}
	})

	t.Run("another region", func(t *testing.T) {
		// The test account's own credential, scoped to another region, sees nothing of us-east-1.
		cfg := env.AWSConfig(servertest.AccessKey, servertest.SecretKey)
		cfg.Region = "eu-west-1"
		_, err := kafkaconnect.NewFromConfig(cfg).DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: &a.connectorARN})
		notFound(t, "DescribeConnector from eu-west-1", err)
		_, err = kafka.NewFromConfig(cfg).DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: &a.replicatorARN})
		notFound(t, "DescribeReplicator from eu-west-1", err)
	})

	// Nothing the other account tried changed the test account's resources.
	kc, k := env.KafkaConnect(), env.Kafka()
	d, err := kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: &a.connectorARN})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.CurrentVersion) != a.connectorVersion || d.ConnectorState != kctypes.ConnectorStateCreating ||
		d.ConnectorConfiguration["tasks.max"] != "1" {
		t.Errorf("connector changed: version %s→%s, state %s, config %v", a.connectorVersion, aws.ToString(d.CurrentVersion), d.ConnectorState, d.ConnectorConfiguration)
	}
	ops, err := kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: &a.connectorARN})
	if err != nil || len(ops.ConnectorOperations) != 1 || aws.ToString(ops.ConnectorOperations[0].ConnectorOperationArn) != a.operationARN {
		t.Errorf("connector operations = %v, %v; want only %s", ops, err, a.operationARN)
	}
	for _, arn := range []string{a.connectorARN, a.pluginARN, a.workerConfigARN} {
		tags, err := kc.ListTagsForResource(ctx, &kafkaconnect.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil || len(tags.Tags) != 1 || tags.Tags["owner"] != "a" {
			t.Errorf("tags of %s = %v, %v; want owner=a", arn, tags, err)
		}
	}
	if _, err := kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: &a.pluginARN}); err != nil {
		t.Errorf("custom plugin: %v", err)
	}
	if _, err := kc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: &a.workerConfigARN}); err != nil {
		t.Errorf("worker configuration: %v", err)
	}
	rd, err := k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: &a.replicatorARN})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(rd.CurrentVersion) != a.replicatorVersion || rd.ReplicatorState == ktypes.ReplicatorStateDeleting ||
		rd.Tags["owner"] != "a" || rd.ReplicationInfoList[0].TopicReplication.TopicsToReplicate[0] != ".*" {
		t.Errorf("replicator changed: %+v", rd)
	}
}
