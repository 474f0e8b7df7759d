package sigv4

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	kafkatypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
)

// goClients are the real aws-sdk-go-v2 clients pointed at a test server.
type goClients struct {
	connect *kafkaconnect.Client
	kafka   *kafka.Client
}

func newGoClients(endpoint, region string, creds aws.CredentialsProvider) goClients {
	return goClients{
		connect: kafkaconnect.New(kafkaconnect.Options{
			Region:           region,
			BaseEndpoint:     aws.String(endpoint),
			Credentials:      creds,
			RetryMaxAttempts: 1,
		}),
		kafka: kafka.New(kafka.Options{
			Region:           region,
			BaseEndpoint:     aws.String(endpoint),
			Credentials:      creds,
			RetryMaxAttempts: 1,
		}),
	}
}

func staticCreds(key, secret, token string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, secret, token)
}

// goCalls are the calls every positive test makes, each with the request line
// it must produce.
var goCalls = []struct {
	name    string
	service string
	method  string
	path    string // escaped, as on the wire
	query   url.Values
	call    func(ctx context.Context, c goClients) error
}{
	{
		name: "kafkaconnect DescribeConnector", service: "kafkaconnect", method: http.MethodGet,
		path: "/v1/connectors/" + labelEscape(connectorARN),
		call: func(ctx context.Context, c goClients) error {
			_, err := c.connect.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connectorARN)})
			return err
		},
	},
	{
		name: "kafkaconnect CreateConnector", service: "kafkaconnect", method: http.MethodPost,
		path: "/v1/connectors",
		call: func(ctx context.Context, c goClients) error {
			_, err := c.connect.CreateConnector(ctx, &kafkaconnect.CreateConnectorInput{
				ConnectorName: aws.String("my-conn"),
				Capacity: &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{
					McuCount: 1, WorkerCount: 2,
				}},
				ConnectorConfiguration: map[string]string{
					"connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
					"topics":          "a,b c,ü+/=",
				},
				KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
					BootstrapServers: aws.String("b-1:9092,b-2:9092"),
					Vpc:              &kctypes.Vpc{Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"}},
				}},
				KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
				KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
				KafkaConnectVersion:              aws.String("2.7.1"),
				Plugins: []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{
					CustomPluginArn: aws.String("arn:aws:kafkaconnect:us-east-1:123456789012:custom-plugin/p/0b1f6a2e-1"), Revision: 1,
				}}},
				ServiceExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/fjord"),
			})
			return err
		},
	},
	{
		name: "kafkaconnect UpdateConnector", service: "kafkaconnect", method: http.MethodPut,
		path:  "/v1/connectors/" + labelEscape(connectorARN),
		query: url.Values{"currentVersion": {"K3AR2V/7 +x="}},
		call: func(ctx context.Context, c goClients) error {
			_, err := c.connect.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
				ConnectorArn:           aws.String(connectorARN),
				CurrentVersion:         aws.String("K3AR2V/7 +x="),
				ConnectorConfiguration: map[string]string{"tasks.max": "4"},
			})
			return err
		},
	},
	{
		name: "kafkaconnect ListConnectors", service: "kafkaconnect", method: http.MethodGet,
		path: "/v1/connectors",
		query: url.Values{
			"maxResults":          {"5"},
			"nextToken":           {"tok/en+=?&x"},
			"connectorNamePrefix": {"my conn~"},
		},
		call: func(ctx context.Context, c goClients) error {
			_, err := c.connect.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{
				MaxResults:          aws.Int32(5),
				NextToken:           aws.String("tok/en+=?&x"),
				ConnectorNamePrefix: aws.String("my conn~"),
			})
			return err
		},
	},
	{
		// "a/b" and "a-b" sort one way decoded and the other way encoded.
		name: "kafkaconnect UntagResource", service: "kafkaconnect", method: http.MethodDelete,
		path:  "/v1/tags/" + labelEscape(connectorARN),
		query: url.Values{"tagKeys": {"b", "a/b", "a-b", "x y+z"}},
		call: func(ctx context.Context, c goClients) error {
			_, err := c.connect.UntagResource(ctx, &kafkaconnect.UntagResourceInput{
				ResourceArn: aws.String(connectorARN),
				TagKeys:     []string{"b", "a/b", "a-b", "x y+z"},
			})
			return err
		},
	},
	{
		name: "kafka DescribeReplicator", service: "kafka", method: http.MethodGet,
		path: "/replication/v1/replicators/" + labelEscape(replicatorARN),
		call: func(ctx context.Context, c goClients) error {
			_, err := c.kafka.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(replicatorARN)})
			return err
		},
	},
	{
		name: "kafka UpdateReplicationInfo", service: "kafka", method: http.MethodPut,
		path: "/replication/v1/replicators/" + labelEscape(replicatorARN) + "/replication-info",
		call: func(ctx context.Context, c goClients) error {
			_, err := c.kafka.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{
				ReplicatorArn:         aws.String(replicatorARN),
				CurrentVersion:        aws.String("K1"),
				SourceKafkaClusterArn: aws.String(clusterARN),
				TargetKafkaClusterArn: aws.String(clusterARN),
				TopicReplication: &kafkatypes.TopicReplicationUpdate{
					CopyAccessControlListsForTopics: aws.Bool(false),
					CopyTopicConfigurations:         aws.Bool(true),
					DetectAndCopyNewTopics:          aws.Bool(true),
					TopicsToExclude:                 []string{},
					TopicsToReplicate:               []string{".*"},
				},
			})
			return err
		},
	},
	{
		name: "kafka ListReplicators", service: "kafka", method: http.MethodGet,
		path:  "/replication/v1/replicators",
		query: url.Values{"maxResults": {"10"}, "replicatorNameFilter": {"my repl/é"}},
		call: func(ctx context.Context, c goClients) error {
			_, err := c.kafka.ListReplicators(ctx, &kafka.ListReplicatorsInput{
				MaxResults:           aws.Int32(10),
				ReplicatorNameFilter: aws.String("my repl/é"),
			})
			return err
		},
	},
}

