package mm2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// defaultInternalReplicationFactor is MM2's default for its internal topics
// (heartbeats.topic.replication.factor, checkpoints.topic.replication.factor).
const defaultInternalReplicationFactor int16 = 3

// EnsureCompactedTopic creates a one-partition compacted topic unless it exists, as MM2's
// MirrorUtils.createSinglePartitionCompactedTopic (the heartbeat and checkpoint tasks' internal
// topics): an existing topic, or a refusal for lack of authorization, is accepted (MM2 then
// relies on the topic being there or auto-created); invalid configurations are returned;
// anything else (unreachable cluster, timeout) is retried with backoff until ctx ends. rf 0
// means 3, or the broker default on clusters with fewer brokers.
func EnsureCompactedTopic(ctx context.Context, adm *kadm.Client, topic string, rf int16, log *slog.Logger) error {
	fallback := false
	if rf == 0 {
		rf, fallback = defaultInternalReplicationFactor, true
	}
	configs := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	backoff := 100 * time.Millisecond
	for {
		resp, err := adm.CreateTopic(ctx, 1, rf, configs, topic)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			log.Info("created topic", "topic", topic, "replication_factor", rf)
			return nil
		case errors.Is(err, kerr.TopicAlreadyExists):
			return nil
		case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
			log.Warn("not authorized to create topic; assuming it exists or will be auto-created", "topic", topic, "error", err)
			return nil
		case errors.Is(err, kerr.InvalidReplicationFactor) && fallback:
			log.Info("cluster has fewer brokers than the default replication factor; using the broker default", "topic", topic, "replication_factor", rf)
			rf, fallback = -1, false
			continue
		case errors.Is(err, kerr.InvalidReplicationFactor), errors.Is(err, kerr.InvalidConfig),
			errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.PolicyViolation):
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("create topic failed; retrying", "topic", topic, "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
