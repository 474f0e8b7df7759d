package workload

import (
	"context"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/store"
)

// ConnectOffsetsTopic is the topic on connector d's kafkaCluster where its tasks record their
// source offsets, as its tasks are told (fjord.connect.offset.storage.topic): the worker
// configuration's offset.storage.topic, else MSK Connect's
// __amazon_msk_connect_offsets_<name>_<id>. The Kafka Connect REST API's offsets routes read
// and write it.
func (w *Compiler) ConnectOffsetsTopic(ctx context.Context, d *kc.DescribeConnectorResponse) (string, error) {
	topic, err := w.workerOffsetsTopic(ctx, d)
	if err != nil || topic != "" {
		return topic, err
	}
	offsets, _, _ := connectTopics(d.GetConnectorArn())
	return offsets, nil
}

// TargetStateMessage explains a connector's Kafka Connect target state in its
// stateDescription.
func TargetStateMessage(target string) string {
	switch target {
	case store.TargetPaused:
		return "paused through the Kafka Connect REST API: its workers keep their tasks and run none; PUT /connectors/{name}/resume continues"
	case store.TargetStopped:
		return "stopped through the Kafka Connect REST API: no worker and no task run; PUT /connectors/{name}/resume starts it again"
	}
	return ""
}
