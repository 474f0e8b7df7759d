package awsjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	kafkav1 "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	kcv1 "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
)

// requestTypes are the request messages of both services' operations.
func requestTypes(tb testing.TB) []protoreflect.MessageType {
	tb.Helper()
	var out []protoreflect.MessageType
	for _, fd := range []protoreflect.FileDescriptor{kcv1.File_fjord_kafkaconnect_v1_kafkaconnect_proto, kafkav1.File_fjord_kafka_v1_kafka_proto} {
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			methods := svcs.Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				mt, err := protoregistry.GlobalTypes.FindMessageByName(methods.Get(j).Input().FullName())
				if err != nil {
					tb.Fatal(err)
				}
				out = append(out, mt)
			}
		}
	}
	if len(out) < 18+8 {
		tb.Fatalf("found only %d request messages", len(out))
	}
	return out
}

// responseTypes are the response messages of both services' operations.
func responseTypes(tb testing.TB) []protoreflect.MessageType {
	tb.Helper()
	var out []protoreflect.MessageType
	for _, fd := range []protoreflect.FileDescriptor{kcv1.File_fjord_kafkaconnect_v1_kafkaconnect_proto, kafkav1.File_fjord_kafka_v1_kafka_proto} {
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			methods := svcs.Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				mt, err := protoregistry.GlobalTypes.FindMessageByName(methods.Get(j).Output().FullName())
				if err != nil {
					tb.Fatal(err)
				}
				out = append(out, mt)
			}
		}
	}
	return out
}

// fuzzSeeds are realistic request bodies (as the AWS clients send them) and near misses.
var fuzzSeeds = []string{
	`{"capacity":{"autoScaling":{"maxWorkerCount":4,"mcuCount":2,"minWorkerCount":1,"scaleInPolicy":{"cpuUtilizationPercentage":20},` +
		`"scaleOutPolicy":{"cpuUtilizationPercentage":80},"maxAutoscalingTaskCount":8}},` +
		`"connectorConfiguration":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","tasks.max":"1","topic.prefix":"orders"},` +
		`"connectorDescription":"CDC","connectorName":"orders-cdc",` +
		`"kafkaCluster":{"apacheKafkaCluster":{"bootstrapServers":"b-1:9098,b-2:9098","vpc":{"securityGroups":["sg-1"],"subnets":["subnet-1","subnet-2"]}}},` +
		`"kafkaClusterClientAuthentication":{"authenticationType":"IAM"},"kafkaClusterEncryptionInTransit":{"encryptionType":"TLS"},` +
		`"kafkaConnectVersion":"2.7.1","logDelivery":{"workerLogDelivery":{"cloudWatchLogs":{"enabled":true,"logGroup":"g"},"firehose":{"enabled":false},` +
		`"s3":{"bucket":"b","enabled":true,"prefix":"p/"}}},"networkType":"IPV4",` +
		`"plugins":[{"customPlugin":{"customPluginArn":"arn:aws:kafkaconnect:us-east-1:000000000000:custom-plugin/p/0b1f6a2e-1","revision":1}}],` +
		`"serviceExecutionRoleArn":"arn:aws:iam::000000000000:role/connect",` +
		`"workerConfiguration":{"revision":1,"workerConfigurationArn":"arn:aws:kafkaconnect:us-east-1:000000000000:worker-configuration/w/0b1f6a2e-1"},` +
		`"tags":{"team":"data"}}`,
	`{"name":"workers","description":"JSON","propertiesFileContent":"a2V5LmNvbnZlcnRlcj1vcmcuYXBhY2hlLmthZmthLmNvbm5lY3Quc3RvcmFnZS5TdHJpbmdDb252ZXJ0ZXIK","tags":{"env":"test"}}`,
	`{"contentType":"ZIP","description":"d","location":{"s3Location":{"bucketArn":"arn:aws:s3:::plugins","fileKey":"p.zip","objectVersion":"3"}},"name":"p"}`,
	`{"capacity":{"provisionedCapacity":{"mcuCount":4,"workerCount":3}}}`,
	`{"connectorConfiguration":{"connector.class":"x","tasks.max":"2"}}`,
	`{"tags":{"a":"1","b":"2"}}`,
	`{"description":"dr","kafkaClusters":[{"amazonMskCluster":{"mskClusterArn":"arn:aws:kafka:us-east-1:000000000000:cluster/source/1"},` +
		`"vpcConfig":{"securityGroupIds":["sg-1"],"subnetIds":["subnet-1"]}},{"apacheKafkaCluster":{"apacheKafkaClusterId":"onprem","bootstrapBrokerString":"k:9096"},` +
		`"clientAuthentication":{"saslScram":{"mechanism":"SHA512","secretArn":"arn:aws:secretsmanager:us-east-1:000000000000:secret:s"}},` +
		`"encryptionInTransit":{"encryptionType":"TLS","rootCaCertificate":"pem"}}],` +
		`"replicationInfoList":[{"consumerGroupReplication":{"consumerGroupsToExclude":[],"consumerGroupsToReplicate":[".*"],` +
		`"detectAndCopyNewConsumerGroups":true,"synchroniseConsumerGroupOffsets":false,"consumerGroupOffsetSyncMode":"LEGACY"},` +
		`"sourceKafkaClusterArn":"arn:aws:kafka:us-east-1:000000000000:cluster/source/1","targetKafkaClusterId":"onprem","targetCompressionType":"LZ4",` +
		`"topicReplication":{"copyAccessControlListsForTopics":false,"copyTopicConfigurations":true,"detectAndCopyNewTopics":true,` +
		`"startingPosition":{"type":"EARLIEST"},"topicNameConfiguration":{"type":"IDENTICAL"},"topicsToExclude":["x"],"topicsToReplicate":["orders.*"]}}],` +
		`"replicatorName":"orders-dr","serviceExecutionRoleArn":"arn:aws:iam::000000000000:role/r","tags":{"team":"data"},` +
		`"logDelivery":{"replicatorLogDelivery":{"cloudWatchLogs":{"enabled":true,"logGroup":"g"}}}}`,
	`{"currentVersion":"K1","sourceKafkaClusterArn":"arn:aws:kafka:us-east-1:0:cluster/a/1","targetKafkaClusterArn":"arn:aws:kafka:us-east-1:0:cluster/b/1",` +
		`"topicReplication":{"copyAccessControlListsForTopics":false,"copyTopicConfigurations":true,"detectAndCopyNewTopics":true,"topicsToExclude":[],"topicsToReplicate":[".*"]}}`,
	`{"maxResults":3.0,"nextToken":"abc"}`,
	`{"capacity":{"autoScaling":{"mcuCount":"2"}}}`,
	`{"plugins":[null]}`,
	`{"tags":{"k":null,"\u2028":"\u0000\ud800"}}`,
	`{"revision":9007199254740993}`,
	`{} `,
	` {"name":"x"} {}`,
	`[]`,
	``,
}

