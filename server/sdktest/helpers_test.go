// Package sdktest is Fjord's acceptance suite for the public API: every operation of both
// services (kafkaconnect and kafka) through the real aws-sdk-go-v2 clients with a custom
// endpoint, against a real Postgres-backed server — the happy path and every documented error
// of each operation, checked as typed SDK errors and HTTP statuses.
package sdktest

import (
	"archive/zip"
	"bytes"
	"crypto/md5" //nolint:gosec // fileMd5 is an MD5 by definition
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	kt "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/aws/smithy-go"

	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Names used throughout.
const (
	mirrorSource = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
	roleARN      = "arn:aws:iam::000000000000:role/fjord-connect"
	pluginBucket = "plugins"
)

// fixture is one test's own server and the clients of both accounts.
type fixture struct {
	env    *servertest.Env
	kc     *kafkaconnect.Client // account 000000000000
	k      *kafka.Client
	otherC *kafkaconnect.Client // account 111111111111
	otherK *kafka.Client
}

func start(t *testing.T) *fixture {
	t.Helper()
	env := servertest.Start(t)
	return &fixture{env: env, kc: env.KafkaConnect(), k: env.Kafka(), otherC: env.OtherKafkaConnect(), otherK: env.OtherKafka()}
}

// ---- errors ----

// apiError is what every typed SDK error of both services implements.
type apiError interface {
	error
	ErrorCode() string
	ErrorMessage() string
}

// wantErr asserts that err is the typed SDK error E (e.g. *kct.NotFoundException), that the
// response had HTTP status, and that the message contains each of want. It returns the error.
func wantErr[E apiError](t *testing.T, err error, status int, want ...string) E {
	t.Helper()
	var e E
	if err == nil {
		t.Fatalf("call succeeded; want %T (HTTP %d)", e, status)
	}
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T); want %T (HTTP %d)", err, err, e, status)
	}
	checkResponse(t, err, status)
	if e.ErrorMessage() == "" {
		t.Errorf("%T has an empty message", e)
	}
	for _, w := range want {
		if !strings.Contains(e.ErrorMessage(), w) {
			t.Errorf("%s message %q does not contain %q", e.ErrorCode(), e.ErrorMessage(), w)
		}
	}
	return e
}

// wantCode asserts an error the model does not list for the operation (the SDK then builds a
// generic smithy.APIError) by its code and HTTP status.
func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T); want API error %s", err, err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code %s (%v); want %s", ae.ErrorCode(), err, code)
	}
	checkResponse(t, err, status)
}

func checkResponse(t *testing.T, err error, status int) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	if got := re.HTTPStatusCode(); got != status {
		t.Errorf("HTTP status %d; want %d (%v)", got, status, err)
	}
}

// must(call()).get(t) returns the result of a call that must succeed.
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// sameOutput asserts that two outputs of the same Describe are identical but for the response
// metadata and the stateDescription/stateInfo, which the control plane may rewrite on its own
// at any time (e.g. "waiting for N MCU" while a workload cannot be placed) without changing
// the resource or its currentVersion.
func sameOutput[T any](t *testing.T, what string, before, after *T) {
	t.Helper()
	b, a := forCompare(before), forCompare(after)
	if !reflect.DeepEqual(b, a) {
		bj, _ := json.Marshal(b)
		aj, _ := json.Marshal(a)
		t.Errorf("%s changed:\nbefore %s\nafter  %s", what, bj, aj)
	}
}

// forCompare returns a copy of an SDK output without ResultMetadata, StateDescription and
// StateInfo.
func forCompare[T any](out *T) T {
	c := *out
	v := reflect.ValueOf(&c).Elem()
	for _, name := range []string{"ResultMetadata", "StateDescription", "StateInfo"} {
		if f := v.FieldByName(name); f.IsValid() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return c
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}

func eqSlice[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v; want %v", what, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s = %v; want %v", what, got, want)
			return
		}
	}
}

func eqMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v; want %v", what, got, want)
		return
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v; want %v", what, got, want)
			return
		}
	}
}

