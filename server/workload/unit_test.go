package workload

import (
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
)

func TestParseARN(t *testing.T) {
	t.Parallel()
	a, ok := ParseARN("arn:aws:kafkaconnect:us-east-1:123456789012:connector/my-conn/0b1f6a2e-1234-5678-9abc-def012345678-3")
	if !ok || a.Service != "kafkaconnect" || a.Account != "123456789012" || a.ResourceType != "connector" || a.Name() != "my-conn" {
		t.Fatalf("ParseARN: %+v %v", a, ok)
	}
	if a.String() != "arn:aws:kafkaconnect:us-east-1:123456789012:connector/my-conn/0b1f6a2e-1234-5678-9abc-def012345678-3" {
		t.Fatalf("String: %s", a)
	}
	for _, bad := range []string{"", "arn", "arn:aws:kafka", "nope:aws:kafka:r:a:x/y", "arn:aws:kafka:r:a:noslash", "arn:aws:kafka:r:a:/x"} {
		if _, ok := ParseARN(bad); ok {
			t.Errorf("ParseARN(%q) accepted", bad)
		}
	}
}

// TestSecretARN: a secret ARN's name has 1 to 512 characters; its account and region are read
// from it.
func TestSecretARN(t *testing.T) {
	t.Parallel()
	const prefix = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:"
	for _, name := range []string{"db-AbCdEf", "a/b_c+d=e.f@g-h", strings.Repeat("n", 512)} {
		if got, region := secretName(prefix + name); got != name || region != "eu-west-1" {
			t.Errorf("secretName(%.60q) = %q, %q", prefix+name, got, region)
		}
		if a := SecretAccount(prefix + name); a != "111122223333" {
			t.Errorf("SecretAccount(%.60q) = %q", prefix+name, a)
		}
	}
	for _, bad := range []string{prefix, prefix + strings.Repeat("n", 513), prefix + "a b",
		"arn:aws:secretsmanager:eu-west-1:11112222333:secret:db", "arn:aws:kafka:eu-west-1:111122223333:secret:db"} {
		if got, _ := secretName(bad); got != "" || SecretAccount(bad) != "" {
			t.Errorf("%.60q read as a secret ARN (%q)", bad, got)
		}
	}
}

// TestConnectClusterKeys: a connector's kafkaCluster becomes the fjord.connect.* keys, with
// MSK Connect's internal topic names; IAM is refused at creation and, for a connector stored
// with it, passed on so that its tasks fail naming it.
func TestConnectClusterKeys(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:kafkaconnect:us-east-1:123456789012:connector/my-conn/0b1f6a2e-1234-5678-9abc-def012345678-3"
	d := &kc.DescribeConnectorResponse{ConnectorArn: proto.String(arn),
		KafkaCluster:                    &kc.KafkaClusterDescription{ApacheKafkaCluster: &kc.ApacheKafkaClusterDescription{BootstrapServers: proto.String("b-1:9094,b-2:9094")}},
		KafkaClusterEncryptionInTransit: &kc.KafkaClusterEncryptionInTransitDescription{EncryptionType: proto.String("TLS")}}
	got := connectClusterKeys(d)
	delete(got, "fjord.connect.connector.config") // connectConfigRecord, below
	want := map[string]string{
		"fjord.connect.bootstrap.servers":    "b-1:9094,b-2:9094",
		"fjord.connect.security.protocol":    "SSL",
		"fjord.connect.offset.storage.topic": "__amazon_msk_connect_offsets_my-conn_0b1f6a2e-1234-5678-9abc-def012345678-3",
		"fjord.connect.config.storage.topic": "__amazon_msk_connect_configs_my-conn_0b1f6a2e-1234-5678-9abc-def012345678-3",
		"fjord.connect.status.storage.topic": "__amazon_msk_connect_status_my-conn_0b1f6a2e-1234-5678-9abc-def012345678-3",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("connectClusterKeys = %v, want %v", got, want)
	}
	d.KafkaClusterClientAuthentication = &kc.KafkaClusterClientAuthenticationDescription{AuthenticationType: proto.String("IAM")}
	if got := connectClusterKeys(d); got["fjord.connect.sasl.mechanism"] != "AWS_MSK_IAM" {
		t.Errorf("IAM: %v", got)
	}
	rec := connectConfigRecord(map[string]string{"connector.class": "MirrorSourceConnector", "topics": "a.*",
		"source.cluster.sasl.jaas.config": "${secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:s:jaas}",
		"target.cluster.sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";`,
		"fjord.connect.bootstrap.servers": "x:1"})
	if !reflect.DeepEqual(rec, map[string]string{"connector.class": "MirrorSourceConnector", "topics": "a.*",
		"source.cluster.sasl.jaas.config": "${secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:s:jaas}"}) {
		t.Errorf("config record %v: references kept, literal secrets and runtime keys left out", rec)
	}
	if _, _, s := connectTopics("arn:aws:kafkaconnect:us-east-1:1:connector/a b/u-1"); s != "__amazon_msk_connect_status_a_b_u-1" {
		t.Errorf("a name with a space: %s", s)
	}
}
