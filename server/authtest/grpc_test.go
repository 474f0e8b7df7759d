package authtest

import (
	"context"
	"encoding/base64"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	kafkav1 "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	kcv1 "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/server/sigv4"
)

// dial opens a gRPC connection to the server, signing every call with cred for service when
// cred is not nil.
func dial(t *testing.T, env *servertest.Env, cred *sigv4.Credential, service string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if cred != nil {
		opts = append(opts, grpc.WithUnaryInterceptor(sigv4.UnaryClientInterceptor(*cred, servertest.Region, service)))
	}
	conn, err := grpc.NewClient(env.GRPCAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func credOf(access, secret string) *sigv4.Credential {
	return &sigv4.Credential{AccessKeyID: access, SecretAccessKey: secret}
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Errorf("%s: %v (code %s), want code %s", what, err, status.Code(err), code)
	}
}

// gatewayKey reads the server's per-process gateway key, the secret the REST gateway proves
// itself with, so that the tests can show that even the right key does not let a remote client
// claim an identity.
func gatewayKey(t *testing.T, env *servertest.Env) string {
	t.Helper()
	f := reflect.ValueOf(env.Server).Elem().FieldByName("gatewayKey")
	if !f.IsValid() || f.Kind() != reflect.String || f.String() == "" {
		t.Fatal("server.Server has no gatewayKey string field any more: update this test")
	}
	return f.String()
}

// TestGRPCSigned: a signed gRPC client works and sees exactly what the REST API sees, both ways.
func TestGRPCSigned(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	ctx := t.Context()
	rest := env.KafkaConnect()
	g := kcv1.NewKafkaConnectClient(dial(t, env, credOf(servertest.AccessKey, servertest.SecretKey), "kafkaconnect"))

	props := base64.StdEncoding.EncodeToString([]byte("key.converter=org.apache.kafka.connect.storage.StringConverter\n"))
	made, err := rest.CreateWorkerConfiguration(ctx, &kafkaconnect.CreateWorkerConfigurationInput{
		Name: aws.String("via-rest"), Description: aws.String("made over REST"), PropertiesFileContent: aws.String(props),
		Tags: map[string]string{"made": "rest"},
	})
	if err != nil {
		t.Fatal(err)
	}

	// REST → gRPC.
	d, err := g.DescribeWorkerConfiguration(ctx, &kcv1.DescribeWorkerConfigurationRequest{WorkerConfigurationArn: made.WorkerConfigurationArn})
	if err != nil {
		t.Fatalf("gRPC DescribeWorkerConfiguration: %v", err)
	}
	if d.GetWorkerConfigurationArn() != aws.ToString(made.WorkerConfigurationArn) || d.GetName() != "via-rest" ||
		d.GetDescription() != "made over REST" || d.GetLatestRevision().GetPropertiesFileContent() != props ||
		d.GetLatestRevision().GetRevision() != 1 || d.GetWorkerConfigurationState() != "ACTIVE" {
		t.Errorf("gRPC sees %v", d)
	}
	// REST sends milliseconds.
	if !d.GetCreationTime().AsTime().Truncate(time.Millisecond).Equal(aws.ToTime(made.CreationTime)) {
		t.Errorf("creation time over gRPC %v, over REST %v", d.GetCreationTime().AsTime(), aws.ToTime(made.CreationTime))
	}
	tags, err := g.ListTagsForResource(ctx, &kcv1.ListTagsForResourceRequest{ResourceArn: made.WorkerConfigurationArn})
	if err != nil || len(tags.GetTags()) != 1 || tags.GetTags()["made"] != "rest" {
		t.Errorf("gRPC ListTagsForResource = %v, %v", tags, err)
	}

	// gRPC → REST.
	gm, err := g.CreateWorkerConfiguration(ctx, &kcv1.CreateWorkerConfigurationRequest{
		Name: proto.String("via-grpc"), PropertiesFileContent: proto.String(props), Tags: map[string]string{"made": "grpc"},
	})
	if err != nil {
		t.Fatalf("gRPC CreateWorkerConfiguration: %v", err)
	}
	rd, err := rest.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: gm.WorkerConfigurationArn})
	if err != nil {
		t.Fatalf("REST describe of the gRPC-made worker configuration: %v", err)
	}
	if aws.ToString(rd.Name) != "via-grpc" || aws.ToString(rd.LatestRevision.PropertiesFileContent) != props {
		t.Errorf("REST sees %+v", rd)
	}

	// Both lists agree.
	rl, err := rest.ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{})
	if err != nil {
		t.Fatal(err)
	}
	gl, err := g.ListWorkerConfigurations(ctx, &kcv1.ListWorkerConfigurationsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var restARNs, grpcARNs []string
	for _, w := range rl.WorkerConfigurations {
		restARNs = append(restARNs, aws.ToString(w.WorkerConfigurationArn))
	}
	for _, w := range gl.GetWorkerConfigurations() {
		grpcARNs = append(grpcARNs, w.GetWorkerConfigurationArn())
	}
	if len(restARNs) != 2 || !reflect.DeepEqual(restARNs, grpcARNs) {
		t.Errorf("REST lists %v, gRPC lists %v", restARNs, grpcARNs)
	}

	// The kafka service over gRPC, signed for kafka.
	k := kafkav1.NewKafkaClient(dial(t, env, credOf(servertest.AccessKey, servertest.SecretKey), "kafka"))
	cl, err := k.ListClustersV2(ctx, &kafkav1.ListClustersV2Request{})
	if err != nil {
		t.Fatalf("gRPC ListClustersV2: %v", err)
	}
	if len(cl.GetClusterInfoList()) != 2 || cl.GetClusterInfoList()[0].GetClusterArn() != env.SourceClusterARN {
		t.Errorf("gRPC ListClustersV2 = %v", cl)
	}
	bb, err := k.GetBootstrapBrokers(ctx, &kafkav1.GetBootstrapBrokersRequest{ClusterArn: proto.String(env.TargetClusterARN)})
	if err != nil || bb.GetBootstrapBrokerString() != "127.0.0.1:29092" {
		t.Errorf("gRPC GetBootstrapBrokers = %v, %v", bb, err)
	}

	// The other account over gRPC sees none of it.
	og := kcv1.NewKafkaConnectClient(dial(t, env, credOf(servertest.OtherAccess, servertest.OtherSecret), "kafkaconnect"))
	_, err = og.DescribeWorkerConfiguration(ctx, &kcv1.DescribeWorkerConfigurationRequest{WorkerConfigurationArn: made.WorkerConfigurationArn})
	wantCode(t, "other account's gRPC DescribeWorkerConfiguration", err, codes.NotFound)
	ol, err := og.ListWorkerConfigurations(ctx, &kcv1.ListWorkerConfigurationsRequest{})
	if err != nil || len(ol.GetWorkerConfigurations()) != 0 {
		t.Errorf("other account's gRPC list = %v, %v", ol, err)
	}
}