// recent asserts a timestamp is set and close to now.
func recent(t *testing.T, what string, ts *time.Time) {
	t.Helper()
	if ts == nil {
		t.Errorf("%s is not set", what)
		return
	}
	if d := time.Since(*ts); d < -time.Minute || d > time.Minute {
		t.Errorf("%s = %v, not close to now", what, *ts)
	}
}

// arnPrefix asserts that an ARN has the form arn:aws:{service}:us-east-1:{account}:{type}/{name}/….
func arnPrefix(t *testing.T, what, arn, service, account, typ, name string) {
	t.Helper()
	want := fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s/", service, servertest.Region, account, typ, name)
	if !strings.HasPrefix(arn, want) || len(arn) <= len(want) {
		t.Errorf("%s = %q; want %s…", what, arn, want)
	}
}

// unknownARN is a well-formed ARN of account 000000000000 that names nothing.
func unknownARN(service, typ, name string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s/0b1f6a2e-1111-4222-8333-944445555666-3", service, servertest.Region, servertest.Account, typ, name)
}

// ---- custom plugins ----

// zipBytes builds a ZIP archive holding the given files.
func zipBytes(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for name, content := range files {
		w, err := z.Create(name)
		check(t, err)
		_, err = w.Write([]byte(content))
		check(t, err)
	}
	check(t, z.Close())
	return b.Bytes()
}

func md5hex(b []byte) string {
	s := md5.Sum(b) //nolint:gosec // see import
	return hex.EncodeToString(s[:])
}

// pluginInput is a CreateCustomPlugin request for an object in the plugin bucket.
func pluginInput(name, key string, ct kct.CustomPluginContentType) *kafkaconnect.CreateCustomPluginInput {
	return &kafkaconnect.CreateCustomPluginInput{
		Name:        aws.String(name),
		ContentType: ct,
		Location: &kct.CustomPluginLocation{S3Location: &kct.S3Location{
			BucketArn: aws.String("arn:aws:s3:::" + pluginBucket), FileKey: aws.String(key),
		}},
	}
}

// waitPlugin polls until a plugin has left CREATING and returns its description.
func waitPlugin(t *testing.T, c *kafkaconnect.Client, arn string) *kafkaconnect.DescribeCustomPluginOutput {
	t.Helper()
	var out *kafkaconnect.DescribeCustomPluginOutput
	servertest.Eventually(t, 10*time.Second, "custom plugin "+arn+" to leave CREATING", func() bool {
		d, err := c.DescribeCustomPlugin(t.Context(), &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("describe plugin: %v", err)
		}
		out = d
		return d.CustomPluginState != kct.CustomPluginStateCreating
	})
	return out
}

// activePluginOf creates a valid ZIP plugin with client c and waits until it is ACTIVE.
func (f *fixture) activePluginOf(t *testing.T, c *kafkaconnect.Client, name string) string {
	t.Helper()
	key := "zips/" + name + ".zip"
	f.env.PutObject(t, pluginBucket, key, zipBytes(t, map[string]string{"lib/" + name + ".jar": "jar"}))
	out := must(c.CreateCustomPlugin(t.Context(), pluginInput(name, key, kct.CustomPluginContentTypeZip))).get(t)
	d := waitPlugin(t, c, *out.CustomPluginArn)
	if d.CustomPluginState != kct.CustomPluginStateActive {
		t.Fatalf("plugin %s is %s (%+v); want ACTIVE", name, d.CustomPluginState, d.StateDescription)
	}
	return *out.CustomPluginArn
}

func (f *fixture) activePlugin(t *testing.T, name string) string {
	t.Helper()
	return f.activePluginOf(t, f.kc, name)
}

// ---- connectors ----

func mirrorConfig() map[string]string {
	return map[string]string{
		"connector.class":                  mirrorSource,
		"tasks.max":                        "2",
		"source.cluster.alias":             "source",
		"target.cluster.alias":             "target",
		"source.cluster.bootstrap.servers": "127.0.0.1:19092",
		"target.cluster.bootstrap.servers": "127.0.0.1:29092",
		"topics":                           "orders.*",
	}
}

