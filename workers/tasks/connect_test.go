package tasks

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/runtime"
)

// connectConf is a heartbeat connector's configuration running in the Connect cluster at
// addrs with protocol, between two clusters.
func connectConf(src, tgt, connect []string, protocol string) map[string]string {
	return map[string]string{
		"connector.class":                      catalog.MirrorHeartbeat,
		"source.cluster.bootstrap.servers":     strings.Join(src, ","),
		"target.cluster.bootstrap.servers":     strings.Join(tgt, ","),
		"emit.heartbeats.interval.seconds":     "1",
		"source.cluster.sasl.jaas.config":      "${secretManager:hb:jaas}",
		"target.cluster.ssl.keystore.password": "hunter2",
		"fjord.connect.bootstrap.servers":      strings.Join(connect, ","),
		"fjord.connect.security.protocol":      protocol,
		"fjord.connect.offset.storage.topic":   "__amazon_msk_connect_offsets_hb_id-1",
		"fjord.connect.config.storage.topic":   "__amazon_msk_connect_configs_hb_id-1",
		"fjord.connect.status.storage.topic":   "__amazon_msk_connect_status_hb_id-1",
		// The server's record of the configuration: unresolved, without literal secrets.
		"fjord.connect.connector.config": mm2.EncodeConnectorConfig(map[string]string{
			"connector.class": catalog.MirrorHeartbeat, "source.cluster.sasl.jaas.config": "${secretManager:hb:jaas}"}),
	}
}

// TestConnectRuntime: a task of a connector creates its runtime's internal topics in the
// Connect cluster (Connect's partition counts) and writes Connect's status and config records
// there — the configuration the server sent for the record, never the task's own keys.
func TestConnectRuntime(t *testing.T) {
	t.Parallel()
	src, tgt := newCluster(t), newCluster(t)
	conf := connectConf(src, tgt, tgt, "PLAINTEXT")
	done := start(t, catalog.MirrorHeartbeat, conf, &logBuffer{})
	adm := kadm.NewClient(cluster{addrs: tgt}.client(t))
	want := map[string]int{"__amazon_msk_connect_offsets_hb_id-1": 25, "__amazon_msk_connect_configs_hb_id-1": 1, "__amazon_msk_connect_status_hb_id-1": 5}
	waitFor(t, 20*time.Second, "the internal topics", func() bool {
		d, err := adm.ListTopics(t.Context())
		if err != nil {
			return false
		}
		for topic, n := range want {
			if !d.Has(topic) || len(d[topic].Partitions) != n {
				return false
			}
		}
		return true
	})
	read := func(topic string) map[string][]byte {
		out := map[string][]byte{}
		cl := cluster{addrs: tgt}.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		ends, err := adm.ListEndOffsets(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		for n := int64(0); n < total; {
			fs := cl.PollFetches(t.Context())
			fs.EachRecord(func(r *kgo.Record) { out[string(r.Key)] = r.Value; n++ })
		}
		return out
	}
	waitFor(t, 20*time.Second, "the status records", func() bool { return len(read("__amazon_msk_connect_status_hb_id-1")) == 2 })
	configs := read("__amazon_msk_connect_configs_hb_id-1")
	var c struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal(configs["connector-secure"], &c); err != nil {
		t.Fatalf("connector-secure = %s: %v", configs["connector-secure"], err)
	}
	if len(c.Properties) != 3 || c.Properties["source.cluster.sasl.jaas.config"] != "${secretManager:hb:jaas}" || c.Properties["name"] != "secure" {
		t.Errorf("config record %v: want the server's record with the connector's name", c.Properties)
	}
	if string(configs["commit-secure"]) != `{"tasks":1}` || !strings.Contains(string(configs["task-secure-0"]), `"task.class":"org.apache.kafka.connect.mirror.MirrorHeartbeatTask"`) ||
		string(configs["target-state-secure"]) != `{"state":"STARTED","state.v2":"STARTED"}` {
		t.Errorf("config records: %q", configs)
	}
	select {
	case err := <-done:
		t.Fatalf("the task ended: %v", err)
	default:
	}
}

// TestConnectClusterTLSRefused: TLS with a Connect cluster whose certificate the system's roots
// do not verify fails the task at once, permanently, naming the cluster and
// kafkaClusterEncryptionInTransit.
func TestConnectClusterTLSRefused(t *testing.T) {
	t.Parallel()
	src, tgt := newCluster(t), newCluster(t)
	ca := newCA(t)
	connect := newCluster(t, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}))
	done := start(t, catalog.MirrorHeartbeat, connectConf(src, tgt, connect, "SSL"), &logBuffer{})
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the task did not fail within 20 s")
	}
	var coded *runtime.Error
	if !errors.As(err, &coded) || coded.Code != runtime.CodeInvalidConfiguration || !coded.Permanent ||
		!strings.Contains(err.Error(), connect[0]) || !strings.Contains(err.Error(), "kafkaClusterEncryptionInTransit") {
		t.Fatalf("want a permanent INVALID_CONFIGURATION naming the cluster, got %v", err)
	}
}
