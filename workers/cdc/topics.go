package cdc

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/fjord-io/fjord/workers/catalog"
)

// Topic creation: a topic the task writes to that does not exist is created before the first
// record is produced to it, as Kafka Connect does for a source connector with topic.creation
// (MSK's brokers do not create topics on produce), with the settings catalog.TopicCreation
// reads: one partition and min(3, brokers) replicas unless configured.

// Kafka Connect's partition count of its offsets topic (offset.storage.partitions), used when
// the task finds the topic missing.
const offsetsPartitions = 25

// ensureTopic returns the partition count of topic, creating it first when it does not exist.
func (w *writer) ensureTopic(ctx context.Context, topic string) (int, error) {
	s := w.creation.For(topic)
	if topic == w.offsetsTopic || topic == w.cc.OffsetsTopic {
		compact := "compact"
		s = catalog.TopicSettings{Partitions: offsetsPartitions, Configs: map[string]*string{"cleanup.policy": &compact}}
	}
	if s.Partitions == 0 {
		s.Partitions = 1
	}
	adm := kadm.NewClient(w.cl)
	var n int
	err := retry(ctx, w.log, "create topic "+topic, func() error {
		d, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		if t, ok := d[topic]; ok && t.Err == nil {
			n = len(t.Partitions)
			return nil
		} else if ok && !errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
			return t.Err
		}
		rf := s.ReplicationFactor
		if rf == 0 {
			if w.brokers == 0 {
				md, err := adm.BrokerMetadata(ctx)
				if err != nil {
					return err
				}
				w.brokers = len(md.Brokers)
			}
			rf = int16(max(1, min(3, w.brokers)))
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, rf, s.Configs, topic)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil && resp.NumPartitions > 0:
			w.log.Info("created topic", "topic", topic, "partitions", resp.NumPartitions, "replication_factor", rf)
			n = int(resp.NumPartitions)
			return nil
		case err == nil:
			w.log.Info("created topic", "topic", topic, "partitions", s.Partitions, "replication_factor", rf)
			if s.Partitions > 0 {
				n = int(s.Partitions)
				return nil
			}
		case errors.Is(err, kerr.TopicAlreadyExists):
		default:
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		// Created by another client meanwhile, or with the broker's default partition count
		// by an old broker: look again (the client's metadata may take a few seconds).
		d, err = adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		if t, ok := d[topic]; ok && t.Err == nil && len(t.Partitions) > 0 {
			n = len(t.Partitions)
			return nil
		}
		return kerr.UnknownTopicOrPartition
	})
	if err != nil {
		return 0, fmt.Errorf("cdc: %w", err)
	}
	return n, nil
}
