package workload

import (
	"reflect"
	"testing"
)

func TestMergeWorkerConfig(t *testing.T) {
	t.Parallel()
	const json, bytes, str = "org.apache.kafka.connect.json.JsonConverter", "org.apache.kafka.connect.converters.ByteArrayConverter", "org.apache.kafka.connect.storage.StringConverter"
	worker := map[string]string{
		"key.converter": json, "key.converter.schemas.enable": "false",
		"value.converter": json, "value.converter.schemas.enable": "false", "value.converter.decimal.format": "NUMERIC",
		"header.converter":                  str,
		"producer.linger.ms":                "50",
		"producer.compression.type":         "zstd",
		"consumer.fetch.min.bytes":          "10",
		"offset.flush.interval.ms":          "5000",
		"offset.flush.timeout.ms":           "7000",
		"config.providers":                  "secrets",
		"config.providers.secrets.class":    "com.amazonaws.kafka.config.providers.SecretsManagerConfigProvider",
		"task.shutdown.graceful.timeout.ms": "1000", // a worker setting Fjord's runtime owns
	}
	connector := map[string]string{
		"connector.class":              "MirrorSourceConnector",
		"value.converter":              bytes, // the connector's converter wins, with its own options only
		"value.converter.other":        "x",
		"key.converter.schemas.enable": "true", // dropped: the key converter comes from the worker
		"producer.override.linger.ms":  "5",
		"producer.compression.type":    "lz4",
		"offset.flush.interval.ms":     "100", // a worker key: the worker's wins
		"sasl.jaas.config":             "${secrets:jaas}",
	}
	want := map[string]string{
		"connector.class": "MirrorSourceConnector",
		"key.converter":   json, "key.converter.schemas.enable": "false",
		"value.converter": bytes, "value.converter.other": "x",
		"header.converter":            str,
		"producer.override.linger.ms": "5", "producer.linger.ms": "50",
		"producer.compression.type":      "lz4",
		"consumer.fetch.min.bytes":       "10",
		"offset.flush.interval.ms":       "5000",
		"offset.flush.timeout.ms":        "7000",
		"config.providers":               "secrets",
		"config.providers.secrets.class": "com.amazonaws.kafka.config.providers.SecretsManagerConfigProvider",
		"sasl.jaas.config":               "${secrets:jaas}",
	}
	if got := mergeWorkerConfig(worker, connector); !reflect.DeepEqual(got, want) {
		t.Fatalf("mergeWorkerConfig:\n got %v\nwant %v", got, want)
	}
	if connector["offset.flush.interval.ms"] != "100" || len(worker) != 14 {
		t.Fatal("mergeWorkerConfig changed its inputs")
	}
	if got := mergeWorkerConfig(nil, connector); !reflect.DeepEqual(got, connector) {
		t.Fatalf("no worker configuration: %v", got)
	}
}