// TestGRPCRefused: wrong secret, unknown key, wrong service and no signature are all
// Unauthenticated, and so is a remote client that sends the gateway's internal identity
// metadata — even with the real gateway key.
func TestGRPCRefused(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	ctx := t.Context()
	made, err := env.KafkaConnect().CreateWorkerConfiguration(ctx, &kafkaconnect.CreateWorkerConfigurationInput{
		Name: aws.String("target"), PropertiesFileContent: aws.String(base64.StdEncoding.EncodeToString([]byte("a=b\n"))),
	})
	if err != nil {
		t.Fatal(err)
	}
	describe := &kcv1.DescribeWorkerConfigurationRequest{WorkerConfigurationArn: made.WorkerConfigurationArn}
	create := &kcv1.CreateWorkerConfigurationRequest{Name: proto.String("sneaky"), PropertiesFileContent: proto.String(base64.StdEncoding.EncodeToString([]byte("a=b\n")))}

	for _, tc := range []struct {
		name    string
		cred    *sigv4.Credential
		service string
	}{
		{"wrong secret", credOf(servertest.AccessKey, "not-the-secret"), "kafkaconnect"},
		{"other account's secret", credOf(servertest.AccessKey, servertest.OtherSecret), "kafkaconnect"},
		{"unknown access key", credOf("AKIDUNKNOWN", "x"), "kafkaconnect"},
		{"signed for s3", credOf(servertest.AccessKey, servertest.SecretKey), "s3"},
		{"unsigned", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := kcv1.NewKafkaConnectClient(dial(t, env, tc.cred, tc.service))
			_, err := g.DescribeWorkerConfiguration(ctx, describe)
			wantCode(t, "DescribeWorkerConfiguration", err, codes.Unauthenticated)
			_, err = g.ListWorkerConfigurations(ctx, &kcv1.ListWorkerConfigurationsRequest{})
			wantCode(t, "ListWorkerConfigurations", err, codes.Unauthenticated)
			_, err = g.CreateWorkerConfiguration(ctx, create)
			wantCode(t, "CreateWorkerConfiguration", err, codes.Unauthenticated)
		})
	}

	t.Run("gateway metadata", func(t *testing.T) {
		t.Parallel()
		for _, key := range []string{gatewayKey(t, env), "0123456789abcdef0123456789abcdef"} {
			md := metadata.Pairs(
				"x-fjord-gateway-key", key,
				"x-fjord-account", servertest.Account,
				"x-fjord-access-key", servertest.AccessKey,
				"x-fjord-region", servertest.Region,
				"x-fjord-service", "kafkaconnect")
			mctx := metadata.NewOutgoingContext(ctx, md)

			// Unsigned: refused.
			g := kcv1.NewKafkaConnectClient(dial(t, env, nil, ""))
			_, err := g.DescribeWorkerConfiguration(mctx, describe)
			wantCode(t, "unsigned DescribeWorkerConfiguration with gateway metadata", err, codes.Unauthenticated)
			_, err = g.CreateWorkerConfiguration(mctx, create)
			wantCode(t, "unsigned CreateWorkerConfiguration with gateway metadata", err, codes.Unauthenticated)

			// Signed by the other account: the metadata does not make it the test account.
			og := kcv1.NewKafkaConnectClient(dial(t, env, credOf(servertest.OtherAccess, servertest.OtherSecret), "kafkaconnect"))
			_, err = og.DescribeWorkerConfiguration(mctx, describe)
			wantCode(t, "other account's DescribeWorkerConfiguration with gateway metadata", err, codes.NotFound)
			l, err := og.ListWorkerConfigurations(mctx, &kcv1.ListWorkerConfigurationsRequest{})
			if err != nil || len(l.GetWorkerConfigurations()) != 0 {
				t.Errorf("other account with gateway metadata lists %v, %v", l, err)
			}
		}
	})

	// Afterwards: only the test account's one worker configuration exists; "sneaky" was never made.
	t.Cleanup(func() {
		l, err := env.KafkaConnect().ListWorkerConfigurations(context.Background(), &kafkaconnect.ListWorkerConfigurationsInput{})
		if err != nil {
			t.Error(err)
			return
		}
		if len(l.WorkerConfigurations) != 1 || aws.ToString(l.WorkerConfigurations[0].Name) != "target" {
			t.Errorf("worker configurations after refused calls: %+v", l.WorkerConfigurations)
		}
		ol, err := env.OtherKafkaConnect().ListWorkerConfigurations(context.Background(), &kafkaconnect.ListWorkerConfigurationsInput{})
		if err != nil || len(ol.WorkerConfigurations) != 0 {
			t.Errorf("the other account's worker configurations: %+v, %v", ol, err)
		}
	})
}

// TestGRPCServiceScope: a kafkaconnect call signed for the kafka service (and the reverse) is
// refused over gRPC as it is over REST.
func TestGRPCServiceScope(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	ctx := t.Context()
	g := kcv1.NewKafkaConnectClient(dial(t, env, credOf(servertest.AccessKey, servertest.SecretKey), "kafka"))
	_, err := g.ListConnectors(ctx, &kcv1.ListConnectorsRequest{})
	wantCode(t, "kafkaconnect ListConnectors signed for kafka", err, codes.Unauthenticated)
	k := kafkav1.NewKafkaClient(dial(t, env, credOf(servertest.AccessKey, servertest.SecretKey), "kafkaconnect"))
	_, err = k.ListReplicators(ctx, &kafkav1.ListReplicatorsRequest{})
	wantCode(t, "kafka ListReplicators signed for kafkaconnect", err, codes.Unauthenticated)
}
