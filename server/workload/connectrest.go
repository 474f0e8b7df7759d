package workload

import (
	"context"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
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
