package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/aws/smithy-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestWorkerConfigurationConvertersE2E: MirrorSource connectors created through the AWS SDK
// with a worker configuration apply its converters. With key.converter and value.converter
// JsonConverter (schemas.enable by default) every target record is Kafka's JSON envelope of an
// optional bytes schema whose base64 payload is the source's bytes (a tombstone's value a null
// payload); with ByteArrayConverter the target holds the source's bytes. A worker
// configuration in use cannot be deleted.
func TestWorkerConfigurationConvertersE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second)
	f.startAgent(t, "agent-conv", 4)
	plugin := f.customPlugin(t)

	const perTopic = 500
	createTopics(t, f.src, 3, "conv.json", "conv.raw")
	prod := newProducer(t, f.src)
	sent := map[string]map[string][]byte{} // topic → key → value (nil: tombstone)
	for _, topic := range []string{"conv.json", "conv.raw"} {
		sent[topic] = map[string][]byte{}
		for i := range perTopic {
			key := []byte{0xff, 0x00, byte(i >> 8), byte(i), '{'} // not UTF-8, not JSON
			val := bytes.Repeat([]byte{byte(i), 0xfe, '"'}, 1+i%7)
			if i%50 == 7 {
				val = nil
			}
			sent[topic][string(key)] = val
			r := &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: key, Value: val,
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{0x01, 0x02}}}}
			if err := prod.ProduceSync(t.Context(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	jsonWC := f.workerConfiguration(t, "json-converters",
		"key.converter=org.apache.kafka.connect.json.JsonConverter\n"+
			"value.converter=org.apache.kafka.connect.json.JsonConverter\n"+
			"producer.linger.ms=5\n")
	rawWC := f.workerConfiguration(t, "bytes-converters",
		"key.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"+
			"value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"+
			"offset.flush.interval.ms=200\n")
	conf := func(regex string) map[string]string {
		m := f.mirrorSourceConfig(regex, nil)
		delete(m, "key.converter") // the worker configuration's converters apply
		delete(m, "value.converter")
		return m
	}
	jsonARN := f.createConnectorWithWorkerConfig(t, plugin, "conv-json", 1, jsonWC, conf(`conv\.json`))
	rawARN := f.createConnectorWithWorkerConfig(t, plugin, "conv-raw", 1, rawWC, conf(`conv\.raw`))
	f.waitConnector(t, jsonARN, kctypes.ConnectorStateRunning, time.Minute)
	f.waitConnector(t, rawARN, kctypes.ConnectorStateRunning, time.Minute)

	envelope := func(b []byte) string {
		p := "null"
		if b != nil {
			p = `"` + base64.StdEncoding.EncodeToString(b) + `"`
		}
		return `{"schema":{"type":"bytes","optional":true},"payload":` + p + `}`
	}
	got := consumeN(t, f.tgt, "east.conv.json", perTopic, 2*time.Minute)
	for _, r := range got {
		var env struct {
			Schema *struct {
				Type     string `json:"type"`
				Optional bool   `json:"optional"`
			} `json:"schema"`
			Payload *string `json:"payload"`
		}
		if err := json.Unmarshal(r.Key, &env); err != nil || env.Schema == nil || env.Schema.Type != "bytes" || !env.Schema.Optional || env.Payload == nil {
			t.Fatalf("target key %q is not a JsonConverter envelope of optional bytes: %v", r.Key, err)
		}
		key, err := base64.StdEncoding.DecodeString(*env.Payload)
		if err != nil {
			t.Fatalf("key payload %q: %v", *env.Payload, err)
		}
		want, ok := sent["conv.json"][string(key)]
		if !ok {
			t.Fatalf("target key %q decodes to %x, which the source never had", r.Key, key)
		}
		if string(r.Key) != envelope(key) || string(r.Value) != envelope(want) {
			t.Fatalf("record of source key %x:\n key   %s\n value %s\nwant\n key   %s\n value %s", key, r.Key, r.Value, envelope(key), envelope(want))
		}
		if len(r.Headers) != 1 || string(r.Headers[0].Value) != "\x01\x02" {
			t.Fatalf("headers %v: want the source's (no header.converter: bytes as they are)", r.Headers)
		}
		delete(sent["conv.json"], string(key))
	}
	if len(sent["conv.json"]) != 0 {
		t.Fatalf("%d source records not found on the target", len(sent["conv.json"]))
	}
	t.Logf("JsonConverter: %d records on the target, e.g. key %s", len(got), got[0].Key)

	for _, r := range consumeN(t, f.tgt, "east.conv.raw", perTopic, 2*time.Minute) {
		want, ok := sent["conv.raw"][string(r.Key)]
		if !ok || !bytes.Equal(r.Value, want) || (r.Value == nil) != (want == nil) {
			t.Fatalf("ByteArrayConverter: target record %x=%x, want the source's bytes (%x, known %v)", r.Key, r.Value, want, ok)
		}
		delete(sent["conv.raw"], string(r.Key))
	}
	if len(sent["conv.raw"]) != 0 {
		t.Fatalf("%d source records not found on the target", len(sent["conv.raw"]))
	}

	// A worker configuration in use cannot be deleted (ConflictException, as AWS): the revision
	// a running connector reads stays there, and says who uses it.
	wcARN := f.workerConfiguration(t, "in-use", "value.converter=org.apache.kafka.connect.json.JsonConverter\n")
	usingARN := f.createConnectorWithWorkerConfig(t, plugin, "conv-in-use", 8, wcARN, conf(`conv\.none`))
	_, err := f.api.kc.DeleteWorkerConfiguration(t.Context(), &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: aws.String(wcARN)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ConflictException" || !strings.Contains(apiErr.ErrorMessage(), usingARN) {
		t.Fatalf("DeleteWorkerConfiguration in use: %v, want ConflictException naming %s", err, usingARN)
	}
	if _, err := f.api.kc.DescribeWorkerConfiguration(t.Context(), &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String(wcARN)}); err != nil {
		t.Fatalf("the worker configuration is gone after a refused delete: %v", err)
	}
}

// workerConfiguration creates a worker configuration of properties and returns its ARN.
func (f *fleet) workerConfiguration(t *testing.T, name, properties string) string {
	t.Helper()
	out, err := f.api.kc.CreateWorkerConfiguration(t.Context(), &kafkaconnect.CreateWorkerConfigurationInput{
		Name: aws.String(name), PropertiesFileContent: aws.String(base64.StdEncoding.EncodeToString([]byte(properties))),
	})
	if err != nil {
		t.Fatalf("CreateWorkerConfiguration %s: %v", name, err)
	}
	return aws.ToString(out.WorkerConfigurationArn)
}

// createConnectorWithWorkerConfig creates a connector of mcu MCU using revision 1 of the worker
// configuration wc.
func (f *fleet) createConnectorWithWorkerConfig(t *testing.T, plugin, name string, mcu int32, wc string, conf map[string]string) string {
	t.Helper()
	in := f.connectorInput(plugin, name, &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: mcu, WorkerCount: 1}}, conf)
	in.WorkerConfiguration = &kctypes.WorkerConfiguration{WorkerConfigurationArn: aws.String(wc), Revision: 1}
	out, err := f.api.kc.CreateConnector(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateConnector %s: %v", name, err)
	}
	return aws.ToString(out.ConnectorArn)
}

// consumeN reads topic from the start until it has n records, or fails the test after timeout.
func consumeN(t *testing.T, addr, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := openClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d records within %v", topic, len(out), n, timeout)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch %s: %v", topic, err) })
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		t.Fatalf("%s: %d records, want %d", topic, len(out), n)
	}
	return out
}