// connectorInput is a valid CreateConnector request with provisioned capacity.
func connectorInput(name, pluginARN string) *kafkaconnect.CreateConnectorInput {
	return &kafkaconnect.CreateConnectorInput{
		ConnectorName:          aws.String(name),
		Capacity:               &kct.Capacity{ProvisionedCapacity: &kct.ProvisionedCapacity{McuCount: 1, WorkerCount: 2}},
		ConnectorConfiguration: mirrorConfig(),
		KafkaCluster: &kct.KafkaCluster{ApacheKafkaCluster: &kct.ApacheKafkaCluster{
			BootstrapServers: aws.String("127.0.0.1:29092"),
			Vpc:              &kct.Vpc{Subnets: []string{"subnet-0a1b2c"}, SecurityGroups: []string{"sg-0a1b2c"}},
		}},
		KafkaClusterClientAuthentication: &kct.KafkaClusterClientAuthentication{AuthenticationType: kct.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kct.KafkaClusterEncryptionInTransit{EncryptionType: kct.KafkaClusterEncryptionInTransitTypePlaintext},
		KafkaConnectVersion:              aws.String("3.7.x"),
		Plugins:                          []kct.Plugin{{CustomPlugin: &kct.CustomPlugin{CustomPluginArn: aws.String(pluginARN), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String(roleARN),
	}
}

func describeConnector(t *testing.T, c *kafkaconnect.Client, arn string) *kafkaconnect.DescribeConnectorOutput {
	t.Helper()
	return must(c.DescribeConnector(t.Context(), &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})).get(t)
}

// createConnector creates a connector and returns its ARN.
func createConnector(t *testing.T, c *kafkaconnect.Client, in *kafkaconnect.CreateConnectorInput) string {
	t.Helper()
	return *must(c.CreateConnector(t.Context(), in)).get(t).ConnectorArn
}

// ---- worker configurations ----

func workerConfigInput(name, properties string) *kafkaconnect.CreateWorkerConfigurationInput {
	return &kafkaconnect.CreateWorkerConfigurationInput{
		Name:                  aws.String(name),
		PropertiesFileContent: aws.String(b64(properties)),
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// ---- replicators ----

// replicatorInput is a valid CreateReplicator request from the registered cluster "source" to
// "target" (amazonMskCluster form) with every optional setting left to its default.
func (f *fixture) replicatorInput(name string) *kafka.CreateReplicatorInput {
	src, dst := f.env.SourceClusterARN, f.env.TargetClusterARN
	vpc := &kt.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-0a1b2c"}, SecurityGroupIds: []string{"sg-0a1b2c"}}
	return &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(name),
		ServiceExecutionRoleArn: aws.String(roleARN),
		KafkaClusters: []kt.KafkaCluster{
			{AmazonMskCluster: &kt.AmazonMskCluster{MskClusterArn: aws.String(src)}, VpcConfig: vpc},
			{AmazonMskCluster: &kt.AmazonMskCluster{MskClusterArn: aws.String(dst)}, VpcConfig: vpc},
		},
		ReplicationInfoList: []kt.ReplicationInfo{{
			SourceKafkaClusterArn:    aws.String(src),
			TargetKafkaClusterArn:    aws.String(dst),
			TargetCompressionType:    kt.TargetCompressionTypeNone,
			TopicReplication:         &kt.TopicReplication{TopicsToReplicate: []string{"orders.*"}},
			ConsumerGroupReplication: &kt.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
		}},
	}
}

// apacheReplicatorInput is a valid CreateReplicator request between two Apache Kafka clusters
// (any account can make it: no registered cluster is involved).
func apacheReplicatorInput(name string) *kafka.CreateReplicatorInput {
	return &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(name),
		ServiceExecutionRoleArn: aws.String(roleARN),
		KafkaClusters: []kt.KafkaCluster{
			{ApacheKafkaCluster: &kt.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("onprem"), BootstrapBrokerString: aws.String("10.0.0.1:9092,10.0.0.2:9092")}},
			{ApacheKafkaCluster: &kt.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("cloud"), BootstrapBrokerString: aws.String("10.1.0.1:9092")}},
		},
		ReplicationInfoList: []kt.ReplicationInfo{{
			SourceKafkaClusterId:     aws.String("onprem"),
			TargetKafkaClusterId:     aws.String("cloud"),
			TargetCompressionType:    kt.TargetCompressionTypeLz4,
			TopicReplication:         &kt.TopicReplication{TopicsToReplicate: []string{".*"}},
			ConsumerGroupReplication: &kt.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
		}},
	}
}

func describeReplicator(t *testing.T, c *kafka.Client, arn string) *kafka.DescribeReplicatorOutput {
	t.Helper()
	return must(c.DescribeReplicator(t.Context(), &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})).get(t)
}