func TestGoSDKVerifies(t *testing.T) {
	t.Parallel()
	for _, tc := range goCalls {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, newTestVerifier(Config{}))
			c := newGoClients(ts.URL, "us-east-1", staticCreds(testKeyID, testSecret, ""))
			if err := tc.call(t.Context(), c); err != nil {
				t.Fatalf("call: %v", err)
			}
			got := ts.only(t)
			if got.err != nil {
				t.Fatalf("VerifyHTTP: %v", got.err)
			}
			want := Identity{AccessKeyID: testKeyID, AccountID: testAccount, Region: "us-east-1", Service: tc.service}
			if got.id != want {
				t.Errorf("identity = %+v, want %+v", got.id, want)
			}
			checkRequestLine(t, got, tc.method, tc.path, tc.query)
		})
	}
}

// checkRequestLine makes sure a test exercised the wire form it claims to
// (percent-encoded ARNs, repeated query keys).
func checkRequestLine(t *testing.T, got seen, method, path string, query url.Values) {
	t.Helper()
	if got.method != method || got.path != path {
		t.Errorf("request line = %s %s, want %s %s", got.method, got.path, method, path)
	}
	q, err := url.ParseQuery(got.rawQuery)
	if err != nil {
		t.Fatalf("query %q: %v", got.rawQuery, err)
	}
	for k, want := range query {
		if !sameMultiset(q[k], want) {
			t.Errorf("query %s = %q, want %q (raw %q)", k, q[k], want, got.rawQuery)
		}
	}
}

func sameMultiset(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestGoSDKRegionAndSessionToken checks that the scope's region is reported,
// and that a session token, which the SDK signs as X-Amz-Security-Token, is
// verified like any other signed header.
func TestGoSDKRegionAndSessionToken(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, newTestVerifier(Config{}))
	c := newGoClients(ts.URL, "eu-west-1", staticCreds(testKeyID, testSecret, "FwoGZXIvYXdzEJr//session+token=="))
	if _, err := c.connect.DescribeConnector(t.Context(), &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connectorARN)}); err != nil {
		t.Fatalf("DescribeConnector: %v", err)
	}
	got := ts.only(t)
	want := Identity{AccessKeyID: testKeyID, AccountID: testAccount, Region: "eu-west-1", Service: "kafkaconnect"}
	if got.err != nil || got.id != want {
		t.Fatalf("got %+v, %v; want %+v", got.id, got.err, want)
	}
}

