package workload

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/fjord-io/fjord/server/kafkaiam"
	"github.com/fjord-io/fjord/server/motoserver"
	"github.com/fjord-io/fjord/server/sigv4"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/mm2"
)

// TestSecretsReadWithRole: a workload's secrets are read with its service execution role: the
// role is assumed through STS (Fjord's development STS here, which refuses roles of another
// account) before Secrets Manager (moto) is called, and a role that cannot be assumed makes
// the read fail with a message naming the role and STS's error code only.
func TestSecretsReadWithRole(t *testing.T) {
	moto := motoserver.New(t)
	_, s := kafkaiam.NewDev(sigv4.NewStaticStore(sigv4.Credential{AccessKeyID: "AKIDSERVER", SecretAccessKey: "server-secret", AccountID: "000000000000"}))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSERVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
		func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(moto.Endpoint) })
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("AmazonMSK_role"), SecretString: aws.String(`{"username":"u","password":"role-Pa55"}`)})
	if err != nil {
		t.Fatal(err)
	}
	sec := newSecrets("", moto.Endpoint)
	c, err := sec.scram(ctx, aws.ToString(out.ARN), "arn:aws:iam::000000000000:role/replicator")
	if err != nil || c.Password != "role-Pa55" {
		t.Fatalf("read with the role: %v", err)
	}
	if s.AssumedCount() != 1 {
		t.Fatalf("AssumeRole calls: %d", s.AssumedCount())
	}
	const other = "arn:aws:iam::111122223333:role/not-ours"
	_, err = sec.scram(ctx, aws.ToString(out.ARN), other)
	var se *secretError
	if !errors.As(err, &se) || se.Transient || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("a role STS refuses: %v", err)
	}
	if strings.Contains(err.Error(), "not authorized to perform") || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("the message holds the backend's own text: %v", err)
	}
	t.Log(err)
}

// TestMSKClusterIAM: a replicator reaches a registered cluster that offers SASL/IAM on its
// IAM bootstrap string with AWS_MSK_IAM keys (its service execution role signs), trusting the
// cluster's registered CA; a plaintext-only cluster is left as it is. The keys parse.
func TestMSKClusterIAM(t *testing.T) {
	t.Parallel()
	const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	iam := &store.Cluster{BootstrapServers: "b:9092", BootstrapServersSaslIam: "b:9098", TLSRootCA: ca}
	if s, kind := mskBootstrap(iam); s != "b:9098" || kind != "IAM" {
		t.Fatalf("bootstrap %s %s", s, kind)
	}
	conf := map[string]string{"source.cluster.bootstrap.servers": "b:9098", "target.cluster.bootstrap.servers": "c:9092",
		mm2.KeyServiceExecutionRole: "arn:aws:iam::000000000000:role/replicator"}
	mskSecurityConfig(iam, "source.cluster.", conf)
	mskSecurityConfig(&store.Cluster{BootstrapServers: "c:9092"}, "target.cluster.", conf)
	if conf["source.cluster.sasl.mechanism"] != "AWS_MSK_IAM" || conf["source.cluster.ssl.truststore.certificates"] != ca || conf["target.cluster.security.protocol"] != "" {
		t.Fatalf("keys %v", conf)
	}
	conf["source.cluster.ssl.truststore.certificates"] = "" // the placeholder CA does not parse
	c, err := mm2.ParseConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	if c.SourceSecurity.IAM.RoleARN != "arn:aws:iam::000000000000:role/replicator" || c.SourceSecurity.Protocol != mm2.ProtocolSASLSSL {
		t.Errorf("source security %+v", c.SourceSecurity)
	}
}
