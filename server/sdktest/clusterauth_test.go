package sdktest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"google.golang.org/grpc/codes"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
)

// TestClusterAuthentication: a cluster registered with MSK's bootstrap strings per
// authentication answers GetBootstrapBrokers with each of them, and DescribeClusterV2 shows
// its client authentication and encryption in transit; a registration without any bootstrap
// string, or with a malformed one, is refused naming the member.
func TestClusterAuthentication(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	adm := f.admin(t)
	reg, err := adm.RegisterCluster(ctx, &adminv1.RegisterClusterRequest{ClusterName: "msk-iam",
		BootstrapServersTls: "b-1.msk:9094,b-2.msk:9094", BootstrapServersSaslScram: "b-1.msk:9096,b-2.msk:9096",
		BootstrapServersSaslIam: "b-1.msk:9098,b-2.msk:9098"})
	check(t, err)
	arn := reg.Cluster.ClusterArn
	b := must(f.k.GetBootstrapBrokers(ctx, &kafka.GetBootstrapBrokersInput{ClusterArn: aws.String(arn)})).get(t)
	if b.BootstrapBrokerString != nil {
		t.Errorf("bootstrapBrokerString %q for a cluster without plaintext", aws.ToString(b.BootstrapBrokerString))
	}
	eq(t, "bootstrapBrokerStringTls", aws.ToString(b.BootstrapBrokerStringTls), "b-1.msk:9094,b-2.msk:9094")
	eq(t, "bootstrapBrokerStringSaslScram", aws.ToString(b.BootstrapBrokerStringSaslScram), "b-1.msk:9096,b-2.msk:9096")
	eq(t, "bootstrapBrokerStringSaslIam", aws.ToString(b.BootstrapBrokerStringSaslIam), "b-1.msk:9098,b-2.msk:9098")

	d := must(f.k.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String(arn)})).get(t)
	p := d.ClusterInfo.Provisioned
	ca := p.ClientAuthentication
	if ca == nil || !aws.ToBool(ca.Sasl.Iam.Enabled) || !aws.ToBool(ca.Sasl.Scram.Enabled) || !aws.ToBool(ca.Unauthenticated.Enabled) {
		t.Errorf("clientAuthentication %+v", ca)
	}
	eq(t, "clientBroker", string(p.EncryptionInfo.EncryptionInTransit.ClientBroker), "TLS")
	eq(t, "numberOfBrokerNodes", aws.ToInt32(p.NumberOfBrokerNodes), 2)

	plain := must(f.k.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String(f.env.SourceClusterARN)})).get(t).ClusterInfo.Provisioned
	if aws.ToBool(plain.ClientAuthentication.Sasl.Iam.Enabled) || string(plain.EncryptionInfo.EncryptionInTransit.ClientBroker) != "PLAINTEXT" {
		t.Errorf("plaintext cluster: %+v %+v", plain.ClientAuthentication.Sasl.Iam, plain.EncryptionInfo.EncryptionInTransit)
	}

	_, err = adm.RegisterCluster(ctx, &adminv1.RegisterClusterRequest{ClusterName: "none"})
	wantStatus(t, err, codes.InvalidArgument, "bootstrapServers")
	_, err = adm.RegisterCluster(ctx, &adminv1.RegisterClusterRequest{ClusterName: "bad", BootstrapServersSaslIam: "b-1:port"})
	wantStatus(t, err, codes.InvalidArgument, "bootstrapServersSaslIam")
	_, err = adm.RegisterCluster(ctx, &adminv1.RegisterClusterRequest{ClusterName: "bad", BootstrapServers: "b-1:9092", TlsRootCa: "not a certificate"})
	wantStatus(t, err, codes.InvalidArgument, "tlsRootCa")
}