func createReplicator(t *testing.T, c *kafka.Client, in *kafka.CreateReplicatorInput) string {
	t.Helper()
	return *must(c.CreateReplicator(t.Context(), in)).get(t).ReplicatorArn
}

// manyTags returns n distinct tags k000…
func manyTags(prefix string, n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("%s%03d", prefix, i)] = fmt.Sprint(i)
	}
	return m
}

// ---- connector operations ----

// opEnded reports whether a connector operation is in a terminal state.
func opEnded(s kct.ConnectorOperationState) bool {
	switch s {
	case kct.ConnectorOperationStateUpdateComplete, kct.ConnectorOperationStateUpdateFailed,
		kct.ConnectorOperationStateRollbackComplete, kct.ConnectorOperationStateRollbackFailed:
		return true
	}
	return false
}

// describeOperation returns a connector operation's description.
func describeOperation(t *testing.T, c *kafkaconnect.Client, opARN string) *kafkaconnect.DescribeConnectorOperationOutput {
	t.Helper()
	return must(c.DescribeConnectorOperation(t.Context(), &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: aws.String(opARN)})).get(t)
}

// waitOperation polls DescribeConnectorOperation every 50 ms, for up to 15 s, until the
// operation has ended (UPDATE_COMPLETE, UPDATE_FAILED, ROLLBACK_COMPLETE or ROLLBACK_FAILED),
// and returns its final description. UpdateConnector only records the operation; the
// scheduler's leader carries it out.
func waitOperation(t *testing.T, c *kafkaconnect.Client, opARN string) *kafkaconnect.DescribeConnectorOperationOutput {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		op := describeOperation(t, c, opARN)
		if opEnded(op.ConnectorOperationState) {
			return op
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s still %s after 15 s: steps %s", opARN, op.ConnectorOperationState, stepsString(op.OperationSteps))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// updateSteps is the order of the steps of an update of type typ.
func updateSteps(typ kct.ConnectorOperationType) []kct.ConnectorOperationStepType {
	return []kct.ConnectorOperationStepType{kct.ConnectorOperationStepTypeInitializeUpdate, kct.ConnectorOperationStepType(typ),
		kct.ConnectorOperationStepTypeValidateUpdate, kct.ConnectorOperationStepTypeFinalizeUpdate}
}

func stepsString(steps []kct.ConnectorOperationStep) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%s", s.StepType, s.StepState)
	}
	return "[" + b.String() + "]"
}

// checkSteps asserts that op lists exactly the steps of an update of type typ, in order, in
// the given states.
func checkSteps(t *testing.T, what string, op *kafkaconnect.DescribeConnectorOperationOutput, typ kct.ConnectorOperationType, states ...kct.ConnectorOperationStepState) {
	t.Helper()
	want := updateSteps(typ)
	bad := len(op.OperationSteps) != len(want)
	for i := 0; !bad && i < len(want); i++ {
		bad = op.OperationSteps[i].StepType != want[i] || op.OperationSteps[i].StepState != states[i]
	}
	if bad {
		var exp []kct.ConnectorOperationStep
		for i := range want {
			exp = append(exp, kct.ConnectorOperationStep{StepType: want[i], StepState: states[i]})
		}
		t.Errorf("%s steps = %s; want %s", what, stepsString(op.OperationSteps), stepsString(exp))
	}
}