// TestCanonicalURIIsEscapedTwice shows why the verifier lets the signer escape
// the wire path again: without it, every ARN path fails while paths without
// escapes still pass.
func TestCanonicalURIIsEscapedTwice(t *testing.T) {
	t.Parallel()
	v := newTestVerifier(Config{})
	v.disablePathEscaping = true
	ts := newTestServer(t, v)
	c := newGoClients(ts.URL, "us-east-1", staticCreds(testKeyID, testSecret, ""))

	_, err := c.connect.ListConnectors(t.Context(), &kafkaconnect.ListConnectorsInput{})
	if err != nil {
		t.Fatalf("ListConnectors without path escapes: %v", err)
	}
	_, err = c.connect.DescribeConnector(t.Context(), &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connectorARN)})
	wantSDKRefusal(t, err, CodeInvalidSignature)
	reqs := ts.requests()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(reqs))
	}
	if e := wantRefusal(t, reqs[1].err, CodeInvalidSignature); e.Message != mismatchMessage {
		t.Errorf("message = %q, want the signature mismatch", e.Message)
	}
}

// wantSDKRefusal checks that an SDK call failed with a 403 of the given AWS
// error type, as the SDK parsed it from the response.
func wantSDKRefusal(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want %s", code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Errorf("error = %v, want an HTTP 403", err)
	}
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) || coded.ErrorCode() != code {
		t.Errorf("error = %v, want error code %s", err, code)
	}
}

func TestGoSDKRefused(t *testing.T) {
	t.Parallel()
	describe := func(ctx context.Context, c goClients) error {
		_, err := c.connect.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connectorARN)})
		return err
	}
	cases := []struct {
		name    string
		cfg     Config
		creds   aws.CredentialsProvider
		code    string
		message string // a substring of the refusal's message
	}{
		{
			name:    "unsigned",
			creds:   aws.AnonymousCredentials{},
			code:    CodeMissingAuthenticationToken,
			message: "Missing Authentication Token",
		},
		{
			name:    "wrong secret",
			creds:   staticCreds(testKeyID, testSecret+"x", ""),
			code:    CodeInvalidSignature,
			message: mismatchMessage,
		},
		{
			name:    "unknown access key",
			creds:   staticCreds("AKIAUNKNOWN000000000", testSecret, ""),
			code:    CodeUnrecognizedClient,
			message: "security token included in the request is invalid",
		},
		{
			name:    "signed 16 minutes ago",
			cfg:     Config{NowFunc: func() time.Time { return time.Now().Add(16 * time.Minute) }},
			creds:   staticCreds(testKeyID, testSecret, ""),
			code:    CodeInvalidSignature,
			message: "Signature expired",
		},
		{
			name:    "signed 16 minutes ahead",
			cfg:     Config{NowFunc: func() time.Time { return time.Now().Add(-16 * time.Minute) }},
			creds:   staticCreds(testKeyID, testSecret, ""),
			code:    CodeInvalidSignature,
			message: "Signature not yet current",
		},
		{
			name:    "service not served",
			cfg:     Config{Services: []string{"kafka"}},
			creds:   staticCreds(testKeyID, testSecret, ""),
			code:    CodeInvalidSignature,
			message: "Credential should be scoped to correct service: 'kafka'",
		},
		{
			name:    "region not served",
			cfg:     Config{Regions: []string{"eu-west-1"}},
			creds:   staticCreds(testKeyID, testSecret, ""),
			code:    CodeInvalidSignature,
			message: "valid region",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, newTestVerifier(tc.cfg))
			err := describe(t.Context(), newGoClients(ts.URL, "us-east-1", tc.creds))
			wantSDKRefusal(t, err, tc.code)
			e := wantRefusal(t, ts.only(t).err, tc.code)
			if !strings.Contains(e.Message, tc.message) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tc.message)
			}
		})
	}
}

// TestSkewWithinLimit checks that a clock 14 minutes off either way is
// tolerated.
func TestSkewWithinLimit(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{-14 * time.Minute, 14 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, newTestVerifier(Config{NowFunc: func() time.Time { return time.Now().Add(skew) }}))
			c := newGoClients(ts.URL, "us-east-1", staticCreds(testKeyID, testSecret, ""))
			if _, err := c.kafka.DescribeReplicator(t.Context(), &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(replicatorARN)}); err != nil {
				t.Fatalf("DescribeReplicator: %v", err)
			}
		})
	}
}