// FuzzDecodeRequest feeds arbitrary bytes to Unmarshal into every request message. Decoding
// must not panic, must fail only with a *TypeError, and what it accepts must survive
// Marshal→Unmarshal unchanged, with Marshal deterministic.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	types := requestTypes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mt := range types {
			m := mt.New().Interface()
			err := Unmarshal(data, m)
			if err != nil {
				var te *TypeError
				if !errors.As(err, &te) {
					t.Fatalf("%s: error %T %v is not a *TypeError", mt.Descriptor().Name(), err, err)
				}
				if te.Msg == "" {
					t.Fatalf("%s: empty TypeError message", mt.Descriptor().Name())
				}
				continue
			}
			out, err := Marshal(m)
			if err != nil {
				t.Fatalf("%s: Marshal of a decoded message: %v", mt.Descriptor().Name(), err)
			}
			if !json.Valid(out) || !bytes.HasPrefix(out, []byte("{")) {
				t.Fatalf("%s: Marshal wrote invalid JSON %q", mt.Descriptor().Name(), out)
			}
			back := mt.New().Interface()
			if err := Unmarshal(out, back); err != nil {
				t.Fatalf("%s: Unmarshal of Marshal output %q: %v", mt.Descriptor().Name(), out, err)
			}
			if !proto.Equal(m, back) {
				t.Fatalf("%s: round trip changed the message\ninput   %q\ndecoded %v\nencoded %s\nback    %v",
					mt.Descriptor().Name(), data, m, out, back)
			}
			again, err := Marshal(back)
			if err != nil || !bytes.Equal(out, again) {
				t.Fatalf("%s: Marshal is not deterministic: %s then %s (%v)", mt.Descriptor().Name(), out, again, err)
			}
		}
	})
}

