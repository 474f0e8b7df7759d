package kafkaiam

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/fjord-io/fjord/server/sigv4"
)

// TestDevSTSAndGate: the development STS issues session credentials for roles of the caller's
// account (another account's role is AccessDenied); the gate accepts them until they expire
// and closes the connections they authenticated then.
func TestDevSTSAndGate(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	v, s := NewDev(sigv4.NewStaticStore(sigv4.Credential{AccessKeyID: "test", SecretAccessKey: "test", AccountID: "000000000000"}))
	s.MinDuration = 2 * time.Second
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cl := sts.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	ctx := context.Background()
	out, err := cl.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/connector"), RoleSessionName: aws.String("fjord")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SessionToken) == "" || time.Until(aws.ToTime(c.Expiration)) > 3*time.Second {
		t.Fatalf("credentials %s expiring %v", aws.ToString(c.AccessKeyId), c.Expiration)
	}
	_, err = cl.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111122223333:role/other"), RoleSessionName: aws.String("fjord")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("another account's role: %v", err)
	}
	bad := sts.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "wrong", "")},
		func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	if _, err := bad.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/connector"), RoleSessionName: aws.String("fjord")}); err == nil {
		t.Fatal("a wrong secret assumed a role")
	}

	srvTLS, caPEM, err := DevTLS()
	if err != nil {
		t.Fatal(err)
	}
	k, err := kfake.NewCluster(append(Options(v, srvTLS, nil), kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	ic := &iamCluster{c: k, pem: caPEM}
	ic.ca = poolOf(caPEM)
	session := ic.client(t, iamAuth(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)))
	if err := ping(session); err != nil {
		t.Fatalf("session credentials: %v", err)
	}
	if err := ping(ic.client(t, iamAuth("test", "test", ""))); err != nil {
		t.Fatalf("Fjord's own key: %v", err)
	}
	time.Sleep(time.Until(aws.ToTime(c.Expiration)) + 500*time.Millisecond)
	if err := ping(ic.client(t, iamAuth(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)))); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("expired session credentials: %v", err)
	}
}
