package sigv4

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// awsCLI runs the aws CLI (v1, on PATH) against endpoint with the given
// credentials and nothing from the user's own AWS configuration.
func awsCLI(t *testing.T, endpoint, key, secret string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "aws", append(args, "--endpoint-url", endpoint, "--output", "json")...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"AWS_ACCESS_KEY_ID="+key,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestAWSCLIVerifies(t *testing.T) {
	t.Parallel()
	createConnector := `{
		"connectorName": "my-conn",
		"capacity": {"provisionedCapacity": {"mcuCount": 1, "workerCount": 2}},
		"connectorConfiguration": {"connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector", "topics": "a,b c,ü+/="},
		"kafkaCluster": {"apacheKafkaCluster": {"bootstrapServers": "b-1:9092", "vpc": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}}},
		"kafkaClusterClientAuthentication": {"authenticationType": "NONE"},
		"kafkaClusterEncryptionInTransit": {"encryptionType": "PLAINTEXT"},
		"kafkaConnectVersion": "2.7.1",
		"plugins": [{"customPlugin": {"customPluginArn": "arn:aws:kafkaconnect:us-east-1:123456789012:custom-plugin/p/0b1f6a2e-1", "revision": 1}}],
		"serviceExecutionRoleArn": "arn:aws:iam::123456789012:role/fjord"
	}`
	updateReplicationInfo := `{
		"ReplicatorArn": "` + replicatorARN + `",
		"CurrentVersion": "K1",
		"SourceKafkaClusterArn": "` + clusterARN + `",
		"TargetKafkaClusterArn": "` + clusterARN + `",
		"TopicReplication": {"CopyAccessControlListsForTopics": false, "CopyTopicConfigurations": true,
			"DetectAndCopyNewTopics": true, "TopicsToExclude": [], "TopicsToReplicate": [".*"]}
	}`
	cases := []struct {
		name    string
		args    []string
		service string
		method  string
		path    string
		query   url.Values
	}{
		{
			name: "describe-connector", service: "kafkaconnect", method: http.MethodGet,
			args: []string{"kafkaconnect", "describe-connector", "--connector-arn", connectorARN},
			path: "/v1/connectors/" + labelEscape(connectorARN),
		},
		{
			name: "create-connector", service: "kafkaconnect", method: http.MethodPost,
			args: []string{"kafkaconnect", "create-connector", "--cli-input-json", createConnector},
			path: "/v1/connectors",
		},
		{
			name: "update-connector", service: "kafkaconnect", method: http.MethodPut,
			args: []string{"kafkaconnect", "update-connector", "--connector-arn", connectorARN,
				"--current-version", "K3AR2V/7 +x=", "--connector-configuration", "tasks.max=4"},
			path:  "/v1/connectors/" + labelEscape(connectorARN),
			query: url.Values{"currentVersion": {"K3AR2V/7 +x="}},
		},
		{
			name: "list-connectors", service: "kafkaconnect", method: http.MethodGet,
			args: []string{"kafkaconnect", "list-connectors", "--no-paginate", "--max-results", "5",
				"--connector-name-prefix", "my conn~", "--next-token", "tok/en+=?&x"},
			path:  "/v1/connectors",
			query: url.Values{"maxResults": {"5"}, "connectorNamePrefix": {"my conn~"}, "nextToken": {"tok/en+=?&x"}},
		},
		{
			name: "untag-resource", service: "kafkaconnect", method: http.MethodDelete,
			args:  []string{"kafkaconnect", "untag-resource", "--resource-arn", connectorARN, "--tag-keys", "b", "a/b", "a-b", "x y+z"},
			path:  "/v1/tags/" + labelEscape(connectorARN),
			query: url.Values{"tagKeys": {"b", "a/b", "a-b", "x y+z"}},
		},
		{
			name: "describe-replicator", service: "kafka", method: http.MethodGet,
			args: []string{"kafka", "describe-replicator", "--replicator-arn", replicatorARN},
			path: "/replication/v1/replicators/" + labelEscape(replicatorARN),
		},
		{
			name: "update-replication-info", service: "kafka", method: http.MethodPut,
			args: []string{"kafka", "update-replication-info", "--cli-input-json", updateReplicationInfo},
			path: "/replication/v1/replicators/" + labelEscape(replicatorARN) + "/replication-info",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, newTestVerifier(Config{}))
			if out, err := awsCLI(t, ts.URL, testKeyID, testSecret, tc.args...); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(tc.args[:2], " "), err, out)
			}
			got := ts.only(t)
			want := Identity{AccessKeyID: testKeyID, AccountID: testAccount, Region: "us-east-1", Service: tc.service}
			if got.err != nil || got.id != want {
				t.Fatalf("got %+v, %v; want %+v", got.id, got.err, want)
			}
			checkRequestLine(t, got, tc.method, tc.path, tc.query)
		})
	}
}

func TestAWSCLIWrongSecretRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, newTestVerifier(Config{}))
	out, err := awsCLI(t, ts.URL, testKeyID, "not-the-secret", "kafka", "describe-replicator", "--replicator-arn", replicatorARN)
	if err == nil {
		t.Fatalf("aws kafka describe-replicator succeeded with a wrong secret:\n%s", out)
	}
	wantRefusal(t, ts.only(t).err, CodeInvalidSignature)
	if !strings.Contains(out, CodeInvalidSignature) {
		t.Errorf("CLI output does not name %s:\n%s", CodeInvalidSignature, out)
	}
}