// checkJustRecorded asserts what DescribeConnectorOperation shows of an update of a connector
// that has not started, right after the call: either the operation as the call recorded it
// (UPDATE_IN_PROGRESS, INITIALIZE_UPDATE in progress, every later step pending, no endTime) or,
// when the scheduler's leader was already there, complete (see checkCompleted). It returns the
// description.
func checkJustRecorded(t *testing.T, c *kafkaconnect.Client, opARN string, typ kct.ConnectorOperationType) *kafkaconnect.DescribeConnectorOperationOutput {
	t.Helper()
	op := describeOperation(t, c, opARN)
	eq(t, "operation type", op.ConnectorOperationType, typ)
	recent(t, "operation creationTime", op.CreationTime)
	switch op.ConnectorOperationState {
	case kct.ConnectorOperationStateUpdateInProgress:
		checkSteps(t, "recorded operation", op, typ, kct.ConnectorOperationStepStateInProgress, kct.ConnectorOperationStepStatePending,
			kct.ConnectorOperationStepStatePending, kct.ConnectorOperationStepStatePending)
		if op.EndTime != nil {
			t.Errorf("operation in progress has endTime %v", *op.EndTime)
		}
		if op.ErrorInfo != nil {
			t.Errorf("operation in progress has errorInfo %+v", op.ErrorInfo)
		}
	case kct.ConnectorOperationStateUpdateComplete:
		t.Logf("operation %s already complete when first described", opARN)
		checkCompleted(t, op, typ)
	default:
		t.Errorf("operation right after UpdateConnector is %s (steps %s); want UPDATE_IN_PROGRESS or, already, UPDATE_COMPLETE",
			op.ConnectorOperationState, stepsString(op.OperationSteps))
	}
	return op
}

// checkCompleted asserts that op is a successfully completed update of type typ: every step
// COMPLETED in order, an endTime not before its creationTime, no errorInfo.
func checkCompleted(t *testing.T, op *kafkaconnect.DescribeConnectorOperationOutput, typ kct.ConnectorOperationType) {
	t.Helper()
	eq(t, "operation state", op.ConnectorOperationState, kct.ConnectorOperationStateUpdateComplete)
	eq(t, "operation type", op.ConnectorOperationType, typ)
	c := kct.ConnectorOperationStepStateCompleted
	checkSteps(t, "completed operation", op, typ, c, c, c, c)
	recent(t, "operation creationTime", op.CreationTime)
	recent(t, "operation endTime", op.EndTime)
	if op.EndTime != nil && op.CreationTime != nil && op.EndTime.Before(*op.CreationTime) {
		t.Errorf("operation endTime %v is before its creationTime %v", *op.EndTime, *op.CreationTime)
	}
	if op.ErrorInfo != nil {
		t.Errorf("completed operation has errorInfo %+v", op.ErrorInfo)
	}
}

// updateAndWait updates a connector that has not started (CREATING, as every connector of
// these tests: no agent runs them), checks that the call leaves it UPDATING, waits for the
// operation to complete and checks that the connector is CREATING again with a new
// currentVersion. It returns the operation ARN and the connector's final description.
func updateAndWait(t *testing.T, c *kafkaconnect.Client, in *kafkaconnect.UpdateConnectorInput) (string, *kafkaconnect.DescribeConnectorOutput) {
	t.Helper()
	arn := aws.ToString(in.ConnectorArn)
	up := must(c.UpdateConnector(t.Context(), in)).get(t)
	eq(t, "UpdateConnector connectorState", up.ConnectorState, kct.ConnectorStateUpdating)
	eq(t, "UpdateConnector connectorArn", aws.ToString(up.ConnectorArn), arn)
	typ := kct.ConnectorOperationTypeUpdateConnectorConfiguration
	if in.Capacity != nil {
		typ = kct.ConnectorOperationTypeUpdateWorkerSetting
	}
	opARN := aws.ToString(up.ConnectorOperationArn)
	checkCompleted(t, waitOperation(t, c, opARN), typ)
	d := describeConnector(t, c, arn)
	eq(t, "connector state after its update", d.ConnectorState, kct.ConnectorStateCreating)
	if aws.ToString(d.CurrentVersion) == aws.ToString(in.CurrentVersion) {
		t.Errorf("currentVersion %s did not change on update", aws.ToString(in.CurrentVersion))
	}
	return opARN, d
}

func stateString(d *kct.StateDescription) string {
	if d == nil {
		return "none"
	}
	return aws.ToString(d.Code) + ": " + aws.ToString(d.Message)
}