// TestFuzzSeedsDecode checks that the realistic seeds decode into their operations, so that the
// fuzzer starts from bodies that reach deep into the messages.
func TestFuzzSeedsDecode(t *testing.T) {
	for i, want := range []proto.Message{
		&kcv1.CreateConnectorRequest{}, &kcv1.CreateWorkerConfigurationRequest{}, &kcv1.CreateCustomPluginRequest{},
		&kcv1.UpdateConnectorRequest{}, &kcv1.UpdateConnectorRequest{}, &kcv1.TagResourceRequest{},
		&kafkav1.CreateReplicatorRequest{}, &kafkav1.UpdateReplicationInfoRequest{},
	} {
		if err := Unmarshal([]byte(fuzzSeeds[i]), want); err != nil {
			t.Errorf("seed %d into %T: %v", i, want, err)
		}
		out, err := Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var in, got any
		if err := json.Unmarshal([]byte(fuzzSeeds[i]), &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if missing := lost(in, got, ""); len(missing) > 0 {
			t.Errorf("seed %d decoded into %T lost members %v", i, want, missing)
		}
	}
}

// lost lists the members of in (recursively) that are not in got; empty arrays may be left out.
func lost(in, got any, path string) []string {
	var out []string
	switch v := in.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		for k, iv := range v {
			gv, ok := g[k]
			if !ok {
				if a, isArr := iv.([]any); !isArr || len(a) > 0 {
					out = append(out, path+"."+k)
				}
				continue
			}
			out = append(out, lost(iv, gv, path+"."+k)...)
		}
	case []any:
		g, _ := got.([]any)
		if len(g) != len(v) {
			return []string{path}
		}
		for j := range v {
			out = append(out, lost(v[j], g[j], path)...)
		}
	}
	return out
}

// responseSeeds are response bodies as Fjord writes them, and timestamps at and past the edges.
var responseSeeds = []string{
	`{"capacity":{"autoScaling":{"maxWorkerCount":4,"mcuCount":2,"minWorkerCount":1,"scaleInPolicy":{"cpuUtilizationPercentage":20},` +
		`"scaleOutPolicy":{"cpuUtilizationPercentage":80}}},"connectorArn":"arn:aws:kafkaconnect:us-east-1:000000000000:connector/c/0b1f6a2e-1",` +
		`"connectorName":"c","connectorState":"RUNNING","creationTime":"2026-11-22T02:00:00.123Z","currentVersion":"K1",` +
		`"stateDescription":{"code":"X","message":"y"}}`,
	`{"connectorOperations":[{"connectorOperationArn":"a","connectorOperationState":"UPDATE_COMPLETE","creationTime":"2026-11-22T02:00:00Z","endTime":1700000000.5}]}`,
	`{"creationTime":1e300}`,
	`{"creationTime":-1e15}`,
	`{"creationTime":"0000-01-01T00:00:00Z"}`,
	`{"creationTime":"9999-12-31T23:59:59.999999999Z"}`,
	`{"creationTime":253402300799.9}`,
	`{"creationTime":-62135596800}`,
	`{"creationTime":"2026-01-01T00:00:00.123456789+05:00"}`,
	`{"clusterInfoList":[{"clusterArn":"arn:aws:kafka:us-east-1:0:cluster/a/1","creationTime":"2026-11-22T02:00:00Z",` +
		`"provisioned":{"numberOfBrokerNodes":3,"currentBrokerSoftwareInfo":{"kafkaVersion":"3.7.x"}}}],"nextToken":"t"}`,
}

// FuzzDecodeResponse feeds arbitrary bytes to Unmarshal into every response message. What it
// accepts must encode to JSON that decodes again, and encoding is a fixpoint after one round
// (timestamps are written with millisecond precision, so the first round may truncate them).
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	types := responseTypes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mt := range types {
			m := mt.New().Interface()
			if err := Unmarshal(data, m); err != nil {
				var te *TypeError
				if !errors.As(err, &te) {
					t.Fatalf("%s: error %T %v is not a *TypeError", mt.Descriptor().Name(), err, err)
				}
				continue
			}
			out, err := Marshal(m)
			if err != nil {
				t.Fatalf("%s: Marshal of a decoded message %v: %v", mt.Descriptor().Name(), m, err)
			}
			back := mt.New().Interface()
			if err := Unmarshal(out, back); err != nil {
				t.Fatalf("%s: Unmarshal of Marshal output %q: %v", mt.Descriptor().Name(), out, err)
			}
			again, err := Marshal(back)
			if err != nil || !bytes.Equal(out, again) {
				t.Fatalf("%s: not a fixpoint: %s then %s (%v)", mt.Descriptor().Name(), out, again, err)
			}
		}
	})
}
