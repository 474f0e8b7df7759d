package secrettest

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/fjord-io/fjord/server/motoserver"
	"github.com/fjord-io/fjord/server/servertest"
)

// TestCrossAccountSecretRefused: a replicator of account 000000000000 naming a SCRAM secret of
// account 111122223333 is refused at creation with a BadRequestException naming the member,
// with the same message whether the secret exists (created in moto under that account) or
// not; Fjord contacts neither Secrets Manager nor the cluster (a listener counts connection
// attempts), and the secret's content is in no log line.
func TestCrossAccountSecretRefused(t *testing.T) {
	ctx := context.Background()
	// Secrets Manager of account 111122223333 (moto puts its resources there), the endpoint
	// Fjord reads secrets from: were Fjord to read the secret, it could.
	t.Setenv("MOTO_ACCOUNT_ID", "111122223333")
	moto := motoserver.New(t)
	other := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSETUP", "setup", "")}
	const content = `{"username":"other-account-user","password":"other-account-Pa55"}`
	sec, err := secretsmanager.NewFromConfig(other, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(moto.Endpoint) }).CreateSecret(ctx,
		&secretsmanager.CreateSecretInput{Name: aws.String("AmazonMSK_theirs"), SecretString: aws.String(content)})
	if err != nil {
		t.Fatal(err)
	}
	existing := aws.ToString(sec.ARN)
	if !strings.Contains(existing, ":111122223333:secret:") {
		t.Fatalf("moto put the secret elsewhere: %s", existing)
	}
	missing := "arn:aws:secretsmanager:us-east-1:111122223333:secret:AmazonMSK_none-AbCdEf"

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var accepts atomic.Int64
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			conn.Close()
		}
	}()

	logs := &syncBuffer{}
	env := servertest.Start(t, servertest.Options{SecretsEndpoint: moto.Endpoint, Log: logs})
	k := env.Kafka()
	create := func(secretARN string) error {
		_, err := k.CreateReplicator(ctx, &kafka.CreateReplicatorInput{
			ReplicatorName:          aws.String("cross"),
			ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord"),
			KafkaClusters: []ktypes.KafkaCluster{
				{ApacheKafkaCluster: &ktypes.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("src"), BootstrapBrokerString: aws.String(l.Addr().String())},
					ClientAuthentication: &ktypes.KafkaClusterClientAuthentication{SaslScram: &ktypes.KafkaClusterSaslScramAuthentication{
						Mechanism: ktypes.KafkaClusterSaslScramMechanismSha512, SecretArn: aws.String(secretARN)}}},
				{ApacheKafkaCluster: &ktypes.ApacheKafkaCluster{ApacheKafkaClusterId: aws.String("dst"), BootstrapBrokerString: aws.String(l.Addr().String())}},
			},
			ReplicationInfoList: []ktypes.ReplicationInfo{{
				SourceKafkaClusterId: aws.String("src"), TargetKafkaClusterId: aws.String("dst"),
				TargetCompressionType:    ktypes.TargetCompressionTypeNone,
				TopicReplication:         &ktypes.TopicReplication{TopicsToReplicate: []string{"orders"}},
				ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
			}},
		})
		return err
	}
	var msgs []string
	for _, arn := range []string{existing, missing} {
		err := create(arn)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "BadRequestException" {
			t.Fatalf("%s: want BadRequestException, got %v", arn, err)
		}
		if !strings.Contains(ae.ErrorMessage(), "clientAuthentication.saslScram.secretArn") || !strings.Contains(ae.ErrorMessage(), "111122223333") {
			t.Errorf("the message does not name the member and the account: %s", ae.ErrorMessage())
		}
		msgs = append(msgs, ae.ErrorMessage())
	}
	if msgs[0] != msgs[1] {
		t.Errorf("the answers differ between a secret that exists and one that does not:\n%s\n%s", msgs[0], msgs[1])
	}
	t.Logf("refused: %s", msgs[0])
	if n := accepts.Load(); n != 0 {
		t.Errorf("the cluster got %d connection attempts", n)
	}
	if out, err := k.ListReplicators(ctx, &kafka.ListReplicatorsInput{}); err != nil || len(out.Replicators) != 0 {
		t.Errorf("replicators stored: %v %v", out, err)
	}
	if strings.Contains(logs.String(), "other-account-Pa55") || strings.Contains(logs.String(), "other-account-user") {
		t.Error("the secret's content is in the server's log")
	}
}
